//! Accounts on PostgreSQL: tenants, operators, users and API tokens, read by id,
//! slug or the blind index of a normalised e-mail (written only through the
//! journal's commits), and opened by the vault.

use crate::entities::{many, one, rows};
use crate::{PgStore, backend, uint};
use valv_domain::{Email, OperatorId, Slug, TenantId, UserId};
use valv_store::{AccountStore, KeyOwner, Table};
use valv_store::{OperatorRow, StoreResult, TenantRow, TokenId, TokenRow, UserRow};

#[async_trait::async_trait]
impl AccountStore for PgStore {
    async fn tenant(&self, id: TenantId) -> StoreResult<Option<TenantRow>> {
        let row = one(&self.pool, rows("SELECT NULL, id, image FROM tenants WHERE id = $1").bind(id.to_string()));
        self.vault.open_one(Table::Tenants, row.await?).await
    }

    async fn tenant_by_slug(&self, slug: &Slug) -> StoreResult<Option<TenantRow>> {
        let row = one(&self.pool, rows("SELECT NULL, id, image FROM tenants WHERE slug = $1").bind(slug.as_str()));
        self.vault.open_one(Table::Tenants, row.await?).await
    }

    async fn tenants(&self) -> StoreResult<Vec<TenantRow>> {
        let rows = many(&self.pool, rows("SELECT NULL, id, image FROM tenants ORDER BY id")).await?;
        self.vault.open(Table::Tenants, rows).await
    }

    async fn user(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<UserRow>> {
        let q = rows("SELECT tenant_id, id, image FROM users WHERE tenant_id = $1 AND id = $2");
        let row = one(&self.pool, q.bind(tenant.to_string()).bind(id.to_string())).await?;
        self.vault.open_one(Table::Users, row).await
    }

    async fn user_by_email(&self, tenant: TenantId, email: &Email) -> StoreResult<Option<UserRow>> {
        let blind = self.vault.key(KeyOwner::Tenant(tenant)).await?.blind("email", &email.normalized());
        let q = rows("SELECT tenant_id, id, image FROM users WHERE tenant_id = $1 AND email_norm = $2");
        let row = one(&self.pool, q.bind(tenant.to_string()).bind(blind)).await?;
        self.vault.open_one(Table::Users, row).await
    }

    async fn users(&self, tenant: TenantId) -> StoreResult<Vec<UserRow>> {
        let q = rows("SELECT tenant_id, id, image FROM users WHERE tenant_id = $1 ORDER BY id");
        let rows = many(&self.pool, q.bind(tenant.to_string())).await?;
        self.vault.open(Table::Users, rows).await
    }

    async fn operator(&self, id: OperatorId) -> StoreResult<Option<OperatorRow>> {
        let row = one(&self.pool, rows("SELECT NULL, id, image FROM operators WHERE id = $1").bind(id.to_string()));
        self.vault.open_one(Table::Operators, row.await?).await
    }

    async fn operator_by_email(&self, email: &Email) -> StoreResult<Option<OperatorRow>> {
        let blind = self.vault.key(KeyOwner::Provider).await?.blind("email", &email.normalized());
        let row = one(&self.pool, rows("SELECT NULL, id, image FROM operators WHERE email_norm = $1").bind(blind));
        self.vault.open_one(Table::Operators, row.await?).await
    }

    async fn operator_count(&self) -> StoreResult<u64> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM operators").fetch_one(&self.pool).await.map_err(backend)?;
        uint(n)
    }

    async fn token(&self, id: TokenId) -> StoreResult<Option<TokenRow>> {
        let row = one(&self.pool, rows("SELECT tenant_id, id, image FROM tokens WHERE id = $1").bind(id.to_string()));
        self.vault.open_one(Table::Tokens, row.await?).await
    }

    async fn tokens(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<TokenRow>> {
        let q = rows("SELECT tenant_id, id, image FROM tokens WHERE tenant_id = $1 AND user_id = $2 ORDER BY id");
        let rows = many(&self.pool, q.bind(tenant.to_string()).bind(user.to_string())).await?;
        self.vault.open(Table::Tokens, rows).await
    }
}
