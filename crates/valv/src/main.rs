//! `valv`: one binary with subcommands. `valv serve` runs the server; the other
//! commands work directly on the data dir (or database) of an installation,
//! also while the server runs (SQLite WAL allows it), acting as the local
//! operator.

mod cli;
mod config;
mod keys;
mod serve;
mod tls;
mod wiring;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// valv: records and documents with the promises of a Data and Security Policy built in.
#[derive(Debug, Parser)]
#[command(
    name = "valv",
    version,
    propagate_version = true,
    after_help = "Example:\n  valv serve --data-dir ./valv-data"
)]
struct Args {
    /// TOML configuration file (settings as in docs/configuration.md).
    #[arg(long, global = true, env = "VALV_CONFIG")]
    config: Option<PathBuf>,
    /// Folder holding the installation's database and files [default: ./valv-data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    #[command(
        after_help = "Examples:\n  valv serve\n  valv serve --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem"
    )]
    Serve(serve::ServeArgs),
    /// Manage tenants (customer organisations).
    #[command(subcommand, after_help = "Example:\n  valv tenant list --json")]
    Tenant(cli::tenant::TenantCommand),
    /// Manage a tenant's user accounts.
    #[command(subcommand, after_help = "Example:\n  valv user list --tenant 0190c2a4-…")]
    User(cli::user::UserCommand),
    /// Manage provider operators' sign-in.
    #[command(subcommand, after_help = "Example:\n  valv operator totp --email ops@provider.example")]
    Operator(cli::operator::OperatorCommand),
    /// Manage the master key and the tenant keys it wraps.
    #[command(subcommand, after_help = "Example:\n  valv keys rotate")]
    Keys(cli::keys::KeysCommand),
    /// Export all data of a terminated tenant as one archive (export.json, files, manifest).
    #[command(after_help = "Example:\n  valv export --tenant 0190c2a4-5f6e-7a8b-9c0d-1e2f3a4b5c6d --out acme.tar")]
    Export {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Import an export archive as a new tenant (same ids; users are invited to set passwords).
    #[command(after_help = "Example:\n  valv import acme.tar")]
    Import {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Delete stored chunks no file version refers to (left by failed uploads).
    #[command(after_help = "Example:\n  valv gc --grace-hours 24")]
    Gc {
        /// Keep chunks written within this many hours (uploads still under way; a chunk an
        /// upload reuses is rewritten when over an hour old, so keep this above 1 plus the
        /// longest upload).
        #[arg(long, default_value_t = 24)]
        grace_hours: i64,
        #[arg(long)]
        json: bool,
    },
    /// Background jobs (shipping, purging, the daily full backup): when each runs and how its last run went.
    #[command(after_help = "Example:\n  valv jobs --json")]
    Jobs {
        #[arg(long)]
        json: bool,
    },
    /// Check the journal.
    #[command(subcommand, after_help = "Example:\n  valv audit verify")]
    Audit(cli::audit::AuditCommand),
    /// Backups: status of the targets, a full backup now, past runs, restore drills.
    #[command(subcommand, after_help = "Example:\n  valv backup status")]
    Backup(cli::backup::BackupCommand),
    /// Rebuild the installation as it was at an instant, from a backup target, into a new data dir or database; or one tenant.
    #[command(
        after_help = "Examples:\n  valv restore --at 2026-11-23T14:05:00Z --from offsite --to ./valv-restored\n  valv restore --at 2026-11-23T14:05:00Z --from offsite --to postgres://valv@db.internal/valv_restored\n  valv restore --at 2026-11-23T14:05:00Z --from offsite --tenant 0190c2a4-5f6e-7a8b-9c0d-1e2f3a4b5c6d --to ./acme-copy\n  valv restore --at 2026-11-23T14:05:00Z --from offsite --tenant 0190c2a4-5f6e-7a8b-9c0d-1e2f3a4b5c6d --as acme-yesterday\n  valv restore --at 2026-11-23T14:05:00Z --from offsite --tenant 0190c2a4-5f6e-7a8b-9c0d-1e2f3a4b5c6d"
    )]
    Restore {
        /// The instant (RFC 3339, UTC offset allowed).
        #[arg(long)]
        at: String,
        /// A configured target's name, or a location (folder or s3:// URL).
        #[arg(long)]
        from: String,
        /// A new, empty data dir, or a new, empty PostgreSQL database
        /// (`postgres://…`; file content then goes to the configured `blobs`):
        /// the whole installation, or with --tenant a copy of that tenant alone
        /// in a new data dir, beside the live installation (which is not touched).
        #[arg(long, required_unless_present = "tenant")]
        to: Option<String>,
        /// One tenant: without --to, restored in place (its collections, records
        /// and files become as they were; new revisions, all journaled; accounts
        /// untouched); with --to, copied into a new data dir; with --as, copied
        /// into this installation as a new tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// With --tenant: copy the tenant as it was into this installation as a
        /// new tenant with this slug (fresh ids), beside the original.
        #[arg(long = "as", value_name = "SLUG", requires = "tenant", conflicts_with_all = ["to", "yes"])]
        as_slug: Option<String>,
        /// Confirm replacing the tenant's data without being asked.
        #[arg(long, requires = "tenant")]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
}

