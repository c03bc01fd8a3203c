//! The HTTP base every face of valv shares (the JSON API today, the web
//! pages next): who may call what, declared by role extractors
//! ([`extract`]); service errors as HTTP answers ([`error`]); one span per
//! request with its id, and one log line per failure on valv's side with
//! its cause chain ([`request_scope`]); and the security headers of every
//! answer ([`with_security_headers`]).

pub mod client;
pub mod download;
pub mod error;
pub mod extract;
pub mod origin;
pub mod session;

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tracing::Instrument as _;

pub use client::ClientAddr;
pub use error::{ErrorBody, ErrorDetail, ErrorResponses, WebError};
pub use extract::SESSION_COOKIE;
pub use origin::refuse_cross_origin;

/// Security headers on every answer (OWASP Secure Headers Project).
///
/// `csp` is the Content-Security-Policy of the router's answers (one per
/// router: the API allows nothing, the pages their own assets).
pub fn with_security_headers(router: Router, csp: &'static str) -> Router {
    let set = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    router
        .layer(set(header::STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains"))
        .layer(set(header::CONTENT_SECURITY_POLICY, csp))
        .layer(set(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(set(header::REFERRER_POLICY, "no-referrer"))
        // Unless an answer says otherwise (a page's stylesheet, named by its hash), nothing is kept.
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
}

/// Request ids made by the server, always: an id a client sends is
/// dropped, not echoed into answers and the log (review L11: a forged id
/// could pass for one of valv's own, or smuggle text into the log).
pub fn with_request_ids(router: Router) -> Router {
    let strip = |mut req: Request| async move {
        req.headers_mut().remove("x-request-id");
        req
    };
    router
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::map_request(strip))
}

/// One span per request (request id, method, route, status, latency), with
/// the request id made available to error answers, and the one log line of
/// a failure on valv's side with its cause chain. Paths are logged by route
/// template, so ids and query strings never reach the log.
pub async fn request_scope(req: Request, next: Next) -> Response {
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

    use axum::http::StatusCode;
    use axum::middleware;
    use axum::routing::get;

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
