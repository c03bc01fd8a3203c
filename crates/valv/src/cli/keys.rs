//! `valv keys init|rotate|verify`: the master key and the tenant keys it wraps.

use std::process::ExitCode;

use clap::Subcommand;
use valv_crypto::seal::Key;

use crate::config::Config;
use crate::{keys, wiring};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create the master key file (mode 0600) for a new installation.
    #[command(after_help = "Example:\n  valv keys init --data-dir /var/lib/valv")]
    Init,
    /// Replace the master key: tenant keys are rewrapped, no data is re-encrypted.
    /// Every `valv serve` on this keyring must be stopped first.
    #[command(after_help = "Example:\n  valv keys rotate")]
    Rotate,
    /// Check that the master key opens the keyring and every tenant key.
    #[command(after_help = "Example:\n  valv keys verify")]
    Verify,
}

pub async fn run(config: &Config, cmd: KeysCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KeysCommand::Init => {
            wiring::ensure_data_dir(&config.data_dir)?;
            let path = keys::key_file(config);
            keys::write_new(&path)?;
            let ring = wiring::keyring(config).await?;
            drop(ring);
            println!("created the master key {}; keep a copy apart from the data and its backups", path.display());
        }
        KeysCommand::Rotate => {
            if config.master_key.is_some() {
                anyhow::bail!("the master key comes from VALV_MASTER_KEY; rotate it where that variable is set");
            }
            let ring = wiring::keyring(config).await?;
            let path = keys::key_file(config);
            let pending = keys::pending_file(&path);
            // New key on disk first, then the keyring, then the rename: a stop at any
            // point leaves a state the next start completes (see wiring::keyring).
            let _ = std::fs::remove_file(&pending);
            let new: Key = keys::write_new(&pending)?;
            let n = match ring.rotate(&new).await {
                Ok(n) => n,
                Err(e) => {
                    // Refused (a server runs, the keyring changed): nothing was rewrapped.
                    let _ = std::fs::remove_file(&pending);
                    return Err(e.into());
                }
            };
            std::fs::rename(&pending, &path)?;
            println!("rotated the master key {}; rewrapped {n} tenant keys", path.display());
        }
        KeysCommand::Verify => {
            let ring = wiring::keyring(config).await?;
            let n = ring.verify_all().await?;
            println!("the master key opens the keyring and all {n} tenant keys");
        }
    }
    Ok(ExitCode::SUCCESS)
}
