//! `export.json` written straight into its place in an archive file. When the
//! archive is a file, where `export.json` starts is known before anything is
//! written: the file parts come first and their sizes are known. So the
//! document is written at that offset (positional writes, which leave the
//! file parts' sequential writer alone) while the file parts stream in front
//! of it, instead of resting in a spool and being copied in after.

use std::os::unix::fs::FileExt as _;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use super::document::Sink;

/// Bytes gathered before one positional write.
const BUFFER: usize = 1 << 20;

/// How often the archive is flushed to disk while it is written.
const WRITE_BACK: std::time::Duration = std::time::Duration::from_secs(1);

/// Flushes the archive file to disk every [`WRITE_BACK`] until `stop` is
/// notified. The kernel on its own starts writing back only once dirty pages
/// pass a share of memory, which an archive of a few GiB may never reach:
/// then every byte waits for the final sync, the disk idle until the CPUs are
/// done. Flushing as the archive grows lets both work at once. Returns the
/// first error, and the caller awaits the end of a flush under way: a failed
/// write-back is reported once, to one of the descriptors sharing the file,
/// so a result left unread could let the final sync report success.
pub(super) async fn write_back(file: Arc<std::fs::File>, stop: Arc<tokio::sync::Notify>) -> std::io::Result<()> {
    let mut tick = tokio::time::interval(WRITE_BACK);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.notified() => return Ok(()),
        }
        let f = Arc::clone(&file);
        tokio::task::spawn_blocking(move || f.sync_data()).await.map_err(std::io::Error::other)??;
    }
}

/// A region of the archive file being filled from `at` on, hashed as it is written.
pub(super) struct Placed {
    file: Arc<std::fs::File>,
    at: u64,
    written: u64,
    buf: Vec<u8>,
    sha: Sha256,
}

impl Placed {
    pub(super) fn new(file: Arc<std::fs::File>, at: u64) -> Self {
        Self { file, at, written: 0, buf: Vec::with_capacity(BUFFER), sha: Sha256::new() }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.write_all_at(&self.buf, self.at + self.written)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Writes what is left; the region's length and the hash of its bytes so far.
    pub(super) fn finish(mut self) -> std::io::Result<(u64, Sha256)> {
        self.flush()?;
        Ok((self.written, self.sha))
    }
}

impl Sink for Placed {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.sha.update(bytes);
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= BUFFER {
            self.flush()?;
        }
        Ok(())
    }
}
