//! Erasure (GDPR Art. 17): the subject's personal data is removed from live
//! records and their accounts, and every journal payload about them — which
//! holds the earlier revisions — is blanked and marked with the erasure, so
//! no revision keeps it; the hash chain still verifies (it covers payload
//! hashes, DESIGN.md). Records under a legal hold (Art. 17(3)(b), e.g.
//! bookkeeping kept by law) are kept with their stated reason. Each erasure
//! is written to the erasure ledger (ids only) that restores re-apply, and
//! yields a receipt of what was erased and what was kept and why. The
//! subject's own requests lose their message and keep their dates and
//! address, as the record that they were answered (review H4).

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use valv_domain::schema::FieldType;
use valv_domain::{Email, FileId, PersonName, Phone, RecordId, Role, TenantId, UserStatus, stamp};
use valv_store::{
    Action, Chain, Change, CollectionRow, FileRow, Filter, Op, Principal, RecordRow, RequestRow, Row, UserRow,
};

use crate::subjects::{Found, SubjectQuery};
use valv_core::{Caller, ServiceError, ServiceResult};

use crate::Privacy;
use crate::ledger::{Erased, ErasedKind, LedgerEntry};

/// One item kept, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Kept {
    pub collection: String,
    pub id: String,
    pub reason: String,
}

/// The receipt of an erasure.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErasureReceipt {
    pub id: String,
    pub at: String,
    pub erased: Vec<Erased>,
    pub kept: Vec<Kept>,
}

/// Removes personal-data fields of `r` (all of them, or only those holding `idents`).
fn redact(c: &CollectionRow, r: &RecordRow, idents: &[String]) -> Vec<String> {
    let Some(obj) = r.data.as_object() else { return Vec::new() };
    c.fields
        .iter()
        .filter(|f| f.personal.is_some())
        .filter(|f| {
            obj.get(&f.name)
                .is_some_and(|v| idents.is_empty() || v.as_str().is_some_and(|s| idents.contains(&s.to_lowercase())))
        })
        .map(|f| f.name.clone())
        .collect()
}

