//! Records: create, read, list (filters, sorting, cursor paging), update with
//! optimistic concurrency (`ETag`/`If-Match`, RFC 9110 §13.1.1), soft delete.
//! Every change is a journal entry carrying the new row image, so a record's
//! revisions are its journal entries (see `revisions.rs`).

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::ToSchema;
use valv_domain::{RecordId, TenantId};
use valv_store::{Action, Chain, Change, CollectionRow, RecordRow, Row};

use crate::collections::{reader, writer};
use crate::validate::Reference;
use crate::{Caller, Content, FieldError, ServiceError, ServiceResult, validate};

/// A record at one revision.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordView {
    pub id: String,
    pub collection: String,
    pub revision: u64,
    #[schema(value_type = Object)]
    pub data: Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub updated_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
}

impl RecordView {
    pub(crate) fn new(r: &RecordRow, collection: &str) -> Self {
        Self {
            id: r.id.to_string(),
            collection: collection.to_owned(),
            revision: r.revision,
            data: r.data.clone(),
            created_at: r.created_at,
            created_by: r.created_by.clone(),
            updated_at: r.updated_at,
            updated_by: r.updated_by.clone(),
            deleted_at: r.deleted_at,
        }
    }

    /// The entity tag of this revision.
    #[must_use]
    pub fn etag(&self) -> String {
        format!("\"r{}\"", self.revision)
    }
}

/// Checks `If-Match` against the current revision; absent means "any".
pub(crate) fn precondition(if_match: Option<&str>, revision: u64) -> ServiceResult<()> {
    let Some(h) = if_match.map(str::trim) else { return Ok(()) };
    let ok =
        h == "*" || h.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == format!("\"r{revision}\""));
    if ok { Ok(()) } else { Err(ServiceError::PreconditionFailed) }
}

