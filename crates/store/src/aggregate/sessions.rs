//! Short-lived security state outside the journal: sessions, sign-in throttles and the setup token.

use crate::{Principal, SessionRow, StoreResult, Throttle};

/// Short-lived security state outside the journal: sessions, sign-in throttles and the setup token.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync + 'static {
    async fn put_session(&self, session: SessionRow) -> StoreResult<()>;

    /// A session by id, for authentication; the caller checks its principal.
    async fn session(&self, id: &str) -> StoreResult<Option<SessionRow>>;

    async fn delete_session(&self, id: &str) -> StoreResult<()>;

    /// Ends every session of `principal` except `keep`.
    async fn delete_sessions(&self, principal: Principal, keep: Option<&str>) -> StoreResult<()>;

    async fn throttle(&self, key: &str) -> StoreResult<Option<Throttle>>;

    /// Counts one more failure against `key` in one step, so failures that
    /// come at the same moment are each counted; returns the new count.
    async fn add_failure(&self, key: &str) -> StoreResult<u32>;

    /// Locks `key` until `until`, unless it is locked longer already.
    async fn lock_throttle(&self, key: &str, until: time::OffsetDateTime) -> StoreResult<()>;

    /// Counts a call against `key` in its fixed window, in one step: a new
    /// window of `window` starts at `now` once the last one has ended.
    /// Returns the calls counted in the window (`failures`) and its end.
    async fn count_call(&self, key: &str, now: time::OffsetDateTime, window: time::Duration) -> StoreResult<Throttle>;

    async fn clear_throttle(&self, key: &str) -> StoreResult<()>;

    /// Deletes every throttle whose key names `address` (an e-mail address,
    /// as keys hold it: normalised): an erased person's address does not
    /// stay behind in the counts (GDPR Art. 17). How many went.
    async fn forget_throttles_of(&self, address: &str) -> StoreResult<u64>;

    /// Stores the digest of a first-start setup token beside any other (each
    /// process on one database prints its own).
    async fn put_setup_token(&self, digest: &str) -> StoreResult<()>;

    /// Removes every setup token if `digest` is one of them; true when it was.
    async fn take_setup_token(&self, digest: &str) -> StoreResult<bool>;
}
