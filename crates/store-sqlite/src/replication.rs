//! The SQL behind backups: one consistent walk over every journaled table
//! (for dumps and digests alike, so a digest always describes exactly what a
//! dump holds), loading a dump, replaying shipped entries, the erasure ledger
//! and the bookkeeping of targets and runs.

use rusqlite::{Connection, Transaction, params};
use valv_store::{
    Action, BackupRun, DumpItem, JournalEntry, KeyOwner, Keys, LedgerRow, Position, ReplayEntry, StateDigest,
    StoreResult, Table, TargetState,
};

use crate::SqliteStore;
use crate::behind::WriteBehind;
use crate::{backend, corrupt, entities, journal};
use std::sync::{Arc, PoisonError};
use valv_store::DumpSink;
use valv_store::ReplicationStore;

/// Visits every journaled item in a fixed order inside one read transaction
/// and returns the position and SHA-256 digest of what it visited.
pub(crate) fn walk(
    c: &Connection,
    keys: &Keys,
    visit: &mut dyn FnMut(DumpItem) -> StoreResult<()>,
) -> StoreResult<Position> {
    let tx = c.unchecked_transaction().map_err(backend)?;
    let mut digest = StateDigest::default();
    let mut emit = |item: DumpItem| -> StoreResult<()> {
        digest.add(&item)?;
        visit(item)
    };
    for (table, order) in Table::dumped() {
        let sql =
            format!("SELECT {}, {}, image FROM {} ORDER BY {order}", table.tenant_sql(), table.key_sql(), table.name());
        let mut stmt = tx.prepare(&sql).map_err(backend)?;
        let mut rows = stmt.query([]).map_err(backend)?;
        while let Some(r) = rows.next().map_err(backend)? {
            let (tenant, id, image): (Option<String>, String, Vec<u8>) = (
                r.get(0).map_err(backend)?,
                r.get(1).map_err(backend)?,
                entities::stored_image(r, 2).map_err(backend)?,
            );
            let plain = keys.get(KeyOwner::of_column(tenant.as_deref())?)?.open_row(table, &id, &image)?;
            emit(DumpItem::Row(table.decode(std::str::from_utf8(&plain).map_err(corrupt)?)?))?;
        }
    }
    let (mut seq, mut at) = (0u64, String::new());
    {
        let mut stmt =
            tx.prepare(&format!("SELECT {} FROM journal ORDER BY seq", journal::COLUMNS)).map_err(backend)?;
        let mut rows = stmt.query([]).map_err(backend)?;
        while let Some(r) = rows.next().map_err(backend)? {
            let mut e = journal::entry(r).map_err(backend)?;
            if let Some(p) = &e.payload {
                e.payload = Some(keys.get(KeyOwner::of_chain(&e.chain)?)?.open_payload(e.chain_seq, p)?);
            }
            (seq, at) = (e.seq, e.at.clone());
            emit(DumpItem::Entry(e.into()))?;
        }
    }
    for (chain, h) in journal::heads(&tx)? {
        emit(DumpItem::head(chain, h))?;
    }
    for l in ledger(&tx)? {
        emit(DumpItem::Ledger(l))?;
    }
    tx.commit().map_err(backend)?;
    Ok(Position { seq, at, digest: digest.finish() })
}

pub(crate) fn journal_after(c: &Connection, seq: u64, limit: u32) -> StoreResult<Vec<JournalEntry>> {
    let mut stmt = c
        .prepare_cached(&format!("SELECT {} FROM journal WHERE seq > ?1 ORDER BY seq LIMIT ?2", journal::COLUMNS))
        .map_err(backend)?;
    let rows = stmt.query_map(params![seq, limit], journal::entry).map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

pub(crate) fn load(tx: &Transaction<'_>, keys: &Keys, items: &[DumpItem]) -> StoreResult<()> {
    // A piece holds each chain's items together (each sealed with its own key),
    // so a user may come before its tenant: foreign keys are checked at commit.
    tx.execute_batch("PRAGMA defer_foreign_keys = ON").map_err(backend)?;
    let mut sealing = entities::Sealing::new(keys.clone());
    for item in items {
        match item {
            DumpItem::Row(row) => entities::upsert(tx, &mut sealing, row)?,
            DumpItem::Entry(e) => journal::insert(tx, keys, &JournalEntry::from(e.clone()))?,
            DumpItem::Head { chain, chain_seq, hash } => journal::set_head(tx, chain, *chain_seq, hash)?,
            DumpItem::Ledger(l) => put_ledger(tx, l)?,
        }
    }
    Ok(())
}

/// Most entries a replay applies in one transaction when several batches
/// wait: few transactions, each small.
pub(crate) const REPLAY_GROUP: usize = 640;

/// Replays `entries` in one transaction; during a restore the file is then
/// synced in the background (`WriteBehind`).
pub(crate) fn replay_batch(
    c: &mut Connection,
    keys: &Keys,
    entries: Vec<ReplayEntry>,
    behind: Option<&WriteBehind>,
) -> StoreResult<()> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(backend)?;
    replay(&tx, keys, &entries)?;
    tx.commit().map_err(backend)?;
    // Freeing a batch's thousands of strings is work the writer need not wait for.
    tokio::task::spawn_blocking(move || drop(entries));
    WriteBehind::after_commit(behind, c)
}

