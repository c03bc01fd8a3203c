//! `export.json`, written into two sealed spools built side by side (one per
//! core): everything up to the journal, and the journal list. Lists are
//! written item by item, so memory stays flat whatever the tenant's size; the
//! archive then streams the two spools one after the other as one part.

use std::collections::HashMap;
use std::sync::Arc;

use futures::{Stream, StreamExt as _};
use serde::Serialize;
use valv_domain::{RecordId, TenantId, stamp};
use valv_store::{CollectionRow, RecordQuery};

use super::format::{
    ExportCollection, ExportEntry, ExportFile, ExportRecord, ExportRevision, ExportTenant, ExportUser, ExportVersion,
    FORMAT, VERSION,
};
use super::{Inventory, Progress, Spool, io};
use crate::{ServiceError, ServiceResult, Valv};

/// Records read per page (their histories are read in one scan).
const RECORDS_PAGE: u32 = 1_000;

/// `export.json`: the head (up to the opening of the journal list) and the journal.
pub(super) struct Document {
    head: Spool,
    journal: Spool,
}

impl Document {
    pub(super) fn len(&self) -> u64 {
        self.head.len() + self.journal.len()
    }

    pub(super) fn reader(&self) -> impl Stream<Item = std::io::Result<bytes::Bytes>> + Unpin + Send + 'static + use<> {
        self.head.reader().chain(self.journal.reader())
    }
}

/// Aborts a spawned task when dropped, so a failed export stops its helpers.
struct Helper<T>(tokio::task::JoinHandle<T>);

impl<T> Helper<T> {
    async fn join(mut self) -> ServiceResult<T> {
        (&mut self.0).await.map_err(|e| ServiceError::Internal(format!("export: {e}")))
    }
}

impl<T> Drop for Helper<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Valv {
    /// Builds `export.json` of `tenant` in two tasks of their own.
    pub(super) async fn export_document(
        &self,
        tenant: TenantId,
        inventory: Arc<Inventory>,
        progress: Arc<Progress>,
    ) -> ServiceResult<Document> {
        let valv = self.clone();
        let journal = Helper(tokio::spawn(async move { valv.export_journal(tenant).await }));
        let valv = self.clone();
        let head = Helper(tokio::spawn(async move { valv.export_head(tenant, &inventory, &progress).await }));
        Ok(Document { head: head.join().await??, journal: journal.join().await?? })
    }

    /// Everything but the journal, ending with the journal list's opening.
    async fn export_head(&self, tenant: TenantId, inv: &Inventory, progress: &Progress) -> ServiceResult<Spool> {
        let t = self.tenant_row(tenant).await?;
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
        let mut json = JsonOut::new(self.spool()?);
        json.raw(&format!(
            "{{\"format\":\"{FORMAT}\",\"version\":{VERSION},\"exported_at\":\"{}\",\"tenant\":",
            stamp(self.now())
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
        let mut spool = json.into_inner();
        spool.close().map_err(io)?;
        Ok(spool)
    }

    /// The tenant's chain, page by page, closing the document.
    async fn export_journal(&self, tenant: TenantId) -> ServiceResult<Spool> {
        let key = tenant.to_string();
        let mut json = JsonOut::new(self.spool()?);
        let mut after = 0;
        loop {
            let page = self.store.chain_page(&key, after, crate::journal::PAGE).await?;
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

    fn spool(&self) -> ServiceResult<Spool> {
        Spool::new(self.settings.export_dir.as_deref()).map_err(io)
    }

    /// Records of one collection with every revision, page by page; the next
    /// page is read (in a task of its own) while this one is written.
    async fn export_records(
        &self,
        tenant: TenantId,
        collection: &CollectionRow,
        json: &mut JsonOut,
        progress: &Progress,
    ) -> ServiceResult<()> {
        let collection = Arc::new(collection.clone());
        let read = |after| {
            let (valv, collection) = (self.clone(), Arc::clone(&collection));
            Helper(tokio::spawn(async move { valv.record_page(tenant, &collection, after).await }))
        };
        let mut next = Some(read(None));
        while let Some(reading) = next.take() {
            let (records, more) = reading.join().await??;
            next = more.map(|last| read(Some(last)));
            for r in &records {
                json.item(r)?;
                progress.item();
            }
        }
        Ok(())
    }

    /// A page of records after `after` with their revisions (from the
    /// journal, in one read), and the cursor of the next page if there may be one.
    async fn record_page(
        &self,
        tenant: TenantId,
        collection: &CollectionRow,
        after: Option<RecordId>,
    ) -> ServiceResult<(Vec<ExportRecord>, Option<RecordId>)> {
        let q = RecordQuery {
            after: after.map(|id| (serde_json::Value::Null, id)),
            limit: RECORDS_PAGE,
            include_deleted: true,
            ..RecordQuery::default()
        };
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
        let more = (page.len() == RECORDS_PAGE as usize).then(|| page.last().map(|r| r.id)).flatten();
        let records = page
            .into_iter()
            .map(|r| {
                let id = r.id.to_string();
                ExportRecord {
                    revisions: history.remove(&id).unwrap_or_default(),
                    id,
                    collection: collection.name.clone(),
                    created_at: stamp(r.created_at),
                    created_by: r.created_by,
                }
            })
            .collect();
        Ok((records, more))
    }
}

/// Writes JSON piece by piece into a spool: keys with lists, items one at a time.
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
