//! The stylesheet, embedded in the binary and served under a name that
//! holds a hash of its content: browsers may keep it for a year, and a new
//! release changes the name (RFC 9111 §5.2.2.1 `immutable` via RFC 8246).

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use sha2::{Digest as _, Sha256};

const STYLE: &str = include_str!("../assets/style.css");

/// The route of the stylesheet: any name under `/assets/`; pages link
/// the one [`style_href`] gives.
pub(crate) const STYLE_PATH: &str = "/assets/{name}";

/// `/assets/style.<hash>.css`.
pub(crate) fn style_href() -> &'static str {
    static HREF: LazyLock<String> = LazyLock::new(|| {
        let hash = hex::encode(&Sha256::digest(STYLE.as_bytes())[..8]);
        format!("/assets/style.{hash}.css")
    });
    &HREF
}

pub(crate) async fn style(axum::extract::Path(name): axum::extract::Path<String>) -> axum::response::Response {
    if format!("/assets/{name}") != style_href() {
        return crate::page::not_found().await.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        STYLE,
    )
        .into_response()
}
