//! `valv tenant create|list|show|block|unblock|terminate`.

use std::process::ExitCode;

use clap::Subcommand;
use valv_domain::TenantId;
use valv_service::{Caller, LimitsInput, NewTenant, TenantView, Valv};

use super::{explain, print};

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; its contact person becomes the first owner and is invited.
    #[command(
        after_help = "Example:\n  valv tenant create --name 'Acme AB' --contact-name 'Ada Lind' \\\n    --contact-email ada@acme.se --contact-phone +46701234567"
    )]
    Create {
        #[arg(long)]
        name: String,
        /// Sign-in handle [default: derived from the name].
        #[arg(long)]
        slug: Option<String>,
        #[arg(long)]
        contact_name: String,
        #[arg(long)]
        contact_email: String,
        /// Mobile number in E.164 form, e.g. +46701234567.
        #[arg(long)]
        contact_phone: String,
        #[arg(long)]
        json: bool,
    },
    /// List every tenant.
    #[command(after_help = "Example:\n  valv tenant list --json")]
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one tenant.
    #[command(after_help = "Example:\n  valv tenant show 0190c2a4-5f6e-7a8b-9c0d-1e2f3a4b5c6d")]
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Block a tenant: all its users are refused until unblocked.
    #[command(after_help = "Example:\n  valv tenant block 0190c2a4-5f6e-7a8b-9c0d-1e2f3a4b5c6d")]
    Block {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Unblock a tenant.
    #[command(after_help = "Example:\n  valv tenant unblock 0190c2a4-5f6e-7a8b-9c0d-1e2f3a4b5c6d")]
    Unblock {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Set a tenant's limits; a limit not given falls back to the installation's.
    #[command(
        after_help = "Example:\n  valv tenant limits 0190c2a4-5f6e-7a8b-9c0d-1e2f3a4b5c6d --max-file-mib 512 --max-storage-gib 50"
    )]
    Limits {
        id: String,
        #[arg(long)]
        max_file_mib: Option<u64>,
        #[arg(long)]
        max_storage_gib: Option<u64>,
        #[arg(long)]
        max_records_per_collection: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Delete the data of tenants whose export window has closed and destroy their keys.
    #[command(after_help = "Example:\n  valv tenant purge-expired --json")]
    PurgeExpired {
        #[arg(long)]
        json: bool,
    },
    /// Record the end of a tenant's agreement (data stays for the export window).
    #[command(after_help = "Example:\n  valv tenant terminate 0190c2a4-5f6e-7a8b-9c0d-1e2f3a4b5c6d")]
    Terminate {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

fn line(t: &TenantView) -> String {
    let ended = t.terminated_at.map(|d| format!(" terminated {d}")).unwrap_or_default();
    format!("{}  {:<20} {:<8} {}{ended}", t.id, t.slug, t.status.as_str(), t.name)
}

fn id(raw: &str) -> anyhow::Result<TenantId> {
    TenantId::parse(raw).map_err(|_| anyhow::anyhow!("`{raw}` is not a tenant id; see `valv tenant list`"))
}

pub async fn run(valv: &Valv, cmd: TenantCommand) -> anyhow::Result<ExitCode> {
    let c = Caller::Cli;
    match cmd {
        TenantCommand::Create { name, slug, contact_name, contact_email, contact_phone, json } => {
            let new = NewTenant { name, slug, contact_name, contact_email, contact_phone };
            let (t, owner) = valv.accounts().create_tenant(&c, new).await.map_err(explain)?;
            let out = serde_json::json!({ "tenant": t, "owner": owner });
            print(json, &out, || format!("created {}\ninvited owner {} <{}>", line(&t), owner.name, owner.email))?;
        }
        TenantCommand::List { json } => {
            let all = valv.accounts().tenants(&c).await.map_err(explain)?;
            print(json, &all, || all.iter().map(line).collect::<Vec<_>>().join("\n"))?;
        }
        TenantCommand::Show { id: raw, json } => {
            let t = valv.accounts().tenant(&c, id(&raw)?).await.map_err(explain)?;
            print(json, &t, || {
                format!("{}\ncontact: {} <{}> {}", line(&t), t.contact_name, t.contact_email, t.contact_phone)
            })?;
        }
        TenantCommand::Block { id: raw, json } => {
            let t = valv.accounts().set_tenant_blocked(&c, id(&raw)?, true).await.map_err(explain)?;
            print(json, &t, || format!("blocked {}", line(&t)))?;
        }
        TenantCommand::Unblock { id: raw, json } => {
            let t = valv.accounts().set_tenant_blocked(&c, id(&raw)?, false).await.map_err(explain)?;
            print(json, &t, || format!("unblocked {}", line(&t)))?;
        }
        TenantCommand::Limits { id: raw, max_file_mib, max_storage_gib, max_records_per_collection, json } => {
            let input = LimitsInput { max_file_mib, max_storage_gib, max_records_per_collection };
            let t = valv.accounts().set_tenant_limits(&c, id(&raw)?, input).await.map_err(explain)?;
            print(json, &t, || format!("limits set for {}", line(&t)))?;
        }
        TenantCommand::PurgeExpired { json } => {
            let receipts = valv.accounts().purge_expired(&c).await.map_err(explain)?;
            print(json, &receipts, || {
                let mut lines: Vec<String> = receipts
                    .iter()
                    .map(|r| {
                        format!(
                            "purged {} ({}): key destroyed, {} chunks deleted",
                            r.tenant_id, r.slug, r.chunks_deleted
                        )
                    })
                    .collect();
                lines.push(format!("{} tenants purged", receipts.len()));
                lines.join("\n")
            })?;
        }
        TenantCommand::Terminate { id: raw, json } => {
            let t = valv.accounts().terminate_tenant(&c, id(&raw)?).await.map_err(explain)?;
            print(json, &t, || format!("terminated {}", line(&t)))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
