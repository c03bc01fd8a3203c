//! Accounts on SQLite: tenants, operators, users and API tokens, read by id,
//! slug or normalised e-mail (written only through the journal's commits).

use crate::entities::{many, one};
use crate::{SqliteStore, backend};
use valv_domain::{Email, OperatorId, Slug, TenantId, UserId};
use valv_store::{AccountStore, KeyOwner, Table};
use valv_store::{OperatorRow, StoreResult, TenantRow, TokenId, TokenRow, UserRow};

#[async_trait::async_trait]
impl AccountStore for SqliteStore {
    async fn tenant(&self, id: TenantId) -> StoreResult<Option<TenantRow>> {
        let row = self.read(move |c| one(c, "SELECT NULL, id, image FROM tenants WHERE id = ?1", &[&id.to_string()]));
        self.vault.open_one(Table::Tenants, row.await?).await
    }

    async fn tenant_by_slug(&self, slug: &Slug) -> StoreResult<Option<TenantRow>> {
        let slug = slug.as_str().to_owned();
        let row = self.read(move |c| one(c, "SELECT NULL, id, image FROM tenants WHERE slug = ?1", &[&slug]));
        self.vault.open_one(Table::Tenants, row.await?).await
    }

    async fn tenants(&self) -> StoreResult<Vec<TenantRow>> {
        let rows = self.read(|c| many(c, "SELECT NULL, id, image FROM tenants ORDER BY id", &[])).await?;
        self.vault.open(Table::Tenants, rows).await
    }

    async fn user(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<UserRow>> {
        let row = self.read(move |c| {
            one(
                c,
                "SELECT tenant_id, id, image FROM users WHERE tenant_id = ?1 AND id = ?2",
                &[&tenant.to_string(), &id.to_string()],
            )
        });
        self.vault.open_one(Table::Users, row.await?).await
    }

    async fn user_by_email(&self, tenant: TenantId, email: &Email) -> StoreResult<Option<UserRow>> {
        let blind = self.vault.key(KeyOwner::Tenant(tenant)).await?.blind("email", &email.normalized());
        let row = self.read(move |c| {
            one(
                c,
                "SELECT tenant_id, id, image FROM users WHERE tenant_id = ?1 AND email_norm = ?2",
                &[&tenant.to_string(), &blind],
            )
        });
        self.vault.open_one(Table::Users, row.await?).await
    }

    async fn users(&self, tenant: TenantId) -> StoreResult<Vec<UserRow>> {
        let rows = self.read(move |c| {
            many(c, "SELECT tenant_id, id, image FROM users WHERE tenant_id = ?1 ORDER BY id", &[&tenant.to_string()])
        });
        self.vault.open(Table::Users, rows.await?).await
    }

    async fn operator(&self, id: OperatorId) -> StoreResult<Option<OperatorRow>> {
        let row = self.read(move |c| one(c, "SELECT NULL, id, image FROM operators WHERE id = ?1", &[&id.to_string()]));
        self.vault.open_one(Table::Operators, row.await?).await
    }

    async fn operator_by_email(&self, email: &Email) -> StoreResult<Option<OperatorRow>> {
        let blind = self.vault.key(KeyOwner::Provider).await?.blind("email", &email.normalized());
        let row = self.read(move |c| one(c, "SELECT NULL, id, image FROM operators WHERE email_norm = ?1", &[&blind]));
        self.vault.open_one(Table::Operators, row.await?).await
    }

    async fn operator_count(&self) -> StoreResult<u64> {
        self.read(|c| c.query_row("SELECT COUNT(*) FROM operators", [], |r| r.get(0)).map_err(backend)).await
    }

    async fn token(&self, id: TokenId) -> StoreResult<Option<TokenRow>> {
        let row =
            self.read(move |c| one(c, "SELECT tenant_id, id, image FROM tokens WHERE id = ?1", &[&id.to_string()]));
        self.vault.open_one(Table::Tokens, row.await?).await
    }

    async fn tokens(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<TokenRow>> {
        let rows = self.read(move |c| {
            many(
                c,
                "SELECT tenant_id, id, image FROM tokens WHERE tenant_id = ?1 AND user_id = ?2 ORDER BY id",
                &[&tenant.to_string(), &user.to_string()],
            )
        });
        self.vault.open(Table::Tokens, rows.await?).await
    }
}
