//! Sign-in throttling per account and per client address: after a number of
//! free failures each further failure doubles a temporary lock (OWASP
//! Authentication Cheat Sheet, "Account lockout"). Locks expire on their own,
//! so an attacker cannot lock a user out for good.

use std::hash::BuildHasher as _;
use std::net::IpAddr;

use time::Duration;
use tokio::sync::{Mutex, MutexGuard};
use valv_store::Throttle;

use crate::{Accounts, ServiceError, ServiceResult};

/// The throttle keys of one sign-in attempt.
pub(crate) struct Keys {
    pub account: String,
    pub address: String,
}

impl Keys {
    pub(crate) fn new(scope: &str, email: &str, client: IpAddr) -> Self {
        Self {
            account: format!("account:{scope}:{}", email.trim().to_lowercase()),
            address: format!("address:{client}"),
        }
    }
}

/// Sign-in attempts in progress, one at a time per account: an attempt
/// checks the lock, verifies the password and counts its outcome before the
/// next one for the same account begins, so a burst of attempts cannot all
/// pass the lock check before the first failure is counted. Accounts share a
/// fixed number of stripes, keyed by a hash that differs per process (an
/// attacker cannot pick accounts that collide with someone else's). Per
/// process: several processes on one database let one attempt through each.
/// Attempts from one address are not serialised: many people behind one
/// address would wait for each other's password hashing.
pub(crate) struct Attempts {
    stripes: Vec<Mutex<()>>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for Attempts {
    fn default() -> Self {
        Self { stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(), hasher: Default::default() }
    }
}

/// Stripes of [`Attempts`]: far more than attempts hashed at once.
const STRIPES: usize = 256;

impl Attempts {
    /// Waits until no other attempt for the account of `keys` is in progress.
    pub(crate) async fn begin(&self, keys: &Keys) -> MutexGuard<'_, ()> {
        let i = usize::try_from(self.hasher.hash_one(&keys.account) % STRIPES as u64).unwrap_or_default();
        self.stripes[i].lock().await
    }
}

impl Accounts<'_> {
    /// Refuses the attempt while either key is locked.
    pub(crate) async fn check_throttle(&self, keys: &Keys) -> ServiceResult<()> {
        let now = self.ctx.now();
        for key in [&keys.account, &keys.address] {
            if let Some(Throttle { locked_until: Some(until), .. }) = self.ctx.store.throttle(key).await?
                && until > now
            {
                let secs = (until - now).whole_seconds().max(1).unsigned_abs();
                return Err(ServiceError::Locked { retry_after_secs: secs });
            }
        }
        Ok(())
    }

    /// Counts a failure against both keys and locks them when due. Each
    /// count is one atomic step in the store: failures sent at the same
    /// moment are all counted, and the longest lock due is the one kept.
    pub(crate) async fn record_failure(&self, keys: &Keys) -> ServiceResult<()> {
        let p = self.ctx.settings.throttle;
        for (key, free) in [(&keys.account, p.account_free), (&keys.address, p.address_free)] {
            let failures = self.ctx.store.add_failure(key).await?;
            if failures > free {
                let doublings = (failures - free - 1).min(20);
                let lock = (p.base_lock * 2i32.pow(doublings)).min(p.max_lock);
                self.ctx.store.lock_throttle(key, self.ctx.now() + lock.max(Duration::ZERO)).await?;
            }
        }
        Ok(())
    }

    /// A successful sign-in clears the account's count (not the address's).
    pub(crate) async fn clear_throttle(&self, keys: &Keys) -> ServiceResult<()> {
        self.ctx.store.clear_throttle(&keys.account).await?;
        Ok(())
    }
}
