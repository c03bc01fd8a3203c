//! Accounts on SQLite: tenants, operators, users and API tokens, read by id,
//! slug or normalised e-mail (written only through the journal's commits).

use crate::entities::{many, one};
use crate::{SqliteStore, backend};
use valv_domain::{Email, OperatorId, Slug, TenantId, UserId};
use valv_store::AccountStore;
use valv_store::{OperatorRow, StoreResult, TenantRow, TokenId, TokenRow, UserRow};

#[async_trait::async_trait]
impl AccountStore for SqliteStore {
    async fn tenant(&self, id: TenantId) -> StoreResult<Option<TenantRow>> {
        self.read(move |c| one(c, "SELECT row_json FROM tenants WHERE id = ?1", &[&id.to_string()])).await
    }

    async fn tenant_by_slug(&self, slug: &Slug) -> StoreResult<Option<TenantRow>> {
        let slug = slug.as_str().to_owned();
        self.read(move |c| one(c, "SELECT row_json FROM tenants WHERE slug = ?1", &[&slug])).await
    }

    async fn tenants(&self) -> StoreResult<Vec<TenantRow>> {
        self.read(|c| many(c, "SELECT row_json FROM tenants ORDER BY id", &[])).await
    }

    async fn user(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<UserRow>> {
        self.read(move |c| {
            one(
                c,
                "SELECT row_json FROM users WHERE tenant_id = ?1 AND id = ?2",
                &[&tenant.to_string(), &id.to_string()],
            )
        })
        .await
    }

    async fn user_by_email(&self, tenant: TenantId, email: &Email) -> StoreResult<Option<UserRow>> {
        let norm = email.normalized();
        self.read(move |c| {
            one(c, "SELECT row_json FROM users WHERE tenant_id = ?1 AND email_norm = ?2", &[&tenant.to_string(), &norm])
        })
        .await
    }

    async fn users(&self, tenant: TenantId) -> StoreResult<Vec<UserRow>> {
        self.read(move |c| {
            many(c, "SELECT row_json FROM users WHERE tenant_id = ?1 ORDER BY id", &[&tenant.to_string()])
        })
        .await
    }

    async fn operator(&self, id: OperatorId) -> StoreResult<Option<OperatorRow>> {
        self.read(move |c| one(c, "SELECT row_json FROM operators WHERE id = ?1", &[&id.to_string()])).await
    }

    async fn operator_by_email(&self, email: &Email) -> StoreResult<Option<OperatorRow>> {
        let norm = email.normalized();
        self.read(move |c| one(c, "SELECT row_json FROM operators WHERE email_norm = ?1", &[&norm])).await
    }

    async fn operator_count(&self) -> StoreResult<u64> {
        self.read(|c| c.query_row("SELECT COUNT(*) FROM operators", [], |r| r.get(0)).map_err(backend)).await
    }

    async fn token(&self, id: TokenId) -> StoreResult<Option<TokenRow>> {
        self.read(move |c| one(c, "SELECT row_json FROM tokens WHERE id = ?1", &[&id.to_string()])).await
    }

    async fn tokens(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<TokenRow>> {
        self.read(move |c| {
            many(
                c,
                "SELECT row_json FROM tokens WHERE tenant_id = ?1 AND user_id = ?2 ORDER BY id",
                &[&tenant.to_string(), &user.to_string()],
            )
        })
        .await
    }
}
