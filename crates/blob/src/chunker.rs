//! Streaming content-defined chunking (FastCDC 2020, normalisation level 1).
//!
//! Cut points depend only on content, so the same bytes cut the same way in
//! every upload and dedup works across files and versions. The streaming
//! chunker emits exactly the chunks that one-shot FastCDC over the whole input
//! would: a cut from a chunk start is final once `max` bytes follow that start,
//! because FastCDC never looks further than `max` bytes ahead.

use bytes::{Bytes, BytesMut};
use fastcdc::v2020::{self, FastCDC};

use crate::error::BlobError;

/// Smallest chunk (except the last one of a stream).
pub const MIN_CHUNK: usize = 256 * 1024;
/// Target average chunk size.
pub const AVG_CHUNK: usize = 1024 * 1024;
/// Largest chunk. [`crate::TenantKeys::open_chunk`] refuses anything bigger.
pub const MAX_CHUNK: usize = 4 * 1024 * 1024;

/// Splits a byte stream into content-defined chunks, holding less than
/// `2 × max` bytes at any time whatever the input length.
pub struct Chunker {
    min: u32,
    avg: u32,
    max: u32,
    buf: BytesMut,
}

impl std::fmt::Debug for Chunker {
    // Never prints the buffered content.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunker")
            .field("min", &self.min)
            .field("avg", &self.avg)
            .field("max", &self.max)
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl Default for Chunker {
    fn default() -> Self {
        Self::new()
    }
}

impl Chunker {
    /// A chunker with the production sizes [`MIN_CHUNK`], [`AVG_CHUNK`], [`MAX_CHUNK`].
    #[must_use]
    pub fn new() -> Self {
        // The constants are far inside FastCDC's limits.
        let as_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Self { min: as_u32(MIN_CHUNK), avg: as_u32(AVG_CHUNK), max: as_u32(MAX_CHUNK), buf: BytesMut::new() }
    }

    /// A chunker with other sizes, mainly so tests can use small chunks.
    ///
    /// # Errors
    /// [`BlobError::InvalidChunkSizes`] unless `min <= avg <= max`, the sizes are
    /// within FastCDC's limits, and `max` does not exceed [`MAX_CHUNK`].
    pub fn with_sizes(min: u32, avg: u32, max: u32) -> Result<Self, BlobError> {
        let in_limits = (v2020::MINIMUM_MIN..=v2020::MINIMUM_MAX).contains(&min)
            && (v2020::AVERAGE_MIN..=v2020::AVERAGE_MAX).contains(&avg)
            && (v2020::MAXIMUM_MIN..=v2020::MAXIMUM_MAX).contains(&max)
            && usize::try_from(max).is_ok_and(|m| m <= MAX_CHUNK);
        if !in_limits || min > avg || avg > max {
            return Err(BlobError::InvalidChunkSizes(format!(
                "min {min}, avg {avg}, max {max}: need {}..={} <= {}..={} <= {}..={MAX_CHUNK} and min <= avg <= max",
                v2020::MINIMUM_MIN,
                v2020::MINIMUM_MAX,
                v2020::AVERAGE_MIN,
                v2020::AVERAGE_MAX,
                v2020::MAXIMUM_MIN,
            )));
        }
        Ok(Self { min, avg, max, buf: BytesMut::new() })
    }

    /// The largest chunk this chunker emits.
    #[must_use]
    pub fn max_size(&self) -> usize {
        self.max as usize
    }

    /// Adds `data` and returns the chunks whose end can no longer move.
    pub fn push(&mut self, data: &[u8]) -> Vec<Bytes> {
        let mut out = Vec::new();
        // Feed at most `max` bytes at a time so the buffer stays below 2 × max.
        for piece in data.chunks(self.max_size()) {
            self.buf.extend_from_slice(piece);
            self.cut(false, &mut out);
        }
        out
    }

    /// Ends the stream and returns the remaining chunks (none for an empty
    /// stream; possibly several, exactly as one-shot FastCDC would cut them).
    #[must_use]
    pub fn finish(mut self) -> Vec<Bytes> {
        let mut out = Vec::new();
        self.cut(true, &mut out);
        out
    }

