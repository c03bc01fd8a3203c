//! `export.json`, built in two halves side by side (one per core): everything
//! up to the journal, into a sink (a sealed spool, or its place in the archive
//! file), and the journal list, into a sealed spool. Lists are written item
//! by item, so memory stays flat whatever the tenant's size.

use std::sync::Arc;

use futures::{Stream, StreamExt as _};
use serde::Serialize;
use valv_domain::{CollectionId, RecordId, TenantId, stamp};
use valv_store::CollectionRow;

use super::format::{
    ExportCollection, ExportEntry, ExportFile, ExportTenant, ExportUser, ExportVersion, FORMAT, VERSION,
};
use super::{Inventory, Progress, Spool, io};
use crate::{Portability, ServiceError, ServiceResult, Valv};

/// Records read per page (their histories are read in one scan).
const RECORDS_PAGE: u32 = 1_000;

/// Pages of records rendered at once: one per core and one read ahead.
const RENDERERS: usize = 3;

/// Where `export.json` is written as it is built.
pub(super) trait Sink {
    /// Appends bytes.
    ///
    /// # Errors
    /// The disk refused them.
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()>;
}

impl Sink for Spool {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        Spool::write(self, bytes)
    }
}

/// Aborts a spawned task when dropped, so a failed export stops its helpers.
pub(super) struct Helper<T>(pub(super) tokio::task::JoinHandle<T>);

impl<T> Helper<T> {
    pub(super) async fn join(mut self) -> ServiceResult<T> {
        (&mut self.0).await.map_err(|e| ServiceError::internal(anyhow::Error::new(e).context("export")))
    }
}

