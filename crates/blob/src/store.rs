//! The chunk store: sealed chunks as immutable objects at
//! `chunks/{tenant}/{first two hex chars}/{id}` on a local folder or an
//! S3-compatible bucket, through `object_store`.

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt as _;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};

use crate::error::BlobError;
use crate::id::ChunkId;
use crate::location::{self, Location, S3Location};

/// Sealed chunks of all tenants in one place. Cheap to clone.
#[derive(Clone)]
pub struct ChunkStore {
    inner: Arc<dyn ObjectStore>,
    /// What to show in logs: the folder or bucket, never credentials.
    description: Arc<str>,
}

impl std::fmt::Debug for ChunkStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ChunkStore").field(&self.description).finish()
    }
}

impl ChunkStore {
    /// Opens the store at `url`: a folder path or `file:///abs/path` (created
    /// if missing), or `s3://bucket?endpoint=...&region=...` with credentials
    /// from `access_key_id`/`secret_access_key` parameters or the
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` environment variables.
    ///
    /// # Errors
    /// [`BlobError::InvalidUrl`] for an unknown scheme or malformed URL,
    /// [`BlobError::Store`] if the folder cannot be created or the S3 client
    /// cannot be configured.
    pub fn open(url: &str) -> Result<Self, BlobError> {
        let (inner, description) = object_store_at(url)?;
        Ok(Self { inner, description: description.into() })
    }

    /// Stores a sealed chunk. Idempotent: a chunk that is already there is
    /// left alone (same id means same content, so either copy is right).
    ///
    /// # Errors
    /// [`BlobError::InvalidTenant`] or [`BlobError::Store`].
    pub async fn put(&self, tenant: &str, id: &ChunkId, sealed: Bytes) -> Result<(), BlobError> {
        if self.has(tenant, id).await? {
            return Ok(());
        }
        self.put_unchecked(tenant, id, sealed).await
    }

    /// Stores a sealed chunk the caller has just seen missing, saving a `head`.
    pub(crate) async fn put_unchecked(&self, tenant: &str, id: &ChunkId, sealed: Bytes) -> Result<(), BlobError> {
        self.inner.put(&chunk_path(tenant, id)?, PutPayload::from(sealed)).await?;
        Ok(())
    }

    /// Whether the tenant's chunk is stored.
    ///
    /// # Errors
    /// [`BlobError::InvalidTenant`] or [`BlobError::Store`].
    pub async fn has(&self, tenant: &str, id: &ChunkId) -> Result<bool, BlobError> {
        match self.inner.head(&chunk_path(tenant, id)?).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// When the tenant's chunk was last written (Unix seconds), if it is stored.
    ///
    /// # Errors
    /// [`BlobError::InvalidTenant`] or [`BlobError::Store`].
    pub async fn written_at(&self, tenant: &str, id: &ChunkId) -> Result<Option<i64>, BlobError> {
        match self.inner.head(&chunk_path(tenant, id)?).await {
            Ok(meta) => Ok(Some(meta.last_modified.timestamp())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The sealed bytes of the tenant's chunk.
    ///
    /// # Errors
    /// [`BlobError::Missing`] if it is not stored, [`BlobError::InvalidTenant`]
    /// or [`BlobError::Store`].
    pub async fn get(&self, tenant: &str, id: &ChunkId) -> Result<Bytes, BlobError> {
        let missing = |e: object_store::Error| match e {
            object_store::Error::NotFound { .. } => BlobError::Missing { id: id.clone() },
            e => e.into(),
        };
        let found = self.inner.get(&chunk_path(tenant, id)?).await.map_err(missing)?;
        found.bytes().await.map_err(missing)
    }

    /// Deletes the tenant's chunk; deleting a chunk that is not there is not an error.
    ///
    /// # Errors
    /// [`BlobError::InvalidTenant`] or [`BlobError::Store`].
    pub async fn delete(&self, tenant: &str, id: &ChunkId) -> Result<(), BlobError> {
        match self.inner.delete(&chunk_path(tenant, id)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// All chunk ids stored for the tenant, sorted. Objects whose names are not
    /// chunk ids (for example an interrupted upload) are skipped, not deleted.
    ///
    /// # Errors
    /// [`BlobError::InvalidTenant`] or [`BlobError::Store`].
    pub async fn list(&self, tenant: &str) -> Result<Vec<ChunkId>, BlobError> {
        let prefix = Path::from_iter(["chunks", valid_tenant(tenant)?]);
        let metas: Vec<_> = self.inner.list(Some(&prefix)).try_collect().await?;
        let mut ids: Vec<ChunkId> =
            metas.iter().filter_map(|m| m.location.filename().and_then(|f| ChunkId::parse(f).ok())).collect();
        ids.sort();
        Ok(ids)
    }
}

impl ChunkStore {
    /// Every chunk id stored for the tenant with the Unix time it was last
    /// written, for garbage collection with a grace period.
    ///
    /// # Errors
    /// [`BlobError::InvalidTenant`] or [`BlobError::Store`].
    pub async fn list_aged(&self, tenant: &str) -> Result<Vec<(ChunkId, i64)>, BlobError> {
        let prefix = Path::from_iter(["chunks", valid_tenant(tenant)?]);
        let metas: Vec<_> = self.inner.list(Some(&prefix)).try_collect().await?;
        Ok(metas
            .iter()
            .filter_map(|m| {
                let id = m.location.filename().and_then(|f| ChunkId::parse(f).ok())?;
                Some((id, m.last_modified.timestamp()))
            })
            .collect())
    }
}

/// The object store at `url` (a folder path, `file:///abs/path` or
/// `s3://bucket?...`, as for [`ChunkStore::open`]; a missing folder is
/// created) and a description of it for logs and errors: the folder or
/// bucket, never credentials. Shared with the backup targets so every place
/// valv writes objects understands the same URLs.
///
/// # Errors
/// [`BlobError::InvalidUrl`] for an unknown scheme or malformed URL,
/// [`BlobError::Store`] if the folder cannot be created or the S3 client
/// cannot be configured.
pub fn object_store_at(url: &str) -> Result<(Arc<dyn ObjectStore>, String), BlobError> {
    match location::parse(url, |name| std::env::var(name).ok())? {
        Location::Local(dir) => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| BlobError::Store(format!("cannot create the folder {}: {e}", dir.display())))?;
            let fs = LocalFileSystem::new_with_prefix(&dir)?;
            Ok((Arc::new(fs), format!("local folder {}", dir.display())))
        }
        Location::S3(s3) => {
            let description = format!("s3 bucket {}", s3.bucket);
            Ok((Arc::new(s3_client(s3)?), description))
        }
    }
}

