//! `valv export --tenant ID --out FILE` (with a progress bar) and `valv import FILE`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use valv_domain::TenantId;
use valv_service::export::{Progress, ProgressView};
use valv_service::{Caller, Valv};

use super::{explain, print};

/// Writes one line of progress to the terminal.
pub(super) fn bar(doing: &str, p: ProgressView) {
    let frac = if p.bytes_total + p.items_total == 0 {
        0.0
    } else {
        (p.bytes_done + p.items_done) as f64 / (p.bytes_total + p.items_total) as f64
    };
    let filled = (frac * 30.0).round() as usize;
    eprint!(
        "\r{doing} [{:<30}] {:>3.0}%  {}/{} items  {:.1}/{:.1} MiB ",
        "#".repeat(filled.min(30)),
        frac * 100.0,
        p.items_done,
        p.items_total,
        p.bytes_done as f64 / 1048576.0,
        p.bytes_total as f64 / 1048576.0
    );
    let _ = std::io::stderr().flush();
}

/// Exports a terminated tenant to `out`, showing progress.
pub async fn export(valv: &Valv, tenant: &str, out: PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    let tenant = TenantId::parse(tenant)
        .map_err(|_| anyhow::anyhow!("`{tenant}` is not a tenant id; see `valv tenant list`"))?;
    let tmp = out.with_extension("partial");
    let file =
        tokio::fs::File::create(&tmp).await.map_err(|e| anyhow::anyhow!("cannot create {}: {e}", tmp.display()))?;
    let progress = Arc::new(Progress::default());
    let (v, p) = (valv.clone(), Arc::clone(&progress));
    let job = tokio::spawn(async move { v.portability().export_file(&Caller::Cli, tenant, file, &p).await });
    while !job.is_finished() {
        if !json {
            bar("exporting", progress.view());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let written = job.await?;
    let w = match written {
        Ok(w) => w,
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(explain(e));
        }
    };
    w.sync_all().await?;
    tokio::fs::rename(&tmp, &out).await?;
    let view = progress.view();
    if !json {
        bar("exporting", view);
        eprintln!();
    }
    print(json, &serde_json::json!({ "out": out, "progress": view }), || format!("exported to {}", out.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// Imports an export archive as a new tenant.
pub async fn import(valv: &Valv, file: PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    let r = valv.portability().import(&Caller::Cli, &file).await.map_err(explain)?;
    print(json, &r, || {
        format!(
            "imported tenant {} ({}): {} users, {} collections, {} records, {} file versions; users were invited to set passwords",
            r.tenant_id, r.slug, r.users, r.collections, r.records, r.file_versions
        )
    })?;
    Ok(ExitCode::SUCCESS)
}
