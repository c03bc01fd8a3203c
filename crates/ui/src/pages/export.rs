//! `/app/export`: an organisation's owners and admins export all of its
//! data as one archive (also in the export window after the agreement
//! ended): start it, follow its progress (a refresh link: the page runs no
//! script), download the archive while it is kept (a day).

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use valv_service::Valv;
use valv_service::export::JobState;

use super::Member;
use super::home::who;
use crate::csrf::{FormToken, NoFields, Posted};
use crate::i18n::Tr;
use crate::page::{Frame, PageError, render};

pub(super) fn routes() -> Router<Valv> {
    Router::new()
        .route("/app/export", get(start_page).post(start))
        .route("/app/export/{id}", get(job))
        .route("/app/export/{id}/archive", get(archive))
}

#[derive(Template)]
#[template(path = "export.html")]
struct ExportPage {
    f: Frame,
    /// The job shown, if any: its id, state and progress in words.
    job: Option<(String, &'static str, String)>,
}

async fn start_page(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
) -> Result<Response, PageError> {
    caller.export_admin()?;
    let f = Frame::new(tr, "export-title", csrf).signed_in(who(&valv, &caller).await?);
    Ok(render(&ExportPage { f, job: None })?.into_response())
}

async fn start(
    State(valv): State<Valv>,
    Member(caller): Member,
    Posted(_): Posted<NoFields>,
) -> Result<Response, PageError> {
    let job = valv.portability().start_export(&caller).await?;
    Ok(Redirect::to(&format!("/app/export/{}", job.id)).into_response())
}

async fn job(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let j = valv.portability().export_job(&caller, &id)?;
    let state = match j.state {
        JobState::Running => "running",
        JobState::Done => "done",
        JobState::Failed => "failed",
    };
    let p = j.progress;
    let progress =
        tr.t_with("export-progress", &[("done", p.items_done.to_string()), ("total", p.items_total.to_string())]);
    let shown = if state == "failed" { j.error.unwrap_or_default() } else { progress };
    let f = Frame::new(tr, "export-title", csrf).signed_in(who(&valv, &caller).await?);
    Ok(render(&ExportPage { f, job: Some((j.id, state, shown)) })?.into_response())
}

async fn archive(
    State(valv): State<Valv>,
    Member(caller): Member,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (archive, len) = valv.portability().export_archive(&caller, &id)?;
    Ok(valv_http::download::archive(archive, len))
}
