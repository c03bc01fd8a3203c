//! The SQL behind backups: one consistent walk over every journaled table
//! (for dumps and digests alike, so a digest always describes exactly what a
//! dump holds), loading a dump, replaying shipped entries, the erasure ledger
//! and the bookkeeping of targets and runs. Tables, orders and the digest are
//! the SQLite backend's, so the digest of one state is the same on both.

use futures::TryStreamExt as _;
use sqlx::{PgConnection, PgPool};
use valv_store::{
    Action, BackupRun, DumpItem, JournalEntry, KeyOwner, Keys, LedgerRow, Position, ReplayEntry, RowImage, StateDigest,
    StoreError, StoreResult, Table, TargetState,
};

use crate::PgStore;
use crate::entities::Sealing;
use crate::runs::Runs;
use crate::{backend, corrupt, int, journal};
use valv_store::DumpSink;
use valv_store::ReplicationStore;

/// The digest of what a walk visited, and where the items go.
struct Emit<'a> {
    digest: StateDigest,
    out: Option<&'a tokio::sync::mpsc::Sender<DumpItem>>,
}

impl Emit<'_> {
    async fn emit(&mut self, item: DumpItem) -> StoreResult<()> {
        self.digest.add(&item)?;
        match self.out {
            Some(out) => out.send(item).await.map_err(|_| StoreError::Backend("the dump's reader stopped".into())),
            None => Ok(()),
        }
    }
}

/// Visits every journaled item in a fixed order, streaming the tables, sends
/// each to `out` (none: a digest only) and returns the position and SHA-256
/// digest of what it visited. `c` must be in a snapshot transaction, so every
/// table is read at one instant. Rows and payloads are opened with `keys`:
/// a dump holds them in clear, as the digest describes them.
pub(crate) async fn walk(
    c: &mut PgConnection,
    keys: &Keys,
    out: Option<&tokio::sync::mpsc::Sender<DumpItem>>,
) -> StoreResult<Position> {
    let mut e = Emit { digest: StateDigest::default(), out };
    for (table, order) in Table::dumped() {
        let sql =
            format!("SELECT {}, {}, image FROM {} ORDER BY {order}", table.tenant_sql(), table.key_sql(), table.name());
        let mut rows = sqlx::query_as::<_, crate::entities::StoredRow>(&sql).fetch(&mut *c);
        while let Some((tenant, id, image)) = rows.try_next().await.map_err(backend)? {
            let plain = keys.get(KeyOwner::of_column(tenant.as_deref())?)?.open_row(table, &id, &image)?;
            e.emit(DumpItem::Row(table.decode(std::str::from_utf8(&plain).map_err(corrupt)?)?)).await?;
        }
    }
    let (mut seq, mut at) = (0u64, String::new());
    {
        let sql = format!("SELECT {} FROM journal ORDER BY seq", journal::COLUMNS);
        let mut rows = sqlx::query(&sql).fetch(&mut *c);
        while let Some(r) = rows.try_next().await.map_err(backend)? {
            let mut entry = journal::entry(&r)?;
            if let Some(p) = &entry.payload {
                entry.payload = Some(keys.get(KeyOwner::of_chain(&entry.chain)?)?.open_payload(entry.chain_seq, p)?);
            }
            (seq, at) = (entry.seq, entry.at.clone());
            e.emit(DumpItem::Entry(entry.into())).await?;
        }
    }
    for (chain, h) in journal::heads(c).await? {
        e.emit(DumpItem::head(chain, h)).await?;
    }
    for l in ledger(c).await? {
        e.emit(DumpItem::Ledger(l)).await?;
    }
    Ok(Position { seq, at, digest: e.digest.finish() })
}

pub(crate) async fn journal_after(pool: &PgPool, seq: u64, limit: u32) -> StoreResult<Vec<JournalEntry>> {
    let sql = format!("SELECT {} FROM journal WHERE seq > $1 ORDER BY seq LIMIT $2", journal::COLUMNS);
    let rows = sqlx::query(&sql).bind(int(seq)).bind(i64::from(limit)).fetch_all(pool).await.map_err(backend)?;
    journal::entries(&rows)
}

