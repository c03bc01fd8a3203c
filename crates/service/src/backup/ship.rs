//! Shipping: each target has its own loop that sends new journal entries as
//! a sealed segment, after copying the chunks those entries reference, so a
//! segment never points at a chunk its target lacks. A target that fails
//! keeps its position and retries with a growing pause; it stops neither the
//! service nor the other targets, and catches up when it is back.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use valv_backup_format::Target;
use valv_crypto::seal::Key;
use valv_domain::stamp;
use valv_store::{Action, EntryImage, JournalEntry, LedgerRow, ShippedEntry, TargetState};

use super::{internal, objects};
use crate::{Backups, ServiceResult, Valv};

/// Entries per segment at most.
pub(crate) const BATCH: u32 = 5_000;

impl Backups<'_> {
    /// Ships to every target until the process ends or the returned tasks
    /// are aborted: per target, one task ships and one merges what it
    /// shipped into larger segments (`compact.rs`).
    pub fn ship_forever(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        for target in self.targets.iter() {
            let (shipped, counted) = tokio::sync::watch::channel(0);
            let (valv, t) = (Valv::clone(self), target.clone());
            tasks.push(tokio::spawn(async move { valv.backups().ship_loop(t, shipped).await }));
            let (valv, t) = (Valv::clone(self), target.clone());
            tasks.push(tokio::spawn(async move { valv.backups().compact_loop(t, counted).await }));
        }
        tasks
    }

    async fn ship_loop(&self, target: Target, shipped: tokio::sync::watch::Sender<u64>) {
        let mut pause = Duration::from_millis(100);
        let mut synced = false;
        loop {
            match self.ship_once(&target, !synced).await {
                Ok(0) => {
                    synced = true;
                    pause = Duration::from_millis(100);
                    tokio::time::sleep(pause).await;
                }
                Ok(_) => {
                    synced = true;
                    shipped.send_modify(|n| *n += 1);
                }
                Err(e) => {
                    tracing::warn!(target = target.name(), error = %e, "backup target failed; retrying");
                    let _ = self.record_target(&target, None, Some(e.to_string())).await;
                    pause = (pause * 2).min(Duration::from_secs(10));
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// Ships what `target` lacks; returns the number of entries sent.
    ///
    /// # Errors
    /// The target or the store failed; nothing is marked shipped then.
    pub async fn ship_once(&self, target: &Target, sync_keys: bool) -> ServiceResult<usize> {
        let state = self.target_state(target.name()).await?;
        let entries = self.ctx.store.journal_after(state.shipped_seq, BATCH).await?;
        let backup = self.ctx.keyring.backup_key().await.map_err(internal)?;
        let key_event =
            entries.iter().any(|e| Action::parse(&e.action).is_some_and(Action::reships_keyring_and_ledger));
        if sync_keys || key_event {
            self.put_keyring(target).await?;
            self.put_ledger(target, &backup).await?;
        }
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Ok(0);
        };
        let (first, last_seq) = (first.seq, last.seq);
        self.copy_chunks(target, &entries).await?;
        let name = objects::segment(first, last_seq);
        let mut parts = objects::Parts::default();
        for e in &entries {
            parts.push(e.chain.clone(), &ShippedEntry(EntryImage::from(e.clone())))?;
        }
        let keys = self.chain_keys(parts.chains(), &backup).await?;
        target.put(&name, Bytes::from(parts.seal(&name, &keys, &backup)?)).await.map_err(internal)?;
        self.put_heads(target, &entries, &backup).await?;
        self.record_target(target, Some(last_seq), None).await?;
        let lag = self.lag(last_seq).await?;
        if lag > self.ctx.settings.backup_lag_warning.as_seconds_f64() {
            tracing::warn!(target = target.name(), lag_seconds = lag, "backup target lags behind the journal");
        }
        Ok(entries.len())
    }

    pub(crate) async fn target_state(&self, name: &str) -> ServiceResult<TargetState> {
        let states = self.ctx.store.backup_targets().await?;
        Ok(states
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| TargetState { name: name.to_owned(), ..TargetState::default() }))
    }

    async fn record_target(&self, t: &Target, shipped: Option<u64>, error: Option<String>) -> ServiceResult<()> {
        let mut s = self.target_state(t.name()).await?;
        if let Some(seq) = shipped {
            s.shipped_seq = seq;
            s.last_success = Some(stamp(self.ctx.now()));
        }
        s.last_error = error;
        Ok(self.ctx.store.put_backup_target(s).await?)
    }

    /// Copies the chunks of every file version the entries carry.
    async fn copy_chunks(&self, target: &Target, entries: &[JournalEntry]) -> ServiceResult<()> {
        let chunks: BTreeSet<(String, String)> =
            entries.iter().filter_map(|e| e.payload.as_deref()).flat_map(objects::file_chunks).collect();
        self.copy_chunk_set(target, chunks).await
    }

    pub(crate) async fn copy_chunk_set(
        &self,
        target: &Target,
        chunks: BTreeSet<(String, String)>,
    ) -> ServiceResult<()> {
        let blobs = self.ctx.blobs()?;
        for (tenant, id) in chunks {
            let path = objects::chunk(&tenant, &id);
            if target.exists(&path).await.map_err(internal)? {
                continue;
            }
            let chunk_id = valv_blob::ChunkId::parse(&id).map_err(internal)?;
            // A chunk erased since (GDPR Art. 17) or of a purged tenant is gone: nothing to copy.
            let Ok(bytes) = blobs.get(&tenant, &chunk_id).await else { continue };
            target.put_if_absent(&path, bytes).await.map_err(internal)?;
        }
        Ok(())
    }

    /// Rewrites the target's keyring copy, unless this process's keyring
    /// lacks a key it should hold: that copy may be the only one left of it,
    /// and overwriting it would destroy a tenant's data for good.
    ///
    /// # Errors
    /// A tenant not purged whose key is missing or damaged (named), or the
    /// target or the store failed.
    pub(crate) async fn put_keyring(&self, target: &Target) -> ServiceResult<()> {
        let backup = self.ctx.keyring.backup_key().await.map_err(internal)?;
        let keys = self.keys(&backup);
        for t in self.ctx.store.tenants().await? {
            keys.of(&t.id.to_string()).await?;
        }
        let sealed = self.ctx.keyring.sealed_copy().await.map_err(internal)?;
        target.put(objects::KEYRING, Bytes::from(sealed)).await.map_err(internal)
    }

    /// Rewrites the erasure ledger object: every restore re-applies it.
    pub(crate) async fn put_ledger(&self, target: &Target, backup: &Key) -> ServiceResult<()> {
        let mut parts = objects::Parts::default();
        let rows: Vec<LedgerRow> = self.ctx.store.erasure_ledger().await?;
        for l in &rows {
            parts.push(l.tenant_id.clone(), l)?;
        }
        let keys = self.chain_keys(parts.chains(), backup).await?;
        let sealed = parts.seal(objects::LEDGER, &keys, backup)?;
        target.put(objects::LEDGER, Bytes::from(sealed)).await.map_err(internal)
    }
}
