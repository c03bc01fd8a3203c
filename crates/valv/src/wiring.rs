//! Builds the service layer from the configuration: the store, the keyring,
//! the clock and the message sender.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use secrecy::ExposeSecret as _;
use valv_domain::SystemClock;
use valv_service::backup::ScratchStore;
use valv_service::keyring::{Keyring, KeyringError};
use valv_service::sender::{FileOutbox, SmtpSender};
use valv_service::{Sender, Valv};
use valv_store::{Hold, KeyLock, KeyStore, Store};
use valv_store_postgres::{PgKeyStore, PgStore};
use valv_store_sqlite::{SqliteKeyStore, SqliteStore};

use crate::config::Config;
use crate::keys;

/// Creates the data dir readable by its owner only (it holds keys and data).
pub fn ensure_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the data dir {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict permissions of {}", dir.display()))?;
    }
    Ok(())
}

/// The keyring store: in the PostgreSQL database when one is configured
/// (every process serving it shares the keys), else beside the embedded one.
pub async fn key_store(config: &Config) -> anyhow::Result<Arc<dyn KeyStore>> {
    ensure_data_dir(&config.data_dir)?;
    if let Some(url) = &config.database_url {
        let keys = PgKeyStore::connect(url.expose_secret()).await.map_err(|e| database_error(&e))?;
        return Ok(Arc::new(keys));
    }
    let path = config.data_dir.join("keyring.db");
    Ok(Arc::new(SqliteKeyStore::open(&path).with_context(|| format!("cannot open the keyring {}", path.display()))?))
}

/// The store: PostgreSQL when `database_url` is set, else SQLite in the data dir.
pub async fn store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = &config.database_url {
        return Ok(Arc::new(PgStore::connect(url.expose_secret()).await.map_err(|e| database_error(&e))?));
    }
    let marker = config.data_dir.join(RESTORING);
    if marker.exists() {
        anyhow::bail!(
            "{} holds a restore that did not finish ({} is there); delete the folder and run the restore again",
            config.data_dir.display(),
            marker.display()
        );
    }
    let db = config.data_dir.join("valv.db");
    let store = SqliteStore::open(&db).await.with_context(|| format!("cannot open the database {}", db.display()))?;
    Ok(Arc::new(store))
}

/// Present in a data dir while a restore writes into it: until the restore
/// has re-applied the erasure ledger and synced, nothing may serve the folder.
pub const RESTORING: &str = "restore-incomplete";

/// The marker file of a data dir a restore writes into (`RESTORING`).
pub fn restoring_marker(dir: &Path) -> std::path::PathBuf {
    dir.join(RESTORING)
}

/// Marks a data dir a restore writes into (`RESTORING`); the restore
/// removes the marker once it is whole (`restore_installation`).
pub fn mark_restoring(dir: &Path) -> std::io::Result<()> {
    std::fs::write(restoring_marker(dir), b"")
}

/// The store a restore writes into: a new embedded database whose commits
/// are synced once at the end (`Store::flush`), or the configured database.
pub async fn restore_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if config.database_url.is_some() {
        return store(config).await;
    }
    let db = config.data_dir.join("valv.db");
    let store = SqliteStore::open_unsynced(&db)
        .await
        .with_context(|| format!("cannot create the database {}", db.display()))?;
    Ok(Arc::new(store))
}

/// The keyring a restore writes into: a new file synced once at the end
/// (`KeyStore::flush`), as the restored database is, or the configured database.
pub async fn restore_key_store(config: &Config) -> anyhow::Result<Arc<dyn KeyStore>> {
    if config.database_url.is_some() {
        return key_store(config).await;
    }
    // The data dir was made (mode 0700) when the destination was opened.
    let path = config.data_dir.join("keyring.db");
    let keys = SqliteKeyStore::open_unsynced(&path)
        .with_context(|| format!("cannot create the keyring {}", path.display()))?;
    Ok(Arc::new(keys))
}

/// Names the setting; the URL itself (it may hold a password) is never shown.
fn database_error(e: &valv_store::StoreError) -> anyhow::Error {
    anyhow::anyhow!("cannot use the database of `database_url` (env VALV_DATABASE_URL): {e}")
}

/// Opens the keyring. A fresh installation without a configured key gets a
/// new key file; an existing keyring without its key is refused.
pub async fn keyring(config: &Config) -> anyhow::Result<Keyring> {
    keyring_on(config, key_store(config).await?).await
}

