//! Files: a folder's files with an upload form, one file with every
//! version (size, time, uploader, the malware scan's verdict), a new
//! version, and the download of any version. Uploads are
//! `multipart/form-data` read as a stream straight into the service (never
//! held whole in memory); the form's token is its first part and is checked
//! before any content is read. A refused upload (malware, a limit) is said
//! on the page with its reason.

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use valv_domain::FileId;
use valv_http::WebError;
use valv_service::{Caller, FileView, ServiceError, UploadTarget, Valv};

use super::Member;
use super::home::who;
use crate::csrf::{self, FormToken};
use crate::i18n::Tr;
use crate::page::{Frame, PageError, render};

pub(super) fn routes() -> Router<Valv> {
    Router::new()
        .route("/app/files", get(list).post(upload))
        .route("/app/files/{id}", get(show).post(upload_version))
        .route("/app/files/{id}/v/{version}", get(download))
        // Uploads stream; the tenant's limits bound them, not a body limit.
        .layer(DefaultBodyLimit::disable())
}

fn file_id(raw: &str) -> Result<FileId, PageError> {
    FileId::parse(raw).map_err(|_| PageError::from(ServiceError::NotFound))
}

/// Bytes as people read them: "1.4 MB" (SI units, as browsers show downloads).
fn size(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.1} GB", n as f64 / 1e9),
    }
}

struct Row {
    href: String,
    name: String,
    versions: usize,
    size: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "files.html")]
struct FilesPage {
    f: Frame,
    folder: String,
    rows: Vec<Row>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Where {
    #[serde(default)]
    folder: String,
}

fn folder_or_root(folder: &str) -> String {
    if folder.is_empty() { "/".into() } else { folder.to_owned() }
}

async fn files_page(
    valv: &Valv,
    tr: Tr,
    csrf: String,
    caller: &Caller,
    folder: &str,
    error: Option<String>,
) -> Result<FilesPage, PageError> {
    let files = valv.content().files(caller, Some(folder)).await?;
    let rows = files
        .iter()
        .map(|f| {
            let newest = f.versions.last();
            Row {
                href: format!("/app/files/{}", f.id),
                name: f.name.clone(),
                versions: f.versions.len(),
                size: newest.map(|v| size(v.size)).unwrap_or_default(),
                updated: newest.map(|v| tr.date_time(v.uploaded_at)).unwrap_or_default(),
            }
        })
        .collect();
    let f = Frame::new(tr, "files-title", csrf).signed_in(who(valv, caller).await?);
    Ok(FilesPage { f, folder: folder.to_owned(), rows, error })
}

async fn list(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    Query(w): Query<Where>,
) -> Result<Response, PageError> {
    let page = files_page(&valv, tr, csrf, &caller, &folder_or_root(&w.folder), None).await?;
    Ok(render(&page)?.into_response())
}

/// The parts of an upload form after its token: the folder (a new file
/// only) and the file, streamed. `None` when the form holds no file.
async fn read_upload(
    valv: &Valv,
    headers: &HeaderMap,
    body: Body,
) -> Result<(multer::Multipart<'static>, String, Option<multer::Field<'static>>), PageError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| PageError::bad_form())?;
    let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
    // The token is the form's first part: nothing is stored unless it matches.
    let token = form.next_field().await.map_err(|_| PageError::bad_form())?.ok_or_else(PageError::form_expired)?;
    if token.name() != Some("csrf") {
        return Err(PageError::form_expired());
    }
    let token = token.text().await.map_err(|_| PageError::bad_form())?;
    csrf::check(valv, csrf::sent_cookie(headers), &token).await?;
    let mut folder = "/".to_owned();
    while let Some(field) = form.next_field().await.map_err(|_| PageError::bad_form())? {
        match field.name() {
            Some("folder") => folder = folder_or_root(field.text().await.map_err(|_| PageError::bad_form())?.trim()),
            Some("file") => return Ok((form, folder, Some(field))),
            _ => {}
        }
    }
    Ok((form, folder, None))
}

