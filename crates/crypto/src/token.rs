//! Random secrets (session cookies, API tokens, setup and one-time codes) and
//! their digests. Only digests are stored; a presented secret is hashed and
//! compared in constant time, so timing reveals nothing about stored values.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{Rng as _, RngCore as _};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// `n` random bytes from the OS, base64url without padding.
#[must_use]
pub fn random(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A random decimal code of `digits` digits, for codes people type.
#[must_use]
pub fn numeric_code(digits: u32) -> String {
    let n = rand::rngs::OsRng.gen_range(0..10u64.pow(digits));
    format!("{n:0width$}", width = digits as usize)
}

/// `len` characters drawn uniformly from `alphabet`.
#[must_use]
pub fn from_alphabet(len: usize, alphabet: &[u8]) -> String {
    (0..len).map(|_| char::from(alphabet[rand::rngs::OsRng.gen_range(0..alphabet.len())])).collect()
}

/// SHA-256 of a high-entropy secret, hex. (A slow KDF is for low-entropy
/// passwords; tokens carry 256 random bits, so a fast hash is the right tool.)
#[must_use]
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time equality of two digests.
#[must_use]
pub fn digest_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Splits a presented credential `"<id>.<secret>"` into its parts.
#[must_use]
pub fn split(credential: &str) -> Option<(&str, &str)> {
    let (id, secret) = credential.split_once('.')?;
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_secrets_differ_and_have_full_length() {
        let a = random(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random(32));
    }

    #[test]
    fn numeric_codes_have_fixed_width() {
        for _ in 0..100 {
            let c = numeric_code(6);
            assert_eq!(c.len(), 6);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn digests_compare_equal_only_when_equal() {
        assert!(digest_eq(&digest("x"), &digest("x")));
        assert!(!digest_eq(&digest("x"), &digest("y")));
        assert!(!digest_eq("ab", "abc"));
    }

    #[test]
    fn credentials_split_on_the_first_dot() {
        assert_eq!(split("id.sec.ret"), Some(("id", "sec.ret")));
        assert_eq!(split("nodot"), None);
        assert_eq!(split(".x"), None);
    }
}