impl Privacy {
    /// Erases a data subject.
    ///
    /// # Errors
    /// `Forbidden` unless owner/admin; `subject_ambiguous` when the identifiers
    /// lead to more than one person; `last_owner` for the tenant's last owner.
    pub async fn erase_subject(&self, caller: &Caller, q: &SubjectQuery) -> ServiceResult<ErasureReceipt> {
        let (tenant, _) = caller.admin()?;
        let found = self.find_subject(tenant, q).await?;
        if found.subjects.len() > 1 {
            return Err(ServiceError::Conflict {
                code: "subject_ambiguous",
                message: "the identifiers lead to more than one person; erase by the record id of the one meant",
            });
        }
        self.refuse_last_owner(&found).await?;
        let id = valv_crypto::token::random(12);
        let now = self.ctx.now();
        let idents: Vec<String> =
            [q.email.clone(), q.phone.clone()].into_iter().flatten().map(|s| s.to_lowercase()).collect();
        let (mut rows, mut erased, mut kept, mut entities) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut subjects = Vec::new();
        let records =
            found.subjects.iter().map(|(c, r, _)| (c, r, true)).chain(found.related.iter().map(|(c, r)| (c, r, false)));
        for (c, r, is_subject) in records {
            if !c.processing.legal_hold.is_empty() {
                kept.push(Kept {
                    collection: c.name.clone(),
                    id: r.id.to_string(),
                    reason: c.processing.legal_hold.clone(),
                });
                continue;
            }
            // The subject's own records, and records that refer to one of them, lose every personal
            // field; others only the fields that hold the subject's address or number.
            let whole = is_subject || found.referring.contains(&r.id);
            let fields = redact(c, r, if whole { &[] } else { &idents });
            if fields.is_empty() && !is_subject {
                continue;
            }
            let mut new = r.clone();
            if let Some(obj) = new.data.as_object_mut() {
                fields.iter().for_each(|f| drop(obj.remove(f)));
            }
            if is_subject {
                new.deleted_at = Some(now);
                subjects.push(r.id.to_string());
            }
            new.revision += 1;
            new.updated_at = now;
            new.updated_by = caller.actor().to_string();
            entities.push(("record".to_owned(), r.id.to_string()));
            erased.push(Erased {
                kind: ErasedKind::Record,
                id: r.id.to_string(),
                collection: Some(c.name.clone()),
                fields,
            });
            rows.push(Row::Record(new));
        }
        let subject_ids: Vec<RecordId> = found
            .subjects
            .iter()
            .filter(|(c, _, _)| c.processing.legal_hold.is_empty())
            .map(|(_, r, _)| r.id)
            .collect();
        let files = self.files_only_theirs(tenant, &found, &subject_ids).await?;
        let mut chunks = Vec::new();
        for f in &files {
            chunks.extend(
                self.ctx.store.file_versions(tenant, f.id).await?.into_iter().flat_map(|v| v.chunks).map(|c| c.id),
            );
            let mut gone = f.clone();
            gone.deleted_at = Some(now);
            entities.push(("file".to_owned(), f.id.to_string()));
            erased.push(Erased {
                kind: ErasedKind::File,
                id: f.id.to_string(),
                collection: None,
                fields: vec!["every version".into()],
            });
            rows.push(Row::File(gone));
        }
        for (u, _) in &found.users {
            entities.push(("user".to_owned(), u.id.to_string()));
            erased.push(Erased {
                kind: ErasedKind::User,
                id: u.id.to_string(),
                collection: None,
                fields: vec!["name".into(), "email".into(), "phone".into()],
            });
            rows.push(Row::User(anonymised(u, now)?));
        }
        for r in self.requests_of(tenant, q, &found).await? {
            entities.push(("request".to_owned(), r.id.clone()));
            erased.push(Erased {
                kind: ErasedKind::Request,
                id: r.id.clone(),
                collection: None,
                fields: vec!["message".into()],
            });
            kept.push(Kept { collection: "requests".into(), id: r.id.clone(), reason: REQUEST_KEPT.into() });
            rows.push(Row::Request(without_message(r)));
        }
        // Ids and field names only: enough for every restore to erase again (reapply.rs), no data.
        let ledger = LedgerEntry {
            id: id.clone(),
            tenant: tenant.to_string(),
            at: stamp(now),
            entities: entities.clone(),
            erased: erased.clone(),
            subjects,
            kept: kept.iter().map(|k| k.id.clone()).collect(),
        };
        let mut change = Change::new(Chain::Tenant(tenant), now, caller.actor(), Action::SubjectErased)
            .about("erasure", &id)
            .detail(serde_json::json!({ "erased": erased.len(), "kept": kept.len() }));
        change.rows = rows;
        let file_ids = files.iter().map(|f| f.id).collect();
        let entry = self.ctx.store.erase(tenant, &id, entities, file_ids, ledger.to_json(), change).await?;
        self.drop_chunks(tenant, chunks).await?;
        for (u, _) in &found.users {
            self.ctx.store.delete_sessions(Principal::User { tenant, user: u.id }, None).await?;
        }
        // Outside the journal too: sign-in counts keyed on the address, and messages kept for it.
        for address in self.addresses_of(q, &found) {
            self.ctx.store.forget_throttles_of(&address.normalized()).await?;
            self.ctx.sender.forget(&address).await;
        }
        Ok(ErasureReceipt { id, at: entry.at, erased, kept })
    }

    /// The subject's e-mail addresses: the one asked about and their accounts'.
    fn addresses_of(&self, q: &SubjectQuery, found: &Found) -> Vec<Email> {
        let mut out: Vec<Email> = q.email.iter().filter_map(|e| Email::parse(e).ok()).collect();
        out.extend(found.users.iter().map(|(u, _)| u.email.clone()));
        out.dedup_by(|a, b| a.normalized() == b.normalized());
        out
    }

