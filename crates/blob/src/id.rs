//! Chunk ids: keyed content addresses (HMAC-SHA256 under the tenant's
//! addressing subkey), 64 lowercase hex characters.

use crate::error::BlobError;

/// The content address of one chunk within one tenant.
///
/// Built by [`crate::TenantKeys::chunk_id`] or [`ChunkId::parse`]; always 64
/// lowercase hexadecimal characters, so it is safe as a storage path part.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkId(String);

impl ChunkId {
    /// Parses a chunk id as stored in a manifest or listed from a store.
    ///
    /// # Errors
    /// [`BlobError::InvalidId`] unless `s` is exactly 64 lowercase hex characters.
    pub fn parse(s: &str) -> Result<Self, BlobError> {
        let valid = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if valid { Ok(Self(s.to_owned())) } else { Err(BlobError::InvalidId) }
    }

    /// Wraps a MAC that is known to be valid hex of the right length.
    pub(crate) fn from_mac(hex: String) -> Self {
        Self(hex)
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ChunkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_only_64_lowercase_hex() {
        let good = "0123456789abcdef".repeat(4);
        assert_eq!(ChunkId::parse(&good).unwrap().as_str(), good);
        let cases = [
            ("", "empty"),
            (&good[..63], "too short"),
            (&format!("{good}0"), "too long"),
            (&good.to_uppercase(), "uppercase"),
            (&format!("{}g", &good[..63]), "not hex"),
            (&format!("{}/", &good[..63]), "path separator"),
        ];
        for (input, case) in cases {
            assert_eq!(ChunkId::parse(input), Err(BlobError::InvalidId), "{case}");
        }
    }
}
