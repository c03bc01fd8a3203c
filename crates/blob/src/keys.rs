//! Per-tenant chunk keys: a keyed content address (so identical content dedups
//! inside a tenant and reveals nothing across tenants) and authenticated
//! encryption of each compressed chunk, bound to its tenant and id
//! (DESIGN.md, Files; Keys and erasure).
//!
//! Sealed plaintext format: `codec (1 byte) || body`, codec 1 = zstd frame,
//! codec 0 = raw bytes (kept only if compression fails).

use std::io::Read as _;
use std::sync::Arc;

use valv_crypto::seal::Key;

use crate::MAX_CHUNK;
use crate::error::BlobError;
use crate::id::ChunkId;

/// zstd level for chunks: fast, and most of the gain of higher levels.
const ZSTD_LEVEL: i32 = 3;
const CODEC_RAW: u8 = 0;
const CODEC_ZSTD: u8 = 1;
/// The largest plaintext `open_chunk` accepts. A chunk never exceeds
/// [`MAX_CHUNK`]; the cap stops a decompression bomb from exhausting memory.
const MAX_OPENED: usize = MAX_CHUNK + 64 * 1024;

struct Inner {
    tenant: String,
    seal: Key,
    address: Key,
}

/// The chunk subkeys of one tenant, derived from its data key. Cheap to clone.
#[derive(Clone)]
pub struct TenantKeys {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TenantKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantKeys").field("tenant", &self.inner.tenant).finish_non_exhaustive()
    }
}

impl TenantKeys {
    /// Derives the encryption (`chunk-seal`) and addressing (`chunk-id`)
    /// subkeys of `tenant` from its data key.
    #[must_use]
    pub fn new(tenant: &str, data_key: &Key) -> Self {
        let inner = Inner {
            tenant: tenant.to_owned(),
            seal: data_key.derive(b"chunk-seal"),
            address: data_key.derive(b"chunk-id"),
        };
        Self { inner: Arc::new(inner) }
    }

    /// The tenant these keys belong to.
    #[must_use]
    pub fn tenant(&self) -> &str {
        &self.inner.tenant
    }

    /// The keyed content address of `plaintext`.
    #[must_use]
    pub fn chunk_id(&self, plaintext: &[u8]) -> ChunkId {
        ChunkId::from_mac(self.inner.address.mac_hex(plaintext))
    }

    fn context(&self, id: &ChunkId) -> Vec<u8> {
        format!("valv-chunk-v1/{}/{id}", self.inner.tenant).into_bytes()
    }

    /// Compresses (zstd level 3) and seals `plaintext` for storage as chunk
    /// `id`. The tenant and id are bound as associated data, so the result
    /// opens only as this chunk of this tenant.
    #[must_use]
    pub fn seal_chunk(&self, id: &ChunkId, plaintext: &[u8]) -> Vec<u8> {
        let mut body = vec![CODEC_ZSTD];
        if zstd::stream::copy_encode(plaintext, &mut body, ZSTD_LEVEL).is_err() {
            // Compression only fails when zstd cannot allocate; raw is still correct.
            body = [&[CODEC_RAW][..], plaintext].concat();
        }
        self.inner.seal.seal(&body, &self.context(id))
    }

    /// Opens what [`TenantKeys::seal_chunk`] made for chunk `id` and checks that
    /// the content still has that address.
    ///
    /// # Errors
    /// [`BlobError::Damaged`] if the bytes were changed, belong to another
    /// tenant or id, decompress to more than the largest chunk, or do not hash
    /// to `id`. Wrong bytes are never returned.
    /// `len` is the plaintext length the caller expects (from a manifest): it
    /// sizes the buffer up front; a chunk of another length is still returned.
    pub fn open_chunk(&self, id: &ChunkId, sealed: &[u8], len: usize) -> Result<Vec<u8>, BlobError> {
        let damaged = || BlobError::Damaged { id: id.clone() };
        let body = self.inner.seal.open(sealed, &self.context(id)).map_err(|_| damaged())?;
        let plaintext = match body.split_first() {
            Some((&CODEC_ZSTD, z)) => decompress_capped(z, len).ok_or_else(damaged)?,
            Some((&CODEC_RAW, raw)) if raw.len() <= MAX_OPENED => raw.to_vec(),
            _ => return Err(damaged()),
        };
        if self.chunk_id(&plaintext) != *id {
            return Err(damaged());
        }
        Ok(plaintext)
    }
}