/// Opens the keyring in a key store already open.
async fn keyring_on(config: &Config, store: Arc<dyn KeyStore>) -> anyhow::Result<Keyring> {
    let path = keys::key_file(config);
    let master = match keys::configured(config)? {
        Some(k) => k,
        None if !Keyring::initialised(store.as_ref()).await? => {
            let k = keys::write_new(&path)?;
            tracing::warn!(file = %path.display(), "created a new master key; back it up apart from the data");
            eprintln!("valv: created the master key {}; keep a copy apart from the data", path.display());
            k
        }
        None => anyhow::bail!(
            "the master key is missing: expected {} or VALV_MASTER_KEY; restore it from your copy",
            path.display()
        ),
    };
    match Keyring::open(store.clone(), master).await {
        Err(KeyringError::WrongMasterKey) if keys::pending_file(&path).exists() => {
            // A rotation stopped after rewrapping and before renaming the new key file: finish it.
            let pending = keys::read_file(&keys::pending_file(&path))?;
            let ring = Keyring::open(store, pending).await?;
            std::fs::rename(keys::pending_file(&path), &path).context("cannot finish the key rotation")?;
            Ok(ring)
        }
        other => Ok(other?),
    }
}

/// The service layer for `valv serve`, and the keyring lock it holds for
/// as long as it runs: no master-key rotation interleaves with serving
/// (a server keeps the master key in memory and wraps new tenants' keys).
pub async fn build_for_serving(config: &Config) -> anyhow::Result<(Valv, KeyLock)> {
    ensure_data_dir(&config.data_dir)?;
    let keys = key_store(config).await?;
    let lock = keys.hold(Hold::Serving).await?.ok_or(KeyringError::Rotating)?;
    let store = store(config).await?;
    Ok((build_on(config, store, keys).await?, lock))
}

/// The service layer over the data dir of `config`.
pub async fn build(config: &Config) -> anyhow::Result<Valv> {
    ensure_data_dir(&config.data_dir)?;
    let keys = key_store(config).await?;
    let store = store(config).await?;
    build_on(config, store, keys).await
}

/// The service layer on stores already open (a restore's).
pub async fn build_on(config: &Config, store: Arc<dyn Store>, keys: Arc<dyn KeyStore>) -> anyhow::Result<Valv> {
    let settings = config.settings()?;
    let keyring = keyring_on(config, keys).await?;
    let sender: Arc<dyn Sender> = match &config.smtp_url {
        Some(url) => Arc::new(
            SmtpSender::new(url, &config.smtp_from)
                .map_err(|e| anyhow::anyhow!("setting `smtp_url`/`smtp_from` (env VALV_SMTP_URL): {e}"))?,
        ),
        None => Arc::new(FileOutbox::new(config.data_dir.join("outbox"))),
    };
    let blobs = blobs(config)?;
    let targets = config.targets()?;
    let jobs = valv_service::jobs::standard(config.schedule()?, config.retention());
    Ok(Valv::new(store, Arc::new(keyring), Arc::new(SystemClock), sender, settings)
        .with_blobs(blobs)
        .with_targets(targets, Some(scratch()))
        .with_jobs(jobs))
}

/// The chunk store of file content.
pub fn blobs(config: &Config) -> anyhow::Result<valv_blob::ChunkStore> {
    let url = config.blobs.clone().unwrap_or_else(|| config.data_dir.join("blobs").display().to_string());
    valv_blob::ChunkStore::open(&url).map_err(|e| anyhow::anyhow!("setting `blobs` (env VALV_BLOBS): {e}"))
}

/// Scratch stores for restore drills: an embedded database in a temporary folder.
fn scratch() -> ScratchStore {
    Arc::new(|dir: std::path::PathBuf| {
        Box::pin(async move {
            let s = SqliteStore::open_unsynced(&dir.join("scratch.db"))
                .await
                .map_err(valv_service::ServiceError::internal)?;
            Ok(Arc::new(s) as Arc<dyn valv_store::Store>)
        })
    })
}

/// The configuration for a local command (no server needed).
pub fn config(file: Option<&Path>, overrides: &serde_json::Value) -> anyhow::Result<Config> {
    Ok(Config::load(file, overrides)?)
}

/// The service layer for a local command.
pub async fn local(file: Option<&Path>, overrides: &serde_json::Value) -> anyhow::Result<Valv> {
    build(&config(file, overrides)?).await
}