    /// Moves final chunks from the buffer to `out`. Unless `at_end`, a cut is
    /// final only when at least `max` bytes follow the chunk's start.
    fn cut(&mut self, at_end: bool, out: &mut Vec<Bytes>) {
        let max = self.max_size();
        if !at_end && self.buf.len() < max {
            return;
        }
        let mut lens = Vec::new();
        {
            let cdc = FastCDC::new(&self.buf, self.min, self.avg, self.max);
            let len = self.buf.len();
            let mut start = 0;
            while start < len && (at_end || len - start >= max) {
                let (_, end) = cdc.cut(start, len - start);
                if end <= start {
                    break;
                }
                lens.push(end - start);
                start = end;
            }
        }
        out.extend(lens.into_iter().map(|n| self.buf.split_to(n).freeze()));
        if at_end && !self.buf.is_empty() {
            // Unreachable with FastCDC's contract (a cut always advances), but
            // never drop bytes.
            out.push(self.buf.split().freeze());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIN: u32 = 1024;
    const AVG: u32 = 4096;
    const MAX: u32 = 16384;

    fn one_shot(data: &[u8]) -> Vec<usize> {
        FastCDC::new(data, MIN, AVG, MAX).map(|c| c.length).collect()
    }

    fn streamed(data: &[u8], pieces: &[usize]) -> Vec<Bytes> {
        let mut c = Chunker::with_sizes(MIN, AVG, MAX).unwrap();
        let mut out = Vec::new();
        let mut rest = data;
        for &p in pieces.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (head, tail) = rest.split_at(p.min(rest.len()));
            out.extend(c.push(head));
            assert!(c.buf.len() < 2 * MAX as usize, "buffer stays bounded");
            rest = tail;
        }
        out.extend(c.finish());
        out
    }

    /// Random-looking bytes that are cheap to generate in large amounts.
    fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect()
    }

    #[test]
    fn invalid_sizes_are_refused() {
        let cases = [
            (8, 4096, 16384, "min below FastCDC's minimum"),
            (4096, 1024, 16384, "min above avg"),
            (1024, 32768, 16384, "avg above max"),
            (1024, 4096, 8 * 1024 * 1024, "max above MAX_CHUNK"),
        ];
        for (min, avg, max, case) in cases {
            assert!(matches!(Chunker::with_sizes(min, avg, max), Err(BlobError::InvalidChunkSizes(_))), "{case}");
        }
    }

    #[test]
    fn production_sizes_cut_like_one_shot_fastcdc() {
        let data = noise(7, 9 * MAX_CHUNK + 12345);
        let expected: Vec<usize> =
            FastCDC::new(&data, MIN_CHUNK as u32, AVG_CHUNK as u32, MAX_CHUNK as u32).map(|c| c.length).collect();
        let mut c = Chunker::new();
        let mut got = Vec::new();
        for piece in data.chunks(100_000) {
            got.extend(c.push(piece).iter().map(Bytes::len));
        }
        got.extend(c.finish().iter().map(Bytes::len));
        assert!(expected.len() > 9, "several chunks expected, got {}", expected.len());
        assert_eq!(got, expected);
    }

    #[test]
    fn an_empty_stream_has_no_chunks() {
        assert!(Chunker::new().finish().is_empty());
        assert!(streamed(&[], &[1]).is_empty());
    }

    proptest! {
        #[test]
        fn streaming_reassembles_and_cuts_like_one_shot_fastcdc(
            seed in any::<u64>(),
            len in 0usize..(3 << 20),
            pieces in proptest::collection::vec(1usize..70_000, 1..8),
        ) {
            let data = noise(seed, len);
            let chunks = streamed(&data, &pieces);
            prop_assert_eq!(chunks.concat(), data.clone());
            prop_assert_eq!(chunks.iter().map(Bytes::len).collect::<Vec<_>>(), one_shot(&data));
        }

        #[test]
        fn arbitrary_bytes_in_small_pieces_cut_like_one_shot_fastcdc(
            data in proptest::collection::vec(any::<u8>(), 0..100_000),
            pieces in proptest::collection::vec(1usize..5000, 1..8),
        ) {
            let chunks = streamed(&data, &pieces);
            prop_assert_eq!(chunks.concat(), data.clone());
            prop_assert_eq!(chunks.iter().map(Bytes::len).collect::<Vec<_>>(), one_shot(&data));
        }
    }
}
