//! The signed-in user's own account, second factor, API tokens and tenant.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use valv_domain::TokenId;
use valv_service::{NewToken, TenantView, TokenCreated, TokenView, TotpEnrolment, UserView, Valv};

use crate::error::{ErrorResponses, WebError};
use crate::extract::{Admin, ApiJson, Member, path_id};

use axum::Json;

pub(crate) fn routes() -> OpenApiRouter<Valv> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(change_password))
        .routes(routes!(begin_totp))
        .routes(routes!(confirm_totp))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(own_tenant, update_own_tenant))
}

#[utoipa::path(get, path = "/api/v1/me", tag = "me", responses((status = 200, body = UserView), ErrorResponses))]
async fn me(State(valv): State<Valv>, Member(c): Member) -> Result<Json<UserView>, WebError> {
    Ok(Json(valv.accounts().me(&c).await?))
}

/// A password change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[schema(value_type = String, format = Password)]
    pub current_password: SecretString,
    #[schema(value_type = String, format = Password)]
    pub new_password: SecretString,
}

#[utoipa::path(post, path = "/api/v1/me/password", tag = "me", request_body = PasswordChange,
    responses((status = 204, description = "Changed; other sessions ended"), ErrorResponses))]
async fn change_password(
    State(valv): State<Valv>,
    Member(c): Member,
    ApiJson(req): ApiJson<PasswordChange>,
) -> Result<StatusCode, WebError> {
    valv.accounts().change_password(&c, req.current_password, req.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/me/totp", tag = "me", responses((status = 200, body = TotpEnrolment), ErrorResponses))]
async fn begin_totp(State(valv): State<Valv>, Member(c): Member) -> Result<Json<TotpEnrolment>, WebError> {
    Ok(Json(valv.accounts().begin_totp(&c).await?))
}

/// A code from the authenticator app.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    pub code: String,
}

/// One-time recovery codes, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/me/totp/confirm", tag = "me", request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodes), ErrorResponses))]
async fn confirm_totp(
    State(valv): State<Valv>,
    Member(c): Member,
    ApiJson(req): ApiJson<CodeRequest>,
) -> Result<Json<RecoveryCodes>, WebError> {
    Ok(Json(RecoveryCodes { recovery_codes: valv.accounts().confirm_totp(&c, &req.code).await? }))
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", responses((status = 200, body = Vec<TokenView>), ErrorResponses))]
async fn list_tokens(State(valv): State<Valv>, Member(c): Member) -> Result<Json<Vec<TokenView>>, WebError> {
    Ok(Json(valv.accounts().tokens(&c).await?))
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewToken,
    responses((status = 201, body = TokenCreated), ErrorResponses))]
async fn create_token(
    State(valv): State<Valv>,
    Member(c): Member,
    ApiJson(req): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<TokenCreated>), WebError> {
    Ok((StatusCode::CREATED, Json(valv.accounts().create_token(&c, req).await?)))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 200, body = TokenView), ErrorResponses))]
async fn revoke_token(
    State(valv): State<Valv>,
    Member(c): Member,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, WebError> {
    Ok(Json(valv.accounts().revoke_token(&c, path_id(&id, TokenId::parse)?).await?))
}

#[utoipa::path(get, path = "/api/v1/tenant", tag = "tenant", responses((status = 200, body = TenantView), ErrorResponses))]
async fn own_tenant(State(valv): State<Valv>, Member(c): Member) -> Result<Json<TenantView>, WebError> {
    let (tenant, _, _) = c.member()?;
    Ok(Json(valv.accounts().tenant(&c, tenant).await?))
}

/// Tenant settings an owner or admin may change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// Every user must complete a second factor at sign-in.
    pub require_second_factor: bool,
}

#[utoipa::path(patch, path = "/api/v1/tenant", tag = "tenant", request_body = TenantSettings,
    responses((status = 200, body = TenantView), ErrorResponses))]
async fn update_own_tenant(
    State(valv): State<Valv>,
    Admin(c): Admin,
    ApiJson(req): ApiJson<TenantSettings>,
) -> Result<Json<TenantView>, WebError> {
    Ok(Json(valv.accounts().set_require_second_factor(&c, req.require_second_factor).await?))
}
