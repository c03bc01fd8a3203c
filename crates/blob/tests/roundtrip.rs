//! Files through a real (local folder) chunk store: write, dedup, ranged
//! reads, and damage that must surface as an error, never as wrong bytes.

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _, stream};
use sha2::{Digest as _, Sha256};
use valv_blob::{
    BlobError, ChunkStore, MAX_CHUNK, Manifest, TenantKeys, WriteStats, read_files, read_range, write_stream,
};
use valv_crypto::seal::Key;

/// Random-looking bytes, cheap to generate in large amounts.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[4]
        })
        .collect()
}

fn setup() -> (tempfile::TempDir, ChunkStore, TenantKeys) {
    let dir = tempfile::tempdir().unwrap();
    let store = ChunkStore::open(dir.path().to_str().unwrap()).unwrap();
    (dir, store, TenantKeys::new("tenant-a", &Key::from_bytes([5; 32])))
}

/// Writes `data` as a stream of uneven pieces.
async fn write(store: &ChunkStore, keys: &TenantKeys, data: &[u8]) -> (Manifest, WriteStats) {
    let pieces: Vec<Result<Bytes, std::io::Error>> =
        data.chunks(300_007).map(|p| Ok(Bytes::copy_from_slice(p))).collect();
    write_stream(store, keys, i64::MIN, stream::iter(pieces)).await.unwrap()
}

async fn read(store: &ChunkStore, keys: &TenantKeys, m: &Manifest, range: std::ops::Range<u64>) -> Vec<u8> {
    let parts: Vec<Bytes> = read_range(store.clone(), keys.clone(), m.clone(), range).try_collect().await.unwrap();
    parts.concat()
}

#[tokio::test]
async fn a_file_round_trips_whole_and_in_ranges() {
    let (_dir, store, keys) = setup();
    let data = noise(1, 5 * MAX_CHUNK / 2 + 12_345);
    let (m, stats) = write(&store, &keys, &data).await;
    assert_eq!(m.size, data.len() as u64);
    assert_eq!(m.sha256, hex::encode(Sha256::digest(&data)));
    assert!(m.chunks.len() >= 3, "several chunks, got {}", m.chunks.len());
    assert_eq!(m.chunks.iter().map(|c| u64::from(c.len)).sum::<u64>(), m.size);
    assert_eq!((stats.stored, stats.deduplicated), (m.chunks.len(), 0));
    assert_eq!(store.list("tenant-a").await.unwrap().len(), m.chunks.len());

    let first = u64::from(m.chunks[0].len);
    let second_end = first + u64::from(m.chunks[1].len);
    let size = m.size;
    let cases = [
        (0..size, "whole file"),
        (0..0, "empty range"),
        (size..size, "empty range at the end"),
        (10..20, "inside the first chunk"),
        (first - 5..first + 5, "across the first boundary"),
        (first..second_end, "exactly the second chunk"),
        (first / 2..size - 7, "mid-chunk to mid-chunk over several chunks"),
        (size - 1..size, "last byte"),
    ];
    for (range, case) in cases {
        let want = &data[range.start as usize..range.end as usize];
        assert!(read(&store, &keys, &m, range.clone()).await == want, "{case}: {range:?}");
    }
}

#[tokio::test]
async fn a_range_reads_only_the_chunks_it_overlaps() {
    let (_dir, store, keys) = setup();
    let data = noise(2, 3 * MAX_CHUNK / 2);
    let (m, _) = write(&store, &keys, &data).await;
    // Remove the last chunk: a range inside the first must not need it.
    store.delete("tenant-a", &m.chunks.last().unwrap().id).await.unwrap();
    assert_eq!(read(&store, &keys, &m, 0..100).await, &data[..100]);
    let all: Vec<_> = read_range(store.clone(), keys.clone(), m.clone(), 0..m.size).collect().await;
    let last = m.chunks.last().unwrap().id.clone();
    assert_eq!(all.last(), Some(&Err(BlobError::Missing { id: last })));
}

#[tokio::test]
async fn an_empty_file_has_no_chunks() {
    let (_dir, store, keys) = setup();
    let (m, stats) = write(&store, &keys, &[]).await;
    assert!(m.chunks.is_empty());
    assert_eq!((m.size, stats), (0, WriteStats::default()));
    assert_eq!(m.sha256, hex::encode(Sha256::digest(b"")));
    assert!(read(&store, &keys, &m, 0..0).await.is_empty());
}

/// Review M1: an orphan chunk (of an earlier, broken upload) reused by a
/// new upload must not keep its old age, or garbage collection could take
/// it before the upload commits. A chunk last written before the refresh
/// point is written again; a younger one is reused as before.
#[tokio::test]
async fn a_reused_chunk_older_than_the_refresh_point_is_written_again() {
    let (dir, store, keys) = setup();
    let data = noise(4, 2 * MAX_CHUNK);
    let (first, _) = write(&store, &keys, &data).await;
    let two_days = std::time::Duration::from_secs(2 * 86_400);
    for c in &first.chunks {
        let path = dir.path().join("chunks/tenant-a").join(&c.id.as_str()[..2]).join(c.id.as_str());
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(f.metadata().unwrap().modified().unwrap() - two_days).unwrap();
    }
    let aged = store.written_at("tenant-a", &first.chunks[0].id).await.unwrap().unwrap();
    let refresh_before = aged + 3_600;
    let again =
        |at| write_stream(&store, &keys, at, stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(data.clone()))]));
    let (second, stats) = again(refresh_before).await.unwrap();
    assert_eq!(second, first, "the same content, the same chunks");
    assert_eq!(stats.written, first.chunks.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), "all written again");
    for c in &first.chunks {
        assert!(store.written_at("tenant-a", &c.id).await.unwrap().unwrap() >= refresh_before, "young again");
    }
    let (_, stats) = again(refresh_before).await.unwrap();
    assert_eq!((stats.deduplicated, stats.written.len()), (first.chunks.len(), 0), "young chunks are reused");
}

