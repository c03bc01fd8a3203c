//! The web pages of valv (DESIGN.md, Web interface): server-rendered with
//! compiled templates (askama) from the same service calls as the JSON API.
//! One module per screen under [`pages`]: extract the role, make one service
//! call, render. Every page and form works without JavaScript; state changes
//! go through forms that carry a token ([`csrf`]); every string comes from
//! a message catalogue ([`i18n`]); the stylesheet is embedded ([`assets`]).

mod assets;
mod csrf;
mod fields;
mod i18n;
mod page;
mod pages;

use axum::Router;
use axum::middleware;
use tower_http::catch_panic::CatchPanicLayer;
use valv_http::{refuse_cross_origin, request_scope, with_request_ids, with_security_headers};
use valv_service::Valv;

/// What a page may load: its own stylesheet and images, nothing inline,
/// no script at all yet, forms posted only here, never framed (OWASP).
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The web pages, with their own fallback (an HTML "not found").
pub fn pages(valv: Valv) -> Router {
    let router = pages::routes()
        .route(assets::STYLE_PATH, axum::routing::get(assets::style))
        .fallback(page::not_found)
        .layer(middleware::from_fn(page::in_page))
        .layer(middleware::from_fn(csrf::give_form_cookie))
        .layer(middleware::from_fn(refuse_cross_origin))
        .layer(middleware::from_fn(request_scope))
        .with_state(valv)
        .layer(CatchPanicLayer::custom(|_| page::internal_error()));
    with_request_ids(with_security_headers(router, CSP))
}
