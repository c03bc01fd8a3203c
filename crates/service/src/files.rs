//! Files: metadata, versions, download of any version (ranges included) and
//! soft delete. Uploads are in `upload.rs`. Every version is kept; reading
//! one verifies every chunk, so damage is an error, never wrong bytes.

use std::ops::Range;

use bytes::Bytes;
use futures::Stream;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use valv_blob::{BlobError, ChunkId, ChunkRef, Manifest, TenantKeys, read_range};
use valv_domain::files::Folder;
use valv_domain::{FileId, TenantId};
use valv_store::{Action, Chain, Change, FileRow, FileVersionRow, Row};

use crate::collections::{reader, writer};
use crate::{Caller, Content, ServiceError, ServiceResult};

/// A file with its versions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FileView {
    pub id: String,
    pub folder: String,
    pub name: String,
    pub current_version: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
    pub versions: Vec<VersionView>,
}

/// One version's metadata.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionView {
    pub version: u32,
    pub size: u64,
    pub sha256: String,
    pub media_type: String,
    pub uploaded_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub uploaded_at: OffsetDateTime,
    pub scan: String,
}

impl From<&FileVersionRow> for VersionView {
    fn from(v: &FileVersionRow) -> Self {
        Self {
            version: v.version,
            size: v.size,
            sha256: v.sha256.clone(),
            media_type: v.media_type.clone(),
            uploaded_by: v.uploaded_by.clone(),
            uploaded_at: v.uploaded_at,
            scan: v.scan.clone(),
        }
    }
}

pub(crate) fn file_view(f: &FileRow, versions: &[FileVersionRow]) -> FileView {
    FileView {
        id: f.id.to_string(),
        folder: f.folder.to_string(),
        name: f.name.to_string(),
        current_version: f.current_version,
        created_at: f.created_at,
        created_by: f.created_by.clone(),
        versions: versions.iter().map(VersionView::from).collect(),
    }
}

/// A download: what to send and the bytes of the requested range.
pub struct Download {
    pub name: String,
    pub media_type: String,
    pub size: u64,
    pub sha256: String,
    pub version: u32,
    pub range: Range<u64>,
    pub body: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, BlobError>> + Send>>,
}

impl Content<'_> {
    pub(crate) async fn tenant_keys(&self, tenant: TenantId) -> ServiceResult<TenantKeys> {
        let key = self.ctx.keyring.key(tenant).await.map_err(ServiceError::internal)?;
        Ok(TenantKeys::new(&tenant.to_string(), &key))
    }

    pub(crate) async fn live_file(&self, tenant: TenantId, id: FileId) -> ServiceResult<FileRow> {
        self.ctx.store.file(tenant, id).await?.filter(|f| f.deleted_at.is_none()).ok_or(ServiceError::NotFound)
    }

    /// Live files, in one folder or all. The folder is read as an upload's
    /// is (`/a/` is `/a`), so a listing finds what was stored there.
    ///
    /// # Errors
    /// `Forbidden` for auditors and operators; `invalid_folder`.
    pub async fn files(&self, caller: &Caller, folder: Option<&str>) -> ServiceResult<Vec<FileView>> {
        let tenant = reader(caller)?;
        let folder = folder
            .map(|f| Folder::parse(f).map_err(|e| ServiceError::field("folder", "invalid_folder", e.reason)))
            .transpose()?;
        let mut out = Vec::new();
        for f in self.ctx.store.files(tenant, folder.as_ref().map(Folder::as_str)).await? {
            out.push(file_view(&f, &self.ctx.store.file_versions(tenant, f.id).await?));
        }
        Ok(out)
    }

    /// One file with every version.
    ///
    /// # Errors
    /// `NotFound` for deleted files and other tenants' ids.
    pub async fn file(&self, caller: &Caller, id: FileId) -> ServiceResult<FileView> {
        let tenant = reader(caller)?;
        let f = self.live_file(tenant, id).await?;
        Ok(file_view(&f, &self.ctx.store.file_versions(tenant, id).await?))
    }

    /// Soft-deletes a file; its versions stay until retention or erasure.
    ///
    /// # Errors
    /// As [`Self::file`].
    pub async fn delete_file(&self, caller: &Caller, id: FileId) -> ServiceResult<()> {
        let tenant = writer(caller)?;
        let mut f = self.live_file(tenant, id).await?;
        f.deleted_at = Some(self.ctx.now());
        let change = Change::new(Chain::Tenant(tenant), self.ctx.now(), caller.actor(), Action::FileDeleted)
            .about("file", id)
            .row(Row::File(f));
        self.ctx.store.commit(change).await?;
        Ok(())
    }

    /// The content of a version (the current one by default), or a byte range
    /// of it: `(first, last)` inclusive as in HTTP, `last` open-ended when absent,
    /// or `suffix` bytes from the end.
    ///
    /// # Errors
    /// `NotFound`; `RangeNotSatisfiable` for a range outside the content.
    pub async fn download(
        &self,
        caller: &Caller,
        id: FileId,
        version: Option<u32>,
        range: Option<ByteRange>,
    ) -> ServiceResult<Download> {
        let tenant = reader(caller)?;
        let f = self.live_file(tenant, id).await?;
        let want = version.unwrap_or(f.current_version);
        let v = self
            .ctx
            .store
            .file_versions(tenant, id)
            .await?
            .into_iter()
            .find(|v| v.version == want)
            .ok_or(ServiceError::NotFound)?;
        let range = resolve(range, v.size)?;
        let manifest = manifest(&v)?;
        let body = read_range(self.ctx.blobs()?.clone(), self.tenant_keys(tenant).await?, manifest, range.clone());
        Ok(Download {
            name: f.name.to_string(),
            media_type: v.media_type,
            size: v.size,
            sha256: v.sha256,
            version: v.version,
            range,
            body: Box::pin(body),
        })
    }
}

/// A requested byte range (RFC 9110 §14.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    From { first: u64, last: Option<u64> },
    Suffix(u64),
}

fn resolve(range: Option<ByteRange>, size: u64) -> ServiceResult<Range<u64>> {
    let unsatisfiable = ServiceError::RangeNotSatisfiable { size };
    match range {
        None => Ok(0..size),
        Some(ByteRange::From { first, last }) if first < size => {
            let end = last.map_or(size, |l| l.saturating_add(1).min(size));
            if end <= first { Err(unsatisfiable) } else { Ok(first..end) }
        }
        Some(ByteRange::Suffix(n)) if n > 0 && size > 0 => Ok(size.saturating_sub(n)..size),
        Some(_) => Err(unsatisfiable),
    }
}

pub(crate) fn manifest(v: &FileVersionRow) -> ServiceResult<Manifest> {
    let chunks = v
        .chunks
        .iter()
        .map(|c| ChunkId::parse(&c.id).map(|id| ChunkRef { id, len: c.len }))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServiceError::internal(anyhow::Error::new(e).context("stored version has a bad chunk id")))?;
    Ok(Manifest { chunks, size: v.size, sha256: v.sha256.clone() })
}
