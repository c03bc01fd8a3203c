//! Names of backup objects and how their parts are laid out: JSON lines per
//! chain, so each chain's part can be sealed with that chain's key.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde::de::DeserializeOwned;
use valv_backup::{Part, SealedPart, Target};
use valv_crypto::seal::Key;

use super::internal;
use crate::ServiceResult;

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
    pub(crate) fn push<T: Serialize>(&mut self, chain: String, item: &T) -> ServiceResult<()> {
        let buf = self.by_chain.entry(chain).or_default();
        let before = buf.len();
        serde_json::to_writer(&mut *buf, item).map_err(internal)?;
        buf.push(b'\n');
        self.bytes += buf.len() - before;
        Ok(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_chain.is_empty()
    }

    pub(crate) fn chains(&self) -> impl Iterator<Item = &String> {
        self.by_chain.keys()
    }

    /// Seals the parts as object `name`.
    pub(crate) fn seal(self, name: &str, keys: &HashMap<String, Key>, backup: &Key) -> ServiceResult<Vec<u8>> {
        let parts: Vec<Part> = self.by_chain.into_iter().map(|(chain, plain)| Part { chain, plain }).collect();
        valv_backup::seal(name, &parts, |c| keys.get(c).cloned(), backup).map_err(internal)
    }
}

/// The keys that open parts: the backup key for the provider's, the
/// tenant's key (from `keyring`, when given) for a tenant's.
pub(crate) struct Keys<'a> {
    pub(crate) keyring: Option<&'a crate::keyring::Keyring>,
    pub(crate) backup: Key,
}

impl Keys<'_> {
    pub(crate) async fn of(&self, chain: &str) -> Option<Key> {
        if chain == valv_store::backup::PROVIDER {
            return Some(self.backup.clone());
        }
        let tenant = valv_domain::TenantId::parse(chain).ok()?;
        self.keyring?.key(tenant).await.ok()
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
/// read ([`valv_backup::PartStream`]), and how many parts were skipped, as
/// [`open_parts`]; only the decrypting is done here.
pub(crate) async fn open_streams(
    parts: Vec<SealedPart>,
    name: &str,
    keys: &Keys<'_>,
) -> ServiceResult<(Vec<valv_backup::PartStream>, usize)> {
    open_each(parts, name, keys, SealedPart::open_stream).await
}

/// Opens each part with its chain's key by `open`, on the blocking pool.
async fn open_each<T: Send + 'static>(
    parts: Vec<SealedPart>,
    name: &str,
    keys: &Keys<'_>,
    open: fn(&SealedPart, &str, &Key) -> Result<T, valv_backup::CodecError>,
) -> ServiceResult<(Vec<T>, usize)> {
    let mut keyed = Vec::with_capacity(parts.len());
    for p in parts {
        let key = keys.of(&p.chain).await;
        keyed.push((p, key));
    }
    let (name, backup) = (name.to_owned(), keys.backup.clone());
    tokio::task::spawn_blocking(move || {
        let opened = keyed.into_iter().map(|(p, key)| match key.map(|k| open(&p, &name, &k)) {
            Some(Ok(plain)) => Some(plain),
            // Purged tenants' remnants were sealed with the backup key.
            _ => open(&p, &name, &backup).ok(),
        });
        let opened: Vec<Option<T>> = opened.collect();
        let skipped = opened.iter().filter(|p| p.is_none()).count();
        (opened.into_iter().flatten().collect(), skipped)
    })
    .await
    .map_err(internal)
}

/// Reads an object from the first target that has a good copy; returns its
/// parts, still sealed with their chains' keys.
pub(crate) async fn fetch(targets: &[&Target], path: &str, backup: &Key) -> ServiceResult<Vec<SealedPart>> {
    let mut why = format!("{path} is on no target");
    for t in targets {
        match t.get(path).await {
            Ok(Some(b)) => match valv_backup::open(path, &b, backup) {
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
