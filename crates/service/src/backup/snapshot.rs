//! The full backup: one consistent dump of all state (rows, journal, chain
//! heads, erasure ledger) cut into sealed pieces and written to every target,
//! with the chunks its file versions use, under a time-ordered id; the
//! manifest, written last, records
//! the journal position and the digest of the state there, which the drill
//! checks a restore against. A snapshot without a manifest is incomplete and
//! ignored.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use valv_backup_format::Target;
use valv_crypto::seal::Key;
use valv_domain::stamp;
use valv_store::backup::StateDigest;
use valv_store::{BackupRun, DumpItem, Position, Row};

use super::{internal, objects};
use crate::{Backups, Caller, ServiceResult};

/// Plaintext gathered before a piece is sealed and written.
const PIECE: usize = 8 << 20;

/// What a snapshot's manifest says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    pub position: Position,
    pub taken_at: String,
    pub pieces: usize,
    pub items: u64,
    pub chunks: usize,
}

/// The outcome of a full backup.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotReport {
    pub id: String,
    pub seq: u64,
    pub digest: String,
    pub items: u64,
    pub pieces: usize,
    pub targets_written: Vec<String>,
    pub targets_failed: Vec<(String, String)>,
}

impl Backups<'_> {
    /// Takes a full backup now and writes it to every target; records the run.
    ///
    /// # Errors
    /// `Forbidden` unless operator, CLI or system; when every target failed.
    pub async fn backup_now(&self, caller: &Caller, progress: &(dyn Fn(u64) + Sync)) -> ServiceResult<SnapshotReport> {
        caller.operator()?;
        let started = (self.ctx.now(), Instant::now());
        let result = self.snapshot(progress).await;
        let (outcome, detail) = match &result {
            Ok(r) => {
                (if r.targets_written.is_empty() { "failed" } else { "ok" }, serde_json::to_value(r).map_err(internal)?)
            }
            Err(e) => ("failed", serde_json::json!({ "error": e.to_string() })),
        };
        self.record_run("full", started, outcome, detail).await?;
        result
    }

    pub(crate) async fn record_run(
        &self,
        kind: &str,
        (at, clock): (time::OffsetDateTime, Instant),
        outcome: &str,
        detail: serde_json::Value,
    ) -> ServiceResult<()> {
        let run = BackupRun {
            id: uuid::Uuid::now_v7().to_string(),
            kind: kind.into(),
            started_at: stamp(at),
            duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
            outcome: outcome.into(),
            detail,
        };
        Ok(self.ctx.store.add_backup_run(run).await?)
    }

    async fn snapshot(&self, progress: &(dyn Fn(u64) + Sync)) -> ServiceResult<SnapshotReport> {
        let backup = self.ctx.keyring.backup_key().await.map_err(internal)?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<DumpItem>(1024);
        let dump = self.ctx.store.dump(Box::new(move |item| {
            tx.blocking_send(item).map_err(|_| valv_store::StoreError::Backend("the backup stopped".into()))
        }));
        let id = uuid::Uuid::now_v7().simple().to_string();
        let mut w = Writer::new(self.targets.iter().cloned().collect(), id);
        let keys = self.keys(&backup);
        let consume = async {
            let (mut parts, mut kept) = (objects::Parts::default(), Kept::default());
            while let Some(item) = rx.recv().await {
                let chain = item.chain();
                if !kept.keeps(&keys, &chain).await? {
                    continue;
                }
                if let DumpItem::Row(Row::FileVersion(v)) = &item {
                    w.chunks.extend(v.chunks.iter().map(|c| (v.tenant_id.to_string(), c.id.clone())));
                }
                kept.digest.add_line(parts.push(chain, &item)?);
                w.items += 1;
                if parts.bytes >= PIECE {
                    self.write_piece(&mut w, std::mem::take(&mut parts), &backup).await?;
                    progress(w.items);
                }
            }
            if !parts.is_empty() {
                self.write_piece(&mut w, parts, &backup).await?;
            }
            ServiceResult::Ok(kept)
        };
        let (position, kept) = tokio::join!(dump, consume);
        let position = kept?.position(position?)?;
        progress(w.items);
        self.finish_snapshot(w, position, &backup).await
    }

    async fn write_piece(&self, w: &mut Writer, parts: objects::Parts, backup: &Key) -> ServiceResult<()> {
        let name = objects::piece(&w.id, w.pieces);
        let keys = self.chain_keys(parts.chains(), backup).await?;
        let sealed = Bytes::from(parts.seal(&name, &keys, backup)?);
        w.put_all(&name, sealed).await;
        w.pieces += 1;
        Ok(())
    }

    /// Copies chunks, then writes the manifest last.
    async fn finish_snapshot(&self, mut w: Writer, position: Position, backup: &Key) -> ServiceResult<SnapshotReport> {
        for t in w.live() {
            if let Err(e) = self.copy_chunk_set(&t, w.chunks.clone()).await {
                w.fail(t.name(), e.to_string());
            }
        }
        let mut refs = objects::Parts::default();
        for c in &w.chunks {
            refs.push(valv_store::backup::PROVIDER.to_owned(), c)?;
        }
        let name = chunks_object(&w.id);
        w.put_all(&name, Bytes::from(refs.seal(&name, &std::collections::HashMap::new(), backup)?)).await;
        let manifest = Manifest {
            id: w.id.clone(),
            position: position.clone(),
            taken_at: stamp(self.ctx.now()),
            pieces: w.pieces,
            items: w.items,
            chunks: w.chunks.len(),
        };
        let mut parts = objects::Parts::default();
        parts.push(valv_store::backup::PROVIDER.to_owned(), &manifest)?;
        let name = objects::manifest(&w.id);
        let keys = self.chain_keys(parts.chains(), backup).await?;
        w.put_all(&name, Bytes::from(parts.seal(&name, &keys, backup)?)).await;
        for t in w.live() {
            let _ = self.put_keyring(&t).await;
            let _ = self.put_ledger(&t, backup).await;
        }
        Ok(SnapshotReport {
            id: w.id.clone(),
            seq: position.seq,
            digest: position.digest,
            items: w.items,
            pieces: w.pieces,
            targets_written: w.live().iter().map(|t| t.name().to_owned()).collect(),
            targets_failed: w.failed,
        })
    }
}

