//! Malware scanning with ClamAV: each upload is streamed through clamd's
//! INSTREAM command (clamd(8): `zINSTREAM\0`, then chunks of a 4-byte
//! big-endian length and the bytes, ended by a zero length) while it is being
//! stored, and its version becomes visible only after clamd said "OK".

use std::path::PathBuf;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// What clamd said about a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// The signature name clamd reported.
    Infected(String),
}

/// Where clamd listens.
#[derive(Debug, Clone)]
pub enum Clamd {
    Tcp(String),
    Unix(PathBuf),
}

impl Clamd {
    /// `unix:/path`, `/path` (a socket) or `host:port`.
    #[must_use]
    pub fn parse(s: &str) -> Self {
        match s.strip_prefix("unix:") {
            Some(p) => Self::Unix(p.into()),
            None if s.starts_with('/') => Self::Unix(s.into()),
            None => Self::Tcp(s.to_owned()),
        }
    }

    /// Opens an INSTREAM session.
    ///
    /// # Errors
    /// When clamd cannot be reached.
    pub async fn start(&self) -> Result<Session, String> {
        let io: Box<dyn Io> = match self {
            Self::Tcp(addr) => {
                Box::new(tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("clamd at {addr}: {e}"))?)
            }
            #[cfg(unix)]
            Self::Unix(p) => Box::new(
                tokio::net::UnixStream::connect(p).await.map_err(|e| format!("clamd at {}: {e}", p.display()))?,
            ),
            #[cfg(not(unix))]
            Self::Unix(_) => return Err("unix sockets are not available here".into()),
        };
        let mut s = Session { io };
        s.io.write_all(b"zINSTREAM\0").await.map_err(|e| format!("clamd: {e}"))?;
        Ok(s)
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One stream being scanned.
pub struct Session {
    io: Box<dyn Io>,
}

impl Session {
    /// Sends the next bytes of the stream.
    ///
    /// # Errors
    /// When clamd closed the connection (for example past its `StreamMaxLength`).
    pub async fn feed(&mut self, data: &[u8]) -> Result<(), String> {
        for piece in data.chunks(1 << 20) {
            let len = u32::try_from(piece.len()).unwrap_or(u32::MAX).to_be_bytes();
            self.io.write_all(&len).await.map_err(|e| format!("clamd stopped reading: {e}"))?;
            self.io.write_all(piece).await.map_err(|e| format!("clamd stopped reading: {e}"))?;
        }
        Ok(())
    }

    /// Ends the stream and reads the verdict.
    ///
    /// # Errors
    /// When clamd reports an error (size limit, I/O) instead of a verdict.
    pub async fn finish(mut self) -> Result<Verdict, String> {
        self.io.write_all(&[0, 0, 0, 0]).await.map_err(|e| format!("clamd: {e}"))?;
        let mut reply = Vec::new();
        self.io.read_to_end(&mut reply).await.map_err(|e| format!("clamd: {e}"))?;
        let text = String::from_utf8_lossy(&reply).trim_end_matches(['\0', '\n']).to_owned();
        let body = text.strip_prefix("stream: ").unwrap_or(&text);
        if body == "OK" {
            Ok(Verdict::Clean)
        } else if let Some(sig) = body.strip_suffix(" FOUND") {
            Ok(Verdict::Infected(sig.to_owned()))
        } else {
            Err(format!("clamd answered: {text}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse() {
        assert!(matches!(Clamd::parse("127.0.0.1:3310"), Clamd::Tcp(_)));
        assert!(matches!(Clamd::parse("/run/clamd.sock"), Clamd::Unix(_)));
        assert!(matches!(Clamd::parse("unix:/run/clamd.sock"), Clamd::Unix(_)));
    }
}
