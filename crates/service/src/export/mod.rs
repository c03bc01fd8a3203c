//! The export function: everything of one tenant as one archive (see
//! `format.rs`), written as a stream with memory that stays flat whatever the
//! tenant's size: lists are written item by item, file bytes chunk by chunk.
//! Owners and admins export their tenant; operators only a terminated one
//! (they never read a live tenant's records or files).

pub mod format;
mod import;
mod jobs;
mod spool;
mod tarout;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt as _;
use serde::Serialize;
use tokio::io::AsyncWrite;
use valv_domain::{RecordId, TenantId, stamp};
use valv_store::{Chain, Change, CollectionRow, RecordQuery};

use self::format::{
    ExportCollection, ExportEntry, ExportFile, ExportRecord, ExportRevision, ExportTenant, ExportUser, ExportVersion,
    FORMAT, VERSION,
};
use self::tarout::TarOut;
use crate::{Caller, ServiceError, ServiceResult, Valv};

pub use import::ImportReport;
pub use jobs::{JobState, JobView, Jobs};
pub use spool::Spool;

/// Tenants with an export under way: one at a time per tenant.
#[derive(Debug, Default)]
pub struct Running(std::sync::Mutex<std::collections::HashSet<TenantId>>);

/// Ends the "running" mark when the export ends, however it ends.
pub struct RunningGuard<'a>(&'a Running, TenantId);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.1);
    }
}

impl Running {
    fn start(&self, tenant: TenantId) -> ServiceResult<RunningGuard<'_>> {
        let mut set = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !set.insert(tenant) {
            return Err(ServiceError::Conflict {
                code: "export_running",
                message: "an export of this tenant is already running",
            });
        }
        Ok(RunningGuard(self, tenant))
    }
}

/// How far an export is: items (users, collections, records, file versions) and bytes.
#[derive(Debug, Default)]
pub struct Progress {
    pub items_done: AtomicU64,
    pub items_total: AtomicU64,
    pub bytes_done: AtomicU64,
    pub bytes_total: AtomicU64,
}

