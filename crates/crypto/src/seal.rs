//! Authenticated encryption of stored objects (chunks, wrapped keys): AES-256-GCM
//! (NIST SP 800-38D) with a fresh random 96-bit nonce per object. The caller's
//! context (tenant id, object id) is bound as associated data, so a sealed
//! object moved to another tenant or place fails to open instead of yielding
//! another's bytes (DESIGN.md, Keys and erasure).
//!
//! Format: `0x01 || nonce (12) || ciphertext || tag (16)`.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom as _, SystemRandom};

const VERSION: u8 = 1;
/// Bytes a sealed object adds to its plaintext.
pub const OVERHEAD: usize = 1 + NONCE_LEN + 16;

/// Why an object could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("the sealed object is damaged, was moved, or belongs to another key")]
    Damaged,
    #[error("the sealed object has an unknown format version")]
    UnknownVersion,
}

/// A 256-bit symmetric key. Never printed, and its bytes are overwritten
/// with zeros when it is dropped (review L15), so a key no longer in use
/// does not linger in freed memory. (Copies the compiler makes on the way,
/// and ring's own expanded key schedules, are beyond this guarantee.)
#[derive(Clone)]
pub struct Key {
    raw: [u8; 32],
}

impl Drop for Key {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.raw);
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(redacted)")
    }
}

impl Key {
    /// A fresh random key.
    ///
    /// # Panics
    /// When the operating system has no randomness to give.
    #[must_use]
    pub fn generate() -> Self {
        let mut raw = [0u8; 32];
        #[allow(clippy::expect_used)] // no randomness means no safe way to continue
        SystemRandom::new().fill(&mut raw).expect("the OS random number generator failed");
        Self { raw }
    }

    #[must_use]
    pub fn from_bytes(raw: [u8; 32]) -> Self {
        Self { raw }
    }

    /// The raw bytes, for wrapping under another key only.
    #[must_use]
    pub fn expose(&self) -> &[u8; 32] {
        &self.raw
    }

    /// A subkey for one purpose (HKDF-SHA256, RFC 5869), so one data key can
    /// serve encryption and chunk addressing without the two ever meeting.
    #[must_use]
    pub fn derive(&self, purpose: &[u8]) -> Self {
        struct Len32;
        impl hkdf::KeyType for Len32 {
            fn len(&self) -> usize {
                32
            }
        }
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"valv-v1").extract(&self.raw);
        let mut out = [0u8; 32];
        let info = [purpose];
        // Expanding to 32 bytes of SHA-256 output cannot fail (RFC 5869:
        // L <= 255 * HashLen); were it to, an all-zero key must not come out.
        #[allow(clippy::expect_used)]
        prk.expand(&info, Len32).and_then(|okm| okm.fill(&mut out)).expect("HKDF expands to 32 bytes");
        let key = Self { raw: out };
        zeroize::Zeroize::zeroize(&mut out);
        key
    }

    /// HMAC-SHA256 of `message` under this key, hex: a digest only the
    /// key's holder can make or check (RFC 2104).
    #[must_use]
    pub fn mac(&self, message: &[u8]) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.raw);
        hex::encode(ring::hmac::sign(&key, message).as_ref())
    }

    fn aead(&self) -> LessSafeKey {
        // AES-256 takes any 32-byte key, so this cannot fail.
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.raw).unwrap_or_else(|_| unreachable!()))
    }

    /// Seals `plaintext`, binding `context`.
    ///
    /// # Panics
    /// When the operating system has no randomness to give.
    #[must_use]
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        // Without randomness the nonce would repeat, and a repeated GCM nonce
        // gives away the key stream and the authentication key: stop (review L15).
        #[allow(clippy::expect_used)]
        SystemRandom::new().fill(&mut nonce).expect("the OS random number generator failed");
        let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let mut body = out.split_off(1 + NONCE_LEN);
        // Encrypting in place with a fresh nonce cannot fail for inputs below 64 GiB.
        let _ =
            self.aead().seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context), &mut body);
        out.extend_from_slice(&body);
        out
    }

    /// Opens what [`Key::seal`] made with the same key and context.
    ///
    /// # Errors
    /// [`OpenError::Damaged`] for any change to the bytes, a wrong key or a wrong context.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, OpenError> {
        let (&version, rest) = sealed.split_first().ok_or(OpenError::Damaged)?;
        if version != VERSION {
            return Err(OpenError::UnknownVersion);
        }
        if rest.len() < NONCE_LEN + 16 {
            return Err(OpenError::Damaged);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError::Damaged)?;
        let mut buf = body.to_vec();
        let plain = self.aead().open_in_place(nonce, Aad::from(context), &mut buf).map_err(|_| OpenError::Damaged)?;
        let n = plain.len();
        buf.truncate(n);
        Ok(buf)
    }

    /// HMAC-SHA256 of `data` under this key, hex: a keyed content address that
    /// dedups inside one tenant and reveals nothing across tenants.
    #[must_use]
    pub fn mac_hex(&self, data: &[u8]) -> String {
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.raw);
        hex::encode(ring::hmac::sign(&k, data).as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seal_round_trips_and_binds_its_context() {
        let k = Key::generate();
        let s = k.seal(b"hello", b"tenant-a/chunk-1");
        assert_eq!(s.len(), 5 + OVERHEAD);
        assert_eq!(k.open(&s, b"tenant-a/chunk-1").unwrap(), b"hello");
        assert_eq!(k.open(&s, b"tenant-b/chunk-1"), Err(OpenError::Damaged), "moved to another tenant");
        assert_eq!(Key::generate().open(&s, b"tenant-a/chunk-1"), Err(OpenError::Damaged), "other key");
        assert_ne!(k.seal(b"hello", b"c"), k.seal(b"hello", b"c"), "fresh nonce every time");
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_are_stable() {
        let k = Key::from_bytes([7; 32]);
        assert_eq!(k.derive(b"enc").expose(), k.derive(b"enc").expose());
        assert_ne!(k.derive(b"enc").expose(), k.derive(b"ids").expose());
        assert_ne!(k.mac_hex(b"x"), Key::from_bytes([8; 32]).mac_hex(b"x"));
    }

    proptest! {
        #[test]
        fn any_flipped_bit_is_detected(data in proptest::collection::vec(any::<u8>(), 0..2048), bit in any::<usize>()) {
            let k = Key::from_bytes([3; 32]);
            let mut s = k.seal(&data, b"ctx");
            prop_assert_eq!(k.open(&s, b"ctx").unwrap(), data);
            let i = bit % (s.len() * 8);
            s[i / 8] ^= 1 << (i % 8);
            prop_assert!(k.open(&s, b"ctx").is_err());
        }

        #[test]
        fn truncation_is_detected(data in proptest::collection::vec(any::<u8>(), 1..512), cut in 1usize..64) {
            let k = Key::from_bytes([4; 32]);
            let s = k.seal(&data, b"ctx");
            let cut = cut.min(s.len());
            prop_assert!(k.open(&s[..s.len() - cut], b"ctx").is_err());
        }
    }
}
