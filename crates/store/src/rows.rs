//! Row images: the persisted state of each entity. A journal entry carries the
//! rows a change wrote, so the same types serve the tables, the journal payload
//! and (later) point-in-time replay.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
pub use valv_domain::TokenId;
use valv_domain::{Email, OperatorId, PersonName, Phone, Role, Slug, TenantId, TenantName, UserId, UserStatus};

/// The person a provider contacts at a customer organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub name: PersonName,
    pub email: Email,
    pub phone: Phone,
}

/// A customer organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRow {
    pub id: TenantId,
    pub slug: Slug,
    pub name: TenantName,
    pub contact: Contact,
    pub status: UserStatus,
    /// Every user must complete a second factor at sign-in.
    pub require_second_factor: bool,
    /// Limits set for this tenant; unset ones fall back to the installation's.
    #[serde(default)]
    pub limits: TenantLimits,
    #[serde(with = "time::serde::rfc3339::option")]
    pub terminated_at: Option<OffsetDateTime>,
    /// When the tenant's data was deleted and its key destroyed.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub purged_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Per-tenant limits, each overriding the installation's setting when set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantLimits {
    pub max_file_bytes: Option<u64>,
    pub max_storage_bytes: Option<u64>,
    pub max_records_per_collection: Option<u64>,
}

/// TOTP enrolment of a user (RFC 6238).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpState {
    /// The shared secret, sealed with the tenant's key (`sealed:` and the
    /// sealed bytes in base64); a base32 secret stored before secrets were sealed.
    pub secret: String,
    /// Set once the user proved their app produces codes.
    pub confirmed: bool,
    /// Highest time step accepted so far; codes at or before it are replays.
    pub last_step: u64,
}

/// A user account of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub name: PersonName,
    pub email: Email,
    pub phone: Phone,
    pub role: Role,
    pub status: UserStatus,
    /// PHC string; `None` until the invited user sets a password.
    pub password_hash: Option<String>,
    /// Digest of the pending invitation secret, cleared when used.
    pub invitation_digest: Option<String>,
    /// When the pending invitation stops working (review L8); an
    /// invitation without one (made before invitations expired) is expired.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub invitation_expires_at: Option<OffsetDateTime>,
    pub totp: Option<TotpState>,
    /// Digests of unused recovery codes.
    pub recovery_codes: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A provider-side operator: manages tenants, never reads their records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorRow {
    pub id: OperatorId,
    pub name: PersonName,
    pub email: Email,
    pub status: UserStatus,
    pub password_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The authenticator app every operator signs in with (review M5),
    /// its secret sealed with the provider key. Given at setup (or by
    /// `valv operator totp`), confirmed by the first sign-in.
    #[serde(default)]
    pub totp: Option<TotpState>,
}

/// An API token, scoped to one tenant and a role no higher than its creator's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    pub id: TokenId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub name: String,
    pub role: Role,
    /// SHA-256 of the secret part; the secret itself is shown once and never stored.
    pub secret_digest: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// One row written by a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "table", content = "row", rename_all = "snake_case")]
pub enum Row {
    Tenant(TenantRow),
    User(UserRow),
    Operator(OperatorRow),
    Token(TokenRow),
    Collection(crate::CollectionRow),
    Record(crate::RecordRow),
    File(crate::FileRow),
    FileVersion(crate::FileVersionRow),
    Request(crate::RequestRow),
}

impl Row {
    /// The row as JSON: what its table stores, sealed, in the `image` column.
    ///
    /// # Errors
    /// When a value cannot be written as JSON (a map with non-string keys).
    pub fn image(&self) -> serde_json::Result<String> {
        match self {
            Self::Tenant(r) => serde_json::to_string(r),
            Self::User(r) => serde_json::to_string(r),
            Self::Operator(r) => serde_json::to_string(r),
            Self::Token(r) => serde_json::to_string(r),
            Self::Collection(r) => serde_json::to_string(r),
            Self::Record(r) => serde_json::to_string(r),
            Self::File(r) => serde_json::to_string(r),
            Self::FileVersion(r) => serde_json::to_string(r),
            Self::Request(r) => serde_json::to_string(r),
        }
    }
}
