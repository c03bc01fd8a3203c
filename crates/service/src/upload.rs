//! Uploads: the body is streamed through the chunker, sealed and stored chunk
//! by chunk (never held whole in memory), counted against the size limits and,
//! when clamd is configured, scanned on the way. The version is committed
//! (and visible) only after everything succeeded; a failed or refused upload
//! leaves no version, and the chunks it stored are collected. Bytes still
//! arriving count against the tenant's storage as they arrive, summed over
//! every upload of the tenant under way in this process (review S5:
//! parallel uploads could each use the whole remaining quota); the commit
//! checks the quota again in the store's transaction, which covers uploads
//! of other processes on the same database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use valv_blob::{BlobError, ChunkId, Manifest, write_stream};
use valv_domain::files::{FileName, Folder};
use valv_domain::{FileId, TenantId};
use valv_store::{Action, Chain, Change, Constraint, FileRow, FileVersionRow, Row, StoredChunk};

use crate::collections::writer;
use crate::files::{FileView, file_view};
use crate::scan::{Session, Verdict};
use crate::tenants::Limits;
use crate::{Caller, Content, ServiceError, ServiceResult};

/// Where an upload goes.
#[derive(Debug, Clone)]
pub enum UploadTarget {
    /// A new file at `folder`/`name`.
    New { folder: String, name: String },
    /// A new version of an existing file.
    Version(FileId),
}

type Scan = Arc<tokio::sync::Mutex<Option<Session>>>;

/// Failures noticed inside the stream, told apart after it ended.
#[derive(Default)]
struct Flags {
    too_large: AtomicBool,
    storage_full: AtomicBool,
    scanner_failed: AtomicBool,
}

/// Bytes of uploads under way, per tenant, not yet committed.
#[derive(Default)]
pub(crate) struct InFlight(std::sync::Mutex<std::collections::HashMap<TenantId, Arc<AtomicU64>>>);

impl InFlight {
    fn of(&self, tenant: TenantId) -> Arc<AtomicU64> {
        let mut all = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(all.entry(tenant).or_default())
    }
}

/// One upload's share of its tenant's bytes in flight, given back when the
/// upload ends, committed or not.
struct Share {
    tenant: Arc<AtomicU64>,
    mine: AtomicU64,
}

