//! The register extract for a data subject (GDPR Art. 15, and Art. 20 in a
//! structured, machine-readable form): every record about them or referring
//! to them with every revision, their account, files they uploaded or that
//! their records name, journal entries about them, and what Art. 15(1)(a)-(g)
//! requires — purposes, categories, recipients, retention, source — taken
//! from the collections' annotations. The report is data; the web side
//! renders it as a readable page.

use serde::Serialize;
use utoipa::ToSchema;
use valv_domain::schema::FieldType;
use valv_domain::{FileId, TenantId, stamp};
use valv_store::{Action, Chain, Change, CollectionRow, JournalQuery, RecordRow};

use crate::subjects::{Found, SubjectQuery};
use valv_core::{Caller, ServiceResult, UserView};

use crate::Privacy;

/// One record in a report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportRecord {
    pub collection: String,
    pub id: String,
    /// `subject` (a record about them) or `related` (refers to them or holds their identifiers).
    pub relation: String,
    #[schema(value_type = Object)]
    pub current: serde_json::Value,
    pub deleted: bool,
    /// Every revision, oldest first: `{revision, at, by, data}`.
    #[schema(value_type = Vec<Object>)]
    pub revisions: Vec<serde_json::Value>,
}

/// Art. 15(1) information for one collection holding their data.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportProcessing {
    pub collection: String,
    pub purpose: String,
    pub legal_basis: String,
    /// Categories of personal data held (Art. 15(1)(b)).
    pub categories: Vec<String>,
    pub recipients: Vec<String>,
    pub retention: String,
    pub source: String,
}

/// A file in a report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportFile {
    pub id: String,
    pub folder: String,
    pub name: String,
    pub versions: u32,
}

/// The register extract.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessReport {
    pub generated_at: String,
    pub query: SubjectQuery,
    pub ambiguous: bool,
    pub users: Vec<UserView>,
    pub records: Vec<ReportRecord>,
    pub files: Vec<ReportFile>,
    /// Journal entries about them or made by them: `{at, actor, action, entity, entity_id}`.
    #[schema(value_type = Vec<Object>)]
    pub journal: Vec<serde_json::Value>,
    pub processing: Vec<ReportProcessing>,
}

impl Privacy {
    /// Builds the register extract for a subject and journals that it was made.
    ///
    /// # Errors
    /// `Forbidden` unless owner/admin; no or invalid identifiers.
    pub async fn access_report(&self, caller: &Caller, q: &SubjectQuery) -> ServiceResult<AccessReport> {
        let (tenant, _) = caller.admin()?;
        let found = self.find_subject(tenant, q).await?;
        let mut records = Vec::new();
        for (c, r, _) in &found.subjects {
            records.push(self.report_record(tenant, c, r, "subject").await?);
        }
        for (c, r) in &found.related {
            records.push(self.report_record(tenant, c, r, "related").await?);
        }
        let report = AccessReport {
            generated_at: stamp(self.ctx.now()),
            query: q.clone(),
            ambiguous: found.subjects.len() > 1,
            users: found.users.iter().map(|(u, _)| UserView::from(u)).collect(),
            files: self.report_files(tenant, &found).await?,
            journal: self.report_journal(tenant, &found).await?,
            processing: processing(&found),
            records,
        };
        let change = Change::new(Chain::Tenant(tenant), self.ctx.now(), caller.actor(), Action::SubjectAccessReport)
            .detail(serde_json::json!({ "records": report.records.len(), "users": report.users.len() }));
        self.ctx.store.commit(change).await?;
        Ok(report)
    }

