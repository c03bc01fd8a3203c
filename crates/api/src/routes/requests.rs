//! Data-subject requests: public filing and verification, and the
//! organisation's list, extension and answer.

use axum::Json;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use valv_service::Valv;
use valv_service::privacy::{NewRequest, RequestView};

use crate::error::{ErrorResponses, WebError};
use crate::extract::{Admin, ApiJson, ApiQuery};
use valv_http::ClientAddr;

pub(crate) fn routes() -> OpenApiRouter<Valv> {
    OpenApiRouter::new()
        .routes(routes!(file_request))
        .routes(routes!(verify_request))
        .routes(routes!(list_requests))
        .routes(routes!(extend_request))
        .routes(routes!(answer_request))
}

/// A filed request.
#[derive(Debug, Serialize, ToSchema)]
pub struct Filed {
    pub id: String,
    /// Always `awaiting_verification`: a link was sent to the address given.
    pub status: String,
}

#[utoipa::path(post, path = "/api/v1/public/{slug}/requests", tag = "public", params(("slug" = String, Path)),
    request_body = NewRequest, responses((status = 202, body = Filed), ErrorResponses))]
async fn file_request(
    State(v): State<Valv>,
    ClientAddr(client): ClientAddr,
    Path(slug): Path<String>,
    ApiJson(req): ApiJson<NewRequest>,
) -> Result<(StatusCode, Json<Filed>), WebError> {
    let id = v.privacy().file_request(&slug, req, client).await?;
    Ok((StatusCode::ACCEPTED, Json(Filed { id, status: "awaiting_verification".into() })))
}

/// The code from the verification message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub code: String,
}

#[utoipa::path(post, path = "/api/v1/public/requests/verify", tag = "public", request_body = VerifyRequest,
    responses((status = 204, description = "Confirmed; the organisation now handles it"), ErrorResponses))]
async fn verify_request(State(v): State<Valv>, ApiJson(req): ApiJson<VerifyRequest>) -> Result<StatusCode, WebError> {
    v.privacy().verify_request(&req.code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which requests to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only unanswered requests in this state: `open`, `due_soon` or `overdue`.
    deadline: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/requests", tag = "subjects", params(ListParams), responses((status = 200, body = Vec<RequestView>), ErrorResponses))]
async fn list_requests(
    State(v): State<Valv>,
    Admin(c): Admin,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<Vec<RequestView>>, WebError> {
    Ok(Json(v.privacy().requests(&c, p.deadline.as_deref()).await?))
}

/// An extension of the deadline (GDPR Art. 12(3)).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    #[schema(minimum = 1, maximum = 2)]
    #[serde(deserialize_with = "valv_domain::whole::number")]
    pub months: u8,
    /// Told to the subject.
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/requests/{id}/extend", tag = "subjects", params(("id" = String, Path)), request_body = Extension,
    responses((status = 200, body = RequestView), ErrorResponses))]
async fn extend_request(
    State(v): State<Valv>,
    Admin(c): Admin,
    Path(id): Path<String>,
    ApiJson(e): ApiJson<Extension>,
) -> Result<Json<RequestView>, WebError> {
    Ok(Json(v.privacy().extend_request(&c, &id, e.months, &e.reason).await?))
}

#[utoipa::path(post, path = "/api/v1/requests/{id}/answer", tag = "subjects", params(("id" = String, Path)),
    responses((status = 200, body = RequestView, description = "Answered: the extract or the erasure receipt is in `response`"), ErrorResponses))]
async fn answer_request(
    State(v): State<Valv>,
    Admin(c): Admin,
    Path(id): Path<String>,
) -> Result<Json<RequestView>, WebError> {
    Ok(Json(v.privacy().answer_request(&c, &id).await?))
}
