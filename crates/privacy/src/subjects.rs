//! Finding a data subject (GDPR Art. 15-17): by e-mail address, phone number
//! or id, across the built-in users, every collection marked as a
//! data-subject collection, and every record that refers to such a subject or
//! holds their identifiers in fields marked as personal data. Names are never
//! used to match: two people with one name stay two people.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use valv_domain::schema::FieldType;
use valv_domain::{CollectionId, Email, Phone, RecordId, TenantId, UserId};
use valv_store::{CollectionRow, Filter, Op, RecordQuery, RecordRow, UserRow};

use valv_core::{Caller, ServiceError, ServiceResult};

use crate::Privacy;

/// Who to look for; at least one identifier.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectQuery {
    #[schema(format = Email, max_length = 254, example = "ada@example.com")]
    pub email: Option<String>,
    #[schema(pattern = r"^\+[1-9][0-9]{7,14}$", example = "+46701234567")]
    pub phone: Option<String>,
    /// A user id or a record id of a data-subject collection.
    #[schema(format = Uuid)]
    pub id: Option<String>,
}

/// Records read at a time when every match is wanted.
const PAGE: u32 = 1_000;

/// One place the subject was found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubjectMatch {
    /// `user` or `record`.
    pub kind: String,
    pub id: String,
    pub collection: Option<String>,
    /// Which identifiers matched: `email`, `phone`, `id`.
    pub matched_on: Vec<String>,
}

/// The result of a search.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubjectSearch {
    pub matches: Vec<SubjectMatch>,
    /// Records that refer to the subject or hold their identifiers in personal-data fields.
    pub related_records: usize,
    /// The identifiers led to more than one record of a data-subject collection:
    /// a person must decide which is the subject before acting.
    pub ambiguous: bool,
}

/// Everything found, for reports and erasure.
pub(crate) struct Found {
    pub users: Vec<(UserRow, Vec<String>)>,
    pub subjects: Vec<(CollectionRow, RecordRow, Vec<String>)>,
    pub related: Vec<(CollectionRow, RecordRow)>,
    /// Related records that refer to a subject's record: about the subject as
    /// a whole (an order for her), not only where they hold her address.
    pub referring: std::collections::BTreeSet<RecordId>,
}

struct Ids {
    email: Option<Email>,
    phone: Option<Phone>,
    id: Option<uuid::Uuid>,
}

fn parse(q: &SubjectQuery) -> ServiceResult<Ids> {
    let bad = |f: &str, m: &str| ServiceError::field(f, &format!("invalid_{f}"), m.to_owned());
    let email = q.email.as_deref().map(Email::parse).transpose().map_err(|e| bad("email", e.reason))?;
    let phone = q.phone.as_deref().map(Phone::parse).transpose().map_err(|e| bad("phone", e.reason))?;
    let id = q.id.as_deref().map(uuid::Uuid::parse_str).transpose().map_err(|_| bad("id", "is not an id"))?;
    if email.is_none() && phone.is_none() && id.is_none() {
        return Err(ServiceError::field(
            "query",
            "identifier_required",
            "give an e-mail address, a phone number or an id",
        ));
    }
    Ok(Ids { email, phone, id })
}

fn push(list: &mut Vec<String>, what: &str) {
    if !list.iter().any(|x| x == what) {
        list.push(what.to_owned());
    }
}

impl Privacy {
    /// Searches for a data subject.
    ///
    /// # Errors
    /// `Forbidden` unless owner/admin; no or invalid identifiers.
    pub async fn search_subject(&self, caller: &Caller, q: &SubjectQuery) -> ServiceResult<SubjectSearch> {
        let (tenant, _) = caller.admin()?;
        let found = self.find_subject(tenant, q).await?;
        let mut matches: Vec<SubjectMatch> = found
            .users
            .iter()
            .map(|(u, on)| SubjectMatch {
                kind: "user".into(),
                id: u.id.to_string(),
                collection: None,
                matched_on: on.clone(),
            })
            .collect();
        matches.extend(found.subjects.iter().map(|(c, r, on)| SubjectMatch {
            kind: "record".into(),
            id: r.id.to_string(),
            collection: Some(c.name.clone()),
            matched_on: on.clone(),
        }));
        Ok(SubjectSearch { ambiguous: found.subjects.len() > 1, related_records: found.related.len(), matches })
    }

