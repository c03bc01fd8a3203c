//! TLS material: the configured certificate and key, or a self-signed pair made
//! on first start and kept in the data dir (private key readable by the owner
//! only), so valv speaks HTTPS from its first second. The self-signed
//! certificate is valid for a year and made anew at a start within 30 days
//! of its end (review I1: a validity of centuries is a finding of every TLS
//! scanner); its end is kept beside it in `cert.expires`.

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

/// How long a self-signed certificate is valid, and how long before its end it is renewed.
const VALID_FOR: time::Duration = time::Duration::days(365);
const RENEW_BEFORE: time::Duration = time::Duration::days(30);

fn self_signed(dir: &Path) -> anyhow::Result<(std::path::PathBuf, std::path::PathBuf)> {
    let (cert, key, expires) = (dir.join("cert.pem"), dir.join("key.pem"), dir.join("cert.expires"));
    let now = valv_domain::Clock::now(&valv_domain::SystemClock);
    let ends = std::fs::read_to_string(&expires).ok().and_then(|s| valv_domain::parse_stamp(s.trim()).ok());
    if cert.exists() && key.exists() && ends.is_some_and(|end| end - RENEW_BEFORE > now) {
        return Ok((cert, key));
    }
    crate::wiring::ensure_data_dir(dir)?;
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    let mut params = rcgen::CertificateParams::new(names).context("cannot describe a self-signed certificate")?;
    // A day back: a client whose clock runs a little behind still accepts it.
    params.not_before = now - time::Duration::days(1);
    let not_after = now + VALID_FOR;
    params.not_after = not_after;
    let pair = rcgen::KeyPair::generate().context("cannot generate a TLS key")?;
    let made = params.self_signed(&pair).context("cannot generate a self-signed certificate")?;
    write_private(&key, pair.serialize_pem().as_bytes())?;
    std::fs::write(&cert, made.pem()).with_context(|| format!("cannot write {}", cert.display()))?;
    std::fs::write(&expires, valv_domain::stamp(not_after))
        .with_context(|| format!("cannot write {}", expires.display()))?;
    tracing::warn!(cert = %cert.display(), "generated a self-signed TLS certificate valid for a year; give --tls-cert/--tls-key for production");
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
