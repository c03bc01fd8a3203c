//! `valv backup status|now|list|prune|verify`; `valv restore` is in
//! [`super::restore`].

use std::io::Write as _;
use std::process::ExitCode;

use clap::Subcommand;
use valv_service::{Caller, Valv};

use super::{explain, print};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Per target: journal position shipped, replication lag, last success, last error.
    #[command(after_help = "Example:\n  valv backup status --json")]
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Take a full backup now and write it to every target (also done daily, see `backup_schedule`).
    #[command(after_help = "Example:\n  valv backup now")]
    Now {
        #[arg(long)]
        json: bool,
    },
    /// Full backups and restore drills with their outcome, newest first.
    #[command(after_help = "Example:\n  valv backup list --json")]
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Remove what the retention policy no longer keeps (also done after each scheduled full backup).
    #[command(after_help = "Example:\n  valv backup prune --json")]
    Prune {
        #[arg(long)]
        json: bool,
    },
    /// Restore drill: restore each target's newest backup into a scratch store and check it.
    #[command(after_help = "Example:\n  valv backup verify --all-chunks")]
    Verify {
        /// Read back every chunk, not a sample (done at least once a week anyway).
        #[arg(long)]
        all_chunks: bool,
        #[arg(long)]
        json: bool,
    },
}

/// Runs a backup command.
pub async fn run(valv: &Valv, config: &Config, c: BackupCommand) -> anyhow::Result<ExitCode> {
    match c {
        BackupCommand::Prune { json } => {
            let reports = valv.backups().prune_backups(&Caller::Cli, &config.retention()).await.map_err(explain)?;
            print(json, &reports, || {
                reports
                    .iter()
                    .map(|r| {
                        format!(
                            "{}: kept {} snapshots and {} segments; removed {} snapshots, {} segments, {} chunks",
                            r.target,
                            r.snapshots_kept,
                            r.segments_kept,
                            r.snapshots_removed.len(),
                            r.segments_removed,
                            r.chunks_removed
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })?;
        }
        BackupCommand::Status { json } => {
            let s = valv.backups().backup_status(&Caller::Cli).await.map_err(explain)?;
            print(json, &s, || {
                let mut lines = vec![format!("journal at {}", s.journal_seq)];
                for t in &s.targets {
                    lines.push(format!(
                        "{:<12} {:<40} shipped {:>8}  lag {:>6.1}s  last success {}  {}",
                        t.name,
                        t.location,
                        t.shipped_seq,
                        t.lag_seconds,
                        t.last_success.as_deref().unwrap_or("never"),
                        t.last_error.as_deref().map(|e| format!("last error: {e}")).unwrap_or_default()
                    ));
                }
                lines.join("\n")
            })?;
        }
        BackupCommand::Now { json } => {
            let report = valv
                .backups()
                .backup_now(&Caller::Cli, &|items| {
                    if !json {
                        eprint!("\rbacking up: {items} items written ");
                        let _ = std::io::stderr().flush();
                    }
                })
                .await
                .map_err(explain)?;
            if !json {
                eprintln!();
            }
            print(json, &report, || {
                format!(
                    "full backup {} at journal position {}: {} items in {} pieces, written to {:?}{}",
                    report.id,
                    report.seq,
                    report.items,
                    report.pieces,
                    report.targets_written,
                    if report.targets_failed.is_empty() {
                        String::new()
                    } else {
                        format!(", failed: {:?}", report.targets_failed)
                    }
                )
            })?;
            if report.targets_written.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
        BackupCommand::List { limit, json } => {
            let runs = valv.backups().backup_runs(&Caller::Cli, limit).await.map_err(explain)?;
            print(json, &runs, || {
                runs.iter()
                    .map(|r| {
                        format!(
                            "{}  {:<6} {:<6} {:>7} ms  {}",
                            r.started_at, r.kind, r.outcome, r.duration_ms, r.detail
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })?;
        }
        BackupCommand::Verify { all_chunks, json } => {
            let reports = valv.backups().verify_backups(&Caller::Cli, all_chunks).await.map_err(explain)?;
            let ok = reports.iter().all(|r| r.ok);
            print(json, &reports, || {
                reports
                    .iter()
                    .map(|r| {
                        format!(
                            "{}: {}  snapshot at {} digest {}  chains {} verified  chunks {} read{}",
                            r.target,
                            if r.ok { "ok" } else { "FAILED" },
                            r.snapshot_seq,
                            if r.expected_digest == r.restored_digest { "matches" } else { "DIFFERS" },
                            r.chains_verified,
                            r.chunks_checked,
                            r.error.as_deref().map(|e| format!("  error: {e}")).unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })?;
            if !ok {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
