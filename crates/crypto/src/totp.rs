//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 6 digits, 30 s steps),
//! accepting one step of clock drift either way. The matching step is returned
//! so the caller can refuse any step at or before the last one used (RFC 6238
//! §5.2: a verifier must not accept the same code twice).

use subtle::ConstantTimeEq as _;
use totp_rs::{Algorithm, Secret, TOTP};

const STEP: u64 = 30;
const DIGITS: usize = 6;

/// A fresh 160-bit secret (RFC 4226 §4 recommends 160 bits), base32.
#[must_use]
pub fn new_secret() -> String {
    let mut raw = [0u8; 20];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
    Secret::Raw(raw.to_vec()).to_encoded().to_string()
}

/// The `otpauth://` URL an authenticator app reads from a QR code.
#[must_use]
pub fn otpauth_url(secret_b32: &str, issuer: &str, account: &str) -> String {
    let (i, a) = (url_escape(issuer), url_escape(account));
    format!("otpauth://totp/{i}:{a}?secret={secret_b32}&issuer={i}&algorithm=SHA1&digits=6&period=30")
}

fn totp(secret_b32: &str) -> Option<TOTP> {
    let raw = Secret::Encoded(secret_b32.to_owned()).to_bytes().ok()?;
    TOTP::new(Algorithm::SHA1, DIGITS, 1, STEP, raw).ok()
}

/// The code for `unix_secs`; what an authenticator app shows.
#[must_use]
pub fn code_at(secret_b32: &str, unix_secs: u64) -> Option<String> {
    totp(secret_b32).map(|t| t.generate(unix_secs))
}

/// The time step whose code equals `code`, looking one step either side of
/// `unix_secs`, or `None`.
#[must_use]
pub fn matching_step(secret_b32: &str, code: &str, unix_secs: u64) -> Option<u64> {
    let t = totp(secret_b32)?;
    let now = unix_secs / STEP;
    (now.saturating_sub(1)..=now + 1).find(|step| bool::from(t.generate(step * STEP).as_bytes().ct_eq(code.as_bytes())))
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_test_vector() {
        // RFC 6238 Appendix B, secret "12345678901234567890", T = 59 -> 94287082 (8 digits);
        // with 6 digits the code is the last six.
        let secret = Secret::Raw(b"12345678901234567890".to_vec()).to_encoded().to_string();
        assert_eq!(code_at(&secret, 59).as_deref(), Some("287082"));
    }

    #[test]
    fn codes_match_within_one_step_only() {
        let s = new_secret();
        let code = code_at(&s, 1_000_000).unwrap();
        assert_eq!(matching_step(&s, &code, 1_000_000), Some(1_000_000 / 30));
        assert_eq!(matching_step(&s, &code, 1_000_000 + 30), Some(1_000_000 / 30));
        assert_eq!(matching_step(&s, &code, 1_000_000 + 90), None);
        assert_eq!(matching_step(&s, "000000x", 1_000_000), None);
    }

    #[test]
    fn otpauth_url_escapes_names() {
        let u = otpauth_url("ABC", "valv", "a b@x.se");
        assert!(u.starts_with("otpauth://totp/valv:a%20b%40x.se?secret=ABC"), "{u}");
    }
}
