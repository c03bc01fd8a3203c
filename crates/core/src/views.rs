//! What clients see of each entity: never a password hash, a TOTP secret, a
//! recovery code or a token digest.

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use valv_domain::{Role, UserStatus};
use valv_store::{OperatorRow, TenantRow, TokenRow, UserRow};

/// A user account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    #[schema(value_type = String, example = "member")]
    pub role: Role,
    #[schema(value_type = String, example = "active")]
    pub status: UserStatus,
    /// The user has set a password (invited users have not yet).
    pub activated: bool,
    /// The user has a confirmed authenticator app.
    pub totp_enabled: bool,
    /// Unused recovery codes left.
    pub recovery_codes_left: usize,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&UserRow> for UserView {
    fn from(u: &UserRow) -> Self {
        Self {
            id: u.id.to_string(),
            tenant_id: u.tenant_id.to_string(),
            name: u.name.to_string(),
            email: u.email.to_string(),
            phone: u.phone.to_string(),
            role: u.role,
            status: u.status,
            activated: u.password_hash.is_some(),
            totp_enabled: u.totp.as_ref().is_some_and(|t| t.confirmed),
            recovery_codes_left: u.recovery_codes.len(),
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// A customer organisation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantView {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub contact_name: String,
    pub contact_email: String,
    pub contact_phone: String,
    #[schema(value_type = String, example = "active")]
    pub status: UserStatus,
    pub require_second_factor: bool,
    /// Limits set for this tenant (bytes and counts); null: the installation's.
    pub max_file_bytes: Option<u64>,
    pub max_storage_bytes: Option<u64>,
    pub max_records_per_collection: Option<u64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub terminated_at: Option<OffsetDateTime>,
    /// When its data was deleted and its key destroyed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub purged_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&TenantRow> for TenantView {
    fn from(t: &TenantRow) -> Self {
        Self {
            id: t.id.to_string(),
            slug: t.slug.to_string(),
            name: t.name.to_string(),
            contact_name: t.contact.name.to_string(),
            contact_email: t.contact.email.to_string(),
            contact_phone: t.contact.phone.to_string(),
            status: t.status,
            require_second_factor: t.require_second_factor,
            max_file_bytes: t.limits.max_file_bytes,
            max_storage_bytes: t.limits.max_storage_bytes,
            max_records_per_collection: t.limits.max_records_per_collection,
            terminated_at: t.terminated_at,
            purged_at: t.purged_at,
            created_at: t.created_at,
        }
    }
}

/// A provider operator.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OperatorView {
    pub id: String,
    pub name: String,
    pub email: String,
}

impl From<&OperatorRow> for OperatorView {
    fn from(o: &OperatorRow) -> Self {
        Self { id: o.id.to_string(), name: o.name.to_string(), email: o.email.to_string() }
    }
}

/// An API token, without its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    #[schema(value_type = String, example = "viewer")]
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<&TokenRow> for TokenView {
    fn from(t: &TokenRow) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name.clone(),
            role: t.role,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
        }
    }
}
