//! Whole files in and out: [`write_stream`] chunks, dedups, seals and stores a
//! byte stream as it arrives; [`read_range`] streams any byte range back,
//! fetching and verifying only the chunks it needs, a few ahead; [`read_files`]
//! streams many whole files back to back.

use std::ops::Range;

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use sha2::{Digest as _, Sha256};

use crate::chunker::Chunker;
use crate::error::BlobError;
use crate::id::ChunkId;
use crate::keys::TenantKeys;
use crate::store::ChunkStore;

/// One chunk of a file, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkRef {
    /// The chunk's keyed content address.
    pub id: ChunkId,
    /// Plaintext length of the chunk in bytes.
    pub len: u32,
}

/// What is needed to read a file back: its chunks and a checksum of the whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The chunks, in file order.
    pub chunks: Vec<ChunkRef>,
    /// Total length in bytes.
    pub size: u64,
    /// SHA-256 of the whole content, lowercase hex.
    pub sha256: String,
}

/// What one [`write_stream`] call did to the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Chunks sealed and uploaded because the tenant did not hold them yet
    /// (or held them written before the refresh point, see [`write_stream`]).
    pub stored: usize,
    /// Chunks the tenant already held, so nothing was uploaded.
    pub deduplicated: usize,
    /// Bytes uploaded (sealed, compressed size).
    pub stored_bytes: u64,
    /// The chunks this call wrote itself: the only ones a refused upload
    /// may delete at once (a chunk it reused may be another upload's).
    pub written: Vec<ChunkId>,
}

/// Chunks, dedups, seals and stores `stream` for the tenant of `keys`.
///
/// Memory stays bounded (a few chunks) whatever the stream's length, as long
/// as the stream's own items are bounded. Hashing and sealing run off the
/// async executor.
///
/// A chunk the tenant holds already is reused, unless it was last written
/// before `refresh_before` (Unix seconds): then it is written again, so its
/// age is that of this upload. Garbage collection deletes unreferenced
/// chunks older than its grace period; without the refresh, a chunk an
/// upload under way reuses (an orphan of an earlier, broken upload of the
/// same bytes) could be collected before the upload commits (review M1).
///
/// # Errors
/// [`BlobError::Source`] when the stream yields an error, or any store error.
/// Chunks stored before an error stay in the store for garbage collection.
pub async fn write_stream<S, E>(
    store: &ChunkStore,
    keys: &TenantKeys,
    refresh_before: i64,
    mut stream: S,
) -> Result<(Manifest, WriteStats), BlobError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut chunker = Chunker::new();
    let mut writer = Writer { store, keys, refresh_before, chunks: Vec::new(), stats: WriteStats::default() };
    let mut sha = Sha256::new();
    let mut size = 0u64;
    while let Some(item) = stream.next().await {
        let data = item.map_err(|e| BlobError::Source(e.to_string()))?;
        sha.update(&data);
        size += data.len() as u64;
        // Push at most one chunk's worth at a time so a huge item never
        // turns into many chunks held at once.
        for piece in data.chunks(chunker.max_size()) {
            for chunk in chunker.push(piece) {
                writer.store_chunk(chunk).await?;
            }
        }
    }
    for chunk in chunker.finish() {
        writer.store_chunk(chunk).await?;
    }
    let manifest = Manifest { chunks: writer.chunks, size, sha256: hex::encode(sha.finalize()) };
    Ok((manifest, writer.stats))
}

/// The state of one [`write_stream`] call.
struct Writer<'a> {
    store: &'a ChunkStore,
    keys: &'a TenantKeys,
    refresh_before: i64,
    chunks: Vec<ChunkRef>,
    stats: WriteStats,
}

impl Writer<'_> {
    async fn store_chunk(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        let len = u32::try_from(chunk.len()).map_err(|_| BlobError::Internal("chunk above 4 GiB".into()))?;
        let keys = self.keys.clone();
        let (id, chunk) = tokio::task::spawn_blocking(move || (keys.chunk_id(&chunk), chunk)).await?;
        let tenant = self.keys.tenant();
        match self.store.written_at(tenant, &id).await? {
            Some(at) if at >= self.refresh_before => self.stats.deduplicated += 1,
            _ => {
                let (keys, sealed_id) = (self.keys.clone(), id.clone());
                let sealed = tokio::task::spawn_blocking(move || keys.seal_chunk(&sealed_id, &chunk)).await?;
                self.stats.stored += 1;
                self.stats.stored_bytes += sealed.len() as u64;
                self.store.put_unchecked(tenant, &id, Bytes::from(sealed)).await?;
                self.stats.written.push(id.clone());
            }
        }
        self.chunks.push(ChunkRef { id, len });
        Ok(())
    }
}

/// One chunk to fetch for a range, and which of its bytes to yield.
struct Part {
    id: ChunkId,
    len: usize,
    within: Range<usize>,
}

