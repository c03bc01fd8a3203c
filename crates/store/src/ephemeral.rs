//! Security state that is not journaled: sessions, sign-in throttling and the
//! first-start setup token. It is short-lived and deliberately not restored
//! from backups (a restore signs everybody out). The events around it (sign-in,
//! sign-out, lock-out) are journaled by the service.

use time::OffsetDateTime;
use valv_domain::{OperatorId, TenantId, UserId};

/// Whose session it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    User { tenant: TenantId, user: UserId },
    Operator(OperatorId),
}

/// A signed-in browser session. The cookie holds `<id>.<secret>`; only the
/// digest of the secret is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub secret_digest: String,
    pub principal: Principal,
    /// False while the second factor is still owed.
    pub complete: bool,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// Digest of a one-time code sent by e-mail or text message, with its expiry.
    pub code_digest: Option<String>,
    pub code_expires_at: Option<OffsetDateTime>,
    /// Wrong second-factor codes entered in this session.
    pub code_failures: u32,
}

/// Failed sign-ins counted against one key (an account or a client address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub failures: u32,
    pub locked_until: Option<OffsetDateTime>,
}
