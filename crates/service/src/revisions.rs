//! A record's revisions, read from its journal entries: who changed it, when,
//! and which fields; any revision can be read and restored (restoring writes a
//! new revision, history is never rewritten).

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use valv_domain::RecordId;
use valv_store::{Action, JournalEntry, RecordRow};

use crate::collections::{reader, writer};
use crate::records::precondition;
use crate::{Caller, Content, RecordView, ServiceError, ServiceResult};

/// One revision of a record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RevisionView {
    pub revision: u64,
    pub at: String,
    pub actor: String,
    pub action: String,
    /// Fields whose value differs from the revision before (all fields at creation).
    pub changed: Vec<String>,
}

fn changed(before: Option<&RecordRow>, after: &RecordRow) -> Vec<String> {
    let empty = serde_json::Map::new();
    let old = before.and_then(|b| b.data.as_object()).unwrap_or(&empty);
    let new = after.data.as_object().unwrap_or(&empty);
    let mut keys: Vec<String> = old.keys().chain(new.keys()).filter(|k| old.get(*k) != new.get(*k)).cloned().collect();
    keys.sort();
    keys.dedup();
    if before.is_some_and(|b| b.deleted_at != after.deleted_at) {
        keys.push("(deleted)".into());
    }
    keys
}

impl Content<'_> {
    async fn images(
        &self,
        caller: &Caller,
        collection: &str,
        id: RecordId,
    ) -> ServiceResult<Vec<(JournalEntry, RecordRow)>> {
        let tenant = reader(caller)?;
        self.any_record(tenant, collection, id).await?;
        let entries = self.ctx.store.history(tenant, "record", &id.to_string()).await?;
        Ok(entries.into_iter().filter_map(|e| e.record_image(id).map(|r| (e, r))).collect())
    }

    /// Every revision of a record, oldest first (deleted records included).
    ///
    /// # Errors
    /// `NotFound` for ids of other collections or tenants.
    pub async fn record_revisions(
        &self,
        caller: &Caller,
        collection: &str,
        id: RecordId,
    ) -> ServiceResult<Vec<RevisionView>> {
        let images = self.images(caller, collection, id).await?;
        let mut out = Vec::with_capacity(images.len());
        let mut before: Option<&RecordRow> = None;
        for (e, r) in &images {
            out.push(RevisionView {
                revision: r.revision,
                at: e.at.clone(),
                actor: e.actor.clone(),
                action: e.action.clone(),
                changed: changed(before, r),
            });
            before = Some(r);
        }
        Ok(out)
    }

    /// A record as it was at `revision`.
    ///
    /// # Errors
    /// `NotFound` for unknown revisions.
    pub async fn record_revision(
        &self,
        caller: &Caller,
        collection: &str,
        id: RecordId,
        revision: u64,
    ) -> ServiceResult<RecordView> {
        let images = self.images(caller, collection, id).await?;
        let r = images.iter().find(|(_, r)| r.revision == revision).ok_or(ServiceError::NotFound)?;
        Ok(RecordView::new(&r.1, collection))
    }

    /// Writes a new revision holding the data of `revision` (undeleting the record).
    ///
    /// # Errors
    /// `NotFound`; `PreconditionFailed`; the old data no longer valid against today's fields.
    pub async fn restore_revision(
        &self,
        caller: &Caller,
        collection: &str,
        id: RecordId,
        revision: u64,
        if_match: Option<&str>,
    ) -> ServiceResult<RecordView> {
        let tenant = writer(caller)?;
        let old: Value = self.record_revision(caller, collection, id, revision).await?.data;
        let (c, current) = self.any_record(tenant, collection, id).await?;
        precondition(if_match, current.revision)?;
        self.check_data(tenant, &c, &old).await?;
        self.write_revision(caller, &c, current, Action::RecordRestored, |r| {
            r.data = old;
            r.deleted_at = None;
        })
        .await
    }
}
