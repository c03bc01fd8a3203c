//! Refusal of cross-site state changes (review L6). The session cookie is
//! `SameSite=Strict`, but a page on a sibling subdomain is "same-site" and
//! its forms would carry it. So a request that changes state (any method
//! but GET, HEAD and OPTIONS) is refused when the browser says it comes
//! from elsewhere: `Sec-Fetch-Site` other than `same-origin` or `none`, or,
//! from browsers that do not send that, an `Origin` whose host is not the
//! one asked. Requests with neither header (curl, scripts, servers) are not
//! from a browser page and pass. The same rule as Go's
//! `http.CrossOriginProtection` and the OWASP CSRF Prevention Cheat Sheet's
//! "Verifying Origin with standard headers".

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};

use crate::error::WebError;

/// Middleware: refuses a cross-origin state change with 403 `cross_origin_refused`.
pub async fn refuse_cross_origin(req: Request, next: Next) -> Response {
    // HTTP/2 names the host in the `:authority` pseudo-header, which arrives as the URI's authority.
    let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let host = host.or_else(|| req.uri().authority().map(|a| a.as_str().to_owned())).unwrap_or_default();
    if changes_state(req.method()) && from_elsewhere(req.headers(), &host) {
        return WebError::new(
            StatusCode::FORBIDDEN,
            "cross_origin_refused",
            "a page of another site cannot change anything here; use valv's own pages or an API token",
        )
        .into_response();
    }
    next.run(req).await
}

fn changes_state(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn from_elsewhere(h: &HeaderMap, host: &str) -> bool {
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return false };
    // `Origin: null` (a sandboxed or privacy-sensitive context) matches no host.
    origin.split_once("://").map(|(_, authority)| authority) != Some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.parse().expect("name"), v.parse().expect("value"))).collect()
    }

    #[test]
    fn browsers_of_other_sites_are_told_apart_from_same_origin_pages_and_scripts() {
        let elsewhere = |pairs: &[(&'static str, &'static str)]| from_elsewhere(&headers(pairs), "valv.example.com");
        assert!(elsewhere(&[("sec-fetch-site", "cross-site")]));
        assert!(elsewhere(&[("sec-fetch-site", "same-site")]), "a sibling subdomain");
        assert!(!elsewhere(&[("sec-fetch-site", "same-origin")]));
        assert!(!elsewhere(&[("sec-fetch-site", "none")]), "typed into the address bar");
        assert!(elsewhere(&[("origin", "https://evil.example")]));
        assert!(elsewhere(&[("origin", "null")]));
        assert!(!elsewhere(&[("origin", "https://valv.example.com")]));
        assert!(!elsewhere(&[]), "curl and scripts send neither");
    }
}
