//! Builds the service layer from the configuration: the store, the clock and
//! the message sender.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use valv_domain::SystemClock;
use valv_service::sender::{FileOutbox, SmtpSender};
use valv_service::{Sender, Valv};
use valv_store_sqlite::SqliteStore;

use crate::config::Config;

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

/// The service layer over the data dir of `config`.
pub async fn build(config: &Config) -> anyhow::Result<Valv> {
    let settings = config.settings()?;
    ensure_data_dir(&config.data_dir)?;
    let db = config.data_dir.join("valv.db");
    let store = SqliteStore::open(&db).await.with_context(|| format!("cannot open the database {}", db.display()))?;
    let outbox = FileOutbox::new(config.data_dir.join("outbox"));
    let sender: Arc<dyn Sender> = match &config.smtp_url {
        Some(url) => Arc::new(
            SmtpSender::new(url, &config.smtp_from, outbox)
                .map_err(|e| anyhow::anyhow!("setting `smtp_url`/`smtp_from` (env VALV_SMTP_URL): {e}"))?,
        ),
        None => Arc::new(outbox),
    };
    Ok(Valv::new(Arc::new(store), Arc::new(SystemClock), sender, settings))
}

/// The service layer for a local command (no server needed).
pub async fn local(file: Option<&Path>, overrides: &serde_json::Value) -> anyhow::Result<Valv> {
    let config = Config::load(file, overrides)?;
    build(&config).await
}