fn s3_client(s3: S3Location) -> Result<object_store::aws::AmazonS3, BlobError> {
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(s3.bucket)
        .with_region(s3.region)
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false);
    if let Some(endpoint) = s3.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(key) = s3.access_key_id {
        builder = builder.with_access_key_id(key);
    }
    if let Some(secret) = s3.secret_access_key {
        builder = builder.with_secret_access_key(secret);
    }
    builder.build().map_err(|e| BlobError::InvalidUrl(format!("cannot configure the S3 client: {e}")))
}

/// Tenant ids become a path part, so only a safe alphabet is accepted.
fn valid_tenant(tenant: &str) -> Result<&str, BlobError> {
    let ok = (1..=128).contains(&tenant.len())
        && tenant.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(tenant) } else { Err(BlobError::InvalidTenant) }
}

/// `chunks/{tenant}/{first two hex chars}/{id}`: the fan-out keeps folders small.
fn chunk_path(tenant: &str, id: &ChunkId) -> Result<Path, BlobError> {
    let id = id.as_str();
    Ok(Path::from_iter(["chunks", valid_tenant(tenant)?, &id[..2], id]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(c: char) -> ChunkId {
        ChunkId::parse(&c.to_string().repeat(64)).unwrap()
    }

    #[test]
    fn chunks_are_fanned_out_by_tenant_and_prefix() {
        assert_eq!(chunk_path("t-1", &id('a')).unwrap().as_ref(), format!("chunks/t-1/aa/{}", "a".repeat(64)));
        for bad in ["", "..", "a/b", "a b", "ä", &"x".repeat(129)] {
            assert_eq!(chunk_path(bad, &id('a')), Err(BlobError::InvalidTenant), "tenant {bad:?}");
        }
    }

    #[test]
    fn unknown_schemes_are_refused_and_s3_urls_build_a_client() {
        let err = ChunkStore::open("ftp://example.org/chunks").unwrap_err();
        assert!(err.to_string().contains("unknown scheme 'ftp'"), "{err}");
        let store = ChunkStore::open("s3://bucket?endpoint=http://127.0.0.1:9&access_key_id=a&secret_access_key=b");
        let store = store.unwrap();
        assert_eq!(format!("{store:?}"), r#"ChunkStore("s3 bucket bucket")"#);
    }

    #[tokio::test]
    async fn put_is_idempotent_and_missing_chunks_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = ChunkStore::open(&format!("file://{}/nested/chunks", dir.path().display())).unwrap();
        let (a, b) = (id('a'), id('b'));
        assert!(!store.has("t", &a).await.unwrap());
        assert_eq!(store.get("t", &a).await, Err(BlobError::Missing { id: a.clone() }));
        store.put("t", &a, Bytes::from_static(b"first")).await.unwrap();
        store.put("t", &a, Bytes::from_static(b"second")).await.unwrap();
        assert_eq!(store.get("t", &a).await.unwrap(), Bytes::from_static(b"first"), "second put was a no-op");
        assert!(!store.has("other", &a).await.unwrap(), "tenants are separate");
        store.put("t", &b, Bytes::from_static(b"b")).await.unwrap();
        assert_eq!(store.list("t").await.unwrap(), vec![a.clone(), b.clone()]);
        assert!(store.list("other").await.unwrap().is_empty());
        store.delete("t", &a).await.unwrap();
        store.delete("t", &a).await.unwrap();
        assert_eq!(store.list("t").await.unwrap(), vec![b]);
    }
}
