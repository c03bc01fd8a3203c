//! Data-subject search and the register extract (GDPR Art. 15/20), as JSON or HTML.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use valv_service::Valv;
use valv_service::privacy::{AccessReport, ErasureReceipt, SubjectQuery, SubjectSearch};

use crate::register_extract::render_html;

use crate::error::{ErrorResponses, WebError};
use crate::extract::{Admin, ApiJson, ApiQuery};

pub(crate) fn routes() -> OpenApiRouter<Valv> {
    OpenApiRouter::new().routes(routes!(search)).routes(routes!(access)).routes(routes!(erase))
}

#[utoipa::path(post, path = "/api/v1/subjects/search", tag = "subjects", request_body = SubjectQuery,
    responses((status = 200, body = SubjectSearch), ErrorResponses))]
async fn search(
    State(v): State<Valv>,
    Admin(c): Admin,
    ApiJson(q): ApiJson<SubjectQuery>,
) -> Result<Json<SubjectSearch>, WebError> {
    Ok(Json(v.privacy().search_subject(&c, &q).await?))
}

/// How to render the extract.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Format {
    /// `json` (default) or `html`.
    format: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/subjects/access", tag = "subjects", params(Format), request_body = SubjectQuery,
    responses((status = 200, body = AccessReport, description = "JSON, or a readable HTML page with format=html"), ErrorResponses))]
async fn access(
    State(v): State<Valv>,
    Admin(c): Admin,
    ApiQuery(f): ApiQuery<Format>,
    ApiJson(q): ApiJson<SubjectQuery>,
) -> Result<Response, WebError> {
    let report = v.privacy().access_report(&c, &q).await?;
    if f.format.as_deref() == Some("html") {
        let mut res = render_html(&report).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        return Ok(res);
    }
    Ok(Json(report).into_response())
}

#[utoipa::path(post, path = "/api/v1/subjects/erase", tag = "subjects", request_body = SubjectQuery,
    responses((status = 200, body = ErasureReceipt, description = "What was erased, and what was kept and why"), ErrorResponses))]
async fn erase(
    State(v): State<Valv>,
    Admin(c): Admin,
    ApiJson(q): ApiJson<SubjectQuery>,
) -> Result<Json<ErasureReceipt>, WebError> {
    Ok(Json(v.privacy().erase_subject(&c, &q).await?))
}