    async fn report_record(
        &self,
        tenant: TenantId,
        c: &CollectionRow,
        r: &RecordRow,
        relation: &str,
    ) -> ServiceResult<ReportRecord> {
        let history = self.ctx.store.history(tenant, "record", &r.id.to_string()).await?;
        let revisions = history
            .iter()
            .filter_map(|e| e.record_image(r.id))
            .map(|i| serde_json::json!({ "revision": i.revision, "at": stamp(i.updated_at), "by": i.updated_by, "data": i.data }))
            .collect();
        Ok(ReportRecord {
            collection: c.name.clone(),
            id: r.id.to_string(),
            relation: relation.into(),
            current: r.data.clone(),
            deleted: r.deleted_at.is_some(),
            revisions,
        })
    }

    async fn report_files(&self, tenant: TenantId, found: &Found) -> ServiceResult<Vec<ReportFile>> {
        let uploaders: Vec<String> = found.users.iter().map(|(u, _)| format!("user:{}", u.id)).collect();
        let mut named: Vec<FileId> = Vec::new();
        for (c, r) in found.subjects.iter().map(|(c, r, _)| (c, r)).chain(found.related.iter().map(|(c, r)| (c, r))) {
            for f in c.fields.iter().filter(|f| f.kind == FieldType::File) {
                if let Some(id) = r.data.get(&f.name).and_then(|v| v.as_str()).and_then(|s| FileId::parse(s).ok()) {
                    named.push(id);
                }
            }
        }
        let mut out = Vec::new();
        for f in self.ctx.store.files(tenant, None).await? {
            if named.contains(&f.id) || uploaders.contains(&f.created_by) {
                out.push(ReportFile {
                    id: f.id.to_string(),
                    folder: f.folder.to_string(),
                    name: f.name.to_string(),
                    versions: f.current_version,
                });
            }
        }
        Ok(out)
    }

    /// Entries about the subject's account and records, and entries their account made,
    /// read through indexes (never the whole chain).
    async fn report_journal(&self, tenant: TenantId, found: &Found) -> ServiceResult<Vec<serde_json::Value>> {
        let mut entries = Vec::new();
        for (u, _) in &found.users {
            entries.extend(self.ctx.store.history(tenant, "user", &u.id.to_string()).await?);
            // Page by page, newest first, down to the first entry (review L13).
            let mut before = None;
            loop {
                let actor = Some(format!("user:{}", u.id));
                let q = JournalQuery { actor, before, limit: 1_000, ..JournalQuery::default() };
                let page = self.ctx.store.journal(Chain::Tenant(tenant), &q).await?;
                before = page.last().map(|e| e.chain_seq);
                let full = page.len() == 1_000;
                entries.extend(page);
                if !full {
                    break;
                }
            }
        }
        for (_, r, _) in &found.subjects {
            entries.extend(self.ctx.store.history(tenant, "record", &r.id.to_string()).await?);
        }
        entries.sort_by_key(|e| e.seq);
        entries.dedup_by_key(|e| e.seq);
        Ok(entries
            .into_iter()
            .map(|e| serde_json::json!({ "at": e.at, "actor": e.actor, "action": e.action, "entity": e.entity, "entity_id": e.entity_id }))
            .collect())
    }
}

fn processing(found: &Found) -> Vec<ReportProcessing> {
    let mut seen: Vec<&CollectionRow> = Vec::new();
    for c in found.subjects.iter().map(|(c, _, _)| c).chain(found.related.iter().map(|(c, _)| c)) {
        if !seen.iter().any(|s| s.id == c.id) {
            seen.push(c);
        }
    }
    seen.into_iter()
        .map(|c| {
            let mut categories: Vec<String> = c
                .fields
                .iter()
                .filter_map(|f| f.personal)
                .map(|p| serde_json::to_value(p).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
                .collect();
            categories.sort();
            categories.dedup();
            let p = &c.processing;
            ReportProcessing {
                collection: c.name.clone(),
                purpose: p.purpose.clone(),
                legal_basis: p.legal_basis.clone(),
                categories,
                recipients: p.recipients.clone(),
                retention: p.retention.clone(),
                source: p.source.clone(),
            }
        })
        .collect()
}
