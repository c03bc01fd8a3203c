//! Sign-in throttling (OWASP Authentication Cheat Sheet, "Account lockout"):
//! after a number of free failures each further failure doubles a temporary
//! lock. Locks expire on their own, so an attacker cannot lock a user out
//! for good. Three keys per attempt, each named after what the attempt
//! resolved to, never the raw input (review M2: `" acme"` is `acme`):
//!
//! - the account (tenant id and normalised e-mail): locked after
//!   `account_free` failures from anywhere;
//! - the client's network (an IPv4 address, an IPv6 /64: review S4),
//!   whose failures are counted over a window of [`SPRAY_WINDOW`] and
//!   never lock the network as a whole, so that one client cannot lock out
//!   everyone behind the same address (a proxy, a NAT: review M6);
//! - the pair of both: once the network is past `address_free` failures in
//!   the window, every further failure from it locks that pair, so a client
//!   trying many accounts gets one guess per account per lock while the
//!   people behind its address sign in as before.

use std::hash::BuildHasher as _;
use std::net::IpAddr;

use time::Duration;
use tokio::sync::{Mutex, MutexGuard};
use valv_store::Throttle;

use crate::{Accounts, ServiceError, ServiceResult};

/// How long failures from one network count towards `address_free`.
pub const SPRAY_WINDOW: Duration = Duration::minutes(15);

/// The throttle keys of one sign-in attempt.
pub(crate) struct Keys {
    pub account: String,
    pub pair: String,
    pub network: String,
}

impl Keys {
    /// The keys for an attempt on `account` (as resolved: `{tenant id}:{normalised e-mail}`,
    /// or the trimmed, lower-cased input when nothing resolved) from `client`.
    pub(crate) fn new(account: &str, client: IpAddr) -> Self {
        let network = network(client);
        Self {
            account: format!("account:{account}"),
            pair: format!("pair:{network}|{account}"),
            network: format!("network:{network}"),
        }
    }
}

/// The key counting a user's wrong second factors.
pub(crate) fn second_factor_key(user: valv_domain::UserId) -> String {
    format!("second-factor:{user}")
}

/// The account part of a key: what the input resolved to, so that spellings
/// of one account (spaces, case, Unicode spaces) share one count.
pub(crate) fn account_key(scope: &str, email: &str) -> String {
    let email = valv_domain::Email::parse(email).map_or_else(|_| email.trim().to_lowercase(), |e| e.normalized());
    format!("{scope}:{email}")
}

/// The network a client address stands for: an IPv4 address, or the /64 of
/// an IPv6 one (one subscriber's prefix, which they may fill at will).
pub(crate) fn network(client: IpAddr) -> String {
    match client {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let prefix = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{prefix}/64")
            }
        },
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
    /// Refuses the attempt while the account or the (network, account) pair is locked.
    pub(crate) async fn check_throttle(&self, keys: &Keys) -> ServiceResult<()> {
        self.check_lock(&keys.account).await?;
        self.check_lock(&keys.pair).await
    }

    /// Refuses while `key` is locked.
    pub(crate) async fn check_lock(&self, key: &str) -> ServiceResult<()> {
        let now = self.ctx.now();
        if let Some(Throttle { locked_until: Some(until), .. }) = self.ctx.store.throttle(key).await?
            && until > now
        {
            return Err(ServiceError::Locked { retry_after_secs: valv_core::retry_after_secs(until - now) });
        }
        Ok(())
    }

    /// Counts a failure of one user's secret other than the sign-in password
    /// (`key`: their second factor, from [`second_factor_key`], or their
    /// current password when changing it) and locks when due: after the
    /// same free failures as an account, across every session, and not
    /// cleared by a correct sign-in password (review M3, L2). True when this
    /// failure set the first lock: the moment to tell the user.
    pub(crate) async fn count_failure(&self, key: &str) -> ServiceResult<bool> {
        let free = self.ctx.settings.throttle.account_free;
        let failures = self.ctx.store.add_failure(key).await?;
        if failures > free {
            self.lock(key, failures - free).await?;
        }
        Ok(failures == free + 1)
    }

    /// Counts a failure and locks what is due. Each count is one atomic step
    /// in the store: failures sent at the same moment are all counted, and
    /// the longest lock due is the one kept.
    pub(crate) async fn record_failure(&self, keys: &Keys) -> ServiceResult<()> {
        let p = self.ctx.settings.throttle;
        let account = self.ctx.store.add_failure(&keys.account).await?;
        if account > p.account_free {
            self.lock(&keys.account, account - p.account_free).await?;
        }
        let network = self.ctx.store.count_call(&keys.network, self.ctx.now(), SPRAY_WINDOW).await?.failures;
        let pair = self.ctx.store.add_failure(&keys.pair).await?;
        if network > p.address_free {
            self.lock(&keys.pair, pair).await?;
        }
        Ok(())
    }

    /// Locks `key` for the base lock doubled `(nth - 1)` times, at most the longest lock.
    async fn lock(&self, key: &str, nth: u32) -> ServiceResult<()> {
        let p = self.ctx.settings.throttle;
        let lock = (p.base_lock * 2i32.pow(nth.saturating_sub(1).min(20))).min(p.max_lock);
        self.ctx.store.lock_throttle(key, self.ctx.now() + lock.max(Duration::ZERO)).await?;
        Ok(())
    }

    /// A successful sign-in clears the account's count and the pair's (not the network's).
    pub(crate) async fn clear_throttle(&self, keys: &Keys) -> ServiceResult<()> {
        self.ctx.store.clear_throttle(&keys.account).await?;
        self.ctx.store.clear_throttle(&keys.pair).await?;
        Ok(())
    }
}
