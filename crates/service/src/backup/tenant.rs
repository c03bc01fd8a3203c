//! Restoring one tenant in place: its collections, records and files are
//! brought back to how a restored copy of the installation (at some instant,
//! erasures re-applied) shows them. Nothing is rewritten in the past: every
//! difference becomes a new revision (Action::RecordRestored, Action::FileRestored,
//! Action::CollectionRestored) and anything made after the instant is deleted the
//! usual, soft way, so the replacement is in the journal and can itself be
//! undone by restoring to an instant before it. Accounts are left alone (a
//! restore never brings back a removed person's access).

use std::collections::HashMap;

use serde::Serialize;
use valv_domain::{CollectionId, RecordId, TenantId};
use valv_store::{Action, Chain, Change, RecordQuery, RecordRow, Row, Store};

use crate::{Backups, Caller, ServiceError, ServiceResult};

/// What an in-place tenant restore changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TenantRestoreReport {
    pub collections: u64,
    pub records_restored: u64,
    pub records_deleted: u64,
    pub files_restored: u64,
    pub files_deleted: u64,
}

/// Changes are committed this many at a time (one transaction each).
const BATCH: usize = 500;

impl Backups<'_> {
    /// Replaces `tenant`'s collections, records and files with their state in `copy`.
    ///
    /// # Errors
    /// `Forbidden` unless operator or CLI; `NotFound` when the tenant is in neither.
    pub async fn restore_tenant(
        &self,
        caller: &Caller,
        tenant: TenantId,
        copy: &dyn Store,
        at: &str,
    ) -> ServiceResult<TenantRestoreReport> {
        caller.operator()?;
        if copy.tenant(tenant).await?.is_none() || self.ctx.store.tenant(tenant).await?.is_none() {
            return Err(ServiceError::NotFound);
        }
        let mut report = TenantRestoreReport::default();
        let mut changes = Vec::new();
        for c in copy.collections(tenant).await? {
            if self.ctx.store.collection(tenant, c.id).await?.as_ref() != Some(&c) {
                changes.push(self.restored(
                    caller,
                    tenant,
                    Action::CollectionRestored,
                    "collection",
                    c.id,
                    Row::Collection(c.clone()),
                ));
                report.collections += 1;
            }
        }
        self.flush(&mut changes, 0).await?;
        for c in copy.collections(tenant).await? {
            self.content().index_collection(&c).await?;
        }
        for c in self.ctx.store.collections(tenant).await? {
            self.restore_records(caller, tenant, (copy, c.id), &mut changes, &mut report).await?;
        }
        self.flush(&mut changes, 0).await?;
        self.restore_files(caller, tenant, copy, &mut report).await?;
        let summary = Change::new(Chain::Tenant(tenant), self.ctx.now(), caller.actor(), Action::TenantRestored)
            .about("tenant", tenant)
            .detail(serde_json::json!({ "at": at, "report": report }));
        self.ctx.store.commit(summary).await?;
        Ok(report)
    }

    /// Files: a file whose current content differs gets a new version with
    /// the content it had then (the same chunks); files made since are deleted.
    async fn restore_files(
        &self,
        caller: &Caller,
        tenant: TenantId,
        copy: &dyn Store,
        report: &mut TenantRestoreReport,
    ) -> ServiceResult<()> {
        let then: HashMap<_, _> = copy.all_files(tenant).await?.into_iter().map(|f| (f.id, f)).collect();
        let mut changes = Vec::new();
        for mut f in self.ctx.store.all_files(tenant).await? {
            let Some(old) = then.get(&f.id) else {
                if f.deleted_at.is_none() {
                    f.deleted_at = Some(self.ctx.now());
                    report.files_deleted += 1;
                    changes.push(self.restored(caller, tenant, Action::FileRestored, "file", f.id, Row::File(f)));
                }
                continue;
            };
            let old_versions = copy.file_versions(tenant, f.id).await?;
            let live_versions = self.ctx.store.file_versions(tenant, f.id).await?;
            let (Some(was), Some(is)) = (old_versions.last(), live_versions.last()) else { continue };
            if was.sha256 == is.sha256 && old.deleted_at == f.deleted_at {
                continue;
            }
            let mut rows = Vec::new();
            if was.sha256 != is.sha256 {
                let mut v = was.clone();
                v.version = is.version + 1;
                (v.uploaded_at, v.uploaded_by) = (self.ctx.now(), caller.actor().to_string());
                f.current_version = v.version;
                rows.push(Row::FileVersion(v));
            }
            f.deleted_at = old.deleted_at;
            rows.push(Row::File(f.clone()));
            report.files_restored += 1;
            let mut change = self.restored(caller, tenant, Action::FileRestored, "file", f.id, Row::File(f));
            change.rows = rows;
            changes.push(change);
            self.flush(&mut changes, BATCH).await?;
        }
        self.flush(&mut changes, 0).await
    }

    fn restored(
        &self,
        caller: &Caller,
        tenant: TenantId,
        action: Action,
        entity: &'static str,
        id: impl ToString,
        row: Row,
    ) -> Change {
        Change::new(Chain::Tenant(tenant), self.ctx.now(), caller.actor(), action).about(entity, id).row(row)
    }

    /// Commits the gathered changes once there are more than `at_least`.
    async fn flush(&self, changes: &mut Vec<Change>, at_least: usize) -> ServiceResult<()> {
        if !changes.is_empty() && changes.len() >= at_least {
            self.ctx.store.commit_all(std::mem::take(changes)).await?;
        }
        Ok(())
    }
}