/// Replays entries in commit order; entries the store already holds are skipped,
/// so overlapping segments replay safely.
fn replay(tx: &Transaction<'_>, keys: &Keys, entries: &[ReplayEntry]) -> StoreResult<()> {
    let mut sealing = entities::Sealing::new(keys.clone());
    let mut last: u64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM journal", [], |r| r.get(0)).map_err(backend)?;
    // Each chain's head moves once, to its newest entry in the batch.
    let mut heads = std::collections::HashMap::new();
    for ReplayEntry { entry: e, rows } in entries {
        if e.seq <= last {
            continue;
        }
        if e.entity == "tenant" && Action::parse(&e.action).is_some_and(Action::removes_tenant) {
            purge_rows(tx, &e.entity_id)?;
        }
        for row in rows {
            entities::upsert_image(tx, &mut sealing, row)?;
        }
        journal::insert(tx, keys, e)?;
        heads.insert(e.chain.as_str(), (e.chain_seq, e.hash.as_str()));
        last = e.seq;
    }
    for (chain, (chain_seq, hash)) in heads {
        journal::set_head(tx, chain, chain_seq, hash)?;
    }
    Ok(())
}

/// Deletes the rows of a tenant and blanks its chain's payloads.
pub(crate) fn purge_rows(tx: &Transaction<'_>, tenant: &str) -> StoreResult<Vec<(String, u64)>> {
    let mut counts = Vec::new();
    for table in Table::purged() {
        let n = tx.execute(&format!("DELETE FROM {} WHERE tenant_id = ?1", table.name()), [tenant]).map_err(backend)?;
        counts.push((table.name().to_owned(), n as u64));
    }
    tx.execute("UPDATE journal SET payload = NULL WHERE chain = ?1", [tenant]).map_err(backend)?;
    Ok(counts)
}

pub(crate) fn ledger(c: &Connection) -> StoreResult<Vec<LedgerRow>> {
    let mut stmt =
        c.prepare_cached("SELECT id, tenant_id, at, row_json FROM erasure_ledger ORDER BY at, id").map_err(backend)?;
    let rows =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?))).map_err(backend)?;
    let mut out = Vec::new();
    for row in rows {
        let (id, tenant_id, at, json) = row.map_err(backend)?;
        out.push(LedgerRow { id, tenant_id, at, detail: serde_json::from_str(&json).map_err(corrupt)? });
    }
    Ok(out)
}

pub(crate) fn put_ledger(tx: &Connection, l: &LedgerRow) -> StoreResult<()> {
    tx.execute(
        "INSERT OR IGNORE INTO erasure_ledger (id, tenant_id, at, row_json) VALUES (?1, ?2, ?3, ?4)",
        params![l.id, l.tenant_id, l.at, l.detail.to_string()],
    )
    .map_err(backend)
    .map(drop)
}

fn json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(corrupt)
}

pub(crate) fn targets(c: &Connection) -> StoreResult<Vec<TargetState>> {
    let mut stmt = c.prepare_cached("SELECT row_json FROM backup_targets ORDER BY name").map_err(backend)?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(backend)?;
    rows.map(|r| serde_json::from_str(&r.map_err(backend)?).map_err(corrupt)).collect()
}

pub(crate) fn put_target(c: &Connection, s: &TargetState) -> StoreResult<()> {
    c.execute("INSERT OR REPLACE INTO backup_targets (name, row_json) VALUES (?1, ?2)", params![s.name, json(s)?])
        .map_err(backend)
        .map(drop)
}

