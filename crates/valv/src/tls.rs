//! TLS material: the configured certificate and key, or a self-signed pair made
//! on first start and kept in the data dir (private key readable by the owner
//! only), so valv speaks HTTPS from its first second.

use std::path::Path;

use anyhow::Context as _;
use axum_server::tls_rustls::RustlsConfig;

use crate::config::Config;

/// The server's rustls configuration.
pub async fn load(config: &Config) -> anyhow::Result<RustlsConfig> {
    let (cert, key) = match (&config.tls_cert, &config.tls_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => self_signed(&config.data_dir.join("tls"))?,
    };
    RustlsConfig::from_pem_file(&cert, &key)
        .await
        .with_context(|| format!("cannot read the TLS certificate {} or key {}", cert.display(), key.display()))
}

fn self_signed(dir: &Path) -> anyhow::Result<(std::path::PathBuf, std::path::PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    crate::wiring::ensure_data_dir(dir)?;
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    let pair = rcgen::generate_simple_self_signed(names).context("cannot generate a self-signed certificate")?;
    write_private(&key, pair.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(&cert, pair.cert.pem()).with_context(|| format!("cannot write {}", cert.display()))?;
    tracing::warn!(cert = %cert.display(), "generated a self-signed TLS certificate; give --tls-cert/--tls-key for production");
    Ok((cert, key))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))
}
