//! Point-in-time restore of a whole installation into an empty store: the
//! keyring copy first (without it nothing opens), then the newest snapshot
//! taken at or before the instant, then every shipped entry up to the
//! instant, then the newest erasure ledger, then the chunks the restored file
//! versions use. Objects that are damaged on one target are read from the
//! next. Parts sealed with a destroyed tenant key are skipped: that tenant's
//! data is gone from every backup, as promised (crypto-shredding).

use std::sync::Arc;

use futures::StreamExt as _;
use tokio::sync::mpsc::Sender;

use time::OffsetDateTime;
use valv_backup_format::Target;
use valv_blob::{ChunkId, ChunkStore};
use valv_crypto::seal::Key;
use valv_domain::parse_stamp;
use valv_store::{DumpItem, KeyStore, LedgerRow, ReplayEntry, Store};

use super::apply::{Apply, Opened, Segment};
use super::objects::Keys;
use super::slot::StoreSlot;
use super::snapshot::Manifest;
use super::{internal, objects};
use crate::keyring::Keyring;
use crate::{ServiceError, ServiceResult};

/// What to restore, from where.
pub struct RestoreRequest {
    pub at: OffsetDateTime,
    /// The target to read; the others are read when an object is missing or damaged there.
    pub targets: Vec<Target>,
    pub master: Key,
}

/// What a restore did.
#[derive(Debug, Clone, serde::Serialize, Default)]
pub struct RestoreReport {
    pub snapshot: Option<String>,
    pub snapshot_seq: u64,
    pub replayed: u64,
    /// Journal position and instant of the restored state.
    pub seq: u64,
    pub at: String,
    pub chunks: u64,
    /// Parts whose tenant key was destroyed (shredded data).
    pub skipped_parts: usize,
    pub erasures: usize,
}

/// Restores the journaled state at `req.at` into `store`, `keys` and
/// `blobs` (all empty). `progress` gets a phase name, done and total. The
/// state alone is not ready to serve: the erasure ledger is not re-applied
/// and nothing is made durable. Drills and the restore's own tests compare
/// this state with the live one; an installation to serve comes from
/// [`super::restore_installation`] only.
///
/// # Errors
/// `restore_no_keyring`, `restore_wrong_key`, damaged objects on every target, store failures.
pub async fn restore(
    store: &StoreSlot,
    keys: Arc<dyn KeyStore>,
    blobs: &ChunkStore,
    req: &RestoreRequest,
    progress: &(dyn Fn(&str, u64, u64) + Sync),
) -> ServiceResult<RestoreReport> {
    let targets: Vec<&Target> = req.targets.iter().collect();
    let keyring = Arc::new(keyring(&targets, keys, &req.master).await?);
    store.seal_with(keyring.clone());
    let backup = keyring.backup_key().await.map_err(internal)?;
    let keys = Keys::restored(&keyring, backup.clone());
    let mut report = RestoreReport::default();
    if let Some(m) = base_snapshot(&targets, req.at, &backup).await? {
        report.skipped_parts += load_snapshot(store.get().await?.as_ref(), &targets, &m, &keys, progress).await?;
        (report.snapshot, report.snapshot_seq) = (Some(m.id), m.position.seq);
        (report.seq, report.at) = (m.position.seq, m.position.at);
    }
    replay(store, &targets, req.at, &keys, &mut report, progress).await?;
    let store = store.get().await?.as_ref();
    forget_purged_keys(store, &keyring).await?;
    let ledger = ledger(&targets, &keys).await?;
    covers_every_erasure(store, &ledger).await?;
    report.erasures = ledger.len();
    store.put_ledger(ledger).await?;
    report.chunks = copy_chunks(store, &targets, blobs, progress).await?;
    Ok(report)
}