pub(crate) fn runs(c: &Connection, limit: u32) -> StoreResult<Vec<BackupRun>> {
    let mut stmt = c
        .prepare_cached("SELECT row_json FROM backup_runs ORDER BY started_at DESC, id DESC LIMIT ?1")
        .map_err(backend)?;
    let rows = stmt.query_map([limit], |r| r.get::<_, String>(0)).map_err(backend)?;
    rows.map(|r| serde_json::from_str(&r.map_err(backend)?).map_err(corrupt)).collect()
}

pub(crate) fn add_run(c: &Connection, r: &BackupRun) -> StoreResult<()> {
    c.execute(
        "INSERT INTO backup_runs (id, started_at, row_json) VALUES (?1, ?2, ?3)",
        params![r.id, r.started_at, json(r)?],
    )
    .map_err(backend)
    .map(drop)
}

#[async_trait::async_trait]
impl ReplicationStore for SqliteStore {
    async fn journal_seq(&self) -> StoreResult<u64> {
        self.read(|c| c.query_row("SELECT COALESCE(MAX(seq), 0) FROM journal", [], |r| r.get(0)).map_err(backend)).await
    }

    async fn journal_after(&self, seq: u64, limit: u32) -> StoreResult<Vec<JournalEntry>> {
        let entries = self.read(move |c| journal_after(c, seq, limit)).await?;
        self.vault.open_entries(entries).await
    }

    async fn dump(&self, mut sink: DumpSink) -> StoreResult<Position> {
        let keys = self.vault.all_keys().await?;
        self.read(move |c| walk(c, &keys, &mut *sink)).await
    }

    async fn state_digest(&self) -> StoreResult<Position> {
        let keys = self.vault.all_keys().await?;
        self.read(move |c| walk(c, &keys, &mut |_| Ok(()))).await
    }

    async fn flush(&self) -> StoreResult<()> {
        let (behind, deferred) = (self.behind.clone(), Arc::clone(&self.deferred));
        self.write(move |c| {
            let indexes = deferred.lock().unwrap_or_else(PoisonError::into_inner).take().unwrap_or_default();
            // One transaction: the pages the indexes change are written once.
            let tx = c.transaction().map_err(backend)?;
            tx.execute_batch(&indexes.join(";\n")).map_err(backend)?;
            tx.commit().map_err(backend)?;
            crate::conn::make_durable(c, behind.as_ref())
        })
        .await
    }

    async fn load(&self, items: Vec<DumpItem>) -> StoreResult<()> {
        let behind = self.behind.clone();
        let keys = self.vault.all_keys().await?;
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(backend)?;
            load(&tx, &keys, &items)?;
            tx.commit().map_err(backend)?;
            WriteBehind::after_commit(behind.as_ref(), c)
        })
        .await
    }

    async fn replay(&self, entries: Vec<ReplayEntry>) -> StoreResult<()> {
        let behind = self.behind.clone();
        let keys = self.vault.all_keys().await?;
        self.write(move |c| replay_batch(c, &keys, entries, behind.as_ref())).await
    }

    async fn replay_all(&self, mut batches: tokio::sync::mpsc::Receiver<Vec<ReplayEntry>>) -> StoreResult<()> {
        let behind = self.behind.clone();
        let keys = self.vault.all_keys().await?;
        // The writer takes batches as they come, without going back to the
        // async side between two: that hand-over waited for a runtime thread
        // while both cores were busy parsing and writing.
        self.write(move |c| {
            while let Some(mut entries) = batches.blocking_recv() {
                while entries.len() < REPLAY_GROUP
                    && let Ok(more) = batches.try_recv()
                {
                    entries.extend(more);
                }
                replay_batch(c, &keys, entries, behind.as_ref())?;
            }
            Ok(())
        })
        .await
    }

    async fn backup_targets(&self) -> StoreResult<Vec<TargetState>> {
        self.read(targets).await
    }

    async fn put_backup_target(&self, state: TargetState) -> StoreResult<()> {
        self.write(move |c| put_target(c, &state)).await
    }

    async fn backup_runs(&self, limit: u32) -> StoreResult<Vec<BackupRun>> {
        self.read(move |c| runs(c, limit)).await
    }

    async fn add_backup_run(&self, run: BackupRun) -> StoreResult<()> {
        self.write(move |c| add_run(c, &run)).await
    }
}
