//! The service layer's error: what went wrong in terms a client can act on.
//! Each variant has a stable code; the web layer picks the HTTP status.

use serde::Serialize;
use valv_crypto::policy::Feedback;
use valv_store::{Constraint, StoreError};

/// One refused input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

/// Why a use case was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("some fields are invalid")]
    Validation(Vec<FieldError>),
    #[error("{message}")]
    PasswordRefused { code: &'static str, message: String, feedback: Feedback },
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Forbidden(&'static str),
    /// Not signed in, or the credential is unknown, expired or revoked.
    #[error("{message}")]
    Unauthenticated { code: &'static str, message: &'static str },
    /// Wrong e-mail address or password; deliberately does not say which.
    #[error("wrong e-mail address or password")]
    BadCredentials,
    #[error("this account is blocked; ask your organisation's administrator")]
    AccountBlocked,
    #[error("your organisation is blocked; ask your administrator or the provider")]
    TenantBlocked,
    #[error("your organisation's agreement has ended")]
    TenantTerminated,
    #[error("too many failed attempts; try again in {}", seconds(*retry_after_secs))]
    Locked { retry_after_secs: u64 },
    #[error("too many requests from here; try again in {}", seconds(*retry_after_secs))]
    RateLimited { retry_after_secs: u64 },
    #[error("{message}")]
    Conflict { code: &'static str, message: &'static str },
    #[error("{message}")]
    Unprocessable { code: &'static str, message: &'static str },
    /// `If-Match` names a revision that is no longer current.
    #[error("the record changed since you read it; read it again and retry")]
    PreconditionFailed,
    /// A limit of the tenant or installation was reached; the message names it.
    #[error("{message}")]
    Quota { code: &'static str, message: String },
    /// A body larger than a limit allows; the message names the limit.
    #[error("{message}")]
    TooLarge { code: &'static str, message: String },
    /// The upload carries malware; nothing was stored.
    #[error("the upload carries malware ({signature}); nothing was stored")]
    Malware { signature: String },
    /// A service valv depends on is unreachable.
    #[error("{message}")]
    Unavailable { code: &'static str, message: &'static str },
    /// The requested byte range lies outside the content.
    #[error("the range lies outside the content of {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    /// Input that cannot be used as a whole (an archive, a document); the message says why.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// A dependency failed. The cause chain is for the log, never for the
    /// client: the request middleware logs it once with the request id.
    #[error("internal error: {0:#}")]
    Internal(#[source] anyhow::Error),
}

impl ServiceError {
    /// The stable, documented error code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::PasswordRefused { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unprocessable { code, .. }
            | Self::Unauthenticated { code, .. } => code,
            Self::NotFound => "not_found",
            Self::Forbidden(_) => "forbidden",
            Self::BadCredentials => "bad_credentials",
            Self::AccountBlocked => "account_blocked",
            Self::TenantBlocked => "tenant_blocked",
            Self::TenantTerminated => "tenant_terminated",
            Self::Locked { .. } => "sign_in_locked",
            Self::RateLimited { .. } => "rate_limited",
            Self::PreconditionFailed => "precondition_failed",
            Self::Quota { code, .. } | Self::TooLarge { code, .. } | Self::Unavailable { code, .. } => code,
            Self::Malware { .. } => "malware_found",
            Self::Invalid { code, .. } => code,
            Self::RangeNotSatisfiable { .. } => "range_not_satisfiable",
            Self::Internal(_) => "internal",
        }
    }

    /// An internal failure caused by `e`, kept as the source.
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    /// An internal failure described by `what` alone.
    pub fn internal_msg(what: impl std::fmt::Display + std::fmt::Debug + Send + Sync + 'static) -> Self {
        Self::Internal(anyhow::Error::msg(what))
    }

    /// A `Validation` error of one field.
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError { field: field.into(), code: code.into(), message: message.into() }])
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(Constraint::UsersTenantEmail) => {
                Self::Conflict { code: "email_taken", message: "a user with this e-mail address already exists" }
            }
            StoreError::Conflict(Constraint::TenantsSlug) => {
                Self::Conflict { code: "slug_taken", message: "another organisation already uses this slug" }
            }
            StoreError::Conflict(Constraint::OperatorsEmail) => {
                Self::Conflict { code: "email_taken", message: "an operator with this e-mail address already exists" }
            }
            StoreError::Stale(_) => Self::Conflict {
                code: "changed_meanwhile",
                message: "it was changed by someone else meanwhile; nothing was done, try again",
            },
            other => Self::internal(other),
        }
    }
}

/// Shorthand for service results.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// Whole seconds until a lock or window ends, rounded up: a lock of 1.2 s
/// says 2, so a client that waits that long is not refused again (the
/// `Retry-After` header, RFC 9110 §10.2.3, counts whole seconds).
#[must_use]
pub fn retry_after_secs(left: time::Duration) -> u64 {
    let whole = left.whole_seconds() + i64::from(left.subsec_nanoseconds() > 0);
    whole.max(1).unsigned_abs()
}

fn seconds(n: u64) -> String {
    if n == 1 { "1 second".into() } else { format!("{n} seconds") }
}
