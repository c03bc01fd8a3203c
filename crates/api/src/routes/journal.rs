//! Reading the journal: a tenant's owners, admins and auditors read their
//! tenant's chain; operators read the provider chain. Payloads hold row images
//! (with credential hashes), so only an event's `detail` is shown.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use valv_domain::parse_stamp;
use valv_service::{JournalEntry, JournalFilter, Valv};

use crate::error::{ErrorResponses, WebError};
use crate::extract::{ApiQuery, Auditor};

pub(crate) fn routes() -> OpenApiRouter<Valv> {
    OpenApiRouter::new().routes(routes!(journal))
}

/// Filters and paging for the journal.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JournalParams {
    /// e.g. `user:0190…` or `anonymous`.
    actor: Option<String>,
    /// e.g. `auth.sign_in_failed`.
    action: Option<String>,
    /// RFC 3339 instant, inclusive.
    #[param(format = DateTime)]
    from: Option<String>,
    /// RFC 3339 instant, inclusive.
    #[param(format = DateTime)]
    to: Option<String>,
    /// Paging cursor: the `next_before` of the previous page.
    #[param(minimum = 1)]
    before: Option<i64>,
    /// 1 to 500, default 100.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// One journal entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    pub chain_seq: u64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    /// Event details (never secrets); null when erased or absent.
    #[schema(value_type = Option<Object>)]
    pub detail: serde_json::Value,
    pub payload_hash: String,
    pub prev_hash: String,
    pub hash: String,
}

/// A page of entries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct JournalPage {
    pub entries: Vec<EntryView>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<u64>,
}

fn view(e: JournalEntry) -> EntryView {
    let detail = e
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_slice::<serde_json::Value>(p).ok())
        .and_then(|mut v| v.get_mut("detail").map(serde_json::Value::take))
        .unwrap_or_default();
    EntryView {
        chain_seq: e.chain_seq,
        at: e.at,
        actor: e.actor,
        action: e.action,
        entity: e.entity,
        entity_id: e.entity_id,
        detail,
        payload_hash: e.payload_hash,
        prev_hash: e.prev_hash,
        hash: e.hash,
    }
}

fn bad_query(message: impl Into<String>) -> WebError {
    WebError::new(axum::http::StatusCode::BAD_REQUEST, "invalid_query", message)
}

fn time_param(name: &str, v: Option<String>) -> Result<Option<time::OffsetDateTime>, WebError> {
    v.map(|s| parse_stamp(&s)).transpose().map_err(|_| bad_query(format!("{name} must be an RFC 3339 instant")))
}

#[utoipa::path(get, path = "/api/v1/journal", tag = "journal", params(JournalParams),
    responses((status = 200, body = JournalPage), ErrorResponses))]
async fn journal(
    State(valv): State<Valv>,
    Auditor(c): Auditor,
    ApiQuery(p): ApiQuery<JournalParams>,
) -> Result<axum::Json<JournalPage>, WebError> {
    let limit = p.limit;
    let filter = JournalFilter {
        actor: p.actor,
        action: p.action,
        from: time_param("from", p.from)?,
        to: time_param("to", p.to)?,
        before: p
            .before
            .map(|b| u64::try_from(b).ok().filter(|b| *b >= 1).ok_or_else(|| bad_query("before must be at least 1")))
            .transpose()?,
        limit,
    };
    let entries = valv.journal(&c, filter).await?;
    let full = entries.len() == limit.unwrap_or(100) as usize;
    let next_before = entries.last().filter(|e| full && e.chain_seq > 1).map(|e| e.chain_seq);
    Ok(axum::Json(JournalPage { entries: entries.into_iter().map(view).collect(), next_before }))
}
