//! A sealed spool: bytes that must rest on disk for a while — `export.json`
//! before it enters the archive (a tar header states its size first), and an
//! archive made through the API until it is downloaded — are written to an
//! unlinked temporary file, sealed frame by frame (AES-256-GCM, the frame
//! number bound in) with a key that lives only in memory. Nothing readable is
//! ever at rest, a crash leaves nothing behind, and dropping the spool frees
//! the space. Frames are read back by position, so several readers can
//! stream the same spool at once.

use std::os::unix::fs::FileExt as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use valv_crypto::seal::Key;

/// Plaintext gathered before a frame is sealed and written.
const FRAME: usize = 1 << 20;

/// A temporary, sealed, append-only byte spool.
pub struct Spool {
    key: Key,
    file: Arc<std::fs::File>,
    buf: Vec<u8>,
    /// Offset and length of every sealed frame.
    frames: Vec<(u64, usize)>,
    end: u64,
    len: u64,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool").field("len", &self.len).finish_non_exhaustive()
    }
}

fn context(frame: usize) -> [u8; 8] {
    (frame as u64).to_be_bytes()
}

impl Spool {
    /// A new, empty spool in `dir` (the system's temporary folder when `None`).
    ///
    /// # Errors
    /// The temporary file cannot be made.
    pub fn new(dir: Option<&std::path::Path>) -> std::io::Result<Self> {
        let file = match dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                tempfile::tempfile_in(d)?
            }
            None => tempfile::tempfile()?,
        };
        Ok(Self { key: Key::generate(), file: Arc::new(file), buf: Vec::new(), frames: Vec::new(), end: 0, len: 0 })
    }

    /// Appends bytes.
    ///
    /// # Errors
    /// Writing the file failed.
    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(bytes);
        self.len += bytes.len() as u64;
        if self.buf.len() >= FRAME { self.frame() } else { Ok(()) }
    }

    fn frame(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let sealed = self.key.seal(&self.buf, &context(self.frames.len()));
        self.buf.clear();
        self.file.write_all_at(&sealed, self.end)?;
        self.frames.push((self.end, sealed.len()));
        self.end += sealed.len() as u64;
        Ok(())
    }

    /// Writes what is buffered; the spool can then be read.
    ///
    /// # Errors
    /// Writing the file failed.
    pub fn close(&mut self) -> std::io::Result<()> {
        self.frame()?;
        self.buf = Vec::new();
        Ok(())
    }

    /// Ends the current frame and returns how many frames there are: what was
    /// written since the previous mark is frames `previous..returned`, which
    /// [`Self::reader_of`] reads back alone (many parts, one temporary file).
    ///
    /// # Errors
    /// Writing the file failed.
    pub fn mark(&mut self) -> std::io::Result<usize> {
        self.frame()?;
        Ok(self.frames.len())
    }

    /// Bytes written.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The content as a stream (of what was [`Self::close`]d). Frames are
    /// read and opened on the blocking pool, one ahead of the reader.
    pub fn reader(&self) -> impl Stream<Item = std::io::Result<Bytes>> + Unpin + Send + 'static + use<> {
        self.reader_of(0..self.frames.len())
    }

    /// Frames `frames` (between two [`Self::mark`]s) as a stream.
    pub fn reader_of(
        &self,
        frames: std::ops::Range<usize>,
    ) -> impl Stream<Item = std::io::Result<Bytes>> + Unpin + Send + 'static + use<> {
        let (file, key) = (Arc::clone(&self.file), self.key.clone());
        let frames = frames.clone().zip(self.frames.get(frames).unwrap_or_default().to_vec());
        let open = move |(n, (offset, len)): (usize, (u64, usize))| {
            let (file, key) = (Arc::clone(&file), key.clone());
            async move { tokio::task::spawn_blocking(move || open_frame(&file, &key, n, offset, len)).await? }
        };
        futures::stream::iter(frames).map(open).buffered(2)
    }
}