/// Streams exactly the bytes `range` of the file described by `manifest`.
///
/// Only chunks overlapping the range are fetched, a few ahead of the reader,
/// and each is verified before any of its bytes are yielded. The stream ends
/// after the first error.
///
/// # Errors
/// Yields [`BlobError::InvalidRange`] for a range outside the file,
/// [`BlobError::InvalidManifest`] for chunk lengths that disagree with the
/// size, [`BlobError::Missing`], [`BlobError::Damaged`] or a store error.
pub fn read_range(
    store: ChunkStore,
    keys: TenantKeys,
    manifest: Manifest,
    range: Range<u64>,
) -> impl Stream<Item = Result<Bytes, BlobError>> + Send + 'static {
    let parts = match plan(manifest, &range) {
        Ok(parts) => parts.into_iter().map(Ok).collect(),
        Err(e) => vec![Err(e)],
    };
    fetch_ahead(store, keys, parts.into_iter())
}

/// Streams several whole files back to back: exactly one item per chunk of
/// each manifest, in order (so a reader takes `manifest.chunks.len()` items
/// per file). Chunks are fetched ahead across file boundaries, which keeps
/// many small files from each waiting for its own first read.
///
/// # Errors
/// As [`read_range`]; the stream ends after the first error.
pub fn read_files(
    store: ChunkStore,
    keys: TenantKeys,
    manifests: impl IntoIterator<Item = Manifest, IntoIter: Send + 'static>,
) -> impl Stream<Item = Result<Bytes, BlobError>> + Send + 'static {
    let parts = manifests.into_iter().flat_map(|m| {
        let total: u64 = m.chunks.iter().map(|c| u64::from(c.len)).sum();
        if total != m.size {
            return vec![Err(BlobError::InvalidManifest)];
        }
        m.chunks.into_iter().map(|c| Ok(Part { id: c.id, len: c.len as usize, within: 0..c.len as usize })).collect()
    });
    fetch_ahead(store, keys, parts)
}

/// Fetches `parts` [`READ_AHEAD`] at a time (opening a chunk runs on the
/// blocking pool, so reading ahead keeps the cores busy while the reader
/// writes), in order, ending after the first error.
fn fetch_ahead(
    store: ChunkStore,
    keys: TenantKeys,
    parts: impl Iterator<Item = Result<Part, BlobError>> + Send + 'static,
) -> impl Stream<Item = Result<Bytes, BlobError>> + Send + 'static {
    futures::stream::iter(parts)
        .map(move |part| {
            let (store, keys) = (store.clone(), keys.clone());
            async move { fetch(&store, &keys, part?).await }
        })
        .buffered(READ_AHEAD)
        .scan(false, |failed, item| {
            // Nothing after the first error.
            let out = (!*failed).then_some(item);
            *failed |= out.as_ref().is_some_and(Result::is_err);
            futures::future::ready(out)
        })
}

/// Chunks fetched ahead of the reader (at most 4 MiB each, sealed and opened).
const READ_AHEAD: usize = 6;

/// The chunks overlapping `range` and the slice of each to yield.
fn plan(manifest: Manifest, range: &Range<u64>) -> Result<Vec<Part>, BlobError> {
    let total: u64 = manifest.chunks.iter().map(|c| u64::from(c.len)).sum();
    if total != manifest.size {
        return Err(BlobError::InvalidManifest);
    }
    if range.start > range.end || range.end > manifest.size {
        return Err(BlobError::InvalidRange { start: range.start, end: range.end, size: manifest.size });
    }
    let mut parts = Vec::new();
    let mut offset = 0u64;
    for chunk in manifest.chunks {
        let (start, end) = (offset, offset + u64::from(chunk.len));
        offset = end;
        if end <= range.start || start >= range.end {
            continue;
        }
        // Both bounds are within one chunk, so they fit in usize.
        let from = usize::try_from(range.start.saturating_sub(start)).map_err(|_| BlobError::InvalidManifest)?;
        let to = usize::try_from(range.end.min(end) - start).map_err(|_| BlobError::InvalidManifest)?;
        parts.push(Part { id: chunk.id, len: chunk.len as usize, within: from..to });
    }
    Ok(parts)
}

/// Fetches, opens and verifies one chunk and returns the wanted slice of it.
async fn fetch(store: &ChunkStore, keys: &TenantKeys, part: Part) -> Result<Bytes, BlobError> {
    let Part { id, len, within } = part;
    let sealed = store.get(keys.tenant(), &id).await?;
    let keys = keys.clone();
    let plain = tokio::task::spawn_blocking(move || keys.open_chunk(&id, &sealed, len)).await??;
    if plain.len() != len {
        return Err(BlobError::InvalidManifest);
    }
    Ok(Bytes::from(plain).slice(within))
}
