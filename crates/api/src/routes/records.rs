//! Collections and records. Reads carry an `ETag`; updates and deletes honour
//! `If-Match` and answer 412 when the record changed meanwhile (RFC 9110 §13.1.1).

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use utoipa_axum::{router::OpenApiRouter, routes};
use valv_domain::RecordId;
use valv_service::{CollectionPatch, CollectionView, NewCollection, RecordPage, RecordView, RevisionView, Valv};

use crate::error::{ErrorResponses, WebError};
use crate::extract::{Admin, ApiJson, ApiQuery, Member, path_id};

/// Records may be larger than other bodies (validation caps them at 256 KiB of JSON).
const RECORD_BODY_LIMIT: usize = 1024 * 1024;

pub(crate) fn routes() -> OpenApiRouter<Valv> {
    OpenApiRouter::new()
        .routes(routes!(list_collections, create_collection))
        .routes(routes!(get_collection, update_collection))
        .routes(routes!(list_records, create_record))
        .routes(routes!(get_record, update_record, delete_record))
        .routes(routes!(revisions))
        .routes(routes!(revision))
        .routes(routes!(restore))
        .layer(DefaultBodyLimit::max(RECORD_BODY_LIMIT))
}

fn with_etag(view: RecordView, status: StatusCode) -> Response {
    let tag = HeaderValue::from_str(&view.etag()).ok();
    let mut res = (status, Json(view)).into_response();
    if let Some(t) = tag {
        res.headers_mut().insert(header::ETAG, t);
    }
    res
}

fn if_match(h: &HeaderMap) -> Option<&str> {
    h.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
}

fn record_id(raw: &str) -> Result<RecordId, WebError> {
    path_id(raw, RecordId::parse)
}

#[utoipa::path(get, path = "/api/v1/collections", tag = "records", responses((status = 200, body = Vec<CollectionView>), ErrorResponses))]
async fn list_collections(State(v): State<Valv>, Member(c): Member) -> Result<Json<Vec<CollectionView>>, WebError> {
    Ok(Json(v.content().collections(&c).await?))
}

#[utoipa::path(post, path = "/api/v1/collections", tag = "records", request_body = NewCollection,
    responses((status = 201, body = CollectionView), ErrorResponses))]
async fn create_collection(
    State(v): State<Valv>,
    Admin(c): Admin,
    ApiJson(req): ApiJson<NewCollection>,
) -> Result<(StatusCode, Json<CollectionView>), WebError> {
    Ok((StatusCode::CREATED, Json(v.content().create_collection(&c, req).await?)))
}

#[utoipa::path(get, path = "/api/v1/collections/{name}", tag = "records", params(("name" = String, Path)),
    responses((status = 200, body = CollectionView), ErrorResponses))]
async fn get_collection(
    State(v): State<Valv>,
    Member(c): Member,
    Path(name): Path<String>,
) -> Result<Json<CollectionView>, WebError> {
    Ok(Json(v.content().collection(&c, &name).await?))
}

#[utoipa::path(patch, path = "/api/v1/collections/{name}", tag = "records", params(("name" = String, Path)),
    request_body = CollectionPatch, responses((status = 200, body = CollectionView), ErrorResponses))]
async fn update_collection(
    State(v): State<Valv>,
    Admin(c): Admin,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<CollectionPatch>,
) -> Result<Json<CollectionView>, WebError> {
    Ok(Json(v.content().update_collection(&c, &name, req).await?))
}

/// Besides these, `?field=value` and `?field.op=value` (op: eq, ne, lt, lte, gt, gte) filter on fields.
#[utoipa::path(get, path = "/api/v1/collections/{name}/records", tag = "records",
    params(("name" = String, Path),
        ("sort" = Option<String>, Query, description = "field, or -field for descending"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, body = RecordPage), ErrorResponses))]
async fn list_records(
    State(v): State<Valv>,
    Member(c): Member,
    Path(name): Path<String>,
    ApiQuery(params): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<RecordPage>, WebError> {
    Ok(Json(v.content().list_records(&c, &name, &params).await?))
}

#[utoipa::path(post, path = "/api/v1/collections/{name}/records", tag = "records", params(("name" = String, Path)),
    request_body(content = Object, description = "field values"), responses((status = 201, body = RecordView), ErrorResponses))]
async fn create_record(
    State(v): State<Valv>,
    Member(c): Member,
    Path(name): Path<String>,
    ApiJson(data): ApiJson<Value>,
) -> Result<Response, WebError> {
    Ok(with_etag(v.content().create_record(&c, &name, data).await?, StatusCode::CREATED))
}

#[utoipa::path(get, path = "/api/v1/collections/{name}/records/{id}", tag = "records",
    params(("name" = String, Path), ("id" = String, Path)), responses((status = 200, body = RecordView), ErrorResponses))]
async fn get_record(
    State(v): State<Valv>,
    Member(c): Member,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    Ok(with_etag(v.content().record(&c, &name, record_id(&id)?).await?, StatusCode::OK))
}

#[utoipa::path(patch, path = "/api/v1/collections/{name}/records/{id}", tag = "records",
    params(("name" = String, Path), ("id" = String, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = Object, description = "fields to set; null removes a field"),
    responses((status = 200, body = RecordView), ErrorResponses))]
async fn update_record(
    State(v): State<Valv>,
    Member(c): Member,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<Map<String, Value>>,
) -> Result<Response, WebError> {
    let view = v.content().update_record(&c, &name, record_id(&id)?, patch, if_match(&headers)).await?;
    Ok(with_etag(view, StatusCode::OK))
}

#[utoipa::path(delete, path = "/api/v1/collections/{name}/records/{id}", tag = "records",
    params(("name" = String, Path), ("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "Deleted; its history stays"), ErrorResponses))]
async fn delete_record(
    State(v): State<Valv>,
    Member(c): Member,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, WebError> {
    v.content().delete_record(&c, &name, record_id(&id)?, if_match(&headers)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/collections/{name}/records/{id}/revisions", tag = "records",
    params(("name" = String, Path), ("id" = String, Path)), responses((status = 200, body = Vec<RevisionView>), ErrorResponses))]
async fn revisions(
    State(v): State<Valv>,
    Member(c): Member,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<Vec<RevisionView>>, WebError> {
    Ok(Json(v.content().record_revisions(&c, &name, record_id(&id)?).await?))
}

#[utoipa::path(get, path = "/api/v1/collections/{name}/records/{id}/revisions/{rev}", tag = "records",
    params(("name" = String, Path), ("id" = String, Path), ("rev" = u64, Path)),
    responses((status = 200, body = RecordView), ErrorResponses))]
async fn revision(
    State(v): State<Valv>,
    Member(c): Member,
    Path((name, id, rev)): Path<(String, String, String)>,
) -> Result<Json<RecordView>, WebError> {
    let rev = rev.parse().map_err(|_| WebError::not_found())?;
    Ok(Json(v.content().record_revision(&c, &name, record_id(&id)?, rev).await?))
}

#[utoipa::path(post, path = "/api/v1/collections/{name}/records/{id}/revisions/{rev}/restore", tag = "records",
    params(("name" = String, Path), ("id" = String, Path), ("rev" = u64, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = RecordView, description = "A new revision with the old data"), ErrorResponses))]
async fn restore(
    State(v): State<Valv>,
    Member(c): Member,
    Path((name, id, rev)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let rev = rev.parse().map_err(|_| WebError::not_found())?;
    Ok(with_etag(
        v.content().restore_revision(&c, &name, record_id(&id)?, rev, if_match(&headers)).await?,
        StatusCode::OK,
    ))
}