impl Drop for Share {
    fn drop(&mut self) {
        self.tenant.fetch_sub(self.mine.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// What one upload may hold: the file's limit, and the storage left when it
/// started, which it shares with the tenant's other uploads under way.
#[derive(Clone, Copy)]
struct Budget {
    file: u64,
    storage: u64,
}

impl Content<'_> {
    /// Stores `body` as a new file or a new version.
    ///
    /// # Errors
    /// `Forbidden`; invalid names; `file_exists`; size limits (413); malware
    /// (422); an unreachable scanner (503, unless configured to fail open);
    /// an incomplete body (400).
    pub async fn upload<S, E>(
        &self,
        caller: &Caller,
        target: UploadTarget,
        media_type: &str,
        body: S,
    ) -> ServiceResult<FileView>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let tenant = writer(caller)?;
        let file = self.upload_target(caller, tenant, target).await?;
        let limits = self.accounts().limits(tenant).await?;
        let share = Arc::new(Share { tenant: self.uploading.of(tenant), mine: AtomicU64::new(0) });
        let budget = self.upload_budget(tenant, limits, &share).await?;
        let scan: Scan = Arc::new(tokio::sync::Mutex::new(self.start_scan().await?));
        let flags = Arc::new(Flags::default());
        let counted = guard(body, budget, Arc::clone(&share), Arc::clone(&scan), Arc::clone(&flags));
        let keys = self.tenant_keys(tenant).await?;
        let refresh_before = crate::gc::refresh_before(self.ctx.now());
        let written = write_stream(self.ctx.blobs()?, &keys, refresh_before, Box::pin(counted)).await;
        let (manifest, stats) = match written {
            Ok(done) => done,
            Err(e) => return Err(upload_failed(&e, &flags, limits)),
        };
        let session = scan.lock().await.take();
        let scanned = match session {
            Some(s) => self.verdict(caller, tenant, &file, (&manifest, &stats.written), s).await?,
            None => "not scanned".to_owned(),
        };
        let committed = self.commit_version(caller, file, (manifest, limits), media_type, scanned).await;
        if committed.as_ref().is_err_and(|e| e.code() == "quota_storage") {
            self.collect(tenant, &stats.written).await;
        }
        committed
    }

    async fn upload_target(&self, caller: &Caller, tenant: TenantId, target: UploadTarget) -> ServiceResult<FileRow> {
        match target {
            UploadTarget::Version(id) => self.live_file(tenant, id).await,
            UploadTarget::New { folder, name } => {
                let folder =
                    Folder::parse(&folder).map_err(|e| ServiceError::field("folder", "invalid_folder", e.reason))?;
                let name =
                    FileName::parse(&name).map_err(|e| ServiceError::field("name", "invalid_file_name", e.reason))?;
                Ok(FileRow {
                    id: FileId::new(),
                    tenant_id: tenant,
                    folder,
                    name,
                    current_version: 0,
                    created_at: self.ctx.now(),
                    created_by: caller.actor().to_string(),
                    deleted_at: None,
                })
            }
        }
    }

    /// What this upload may hold: the per-file limit, and the tenant's
    /// storage left beside what is stored (the uploads under way share it).
    async fn upload_budget(&self, tenant: TenantId, limits: Limits, share: &Share) -> ServiceResult<Budget> {
        let used = self.ctx.store.tenant_bytes(tenant).await?;
        let storage = limits.storage_bytes.saturating_sub(used);
        if storage <= share.tenant.load(Ordering::Relaxed) {
            return Err(storage_full(limits));
        }
        Ok(Budget { file: limits.file_bytes, storage })
    }

    async fn start_scan(&self) -> ServiceResult<Option<Session>> {
        let Some(clamd) = &self.ctx.settings.clamd else { return Ok(None) };
        match clamd.start().await {
            Ok(s) => Ok(Some(s)),
            Err(e) if self.ctx.settings.clamd_fail_open => {
                tracing::warn!(error = %e, "malware scanner unreachable; accepting the upload unscanned (fail open)");
                Ok(None)
            }
            Err(e) => {
                tracing::error!(error = %e, "malware scanner unreachable; refusing the upload");
                Err(scanner_unavailable())
            }
        }
    }

    async fn verdict(
        &self,
        caller: &Caller,
        tenant: TenantId,
        file: &FileRow,
        (m, written): (&Manifest, &[ChunkId]),
        s: Session,
    ) -> ServiceResult<String> {
        match s.finish().await {
            Ok(Verdict::Clean) => Ok("clean (clamd)".into()),
            Err(e) if self.ctx.settings.clamd_fail_open => {
                tracing::warn!(error = %e, "malware scan failed; accepting the upload (fail open)");
                Ok(format!("not scanned: {e}"))
            }
            Err(e) => {
                tracing::error!(error = %e, "malware scan failed; refusing the upload");
                self.collect(tenant, written).await;
                Err(scanner_unavailable())
            }
            Ok(Verdict::Infected(signature)) => {
                self.collect(tenant, written).await;
                let change =
                    Change::new(Chain::Tenant(tenant), self.ctx.now(), caller.actor(), Action::FileMalwareRefused)
                        .about("file", file.id)
                        .detail(
                            serde_json::json!({ "signature": signature, "name": file.name.as_str(), "size": m.size }),
                        );
                self.ctx.store.commit(change).await?;
                Err(ServiceError::Malware { signature })
            }
        }
    }

    /// Deletes the chunks a refused upload wrote itself that no version
    /// refers to. A chunk it reused stays: another upload under way may be
    /// reusing it too (review M1); garbage collection takes it if unused.
    async fn collect(&self, tenant: TenantId, written: &[ChunkId]) {
        let Ok(blobs) = self.ctx.blobs() else { return };
        let referenced = self.ctx.store.referenced_chunks(tenant).await.unwrap_or_default();
        for id in written {
            if !referenced.iter().any(|r| r == id.as_str())
                && let Err(e) = blobs.delete(&tenant.to_string(), id).await
            {
                tracing::warn!(error = %e, "an unreferenced chunk stays for garbage collection");
            }
        }
    }

    async fn commit_version(
        &self,
        caller: &Caller,
        mut f: FileRow,
        (m, limits): (Manifest, Limits),
        media_type: &str,
        scan: String,
    ) -> ServiceResult<FileView> {
        f.current_version += 1;
        let v = FileVersionRow {
            file_id: f.id,
            tenant_id: f.tenant_id,
            version: f.current_version,
            size: m.size,
            sha256: m.sha256,
            media_type: media_type.to_owned(),
            chunks: m.chunks.iter().map(|c| StoredChunk { id: c.id.as_str().to_owned(), len: c.len }).collect(),
            uploaded_by: caller.actor().to_string(),
            uploaded_at: self.ctx.now(),
            scan,
        };
        let action = if f.current_version == 1 { Action::FileCreated } else { Action::FileVersionAdded };
        let change = Change::new(Chain::Tenant(f.tenant_id), self.ctx.now(), caller.actor(), action)
            .about("file", f.id)
            .row(Row::File(f.clone()))
            .row(Row::FileVersion(v))
            .within_storage(limits.storage_bytes);
        match self.ctx.store.commit(change).await {
            Err(valv_store::StoreError::StorageFull) => return Err(storage_full(limits)),
            Err(valv_store::StoreError::Conflict(Constraint::FilesTenantPath)) => {
                return Err(ServiceError::Conflict {
                    code: "file_exists",
                    message: "a file with this name exists in this folder",
                });
            }
            Err(valv_store::StoreError::Conflict(Constraint::FileVersionsKey)) => {
                return Err(ServiceError::Conflict {
                    code: "version_conflict",
                    message: "another upload to this file finished first; upload again",
                });
            }
            other => other?,
        };
        let versions = self.ctx.store.file_versions(f.tenant_id, f.id).await?;
        Ok(file_view(&f, &versions))
    }
}

fn storage_full(limits: Limits) -> ServiceError {
    let gib = limits.storage_bytes as f64 / f64::from(1u32 << 30);
    ServiceError::TooLarge {
        code: "quota_storage",
        message: format!("the organisation's storage of {gib:.1} GiB is full"),
    }
}

/// Tells why a stream failed: a limit, the scanner, the client, or the store.
fn upload_failed(e: &BlobError, flags: &Flags, limits: Limits) -> ServiceError {
    if flags.storage_full.load(Ordering::Relaxed) {
        return storage_full(limits);
    }
    if flags.too_large.load(Ordering::Relaxed) {
        let mib = limits.file_bytes / (1 << 20);
        return ServiceError::TooLarge {
            code: "file_too_large",
            message: format!("a file may hold at most {mib} MiB"),
        };
    }
    if flags.scanner_failed.load(Ordering::Relaxed) {
        return scanner_unavailable();
    }
    match e {
        BlobError::Source(_) => ServiceError::Unprocessable {
            code: "upload_incomplete",
            message: "the upload ended before its body was complete; nothing was stored",
        },
        other => ServiceError::internal_msg(other.to_string()),
    }
}

fn scanner_unavailable() -> ServiceError {
    ServiceError::Unavailable {
        code: "scanner_unavailable",
        message: "the malware scanner is unreachable; try again later",
    }
}

/// Counts bytes against the budget (the file's own, and the storage the
/// tenant's uploads share) and feeds the scanner, failing the stream when
/// either objects.
fn guard<S, E>(
    body: S,
    budget: Budget,
    share: Arc<Share>,
    scan: Scan,
    flags: Arc<Flags>,
) -> impl Stream<Item = Result<Bytes, String>> + Send
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: std::fmt::Display + Send + 'static,
{
    body.then(move |item| {
        let (scan, flags, share) = (Arc::clone(&scan), Arc::clone(&flags), Arc::clone(&share));
        async move {
            let data = item.map_err(|e| e.to_string())?;
            let n = data.len() as u64;
            // One upload's items come one after another: `mine` needs no atomic step of its own.
            if share.mine.load(Ordering::Relaxed) + n > budget.file {
                flags.too_large.store(true, Ordering::Relaxed);
                return Err("over the size limit".to_owned());
            }
            // Added to both together, so the share given back at the end is what was added.
            share.mine.fetch_add(n, Ordering::Relaxed);
            if share.tenant.fetch_add(n, Ordering::Relaxed) + n > budget.storage {
                flags.storage_full.store(true, Ordering::Relaxed);
                return Err("over the storage limit".to_owned());
            }
            if let Some(s) = scan.lock().await.as_mut()
                && let Err(e) = s.feed(&data).await
            {
                flags.scanner_failed.store(true, Ordering::Relaxed);
                return Err(e);
            }
            Ok(data)
        }
    })
}
