//! After a restore, before the data is used: every erasure in the ledger is
//! applied again (GDPR Art. 17 — an erased person must not come back from a
//! backup). Each re-applied erasure is a journal entry of its own. The
//! service's restore (`restore_installation`) calls this before it hands the
//! restored installation out.

use valv_domain::{FileId, RecordId, TenantId, UserId, parse_stamp};
use valv_store::{Action, Actor, Chain, Change, Row};

use crate::erase::{anonymised, without_message};
use crate::ledger::{ErasedKind, LedgerEntry};
use crate::requests::forgotten;
use valv_core::{ServiceError, ServiceResult};

use crate::Privacy;

impl Privacy {
    /// Applies every erasure of the ledger again to a restored installation.
    /// Returns the number of erasures re-applied.
    ///
    /// # Errors
    /// Store failures; a ledger row that is not an erasure.
    pub async fn reapply_ledger(&self) -> ServiceResult<usize> {
        let mut n = 0;
        for row in self.ctx.store.erasure_ledger().await? {
            let Ok(tenant) = TenantId::parse(&row.tenant_id) else { continue };
            if self.ctx.store.tenant(tenant).await?.is_none_or(|t| t.purged_at.is_some()) {
                continue;
            }
            let l = LedgerEntry::from_json(&row.detail).map_err(ServiceError::internal)?;
            self.reapply(tenant, &l, row.detail).await?;
            n += 1;
        }
        Ok(n)
    }

    async fn reapply(&self, tenant: TenantId, l: &LedgerEntry, detail: serde_json::Value) -> ServiceResult<()> {
        let now = self.ctx.now();
        let at = parse_stamp(&l.at).unwrap_or(now);
        let (mut rows, mut files) = (Vec::new(), Vec::new());
        for e in &l.erased {
            match e.kind {
                ErasedKind::Record => {
                    let Ok(id) = RecordId::parse(&e.id) else { continue };
                    let Some(mut r) = self.ctx.store.record(tenant, id).await? else { continue };
                    if let Some(obj) = r.data.as_object_mut() {
                        e.fields.iter().for_each(|f| drop(obj.remove(f)));
                    }
                    if l.subjects.contains(&e.id) && r.deleted_at.is_none() {
                        r.deleted_at = Some(at);
                    }
                    rows.push(Row::Record(r));
                }
                ErasedKind::User => {
                    let Ok(id) = UserId::parse(&e.id) else { continue };
                    if let Some(u) = self.ctx.store.user(tenant, id).await? {
                        rows.push(Row::User(anonymised(&u, now)?));
                    }
                }
                ErasedKind::Request => {
                    if let Some(r) = self.ctx.store.request(tenant, &e.id).await? {
                        let all = e.fields.iter().any(|f| f == "email");
                        rows.push(Row::Request(if all { forgotten(r) } else { without_message(r) }));
                    }
                }
                ErasedKind::File => {
                    let Ok(id) = FileId::parse(&e.id) else { continue };
                    if let Some(mut f) = self.ctx.store.file(tenant, id).await? {
                        f.deleted_at = f.deleted_at.or(Some(at));
                        rows.push(Row::File(f));
                        files.push(id);
                    }
                }
            }
        }
        let mut change = Change::new(Chain::Tenant(tenant), now, Actor::System, Action::SubjectErasureReapplied)
            .about("erasure", &l.id)
            .detail(serde_json::json!({ "items": rows.len() }));
        change.rows = rows;
        self.ctx.store.erase(tenant, &l.id, l.entities.clone(), files, detail, change).await?;
        Ok(())
    }
}
