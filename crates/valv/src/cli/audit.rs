//! `valv audit verify [--tenant ID]`: proves every journal chain, naming the
//! first broken entry. Exit code 0 when all chains verify, 1 otherwise.

use std::process::ExitCode;

use clap::Subcommand;
use valv_domain::TenantId;
use valv_service::{Caller, Valv};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the hash chains of the journal.
    #[command(after_help = "Examples:\n  valv audit verify\n  valv audit verify --tenant 0190c2a4-… --json")]
    Verify {
        /// Only the chain of this tenant.
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(valv: &Valv, cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    let AuditCommand::Verify { tenant, json } = cmd;
    let tenant = tenant
        .map(|t| TenantId::parse(&t).map_err(|_| anyhow::anyhow!("`{t}` is not a tenant id; see `valv tenant list`")))
        .transpose()?;
    let reports = valv.verify_journal(&Caller::Cli, tenant).await.map_err(super::explain)?;
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
