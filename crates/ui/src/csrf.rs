//! Form tokens against cross-site request forgery: the signed double-submit
//! cookie of the OWASP CSRF Prevention Cheat Sheet. Each browser gets a
//! random `__Host-valv_form` cookie; every form carries
//! HMAC(form key, that cookie) in a hidden `csrf` field; a posted form is
//! accepted only when the field matches this browser's cookie, compared in
//! constant time. Another site can neither read the cookie nor make the
//! HMAC, and a token copied from another browser does not match this one's
//! cookie. This comes on top of `SameSite=Strict` and the `Sec-Fetch-Site`
//! / `Origin` refusal every route has (`valv_http::refuse_cross_origin`).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use valv_service::Valv;

use crate::page::PageError;

const FORM_COOKIE: &str = "__Host-valv_form";

/// The largest form body read (a sign-in or a record is far smaller).
const MAX_FORM: usize = 256 << 10;

/// This browser's form cookie, as the request brought it or as
/// [`give_form_cookie`] made it for this answer.
#[derive(Debug, Clone)]
struct FormCookie(String);

/// Middleware: a browser that has no form cookie gets one with this answer.
pub(crate) async fn give_form_cookie(mut req: Request, next: Next) -> Response {
    let sent = valv_http::extract::cookie(req.headers(), FORM_COOKIE).map(str::to_owned);
    let fresh = sent.is_none().then(|| valv_crypto::token::random(32));
    let value = sent.or_else(|| fresh.clone()).unwrap_or_default();
    req.extensions_mut().insert(FormCookie(value));
    let mut res = next.run(req).await;
    if let Some(v) = fresh {
        let cookie = format!("{FORM_COOKIE}={v}; Path=/; HttpOnly; Secure; SameSite=Strict");
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// HMAC of `cookie` under the installation's form key: the key is derived
/// from the provider key, so every instance of an installation agrees.
async fn token_for(valv: &Valv, cookie: &str) -> Result<String, PageError> {
    let provider = valv.keyring().provider_key().await.map_err(PageError::internal)?;
    Ok(provider.derive(b"valv-web-form-token").mac(cookie.as_bytes()))
}

/// Accepts `carried` only as the token of this browser's form cookie
/// `cookie`; "form expired" otherwise.
pub(crate) async fn check(valv: &Valv, cookie: Option<&str>, carried: &str) -> Result<(), PageError> {
    let Some(cookie) = cookie else { return Err(PageError::form_expired()) };
    let expected = token_for(valv, cookie).await?;
    if valv_crypto::token::digest_eq(carried, &expected) { Ok(()) } else { Err(PageError::form_expired()) }
}

/// This browser's form cookie as the request brought it.
pub(crate) fn sent_cookie(headers: &axum::http::HeaderMap) -> Option<&str> {
    valv_http::extract::cookie(headers, FORM_COOKIE)
}

/// The token this browser's forms carry, for a page to put in its forms.
#[derive(Debug, Clone)]
pub(crate) struct FormToken(pub(crate) String);

impl FromRequestParts<Valv> for FormToken {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, valv: &Valv) -> Result<Self, PageError> {
        let cookie = parts.extensions.get::<FormCookie>().cloned().ok_or_else(PageError::form_expired)?;
        Ok(FormToken(token_for(valv, &cookie.0).await?))
    }
}

#[derive(Deserialize)]
struct Carried {
    #[serde(default)]
    csrf: String,
}

/// A form that carries nothing but its token (a button: sign out, block).
#[derive(Debug, Deserialize)]
pub(crate) struct NoFields {}

/// A posted form (`application/x-www-form-urlencoded`) whose token matches
/// this browser's form cookie; refused with "form expired" otherwise, before
/// anything is read from it.
#[derive(Debug)]
pub(crate) struct Posted<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<Valv> for Posted<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, valv: &Valv) -> Result<Self, PageError> {
        let sent = sent_cookie(req.headers()).map(str::to_owned);
        let body = axum::body::to_bytes(req.into_body(), MAX_FORM).await.map_err(|_| PageError::bad_form())?;
        let carried: Carried = serde_urlencoded::from_bytes(&body).map_err(|_| PageError::bad_form())?;
        check(valv, sent.as_deref(), &carried.csrf).await?;
        Ok(Posted(serde_urlencoded::from_bytes(&body).map_err(|_| PageError::bad_form())?))
    }
}
