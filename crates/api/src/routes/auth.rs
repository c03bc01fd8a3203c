//! Sign-in and first-start setup: public routes that end in a session cookie.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use valv_service::{SecondFactor, SetUp, SignIn, SignInStatus, UserView, Valv};

use crate::error::{ErrorResponses, WebError};
use crate::extract::{ApiJson, SESSION_COOKIE, Signed, cookie};
use valv_http::ClientAddr;
use valv_http::session::{expired_session_cookie, session_cookie};

pub(crate) fn routes() -> OpenApiRouter<Valv> {
    OpenApiRouter::new()
        .routes(routes!(setup))
        .routes(routes!(sign_in))
        .routes(routes!(operator_sign_in))
        .routes(routes!(send_code))
        .routes(routes!(second_factor))
        .routes(routes!(activate))
        .routes(routes!(sign_out))
}

/// First operator account, with the setup token printed at first start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    pub setup_token: String,
    #[schema(min_length = 1, max_length = 200, example = "Ada Lind")]
    pub name: String,
    #[schema(format = Email, max_length = 254, example = "ada@example.com")]
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

#[utoipa::path(post, path = "/api/v1/setup", tag = "auth", request_body = SetupRequest,
    responses((status = 201, body = SetUp, description = "The operator, and the authenticator secret they sign in with (shown once)"), ErrorResponses))]
async fn setup(State(valv): State<Valv>, ApiJson(req): ApiJson<SetupRequest>) -> Result<impl IntoResponse, WebError> {
    let op = valv.complete_setup(&req.setup_token, &req.name, &req.email, req.password).await?;
    Ok((StatusCode::CREATED, axum::Json(op)))
}

/// Tenant user sign-in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    /// The organisation's slug.
    pub tenant: String,
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

/// Operator sign-in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorSignInRequest {
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

/// Where a sign-in stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignInResponse {
    pub status: SignInStatus,
    /// Second factors to choose from when `status` is `second_factor_required`.
    pub methods: Vec<String>,
}

/// The answer to a sign-in step: JSON plus a fresh session cookie (a new
/// id at every step; see `valv_http::session`).
fn signed_in(valv: &Valv, s: SignIn) -> Response {
    let cookie = session_cookie(valv, &s);
    let body = SignInResponse { status: s.status, methods: s.methods.iter().map(|m| (*m).to_owned()).collect() };
    let mut res = axum::Json(body).into_response();
    if let Some(v) = cookie {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

#[utoipa::path(post, path = "/api/v1/auth/sign-in", tag = "auth", request_body = SignInRequest,
    responses((status = 200, body = SignInResponse), ErrorResponses))]
async fn sign_in(
    State(valv): State<Valv>,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<SignInRequest>,
) -> Result<Response, WebError> {
    let s = valv.accounts().sign_in(&req.tenant, &req.email, req.password, client).await?;
    Ok(signed_in(&valv, s))
}

#[utoipa::path(post, path = "/api/v1/operator/sign-in", tag = "auth", request_body = OperatorSignInRequest,
    responses((status = 200, body = SignInResponse), ErrorResponses))]
async fn operator_sign_in(
    State(valv): State<Valv>,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<OperatorSignInRequest>,
) -> Result<Response, WebError> {
    let s = valv.accounts().operator_sign_in(&req.email, req.password, client).await?;
    Ok(signed_in(&valv, s))
}

/// Which channel a one-time code goes by.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendCodeRequest {
    pub channel: Channel,
}

/// How a one-time code travels. `sms` is answered 422 `channel_unavailable`:
/// valv has no SMS gateway, and a code written to a file is no second factor.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
}

/// Kinds of second factor.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A code from an authenticator app.
    Totp,
    /// One of the codes handed out when the app was set up.
    RecoveryCode,
    /// A code sent by e-mail or text message.
    Code,
}

fn presented_session(headers: &HeaderMap) -> Result<String, WebError> {
    cookie(headers, SESSION_COOKIE)
        .map(str::to_owned)
        .ok_or_else(|| WebError::new(StatusCode::UNAUTHORIZED, "session_invalid", "sign in with your password first"))
}

#[utoipa::path(post, path = "/api/v1/auth/send-code", tag = "auth", request_body = SendCodeRequest,
    responses((status = 204, description = "Code sent"), ErrorResponses))]
async fn send_code(
    State(valv): State<Valv>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SendCodeRequest>,
) -> Result<StatusCode, WebError> {
    let channel = match req.channel {
        Channel::Email => "email",
        Channel::Sms => "sms",
    };
    valv.accounts().send_code(&presented_session(&headers)?, channel).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A second factor.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorRequest {
    pub method: Method,
    pub code: String,
}

#[utoipa::path(post, path = "/api/v1/auth/second-factor", tag = "auth", request_body = SecondFactorRequest,
    responses((status = 200, body = SignInResponse), ErrorResponses))]
async fn second_factor(
    State(valv): State<Valv>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SecondFactorRequest>,
) -> Result<Response, WebError> {
    let factor = match req.method {
        Method::Totp => SecondFactor::Totp(req.code),
        Method::RecoveryCode => SecondFactor::RecoveryCode(req.code),
        Method::Code => SecondFactor::SentCode(req.code),
    };
    let s = valv.accounts().second_factor(&presented_session(&headers)?, factor, client).await?;
    Ok(signed_in(&valv, s))
}

/// Sets the password of an invited user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    /// The invitation code from the message.
    pub invitation: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

#[utoipa::path(post, path = "/api/v1/auth/activate", tag = "auth", request_body = ActivateRequest,
    responses((status = 200, body = UserView), ErrorResponses))]
async fn activate(
    State(valv): State<Valv>,
    ApiJson(req): ApiJson<ActivateRequest>,
) -> Result<axum::Json<UserView>, WebError> {
    Ok(axum::Json(valv.accounts().activate(&req.invitation, req.password).await?))
}

#[utoipa::path(post, path = "/api/v1/auth/sign-out", tag = "auth",
    responses((status = 204, description = "Signed out"), ErrorResponses))]
async fn sign_out(State(valv): State<Valv>, Signed(caller): Signed) -> Result<Response, WebError> {
    valv.accounts().sign_out(&caller).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(header::SET_COOKIE, expired_session_cookie());
    Ok(res)
}
