//! The end of a tenant's data: when the export window after the end of its
//! agreement closes, its data key is destroyed first — so every copy of its
//! data anywhere, backups included, is unreadable from that instant
//! (crypto-shredding) — then its rows are deleted and its journal payloads
//! blanked in one transaction, then its stored chunks are removed. Each purge
//! is a journal entry and yields a receipt.
//!
//! The same removal makes a restored copy of one tenant: in an installation
//! restored from a backup into a new data dir, every other tenant is removed.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;
use valv_store::{Action, Chain, Change, Row, TenantRow};

use crate::{Accounts, Caller, ServiceError, ServiceResult};

/// What was deleted for one tenant.
#[derive(Debug, Clone, Serialize)]
pub struct PurgeReceipt {
    pub tenant_id: String,
    pub slug: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub terminated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub purged_at: OffsetDateTime,
    /// Rows deleted, by table.
    pub deleted: BTreeMap<String, u64>,
    pub chunks_deleted: u64,
    pub key_destroyed: bool,
}

impl Accounts<'_> {
    /// Purges every tenant whose export window has closed.
    ///
    /// # Errors
    /// `Forbidden` unless operator, CLI or valv itself; store failures.
    pub async fn purge_expired(&self, caller: &Caller) -> ServiceResult<Vec<PurgeReceipt>> {
        caller.operator()?;
        let now = self.ctx.now();
        let mut receipts = Vec::new();
        for t in self.ctx.store.tenants().await? {
            let due = t.terminated_at.is_some_and(|end| end + self.ctx.settings.export_window <= now);
            if due && t.purged_at.is_none() {
                receipts.push(self.purge(caller, t).await?);
            }
        }
        Ok(receipts)
    }

    /// Turns a restored installation (a new data dir, never the live one) into
    /// a copy of tenant `keep` alone: every other tenant's key is destroyed
    /// and its data deleted, as a purge does, each a journal entry of the copy.
    ///
    /// # Errors
    /// `Forbidden` unless operator or CLI; `NotFound` when `keep` did not exist
    /// in the restored state; store failures.
    pub async fn keep_only_tenant(&self, caller: &Caller, keep: valv_domain::TenantId) -> ServiceResult<usize> {
        caller.operator()?;
        let tenants = self.ctx.store.tenants().await?;
        if !tenants.iter().any(|t| t.id == keep && t.purged_at.is_none()) {
            return Err(ServiceError::NotFound);
        }
        let mut removed = 0;
        for t in tenants.into_iter().filter(|t| t.id != keep && t.purged_at.is_none()) {
            let detail = serde_json::json!({ "key_destroyed": true, "kept_tenant": keep.to_string() });
            self.remove_tenant(caller, t, Action::TenantLeftOutOfCopy, detail).await?;
            removed += 1;
        }
        Ok(removed)
    }

    async fn purge(&self, caller: &Caller, t: TenantRow) -> ServiceResult<PurgeReceipt> {
        let detail = serde_json::json!({ "key_destroyed": true, "export_window_days": self.ctx.settings.export_window.whole_days() });
        self.remove_tenant(caller, t, Action::TenantPurged, detail).await
    }

    /// Destroys the tenant's key, deletes its rows (one journaled change) and its chunks.
    async fn remove_tenant(
        &self,
        caller: &Caller,
        t: TenantRow,
        action: Action,
        detail: serde_json::Value,
    ) -> ServiceResult<PurgeReceipt> {
        let now = self.ctx.now();
        self.ctx.keyring.destroy(t.id).await.map_err(ServiceError::internal)?;
        let mut row = t.clone();
        row.purged_at = Some(now);
        row.updated_at = now;
        let change = Change::new(Chain::Provider, now, caller.actor(), action)
            .about("tenant", t.id)
            .detail(detail)
            .row(Row::Tenant(row));
        let deleted: BTreeMap<String, u64> = self.ctx.store.purge_tenant(t.id, change).await?.into_iter().collect();
        let chunks_deleted = self.delete_chunks(&t).await;
        tracing::info!(tenant = %t.id, chunks_deleted, action = %action, "tenant data deleted and key destroyed");
        Ok(PurgeReceipt {
            tenant_id: t.id.to_string(),
            slug: t.slug.to_string(),
            name: t.name.to_string(),
            terminated_at: t.terminated_at.unwrap_or(now),
            purged_at: now,
            deleted,
            chunks_deleted,
            key_destroyed: true,
        })
    }

    /// Removes the tenant's chunks; any left behind are unreadable without the key
    /// and go with the next `valv gc`.
    async fn delete_chunks(&self, t: &TenantRow) -> u64 {
        let Ok(blobs) = self.ctx.blobs() else { return 0 };
        let tenant = t.id.to_string();
        let mut n = 0;
        for (id, _) in blobs.list_aged(&tenant).await.unwrap_or_default() {
            if blobs.delete(&tenant, &id).await.is_ok() {
                n += 1;
            }
        }
        n
    }
}
