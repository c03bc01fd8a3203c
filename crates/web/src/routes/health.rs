//! Liveness and readiness for load balancers and orchestrators.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use valv_service::Valv;

use crate::error::{ErrorResponses, WebError};

pub(crate) fn routes() -> OpenApiRouter<Valv> {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz))
}

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
async fn healthz() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

/// The process can serve: its database answers.
#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200, body = Health), ErrorResponses))]
async fn readyz(State(valv): State<Valv>) -> Result<axum::Json<Health>, WebError> {
    valv.ready().await?;
    Ok(axum::Json(Health { status: "ready" }))
}