/// Stores the file part as `target`; the part's name is the new file's.
async fn store(
    valv: &Valv,
    caller: &Caller,
    field: multer::Field<'static>,
    folder: String,
    version: Option<FileId>,
) -> Result<FileView, ServiceError> {
    let name = field.file_name().unwrap_or_default().to_owned();
    let media = field.content_type().map_or("application/octet-stream".to_owned(), ToString::to_string);
    let target = match version {
        Some(id) => UploadTarget::Version(id),
        None => UploadTarget::New { folder, name },
    };
    valv.content().upload(caller, target, &media, field).await
}

async fn upload(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, PageError> {
    let (_form, folder, field) = read_upload(&valv, &headers, body).await?;
    let Some(field) = field else { return Err(PageError::bad_form()) };
    match store(&valv, &caller, field, folder.clone(), None).await {
        Ok(f) => Ok(Redirect::to(&format!("/app/files/{}", f.id)).into_response()),
        Err(e @ ServiceError::Internal(_)) => Err(e.into()),
        Err(e) => {
            let error = Some(refused(tr, &e));
            let page = files_page(&valv, tr, csrf, &caller, &folder, error).await?;
            Ok(WebError::from(e).answer_with(render(&page)?))
        }
    }
}

/// Why an upload was refused, in the page's language; malware is named.
fn refused(tr: Tr, e: &ServiceError) -> String {
    match e {
        ServiceError::Malware { signature } => tr.t_with("files-malware", &[("signature", signature.clone())]),
        other => tr.error(other.code(), &other.to_string()),
    }
}

struct Version {
    number: u32,
    href: String,
    size: String,
    at: String,
    by: String,
    scan: String,
}

#[derive(Template)]
#[template(path = "file.html")]
struct FilePage {
    f: Frame,
    id: String,
    name: String,
    folder: String,
    versions: Vec<Version>,
    error: Option<String>,
}

async fn file_page(
    valv: &Valv,
    tr: Tr,
    csrf: String,
    caller: &Caller,
    id: FileId,
    error: Option<String>,
) -> Result<FilePage, PageError> {
    let file = valv.content().file(caller, id).await?;
    let versions = file
        .versions
        .iter()
        .rev()
        .map(|v| Version {
            number: v.version,
            href: format!("/app/files/{}/v/{}", file.id, v.version),
            size: size(v.size),
            at: tr.date_time(v.uploaded_at),
            by: v.uploaded_by.clone(),
            scan: v.scan.clone(),
        })
        .collect();
    let f = Frame::new(tr, "file-title", csrf).signed_in(who(valv, caller).await?).titled(&file.name);
    Ok(FilePage { f, id: file.id, name: file.name, folder: file.folder, versions, error })
}

async fn show(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    Ok(render(&file_page(&valv, tr, csrf, &caller, file_id(&id)?, None).await?)?.into_response())
}

async fn upload_version(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, PageError> {
    let id = file_id(&id)?;
    let (_form, _, field) = read_upload(&valv, &headers, body).await?;
    let Some(field) = field else { return Err(PageError::bad_form()) };
    match store(&valv, &caller, field, String::new(), Some(id)).await {
        Ok(f) => Ok(Redirect::to(&format!("/app/files/{}", f.id)).into_response()),
        Err(e @ ServiceError::Internal(_)) => Err(e.into()),
        Err(e) => {
            let page = file_page(&valv, tr, csrf, &caller, id, Some(refused(tr, &e))).await?;
            Ok(WebError::from(e).answer_with(render(&page)?))
        }
    }
}

async fn download(
    State(valv): State<Valv>,
    Member(caller): Member,
    Path((id, version)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let version = version.parse().map_err(|_| PageError::from(ServiceError::NotFound))?;
    let d = valv.content().download(&caller, file_id(&id)?, Some(version), None).await?;
    Ok(valv_http::download::send(d).await?)
}
