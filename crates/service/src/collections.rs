//! Collections: owners and admins define a tenant's record types, their fields
//! and personal-data annotations. Schema changes are journaled like data.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use valv_domain::schema::{FieldDef, check_fields, parse_identifier};
use valv_domain::{CollectionId, Role, TenantId};
use valv_store::{Action, Chain, Change, CollectionRow, Constraint, Processing, Row};

use crate::{Caller, Content, ServiceError, ServiceResult};

/// A collection as submitted.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCollection {
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$", example = "contacts")]
    pub name: String,
    /// At most 200, names unique.
    #[schema(value_type = Vec<crate::field_doc::FieldDoc>, max_items = 200)]
    pub fields: Vec<FieldDef>,
    /// Each record is about one data subject (GDPR requests search it).
    #[serde(default)]
    pub data_subject: bool,
    /// Purpose, legal basis, retention, recipients and source (GDPR Art. 15, 30).
    #[serde(default)]
    pub processing: Processing,
}

/// New fields and annotations of a collection.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectionPatch {
    #[schema(value_type = Option<Vec<crate::field_doc::FieldDoc>>, max_items = 200)]
    pub fields: Option<Vec<FieldDef>>,
    pub data_subject: Option<bool>,
    pub processing: Option<Processing>,
}

/// A collection.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CollectionView {
    pub id: String,
    pub name: String,
    #[schema(value_type = Vec<crate::field_doc::FieldDoc>)]
    pub fields: Vec<FieldDef>,
    pub data_subject: bool,
    pub processing: Processing,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&CollectionRow> for CollectionView {
    fn from(c: &CollectionRow) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.name.clone(),
            fields: c.fields.clone(),
            data_subject: c.data_subject,
            processing: c.processing.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

fn check(fields: &[FieldDef]) -> ServiceResult<()> {
    check_fields(fields).map_err(|e| ServiceError::field("fields", &format!("invalid_{}", e.kind), e.reason))
}

impl Content<'_> {
    /// Defines a collection.
    ///
    /// # Errors
    /// `Forbidden` unless owner/admin; invalid names or fields; `collection_exists`.
    pub async fn create_collection(&self, caller: &Caller, new: NewCollection) -> ServiceResult<CollectionView> {
        let (tenant, _) = caller.admin()?;
        let name = parse_identifier(&new.name).map_err(|e| ServiceError::field("name", "invalid_name", e.reason))?;
        check(&new.fields)?;
        let now = self.ctx.now();
        let row = CollectionRow {
            id: CollectionId::new(),
            tenant_id: tenant,
            name,
            fields: new.fields,
            data_subject: new.data_subject,
            processing: new.processing,
            created_at: now,
            updated_at: now,
        };
        self.commit_collection(caller, Action::CollectionCreated, &row).await?;
        Ok(CollectionView::from(&row))
    }

    /// Replaces a collection's fields or data-subject flag.
    ///
    /// # Errors
    /// As [`Self::create_collection`]; `NotFound`.
    pub async fn update_collection(
        &self,
        caller: &Caller,
        name: &str,
        patch: CollectionPatch,
    ) -> ServiceResult<CollectionView> {
        let (tenant, _) = caller.admin()?;
        let mut row = self.collection_row(tenant, name).await?;
        if let Some(fields) = patch.fields {
            check(&fields)?;
            row.fields = fields;
        }
        row.data_subject = patch.data_subject.unwrap_or(row.data_subject);
        row.processing = patch.processing.unwrap_or(row.processing);
        row.updated_at = self.ctx.now();
        self.commit_collection(caller, Action::CollectionUpdated, &row).await?;
        Ok(CollectionView::from(&row))
    }

    /// The tenant's collections.
    ///
    /// # Errors
    /// `Forbidden` for auditors and operators.
    pub async fn collections(&self, caller: &Caller) -> ServiceResult<Vec<CollectionView>> {
        let tenant = reader(caller)?;
        Ok(self.ctx.store.collections(tenant).await?.iter().map(CollectionView::from).collect())
    }

    /// One collection by name.
    ///
    /// # Errors
    /// `Forbidden` for auditors and operators; `NotFound`.
    pub async fn collection(&self, caller: &Caller, name: &str) -> ServiceResult<CollectionView> {
        Ok(CollectionView::from(&self.collection_row(reader(caller)?, name).await?))
    }

    pub(crate) async fn collection_row(&self, tenant: TenantId, name: &str) -> ServiceResult<CollectionRow> {
        self.ctx.store.collection_by_name(tenant, name).await?.ok_or(ServiceError::NotFound)
    }

    /// Indexes every collection of every tenant (a restored store is made
    /// without its field indexes).
    pub(crate) async fn index_all_collections(&self) -> ServiceResult<()> {
        for t in self.ctx.store.tenants().await? {
            for c in self.ctx.store.collections(t.id).await? {
                self.index_collection(&c).await?;
            }
        }
        Ok(())
    }

    /// Indexes the fields people are looked up by: those the records'
    /// `search` column holds (blind indexes of personal values, and ids).
    pub(crate) async fn index_collection(&self, c: &CollectionRow) -> ServiceResult<()> {
        let fields = valv_store::search::Plan::of(&c.fields).fields().map(|f| (f.to_owned(), false)).collect();
        self.ctx.store.index_fields(c.id, fields).await?;
        Ok(())
    }

    async fn commit_collection(&self, caller: &Caller, action: Action, row: &CollectionRow) -> ServiceResult<()> {
        let change = Change::new(Chain::Tenant(row.tenant_id), self.ctx.now(), caller.actor(), action)
            .about("collection", row.id)
            .row(Row::Collection(row.clone()));
        match self.ctx.store.commit(change).await {
            Err(valv_store::StoreError::Conflict(Constraint::CollectionsTenantName)) => {
                Err(ServiceError::Conflict { code: "collection_exists", message: "a collection with this name exists" })
            }
            other => {
                other?;
                self.index_collection(row).await
            }
        }
    }
}

/// Tenant users who read records: everyone but auditors.
pub(crate) fn reader(caller: &Caller) -> ServiceResult<TenantId> {
    match caller.member()? {
        (_, _, Role::Auditor) => Err(ServiceError::Forbidden("auditors read the journal, not records")),
        (t, _, _) => Ok(t),
    }
}

/// Tenant users who change records: owners, admins and members.
pub(crate) fn writer(caller: &Caller) -> ServiceResult<TenantId> {
    match caller.member()? {
        (t, _, Role::Owner | Role::Admin | Role::Member) => Ok(t),
        _ => Err(ServiceError::Forbidden("this needs the owner, admin or member role")),
    }
}
