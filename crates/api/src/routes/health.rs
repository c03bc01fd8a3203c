//! Liveness and readiness for load balancers and orchestrators.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use valv_service::Valv;

use crate::error::{ErrorResponses, WebError};
use valv_http::extract::Monitor;

pub(crate) fn routes() -> OpenApiRouter<Valv> {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz)).routes(routes!(metrics))
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

/// Prometheus text format: journal position and, per backup target, the
/// position shipped, the replication lag and the last success. Names of
/// targets only; never their locations. For operators and the scraper
/// holding `metrics_token` only.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, content_type = "text/plain; version=0.0.4", body = String), ErrorResponses))]
async fn metrics(
    _: Monitor,
    State(valv): State<Valv>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), WebError> {
    use std::fmt::Write as _;
    let s = valv.backups().backup_status(&valv_service::Caller::System).await?;
    let mut out = String::new();
    let _ = writeln!(out, "# HELP valv_journal_seq Newest journal position.\n# TYPE valv_journal_seq gauge");
    let _ = writeln!(out, "valv_journal_seq {}", s.journal_seq);
    let _ = writeln!(
        out,
        "# HELP valv_backup_shipped_seq Journal position each backup target holds.\n# TYPE valv_backup_shipped_seq gauge"
    );
    for t in &s.targets {
        let _ = writeln!(out, "valv_backup_shipped_seq{{target=\"{}\"}} {}", t.name, t.shipped_seq);
    }
    let _ = writeln!(
        out,
        "# HELP valv_backup_lag_seconds Age of the oldest entry a target lacks.\n# TYPE valv_backup_lag_seconds gauge"
    );
    for t in &s.targets {
        let _ = writeln!(out, "valv_backup_lag_seconds{{target=\"{}\"}} {:.3}", t.name, t.lag_seconds);
    }
    let _ = writeln!(
        out,
        "# HELP valv_backup_target_failing 1 while a target's last attempt failed.\n# TYPE valv_backup_target_failing gauge"
    );
    for t in &s.targets {
        let _ =
            writeln!(out, "valv_backup_target_failing{{target=\"{}\"}} {}", t.name, u8::from(t.last_error.is_some()));
    }
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}
