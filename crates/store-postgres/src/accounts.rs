//! Accounts on PostgreSQL: tenants, operators, users and API tokens, read by id,
//! slug or normalised e-mail (written only through the journal's commits).

use crate::entities::{many, one, rows};
use crate::{PgStore, backend, uint};
use valv_domain::{Email, OperatorId, Slug, TenantId, UserId};
use valv_store::AccountStore;
use valv_store::{OperatorRow, StoreResult, TenantRow, TokenId, TokenRow, UserRow};

#[async_trait::async_trait]
impl AccountStore for PgStore {
    async fn tenant(&self, id: TenantId) -> StoreResult<Option<TenantRow>> {
        one(&self.pool, rows("SELECT row_json FROM tenants WHERE id = $1").bind(id.to_string())).await
    }

    async fn tenant_by_slug(&self, slug: &Slug) -> StoreResult<Option<TenantRow>> {
        one(&self.pool, rows("SELECT row_json FROM tenants WHERE slug = $1").bind(slug.as_str())).await
    }

    async fn tenants(&self) -> StoreResult<Vec<TenantRow>> {
        many(&self.pool, rows("SELECT row_json FROM tenants ORDER BY id")).await
    }

    async fn user(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<UserRow>> {
        let q = rows("SELECT row_json FROM users WHERE tenant_id = $1 AND id = $2");
        one(&self.pool, q.bind(tenant.to_string()).bind(id.to_string())).await
    }

    async fn user_by_email(&self, tenant: TenantId, email: &Email) -> StoreResult<Option<UserRow>> {
        let q = rows("SELECT row_json FROM users WHERE tenant_id = $1 AND email_norm = $2");
        one(&self.pool, q.bind(tenant.to_string()).bind(email.normalized())).await
    }

    async fn users(&self, tenant: TenantId) -> StoreResult<Vec<UserRow>> {
        many(&self.pool, rows("SELECT row_json FROM users WHERE tenant_id = $1 ORDER BY id").bind(tenant.to_string()))
            .await
    }

    async fn operator(&self, id: OperatorId) -> StoreResult<Option<OperatorRow>> {
        one(&self.pool, rows("SELECT row_json FROM operators WHERE id = $1").bind(id.to_string())).await
    }

    async fn operator_by_email(&self, email: &Email) -> StoreResult<Option<OperatorRow>> {
        one(&self.pool, rows("SELECT row_json FROM operators WHERE email_norm = $1").bind(email.normalized())).await
    }

    async fn operator_count(&self) -> StoreResult<u64> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM operators").fetch_one(&self.pool).await.map_err(backend)?;
        uint(n)
    }

    async fn token(&self, id: TokenId) -> StoreResult<Option<TokenRow>> {
        one(&self.pool, rows("SELECT row_json FROM tokens WHERE id = $1").bind(id.to_string())).await
    }

    async fn tokens(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<TokenRow>> {
        let q = rows("SELECT row_json FROM tokens WHERE tenant_id = $1 AND user_id = $2 ORDER BY id");
        many(&self.pool, q.bind(tenant.to_string()).bind(user.to_string())).await
    }
}
