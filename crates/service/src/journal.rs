//! Reading and verifying the journal. Owners, admins and auditors read their
//! tenant's chain; operators read the provider chain. Verification walks every
//! chain and names the first broken entry (`valv audit verify`).

use time::OffsetDateTime;
use valv_domain::{Role, TenantId};
use valv_store::journal::{Broken, Verifier};
use valv_store::{Chain, ChainHead, JournalEntry, JournalQuery};

/// Entries read at once when walking a whole chain.
pub(crate) const PAGE: u32 = 2_000;

use crate::{Caller, ServiceError, ServiceResult, Valv};

/// Filters on a journal read.
#[derive(Debug, Clone, Default)]
pub struct JournalFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    /// Paging cursor: entries before this `chain_seq`.
    pub before: Option<u64>,
    /// 1 to 500; default 100.
    pub limit: Option<u32>,
}

/// The verification result of one chain.
#[derive(Debug, Clone)]
pub struct ChainReport {
    pub chain: String,
    pub outcome: Result<u64, Broken>,
}

impl Valv {
    /// The caller's journal, newest first.
    ///
    /// # Errors
    /// `Forbidden` for members and viewers; invalid limits.
    pub async fn journal(&self, caller: &Caller, f: JournalFilter) -> ServiceResult<Vec<JournalEntry>> {
        let chain = match caller {
            Caller::User { tenant, role, .. } if role.reads_journal() => Chain::Tenant(*tenant),
            Caller::User { role: Role::Member | Role::Viewer, .. } | Caller::User { .. } => {
                return Err(ServiceError::Forbidden("this needs the owner, admin or auditor role"));
            }
            Caller::CliForTenant(t) => Chain::Tenant(*t),
            Caller::Operator { .. } | Caller::Cli | Caller::System => Chain::Provider,
        };
        let limit = f.limit.unwrap_or(100);
        if !(1..=500).contains(&limit) {
            return Err(ServiceError::field("limit", "invalid_limit", "limit must be 1 to 500"));
        }
        // Sequence numbers are stored as signed 64-bit integers; any larger cursor means "from the newest".
        let before = f.before.map(|b| b.min(i64::MAX.unsigned_abs()));
        let q = JournalQuery { actor: f.actor, action: f.action, from: f.from, to: f.to, before, limit };
        Ok(self.ctx.store.journal(chain, &q).await?)
    }

    /// Verifies the caller's own organisation's chain: its owners, admins and
    /// auditors can show that their record is whole (GDPR Art. 5(2)).
    ///
    /// # Errors
    /// `Forbidden` for other roles and for operators; store failures.
    pub async fn verify_own_chain(&self, caller: &Caller) -> ServiceResult<ChainReport> {
        let tenant = match caller {
            Caller::User { tenant, role, .. } if role.reads_journal() => *tenant,
            _ => return Err(ServiceError::Forbidden("this needs the owner, admin or auditor role")),
        };
        let key = tenant.to_string();
        let heads = self.ctx.store.chain_heads().await?;
        let head = heads.iter().find(|(k, _)| *k == key).map(|(_, h)| h);
        Ok(ChainReport { outcome: verify_chain(self.ctx.store.as_ref(), &key, head).await?, chain: key })
    }

    /// Verifies every chain, or only the provider's and one tenant's.
    ///
    /// # Errors
    /// `Forbidden` unless operator or CLI; store failures.
    pub async fn verify_journal(&self, caller: &Caller, tenant: Option<TenantId>) -> ServiceResult<Vec<ChainReport>> {
        caller.operator()?;
        let heads = self.ctx.store.chain_heads().await?;
        let mut keys = self.ctx.store.chain_keys().await?;
        if let Some(t) = tenant {
            self.accounts().tenant_row(t).await?;
            keys = vec![t.to_string()];
        }
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let head = heads.iter().find(|(k, _)| *k == key).map(|(_, h)| h);
            out.push(ChainReport { outcome: verify_chain(self.ctx.store.as_ref(), &key, head).await?, chain: key });
        }
        Ok(out)
    }
}

/// Verifies every chain of `store` (a restored scratch store, too).
///
/// # Errors
/// Store failures.
pub(crate) async fn verify_all(store: &dyn valv_store::Store) -> ServiceResult<Vec<ChainReport>> {
    let heads = store.chain_heads().await?;
    let mut out = Vec::new();
    for key in store.chain_keys().await? {
        let head = heads.iter().find(|(k, _)| *k == key).map(|(_, h)| h);
        out.push(ChainReport { outcome: verify_chain(store, &key, head).await?, chain: key });
    }
    Ok(out)
}

/// Verifies one chain, reading it page by page.
async fn verify_chain(
    store: &dyn valv_store::Store,
    key: &str,
    head: Option<&ChainHead>,
) -> ServiceResult<Result<u64, Broken>> {
    let mut v = Verifier::new(key);
    let mut after = 0;
    loop {
        let page = store.chain_page(key, after, PAGE).await?;
        for e in &page {
            if let Err(b) = v.push(e) {
                return Ok(Err(b));
            }
        }
        match page.last() {
            Some(e) if page.len() == PAGE as usize => after = e.chain_seq,
            _ => return Ok(v.finish(head)),
        }
    }
}