#[tokio::test]
async fn writing_the_same_content_again_stores_nothing_new() {
    let (_dir, store, keys) = setup();
    let data = noise(3, 2 * MAX_CHUNK);
    let (first, stats) = write(&store, &keys, &data).await;
    assert!(stats.stored > 0 && stats.stored_bytes > 0);
    let (second, stats) = write(&store, &keys, &data).await;
    assert_eq!(second, first);
    assert_eq!(stats, WriteStats { deduplicated: first.chunks.len(), ..WriteStats::default() });

    // Another tenant with the same content shares nothing.
    let other = TenantKeys::new("tenant-b", &Key::from_bytes([6; 32]));
    let (theirs, stats) = write(&store, &other, &data).await;
    assert_eq!(stats.deduplicated, 0);
    assert!(theirs.chunks.iter().all(|c| first.chunks.iter().all(|f| f.id != c.id)), "ids differ per tenant");
}

#[tokio::test]
async fn a_corrupted_chunk_file_is_an_error_never_wrong_bytes() {
    let (dir, store, keys) = setup();
    let data = noise(4, 2 * MAX_CHUNK);
    let (m, _) = write(&store, &keys, &data).await;
    let victim = m.chunks[1].id.clone();
    let path = dir.path().join("chunks/tenant-a").join(&victim.as_str()[..2]).join(victim.as_str());
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();

    let items: Vec<_> = read_range(store.clone(), keys.clone(), m.clone(), 0..m.size).collect().await;
    assert_eq!(items.len(), 2, "the first chunk, then the error, then nothing");
    assert_eq!(items[0].as_ref().unwrap(), &data[..m.chunks[0].len as usize]);
    assert_eq!(items[1], Err(BlobError::Damaged { id: victim }));
}

#[tokio::test]
async fn a_chunk_swapped_for_another_is_damaged() {
    let (dir, store, keys) = setup();
    let (m, _) = write(&store, &keys, &noise(5, 2 * MAX_CHUNK)).await;
    let file = |i: usize| {
        let id = m.chunks[i].id.as_str();
        dir.path().join("chunks/tenant-a").join(&id[..2]).join(id)
    };
    std::fs::copy(file(0), file(1)).unwrap();
    let items: Vec<_> = read_range(store.clone(), keys.clone(), m.clone(), 0..m.size).collect().await;
    assert_eq!(items.last(), Some(&Err(BlobError::Damaged { id: m.chunks[1].id.clone() })));
}

#[tokio::test]
async fn bad_ranges_and_source_errors_are_reported() {
    let (_dir, store, keys) = setup();
    let (m, _) = write(&store, &keys, b"hello").await;
    let items: Vec<_> = read_range(store.clone(), keys.clone(), m.clone(), 2..6).collect().await;
    assert_eq!(items, vec![Err(BlobError::InvalidRange { start: 2, end: 6, size: 5 })]);
    let mut lying = m.clone();
    lying.size = 4;
    let items: Vec<_> = read_range(store.clone(), keys.clone(), lying, 0..4).collect().await;
    assert_eq!(items, vec![Err(BlobError::InvalidManifest)]);

    let failing = stream::iter(vec![Ok(Bytes::from_static(b"abc")), Err("connection reset")]);
    let err = write_stream(&store, &keys, i64::MIN, failing).await.unwrap_err();
    assert_eq!(err, BlobError::Source("connection reset".into()));
}

#[tokio::test]
async fn many_files_read_back_to_back_one_item_per_chunk() {
    let (_dir, store, keys) = setup();
    let files = [noise(6, 5 * MAX_CHUNK / 2), Vec::new(), b"small".to_vec(), noise(7, 300_000), noise(8, MAX_CHUNK)];
    let mut manifests = Vec::new();
    for data in &files {
        manifests.push(write(&store, &keys, data).await.0);
    }
    let counts: Vec<usize> = manifests.iter().map(|m| m.chunks.len()).collect();
    let mut chunks = std::pin::pin!(read_files(store.clone(), keys.clone(), manifests.clone()));
    for (data, count) in files.iter().zip(counts) {
        let parts: Vec<Bytes> = chunks.as_mut().take(count).try_collect().await.unwrap();
        assert_eq!(parts.concat(), *data, "file of {} bytes", data.len());
    }
    assert!(chunks.next().await.is_none(), "nothing after the last file");

    // A lying manifest or a missing chunk ends the stream with the error.
    let mut lying = manifests.clone();
    lying[2].size += 1;
    let items: Vec<_> = read_files(store.clone(), keys.clone(), lying).collect().await;
    assert_eq!(items.len(), manifests[0].chunks.len() + 1);
    assert_eq!(items.last(), Some(&Err(BlobError::InvalidManifest)));
    let gone = manifests[3].chunks[0].id.clone();
    store.delete("tenant-a", &gone).await.unwrap();
    let items: Vec<_> = read_files(store.clone(), keys.clone(), manifests).collect().await;
    assert_eq!(items.last(), Some(&Err(BlobError::Missing { id: gone })));
    assert!(items[..items.len() - 1].iter().all(Result::is_ok));
}
