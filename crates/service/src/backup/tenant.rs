//! Restoring one tenant in place: its collections, records and files are
//! brought back to how a restored copy of the installation (at some instant,
//! erasures re-applied) shows them. Nothing is rewritten in the past: every
//! difference becomes a new revision ("record.restored", "file.restored",
//! "collection.restored") and anything made after the instant is deleted the
//! usual, soft way, so the replacement is in the journal and can itself be
//! undone by restoring to an instant before it. Accounts are left alone (a
//! restore never brings back a removed person's access).

use std::collections::HashMap;

use serde::Serialize;
use valv_domain::TenantId;
use valv_store::{Chain, Change, RecordQuery, RecordRow, Row, Store};

use crate::{Caller, ServiceError, ServiceResult, Valv};

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

impl Valv {
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
        if copy.tenant(tenant).await?.is_none() || self.store.tenant(tenant).await?.is_none() {
            return Err(ServiceError::NotFound);
        }
        let mut report = TenantRestoreReport::default();
        let mut changes = Vec::new();
        for c in copy.collections(tenant).await? {
            if self.store.collection(tenant, c.id).await?.as_ref() != Some(&c) {
                changes.push(self.restored(
                    caller,
                    tenant,
                    "collection.restored",
                    "collection",
                    c.id,
                    Row::Collection(c.clone()),
                ));
                report.collections += 1;
            }
        }
        self.flush(&mut changes, 0).await?;
        for c in copy.collections(tenant).await? {
            self.index_collection(&c).await?;
        }
        for c in self.store.collections(tenant).await? {
            let mut then = all_records(copy, tenant, c.id).await?;
            let now = all_records(self.store.as_ref(), tenant, c.id).await?;
            // Rows only ever leave through a purge; one missing now comes back as it was.
            for (id, r) in then.iter().filter(|(id, _)| !now.contains_key(*id)) {
                changes.push(self.restored(caller, tenant, "record.restored", "record", id, Row::Record(r.clone())));
                report.records_restored += 1;
            }
            then.retain(|id, _| now.contains_key(id));
            for (id, mut r) in now {
                let target = then.get(&id);
                if target.is_some_and(|t| t.data == r.data && t.deleted_at == r.deleted_at) {
                    continue;
                }
                match target {
                    Some(t) => {
                        (r.data, r.deleted_at) = (t.data.clone(), t.deleted_at);
                        report.records_restored += 1;
                    }
                    None if r.deleted_at.is_none() => {
                        r.deleted_at = Some(self.now());
                        report.records_deleted += 1;
                    }
                    None => continue,
                }
                r.revision += 1;
                (r.updated_at, r.updated_by) = (self.now(), caller.actor().to_string());
                changes.push(self.restored(caller, tenant, "record.restored", "record", id, Row::Record(r)));
                self.flush(&mut changes, BATCH).await?;
            }
        }
        self.flush(&mut changes, 0).await?;
        self.restore_files(caller, tenant, copy, &mut report).await?;
        let summary = Change::new(Chain::Tenant(tenant), self.now(), caller.actor(), "tenant.restored")
            .about("tenant", tenant)
            .detail(serde_json::json!({ "at": at, "report": report }));
        self.store.commit(summary).await?;
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
        for mut f in self.store.all_files(tenant).await? {
            let Some(old) = then.get(&f.id) else {
                if f.deleted_at.is_none() {
                    f.deleted_at = Some(self.now());
                    report.files_deleted += 1;
                    changes.push(self.restored(caller, tenant, "file.restored", "file", f.id, Row::File(f)));
                }
                continue;
            };
            let old_versions = copy.file_versions(tenant, f.id).await?;
            let live_versions = self.store.file_versions(tenant, f.id).await?;
            let (Some(was), Some(is)) = (old_versions.last(), live_versions.last()) else { continue };
            if was.sha256 == is.sha256 && old.deleted_at == f.deleted_at {
                continue;
            }
            let mut rows = Vec::new();
            if was.sha256 != is.sha256 {
                let mut v = was.clone();
                v.version = is.version + 1;
                (v.uploaded_at, v.uploaded_by) = (self.now(), caller.actor().to_string());
                f.current_version = v.version;
                rows.push(Row::FileVersion(v));
            }
            f.deleted_at = old.deleted_at;
            rows.push(Row::File(f.clone()));
            report.files_restored += 1;
            let mut change = self.restored(caller, tenant, "file.restored", "file", f.id, Row::File(f));
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
        action: &'static str,
        entity: &'static str,
        id: impl ToString,
        row: Row,
    ) -> Change {
        Change::new(Chain::Tenant(tenant), self.now(), caller.actor(), action).about(entity, id).row(row)
    }

    /// Commits the gathered changes once there are more than `at_least`.
    async fn flush(&self, changes: &mut Vec<Change>, at_least: usize) -> ServiceResult<()> {
        if !changes.is_empty() && changes.len() >= at_least {
            self.store.commit_all(std::mem::take(changes)).await?;
        }
        Ok(())
    }
}

/// Every record of a collection, deleted ones included, by id. (Held in
/// memory: a collection of millions of records needs a merge of two ordered
/// pages instead; not done yet.)
async fn all_records(
    store: &dyn Store,
    tenant: TenantId,
    collection: valv_domain::CollectionId,
) -> ServiceResult<HashMap<valv_domain::RecordId, RecordRow>> {
    let mut out = HashMap::new();
    let mut after = None;
    loop {
        let q = RecordQuery { after: after.clone(), limit: 1000, include_deleted: true, ..RecordQuery::default() };
        let page = store.records(tenant, collection, &q).await?;
        let last = page.last().map(|r| r.id);
        let full = page.len() == 1000;
        out.extend(page.into_iter().map(|r| (r.id, r)));
        match last {
            Some(id) if full => after = Some((serde_json::Value::Null, id)),
            _ => return Ok(out),
        }
    }
}
