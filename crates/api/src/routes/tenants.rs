//! Tenants, managed by provider operators.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use valv_domain::TenantId;
use valv_service::{LimitsInput, NewTenant, OperatorView, TenantView, UserView, Valv};

use crate::error::{ErrorResponses, WebError};
use crate::extract::{ApiJson, Operator, path_id};

use axum::Json;

pub(crate) fn routes() -> OpenApiRouter<Valv> {
    OpenApiRouter::new()
        .routes(routes!(operator_me))
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant))
        .routes(routes!(block_tenant))
        .routes(routes!(unblock_tenant))
        .routes(routes!(terminate_tenant))
        .routes(routes!(set_limits))
}

#[utoipa::path(get, path = "/api/v1/operator/me", tag = "operator", responses((status = 200, body = OperatorView), ErrorResponses))]
async fn operator_me(State(valv): State<Valv>, Operator(c): Operator) -> Result<Json<OperatorView>, WebError> {
    Ok(Json(valv.accounts().operator_me(&c).await?))
}

#[utoipa::path(get, path = "/api/v1/tenants", tag = "operator", responses((status = 200, body = Vec<TenantView>), ErrorResponses))]
async fn list_tenants(State(valv): State<Valv>, Operator(c): Operator) -> Result<Json<Vec<TenantView>>, WebError> {
    Ok(Json(valv.accounts().tenants(&c).await?))
}

/// A created tenant and its first owner, who was sent an invitation.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantCreated {
    pub tenant: TenantView,
    pub owner: UserView,
}

#[utoipa::path(post, path = "/api/v1/tenants", tag = "operator", request_body = NewTenant,
    responses((status = 201, body = TenantCreated), ErrorResponses))]
async fn create_tenant(
    State(valv): State<Valv>,
    Operator(c): Operator,
    ApiJson(req): ApiJson<NewTenant>,
) -> Result<(StatusCode, Json<TenantCreated>), WebError> {
    let (tenant, owner) = valv.accounts().create_tenant(&c, req).await?;
    Ok((StatusCode::CREATED, Json(TenantCreated { tenant, owner })))
}

#[utoipa::path(get, path = "/api/v1/tenants/{id}", tag = "operator", params(("id" = String, Path)),
    responses((status = 200, body = TenantView), ErrorResponses))]
async fn get_tenant(
    State(valv): State<Valv>,
    Operator(c): Operator,
    Path(id): Path<String>,
) -> Result<Json<TenantView>, WebError> {
    Ok(Json(valv.accounts().tenant(&c, path_id(&id, TenantId::parse)?).await?))
}

#[utoipa::path(post, path = "/api/v1/tenants/{id}/block", tag = "operator", params(("id" = String, Path)),
    responses((status = 200, body = TenantView), ErrorResponses))]
async fn block_tenant(
    State(valv): State<Valv>,
    Operator(c): Operator,
    Path(id): Path<String>,
) -> Result<Json<TenantView>, WebError> {
    Ok(Json(valv.accounts().set_tenant_blocked(&c, path_id(&id, TenantId::parse)?, true).await?))
}

#[utoipa::path(post, path = "/api/v1/tenants/{id}/unblock", tag = "operator", params(("id" = String, Path)),
    responses((status = 200, body = TenantView), ErrorResponses))]
async fn unblock_tenant(
    State(valv): State<Valv>,
    Operator(c): Operator,
    Path(id): Path<String>,
) -> Result<Json<TenantView>, WebError> {
    Ok(Json(valv.accounts().set_tenant_blocked(&c, path_id(&id, TenantId::parse)?, false).await?))
}

#[utoipa::path(post, path = "/api/v1/tenants/{id}/terminate", tag = "operator", params(("id" = String, Path)),
    responses((status = 200, body = TenantView), ErrorResponses))]
async fn terminate_tenant(
    State(valv): State<Valv>,
    Operator(c): Operator,
    Path(id): Path<String>,
) -> Result<Json<TenantView>, WebError> {
    Ok(Json(valv.accounts().terminate_tenant(&c, path_id(&id, TenantId::parse)?).await?))
}

#[utoipa::path(patch, path = "/api/v1/tenants/{id}/limits", tag = "operator", params(("id" = String, Path)),
    request_body = LimitsInput, responses((status = 200, body = TenantView), ErrorResponses))]
async fn set_limits(
    State(valv): State<Valv>,
    Operator(c): Operator,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<LimitsInput>,
) -> Result<Json<TenantView>, WebError> {
    Ok(Json(valv.accounts().set_tenant_limits(&c, path_id(&id, TenantId::parse)?, req).await?))
}
