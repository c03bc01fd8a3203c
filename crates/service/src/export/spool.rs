//! A sealed spool: `export.json` must be complete before it enters the
//! archive (a tar header states its size first), so it is written to a
//! temporary file — sealed, frame by frame, with a key that lives only in
//! memory. A crash leaves nothing readable behind, and the file is unlinked
//! from the start (nothing to clean up).

use bytes::Bytes;
use futures::Stream;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _, BufReader, BufWriter};
use valv_crypto::seal::Key;

/// Plaintext gathered before a frame is sealed and written.
const FRAME: usize = 1 << 20;

/// A temporary, sealed, append-only byte spool.
pub struct Spool {
    key: Key,
    file: BufWriter<tokio::fs::File>,
    buf: Vec<u8>,
    frames: u64,
    len: u64,
}

fn context(frame: u64) -> [u8; 8] {
    frame.to_be_bytes()
}

impl Spool {
    /// A new, empty spool in the system's temporary folder.
    ///
    /// # Errors
    /// The temporary file cannot be made.
    pub fn new() -> std::io::Result<Self> {
        let file = tokio::fs::File::from_std(tempfile::tempfile()?);
        Ok(Self { key: Key::generate(), file: BufWriter::new(file), buf: Vec::with_capacity(FRAME), frames: 0, len: 0 })
    }

    /// Appends bytes.
    ///
    /// # Errors
    /// Writing the file failed.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(bytes);
        self.len += bytes.len() as u64;
        if self.buf.len() >= FRAME {
            self.frame().await?;
        }
        Ok(())
    }

    async fn frame(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        // The frame number is bound into each seal, so frames cannot be reordered.
        let sealed = self.key.seal(&self.buf, &context(self.frames));
        self.buf.clear();
        self.frames += 1;
        let len = u32::try_from(sealed.len()).map_err(std::io::Error::other)?;
        self.file.write_all(&len.to_be_bytes()).await?;
        self.file.write_all(&sealed).await
    }

    /// Ends writing; returns the plaintext length and the content as a stream.
    ///
    /// # Errors
    /// Writing or rewinding the file failed.
    pub async fn finish(
        mut self,
    ) -> std::io::Result<(u64, impl Stream<Item = std::io::Result<Bytes>> + Unpin + Send + use<>)> {
        self.frame().await?;
        self.file.flush().await?;
        let mut file = self.file.into_inner();
        file.rewind().await?;
        let state = (BufReader::new(file), self.key, 0u64, self.frames);
        let stream = futures::stream::try_unfold(state, |(mut r, key, n, frames)| async move {
            if n == frames {
                return Ok(None);
            }
            let len = r.read_u32().await?;
            let mut sealed = vec![0u8; len as usize];
            r.read_exact(&mut sealed).await?;
            let plain = key.open(&sealed, &context(n)).map_err(|_| std::io::Error::other("spool damaged"))?;
            Ok(Some((Bytes::from(plain), (r, key, n + 1, frames))))
        });
        Ok((self.len, Box::pin(stream)))
    }
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt as _;

    use super::*;

    #[tokio::test]
    async fn gives_back_what_was_written_across_frames() {
        let mut s = Spool::new().expect("spool");
        let piece: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
        for _ in 0..8 {
            s.write(&piece).await.expect("write");
        }
        let (len, stream) = s.finish().await.expect("finish");
        let back: Vec<Bytes> = stream.try_collect().await.expect("read");
        assert_eq!(len, 8 * 300_000);
        assert_eq!(back.concat(), piece.repeat(8));
    }

    #[tokio::test]
    async fn an_empty_spool_is_empty() {
        let (len, stream) = Spool::new().expect("spool").finish().await.expect("finish");
        let back: Vec<Bytes> = stream.try_collect().await.expect("read");
        assert_eq!((len, back.len()), (0, 0));
    }
}
