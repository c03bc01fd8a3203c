//! The keyring store: wrapped tenant data keys and the master key's check
//! value. It is deliberately apart from the journal and from snapshots, and
//! rewritten in place (never versioned), so destroying a key destroys it
//! everywhere at once (DESIGN.md, Keys and erasure).

use crate::StoreResult;

/// Storage of wrapped keys.
#[async_trait::async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The master key's check value, if the keyring was initialised.
    async fn check(&self) -> StoreResult<Option<Vec<u8>>>;
    /// Initialises an empty keyring with `check`; false if one exists already.
    async fn init(&self, check: Vec<u8>) -> StoreResult<bool>;
    async fn wrapped(&self, tenant: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Stores a new wrapped key; false, and nothing changed, when `tenant`
    /// has one already (a key in use is never replaced by accident).
    async fn add_wrapped(&self, tenant: &str, wrapped: Vec<u8>) -> StoreResult<bool>;
    /// Every tenant with a wrapped key.
    async fn tenants(&self) -> StoreResult<Vec<String>>;
    /// Replaces the check value and every wrapped key in one transaction (rotation).
    async fn replace_all(&self, check: Vec<u8>, wrapped: Vec<(String, Vec<u8>)>) -> StoreResult<()>;
    /// Destroys a tenant's key for good (crypto-shredding).
    async fn destroy(&self, tenant: &str) -> StoreResult<()>;
    /// Makes everything written durable. A keyring opened for a restore
    /// (written unsynced, like the restored data) becomes an ordinary one;
    /// for the others every write is durable already.
    async fn flush(&self) -> StoreResult<()> {
        Ok(())
    }
}