/// What a snapshot keeps of the dump: everything but the remnants of
/// purged tenants (their journal entries, payloads blanked, whose key is
/// gone: review H3), and the digest of what it keeps, which a restore of the
/// snapshot reproduces.
#[derive(Default)]
struct Kept {
    chains: HashMap<String, bool>,
    digest: StateDigest,
}

impl Kept {
    async fn keeps(&mut self, keys: &objects::Keys<'_>, chain: &str) -> ServiceResult<bool> {
        if let Some(k) = self.chains.get(chain) {
            return Ok(*k);
        }
        let keep = keys.of(chain).await?.is_some();
        self.chains.insert(chain.to_owned(), keep);
        Ok(keep)
    }

    /// The position of the snapshot: the dump's, with the digest of what
    /// was kept. When nothing was left out the two digests are one
    /// definition over the same items, and must agree.
    fn position(self, dumped: Position) -> ServiceResult<Position> {
        let digest = self.digest.finish();
        let left_out = self.chains.values().any(|k| !k);
        if !left_out && digest != dumped.digest {
            return Err(crate::ServiceError::internal_msg("the snapshot's items and the store's digest disagree"));
        }
        Ok(Position { digest, ..dumped })
    }
}

/// The list of chunks (tenant, id) a snapshot's file versions use, for pruning.
pub(crate) fn chunks_object(id: &str) -> String {
    format!("snapshots/{id}/chunks")
}

/// Writes the same object to every target still working.
struct Writer {
    targets: Vec<Target>,
    failed: Vec<(String, String)>,
    id: String,
    pieces: usize,
    items: u64,
    chunks: BTreeSet<(String, String)>,
}

impl Writer {
    fn new(targets: Vec<Target>, id: String) -> Self {
        Self { targets, failed: Vec::new(), id, pieces: 0, items: 0, chunks: BTreeSet::new() }
    }

    fn live(&self) -> Vec<Target> {
        self.targets.iter().filter(|t| !self.failed.iter().any(|(n, _)| n == t.name())).cloned().collect()
    }

    fn fail(&mut self, name: &str, why: String) {
        tracing::warn!(target = name, error = %why, "full backup to this target failed");
        self.failed.push((name.to_owned(), why));
    }

    async fn put_all(&mut self, name: &str, bytes: Bytes) {
        for t in self.live() {
            if let Err(e) = t.put(name, bytes.clone()).await {
                self.fail(t.name(), e.to_string());
            }
        }
    }
}