/// Decompresses a zstd stream, giving up past [`MAX_OPENED`] bytes. One
/// buffer of the expected length (plus one byte to see the end) avoids
/// growing and copying it while decompressing.
fn decompress_capped(z: &[u8], len: usize) -> Option<Vec<u8>> {
    let decoder = zstd::stream::read::Decoder::with_buffer(z).ok()?;
    let mut out = Vec::with_capacity(len.min(MAX_OPENED) + 1);
    let cap = u64::try_from(MAX_OPENED).ok()?;
    decoder.take(cap + 1).read_to_end(&mut out).ok()?;
    (out.len() <= MAX_OPENED).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys(tenant: &str, seed: u8) -> TenantKeys {
        TenantKeys::new(tenant, &Key::from_bytes([seed; 32]))
    }

    #[test]
    fn chunk_ids_are_stable_within_a_tenant_and_differ_across_tenants() {
        let a = keys("tenant-a", 1);
        assert_eq!(a.chunk_id(b"hello"), keys("tenant-a", 1).chunk_id(b"hello"));
        assert_ne!(a.chunk_id(b"hello"), keys("tenant-b", 2).chunk_id(b"hello"), "other tenant key");
        assert_ne!(a.chunk_id(b"hello"), a.chunk_id(b"hellp"));
        assert!(ChunkId::parse(a.chunk_id(b"x").as_str()).is_ok(), "ids are valid 64-hex");
    }

    #[test]
    fn compressible_chunks_shrink_and_round_trip() {
        let k = keys("t", 1);
        let data = vec![7u8; 1 << 20];
        let id = k.chunk_id(&data);
        let sealed = k.seal_chunk(&id, &data);
        assert!(sealed.len() < 4096, "a megabyte of one byte value should compress well");
        assert_eq!(k.open_chunk(&id, &sealed, data.len()).unwrap(), data);
        // The expected length only sizes the buffer.
        assert_eq!(k.open_chunk(&id, &sealed, 0).unwrap(), data);
        assert_eq!(k.open_chunk(&id, &sealed, usize::MAX).unwrap(), data);
    }

    #[test]
    fn a_zstd_bomb_is_refused() {
        let k = keys("t", 1);
        let huge = vec![0u8; MAX_OPENED + 1];
        let id = k.chunk_id(&huge);
        let sealed = k.seal_chunk(&id, &huge);
        assert_eq!(k.open_chunk(&id, &sealed, huge.len()), Err(BlobError::Damaged { id }));
    }

    #[test]
    fn a_sealed_chunk_whose_content_does_not_match_its_id_is_damaged() {
        let k = keys("t", 1);
        let claimed = k.chunk_id(b"one");
        // Sealed under the right context but with other content, as a buggy writer might.
        let sealed = k.seal_chunk(&claimed, b"two");
        assert_eq!(k.open_chunk(&claimed, &sealed, 3), Err(BlobError::Damaged { id: claimed }));
    }

    proptest! {
        #[test]
        fn any_flipped_bit_in_a_sealed_chunk_is_detected(
            data in proptest::collection::vec(any::<u8>(), 0..4096),
            bit in any::<usize>(),
        ) {
            let k = keys("t", 1);
            let id = k.chunk_id(&data);
            let mut sealed = k.seal_chunk(&id, &data);
            let len = data.len();
            prop_assert_eq!(k.open_chunk(&id, &sealed, len).unwrap(), data);
            let i = bit % (sealed.len() * 8);
            sealed[i / 8] ^= 1 << (i % 8);
            prop_assert_eq!(k.open_chunk(&id, &sealed, len), Err(BlobError::Damaged { id }));
        }

        #[test]
        fn a_chunk_does_not_open_for_another_tenant_or_id(
            data in proptest::collection::vec(any::<u8>(), 0..4096),
            other in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let a = keys("tenant-a", 1);
            let id = a.chunk_id(&data);
            let sealed = a.seal_chunk(&id, &data);
            let same_key_other_name = keys("tenant-b", 1);
            prop_assert!(same_key_other_name.open_chunk(&id, &sealed, data.len()).is_err(), "tenant is bound");
            prop_assert!(keys("tenant-a", 2).open_chunk(&id, &sealed, data.len()).is_err(), "other data key");
            let other_id = a.chunk_id(&other);
            prop_assume!(other_id != id);
            prop_assert!(a.open_chunk(&other_id, &sealed, data.len()).is_err(), "id is bound");
        }
    }
}
