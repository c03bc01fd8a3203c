//! Accounts: tenants, operators, users and API tokens.

use valv_domain::{Email, OperatorId, Slug, TenantId, UserId};

use crate::{OperatorRow, StoreResult, TenantRow, TokenId, TokenRow, UserRow};

/// Accounts: tenants, operators, users and API tokens.
#[async_trait::async_trait]
pub trait AccountStore: Send + Sync + 'static {
    async fn tenant(&self, id: TenantId) -> StoreResult<Option<TenantRow>>;

    async fn tenant_by_slug(&self, slug: &Slug) -> StoreResult<Option<TenantRow>>;

    async fn tenants(&self) -> StoreResult<Vec<TenantRow>>;

    async fn user(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<UserRow>>;

    async fn user_by_email(&self, tenant: TenantId, email: &Email) -> StoreResult<Option<UserRow>>;

    async fn users(&self, tenant: TenantId) -> StoreResult<Vec<UserRow>>;

    async fn operator(&self, id: OperatorId) -> StoreResult<Option<OperatorRow>>;

    async fn operator_by_email(&self, email: &Email) -> StoreResult<Option<OperatorRow>>;

    async fn operator_count(&self) -> StoreResult<u64>;

    /// A token by id, for authentication; the caller checks its tenant.
    async fn token(&self, id: TokenId) -> StoreResult<Option<TokenRow>>;

    async fn tokens(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<TokenRow>>;
}
