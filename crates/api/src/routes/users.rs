//! A tenant's user accounts, managed by its owners and admins.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};
use valv_domain::UserId;
use valv_service::{NewUser, UserPatch, UserView, Valv};

use crate::error::{ErrorResponses, WebError};
use crate::extract::{Admin, ApiJson, path_id};

use axum::Json;

pub(crate) fn routes() -> OpenApiRouter<Valv> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
        .routes(routes!(block_user))
        .routes(routes!(unblock_user))
        .routes(routes!(reinvite_user))
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = Vec<UserView>), ErrorResponses))]
async fn list_users(State(valv): State<Valv>, Admin(c): Admin) -> Result<Json<Vec<UserView>>, WebError> {
    Ok(Json(valv.accounts().users(&c).await?))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = UserView, description = "Created; an invitation was sent"), ErrorResponses))]
async fn create_user(
    State(valv): State<Valv>,
    Admin(c): Admin,
    ApiJson(req): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<UserView>), WebError> {
    Ok((StatusCode::CREATED, Json(valv.accounts().create_user(&c, req).await?)))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = UserView), ErrorResponses))]
async fn get_user(
    State(valv): State<Valv>,
    Admin(c): Admin,
    Path(id): Path<String>,
) -> Result<Json<UserView>, WebError> {
    Ok(Json(valv.accounts().user(&c, path_id(&id, UserId::parse)?).await?))
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)), request_body = UserPatch,
    responses((status = 200, body = UserView), ErrorResponses))]
async fn update_user(
    State(valv): State<Valv>,
    Admin(c): Admin,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UserPatch>,
) -> Result<Json<UserView>, WebError> {
    Ok(Json(valv.accounts().update_user(&c, path_id(&id, UserId::parse)?, req).await?))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/block", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = UserView, description = "Blocked; sessions and tokens revoked"), ErrorResponses))]
async fn block_user(
    State(valv): State<Valv>,
    Admin(c): Admin,
    Path(id): Path<String>,
) -> Result<Json<UserView>, WebError> {
    Ok(Json(valv.accounts().set_user_blocked(&c, path_id(&id, UserId::parse)?, true).await?))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/unblock", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = UserView), ErrorResponses))]
async fn unblock_user(
    State(valv): State<Valv>,
    Admin(c): Admin,
    Path(id): Path<String>,
) -> Result<Json<UserView>, WebError> {
    Ok(Json(valv.accounts().set_user_blocked(&c, path_id(&id, UserId::parse)?, false).await?))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/invite", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = UserView, description = "A new invitation was sent"), ErrorResponses))]
async fn reinvite_user(
    State(valv): State<Valv>,
    Admin(c): Admin,
    Path(id): Path<String>,
) -> Result<Json<UserView>, WebError> {
    Ok(Json(valv.accounts().reinvite(&c, path_id(&id, UserId::parse)?).await?))
}
