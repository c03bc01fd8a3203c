//! `/app/requests`: an administrator's view of data-subject requests
//! (GDPR Art. 12(3)): those still to answer first, overdue before due soon
//! before the rest, each with the day its answer is due.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use valv_service::Valv;
use valv_service::privacy::RequestView;

use super::Member;
use super::home::who;
use crate::csrf::FormToken;
use crate::i18n::Tr;
use crate::page::{Frame, PageError, render};

pub(super) fn routes() -> Router<Valv> {
    Router::new().route("/app/requests", get(requests))
}

struct Row {
    received: String,
    kind: String,
    email: String,
    status: String,
    due: String,
    /// `overdue`, `due_soon` or `open`: styles the row and says it in words.
    deadline: &'static str,
    deadline_text: String,
}

#[derive(Template)]
#[template(path = "requests.html")]
struct RequestsPage {
    f: Frame,
    rows: Vec<Row>,
}

/// Unanswered first; among them the most urgent first, then the earliest due.
fn urgency(r: &RequestView) -> (bool, u8, String) {
    let rank = match r.deadline.as_str() {
        "overdue" => 0,
        "due_soon" => 1,
        _ => 2,
    };
    (r.answered_at.is_some(), rank, r.due.clone())
}

fn row(tr: Tr, r: &RequestView) -> Row {
    let day = |s: &str| valv_domain::parse_stamp(s).map(|t| tr.date(t)).unwrap_or_else(|_| s.to_owned());
    let deadline = match (r.answered_at.is_some(), r.deadline.as_str()) {
        (true, _) => "answered",
        (false, "overdue") => "overdue",
        (false, "due_soon") => "due_soon",
        _ => "open",
    };
    Row {
        received: day(&r.received_at),
        kind: tr.t(&format!("request-kind-{}", r.kind)),
        email: r.email.clone(),
        status: tr.t(&format!("request-status-{}", r.status)),
        due: day(&r.due),
        deadline,
        deadline_text: tr.t(&format!("deadline-{deadline}")),
    }
}

async fn requests(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
) -> Result<Response, PageError> {
    let who = who(&valv, &caller).await?;
    let mut all = valv.privacy().requests(&caller, None).await?;
    all.sort_by_key(urgency);
    let rows = all.iter().map(|r| row(tr, r)).collect();
    let page = RequestsPage { f: Frame::new(tr, "requests-title", csrf).signed_in(who), rows };
    Ok(render(&page)?.into_response())
}
