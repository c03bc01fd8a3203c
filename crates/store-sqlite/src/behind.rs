//! Write-behind for a database written unsynced (`Durability::AtFlush`):
//! after each large commit the file is synced on a thread of its own, while
//! the restore goes on, so the final `Store::flush` finds little left to
//! write. A sync's error is kept and returned by `finish`: on Linux a
//! writeback error is reported to the descriptors open when it happened, so
//! a later sync through a new descriptor could miss it.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use valv_store::{StoreError, StoreResult};

/// The sync running in the background, if any. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct WriteBehind(Arc<Mutex<Option<JoinHandle<io::Result<()>>>>>);

impl WriteBehind {
    /// Starts syncing the file at `path`, unless a sync is still running
    /// (it will be followed by `finish`'s). Returns the error of a sync that
    /// ended since the last call.
    pub(crate) fn start(&self, path: PathBuf) -> io::Result<()> {
        let mut running = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if running.as_ref().is_some_and(|h| !h.is_finished()) {
            return Ok(());
        }
        let ended = running.take().map_or(Ok(()), join);
        *running = Some(std::thread::spawn(move || std::fs::File::open(path)?.sync_data()));
        ended
    }

    /// After a restore's commit on `c`: starts a background sync when the
    /// store is written unsynced (`behind` is set), does nothing otherwise.
    pub(crate) fn after_commit(behind: Option<&Self>, c: &rusqlite::Connection) -> StoreResult<()> {
        let (Some(b), Some(path)) = (behind, c.path().filter(|p| !p.is_empty())) else { return Ok(()) };
        b.start(path.into()).map_err(|e| StoreError::Backend(e.to_string()))
    }

    /// Waits for the running sync and returns its outcome.
    pub(crate) fn finish(&self) -> io::Result<()> {
        let running = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        running.map_or(Ok(()), join)
    }
}

fn join(h: JoinHandle<io::Result<()>>) -> io::Result<()> {
    h.join().unwrap_or_else(|_| Err(io::Error::other("the background sync panicked")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_background_sync_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("db");
        std::fs::write(&file, b"pages").unwrap();
        let b = WriteBehind::default();
        b.start(file.clone()).unwrap();
        assert!(b.finish().is_ok());
        b.start(dir.path().join("gone")).unwrap();
        assert!(b.finish().is_err(), "the sync of a missing file failed, and finish says so");
        b.start(dir.path().join("gone")).unwrap();
        while b.0.lock().unwrap().as_ref().is_some_and(|h| !h.is_finished()) {
            std::thread::yield_now();
        }
        assert!(b.start(file).is_err(), "the next start reports the failure that ended before it");
        assert!(b.finish().is_ok());
    }
}
