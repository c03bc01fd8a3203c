//! Password hashing: Argon2id by default with the OWASP Password Storage Cheat
//! Sheet parameters (m = 19 MiB, t = 2, p = 1), PBKDF2-HMAC-SHA256 with at least
//! 600,000 iterations as the accepted alternative. Hashes are PHC strings with a
//! per-user random salt; a hash made with other settings than today's is
//! reported as needing a rehash so sign-in can upgrade it.

use argon2::{Argon2, Params as ArgonParams};
use password_hash::rand_core::OsRng;
use password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use pbkdf2::Pbkdf2;
use secrecy::{ExposeSecret, SecretString};

/// OWASP: PBKDF2-HMAC-SHA256 needs at least 600,000 iterations.
pub const PBKDF2_MIN_ROUNDS: u32 = 600_000;

/// Which KDF new hashes use, with its cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kdf {
    Argon2id { m_kib: u32, t: u32, p: u32 },
    Pbkdf2Sha256 { rounds: u32 },
}

impl Default for Kdf {
    fn default() -> Self {
        Self::Argon2id { m_kib: 19_456, t: 2, p: 1 }
    }
}

/// Hashing failed; only possible with parameters the KDF refuses.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Wrong password, or a stored hash that cannot be read.
    Mismatch,
    /// Correct; `rehash` says the stored hash uses outdated settings.
    Match { rehash: bool },
}

impl Kdf {
    /// Refuses parameters weaker than the policy allows.
    ///
    /// # Errors
    /// When the parameters are below the OWASP minimums.
    pub fn checked(self) -> Result<Self, &'static str> {
        match self {
            Self::Argon2id { m_kib, t, p } if m_kib < 19_456 || t < 2 || p < 1 => {
                Err("argon2id needs m >= 19456 KiB, t >= 2, p >= 1 (OWASP)")
            }
            Self::Pbkdf2Sha256 { rounds } if rounds < PBKDF2_MIN_ROUNDS => {
                Err("pbkdf2-sha256 needs at least 600000 iterations (OWASP)")
            }
            k => Ok(k),
        }
    }

    /// Hashes `password` into a PHC string with a fresh random salt.
    ///
    /// # Errors
    /// When the KDF refuses its parameters.
    pub fn hash(self, password: &SecretString) -> Result<String, HashError> {
        let salt = SaltString::generate(&mut OsRng);
        let pw = password.expose_secret().as_bytes();
        let phc = match self {
            Self::Argon2id { m_kib, t, p } => {
                argon(m_kib, t, p)?.hash_password(pw, &salt).map_err(|e| HashError(e.to_string()))?.to_string()
            }
            Self::Pbkdf2Sha256 { rounds } => Pbkdf2
                .hash_password_customized(
                    pw,
                    Some(pbkdf2::Algorithm::Pbkdf2Sha256.ident()),
                    None,
                    pbkdf2::Params { rounds, output_length: 32 },
                    &salt,
                )
                .map_err(|e| HashError(e.to_string()))?
                .to_string(),
        };
        Ok(phc)
    }

    /// Checks `password` against `phc`, made by either KDF with any parameters.
    #[must_use]
    pub fn verify(self, password: &SecretString, phc: &str) -> Verdict {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return Verdict::Mismatch;
        };
        let pw = password.expose_secret().as_bytes();
        let ok = match parsed.algorithm.as_str() {
            "argon2id" => Argon2::default().verify_password(pw, &parsed).is_ok(),
            "pbkdf2-sha256" => Pbkdf2.verify_password(pw, &parsed).is_ok(),
            _ => false,
        };
        if ok { Verdict::Match { rehash: !self.made(&parsed) } } else { Verdict::Mismatch }
    }

    /// Whether `parsed` was made with exactly these settings.
    fn made(self, parsed: &PasswordHash<'_>) -> bool {
        let param = |name: &str| parsed.params.get_decimal(name);
        match self {
            Self::Argon2id { m_kib, t, p } => {
                parsed.algorithm.as_str() == "argon2id"
                    && param("m") == Some(m_kib)
                    && param("t") == Some(t)
                    && param("p") == Some(p)
            }
            Self::Pbkdf2Sha256 { rounds } => parsed.algorithm.as_str() == "pbkdf2-sha256" && param("i") == Some(rounds),
        }
    }
}

fn argon(m: u32, t: u32, p: u32) -> Result<Argon2<'static>, HashError> {
    let params = ArgonParams::new(m, t, p, None).map_err(|e| HashError(e.to_string()))?;
    Ok(Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn argon2id_hash_verifies_and_is_salted() {
        let kdf = Kdf::default();
        let a = kdf.hash(&pw("correct horse battery")).unwrap();
        let b = kdf.hash(&pw("correct horse battery")).unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "two hashes of one password must differ by salt");
        assert_eq!(kdf.verify(&pw("correct horse battery"), &a), Verdict::Match { rehash: false });
        assert_eq!(kdf.verify(&pw("wrong horse battery"), &a), Verdict::Mismatch);
    }

    #[test]
    fn pbkdf2_hash_verifies_and_asks_for_upgrade_to_argon2id() {
        let old = Kdf::Pbkdf2Sha256 { rounds: PBKDF2_MIN_ROUNDS };
        let h = old.hash(&pw("s3cret pass phrase")).unwrap();
        assert!(h.starts_with("$pbkdf2-sha256$i=600000"), "{h}");
        assert_eq!(old.verify(&pw("s3cret pass phrase"), &h), Verdict::Match { rehash: false });
        assert_eq!(Kdf::default().verify(&pw("s3cret pass phrase"), &h), Verdict::Match { rehash: true });
    }

    #[test]
    fn weak_parameters_are_refused() {
        assert!(Kdf::Pbkdf2Sha256 { rounds: 10_000 }.checked().is_err());
        assert!(Kdf::Argon2id { m_kib: 1024, t: 1, p: 1 }.checked().is_err());
        assert!(Kdf::default().checked().is_ok());
    }

    #[test]
    fn garbage_hash_is_a_mismatch_not_a_panic() {
        assert_eq!(Kdf::default().verify(&pw("x"), "not a phc"), Verdict::Mismatch);
    }
}
