//! Writes a POSIX (ustar) tar stream asynchronously, hashing every part for
//! the manifest. Entries carry fixed modes and times, so the same content
//! gives the same archive. (The `tar` crate builds the headers; its writer is
//! synchronous, hence this small async one.)

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncSeek, AsyncSeekExt as _, AsyncWrite, AsyncWriteExt as _};

use super::format::{ExportManifest, FORMAT, VERSION};

const BLOCK: usize = 512;

/// A tar archive being written.
pub struct TarOut<W> {
    w: W,
    manifest: ExportManifest,
    /// Bytes written so far.
    at: u64,
}

/// The bytes a part of `size` takes in the archive: its header and its padded body.
pub fn span(size: u64) -> u64 {
    BLOCK as u64 + size.div_ceil(BLOCK as u64) * BLOCK as u64
}

impl<W: AsyncWrite + Unpin> TarOut<W> {
    pub fn new(w: W) -> Self {
        Self {
            w,
            manifest: ExportManifest { format: FORMAT.into(), version: VERSION, parts: Default::default() },
            at: 0,
        }
    }

    async fn header(&mut self, path: &str, size: u64) -> std::io::Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_path(path)?;
        h.set_size(size);
        h.set_mode(0o600);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        self.write(h.as_bytes()).await
    }

    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.at += bytes.len() as u64;
        self.w.write_all(bytes).await
    }

    async fn pad(&mut self, size: u64) -> std::io::Result<()> {
        let rest = (BLOCK - (size % BLOCK as u64) as usize) % BLOCK;
        self.write(&[0u8; BLOCK][..rest]).await
    }

    /// Writes a part of `size` bytes from `body`, hashing it for the manifest;
    /// errors if the body disagrees with `size`.
    pub async fn part<S, E>(&mut self, path: &str, size: u64, body: S) -> std::io::Result<()>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut sha = Sha256::new();
        self.header(path, size).await?;
        self.body(path, size, 0, body, |b| sha.update(b)).await?;
        self.manifest.parts.insert(path.to_owned(), hex::encode(sha.finalize()));
        Ok(())
    }

    /// Writes a part whose SHA-256 is already known: a file version's bytes,
    /// whose chunks are each verified against their content address as they
    /// are read, so they are the very bytes `sha256` was taken of at upload.
    pub async fn part_known<S, E>(&mut self, path: &str, size: u64, sha256: &str, body: S) -> std::io::Result<()>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.header(path, size).await?;
        self.body(path, size, 0, body, |_| ()).await?;
        self.manifest.parts.insert(path.to_owned(), sha256.to_owned());
        Ok(())
    }

    /// Writes the rest of a part's body after the `written` bytes already in
    /// place, then its padding.
    async fn body<S, E>(
        &mut self,
        path: &str,
        size: u64,
        mut written: u64,
        mut body: S,
        mut seen: impl FnMut(&[u8]),
    ) -> std::io::Result<()>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        while let Some(b) = body.next().await {
            let b = b.map_err(|e| std::io::Error::other(e.to_string()))?;
            seen(&b);
            written += b.len() as u64;
            self.write(&b).await?;
        }
        if written != size {
            return Err(std::io::Error::other(format!("{path}: {written} bytes, expected {size}")));
        }
        self.pad(size).await
    }

    /// Where the next part's body will start.
    pub fn next_body_at(&self) -> u64 {
        self.at + BLOCK as u64
    }

    /// Writes `manifest.json` and the end-of-archive blocks.
    pub async fn finish(mut self) -> std::io::Result<W> {
        let m = serde_json::to_vec_pretty(&self.manifest).map_err(std::io::Error::other)?;
        self.header("manifest.json", m.len() as u64).await?;
        self.write(&m).await?;
        self.pad(m.len() as u64).await?;
        self.write(&[0u8; 2 * BLOCK]).await?;
        self.w.flush().await?;
        Ok(self.w)
    }
}

impl<W: AsyncWrite + AsyncSeek + Unpin> TarOut<W> {
    /// Writes a part whose first `placed` bytes were already written in their
    /// place, right after this part's header (see `placed.rs`), hashed into
    /// `sha`; `rest` follows them.
    pub async fn part_placed<S, E>(
        &mut self,
        path: &str,
        placed: u64,
        mut sha: Sha256,
        rest_len: u64,
        rest: S,
    ) -> std::io::Result<()>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let size = placed + rest_len;
        self.header(path, size).await?;
        let skip = i64::try_from(placed).map_err(std::io::Error::other)?;
        self.w.seek(std::io::SeekFrom::Current(skip)).await?;
        self.at += placed;
        self.body(path, size, placed, rest, |b| sha.update(b)).await?;
        self.manifest.parts.insert(path.to_owned(), hex::encode(sha.finalize()));
        Ok(())
    }
}
