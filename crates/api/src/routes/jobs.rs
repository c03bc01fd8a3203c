//! Background jobs, for operators: when each runs and how its last run went.

use axum::Json;
use axum::extract::State;
use utoipa_axum::{router::OpenApiRouter, routes};
use valv_service::Valv;
use valv_service::jobs::JobView;

use crate::error::{ErrorResponses, WebError};
use crate::extract::Operator;

pub(crate) fn routes() -> OpenApiRouter<Valv> {
    OpenApiRouter::new().routes(routes!(list_jobs))
}

#[utoipa::path(get, path = "/api/v1/jobs", tag = "operator", responses((status = 200, body = Vec<JobView>), ErrorResponses))]
async fn list_jobs(State(valv): State<Valv>, Operator(c): Operator) -> Result<Json<Vec<JobView>>, WebError> {
    Ok(Json(valv.jobs(&c).await?))
}