/// Threads for blocking work (SQLite calls, file I/O, hashing, sealing): four
/// per core, at least eight. More gain nothing — the work is CPU-bound or
/// waits for one of the five SQLite connections — and each extra thread may
/// get a malloc arena of its own that keeps freed chunk buffers: an export of
/// the benchmark tenant peaked about 50 MiB higher with tokio's default (512).
fn blocking_threads() -> usize {
    (std::thread::available_parallelism().map_or(2, std::num::NonZero::get) * 4).max(8)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().max_blocking_threads(blocking_threads()).enable_all().build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("valv: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("valv: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let overrides = serde_json::json!({ "data_dir": args.data_dir });
    let overrides = strip_nulls(overrides);
    match args.command {
        Command::Serve(s) => serve::run(args.config.as_deref(), s, overrides).await,
        Command::Tenant(c) => cli::tenant::run(&wiring::local(args.config.as_deref(), &overrides).await?, c).await,
        Command::Operator(c) => cli::operator::run(&wiring::local(args.config.as_deref(), &overrides).await?, c).await,
        Command::User(c) => cli::user::run(&wiring::local(args.config.as_deref(), &overrides).await?, c).await,
        Command::Keys(c) => cli::keys::run(&wiring::config(args.config.as_deref(), &overrides)?, c).await,
        Command::Export { tenant, out, json } => {
            cli::export::export(&wiring::local(args.config.as_deref(), &overrides).await?, &tenant, out, json).await
        }
        Command::Import { file, json } => {
            cli::export::import(&wiring::local(args.config.as_deref(), &overrides).await?, file, json).await
        }
        Command::Gc { grace_hours, json } => {
            let valv = wiring::local(args.config.as_deref(), &overrides).await?;
            let r = valv
                .content()
                .collect_garbage(&valv_service::Caller::Cli, time::Duration::hours(grace_hours))
                .await
                .map_err(cli::explain)?;
            cli::print(json, &r, || {
                format!("examined {} chunks in {} tenants, deleted {}", r.chunks_examined, r.tenants, r.chunks_deleted)
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Jobs { json } => cli::jobs::run(&wiring::local(args.config.as_deref(), &overrides).await?, json).await,
        Command::Audit(c) => cli::audit::run(&wiring::local(args.config.as_deref(), &overrides).await?, c).await,
        Command::Backup(c) => {
            let config = wiring::config(args.config.as_deref(), &overrides)?;
            cli::backup::run(&wiring::build(&config).await?, &config, c).await
        }
        Command::Restore { at, from, to, tenant, as_slug, yes, json } => {
            let config = wiring::config(args.config.as_deref(), &overrides)?;
            match (to, tenant) {
                (None, Some(t)) if let Some(slug) = as_slug => {
                    cli::restore::restore_tenant_as_cmd(&config, &at, &from, &t, &slug, json).await
                }
                (Some(to), Some(t)) => match cli::restore::Destination::parse(&to) {
                    cli::restore::Destination::Dir(to) => {
                        cli::restore::restore_tenant_copy_cmd(&config, &at, &from, &t, &to, json).await
                    }
                    cli::restore::Destination::Database(_) => {
                        anyhow::bail!(
                            "with --tenant, --to is a new folder (or use --as to copy it into this installation)"
                        )
                    }
                },
                (Some(to), None) => {
                    cli::restore::restore_cmd(&config, &at, &from, &cli::restore::Destination::parse(&to), json).await
                }
                (None, Some(t)) => cli::restore::restore_tenant_cmd(&config, &at, &from, &t, yes, json).await,
                (None, None) => anyhow::bail!("give --to (a new data dir) or --tenant (restore one tenant in place)"),
            }
        }
    }
}

/// Flags not given must not override the file or the environment.
fn strip_nulls(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => m.into_iter().filter(|(_, v)| !v.is_null()).collect(),
        other => other,
    }
}