/// Reads frame `n` (at `offset`, `len` sealed bytes) and opens it.
fn open_frame(file: &std::fs::File, key: &Key, n: usize, offset: u64, len: usize) -> std::io::Result<Bytes> {
    let mut sealed = vec![0u8; len];
    file.read_exact_at(&mut sealed, offset)?;
    let plain = key.open(&sealed, &context(n)).map_err(|_| std::io::Error::other("spool damaged"))?;
    Ok(Bytes::from(plain))
}

/// A blocking reader of a closed spool (see [`Spool::read_sync`]).
pub struct SpoolRead {
    file: Arc<std::fs::File>,
    key: Key,
    frames: std::vec::IntoIter<(u64, usize)>,
    frame: usize,
    plain: Bytes,
}

impl std::io::Read for SpoolRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.plain.is_empty() {
            let Some((offset, len)) = self.frames.next() else { return Ok(0) };
            self.plain = open_frame(&self.file, &self.key, self.frame, offset, len)?;
            self.frame += 1;
        }
        let n = buf.len().min(self.plain.len());
        buf[..n].copy_from_slice(&self.plain.split_to(n));
        Ok(n)
    }
}

impl Spool {
    /// The content (of what was [`Self::close`]d) as a blocking reader, for
    /// parsers that read: one frame in memory at a time.
    #[must_use]
    pub fn read_sync(&self) -> SpoolRead {
        SpoolRead {
            file: Arc::clone(&self.file),
            key: self.key.clone(),
            frames: self.frames.clone().into_iter(),
            frame: 0,
            plain: Bytes::new(),
        }
    }
}

/// The archive of an API export is written straight into a spool.
impl tokio::io::AsyncWrite for Spool {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.get_mut().write(buf).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.get_mut().close())
    }
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt as _;

    use super::*;

    #[tokio::test]
    async fn gives_back_what_was_written_across_frames_to_every_reader() {
        let mut s = Spool::new(None).expect("spool");
        let piece: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
        for _ in 0..8 {
            s.write(&piece).expect("write");
        }
        s.close().expect("close");
        assert_eq!(s.len(), 8 * 300_000);
        for _ in 0..2 {
            let back: Vec<Bytes> = s.reader().try_collect().await.expect("read");
            assert_eq!(back.concat(), piece.repeat(8));
        }
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut s.read_sync(), &mut back).expect("read");
        assert_eq!(back, piece.repeat(8), "the blocking reader gives the same");
    }

    #[tokio::test]
    async fn marked_parts_read_back_alone() {
        let mut s = Spool::new(None).expect("spool");
        let parts: Vec<Vec<u8>> = vec![b"first".to_vec(), Vec::new(), vec![9u8; 3 * FRAME / 2], b"last".to_vec()];
        let mut marks = vec![0];
        for p in &parts {
            s.write(p).expect("write");
            marks.push(s.mark().expect("mark"));
        }
        s.close().expect("close");
        for (i, p) in parts.iter().enumerate() {
            let back: Vec<Bytes> = s.reader_of(marks[i]..marks[i + 1]).try_collect().await.expect("read");
            assert_eq!(back.concat(), *p, "part {i}");
        }
    }

    #[tokio::test]
    async fn nothing_readable_rests_on_disk() {
        let mut s = Spool::new(None).expect("spool");
        s.write(&b"personal data: ada@example.se ".repeat(50_000)).expect("write");
        s.close().expect("close");
        let mut raw = vec![0u8; usize::try_from(s.end).expect("size")];
        s.file.read_exact_at(&mut raw, 0).expect("raw");
        assert!(!raw.windows(13).any(|w| w == b"ada@example.s"), "sealed at rest");
    }

    #[tokio::test]
    async fn an_empty_spool_is_empty() {
        let mut s = Spool::new(None).expect("spool");
        s.close().expect("close");
        let back: Vec<Bytes> = s.reader().try_collect().await.expect("read");
        assert!(s.is_empty() && back.is_empty());
    }
}