pub(crate) async fn load(c: &mut PgConnection, keys: &Keys, items: Vec<DumpItem>) -> StoreResult<()> {
    // A piece holds each chain's items together (each sealed with its own key),
    // so a user may come before its tenant: foreign keys are checked at commit.
    sqlx::query("SET CONSTRAINTS ALL DEFERRED").execute(&mut *c).await.map_err(backend)?;
    let (mut runs, mut entries) = (Runs::default(), Vec::new());
    let mut sealing = Sealing::new(keys.clone());
    for item in items {
        match item {
            DumpItem::Row(row) => runs.push(c, &mut sealing, RowImage::new(&row).map_err(corrupt)?).await?,
            DumpItem::Entry(e) => entries.push(JournalEntry::from(e)),
            DumpItem::Head { chain, chain_seq, hash } => journal::set_head(c, &chain, chain_seq, &hash).await?,
            DumpItem::Ledger(l) => put_ledger(c, &l).await?,
        }
    }
    runs.flush(c, &mut sealing).await?;
    journal::insert_all(c, keys, &entries).await
}

/// Replays entries in commit order; entries the store already holds are skipped,
/// so overlapping segments replay safely. Runs under the write lock. Rows go
/// in runs and entries in batches (`runs`); both are written out before a
/// tenant's purge, which deletes rows and blanks entries.
pub(crate) async fn replay(c: &mut PgConnection, keys: &Keys, entries: Vec<ReplayEntry>) -> StoreResult<()> {
    let mut last = journal::last_seq(c).await?;
    let (mut runs, mut pending) = (Runs::default(), Vec::new());
    let mut sealing = Sealing::new(keys.clone());
    let mut heads = std::collections::HashMap::new();
    for ReplayEntry { entry: e, rows } in entries {
        if e.seq <= last {
            continue;
        }
        if e.entity == "tenant" && Action::parse(&e.action).is_some_and(Action::removes_tenant) {
            runs.flush(c, &mut sealing).await?;
            journal::insert_all(c, keys, &std::mem::take(&mut pending)).await?;
            purge_rows(c, &e.entity_id).await?;
        }
        for row in rows {
            runs.push(c, &mut sealing, row).await?;
        }
        heads.insert(e.chain.clone(), (e.chain_seq, e.hash.clone()));
        last = e.seq;
        pending.push(e);
    }
    runs.flush(c, &mut sealing).await?;
    journal::insert_all(c, keys, &pending).await?;
    for (chain, (chain_seq, hash)) in heads {
        journal::set_head(c, &chain, chain_seq, &hash).await?;
    }
    Ok(())
}

/// Deletes the rows of a tenant and blanks its chain's payloads.
pub(crate) async fn purge_rows(c: &mut PgConnection, tenant: &str) -> StoreResult<Vec<(String, u64)>> {
    let mut counts = Vec::new();
    for table in Table::purged() {
        let done = sqlx::query(&format!("DELETE FROM {} WHERE tenant_id = $1", table.name()))
            .bind(tenant)
            .execute(&mut *c)
            .await
            .map_err(backend)?;
        counts.push((table.name().to_owned(), done.rows_affected()));
    }
    sqlx::query("UPDATE journal SET payload = NULL WHERE chain = $1")
        .bind(tenant)
        .execute(&mut *c)
        .await
        .map_err(backend)?;
    Ok(counts)
}

pub(crate) async fn ledger(c: &mut PgConnection) -> StoreResult<Vec<LedgerRow>> {
    let rows: Vec<(String, String, String, String)> =
        sqlx::query_as("SELECT id, tenant_id, at, row_json FROM erasure_ledger ORDER BY at, id")
            .fetch_all(c)
            .await
            .map_err(backend)?;
    rows.into_iter()
        .map(|(id, tenant_id, at, json)| {
            Ok(LedgerRow { id, tenant_id, at, detail: serde_json::from_str(&json).map_err(corrupt)? })
        })
        .collect()
}

pub(crate) async fn put_ledger(c: &mut PgConnection, l: &LedgerRow) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO erasure_ledger (id, tenant_id, at, row_json) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&l.id)
    .bind(&l.tenant_id)
    .bind(&l.at)
    .bind(l.detail.to_string())
    .execute(c)
    .await
    .map_err(backend)
    .map(drop)
}

fn json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(corrupt)
}

