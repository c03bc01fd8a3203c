//! Replication: the journal as shipped, dumps, digests, loading and replaying a backup, the bookkeeping of targets and runs, and the lead of the background work.

use crate::{BackupRun, DumpItem, DumpSink, JournalEntry, Position, ReplayEntry, StoreResult, TargetState};

/// Replication: the journal as shipped, dumps, digests, loading and replaying a backup, the bookkeeping of targets and runs, and the lead of the background work.
#[async_trait::async_trait]
pub trait ReplicationStore: Send + Sync + 'static {
    /// The newest journal position (0 for an empty journal).
    async fn journal_seq(&self) -> StoreResult<u64>;

    /// Entries of every chain after `seq`, in commit order (backup shipping).
    async fn journal_after(&self, seq: u64, limit: u32) -> StoreResult<Vec<JournalEntry>>;

    /// Streams all journaled state (rows, journal with payloads, chain heads,
    /// erasure ledger) to `sink` from one consistent read, and returns the
    /// position and digest of that state.
    async fn dump(&self, sink: DumpSink) -> StoreResult<Position>;

    /// Position and digest of the current state, read consistently.
    async fn state_digest(&self) -> StoreResult<Position>;

    /// Writes dump items into a store (a restore into an empty one), in one transaction.
    async fn load(&self, items: Vec<DumpItem>) -> StoreResult<()>;

    /// Replays shipped entries after the current position: applies their row
    /// images (and a tenant purge) and appends them as they were, in one transaction.
    async fn replay(&self, entries: Vec<ReplayEntry>) -> StoreResult<()>;

    /// Replays the batches of `batches` as they come, each as [`Store::replay`]
    /// does, until the channel closes. A store with a single writer applies
    /// them back to back on it, joining the batches that wait into one transaction.
    async fn replay_all(&self, mut batches: tokio::sync::mpsc::Receiver<Vec<ReplayEntry>>) -> StoreResult<()> {
        while let Some(entries) = batches.recv().await {
            self.replay(entries).await?;
        }
        Ok(())
    }

    async fn backup_targets(&self) -> StoreResult<Vec<TargetState>>;

    async fn put_backup_target(&self, state: TargetState) -> StoreResult<()>;

    /// The newest backup and drill runs, newest first.
    async fn backup_runs(&self, limit: u32) -> StoreResult<Vec<BackupRun>>;

    async fn add_backup_run(&self, run: BackupRun) -> StoreResult<()>;

    /// Whether this process leads the installation's background work
    /// (backup shipping, the daily full backup, purging expired tenants):
    /// several processes may serve one shared database, and exactly one of
    /// them may do each of these. Asked again every few seconds: a process
    /// that lost the lead stops. The embedded store has one process, which
    /// always leads.
    async fn lead(&self) -> StoreResult<bool> {
        Ok(true)
    }

    /// Makes every write so far durable. Only a store opened for a restore
    /// (commits not synced one by one) has anything to do; in every other
    /// store a commit that returned is already on disk.
    async fn flush(&self) -> StoreResult<()> {
        Ok(())
    }
}
