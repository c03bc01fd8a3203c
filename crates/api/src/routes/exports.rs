//! Exports through the API: start one in the background, watch its progress,
//! download its archive.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use utoipa_axum::{router::OpenApiRouter, routes};
use valv_service::Valv;
use valv_service::export::JobView;

use crate::error::{ErrorResponses, WebError};
use crate::extract::Exporter;

pub(crate) fn routes() -> OpenApiRouter<Valv> {
    OpenApiRouter::new().routes(routes!(start_export)).routes(routes!(export_job)).routes(routes!(export_archive))
}

#[utoipa::path(post, path = "/api/v1/exports", tag = "export",
    responses((status = 202, body = JobView, description = "Started; poll it for progress"), ErrorResponses))]
async fn start_export(State(v): State<Valv>, Exporter(c): Exporter) -> Result<(StatusCode, Json<JobView>), WebError> {
    Ok((StatusCode::ACCEPTED, Json(v.portability().start_export(&c).await?)))
}

#[utoipa::path(get, path = "/api/v1/exports/{id}", tag = "export", params(("id" = String, Path)),
    responses((status = 200, body = JobView), ErrorResponses))]
async fn export_job(
    State(v): State<Valv>,
    Exporter(c): Exporter,
    Path(id): Path<String>,
) -> Result<Json<JobView>, WebError> {
    Ok(Json(v.portability().export_job(&c, &id)?))
}

#[utoipa::path(get, path = "/api/v1/exports/{id}/archive", tag = "export", params(("id" = String, Path)),
    responses((status = 200, description = "The archive (application/x-tar)"), ErrorResponses))]
async fn export_archive(
    State(v): State<Valv>,
    Exporter(c): Exporter,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (archive, len) = v.portability().export_archive(&c, &id)?;
    Ok(valv_http::download::archive(archive, len))
}
