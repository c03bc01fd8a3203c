//! Use cases of valv, by business area (`areas.rs`: accounts, content,
//! portability, backups; privacy is its own crate), behind the thin [`Valv`]
//! facade. Every state change goes through here and is written together
//! with its journal entry; handlers and the CLI call these functions and
//! never the store (DESIGN.md). Authorization is decided here, from the
//! [`Caller`] the HTTP layer resolved.

mod areas;
mod auth;
pub mod backup;
mod collections;
pub mod export;
mod field_doc;
mod files;
mod form;
mod gc;
pub mod jobs;
mod journal;
mod list;
mod me;
mod operator_factor;
mod operators;
mod purge;
mod records;
mod revisions;
mod second_factor;
mod setup;
mod tenants;
mod throttle;
mod tokens;
mod totp_secret;
mod upgrade;
mod upload;
mod users;
mod validate;

use std::sync::Arc;

pub use areas::{Accounts, Backups, Content, Portability};
pub use valv_core::{
    Caller, Context, FieldError, Message, OperatorView, Recipient, Sender, ServiceError, ServiceResult, Settings,
    TenantView, ThrottlePolicy, TokenView, UserView, Via, keyring, retry_after_secs, scan, sender,
};
use valv_domain::Clock;
pub use valv_privacy as privacy;
use valv_store::Store;

pub use auth::{SignIn, SignInStatus};
pub use collections::{CollectionPatch, CollectionView, NewCollection};
pub use files::{ByteRange, Download, FileView, VersionView};
pub use gc::GcReport;
pub use journal::{ChainReport, JournalFilter};
pub use list::RecordPage;
pub use me::TotpEnrolment;
pub use purge::PurgeReceipt;
pub use records::RecordView;
pub use revisions::RevisionView;
pub use second_factor::SecondFactor;
pub use setup::SetUp;
pub use tenants::{LimitsInput, NewTenant};
pub use tokens::{NewToken, TokenCreated};
pub use upload::UploadTarget;
pub use users::{NewUser, UserPatch};
pub use valv_store::{JournalEntry, StoreError};

/// The service layer: everything a handler or command may ask of valv, on
/// one shared [`Context`].
#[derive(Clone)]
pub struct Valv {
    ctx: Context,
    exports: Arc<export::Running>,
    jobs: Arc<export::Jobs>,
    targets: Arc<Vec<valv_backup_format::Target>>,
    scratch: Option<backup::ScratchStore>,
    /// A hash verified against for unknown accounts (timing equalisation).
    dummy_hash: Arc<tokio::sync::OnceCell<String>>,
    attempts: Arc<throttle::Attempts>,
    /// Bytes of uploads under way, per tenant (counted against storage as they arrive).
    uploading: Arc<upload::InFlight>,
    /// The chain heads last shipped to each backup target.
    anchors: Arc<backup::Anchors>,
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
        Self {
            ctx: Context::new(store, keyring, clock, sender, settings),
            exports: Arc::default(),
            jobs: Arc::default(),
            targets: Arc::default(),
            scratch: None,
            dummy_hash: Arc::default(),
            attempts: Arc::default(),
            uploading: Arc::default(),
            anchors: Arc::default(),
            background: Arc::default(),
        }
    }

    /// Where file content goes.
    #[must_use]
    pub fn with_blobs(mut self, blobs: valv_blob::ChunkStore) -> Self {
        self.ctx.blobs = Some(blobs);
        self
    }

    /// The keyring (master key and tenant data keys).
    #[must_use]
    pub fn keyring(&self) -> &keyring::Keyring {
        &self.ctx.keyring
    }

    /// Data subjects: search, access extract, erasure, requests.
    #[must_use]
    pub fn privacy(&self) -> privacy::Privacy {
        privacy::Privacy::new(self.ctx.clone())
    }

    /// The shared context every area works on.
    #[must_use]
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Readiness: the store answers.
    ///
    /// # Errors
    /// When the store does not.
    pub async fn ready(&self) -> ServiceResult<()> {
        self.ctx.store.operator_count().await?;
        Ok(())
    }
}
