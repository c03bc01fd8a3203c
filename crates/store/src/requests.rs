//! Data-subject requests (GDPR Art. 12, 15, 17, 20): row image.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use valv_domain::{RequestDeadline, TenantId};

/// One request from a data subject, from receipt to answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRow {
    pub id: String,
    pub tenant_id: TenantId,
    /// `access`, `portability` or `erasure`.
    pub kind: String,
    /// The e-mail address the subject gave (and verified).
    pub email: String,
    pub message: String,
    pub deadline: RequestDeadline,
    pub extension_reason: Option<String>,
    /// Digest of the verification secret sent to `email`, cleared once used.
    pub verification_digest: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub verified_at: Option<OffsetDateTime>,
    /// `awaiting_verification`, `open`, `answered`.
    pub status: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub answered_at: Option<OffsetDateTime>,
    /// The answer: the register extract or the erasure receipt.
    pub response: Option<serde_json::Value>,
}
