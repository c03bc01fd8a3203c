//! The export function: everything of one tenant as one archive (see
//! `format.rs`), written as a stream with memory that stays flat whatever the
//! tenant's size: lists are written item by item, file bytes chunk by chunk.
//! Owners and admins export their tenant; operators only a terminated one
//! (they never read a live tenant's records or files).

mod document;
pub mod format;
mod history;
mod import;
mod import_rows;
mod jobs;
mod parse;
mod placed;
mod renumber;
mod spool;
mod tarout;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt as _;
use serde::Serialize;
use tokio::io::AsyncWrite;
use valv_domain::TenantId;
use valv_store::{Action, Chain, Change, FileRow, FileVersionRow};

use self::document::Helper;
use self::placed::Placed;
use self::tarout::TarOut;
use crate::{Caller, Portability, ServiceError, ServiceResult};

pub use import::ImportReport;
pub use jobs::{JobState, JobView, Jobs};
pub use renumber::Renumber;
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
    ServiceError::internal(anyhow::Error::new(e).context("export"))
}

impl Portability<'_> {
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
                if self.accounts().tenant_row(tenant).await?.terminated_at.is_none() {
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
    /// File parts come first: they stream while `export.json` is built beside
    /// them in sealed spools (its size must be known before it enters the archive).
    ///
    /// # Errors
    /// As [`Self::export_allowed`]; `export_running` when one already runs; I/O.
    pub async fn export<W: AsyncWrite + Unpin + Send>(
        &self,
        caller: &Caller,
        tenant: TenantId,
        out: W,
        progress: &Arc<Progress>,
    ) -> ServiceResult<W> {
        self.export_allowed(caller, tenant).await?;
        self.export_into(caller, tenant, out, progress).await
    }

    /// [`Self::export`] without asking who may: for a copy of a tenant out
    /// of a restored installation (`copy_tenant`).
    async fn export_into<W: AsyncWrite + Unpin + Send>(
        &self,
        caller: &Caller,
        tenant: TenantId,
        out: W,
        progress: &Arc<Progress>,
    ) -> ServiceResult<W> {
        let _running = self.exports.start(tenant)?;
        let inventory = Arc::new(self.inventory(tenant, progress).await?);
        let document = self.export_document(tenant, Arc::clone(&inventory), Arc::clone(progress), self.spool()?);
        let mut tar = TarOut::new(out);
        let ((mut head, journal), ()) =
            tokio::try_join!(document, self.export_file_bytes(tenant, &inventory, &mut tar, progress))?;
        head.close().map_err(io)?;
        let len = head.len() + journal.len();
        tar.part("export.json", len, head.reader().chain(journal.reader())).await.map_err(io)?;
        let out = tar.finish().await.map_err(io)?;
        self.journal_export(caller, tenant, progress).await?;
        Ok(out)
    }

    /// As [`Self::export`], into a new file: `export.json` is written straight
    /// into its place in the archive (see `placed.rs`) instead of a spool.
    ///
    /// # Errors
    /// As [`Self::export`].
    pub async fn export_file(
        &self,
        caller: &Caller,
        tenant: TenantId,
        file: tokio::fs::File,
        progress: &Arc<Progress>,
    ) -> ServiceResult<tokio::fs::File> {
        self.export_allowed(caller, tenant).await?;
        let _running = self.exports.start(tenant)?;
        let inventory = Arc::new(self.inventory(tenant, progress).await?);
        let file_parts: u64 = inventory.files.iter().flat_map(|(_, vs)| vs).map(|v| tarout::span(v.size)).sum();
        // `export.json` follows the file parts, after its own header.
        let document_at = file_parts + tarout::span(0);
        let std_file = Arc::new(file.try_clone().await.map_err(io)?.into_std().await);
        let stop = Arc::new(tokio::sync::Notify::new());
        let write_back = Helper(tokio::spawn(placed::write_back(Arc::clone(&std_file), Arc::clone(&stop))));
        let placed = Placed::new(std_file, document_at);
        let document = self.export_document(tenant, Arc::clone(&inventory), Arc::clone(progress), placed);
        let mut tar = TarOut::new(tokio::io::BufWriter::with_capacity(1 << 20, file));
        let ((head, journal), ()) =
            tokio::try_join!(document, self.export_file_bytes(tenant, &inventory, &mut tar, progress))?;
        if tar.next_body_at() != document_at {
            return Err(ServiceError::internal_msg("export: the file parts took another size than planned"));
        }
        let (placed, sha) = head.finish().map_err(io)?;
        tar.part_placed("export.json", placed, sha, journal.len(), journal.reader()).await.map_err(io)?;
        let out = tar.finish().await.map_err(io)?;
        stop.notify_one();
        write_back.join().await?.map_err(io)?;
        self.journal_export(caller, tenant, progress).await?;
        Ok(out.into_inner())
    }

    async fn journal_export(&self, caller: &Caller, tenant: TenantId, progress: &Progress) -> ServiceResult<()> {
        let change = Change::new(Chain::Tenant(tenant), self.ctx.now(), caller.actor(), Action::TenantExported)
            .about("tenant", tenant)
            .detail(serde_json::json!({ "items": progress.view().items_done, "bytes": progress.view().bytes_done }));
        self.ctx.store.commit(change).await?;
        Ok(())
    }

    /// What the export holds besides records and the journal, and the totals for progress.
    async fn inventory(&self, tenant: TenantId, progress: &Progress) -> ServiceResult<Inventory> {
        let users = self.ctx.store.users(tenant).await?;
        let collections = self.ctx.store.collections(tenant).await?;
        let mut files = Vec::new();
        for f in self.ctx.store.all_files(tenant).await? {
            let versions = self.ctx.store.file_versions(tenant, f.id).await?;
            files.push((f, versions));
        }
        let mut records_total = 0;
        for c in &collections {
            records_total += self.ctx.store.count_records(tenant, c.id, true).await?;
        }
        let versions = || files.iter().flat_map(|(_, vs)| vs);
        let items = users.len() as u64 + collections.len() as u64 + records_total + versions().count() as u64;
        progress.items_total.store(items, Ordering::Relaxed);
        progress.bytes_total.store(versions().map(|v| v.size).sum(), Ordering::Relaxed);
        Ok(Inventory { users, collections, files })
    }

    /// Every file version's bytes, chunks read ahead across files.
    async fn export_file_bytes<W: AsyncWrite + Unpin>(
        &self,
        tenant: TenantId,
        inventory: &Inventory,
        tar: &mut TarOut<W>,
        progress: &Progress,
    ) -> ServiceResult<()> {
        let versions: Vec<(&FileRow, &FileVersionRow)> =
            inventory.files.iter().flat_map(|(f, vs)| vs.iter().map(move |v| (f, v))).collect();
        let manifests = versions.iter().map(|(_, v)| crate::files::manifest(v)).collect::<ServiceResult<Vec<_>>>()?;
        if versions.is_empty() {
            // Nothing to read: an installation without a chunk store exports too.
            return Ok(());
        }
        let counts: Vec<usize> = manifests.iter().map(|m| m.chunks.len()).collect();
        let keys = self.content().tenant_keys(tenant).await?;
        let mut chunks = std::pin::pin!(valv_blob::read_files(self.ctx.blobs()?.clone(), keys, manifests));
        for ((f, v), count) in versions.into_iter().zip(counts) {
            let body = chunks.as_mut().take(count).inspect(|b| {
                if let Ok(b) = b {
                    progress.bytes_done.fetch_add(b.len() as u64, Ordering::Relaxed);
                }
            });
            tar.part_known(&file_path(f, v), v.size, &v.sha256, body).await.map_err(io)?;
            progress.item();
        }
        Ok(())
    }
}

/// Users, collections and files (with their versions) of the tenant being exported.
struct Inventory {
    users: Vec<valv_store::UserRow>,
    collections: Vec<valv_store::CollectionRow>,
    files: Vec<(FileRow, Vec<FileVersionRow>)>,
}

/// Where a file version's bytes are in the archive.
fn file_path(f: &FileRow, v: &FileVersionRow) -> String {
    format!("files/{}/{}", f.id, v.version)
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
