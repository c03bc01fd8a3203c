//! Extractors. Who may call a handler is in its signature (STYLE.md):
//! [`Member`] any tenant user, [`Admin`] owners and admins, [`Auditor`] those
//! who read the journal, [`Operator`] provider operators. Bodies and queries
//! are parsed by [`ApiJson`] and [`ApiQuery`], whose refusals are JSON errors.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use valv_service::{Caller, ServiceError, Valv};

use crate::error::WebError;

/// Name of the session cookie. The `__Host-` prefix makes browsers accept
/// it only when set Secure, for the whole site, by this host itself: a
/// sibling subdomain cannot plant one that shadows it (review L6).
pub const SESSION_COOKIE: &str = "__Host-valv_session";

/// The value of cookie `name`, if sent.
#[must_use]
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

async fn caller(parts: &Parts, valv: &Valv) -> Result<Caller, WebError> {
    let c = resolve(parts, valv).await?;
    if let Caller::User { tenant, .. } = &c {
        tracing::Span::current().record("tenant", tracing::field::display(tenant));
    }
    Ok(c)
}

async fn resolve(parts: &Parts, valv: &Valv) -> Result<Caller, WebError> {
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        let bearer = auth.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
        return Ok(valv.accounts().resolve_token(bearer.trim()).await?);
    }
    match cookie(&parts.headers, SESSION_COOKIE) {
        Some(c) => Ok(valv.accounts().resolve_session(c).await?),
        None => Err(WebError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in, or send an API token as Authorization: Bearer <token>",
        )),
    }
}

macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(pub Caller);

        impl FromRequestParts<Valv> for $name {
            type Rejection = WebError;

            async fn from_request_parts(parts: &mut Parts, valv: &Valv) -> Result<Self, WebError> {
                let c = caller(parts, valv).await?;
                let check: fn(&Caller) -> Result<(), ServiceError> = $check;
                check(&c)?;
                Ok(Self(c))
            }
        }
    };
}

role_extractor!(
    /// A signed-in tenant user with any role.
    Member,
    |c| c.member().map(drop)
);
role_extractor!(
    /// A tenant owner or admin.
    Admin,
    |c| c.admin().map(drop)
);
role_extractor!(
    /// An owner or admin who may export, also in the export window after the agreement ended.
    Exporter,
    |c| c.export_admin().map(drop)
);
role_extractor!(
    /// A reader of the journal: tenant owner, admin or auditor, or an operator.
    Auditor,
    |c| match c {
        Caller::User { role, .. } if !role.reads_journal() => {
            Err(ServiceError::Forbidden("this needs the owner, admin or auditor role"))
        }
        _ => Ok(()),
    }
);
role_extractor!(
    /// A provider operator.
    Operator,
    |c| match c {
        Caller::Operator { .. } => Ok(()),
        _ => Err(ServiceError::Forbidden("this needs a provider operator")),
    }
);
role_extractor!(
    /// Anybody signed in: tenant user or operator.
    Signed,
    |_| Ok(())
);

/// Who may read `/metrics`: a provider operator, or a scraper that sends
/// the configured `metrics_token` as a bearer token (review L10: the journal
/// position and the backup targets are not for everyone).
#[derive(Debug)]
pub struct Monitor;

impl FromRequestParts<Valv> for Monitor {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, valv: &Valv) -> Result<Self, WebError> {
        let bearer = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let bearer = bearer.and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
        if let (Some(expected), Some(given)) = (&valv.context().settings.metrics_token_digest, bearer)
            && valv_crypto::token::digest_eq(expected, &valv_crypto::token::digest(given))
        {
            return Ok(Self);
        }
        Operator::from_request_parts(parts, valv).await.map(|_| Self)
    }
}

/// A JSON body whose refusals are JSON errors with stable codes.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, WebError> {
        let value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            Err(JsonRejection::MissingJsonContentType(_)) => {
                return Err(WebError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send the body as JSON with Content-Type: application/json",
                ));
            }
            Err(JsonRejection::BytesRejection(_)) => {
                return Err(WebError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the body is larger than this endpoint accepts",
                ));
            }
            Err(e) => {
                return Err(WebError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_json",
                    format!("the body is not valid JSON: {}", e.body_text()),
                ));
            }
        };
        // Every body of this API is an object; serde would also read a struct from an array.
        if !value.is_object() {
            return Err(WebError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "the body must be a JSON object",
            ));
        }
        serde_json::from_value(value)
            .map(Self)
            .map_err(|e| WebError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", e.to_string()))
    }
}

/// Query parameters whose refusals are JSON errors.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, WebError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|e: QueryRejection| WebError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
    }
}

/// Parses an id from the path; a malformed id is as unknown as a missing one.
///
/// # Errors
/// `404 not_found`.
pub fn path_id<T>(raw: &str, parse: fn(&str) -> Result<T, valv_domain::Invalid>) -> Result<T, WebError> {
    parse(raw).map_err(|_| WebError::not_found())
}
