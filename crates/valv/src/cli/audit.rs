//! `valv audit verify [--tenant ID] [--against TARGET]`: proves every journal
//! chain, naming the first broken entry, and with `--against` that the live
//! journal still holds every entry the backup target received (the chain
//! heads the target keeps are an anchor outside the database). Exit code 0
//! when all verify, 1 otherwise.

use std::process::ExitCode;

use clap::Subcommand;
use valv_domain::TenantId;
use valv_service::{Caller, Valv};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the hash chains of the journal.
    #[command(
        after_help = "Examples:\n  valv audit verify\n  valv audit verify --tenant 0190c2a4-… --json\n  valv audit verify --against near"
    )]
    Verify {
        /// Only the chain of this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Also check the live journal against the chain heads this backup target holds.
        #[arg(long)]
        against: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(valv: &Valv, cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    let AuditCommand::Verify { tenant, against, json } = cmd;
    let tenant = tenant
        .map(|t| TenantId::parse(&t).map_err(|_| anyhow::anyhow!("`{t}` is not a tenant id; see `valv tenant list`")))
        .transpose()?;
    let mut reports = valv.verify_journal(&Caller::Cli, tenant).await.map_err(super::explain)?;
    if let Some(name) = against {
        let cut = valv.backups().verify_against(&Caller::Cli, &name).await.map_err(|e| match e {
            valv_service::ServiceError::NotFound => {
                anyhow::anyhow!("no backup target is named `{name}`; see `valv backup status`")
            }
            e => super::explain(e),
        })?;
        let only = tenant.map(|t| t.to_string());
        for b in cut.into_iter().filter(|b| only.as_ref().is_none_or(|t| b.chain.contains(t.as_str()))) {
            reports.retain(|r| r.chain != b.chain);
            reports.push(valv_service::ChainReport { chain: b.chain.clone(), outcome: Err(b) });
        }
    }
    let ok = reports.iter().all(|r| r.outcome.is_ok());
    let rows: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| match &r.outcome {
            Ok(n) => serde_json::json!({ "chain": r.chain, "ok": true, "entries": n }),
            Err(b) => serde_json::json!({
                "chain": r.chain, "ok": false, "chain_seq": b.chain_seq, "seq": b.seq, "reason": b.reason
            }),
        })
        .collect();
    super::print(json, &serde_json::json!({ "ok": ok, "chains": rows }), || {
        let mut lines: Vec<String> = reports
            .iter()
            .map(|r| match &r.outcome {
                Ok(n) => format!("ok      {}  {n} entries", r.chain),
                Err(b) => format!("BROKEN  {b}"),
            })
            .collect();
        lines.push(if ok { "journal verified".into() } else { "journal is NOT intact".into() });
        lines.join("\n")
    })?;
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
