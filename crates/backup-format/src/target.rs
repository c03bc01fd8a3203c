//! One backup target: a local folder or an S3-compatible bucket, reached
//! through `object_store` with the same URLs as the chunk store.
//!
//! Backups run in the background next to live traffic, so a target that hangs
//! (an unmounted network share, a bucket behind a dead proxy) must never hold
//! its caller forever: every operation is bounded by a timeout and fails with
//! an error that names the target and what to check. Errors never repeat the
//! URL, which may carry a secret key.
//!
//! Writes are atomic: `object_store`'s local folder writes to `path#N` and
//! renames (hard-links for [`Target::put_if_absent`]) over the final name, and
//! S3 makes an object visible only once fully uploaded, so a reader never sees
//! half an object.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt as _;
use object_store::path::Path;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};

use crate::TargetError;

/// How long one operation may take unless [`Target::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A backup target. Cheap to clone.
#[derive(Clone)]
pub struct Target {
    name: String,
    store: Arc<dyn ObjectStore>,
    /// The folder or bucket, for errors and logs; never credentials.
    description: String,
    timeout: Duration,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// Opens the target `name` at `url`: a folder path, `file:///abs/path` or
    /// `s3://bucket?endpoint=...` (see `valv_blob::ChunkStore::open`). A
    /// missing folder is created; nothing is contacted yet.
    ///
    /// # Errors
    /// [`TargetError::Open`] for a malformed URL, a folder that cannot be
    /// created or an S3 client that cannot be configured.
    pub fn open(name: &str, url: &str) -> Result<Self, TargetError> {
        let (store, description) = valv_blob::object_store_at(url).map_err(|e| TargetError::Open {
            target: name.to_owned(),
            reason: match e {
                valv_blob::BlobError::InvalidUrl(reason) | valv_blob::BlobError::Store(reason) => reason,
                other => other.to_string(),
            },
        })?;
        Ok(Self { name: name.to_owned(), store, description, timeout: DEFAULT_TIMEOUT })
    }

    /// The same target with another time limit per operation; large snapshot
    /// pieces on a slow link may need more than [`DEFAULT_TIMEOUT`].
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The target's name from the configuration.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The folder or bucket, safe to log.
    #[must_use]
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Writes `bytes` at `path`, replacing what is there (the keyring is
    /// rewritten in place).
    ///
    /// # Errors
    /// [`TargetError`] naming the target.
    pub async fn put(&self, path: &str, bytes: Bytes) -> Result<(), TargetError> {
        let location = self.path(path)?;
        self.bounded("write", path, async { self.store.put(&location, PutPayload::from(bytes)).await.map(|_| ()) })
            .await
    }

    /// Writes `bytes` at `path` unless an object is already there, which is
    /// left alone: chunks are immutable, so an existing copy is right. Returns
    /// whether it wrote.
    ///
    /// # Errors
    /// [`TargetError`] naming the target.
    pub async fn put_if_absent(&self, path: &str, bytes: Bytes) -> Result<bool, TargetError> {
        if self.exists(path).await? {
            return Ok(false);
        }
        let location = self.path(path)?;
        self.bounded("write", path, async {
            let create = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
            match self.store.put_opts(&location, PutPayload::from(bytes.clone()), create).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
                // A bucket without conditional writes: the content is the same
                // whoever wins a race, so a plain write is just as right.
                Err(object_store::Error::NotImplemented) => {
                    self.store.put(&location, PutPayload::from(bytes)).await.map(|_| true)
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Whether an object is stored at `path`.
    ///
    /// # Errors
    /// [`TargetError`] naming the target.
    pub async fn exists(&self, path: &str) -> Result<bool, TargetError> {
        let location = self.path(path)?;
        self.bounded("look up", path, async {
            match self.store.head(&location).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// The object at `path`, or `None` if there is none.
    ///
    /// # Errors
    /// [`TargetError`] naming the target.
    pub async fn get(&self, path: &str) -> Result<Option<Bytes>, TargetError> {
        let location = self.path(path)?;
        self.bounded("read", path, async {
            match self.store.get(&location).await {
                Ok(found) => found.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Every object under `prefix` (a folder such as `segments`; empty for
    /// all) with its size, sorted by path.
    ///
    /// # Errors
    /// [`TargetError`] naming the target.
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>, TargetError> {
        let location = if prefix.is_empty() { None } else { Some(self.path(prefix)?) };
        let mut found: Vec<(String, u64)> = self
            .bounded("list", prefix, async {
                self.store.list(location.as_ref()).map_ok(|m| (m.location.to_string(), m.size)).try_collect().await
            })
            .await?;
        found.sort_unstable();
        Ok(found)
    }

    /// Deletes the object at `path`; one that is not there is not an error.
    ///
    /// # Errors
    /// [`TargetError`] naming the target.
    pub async fn delete(&self, path: &str) -> Result<(), TargetError> {
        let location = self.path(path)?;
        self.bounded("delete", path, async {
            match self.store.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Runs one store operation within the time limit, naming the target in
    /// any error.
    async fn bounded<T>(
        &self,
        operation: &str,
        path: &str,
        work: impl Future<Output = Result<T, object_store::Error>>,
    ) -> Result<T, TargetError> {
        match tokio::time::timeout(self.timeout, work).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(TargetError::Failed {
                target: self.name.clone(),
                description: self.description.clone(),
                operation: format!("{operation} '{path}'"),
                message: e.to_string(),
            }),
            Err(_) => Err(TargetError::TimedOut {
                target: self.name.clone(),
                description: self.description.clone(),
                after: self.timeout,
            }),
        }
    }

    fn path(&self, path: &str) -> Result<Path, TargetError> {
        Path::parse(path).map_err(|_| TargetError::InvalidPath { target: self.name.clone(), path: path.to_owned() })
    }
}
