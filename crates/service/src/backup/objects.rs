//! Names of backup objects and how their parts are laid out: JSON lines per
//! chain, so each chain's part can be sealed with that chain's key.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde::de::DeserializeOwned;
use valv_backup_format::{Part, SealedPart, Target};
use valv_crypto::seal::Key;

use valv_store::Store;

use super::internal;
use crate::keyring::{Keyring, KeyringError};
use crate::{ServiceError, ServiceResult};

pub(crate) const KEYRING: &str = "keyring";
pub(crate) const LEDGER: &str = "ledger";

pub(crate) fn segment(first: u64, last: u64) -> String {
    format!("segments/{first:020}-{last:020}")
}

/// `(first_seq, last_seq)` of a segment's path.
fn parse_segment(path: &str) -> Option<(u64, u64)> {
    let (a, b) = path.strip_prefix("segments/")?.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The segments on `target`: name and `(first_seq, last_seq)` each.
pub(crate) async fn list_segments(target: &Target) -> ServiceResult<Vec<(String, (u64, u64))>> {
    let listed = target.list("segments/").await.map_err(internal)?;
    Ok(listed.into_iter().filter_map(|(p, _)| parse_segment(&p).map(|r| (p, r))).collect())
}

/// Snapshots are named by a time-ordered id; the manifest holds their position.
pub(crate) fn piece(id: &str, n: usize) -> String {
    format!("snapshots/{id}/piece-{n:06}")
}

pub(crate) fn manifest(id: &str) -> String {
    format!("snapshots/{id}/manifest")
}

/// The snapshot id of a manifest's path.
pub(crate) fn parse_manifest(path: &str) -> Option<&str> {
    path.strip_prefix("snapshots/")?.strip_suffix("/manifest")
}

/// Where a chunk lives on a target: the same path as in the live chunk store.
pub(crate) fn chunk(tenant: &str, id: &str) -> String {
    format!("chunks/{tenant}/{}/{id}", id.get(..2).unwrap_or("00"))
}

/// Chunks (tenant, id) of the file versions a journal payload wrote.
pub(crate) fn file_chunks(payload: &[u8]) -> Vec<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Payload {
        #[serde(default)]
        rows: Vec<valv_store::Row>,
    }
    let Ok(p) = serde_json::from_slice::<Payload>(payload) else { return Vec::new() };
    let mut out = Vec::new();
    for row in p.rows {
        if let valv_store::Row::FileVersion(v) = row {
            out.extend(v.chunks.into_iter().map(|c| (v.tenant_id.to_string(), c.id)));
        }
    }
    out
}

/// Items grouped into one JSON-lines part per chain.
#[derive(Default)]
pub(crate) struct Parts {
    by_chain: BTreeMap<String, Vec<u8>>,
    pub(crate) bytes: usize,
}

impl Parts {
    /// Adds `item` as a line of `chain`'s part; the line written.
    pub(crate) fn push<T: Serialize>(&mut self, chain: String, item: &T) -> ServiceResult<&[u8]> {
        let buf = self.by_chain.entry(chain).or_default();
        let before = buf.len();
        serde_json::to_writer(&mut *buf, item).map_err(internal)?;
        buf.push(b'\n');
        self.bytes += buf.len() - before;
        Ok(&buf[before..])
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_chain.is_empty()
    }

    pub(crate) fn chains(&self) -> impl Iterator<Item = &String> {
        self.by_chain.keys()
    }

    /// Seals the parts as object `name`, each with its chain's key from
    /// [`Keys::of_each`]; a purged tenant's part is left out.
    pub(crate) fn seal(self, name: &str, keys: &HashMap<String, Option<Key>>, backup: &Key) -> ServiceResult<Vec<u8>> {
        let parts: Vec<Part> = self
            .by_chain
            .into_iter()
            .filter(|(chain, _)| !matches!(keys.get(chain), Some(None)))
            .map(|(chain, plain)| Part { chain, plain })
            .collect();
        valv_backup_format::seal(name, &parts, |c| keys.get(c).cloned().flatten(), backup).map_err(internal)
    }
}

/// The keys that seal and open parts: the backup key for the provider's
/// chain, the tenant's own key for a tenant's chain, never the backup key
/// for a tenant's (review H3: crypto-shredding must reach every backup).
pub(crate) struct Keys<'a> {
    keyring: Option<&'a Keyring>,
    /// The live store, to tell a purged tenant (its key destroyed on purpose)
    /// from a tenant whose key should be there. `None` in a restore: a key
    /// the restored keyring lacks was destroyed before that copy was made.
    live: Option<&'a dyn Store>,
    pub(crate) backup: Key,
}

impl<'a> Keys<'a> {
    /// The keys of the running installation.
    pub(crate) fn live(keyring: &'a Keyring, store: &'a dyn Store, backup: Key) -> Self {
        Self { keyring: Some(keyring), live: Some(store), backup }
    }

    /// The keys of a restored keyring.
    pub(crate) fn restored(keyring: &'a Keyring, backup: Key) -> Self {
        Self { keyring: Some(keyring), live: None, backup }
    }

    /// The backup key alone, for objects of the provider's chain only.
    pub(crate) fn provider_only(backup: Key) -> Self {
        Self { keyring: None, live: None, backup }
    }