    /// The requests the subject filed, by any of their addresses.
    async fn requests_of(&self, tenant: TenantId, q: &SubjectQuery, found: &Found) -> ServiceResult<Vec<RequestRow>> {
        let addresses: Vec<String> = self.addresses_of(q, found).iter().map(Email::normalized).collect();
        let all = self.ctx.store.requests(tenant).await?;
        Ok(all
            .into_iter()
            .filter(|r| Email::parse(&r.email).is_ok_and(|e| addresses.contains(&e.normalized())))
            .collect())
    }

    /// Files named by the subject's own records and by no other record.
    async fn files_only_theirs(
        &self,
        tenant: TenantId,
        found: &Found,
        subjects: &[RecordId],
    ) -> ServiceResult<Vec<FileRow>> {
        let mut named: Vec<FileId> = Vec::new();
        for (c, r, _) in found.subjects.iter().filter(|(_, r, _)| subjects.contains(&r.id)) {
            for f in c.fields.iter().filter(|f| f.kind == FieldType::File) {
                if let Some(id) = r.data.get(&f.name).and_then(|v| v.as_str()).and_then(|s| FileId::parse(s).ok())
                    && !named.contains(&id)
                {
                    named.push(id);
                }
            }
        }
        let collections = self.ctx.store.collections(tenant).await?;
        let mut out = Vec::new();
        'files: for id in named {
            for c in &collections {
                for f in c.fields.iter().filter(|f| f.kind == FieldType::File) {
                    let filter = Filter { field: f.name.clone(), op: Op::Eq, value: Value::from(id.to_string()) };
                    if self.every_record(tenant, c.id, filter).await?.iter().any(|r| !subjects.contains(&r.id)) {
                        continue 'files;
                    }
                }
            }
            out.extend(self.ctx.store.file(tenant, id).await?);
        }
        Ok(out)
    }

    /// Deletes the chunks of erased versions that no remaining version uses.
    async fn drop_chunks(&self, tenant: TenantId, chunks: Vec<String>) -> ServiceResult<()> {
        if chunks.is_empty() {
            return Ok(());
        }
        let referenced = self.ctx.store.referenced_chunks(tenant).await?;
        let blobs = self.ctx.blobs()?;
        for c in chunks.iter().filter(|c| !referenced.contains(c)) {
            if let Ok(id) = valv_blob::ChunkId::parse(c) {
                let _ = blobs.delete(&tenant.to_string(), &id).await;
            }
        }
        Ok(())
    }

    async fn refuse_last_owner(&self, found: &Found) -> ServiceResult<()> {
        for (u, _) in found.users.iter().filter(|(u, _)| u.role == Role::Owner && u.status == UserStatus::Active) {
            let owners = self.ctx.store.users(u.tenant_id).await?;
            let others = owners
                .iter()
                .filter(|o| o.id != u.id && o.role == Role::Owner && o.status == UserStatus::Active)
                .count();
            if others == 0 {
                return Err(ServiceError::Conflict {
                    code: "last_owner",
                    message: "this person is the organisation's last owner; make someone else owner first",
                });
            }
        }
        Ok(())
    }
}

/// Why a request outlives the erasure of the person who filed it.
const REQUEST_KEPT: &str = "the request is kept without its message, with the address and dates, as the record \
     that it was answered (GDPR Art. 5(2), Art. 12)";

/// A request with the subject's own words removed; its answer is a receipt
/// already (`requests.rs`), never the extract.
pub(crate) fn without_message(mut r: RequestRow) -> RequestRow {
    r.message = String::new();
    r
}

/// A user account with its personal data replaced; it can no longer sign in.
pub(crate) fn anonymised(u: &UserRow, now: time::OffsetDateTime) -> ServiceResult<UserRow> {
    let internal = ServiceError::internal;
    let mut a = u.clone();
    a.name = PersonName::parse("Erased user").map_err(internal)?;
    a.email = Email::parse(&format!("erased-{}@erased.invalid", u.id)).map_err(internal)?;
    a.phone = Phone::parse("+10000000000").map_err(internal)?;
    a.status = UserStatus::Blocked;
    a.password_hash = None;
    a.invitation_digest = None;
    a.invitation_expires_at = None;
    a.totp = None;
    a.recovery_codes = Vec::new();
    a.updated_at = now;
    Ok(a)
}
