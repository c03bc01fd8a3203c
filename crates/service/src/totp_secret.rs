//! Second-factor secrets at rest. RFC 6238 §5.1 asks that the shared keys
//! be protected against unauthorised access: each TOTP secret is sealed with
//! a key derived from its tenant's data key and bound to its user, so the
//! database, its journal and every backup hold no usable secret, and
//! destroying a tenant's key (crypto-shredding) destroys them too. A secret
//! stored before secrets were sealed is read as it is; the next enrolment
//! seals it. Recovery codes are stored as HMACs under another key derived
//! from the tenant's data key, bound to their user (review L5): with the
//! database alone they cannot be tested offline.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use valv_crypto::seal::Key;
use valv_domain::{OperatorId, TenantId, UserId};

use crate::{Accounts, ServiceError, ServiceResult};

/// Marks a sealed secret; a base32 secret never starts so.
const SEALED: &str = "sealed:";

impl Accounts<'_> {
    /// `secret` (base32) sealed for `user`, as `TotpState::secret` stores it.
    pub(crate) async fn seal_totp(&self, tenant: TenantId, user: UserId, secret: &str) -> ServiceResult<String> {
        Ok(seal(&self.totp_key(tenant).await?, &context(user), secret))
    }

    /// The base32 secret of a stored `TotpState::secret`.
    pub(crate) async fn open_totp(&self, tenant: TenantId, user: UserId, stored: &str) -> ServiceResult<String> {
        let Some(encoded) = stored.strip_prefix(SEALED) else { return Ok(stored.to_owned()) };
        open(&self.totp_key(tenant).await?, &context(user), encoded)
            .ok_or_else(|| ServiceError::internal_msg(format!("the TOTP secret of user {user} does not open")))
    }

    /// An operator's `secret` sealed with the provider key (review M5).
    pub(crate) async fn seal_operator_totp(&self, op: OperatorId, secret: &str) -> ServiceResult<String> {
        Ok(seal(&self.operator_totp_key().await?, &operator_context(op), secret))
    }

    /// The base32 secret of an operator's stored `TotpState::secret`.
    pub(crate) async fn open_operator_totp(&self, op: OperatorId, stored: &str) -> ServiceResult<String> {
        let damaged = || ServiceError::internal_msg(format!("the TOTP secret of operator {op} does not open"));
        let encoded = stored.strip_prefix(SEALED).ok_or_else(damaged)?;
        open(&self.operator_totp_key().await?, &operator_context(op), encoded).ok_or_else(damaged)
    }

    async fn operator_totp_key(&self) -> ServiceResult<Key> {
        let key = self.ctx.keyring.provider_key().await.map_err(ServiceError::internal)?;
        Ok(key.derive(b"operator-totp-secret"))
    }

    async fn totp_key(&self, tenant: TenantId) -> ServiceResult<Key> {
        let key = self.ctx.keyring.key(tenant).await.map_err(ServiceError::internal)?;
        Ok(key.derive(b"totp-secret"))
    }

    /// The stored form of a recovery code (as typed; normalised here).
    pub(crate) async fn recovery_digest(&self, tenant: TenantId, user: UserId, code: &str) -> ServiceResult<String> {
        let key = self.ctx.keyring.key(tenant).await.map_err(ServiceError::internal)?;
        let message = format!("recovery-code:{user}:{}", crate::me::normalize_recovery(code));
        Ok(key.derive(b"recovery-code").mac(message.as_bytes()))
    }
}

/// Binds a sealed secret to its user: copied onto another account, it does not open.
fn context(user: UserId) -> Vec<u8> {
    format!("totp:{user}").into_bytes()
}

fn operator_context(op: OperatorId) -> Vec<u8> {
    format!("operator-totp:{op}").into_bytes()
}

fn seal(key: &Key, context: &[u8], secret: &str) -> String {
    format!("{SEALED}{}", STANDARD_NO_PAD.encode(key.seal(secret.as_bytes(), context)))
}

fn open(key: &Key, context: &[u8], encoded: &str) -> Option<String> {
    let sealed = STANDARD_NO_PAD.decode(encoded).ok()?;
    String::from_utf8(key.open(&sealed, context).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use valv_store_sqlite::{SqliteKeyStore, SqliteStore};

    use super::*;
    use crate::keyring::Keyring;

    #[tokio::test]
    async fn a_sealed_secret_opens_for_its_user_only_and_an_old_plain_one_reads_as_it_is() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("valv.db")).await.expect("store");
        let keys = SqliteKeyStore::open(&dir.path().join("keyring.db")).expect("keys");
        let keyring = Keyring::open(Arc::new(keys), Key::generate()).await.expect("keyring");
        let clock = Arc::new(valv_domain::SystemClock);
        let outbox = Arc::new(crate::sender::FileOutbox::new(dir.path().join("outbox")));
        let valv = crate::Valv::new(Arc::new(store), Arc::new(keyring), clock, outbox, crate::Settings::default());
        let accounts = valv.accounts();
        let (tenant, user, other, stranger) = (TenantId::new(), UserId::new(), UserId::new(), TenantId::new());
        for t in [tenant, stranger] {
            valv.ctx.keyring.create(t).await.expect("tenant key");
        }
        let secret = valv_crypto::totp::new_secret();
        let stored = accounts.seal_totp(tenant, user, &secret).await.expect("seal");
        assert!(stored.starts_with(SEALED) && !stored.contains(&secret), "{stored}");
        assert_eq!(accounts.open_totp(tenant, user, &stored).await.expect("open"), secret);
        assert!(accounts.open_totp(tenant, other, &stored).await.is_err(), "bound to its user");
        assert!(accounts.open_totp(stranger, user, &stored).await.is_err(), "bound to its tenant's key");
        assert_eq!(accounts.open_totp(tenant, user, &secret).await.expect("plain"), secret, "stored before sealing");
    }
}