    pub(crate) async fn find_subject(&self, tenant: TenantId, q: &SubjectQuery) -> ServiceResult<Found> {
        let ids = parse(q)?;
        let users = self.matching_users(tenant, &ids).await?;
        let collections = self.ctx.store.collections(tenant).await?;
        let mut subjects: BTreeMap<RecordId, (CollectionRow, RecordRow, Vec<String>)> = BTreeMap::new();
        for c in collections.iter().filter(|c| c.data_subject) {
            for (r, on) in self.matching_records(tenant, c, &ids, true).await? {
                let e = subjects.entry(r.id).or_insert_with(|| (c.clone(), r, Vec::new()));
                push(&mut e.2, on);
            }
        }
        let subject_ids: Vec<RecordId> = subjects.keys().copied().collect();
        let mut related: BTreeMap<RecordId, (CollectionRow, RecordRow)> = BTreeMap::new();
        let mut referring = std::collections::BTreeSet::new();
        for c in &collections {
            for (r, _) in self.matching_records(tenant, c, &ids, false).await? {
                related.entry(r.id).or_insert((c.clone(), r));
            }
            for r in self.referring_records(tenant, c, &collections, &subject_ids).await? {
                referring.insert(r.id);
                related.entry(r.id).or_insert((c.clone(), r));
            }
        }
        related.retain(|id, _| !subjects.contains_key(id));
        referring.retain(|id| related.contains_key(id));
        let (subjects, related) = (subjects.into_values().collect(), related.into_values().collect());
        Ok(Found { users, subjects, related, referring })
    }

    async fn matching_users(&self, tenant: TenantId, ids: &Ids) -> ServiceResult<Vec<(UserRow, Vec<String>)>> {
        let mut out: Vec<(UserRow, Vec<String>)> = Vec::new();
        for u in self.ctx.store.users(tenant).await? {
            let mut on = Vec::new();
            if ids.email.as_ref().is_some_and(|e| e.normalized() == u.email.normalized()) {
                on.push("email".to_owned());
            }
            if ids.phone.as_ref().is_some_and(|p| *p == u.phone) {
                on.push("phone".to_owned());
            }
            if ids.id.is_some_and(|i| UserId::from_uuid(i) == u.id) {
                on.push("id".to_owned());
            }
            if !on.is_empty() {
                out.push((u, on));
            }
        }
        Ok(out)
    }

    /// Records of `c` whose e-mail or phone fields (only personal-data fields
    /// unless `any_field`) or id match.
    async fn matching_records(
        &self,
        tenant: TenantId,
        c: &CollectionRow,
        ids: &Ids,
        any_field: bool,
    ) -> ServiceResult<Vec<(RecordRow, &'static str)>> {
        let mut out = Vec::new();
        if let (true, Some(id)) = (any_field, ids.id)
            && let Some(r) =
                self.ctx.store.record(tenant, RecordId::from_uuid(id)).await?.filter(|r| r.collection_id == c.id)
        {
            out.push((r, "id"));
        }
        for f in c.fields.iter().filter(|f| any_field || f.personal.is_some()) {
            let (op, value, on) = match (&f.kind, &ids.email, &ids.phone) {
                (FieldType::Email | FieldType::Text, Some(e), _) => (Op::EqNoCase, e.as_str().to_lowercase(), "email"),
                (FieldType::Phone, _, Some(p)) => (Op::Eq, p.as_str().to_owned(), "phone"),
                _ => continue,
            };
            let filter = Filter { field: f.name.clone(), op, value: serde_json::Value::from(value) };
            out.extend(self.every_record(tenant, c.id, filter).await?.into_iter().map(|r| (r, on)));
        }
        Ok(out)
    }

    /// Every record of `collection` matching `filter`, deleted ones too,
    /// read page by page: a subject's records are all found, reported and
    /// erased, however many there are (review L13: a first page of 10,000
    /// was all that was read).
    pub(crate) async fn every_record(
        &self,
        tenant: TenantId,
        collection: CollectionId,
        filter: Filter,
    ) -> ServiceResult<Vec<RecordRow>> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let q =
                RecordQuery { filters: vec![filter.clone()], after, limit: PAGE, include_deleted: true, sort: None };
            let page = self.ctx.store.records(tenant, collection, &q).await?;
            let full = page.len() == PAGE as usize;
            after = page.last().map(|r| (serde_json::Value::Null, r.id));
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
    }

    /// Records of `c` whose reference fields point at one of `subjects`.
    async fn referring_records(
        &self,
        tenant: TenantId,
        c: &CollectionRow,
        all: &[CollectionRow],
        subjects: &[RecordId],
    ) -> ServiceResult<Vec<RecordRow>> {
        let mut out = Vec::new();
        for f in &c.fields {
            let FieldType::Reference { collection } = &f.kind else { continue };
            if !all.iter().any(|t| &t.name == collection && t.data_subject) {
                continue;
            }
            for id in subjects {
                let filter =
                    Filter { field: f.name.clone(), op: Op::Eq, value: serde_json::Value::from(id.to_string()) };
                out.extend(self.every_record(tenant, c.id, filter).await?);
            }
        }
        Ok(out)
    }
}