/// The erasure ledger: the union of every target's copy. The ledger only
/// grows, so a target serving an older copy (rolled back by whoever can
/// write it, review S3) adds nothing false and hides nothing another holds.
async fn ledger(targets: &[&Target], keys: &Keys<'_>) -> ServiceResult<Vec<LedgerRow>> {
    let (mut all, mut read) = (std::collections::BTreeMap::new(), false);
    for t in targets {
        let Ok(parts) = objects::fetch(&[t], objects::LEDGER, &keys.backup).await else { continue };
        read = true;
        for row in objects::open_lines::<LedgerRow>(parts, objects::LEDGER, keys).await?.0 {
            all.entry(row.id.clone()).or_insert(row);
        }
    }
    // No ledger at all is fine when none was ever shipped (it comes with the first segment).
    if !read && any_has(targets, objects::LEDGER).await {
        return Err(ServiceError::internal_msg("the erasure ledger is damaged on every target"));
    }
    Ok(all.into_values().collect())
}

/// Refuses a ledger that lacks an erasure the restored journal records:
/// re-applying it would leave that person's data restored (GDPR Art. 17;
/// review S3, a ledger rolled back on the targets).
async fn covers_every_erasure(store: &dyn Store, ledger: &[LedgerRow]) -> ServiceResult<()> {
    let known: std::collections::HashSet<&str> = ledger.iter().map(|l| l.id.as_str()).collect();
    for t in store.tenants().await? {
        let q =
            valv_store::JournalQuery { action: Some("subject.erased".into()), limit: u32::MAX, ..Default::default() };
        for e in store.journal(valv_store::Chain::Tenant(t.id), &q).await? {
            if !known.contains(e.entity_id.as_str()) {
                return Err(ServiceError::Invalid {
                    code: "restore_ledger_behind",
                    message: format!(
                        "the journal records erasure {} but no target's erasure ledger holds it: a ledger was \
                         rolled back or lost, and restoring would bring that person's data back",
                        e.entity_id
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Destroys, in the restored keyring, the key of every tenant the restored
/// journal says was purged: a keyring copy older than the purge (rolled
/// back on a target, review S3) must not bring a destroyed key back.
async fn forget_purged_keys(store: &dyn Store, keyring: &Keyring) -> ServiceResult<()> {
    for t in store.tenants().await?.into_iter().filter(|t| t.purged_at.is_some()) {
        keyring.destroy(t.id).await.map_err(internal)?;
    }
    Ok(())
}

async fn any_has(targets: &[&Target], path: &str) -> bool {
    for t in targets {
        if t.exists(path).await.unwrap_or(false) {
            return true;
        }
    }
    false
}

async fn keyring(targets: &[&Target], keys: Arc<dyn KeyStore>, master: &Key) -> ServiceResult<Keyring> {
    let mut sealed = None;
    for t in targets {
        if let Ok(Some(b)) = t.get(objects::KEYRING).await {
            sealed = Some(b);
            break;
        }
    }
    let sealed = sealed.ok_or(ServiceError::Invalid {
        code: "restore_no_keyring",
        message: "no target holds a keyring copy; it is written with the first shipped segment".into(),
    })?;
    Keyring::restore_copy(keys.as_ref(), master, &sealed).await.map_err(|_| ServiceError::Invalid {
        code: "restore_wrong_key",
        message: "the master key does not open this backup's keyring; give the installation's master key".into(),
    })?;
    Keyring::open(keys, master.clone()).await.map_err(internal)
}

/// Loads a snapshot's pieces; returns the parts skipped (destroyed keys).
pub(crate) async fn load_snapshot(
    store: &dyn Store,
    targets: &[&Target],
    m: &Manifest,
    keys: &Keys<'_>,
    progress: &(dyn Fn(&str, u64, u64) + Sync),
) -> ServiceResult<usize> {
    let mut skipped_parts = 0;
    for n in 0..m.pieces {
        let name = objects::piece(&m.id, n);
        let parts = objects::fetch(targets, &name, &keys.backup).await?;
        let (items, skipped) = objects::open_lines::<DumpItem>(parts, &name, keys).await?;
        skipped_parts += skipped;
        store.load(items).await?;
        progress("snapshot", n as u64 + 1, m.pieces as u64);
    }
    Ok(skipped_parts)
}

/// Every complete snapshot on the targets, oldest first.
pub(crate) async fn manifests(targets: &[&Target], backup: &Key) -> ServiceResult<Vec<Manifest>> {
    let mut ids = std::collections::BTreeSet::new();
    for t in targets {
        if let Ok(list) = t.list("snapshots/").await {
            ids.extend(list.iter().filter_map(|(p, _)| objects::parse_manifest(p).map(str::to_owned)));
        }
    }
    let mut out = Vec::new();
    for id in ids {
        let name = objects::manifest(&id);
        let parts = objects::fetch(targets, &name, backup).await?;
        let (mut m, _) = objects::open_lines::<Manifest>(parts, &name, &Keys::provider_only(backup.clone())).await?;
        out.append(&mut m);
    }
    Ok(out)
}

/// The newest snapshot whose position lies at or before `at`.
async fn base_snapshot(targets: &[&Target], at: OffsetDateTime, backup: &Key) -> ServiceResult<Option<Manifest>> {
    let all = manifests(targets, backup).await?;
    Ok(all
        .into_iter()
        .filter(|m| m.position.at.is_empty() || parse_stamp(&m.position.at).is_ok_and(|t| t <= at))
        .max_by_key(|m| m.position.seq))
}

/// Replays shipped entries after the restored position up to `at`: the
/// segments are fetched and decrypted here, parsed on one thread
/// (`apply.rs`) and their entries sent to the store's writer as they are
/// parsed ([`Store::replay_all`]). A segment merged away while this
/// runs (`compact.rs` writes the merged segment, then removes its inputs) is
/// missing from the listing taken at the start: when entries are missing, the
/// segments are listed again and, if the listing changed, the replay goes on
/// from where it stands.
pub(crate) async fn replay(
    store: &StoreSlot,
    targets: &[&Target],
    at: OffsetDateTime,
    keys: &Keys<'_>,
    report: &mut RestoreReport,
    progress: &(dyn Fn(&str, u64, u64) + Sync),
) -> ServiceResult<()> {
    let (batches, queue) = tokio::sync::mpsc::channel(QUEUED);
    let writing = async { Ok::<_, ServiceError>(store.get().await?.replay_all(queue).await?) };
    let (read, written) = tokio::join!(read_all(batches, targets, at, keys, report, progress), writing);
    // A store that failed stopped the reading too: its error is the one to tell.
    written?;
    read
}

/// Batches of parsed entries waiting for the store; the reading stays this
/// far ahead of the writing at most.
const QUEUED: usize = 16;

/// Reads the segments up to `at` into `batches`; the store's writer ends
/// when this returns and `batches` is dropped.
async fn read_all(
    batches: Sender<Vec<ReplayEntry>>,
    targets: &[&Target],
    at: OffsetDateTime,
    keys: &Keys<'_>,
    report: &mut RestoreReport,
    progress: &(dyn Fn(&str, u64, u64) + Sync),
) -> ServiceResult<()> {
    let mut listing = segments(targets).await;
    for _ in 0..LISTINGS {
        let Some(missing) = replay_listed(&batches, targets, &listing, at, keys, report, progress).await? else {
            return Ok(());
        };
        let now = segments(targets).await;
        if now == listing {
            return Err(missing);
        }
        listing = now;
    }
    Err(ServiceError::internal_msg("the segments on the targets kept changing during the restore; run it again"))
}

/// How often a replay lists the segments again before it gives up.
const LISTINGS: usize = 5;

/// Every segment on the targets, by range.
type Listing = std::collections::BTreeSet<((u64, u64), String)>;

async fn segments(targets: &[&Target]) -> Listing {
    let mut names = Listing::new();
    for t in targets {
        if let Ok(list) = objects::list_segments(t).await {
            names.extend(list.into_iter().map(|(p, r)| (r, p)));
        }
    }
    names
}

/// Replays from the segments in `listing`. Returns why entries are missing
/// (with every entry before the gap sent to the store), or `None` once done.
async fn replay_listed(
    batches: &Sender<Vec<ReplayEntry>>,
    targets: &[&Target],
    listing: &Listing,
    at: OffsetDateTime,
    keys: &Keys<'_>,
    report: &mut RestoreReport,
    progress: &(dyn Fn(&str, u64, u64) + Sync),
) -> ServiceResult<Option<ServiceError>> {
    let todo: Vec<_> = listing.iter().filter(|((_, last), _)| *last > report.seq).collect();
    let total = todo.len() as u64;
    let (opened, segments) = tokio::sync::mpsc::channel(SEGMENTS_AHEAD);
    let (done, mut segments_done) = tokio::sync::mpsc::unbounded_channel();
    let apply = Apply { batches: batches.clone(), at, report: std::mem::take(report) };
    let applying = tokio::task::spawn_blocking(move || apply.run(segments, &done));
    let telling = async {
        while let Some(n) = segments_done.recv().await {
            progress("journal", n, total);
        }
    };
    // The segments ahead are fetched and decrypted here while the thread applies the one before.
    let (applied, (), ()) = tokio::join!(applying, open_all(&todo, targets, keys, opened), telling);
    let (applied, missing) = applied.map_err(internal)?;
    *report = applied;
    missing
}

/// Fetches and decrypts the segments of `todo`, a few at a time, and passes
/// them on to `out` in order; stops early when `out` is dropped.
async fn open_all(todo: &[&((u64, u64), String)], targets: &[&Target], keys: &Keys<'_>, out: Sender<Segment>) {
    let mut pending = todo.iter();
    let mut opening: futures::stream::FuturesOrdered<Opening<'_>> = futures::stream::FuturesOrdered::new();
    loop {
        while opening.len() < FETCHING
            && let Some((range, name)) = pending.next()
        {
            opening.push_back(Box::pin(open_segment(targets, keys, *range, name)));
        }
        let Some(segment) = opening.next().await else { return };
        if out.send(segment).await.is_err() {
            return;
        }
    }
}

/// A segment being fetched and decrypted.
type Opening<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Segment> + Send + 'a>>;

async fn open_segment(targets: &[&Target], keys: &Keys<'_>, range: (u64, u64), name: &str) -> Segment {
    let opened = async {
        let parts = objects::fetch(targets, name, &keys.backup).await?;
        objects::open_streams(parts, name, keys).await
    };
    let (parts, skipped) = opened.await.map_err(|e| (range.1, e))?;
    Ok(Opened { range, name: name.to_owned(), parts, skipped })
}

/// Segments fetched and decrypted at once.
const FETCHING: usize = 4;

/// Segments decrypted and waiting for the thread that applies them.
const SEGMENTS_AHEAD: usize = 16;

/// Copies the chunks of every restored file version into the new chunk store.
async fn copy_chunks(
    store: &dyn Store,
    targets: &[&Target],
    blobs: &ChunkStore,
    progress: &(dyn Fn(&str, u64, u64) + Sync),
) -> ServiceResult<u64> {
    let mut wanted = Vec::new();
    for t in store.tenants().await?.into_iter().filter(|t| t.purged_at.is_none()) {
        for f in store.all_files(t.id).await? {
            for v in store.file_versions(t.id, f.id).await? {
                wanted.extend(v.chunks.into_iter().map(|c| (t.id.to_string(), c.id)));
            }
        }
    }
    wanted.sort();
    wanted.dedup();
    let total = wanted.len() as u64;
    for (n, (tenant, id)) in wanted.iter().enumerate() {
        let chunk = ChunkId::parse(id).map_err(internal)?;
        if !blobs.has(tenant, &chunk).await.map_err(internal)? {
            let path = objects::chunk(tenant, id);
            let mut got = None;
            for t in targets {
                if let Ok(Some(b)) = t.get(&path).await {
                    got = Some(b);
                    break;
                }
            }
            let bytes = got.ok_or_else(|| ServiceError::internal_msg(format!("chunk {path} is on no target")))?;
            blobs.put(tenant, &chunk, bytes).await.map_err(internal)?;
        }
        progress("chunks", n as u64 + 1, total);
    }
    Ok(total)
}
