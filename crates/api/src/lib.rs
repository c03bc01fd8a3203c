//! The JSON API of valv under `/api/v1`, described by the
//! OpenAPI document it serves at `/api/v1/openapi.json` (generated from the
//! handlers, nothing downloaded at build time), plus `/healthz` and `/readyz`.
//! Every answer carries security headers and a request id; every error is
//! `{"error": {"code", "message", "request_id"}}`.

mod register_extract;
mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::middleware::{self};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use valv_service::Valv;

pub use valv_http::{ErrorBody, SESSION_COOKIE, WebError};
use valv_http::{error, extract};
use valv_http::{refuse_cross_origin, request_scope, with_request_ids, with_security_headers};

/// What the API's answers may load: nothing (they are JSON).
const CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Largest JSON body the API accepts.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "valv",
        description = "Records and documents with the promises of a Data and Security Policy built in."
    ),
    components(schemas(ErrorBody, error::ErrorDetail, valv_service::FieldError))
)]
struct ApiDoc;

struct Security;

/// Operations anyone may call; every other one needs a token or a session.
const PUBLIC: [&str; 8] =
    ["healthz", "readyz", "setup", "sign_in", "operator_sign_in", "activate", "file_request", "verify_request"];
/// Operations that take a signed-in session only, never an API token: the
/// sign-in steps still owing a second factor, what a stolen token must not
/// do (review L2, L3), and the operators' (who have no tokens).
const SESSION_ONLY: [&str; 4] = ["send_code", "second_factor", "create_token", "change_password"];

/// Whether an operation is an operator's: they sign in with a session only.
fn for_operators(op: &utoipa::openapi::path::Operation) -> bool {
    op.tags.as_ref().is_some_and(|t| t.iter().any(|t| t == "operator"))
}

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
                } else if SESSION_ONLY.contains(&id) || for_operators(op) {
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
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
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
        .split_for_parts();
    // After the routes are merged: a modifier in `#[openapi]` runs on the document before it has them.
    Security.modify(&mut doc);
    (router, doc)
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
        .layer(middleware::from_fn(refuse_cross_origin))
        .layer(middleware::from_fn(request_scope))
        .with_state(valv)
        .layer(CatchPanicLayer::custom(|_| {
            WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side")
                .into_response()
        }));
    with_request_ids(with_security_headers(router, CSP))
}