pub(crate) async fn targets(pool: &PgPool) -> StoreResult<Vec<TargetState>> {
    let rows: Vec<String> = sqlx::query_scalar("SELECT row_json FROM backup_targets ORDER BY name")
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    rows.iter().map(|r| serde_json::from_str(r).map_err(corrupt)).collect()
}

pub(crate) async fn put_target(pool: &PgPool, s: &TargetState) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO backup_targets (name, row_json) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET row_json = excluded.row_json",
    )
    .bind(&s.name)
    .bind(json(s)?)
    .execute(pool)
    .await
    .map_err(backend)
    .map(drop)
}

pub(crate) async fn runs(pool: &PgPool, limit: u32) -> StoreResult<Vec<BackupRun>> {
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT row_json FROM backup_runs ORDER BY started_at DESC, id DESC LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(backend)?;
    rows.iter().map(|r| serde_json::from_str(r).map_err(corrupt)).collect()
}

pub(crate) async fn add_run(pool: &PgPool, r: &BackupRun) -> StoreResult<()> {
    sqlx::query("INSERT INTO backup_runs (id, started_at, row_json) VALUES ($1, $2, $3)")
        .bind(&r.id)
        .bind(&r.started_at)
        .bind(json(r)?)
        .execute(pool)
        .await
        .map_err(backend)
        .map(drop)
}

#[async_trait::async_trait]
impl ReplicationStore for PgStore {
    async fn journal_seq(&self) -> StoreResult<u64> {
        let mut c = self.pool.acquire().await.map_err(backend)?;
        journal::last_seq(&mut c).await
    }

    async fn journal_after(&self, seq: u64, limit: u32) -> StoreResult<Vec<JournalEntry>> {
        let entries = journal_after(&self.pool, seq, limit).await?;
        self.vault.open_entries(entries).await
    }

    async fn dump(&self, mut sink: DumpSink) -> StoreResult<Position> {
        let keys = self.vault.all_keys().await?;
        // The sink may block (it hands items to the backup's writer): it runs
        // on the blocking pool, fed through a bounded channel.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<DumpItem>(1024);
        let reader = tokio::task::spawn_blocking(move || {
            while let Some(item) = rx.blocking_recv() {
                sink(item)?;
            }
            Ok::<_, valv_store::StoreError>(())
        });
        let walked = async move {
            let mut t = self.snapshot().await?;
            let position = walk(&mut t, &keys, Some(&tx)).await?;
            t.commit().await.map_err(backend)?;
            Ok::<_, valv_store::StoreError>(position)
        }
        .await;
        // The sink's own error says more than the walk's "reader stopped".
        reader.await.map_err(|e| valv_store::StoreError::Backend(e.to_string()))??;
        walked
    }

    async fn state_digest(&self) -> StoreResult<Position> {
        let keys = self.vault.all_keys().await?;
        let mut tx = self.snapshot().await?;
        let position = walk(&mut tx, &keys, None).await?;
        tx.commit().await.map_err(backend)?;
        Ok(position)
    }

    async fn load(&self, items: Vec<DumpItem>) -> StoreResult<()> {
        let keys = self.vault.all_keys().await?;
        let mut tx = self.write_tx().await?;
        load(&mut tx, &keys, items).await?;
        tx.commit().await.map_err(backend)
    }

    async fn replay(&self, entries: Vec<ReplayEntry>) -> StoreResult<()> {
        let keys = self.vault.all_keys().await?;
        let mut tx = self.write_tx().await?;
        replay(&mut tx, &keys, entries).await?;
        tx.commit().await.map_err(backend)
    }

    async fn backup_targets(&self) -> StoreResult<Vec<TargetState>> {
        targets(&self.pool).await
    }

    async fn put_backup_target(&self, state: TargetState) -> StoreResult<()> {
        put_target(&self.pool, &state).await
    }

    async fn backup_runs(&self, limit: u32) -> StoreResult<Vec<BackupRun>> {
        runs(&self.pool, limit).await
    }

    async fn add_backup_run(&self, run: BackupRun) -> StoreResult<()> {
        add_run(&self.pool, &run).await
    }

    async fn lead(&self) -> StoreResult<bool> {
        self.leader.lead(&self.pool).await
    }
}
