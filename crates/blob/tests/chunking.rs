//! Property tests of chunking as dedup sees it: a small edit (overwrite,
//! insertion or deletion of a few bytes) in a large file changes only the
//! chunks around it, and never one before it.

use std::collections::HashSet;

use proptest::prelude::*;
use valv_blob::{ChunkId, Chunker, TenantKeys};
use valv_crypto::seal::Key;

const EDITS: usize = 8;

/// `(id, length)` of each chunk of `data` cut with small (1/4/16 KiB) chunks.
fn chunks(keys: &TenantKeys, data: &[u8], piece: usize) -> Result<Vec<(ChunkId, usize)>, TestCaseError> {
    let mut chunker = Chunker::with_sizes(1024, 4096, 16384).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut out = Vec::new();
    for p in data.chunks(piece) {
        out.extend(chunker.push(p));
    }
    out.extend(chunker.finish());
    Ok(out.iter().map(|c| (keys.chunk_id(c), c.len())).collect())
}

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

/// One edit: at a fraction of the file, remove some bytes and insert others.
fn edit() -> impl Strategy<Value = (f64, usize, Vec<u8>)> {
    (0.0f64..1.0, 0usize..12, proptest::collection::vec(any::<u8>(), 0..12))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a_small_edit_changes_only_a_few_chunks(
        seed in any::<u64>(),
        len in (256usize << 10)..(1536 << 10),
        edits in proptest::collection::vec(edit(), EDITS),
        piece in 1usize..100_000,
    ) {
        let keys = TenantKeys::new("t", &Key::from_bytes([9; 32]));
        let original = noise(seed, len);
        let before = chunks(&keys, &original, piece)?;
        let known: HashSet<&ChunkId> = before.iter().map(|(id, _)| id).collect();
        let mut total_changed = 0;
        for (at, removed, inserted) in edits {
            let start = ((len - removed) as f64 * at) as usize;
            let mut edited = original.clone();
            edited.splice(start..start + removed, inserted);
            if edited == original {
                continue;
            }
            let after = chunks(&keys, &edited, piece)?;
            let changed = after.iter().filter(|(id, _)| !known.contains(id)).count();
            prop_assert!(changed >= 1, "the edit at {start} must show up somewhere");
            // Cut points depend only on the bytes since the last cut, so every
            // chunk that ends before the edit is cut exactly as before - unless
            // the end of the data is less than one maximum chunk away from the
            // chunk's start, where FastCDC narrows its window to what is left.
            let shortest = original.len().min(edited.len());
            let untouched = before.iter().scan(0, |end, (_, n)| { let s = *end; *end += n; Some((s, *end)) })
                .take_while(|&(s, end)| end < start && s + 16384 < shortest).count();
            prop_assert_eq!(&after[..untouched], &before[..untouched], "chunks before the edit");
            total_changed += changed;
        }
        // One chunk changes for most edits; now and then the cut points take a
        // few chunks to fall back in step. Bounded on average so a rare long
        // resynchronisation cannot make the test flaky.
        prop_assert!(total_changed <= 3 * EDITS, "{total_changed} chunks changed for {EDITS} small edits");
    }
}
