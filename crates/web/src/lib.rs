//! The HTTP face of valv: the JSON API under `/api/v1`, described by the
//! OpenAPI document it serves at `/api/v1/openapi.json` (generated from the
//! handlers, nothing downloaded at build time), plus `/healthz` and `/readyz`.
//! Every answer carries security headers and a request id; every error is
//! `{"error": {"code", "message", "request_id"}}`.

mod error;
mod extract;
mod register_extract;
mod routes;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tracing::Instrument as _;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use valv_service::Valv;

pub use error::{ErrorBody, WebError};
pub use extract::SESSION_COOKIE;

/// Largest JSON body the API accepts.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "valv", description = "Records and documents with the promises of a Data and Security Policy built in."),
    modifiers(&Security),
    components(schemas(ErrorBody, error::ErrorDetail, valv_service::FieldError))
)]
struct ApiDoc;

struct Security;

/// Operations anyone may call; every other one needs a token or a session.
const PUBLIC: [&str; 9] = [
    "healthz",
    "readyz",
    "metrics",
    "setup",
    "sign_in",
    "operator_sign_in",
    "activate",
    "file_request",
    "verify_request",
];
/// Operations that take the session of a sign-in still owing its second factor.
const PENDING_SESSION: [&str; 2] = ["send_code", "second_factor"];

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))));
        let none = || Vec::<String>::new();
        for item in api.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.post, &mut item.patch, &mut item.put, &mut item.delete];
            for op in ops.into_iter().flatten() {
                let id = op.operation_id.as_deref().unwrap_or_default();
                op.security = Some(if PUBLIC.contains(&id) {
                    Vec::new()
                } else if PENDING_SESSION.contains(&id) {
                    vec![SecurityRequirement::new("session", none())]
                } else {
                    vec![SecurityRequirement::new("bearer", none()), SecurityRequirement::new("session", none())]
                });
            }
        }
    }
}

/// The API's routes and their OpenAPI document.
///
/// `deadline` is how long a request may take to be answered; for an upload,
/// how long the client may send nothing before the upload is given up.
pub fn api(deadline: Duration) -> (Router<Valv>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::health::routes())
        .merge(routes::auth::routes())
        .merge(routes::me::routes())
        .merge(routes::users::routes())
        .merge(routes::tenants::routes())
        .merge(routes::journal::routes())
        .merge(routes::records::routes())
        .merge(routes::files::routes())
        .merge(routes::exports::routes())
        .merge(routes::subjects::routes())
        .merge(routes::requests::routes())
        .merge(routes::jobs::routes())
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, deadline))
        // A 2 GiB upload over a slow link needs far longer than the deadline;
        // it is cut only when the client stalls (so a stalled one cannot hold
        // a connection and a scan session forever).
        .merge(routes::files::upload_routes().layer(RequestBodyTimeoutLayer::new(deadline)))
        .split_for_parts()
}

/// The whole HTTP application.
pub fn app(valv: Valv, deadline: Duration) -> Router {
    let (router, doc) = api(deadline);
    let doc: Arc<str> = doc.to_json().unwrap_or_default().into();
    let openapi = move || {
        let doc = Arc::clone(&doc);
        async move { ([(header::CONTENT_TYPE, "application/json")], doc.to_string()) }
    };
    let router = router
        .route("/api/v1/openapi.json", get(openapi))
        .fallback(|| async { WebError::not_found() })
        .method_not_allowed_fallback(|| async {
            WebError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this address does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(request_scope))
        .with_state(valv)
        .layer(CatchPanicLayer::custom(|_| {
            WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side")
                .into_response()
        }));
    with_security_headers(router)
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// Security headers on every answer (OWASP Secure Headers Project).
fn with_security_headers(router: Router) -> Router {
    let set = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    router
        .layer(set(header::STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains"))
        .layer(set(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ))
        .layer(set(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(set(header::REFERRER_POLICY, "no-referrer"))
        .layer(set(header::CACHE_CONTROL, "no-store"))
}

/// One span per request (request id, method, route, status, latency), with
/// the request id made available to error answers, and the one log line of
/// a failure on valv's side with its cause chain. Paths are logged by route
/// template, so ids and query strings never reach the log.
async fn request_scope(req: Request, next: Next) -> Response {
    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let route = req.extensions().get::<MatchedPath>().map_or("(unmatched)", MatchedPath::as_str).to_owned();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        route = %route,
        tenant = tracing::field::Empty
    );
    let started = Instant::now();
    let mut res = error::REQUEST_ID.scope(id, next.run(req)).instrument(span.clone()).await;
    let status = res.status().as_u16();
    span.in_scope(|| {
        if let Some(error::Cause(cause)) = res.extensions_mut().remove::<error::Cause>() {
            tracing::error!(status, error = format!("{cause:#}"), "request failed");
        }
        tracing::info!(status, latency_ms = started.elapsed().as_secs_f64() * 1e3, "answered");
    });
    res
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use tower::ServiceExt as _;

    use super::*;

    /// Collects what the log writes.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Log {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_failure_is_logged_once_with_its_cause_chain_and_request_id_and_never_answered() {
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let failing = || async {
            let cause = anyhow::anyhow!("disk I/O error on page 7").context("writing the record");
            WebError::from(valv_service::ServiceError::internal(cause))
        };
        let app = Router::new().route("/fail", get(failing)).layer(middleware::from_fn(request_scope));
        let req = Request::builder().uri("/fail").header("x-request-id", "req-42").body(Body::empty()).expect("req");
        let res = app.oneshot(req).await.expect("answer");

        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(res.into_body(), 1 << 16).await.expect("body");
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("req-42") && !body.contains("disk"), "the client sees the request id only: {body}");
        let text = String::from_utf8_lossy(&log.0.lock().expect("log")).into_owned();
        let failures: Vec<&str> = text.lines().filter(|l| l.contains("request failed")).collect();
        assert_eq!(failures.len(), 1, "logged once: {text}");
        assert!(failures[0].contains("writing the record: disk I/O error on page 7"), "with its cause chain: {text}");
        assert!(failures[0].contains("req-42"), "and the request id: {text}");
    }
}