    /// The key of `chain`; `None` when the chain's tenant was purged (its
    /// key is gone by design: its parts are neither written nor read).
    ///
    /// # Errors
    /// A tenant's key that should be there and is missing or damaged, or a
    /// chain that names no tenant: the backup stops rather than seal that
    /// tenant's data with a key that outlives it.
    pub(crate) async fn of(&self, chain: &str) -> ServiceResult<Option<Key>> {
        if chain == valv_store::backup::PROVIDER {
            return Ok(Some(self.backup.clone()));
        }
        let Some(keyring) = self.keyring else { return Ok(None) };
        let tenant = valv_domain::TenantId::parse(chain)
            .map_err(|_| ServiceError::internal_msg(format!("backup chain '{chain}' names no tenant")))?;
        // Asked of the store first: another process may have purged the tenant while this
        // one still holds its key in memory.
        if let Some(store) = self.live
            && store.tenant(tenant).await?.is_some_and(|t| t.purged_at.is_some())
        {
            return Ok(None);
        }
        match keyring.key(tenant).await {
            Ok(key) => Ok(Some(key)),
            // In a restore, a key the restored keyring lacks was destroyed before its copy was made.
            Err(KeyringError::Missing(_)) if self.live.is_none() => Ok(None),
            Err(e) => Err(ServiceError::internal_msg(format!("tenant {tenant}'s data cannot be backed up: {e}"))),
        }
    }

    /// The key of each of `chains`, as [`Self::of`].
    pub(crate) async fn of_each<'c>(
        &self,
        chains: impl Iterator<Item = &'c String>,
    ) -> ServiceResult<HashMap<String, Option<Key>>> {
        let mut keys = HashMap::new();
        for c in chains {
            if !keys.contains_key(c) {
                keys.insert(c.clone(), self.of(c).await?);
            }
        }
        Ok(keys)
    }
}

/// Parses the lines of each readable part of object `name`; parts whose key
/// is gone (a purged tenant) are skipped and counted. The decrypting and
/// parsing run on the blocking pool, not on the server's async threads.
pub(crate) async fn open_lines<T: DeserializeOwned + Send + 'static>(
    parts: Vec<SealedPart>,
    name: &str,
    keys: &Keys<'_>,
) -> ServiceResult<(Vec<T>, usize)> {
    let (plains, skipped) = open_parts(parts, name, keys).await?;
    tokio::task::spawn_blocking(move || {
        let lines = plains.iter().flat_map(|p| p.split(|b| *b == b'\n').filter(|l| !l.is_empty()));
        let out = lines.map(|l| serde_json::from_slice(l).map_err(internal)).collect::<ServiceResult<Vec<T>>>()?;
        Ok((out, skipped))
    })
    .await
    .map_err(internal)?
}

/// The plaintext of each readable part of object `name`, and how many parts
/// were skipped because their key is gone (a purged tenant). Decrypting runs
/// on the blocking pool.
pub(crate) async fn open_parts(
    parts: Vec<SealedPart>,
    name: &str,
    keys: &Keys<'_>,
) -> ServiceResult<(Vec<Vec<u8>>, usize)> {
    open_each(parts, name, keys, SealedPart::open).await
}

/// Each readable part of object `name` as a stream decompressed as it is
/// read ([`valv_backup_format::PartStream`]), and how many parts were skipped, as
/// [`open_parts`]; only the decrypting is done here.
pub(crate) async fn open_streams(
    parts: Vec<SealedPart>,
    name: &str,
    keys: &Keys<'_>,
) -> ServiceResult<(Vec<valv_backup_format::PartStream>, usize)> {
    open_each(parts, name, keys, SealedPart::open_stream).await
}

/// Opens each part with its chain's key by `open`, on the blocking pool.
async fn open_each<T: Send + 'static>(
    parts: Vec<SealedPart>,
    name: &str,
    keys: &Keys<'_>,
    open: fn(&SealedPart, &str, &Key) -> Result<T, valv_backup_format::CodecError>,
) -> ServiceResult<(Vec<T>, usize)> {
    let mut skipped = 0;
    let mut keyed = Vec::with_capacity(parts.len());
    for p in parts {
        if let Some(key) = keys.of(&p.chain).await? {
            keyed.push((p, key));
        } else {
            skipped += 1;
        }
    }
    let name = name.to_owned();
    tokio::task::spawn_blocking(move || {
        let opened = keyed.into_iter().map(|(p, key)| {
            open(&p, &name, &key).map_err(|e| internal(anyhow::anyhow!("part '{}' of {name}: {e}", p.chain)))
        });
        Ok((opened.collect::<ServiceResult<Vec<T>>>()?, skipped))
    })
    .await
    .map_err(internal)?
}

/// Reads an object from the first target that has a good copy; returns its
/// parts, still sealed with their chains' keys.
pub(crate) async fn fetch(targets: &[&Target], path: &str, backup: &Key) -> ServiceResult<Vec<SealedPart>> {
    let mut why = format!("{path} is on no target");
    for t in targets {
        match t.get(path).await {
            Ok(Some(b)) => match valv_backup_format::open(path, &b, backup) {
                Ok(parts) => return Ok(parts),
                Err(_) => why = format!("{path} on target '{}' is damaged", t.name()),
            },
            Ok(None) => {}
            Err(e) => why = e.to_string(),
        }
        tracing::warn!(target = t.name(), object = path, "{why}; trying the next target");
    }
    Err(crate::ServiceError::internal_msg(why))
}