impl<T> Drop for Helper<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Portability<'_> {
    /// Builds `export.json` of `tenant` in two tasks of their own: the head
    /// into `head`, the journal (closing the document) into a closed spool.
    pub(super) async fn export_document<S: Sink + Send + 'static>(
        &self,
        tenant: TenantId,
        inventory: Arc<Inventory>,
        progress: Arc<Progress>,
        head: S,
    ) -> ServiceResult<(S, Spool)> {
        let valv = Valv::clone(self);
        let journal = Helper(tokio::spawn(async move { valv.portability().export_journal(tenant).await }));
        let valv = Valv::clone(self);
        let head =
            Helper(tokio::spawn(
                async move { valv.portability().export_head(tenant, &inventory, &progress, head).await },
            ));
        Ok((head.join().await??, journal.join().await??))
    }

    /// Everything but the journal, ending with the journal list's opening.
    async fn export_head<S: Sink>(
        &self,
        tenant: TenantId,
        inv: &Inventory,
        progress: &Progress,
        sink: S,
    ) -> ServiceResult<S> {
        let t = self.accounts().tenant_row(tenant).await?;
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
        let mut json = JsonOut::new(sink);
        json.raw(&format!(
            "{{\"format\":\"{FORMAT}\",\"version\":{VERSION},\"exported_at\":\"{}\",\"tenant\":",
            stamp(self.ctx.now())
        ))?;
        json.value(&head)?;
        json.open_list("users")?;
        for u in &inv.users {
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
        for c in &inv.collections {
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
        for c in &inv.collections {
            self.export_records(tenant, c, &mut json, progress).await?;
        }
        json.open_list("files")?;
        for (f, vs) in &inv.files {
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
                        path: super::file_path(f, v),
                    })
                    .collect(),
            };
            json.item(&e)?;
        }
        json.open_list("journal")?;
        Ok(json.into_inner())
    }

    /// The tenant's chain, page by page, closing the document.
    async fn export_journal(&self, tenant: TenantId) -> ServiceResult<Spool> {
        let key = tenant.to_string();
        let mut json = JsonOut::new(self.spool()?);
        let mut after = 0;
        loop {
            let page = self.ctx.store.chain_links(&key, after, crate::journal::PAGE).await?;
            for e in &page {
                json.item(&ExportEntry::from(e))?;
            }
            match page.last() {
                Some(e) if page.len() == crate::journal::PAGE as usize => after = e.chain_seq,
                _ => break,
            }
        }
        json.raw("]}")?;
        let mut spool = json.into_inner();
        spool.close().map_err(io)?;
        Ok(spool)
    }

    pub(super) fn spool(&self) -> ServiceResult<Spool> {
        Spool::new(self.ctx.settings.export_dir.as_deref()).map_err(io)
    }

    /// Records of one collection with every revision, page by page. Pages are
    /// listed in order and rendered to JSON in tasks of their own (a few at
    /// once, one per core and one ahead), then written in order.
    async fn export_records(
        &self,
        tenant: TenantId,
        collection: &CollectionRow,
        json: &mut JsonOut<impl Sink>,
        progress: &Progress,
    ) -> ServiceResult<()> {
        let name: Arc<str> = collection.name.as_str().into();
        let render = |page: ServiceResult<Vec<RecordId>>| {
            let (valv, name) = (Valv::clone(self), Arc::clone(&name));
            async move {
                let page = page?;
                let n = page.len() as u64;
                let rendered =
                    Helper(tokio::spawn(async move { valv.portability().render_records(tenant, &name, page).await }));
                Ok::<_, ServiceError>((n, rendered.join().await??))
            }
        };
        let mut pages = std::pin::pin!(self.record_pages(tenant, collection.id).map(render).buffered(RENDERERS));
        while let Some(page) = pages.next().await {
            let (n, rendered) = page?;
            json.items_rendered(&rendered)?;
            progress.items_done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    /// The records of a collection (deleted ones too), page by page in id order.
    fn record_pages(
        &self,
        tenant: TenantId,
        collection: CollectionId,
    ) -> impl Stream<Item = ServiceResult<Vec<RecordId>>> + Send + use<> {
        let valv = Valv::clone(self);
        futures::stream::try_unfold(Some(None), move |cursor: Option<Option<RecordId>>| {
            let valv = valv.clone();
            async move {
                let Some(after) = cursor else { return Ok(None) };
                let page = valv.ctx.store.record_ids(tenant, collection, after, RECORDS_PAGE).await?;
                let next = (page.len() == RECORDS_PAGE as usize).then(|| page.last().copied());
                Ok((!page.is_empty()).then_some((page, next)))
            }
        })
    }

    /// A page of records with their revisions (from the journal, in one read)
    /// as JSON list items separated by commas.
    async fn render_records(&self, tenant: TenantId, collection: &str, page: Vec<RecordId>) -> ServiceResult<Vec<u8>> {
        let ids: Vec<String> = page.iter().map(ToString::to_string).collect();
        let entries = self.ctx.store.histories(tenant, "record", ids.clone()).await?;
        let internal = |e: serde_json::Error| ServiceError::internal(anyhow::Error::new(e).context("export"));
        let mut rendered = super::history::render(&entries).map_err(internal)?;
        let mut out = Vec::new();
        for (id, key) in page.into_iter().zip(&ids) {
            if !out.is_empty() {
                out.push(b',');
            }
            let r = rendered.remove(key.as_str()).unwrap_or_default();
            let (created_at, created_by) = match r.created {
                Some(c) => c,
                // The newest entry's image was erased: the row says it.
                None => {
                    let row = self.ctx.store.record(tenant, id).await?.ok_or(ServiceError::NotFound)?;
                    (row.created_at, row.created_by.into())
                }
            };
            let head = Head { id: key, collection, created_at: stamp(created_at), created_by: &created_by };
            serde_json::to_writer(&mut out, &head).map_err(internal)?;
            // The revisions are JSON already: the object is reopened to add them.
            out.pop();
            out.extend_from_slice(b",\"revisions\":");
            out.extend_from_slice(if r.revisions.is_empty() { b"[]" } else { &r.revisions });
            out.push(b'}');
        }
        Ok(out)
    }
}

/// A record of `export.json` (see `format::ExportRecord`) before its revisions.
#[derive(Serialize)]
struct Head<'a> {
    id: &'a str,
    collection: &'a str,
    created_at: String,
    created_by: &'a str,
}

/// Writes JSON piece by piece into a sink: keys with lists, items one at a time.
struct JsonOut<S> {
    sink: S,
    first: bool,
    buf: Vec<u8>,
}

impl<S: Sink> JsonOut<S> {
    fn new(sink: S) -> Self {
        Self { sink, first: true, buf: Vec::new() }
    }

    fn into_inner(self) -> S {
        self.sink
    }

    fn raw(&mut self, s: &str) -> ServiceResult<()> {
        self.sink.write(s.as_bytes()).map_err(io)
    }

    fn value<T: Serialize>(&mut self, v: &T) -> ServiceResult<()> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, v).map_err(ServiceError::internal)?;
        self.sink.write(&self.buf).map_err(io)
    }

    /// Closes the previous list (if any) and opens list `key`.
    fn open_list(&mut self, key: &str) -> ServiceResult<()> {
        let close = if key == "users" { "" } else { "]" };
        self.first = true;
        self.raw(&format!("{close},\"{key}\":["))
    }

    fn item<T: Serialize>(&mut self, v: &T) -> ServiceResult<()> {
        self.separate()?;
        self.value(v)
    }

    /// Items already rendered as JSON and separated by commas.
    fn items_rendered(&mut self, items: &[u8]) -> ServiceResult<()> {
        if items.is_empty() {
            return Ok(());
        }
        self.separate()?;
        self.sink.write(items).map_err(io)
    }

    fn separate(&mut self) -> ServiceResult<()> {
        if !self.first {
            self.raw(",")?;
        }
        self.first = false;
        Ok(())
    }
}
