//! A restore as one use case: the state at an instant (snapshot and replayed
//! entries, `restore.rs`), the service opened on it, the erasure ledger
//! re-applied and the indexes rebuilt, every write made durable, and the
//! destination's restore-incomplete marker cleared — in that order, in one
//! function. Its result, a [`Restored`] installation, exists only once all of
//! that is done, so no caller (the command line today, a page or an API
//! call later) can serve restored data that still holds an erased subject
//! (GDPR Art. 17) or may be lost in a crash.

use std::path::PathBuf;
use std::sync::Arc;

use valv_blob::ChunkStore;
use valv_store::{KeyStore, Store};

use super::restore::{RestoreReport, RestoreRequest, restore};
use super::slot::StoreSlot;
use crate::{ServiceError, ServiceResult, Valv};

/// Where a restore writes: empty stores and a chunk store.
pub struct Destination {
    pub store: StoreSlot,
    pub keys: Arc<dyn KeyStore>,
    pub blobs: ChunkStore,
    /// A file present in the destination's folder while the restore writes
    /// into it (nothing may serve the folder then); removed at the end.
    /// `None` for a database.
    pub marker: Option<PathBuf>,
}

/// A restored installation, ready to serve.
pub struct Restored {
    report: RestoreReport,
    erasures_reapplied: usize,
    store: Arc<dyn Store>,
    valv: Valv,
}

impl Restored {
    /// What the restore read and wrote.
    #[must_use]
    pub fn report(&self) -> &RestoreReport {
        &self.report
    }

    /// Erasures of the ledger applied again to the restored data.
    #[must_use]
    pub fn erasures_reapplied(&self) -> usize {
        self.erasures_reapplied
    }

    /// The restored store (an in-place tenant restore reads from it).
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The service on the restored installation.
    #[must_use]
    pub fn valv(&self) -> &Valv {
        &self.valv
    }
}

/// Restores the installation as it was at `req.at` into `dest`. `open`
/// makes the service on the restored stores (the caller knows the settings,
/// the sender and the blob store to serve them with). `progress` gets a
/// phase name, done and total.
///
/// # Errors
/// As the restore (`restore_no_keyring`, `restore_wrong_key`, damaged
/// objects on every target), the re-application of the ledger, or the
/// store; the destination then keeps its marker and must be thrown away.
pub async fn restore_installation(
    dest: Destination,
    req: &RestoreRequest,
    progress: &(dyn Fn(&str, u64, u64) + Sync),
    open: impl AsyncFnOnce(Arc<dyn Store>, Arc<dyn KeyStore>) -> ServiceResult<Valv>,
) -> ServiceResult<Restored> {
    let report = restore(&dest.store, Arc::clone(&dest.keys), &dest.blobs, req, progress).await;
    // A database still being made is whole before anything else happens to its folder.
    let store = dest.store.get().await.map(Arc::clone);
    let (report, store) = (report?, store?);
    let valv = open(Arc::clone(&store), Arc::clone(&dest.keys)).await?;
    valv.content().index_all_collections().await?;
    let erasures_reapplied = valv.privacy().reapply_ledger().await?;
    tokio::try_join!(store.flush(), dest.keys.flush())?;
    if let Some(marker) = &dest.marker {
        clear(marker)
            .map_err(|e| ServiceError::internal(anyhow::Error::new(e).context("clearing the restore marker")))?;
    }
    Ok(Restored { report, erasures_reapplied, store, valv })
}

/// Removes the marker and makes its folder's entries (the new files, the
/// marker gone) durable.
fn clear(marker: &std::path::Path) -> std::io::Result<()> {
    std::fs::remove_file(marker)?;
    if let Some(dir) = marker.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
