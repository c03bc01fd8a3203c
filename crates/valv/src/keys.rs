//! The master key: from `VALV_MASTER_KEY` (base64 of 32 bytes) or from a file
//! readable by its owner only (default `<data dir>/master.key`). The server
//! refuses a key file whose permissions are wider than 0600, and a key that
//! does not match the installation's keyring.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::ExposeSecret as _;
use valv_crypto::seal::Key;

use crate::config::Config;

/// Where the master key file is.
pub fn key_file(config: &Config) -> PathBuf {
    config.master_key_file.clone().unwrap_or_else(|| config.data_dir.join("master.key"))
}

/// The rotation's new key, written before the keyring changes (see `rotate`).
pub fn pending_file(path: &Path) -> PathBuf {
    path.with_extension("key.new")
}

fn decode(text: &str, source: &str) -> anyhow::Result<Key> {
    let raw = STANDARD.decode(text.trim()).map_err(|_| anyhow::anyhow!("{source} is not base64"))?;
    let raw: [u8; 32] = raw.try_into().map_err(|_| anyhow::anyhow!("{source} must hold 32 bytes (base64)"))?;
    Ok(Key::from_bytes(raw))
}

/// Reads the key file after checking that only its owner can read it.
pub fn read_file(path: &Path) -> anyhow::Result<Key> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?.permissions().mode();
        if mode & 0o077 != 0 {
            bail!(
                "the master key file {} has permissions {:o}; it must be readable by its owner only: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    decode(&text, &format!("the master key file {}", path.display()))
}

/// The configured master key, if any is given or present.
pub fn configured(config: &Config) -> anyhow::Result<Option<Key>> {
    if let Some(env) = &config.master_key {
        return decode(env.expose_secret(), "setting `master_key` (env VALV_MASTER_KEY)").map(Some);
    }
    let path = key_file(config);
    if path.exists() { read_file(&path).map(Some) } else { Ok(None) }
}

/// Writes a new random key to `path` (mode 0600), refusing to overwrite.
pub fn write_new(path: &Path) -> anyhow::Result<Key> {
    use std::io::Write as _;
    let key = Key::generate();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f =
        opts.open(path).with_context(|| format!("cannot create {} (does it exist already?)", path.display()))?;
    writeln!(f, "{}", STANDARD.encode(key.expose()))?;
    f.sync_all()?;
    Ok(key)
}