/// A snapshot of [`Progress`].
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct ProgressView {
    pub items_done: u64,
    pub items_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

impl Progress {
    #[must_use]
    pub fn view(&self) -> ProgressView {
        ProgressView {
            items_done: self.items_done.load(Ordering::Relaxed),
            items_total: self.items_total.load(Ordering::Relaxed),
            bytes_done: self.bytes_done.load(Ordering::Relaxed),
            bytes_total: self.bytes_total.load(Ordering::Relaxed),
        }
    }

    fn item(&self) {
        self.items_done.fetch_add(1, Ordering::Relaxed);
    }
}

fn io(e: std::io::Error) -> ServiceError {
    ServiceError::Internal(format!("export: {e}"))
}

impl Valv {
    /// Which tenant `caller` may export.
    ///
    /// # Errors
    /// `Forbidden` for members; operators only for terminated tenants.
    pub async fn export_allowed(&self, caller: &Caller, tenant: TenantId) -> ServiceResult<()> {
        match caller {
            Caller::User { .. } => {
                let (t, _) = caller.export_admin()?;
                if t != tenant {
                    return Err(ServiceError::NotFound);
                }
            }
            Caller::Operator { .. } | Caller::Cli | Caller::System => {
                if self.tenant_row(tenant).await?.terminated_at.is_none() {
                    return Err(ServiceError::Forbidden(
                        "operators export a tenant only after its agreement ended; its administrators export it before",
                    ));
                }
            }
            Caller::CliForTenant(_) => return Err(ServiceError::Forbidden("not for account management")),
        }
        Ok(())
    }

    /// Writes the export of `tenant` to `out`, updating `progress`, and journals it.
    ///
    /// # Errors
    /// As [`Self::export_allowed`]; `export_running` when one already runs; I/O.
    pub async fn export<W: AsyncWrite + Unpin + Send>(
        &self,
        caller: &Caller,
        tenant: TenantId,
        out: W,
        progress: &Progress,
    ) -> ServiceResult<W> {
        self.export_allowed(caller, tenant).await?;
        let _running = self.exports.start(tenant)?;
        let mut doc = self.export_json(tenant, progress).await?;
        doc.close().map_err(io)?;
        let mut tar = TarOut::new(out);
        tar.part("export.json", doc.len(), doc.reader()).await.map_err(io)?;
        self.export_file_bytes(tenant, &mut tar, progress).await?;
        let out = tar.finish().await.map_err(io)?;
        let change = Change::new(Chain::Tenant(tenant), self.now(), caller.actor(), "tenant.exported")
            .about("tenant", tenant)
            .detail(serde_json::json!({ "items": progress.view().items_done, "bytes": progress.view().bytes_done }));
        self.store.commit(change).await?;
        Ok(out)
    }

    /// Writes `export.json` to a sealed spool (its size must be known before
    /// it enters the archive).
    async fn export_json(&self, tenant: TenantId, progress: &Progress) -> ServiceResult<Spool> {
        let t = self.tenant_row(tenant).await?;
        let users = self.store.users(tenant).await?;
        let collections = self.store.collections(tenant).await?;
        let files = self.store.all_files(tenant).await?;
        let mut versions = Vec::new();
        for f in &files {
            versions.push(self.store.file_versions(tenant, f.id).await?);
        }
        let mut records_total = 0;
        for c in &collections {
            records_total += self.store.count_records(tenant, c.id, true).await?;
        }
        let n_versions: u64 = versions.iter().map(|v| v.len() as u64).sum();
        progress
            .items_total
            .store(users.len() as u64 + collections.len() as u64 + records_total + n_versions, Ordering::Relaxed);
        progress.bytes_total.store(versions.iter().flatten().map(|v| v.size).sum(), Ordering::Relaxed);

        let head = ExportTenant {
            id: t.id.to_string(),
            slug: t.slug.to_string(),
            name: t.name.to_string(),
            contact_name: t.contact.name.to_string(),
            contact_email: t.contact.email.to_string(),
            contact_phone: t.contact.phone.to_string(),
            status: t.status.as_str().into(),
            require_second_factor: t.require_second_factor,
            terminated_at: t.terminated_at.map(stamp),
            created_at: stamp(t.created_at),
        };
        let mut json = JsonOut::new(Spool::new(self.settings.export_dir.as_deref()).map_err(io)?);
        json.raw(&format!(
            "{{\"format\":\"{FORMAT}\",\"version\":{VERSION},\"exported_at\":\"{}\",\"tenant\":",
            stamp(self.now())
        ))?;
        json.value(&head)?;
        json.open_list("users")?;
        for u in &users {
            let e = ExportUser {
                id: u.id.to_string(),
                name: u.name.to_string(),
                email: u.email.to_string(),
                phone: u.phone.to_string(),
                role: u.role.as_str().into(),
                status: u.status.as_str().into(),
                created_at: stamp(u.created_at),
            };
            json.item(&e)?;
            progress.item();
        }
        json.open_list("collections")?;
        for c in &collections {
            let e = ExportCollection {
                id: c.id.to_string(),
                name: c.name.clone(),
                fields: c.fields.clone(),
                data_subject: c.data_subject,
                processing: c.processing.clone(),
                created_at: stamp(c.created_at),
            };
            json.item(&e)?;
            progress.item();
        }
        json.open_list("records")?;
        for c in &collections {
            self.export_records(tenant, c, &mut json, progress).await?;
        }
        json.open_list("files")?;
        for (f, vs) in files.iter().zip(&versions) {
            let e = ExportFile {
                id: f.id.to_string(),
                folder: f.folder.to_string(),
                name: f.name.to_string(),
                created_at: stamp(f.created_at),
                created_by: f.created_by.clone(),
                deleted_at: f.deleted_at.map(stamp),
                versions: vs
                    .iter()
                    .map(|v| ExportVersion {
                        version: v.version,
                        size: v.size,
                        sha256: v.sha256.clone(),
                        media_type: v.media_type.clone(),
                        uploaded_by: v.uploaded_by.clone(),
                        uploaded_at: stamp(v.uploaded_at),
                        path: format!("files/{}/{}", f.id, v.version),
                    })
                    .collect(),
            };
            json.item(&e)?;
        }
        json.open_list("journal")?;
        self.export_journal(tenant, &mut json).await?;
        json.raw("]}")?;
        Ok(json.into_inner())
    }

    /// The tenant's chain, page by page.
    async fn export_journal(&self, tenant: TenantId, json: &mut JsonOut) -> ServiceResult<()> {
        let key = tenant.to_string();
        let mut after = 0;
        loop {
            let page = self.store.chain_page(&key, after, crate::journal::PAGE).await?;
            for e in &page {
                json.item(&ExportEntry::from(e))?;
            }
            match page.last() {
                Some(e) if page.len() == crate::journal::PAGE as usize => after = e.chain_seq,
                _ => return Ok(()),
            }
        }
    }

    /// Records of one collection with every revision: a page of records, then
    /// the journal history of the whole page in one read.
    async fn export_records(
        &self,
        tenant: TenantId,
        collection: &CollectionRow,
        json: &mut JsonOut,
        progress: &Progress,
    ) -> ServiceResult<()> {
        let mut after = None;
        loop {
            let q = RecordQuery { after: after.clone(), limit: 500, include_deleted: true, ..RecordQuery::default() };
            let page = self.store.records(tenant, collection.id, &q).await?;
            let ids = page.iter().map(|r| r.id.to_string()).collect();
            let mut history: HashMap<String, Vec<ExportRevision>> = HashMap::new();
            for e in self.store.histories(tenant, "record", ids).await? {
                let image = RecordId::parse(&e.entity_id).ok().and_then(|id| crate::revisions::image(&e, id));
                if let Some(img) = image {
                    history.entry(e.entity_id).or_default().push(ExportRevision {
                        revision: img.revision,
                        at: stamp(img.updated_at),
                        by: img.updated_by,
                        data: img.data,
                        deleted: img.deleted_at.is_some(),
                    });
                }
            }
            for r in &page {
                let rec = ExportRecord {
                    id: r.id.to_string(),
                    collection: collection.name.clone(),
                    created_at: stamp(r.created_at),
                    created_by: r.created_by.clone(),
                    revisions: history.remove(&r.id.to_string()).unwrap_or_default(),
                };
                json.item(&rec)?;
                progress.item();
            }
            match page.last() {
                Some(r) if page.len() == 500 => after = Some((serde_json::Value::Null, r.id)),
                _ => return Ok(()),
            }
        }
    }

    async fn export_file_bytes<W: AsyncWrite + Unpin>(
        &self,
        tenant: TenantId,
        tar: &mut TarOut<W>,
        progress: &Progress,
    ) -> ServiceResult<()> {
        let keys = self.tenant_keys(tenant).await?;
        for f in self.store.all_files(tenant).await? {
            for v in self.store.file_versions(tenant, f.id).await? {
                let manifest = crate::files::manifest(&v)?;
                let body = valv_blob::read_range(self.blobs()?.clone(), keys.clone(), manifest, 0..v.size);
                let counted = body.inspect(|b| {
                    if let Ok(b) = b {
                        progress.bytes_done.fetch_add(b.len() as u64, Ordering::Relaxed);
                    }
                });
                tar.part(&format!("files/{}/{}", f.id, v.version), v.size, Box::pin(counted)).await.map_err(io)?;
                progress.item();
            }
        }
        Ok(())
    }
}

/// A file as a stream of pieces.
pub fn file_stream(f: tokio::fs::File) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin + Send {
    Box::pin(futures::stream::try_unfold(f, |mut f| async move {
        use tokio::io::AsyncReadExt as _;
        let mut buf = vec![0u8; 256 * 1024];
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((bytes::Bytes::from(buf), f)))
    }))
}

/// Writes one JSON document piece by piece into a spool: keys with lists, items one at a time.
struct JsonOut {
    spool: Spool,
    first: bool,
    buf: Vec<u8>,
}

impl JsonOut {
    fn new(spool: Spool) -> Self {
        Self { spool, first: true, buf: Vec::new() }
    }

    fn into_inner(self) -> Spool {
        self.spool
    }

    fn raw(&mut self, s: &str) -> ServiceResult<()> {
        self.spool.write(s.as_bytes()).map_err(io)
    }

    fn value<T: Serialize>(&mut self, v: &T) -> ServiceResult<()> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, v).map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.spool.write(&self.buf).map_err(io)
    }

    /// Closes the previous list (if any) and opens list `key`.
    fn open_list(&mut self, key: &str) -> ServiceResult<()> {
        let close = if key == "users" { "" } else { "]" };
        self.first = true;
        self.raw(&format!("{close},\"{key}\":["))
    }

    fn item<T: Serialize>(&mut self, v: &T) -> ServiceResult<()> {
        if !self.first {
            self.raw(",")?;
        }
        self.first = false;
        self.value(v)
    }
}
