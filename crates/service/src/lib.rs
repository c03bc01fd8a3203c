//! Use cases of valv. Every state change goes through here and is written
//! together with its journal entry; handlers and the CLI call these functions
//! and never the store (DESIGN.md). Authorization is decided here, from the
//! [`Caller`] the web layer resolved.

mod access;
mod auth;
pub mod backup;
mod caller;
mod collections;
mod erase;
mod error;
pub mod export;
mod files;
mod form;
mod gc;
pub mod jobs;
mod journal;
pub mod keyring;
mod list;
mod me;
mod operators;
mod purge;
mod reapply;
mod records;
mod requests;
mod revisions;
pub mod scan;
pub mod sender;
mod settings;
mod setup;
mod subjects;
mod tenants;
mod throttle;
mod tokens;
mod totp_secret;
mod upload;
mod users;
mod validate;
mod views;

use std::sync::Arc;

use secrecy::SecretString;
use tokio::sync::Semaphore;
use valv_crypto::password::Verdict;
use valv_domain::Clock;
use valv_store::Store;

pub use access::{AccessReport, render_html};
pub use auth::{SecondFactor, SignIn, SignInStatus};
pub use caller::{Caller, Via};
pub use collections::{CollectionPatch, CollectionView, NewCollection};
pub use erase::ErasureReceipt;
pub use error::{FieldError, ServiceError, ServiceResult};
pub use files::{ByteRange, Download, FileView, VersionView};
pub use gc::GcReport;
pub use journal::{ChainReport, JournalFilter};
pub use list::RecordPage;
pub use me::TotpEnrolment;
pub use purge::PurgeReceipt;
pub use records::RecordView;
pub use requests::{NewRequest, RequestView};
pub use revisions::RevisionView;
pub use sender::{Message, Recipient, Sender};
pub use settings::{Settings, ThrottlePolicy};
pub use subjects::{SubjectMatch, SubjectQuery, SubjectSearch};
pub use tenants::{LimitsInput, NewTenant};
pub use tokens::{NewToken, TokenCreated};
pub use upload::UploadTarget;
pub use users::{NewUser, UserPatch};
pub use valv_store::{JournalEntry, StoreError};
pub use views::{OperatorView, TenantView, TokenView, UserView};

/// The service layer: everything a handler or command may ask of valv.
#[derive(Clone)]
pub struct Valv {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    sender: Arc<dyn Sender>,
    settings: Arc<Settings>,
    keyring: Arc<keyring::Keyring>,
    blobs: Option<valv_blob::ChunkStore>,
    exports: Arc<export::Running>,
    jobs: Arc<export::Jobs>,
    targets: Arc<Vec<valv_backup::Target>>,
    scratch: Option<backup::ScratchStore>,
    hashing: Arc<Semaphore>,
    /// A hash verified against for unknown accounts (timing equalisation).
    dummy_hash: Arc<tokio::sync::OnceCell<String>>,
    attempts: Arc<throttle::Attempts>,
    /// The background jobs `valv serve` runs while it leads.
    background: Arc<jobs::Registry>,
}

impl std::fmt::Debug for Valv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Valv").finish_non_exhaustive()
    }
}

impl Valv {
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        keyring: Arc<keyring::Keyring>,
        clock: Arc<dyn Clock>,
        sender: Arc<dyn Sender>,
        settings: Settings,
    ) -> Self {
        let hashing = Arc::new(Semaphore::new(settings.hash_concurrency.max(1)));
        Self {
            store,
            clock,
            sender,
            settings: Arc::new(settings),
            keyring,
            blobs: None,
            exports: Arc::default(),
            jobs: Arc::default(),
            targets: Arc::default(),
            scratch: None,
            hashing,
            dummy_hash: Arc::default(),
            attempts: Arc::default(),
            background: Arc::default(),
        }
    }

    /// Where file content goes.
    #[must_use]
    pub fn with_blobs(mut self, blobs: valv_blob::ChunkStore) -> Self {
        self.blobs = Some(blobs);
        self
    }

    /// The keyring (master key and tenant data keys).
    #[must_use]
    pub fn keyring(&self) -> &keyring::Keyring {
        &self.keyring
    }

    fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// Hashes a password on the blocking pool, at most `hash_concurrency` at a
    /// time, so a sign-in storm never stalls the async executor (STYLE.md).
    async fn hash_password(&self, password: SecretString) -> ServiceResult<String> {
        let _permit = self.hashing.acquire().await.map_err(ServiceError::internal)?;
        let kdf = self.settings.kdf;
        tokio::task::spawn_blocking(move || kdf.hash(&password))
            .await
            .map_err(ServiceError::internal)?
            .map_err(ServiceError::internal)
    }

    /// Verifies a password on the blocking pool (see [`Self::hash_password`]).
    async fn verify_password(&self, password: SecretString, phc: String) -> ServiceResult<Verdict> {
        let _permit = self.hashing.acquire().await.map_err(ServiceError::internal)?;
        let kdf = self.settings.kdf;
        tokio::task::spawn_blocking(move || kdf.verify(&password, &phc)).await.map_err(ServiceError::internal)
    }

    /// Readiness: the store answers.
    ///
    /// # Errors
    /// When the store does not.
    pub async fn ready(&self) -> ServiceResult<()> {
        self.store.operator_count().await?;
        Ok(())
    }
}
