//! The session cookie, set and cleared alike by the API and the pages:
//! HttpOnly (no script reads it), Secure, SameSite=Strict, `__Host-`
//! prefixed (review L6), and as long-lived as the session — `session_hours`
//! once signed in, a code's lifetime while a second factor is owed.

use axum::http::HeaderValue;
use valv_service::{SignIn, SignInStatus, Valv};

use crate::extract::SESSION_COOKIE;

/// The `Set-Cookie` value for the session a sign-in step made.
#[must_use]
pub fn session_cookie(valv: &Valv, s: &SignIn) -> Option<HeaderValue> {
    let settings = &valv.context().settings;
    let ttl = if s.status == SignInStatus::SignedIn { settings.session_ttl } else { settings.code_ttl };
    let max_age = ttl.whole_seconds();
    let cookie = format!("{SESSION_COOKIE}={}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={max_age}", s.cookie);
    HeaderValue::from_str(&cookie).ok()
}

/// The `Set-Cookie` value that makes the browser forget the session.
#[must_use]
pub fn expired_session_cookie() -> HeaderValue {
    HeaderValue::from_static("__Host-valv_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
}
