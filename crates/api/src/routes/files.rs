//! Files: streamed uploads (never held whole in memory) and streamed downloads
//! of any version with `Range` support (RFC 9110 §14).

use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use valv_domain::FileId;
use valv_service::{ByteRange, FileView, UploadTarget, Valv};

use crate::error::{ErrorResponses, WebError};
use crate::extract::{ApiQuery, Member, path_id};

/// Routes answered within the server's request deadline (downloads stream
/// after their answer has begun, so the deadline does not cut them).
pub(crate) fn routes() -> OpenApiRouter<Valv> {
    OpenApiRouter::new()
        .routes(routes!(list_files))
        .routes(routes!(get_file, delete_file))
        .routes(routes!(download))
        .routes(routes!(download_version))
}

/// Uploads: they take as long as their size needs at the client's speed, so
/// the caller gives them an idle limit instead of the request deadline.
pub(crate) fn upload_routes() -> OpenApiRouter<Valv> {
    OpenApiRouter::new()
        .routes(routes!(upload_file))
        .routes(routes!(upload_version))
        // Uploads stream; their size is checked against the tenant's limits instead.
        .layer(DefaultBodyLimit::disable())
}

/// Where a new file goes.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NewFileParams {
    /// `/` or `/a/b`; default `/`.
    #[param(pattern = "^/")]
    folder: Option<String>,
    #[param(min_length = 1)]
    name: String,
}

/// Which folder to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    #[param(pattern = "^/")]
    folder: Option<String>,
}

fn file_id(raw: &str) -> Result<FileId, WebError> {
    path_id(raw, FileId::parse)
}

fn media_type(h: &HeaderMap) -> String {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 255 && !v.is_empty())
        .unwrap_or("application/octet-stream")
        .to_owned()
}

#[utoipa::path(get, path = "/api/v1/files", tag = "files", params(ListParams), responses((status = 200, body = Vec<FileView>), ErrorResponses))]
async fn list_files(
    State(v): State<Valv>,
    Member(c): Member,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<Vec<FileView>>, WebError> {
    Ok(Json(v.content().files(&c, p.folder.as_deref()).await?))
}

#[utoipa::path(post, path = "/api/v1/files", tag = "files", params(NewFileParams),
    request_body(content = Option<Vec<u8>>, content_type = "application/octet-stream", description = "the content; Content-Type is stored as its media type"),
    responses((status = 201, body = FileView), ErrorResponses))]
async fn upload_file(
    State(v): State<Valv>,
    Member(c): Member,
    ApiQuery(p): ApiQuery<NewFileParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<FileView>), WebError> {
    let target = UploadTarget::New { folder: p.folder.unwrap_or_else(|| "/".into()), name: p.name };
    let view = v.content().upload(&c, target, &media_type(&headers), body.into_data_stream()).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(get, path = "/api/v1/files/{id}", tag = "files", params(("id" = String, Path)),
    responses((status = 200, body = FileView), ErrorResponses))]
async fn get_file(
    State(v): State<Valv>,
    Member(c): Member,
    Path(id): Path<String>,
) -> Result<Json<FileView>, WebError> {
    Ok(Json(v.content().file(&c, file_id(&id)?).await?))
}

#[utoipa::path(delete, path = "/api/v1/files/{id}", tag = "files", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted; versions stay"), ErrorResponses))]
async fn delete_file(State(v): State<Valv>, Member(c): Member, Path(id): Path<String>) -> Result<StatusCode, WebError> {
    v.content().delete_file(&c, file_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/files/{id}/content", tag = "files", params(("id" = String, Path)),
    request_body(content = Option<Vec<u8>>, content_type = "application/octet-stream"),
    responses((status = 200, body = FileView, description = "A new version; earlier ones are kept"), ErrorResponses))]
async fn upload_version(
    State(v): State<Valv>,
    Member(c): Member,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<FileView>, WebError> {
    let target = UploadTarget::Version(file_id(&id)?);
    Ok(Json(v.content().upload(&c, target, &media_type(&headers), body.into_data_stream()).await?))
}

#[utoipa::path(get, path = "/api/v1/files/{id}/content", tag = "files",
    params(("id" = String, Path), ("Range" = Option<String>, Header, description = "bytes=first-last")),
    responses((status = 200, description = "The current version"), (status = 206, description = "A range of it"), ErrorResponses))]
async fn download(
    State(v): State<Valv>,
    Member(c): Member,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    valv_http::download::send(v.content().download(&c, file_id(&id)?, None, range(&headers)).await?).await
}

#[utoipa::path(get, path = "/api/v1/files/{id}/versions/{version}/content", tag = "files",
    params(("id" = String, Path), ("version" = u32, Path), ("Range" = Option<String>, Header)),
    responses((status = 200, description = "That version"), (status = 206, description = "A range of it"), ErrorResponses))]
async fn download_version(
    State(v): State<Valv>,
    Member(c): Member,
    Path((id, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let version = version.parse().map_err(|_| WebError::not_found())?;
    valv_http::download::send(v.content().download(&c, file_id(&id)?, Some(version), range(&headers)).await?).await
}

/// One `bytes=` range; anything else is ignored and the whole content sent
/// (RFC 9110 §14.2 lets a server ignore a Range it does not support).
fn range(h: &HeaderMap) -> Option<ByteRange> {
    let spec = h.get(header::RANGE)?.to_str().ok()?.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    match (a.trim(), b.trim()) {
        ("", n) => n.parse().ok().map(ByteRange::Suffix),
        (first, "") => first.parse().ok().map(|first| ByteRange::From { first, last: None }),
        (first, last) => Some(ByteRange::From { first: first.parse().ok()?, last: Some(last.parse().ok()?) }),
    }
}
