//! `WebError`: a service error (or a refused request) as an HTTP answer
//! `{"error": {"code", "message", "request_id", ...}}` with the right status.
//! A 5xx carries its cause to the request middleware, which logs it once
//! with its cause chain and the request id; the client sees the request id only.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use valv_service::{FieldError, ServiceError};

tokio::task_local! {
    /// The id of the request being answered, set by the request-id middleware.
    pub static REQUEST_ID: String;
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, in a stable code and a sentence.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `email_taken`.
    pub code: String,
    pub message: String,
    /// Quote this when reporting a problem.
    pub request_id: String,
    /// One entry per refused field (`validation_failed`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// The strength meter's tips when a password was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub feedback: Option<serde_json::Value>,
}

/// An error answer.
#[derive(Debug)]
pub struct WebError {
    status: StatusCode,
    code: &'static str,
    message: String,
    fields: Vec<FieldError>,
    feedback: Option<Box<serde_json::Value>>,
    retry_after: Option<u64>,
    cause: Option<Cause>,
}

/// Why a request failed on valv's side: put on the response for the request
/// middleware to log (with the request id), never sent to the client.
#[derive(Debug, Clone)]
pub(crate) struct Cause(pub(crate) Arc<anyhow::Error>);

impl WebError {
    #[must_use]
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
            feedback: None,
            retry_after: None,
            cause: None,
        }
    }

    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code, e.g. `email_taken`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.code
    }

    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The fields a `validation_failed` refusal names.
    #[must_use]
    pub fn fields(&self) -> &[FieldError] {
        &self.fields
    }

    /// This error answered with `body` (a page, for the web side): its
    /// status, `Retry-After`, and the cause for the request log.
    pub fn answer_with(self, body: impl IntoResponse) -> Response {
        let mut res = (self.status, body).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(cause) = self.cause {
            res.extensions_mut().insert(cause);
        }
        res
    }

    #[must_use]
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "nothing here: the address or id is unknown")
    }
}

impl From<ServiceError> for WebError {
    fn from(e: ServiceError) -> Self {
        if let ServiceError::Internal(cause) = e {
            let mut w = Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side");
            w.cause = Some(Cause(Arc::new(cause)));
            return w;
        }
        let code = e.code();
        let status = match &e {
            ServiceError::Validation(_) | ServiceError::PasswordRefused { .. } | ServiceError::Unprocessable { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ServiceError::NotFound => StatusCode::NOT_FOUND,
            ServiceError::Forbidden(_)
            | ServiceError::AccountBlocked
            | ServiceError::TenantBlocked
            | ServiceError::TenantTerminated => StatusCode::FORBIDDEN,
            ServiceError::Unauthenticated { .. } | ServiceError::BadCredentials => StatusCode::UNAUTHORIZED,
            ServiceError::Locked { .. } | ServiceError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServiceError::Conflict { .. } => StatusCode::CONFLICT,
            ServiceError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ServiceError::Quota { .. } | ServiceError::Malware { .. } | ServiceError::Invalid { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ServiceError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ServiceError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut w = Self::new(status, code, e.to_string());
        match e {
            ServiceError::Validation(fields) => w.fields = fields,
            ServiceError::PasswordRefused { feedback, .. } => {
                w.feedback = serde_json::to_value(feedback).ok().map(Box::new)
            }
            ServiceError::Locked { retry_after_secs } | ServiceError::RateLimited { retry_after_secs } => {
                w.retry_after = Some(retry_after_secs);
            }
            _ => {}
        }
        w
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let request_id = REQUEST_ID.try_with(Clone::clone).unwrap_or_default();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                request_id,
                fields: self.fields,
                feedback: self.feedback.map(|f| *f),
            },
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(cause) = self.cause {
            res.extensions_mut().insert(cause);
        }
        res
    }
}

/// Error statuses every API operation may answer, for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // describes answers in the OpenAPI document; never built
pub enum ErrorResponses {
    /// Malformed JSON.
    #[response(status = 400)]
    BadRequest(#[to_schema] ErrorBody),
    /// Not signed in, or an unknown, expired or revoked credential.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// Signed in, but not allowed (role, blocked account or organisation).
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Unknown id, or an id of another tenant.
    #[response(status = 404)]
    NotFound(ErrorBody),
    #[response(status = 405)]
    MethodNotAllowed(ErrorBody),
    #[response(status = 409)]
    Conflict(ErrorBody),
    #[response(status = 413)]
    TooLarge(ErrorBody),
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
    /// Invalid fields or a refused password.
    #[response(status = 422)]
    Unprocessable(ErrorBody),
    /// `If-Match` names a stale revision.
    #[response(status = 412)]
    PreconditionFailed(ErrorBody),
    /// Too many failed sign-ins, or too many requests filed; see `Retry-After`.
    #[response(status = 429)]
    TooMany(ErrorBody),
    /// The requested range lies outside the content.
    #[response(status = 416)]
    RangeNotSatisfiable(ErrorBody),
    #[response(status = 500)]
    Internal(ErrorBody),
    /// A service valv depends on (the malware scanner) is unreachable.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}
