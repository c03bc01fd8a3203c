//! Key wrapping (DESIGN.md, Keys and erasure): a master key wraps one data key
//! per tenant. Rotating the master key rewraps the tenant keys and re-encrypts
//! no data; destroying a tenant's wrapped key makes every copy of its data
//! unreadable. A check value sealed under the master key tells a wrong or
//! altered master key apart at start, before anything is decrypted.

use crate::seal::{Key, OpenError};

const CHECK_PLAINTEXT: &[u8] = b"valv master key check v1";
const CHECK_CONTEXT: &[u8] = b"valv-master-check-v1";

fn wrapping(master: &Key) -> Key {
    master.derive(b"tenant-key-wrap")
}

fn context(tenant: &str) -> Vec<u8> {
    format!("valv-tenant-key-v1/{tenant}").into_bytes()
}

/// The check value to store beside the wrapped keys.
#[must_use]
pub fn check_value(master: &Key) -> Vec<u8> {
    wrapping(master).seal(CHECK_PLAINTEXT, CHECK_CONTEXT)
}

/// Whether `master` is the key that made `check`.
#[must_use]
pub fn matches(master: &Key, check: &[u8]) -> bool {
    wrapping(master).open(check, CHECK_CONTEXT).is_ok_and(|p| p == CHECK_PLAINTEXT)
}

/// Wraps a tenant's data key under the master key, bound to the tenant id.
#[must_use]
pub fn wrap(master: &Key, tenant: &str, data_key: &Key) -> Vec<u8> {
    wrapping(master).seal(data_key.expose(), &context(tenant))
}

/// Unwraps a tenant's data key.
///
/// # Errors
/// When the wrapped key was altered, belongs to another tenant, or the master key is wrong.
pub fn unwrap(master: &Key, tenant: &str, wrapped: &[u8]) -> Result<Key, OpenError> {
    let raw = wrapping(master).open(wrapped, &context(tenant))?;
    let raw: [u8; 32] = raw.try_into().map_err(|_| OpenError::Damaged)?;
    Ok(Key::from_bytes(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_keys_unwrap_only_with_their_master_and_tenant() {
        let (m, other) = (Key::generate(), Key::generate());
        let k = Key::generate();
        let w = wrap(&m, "t1", &k);
        assert_eq!(unwrap(&m, "t1", &w).unwrap().expose(), k.expose());
        assert!(unwrap(&m, "t2", &w).is_err(), "bound to its tenant");
        assert!(unwrap(&other, "t1", &w).is_err(), "bound to its master");
        assert!(matches(&m, &check_value(&m)));
        assert!(!matches(&other, &check_value(&m)), "a wrong master key is told apart");
    }
}