/// A collection's records, deleted ones included, in id order, read a page
/// at a time.
struct Ordered<'a> {
    store: &'a dyn Store,
    tenant: TenantId,
    collection: CollectionId,
    page: std::vec::IntoIter<RecordRow>,
    after: Option<RecordId>,
    done: bool,
}

impl<'a> Ordered<'a> {
    fn new(store: &'a dyn Store, tenant: TenantId, collection: CollectionId) -> Self {
        Self { store, tenant, collection, page: Vec::new().into_iter(), after: None, done: false }
    }

    async fn next(&mut self) -> ServiceResult<Option<RecordRow>> {
        loop {
            if let Some(r) = self.page.next() {
                return Ok(Some(r));
            }
            if self.done {
                return Ok(None);
            }
            let q = RecordQuery {
                after: self.after.map(|id| (serde_json::Value::Null, id)),
                limit: PAGE,
                include_deleted: true,
                ..RecordQuery::default()
            };
            let page = self.store.records(self.tenant, self.collection, &q).await?;
            self.done = page.len() < PAGE as usize;
            self.after = page.last().map(|r| r.id);
            self.page = page.into_iter();
        }
    }
}

/// Records read per page from each side of a tenant restore.
const PAGE: u32 = 1_000;

impl Backups<'_> {
    /// Brings one collection's records to their state in the copy: both sides
    /// are read in id order and merged, so memory stays flat whatever the
    /// collection's size.
    async fn restore_records(
        &self,
        caller: &Caller,
        tenant: TenantId,
        (copy, collection): (&dyn Store, CollectionId),
        changes: &mut Vec<Change>,
        report: &mut TenantRestoreReport,
    ) -> ServiceResult<()> {
        let (mut then, mut now) =
            (Ordered::new(copy, tenant, collection), Ordered::new(self.ctx.store.as_ref(), tenant, collection));
        let (mut was, mut is) = (then.next().await?, now.next().await?);
        loop {
            // Ids are compared as the store orders them: as text.
            let order = match (&was, &is) {
                (None, None) => return Ok(()),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(w), Some(i)) => w.id.to_string().cmp(&i.id.to_string()),
            };
            let change = match order {
                // Rows only ever leave through a purge; one missing now comes back as it was.
                std::cmp::Ordering::Less => {
                    let w = was.take().expect("ordered before");
                    was = then.next().await?;
                    report.records_restored += 1;
                    Some(Row::Record(w))
                }
                std::cmp::Ordering::Greater => {
                    let i = is.take().expect("ordered after");
                    is = now.next().await?;
                    self.record_back(caller, None, i, report)
                }
                std::cmp::Ordering::Equal => {
                    let (w, i) = (was.take().expect("equal"), is.take().expect("equal"));
                    (was, is) = (then.next().await?, now.next().await?);
                    self.record_back(caller, Some(w), i, report)
                }
            };
            if let Some(Row::Record(r)) = change {
                changes.push(self.restored(caller, tenant, Action::RecordRestored, "record", r.id, Row::Record(r)));
                self.flush(changes, BATCH).await?;
            }
        }
    }

    /// The new revision of live record `is` that makes it as `was` (none
    /// made since the instant: deleted), or `None` when nothing differs.
    fn record_back(
        &self,
        caller: &Caller,
        was: Option<RecordRow>,
        mut is: RecordRow,
        report: &mut TenantRestoreReport,
    ) -> Option<Row> {
        match was {
            Some(w) if w.data == is.data && w.deleted_at == is.deleted_at => return None,
            Some(w) => {
                (is.data, is.deleted_at) = (w.data, w.deleted_at);
                report.records_restored += 1;
            }
            None if is.deleted_at.is_none() => {
                is.deleted_at = Some(self.ctx.now());
                report.records_deleted += 1;
            }
            None => return None,
        }
        is.revision += 1;
        (is.updated_at, is.updated_by) = (self.ctx.now(), caller.actor().to_string());
        Some(Row::Record(is))
    }
}
