//! `/app/journal`: the organisation's audit journal for its owners, admins
//! and auditors, newest first, filtered by actor, action and days, page by
//! page; and "verify the chain", which recomputes every link of the
//! organisation's hash chain and says whether it holds or where it breaks.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use valv_service::{Caller, JournalFilter, ServiceError, Valv};

use super::Member;
use super::home::who;
use crate::csrf::{FormToken, NoFields, Posted};
use crate::i18n::Tr;
use crate::page::{Frame, PageError, render};

pub(super) fn routes() -> Router<Valv> {
    Router::new().route("/app/journal", get(journal)).route("/app/journal/verify", post(verify))
}

const PAGE: u32 = 50;

#[derive(Default, Deserialize)]
struct Filters {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    /// `YYYY-MM-DD`, from the start of that day (UTC).
    #[serde(default)]
    from: String,
    /// `YYYY-MM-DD`, to the end of that day (UTC).
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: Option<u64>,
}

struct Entry {
    seq: u64,
    at: String,
    actor: String,
    action: String,
    entity: String,
}

#[derive(Template)]
#[template(path = "journal.html")]
struct JournalPage {
    f: Frame,
    filters: Filters,
    entries: Vec<Entry>,
    next: Option<String>,
    verdict: Option<(bool, String)>,
    error: Option<String>,
}

/// A day typed in a date input as an instant: its first or last second (UTC).
fn day(s: &str, end: bool) -> Result<Option<time::OffsetDateTime>, ServiceError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    let d = time::Date::parse(s.trim(), time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| ServiceError::field("date", "invalid_date", "a day is written YYYY-MM-DD"))?;
    let t = if end { d.with_hms(23, 59, 59) } else { d.with_hms(0, 0, 0) };
    Ok(Some(t.map_err(|_| ServiceError::field("date", "invalid_date", "no such time"))?.assume_utc()))
}

async fn page(valv: &Valv, tr: Tr, csrf: String, caller: &Caller, filters: Filters) -> Result<JournalPage, PageError> {
    let f = Frame::new(tr, "journal-title", csrf).signed_in(who(valv, caller).await?);
    let filter = match (day(&filters.from, false), day(&filters.to, true)) {
        (Ok(from), Ok(to)) => JournalFilter {
            actor: Some(filters.actor.trim().to_owned()).filter(|s| !s.is_empty()),
            action: Some(filters.action.trim().to_owned()).filter(|s| !s.is_empty()),
            from,
            to,
            before: filters.before,
            limit: Some(PAGE),
        },
        (Err(e), _) | (_, Err(e)) => {
            let error = Some(tr.error(e.code(), &e.to_string()));
            return Ok(JournalPage { f, filters, entries: Vec::new(), next: None, verdict: None, error });
        }
    };
    let found = valv.journal(caller, filter).await?;
    let next = (found.len() == PAGE as usize).then(|| found.last().map(|e| e.chain_seq)).flatten().map(|before| {
        let keep =
            [("actor", &filters.actor), ("action", &filters.action), ("from", &filters.from), ("to", &filters.to)];
        let mut pairs: Vec<(&str, String)> = keep.iter().map(|(k, v)| (*k, (*v).clone())).collect();
        pairs.push(("before", before.to_string()));
        format!("?{}", serde_urlencoded::to_string(pairs).unwrap_or_default())
    });
    let entries = found
        .into_iter()
        .map(|e| Entry {
            seq: e.chain_seq,
            at: valv_domain::parse_stamp(&e.at).map(|t| tr.date_time(t)).unwrap_or(e.at),
            actor: e.actor,
            action: e.action,
            entity: if e.entity.is_empty() { String::new() } else { format!("{} {}", e.entity, e.entity_id) },
        })
        .collect();
    Ok(JournalPage { f, filters, entries, next, verdict: None, error: None })
}

async fn journal(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    Query(filters): Query<Filters>,
) -> Result<Response, PageError> {
    Ok(render(&page(&valv, tr, csrf, &caller, filters).await?)?.into_response())
}

async fn verify(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    Posted(_): Posted<NoFields>,
) -> Result<Response, PageError> {
    let report = valv.verify_own_chain(&caller).await?;
    let verdict = match report.outcome {
        Ok(n) => (true, tr.t_with("journal-holds", &[("count", n.to_string())])),
        Err(b) => {
            (false, tr.t_with("journal-broken", &[("at", b.chain_seq.to_string()), ("reason", b.reason.to_owned())]))
        }
    };
    let mut p = page(&valv, tr, csrf, &caller, Filters::default()).await?;
    p.verdict = Some(verdict);
    Ok(render(&p)?.into_response())
}
