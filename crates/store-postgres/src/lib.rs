//! The PostgreSQL backend: several valv instances may share one database.
//! Every write of journaled state runs in a transaction that first takes one
//! advisory lock, so journal `seq` order equals commit order (DESIGN.md,
//! "Pitfall on PostgreSQL"). Rows are stored as in the SQLite backend (the
//! row image sealed with its owner's key beside the looked-up columns,
//! DESIGN.md, Sealed at rest), so the dumps and digests of both backends,
//! made of opened rows, are byte for byte the same. All SQL of this backend
//! lives in this crate.

mod accounts;
mod conn;
mod content;
mod entities;
mod jobs;
mod journal;
mod keys;
mod lead;
mod migrate;
mod privacy;
mod records;
mod replication;
mod runs;
mod sessions;
mod upgrade;

use valv_store::{Constraint, StoreError, StoreResult};

pub use conn::PgStore;
pub use keys::PgKeyStore;

/// Maps a database error to a store error, naming the constraint on conflicts.
pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.kind() == sqlx::error::ErrorKind::UniqueViolation
        && let Some(name) = db.constraint().and_then(Constraint::named)
    {
        return StoreError::Conflict(name);
    }
    StoreError::Backend(e.to_string())
}

pub(crate) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// A count or position as PostgreSQL's `BIGINT` (beyond `i64::MAX` is "everything").
pub(crate) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A `BIGINT` read back as the unsigned value it was written from.
pub(crate) fn uint(v: i64) -> StoreResult<u64> {
    u64::try_from(v).map_err(corrupt)
}

impl PgStore {
    /// Applies the rows of every change and appends their entries, in one transaction.
    async fn apply(&self, changes: Vec<valv_store::Change>) -> StoreResult<Vec<valv_store::JournalEntry>> {
        // Fetched before the transaction: the keyring may have to unwrap a key.
        let keys = self.vault.keys(changes.iter().flat_map(valv_store::Change::owners).collect()).await?;
        let mut tx = self.write_tx().await?;
        let mut sealing = entities::Sealing::new(keys.clone());
        let mut journal = journal::Appender::new(&mut tx).await?;
        let mut entries = Vec::with_capacity(changes.len());
        for change in &changes {
            for row in &change.expected {
                entities::still(&mut tx, &keys, row).await?;
            }
            for row in &change.rows {
                entities::upsert(&mut tx, &mut sealing, row).await?;
            }
            entities::within_storage(&mut tx, change).await?;
            entries.push(journal.append(&mut tx, &keys, change).await?);
        }
        tx.commit().await.map_err(backend)?;
        Ok(entries)
    }

    /// [`PgStore::apply`] with changes pulled from `source` one at a time;
    /// an error anywhere drops the transaction, so nothing is written.
    async fn apply_from(&self, source: valv_store::ChangeSource) -> StoreResult<u64> {
        let mut changes = pump(source);
        let mut tx = self.write_tx().await?;
        let mut sealing = entities::Sealing::new(valv_store::Keys::default());
        let mut journal = journal::Appender::new(&mut tx).await?;
        let mut n = 0;
        loop {
            let change = match changes.recv().await {
                Some(Ok(Some(change))) => change,
                Some(Ok(None)) => break,
                Some(Err(e)) => return Err(e),
                // The source's thread ended without saying the end: nothing is committed.
                None => return Err(StoreError::Backend("the change source stopped before its end".into())),
            };
            // Owners are known only as changes come (an import makes its tenant's key meanwhile).
            let missing = sealing.keys.missing(&change.owners());
            if !missing.is_empty() {
                sealing.keys.extend(self.vault.keys(missing).await?);
            }
            for row in &change.rows {
                entities::upsert(&mut tx, &mut sealing, row).await?;
            }
            journal.append(&mut tx, &sealing.keys, &change).await?;
            n += 1;
        }
        tx.commit().await.map_err(backend)?;
        Ok(n)
    }
}

/// Pulls changes from `source` on a thread of the blocking pool: a source
/// may wait for its next change (an import waits for the archive's parser),
/// which must never stall the async executor. The pull stops after the end,
/// an error, or when the receiver is gone (the transaction failed).
fn pump(mut source: valv_store::ChangeSource) -> tokio::sync::mpsc::Receiver<StoreResult<Option<valv_store::Change>>> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::task::spawn_blocking(move || {
        loop {
            let next = source();
            let last = !matches!(next, Ok(Some(_)));
            if tx.blocking_send(next).is_err() || last {
                return;
            }
        }
    });
    rx
}

/// An erasure in one transaction under the write lock: blank the journal
/// payloads about the subject, delete the files' versions, write the
/// redacted rows and the erasure's entry, and add it to the ledger.
async fn erase(
    store: &PgStore,
    tenant: valv_domain::TenantId,
    erasure_id: &str,
    entity_ids: &[(String, String)],
    files: &[valv_domain::FileId],
    ledger: &serde_json::Value,
    change: &valv_store::Change,
) -> StoreResult<valv_store::JournalEntry> {
    let keys = store.vault.keys(change.owners()).await?;
    let mut tx = store.write_tx().await?;
    let t = tenant.to_string();
    // (chain, entity, entity_id) is the journal's entity index: each update is a lookup.
    for (entity, id) in entity_ids {
        sqlx::query(
            "UPDATE journal SET payload = NULL, erased_by = $1 WHERE chain = $2 AND entity = $3 AND entity_id = $4",
        )
        .bind(erasure_id)
        .bind(&t)
        .bind(entity)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    }
    for f in files {
        sqlx::query("DELETE FROM file_versions WHERE tenant_id = $1 AND file_id = $2")
            .bind(&t)
            .bind(f.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    let mut sealing = entities::Sealing::new(keys.clone());
    for row in &change.rows {
        entities::upsert(&mut tx, &mut sealing, row).await?;
    }
    let entry = journal::Appender::new(&mut tx).await?.append(&mut tx, &keys, change).await?;
    let l =
        valv_store::LedgerRow { id: erasure_id.to_owned(), tenant_id: t, at: entry.at.clone(), detail: ledger.clone() };
    replication::put_ledger(&mut tx, &l).await?;
    tx.commit().await.map_err(backend)?;
    Ok(entry)
}