impl Content<'_> {
    /// Creates a record in `collection`.
    ///
    /// # Errors
    /// `Forbidden` unless owner/admin/member; `NotFound`; invalid fields; the records quota.
    pub async fn create_record(&self, caller: &Caller, collection: &str, data: Value) -> ServiceResult<RecordView> {
        let tenant = writer(caller)?;
        let c = self.collection_row(tenant, collection).await?;
        self.check_data(tenant, &c, &data).await?;
        let max = self.accounts().limits(tenant).await?.records;
        if self.ctx.store.count_records(tenant, c.id, false).await? >= max {
            return Err(ServiceError::Quota {
                code: "quota_records",
                message: format!("a collection holds at most {max} records"),
            });
        }
        let (now, actor) = (self.ctx.now(), caller.actor().to_string());
        let row = RecordRow {
            id: RecordId::new(),
            tenant_id: tenant,
            collection_id: c.id,
            revision: 1,
            data,
            deleted_at: None,
            created_at: now,
            created_by: actor.clone(),
            updated_at: now,
            updated_by: actor,
        };
        self.commit_record(caller, Action::RecordCreated, &row).await?;
        Ok(RecordView::new(&row, &c.name))
    }

    /// One live record.
    ///
    /// # Errors
    /// `NotFound` for deleted records and ids of other collections or tenants.
    pub async fn record(&self, caller: &Caller, collection: &str, id: RecordId) -> ServiceResult<RecordView> {
        let tenant = reader(caller)?;
        let (c, r) = self.live_record(tenant, collection, id).await?;
        Ok(RecordView::new(&r, &c.name))
    }

    /// Merges `patch` into a record (a field set to null is removed).
    ///
    /// # Errors
    /// As [`Self::create_record`]; `PreconditionFailed` when `if_match` is stale.
    pub async fn update_record(
        &self,
        caller: &Caller,
        collection: &str,
        id: RecordId,
        patch: Map<String, Value>,
        if_match: Option<&str>,
    ) -> ServiceResult<RecordView> {
        let tenant = writer(caller)?;
        let (c, r) = self.live_record(tenant, collection, id).await?;
        precondition(if_match, r.revision)?;
        let data = validate::merge(&r.data, &patch);
        self.check_data(tenant, &c, &data).await?;
        self.write_revision(caller, &c, r, Action::RecordUpdated, |r| r.data = data).await
    }

    /// Soft-deletes a record: it leaves lists; its history stays.
    ///
    /// # Errors
    /// As [`Self::update_record`].
    pub async fn delete_record(
        &self,
        caller: &Caller,
        collection: &str,
        id: RecordId,
        if_match: Option<&str>,
    ) -> ServiceResult<()> {
        let tenant = writer(caller)?;
        let (c, r) = self.live_record(tenant, collection, id).await?;
        precondition(if_match, r.revision)?;
        let now = self.ctx.now();
        self.write_revision(caller, &c, r, Action::RecordDeleted, |r| r.deleted_at = Some(now)).await.map(drop)
    }

    /// Writes the next revision of `r` after `edit`.
    pub(crate) async fn write_revision(
        &self,
        caller: &Caller,
        c: &CollectionRow,
        mut r: RecordRow,
        action: Action,
        edit: impl FnOnce(&mut RecordRow),
    ) -> ServiceResult<RecordView> {
        edit(&mut r);
        r.revision += 1;
        r.updated_at = self.ctx.now();
        r.updated_by = caller.actor().to_string();
        self.commit_record(caller, action, &r).await?;
        Ok(RecordView::new(&r, &c.name))
    }

    pub(crate) async fn live_record(
        &self,
        tenant: TenantId,
        collection: &str,
        id: RecordId,
    ) -> ServiceResult<(CollectionRow, RecordRow)> {
        let (c, r) = self.any_record(tenant, collection, id).await?;
        if r.deleted_at.is_some() {
            return Err(ServiceError::NotFound);
        }
        Ok((c, r))
    }

    pub(crate) async fn any_record(
        &self,
        tenant: TenantId,
        collection: &str,
        id: RecordId,
    ) -> ServiceResult<(CollectionRow, RecordRow)> {
        let c = self.collection_row(tenant, collection).await?;
        let r = self
            .ctx
            .store
            .record(tenant, id)
            .await?
            .filter(|r| r.collection_id == c.id)
            .ok_or(ServiceError::NotFound)?;
        Ok((c, r))
    }

    /// Validates data and checks that its references point at live records of
    /// the right collection in the same tenant.
    pub(crate) async fn check_data(&self, tenant: TenantId, c: &CollectionRow, data: &Value) -> ServiceResult<()> {
        let refs = validate::record(&c.fields, data).map_err(ServiceError::Validation)?;
        let mut errors = Vec::new();
        for r in refs {
            let (field, found) = match r {
                Reference::Record { field, collection, id } => {
                    let target = self.ctx.store.collection_by_name(tenant, &collection).await?;
                    let found = match target {
                        Some(t) => self
                            .ctx
                            .store
                            .record(tenant, id)
                            .await?
                            .is_some_and(|r| r.collection_id == t.id && r.deleted_at.is_none()),
                        None => false,
                    };
                    (field, found)
                }
                Reference::File { field, id } => {
                    (field, self.ctx.store.file(tenant, id).await?.is_some_and(|f| f.deleted_at.is_none()))
                }
            };
            if !found {
                let message = format!("{field} refers to nothing of this organisation");
                errors.push(FieldError { field, code: "reference_invalid".into(), message });
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(ServiceError::Validation(errors)) }
    }

    async fn commit_record(&self, caller: &Caller, action: Action, r: &RecordRow) -> ServiceResult<()> {
        let change = Change::new(Chain::Tenant(r.tenant_id), self.ctx.now(), caller.actor(), action)
            .about("record", r.id)
            .row(Row::Record(r.clone()));
        self.ctx.store.commit(change).await?;
        Ok(())
    }
}
