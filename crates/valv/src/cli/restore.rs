//! `valv restore`: the whole installation as it was at an instant into a new
//! data dir or database, or one tenant (in place, as a copy in a new data
//! dir, or as a new tenant beside the original).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use valv_service::backup::{self as service, RestoreRequest, StoreSlot};
use valv_service::export::{Progress, Renumber};
use valv_service::{Caller, ServiceError};

use super::{explain, print};
use crate::config::Config;

/// Where `valv restore --to` rebuilds the installation.
pub enum Destination {
    /// A new, empty data dir with its own embedded database and files.
    Dir(PathBuf),
    /// A new, empty PostgreSQL database; file content goes to the configured
    /// blob store (chunks are addressed by content, so the restore only adds
    /// the ones missing there).
    Database(secrecy::SecretString),
}

impl Destination {
    /// `postgres://…` and `postgresql://…` name a database, anything else a folder.
    #[must_use]
    pub fn parse(to: &str) -> Self {
        if to.starts_with("postgres://") || to.starts_with("postgresql://") {
            Self::Database(to.to_owned().into())
        } else {
            Self::Dir(PathBuf::from(to))
        }
    }

    /// What a person reads about it (never a database URL, which may hold a password).
    fn shown(&self) -> String {
        match self {
            Self::Dir(d) => d.display().to_string(),
            Self::Database(_) => "the database given with --to".into(),
        }
    }
}

/// `valv restore --to`: rebuilds the installation as it was at `at` into a
/// new data dir or a new database.
pub async fn restore_cmd(
    config: &Config,
    at: &str,
    from: &str,
    to: &Destination,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if let Destination::Dir(dir) = to {
        empty_target(dir)?;
    }
    let restored = restore_into(config, at, from, to, json).await?;
    let (report, reapplied) = (restored.report(), restored.erasures_reapplied());
    let shown = to.shown();
    let out = serde_json::json!({ "report": report, "erasures_reapplied": reapplied, "restored_to": shown });
    print(json, &out, || {
        format!(
            "restored to journal position {} ({}) into {shown}: snapshot {:?}, {} entries replayed, {} chunks, {} erasures re-applied",
            report.seq, report.at, report.snapshot, report.replayed, report.chunks, reapplied
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `valv restore --tenant ID --to DIR`: a copy of one tenant as it was at
/// `at`, in a new data dir beside the live installation (which is not
/// touched): the whole installation is restored there, then every other
/// tenant is removed from the copy.
pub async fn restore_tenant_copy_cmd(
    config: &Config,
    at: &str,
    from: &str,
    tenant: &str,
    to: &Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let id = tenant_id(tenant)?;
    empty_target(to)?;
    let result = async {
        let copy = restore_into(config, at, from, &Destination::Dir(to.to_owned()), json).await?;
        let removed = copy.valv().accounts().keep_only_tenant(&Caller::Cli, id).await.map_err(|e| match e {
            valv_service::ServiceError::NotFound => anyhow::anyhow!("tenant {tenant} did not exist at {at}"),
            e => explain(e),
        })?;
        anyhow::Ok((copy.report().clone(), copy.erasures_reapplied(), removed))
    }
    .await;
    let (report, reapplied, removed) = match result {
        Ok(r) => r,
        Err(e) => {
            // Nothing half-made is left behind: the folder was new and empty.
            let _ = std::fs::remove_dir_all(to);
            return Err(e);
        }
    };
    let out = serde_json::json!({
        "report": report, "erasures_reapplied": reapplied, "tenants_left_out": removed, "data_dir": to, "tenant": tenant
    });
    print(json, &out, || {
        format!(
            "tenant {tenant} as it was at {at} (journal position {}) is in {}, alone ({removed} other tenants left out); serve it with `valv serve --data-dir {}`",
            report.seq,
            to.display(),
            to.display()
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `valv restore --tenant ID --as SLUG`: the tenant as it was at `at`, copied
/// into the live installation as a new tenant (fresh ids, slug `slug`)
/// beside the original, which is not touched.
pub async fn restore_tenant_as_cmd(
    config: &Config,
    at: &str,
    from: &str,
    tenant: &str,
    slug: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let id = tenant_id(tenant)?;
    let slug = valv_domain::Slug::parse(slug).map_err(|e| anyhow::anyhow!("--as: {e}"))?;
    let live = crate::wiring::build(config).await?;
    let renumber = Renumber::new(slug, at.to_owned());
    let report = in_scratch(config, at, from, json, async |copy| {
        let progress = Arc::new(Progress::default());
        let (l, p) = (live.clone(), Arc::clone(&progress));
        let job =
            tokio::spawn(async move { l.portability().copy_tenant(&Caller::Cli, copy.valv(), id, renumber, &p).await });
        while !job.is_finished() {
            if !json {
                super::export::bar("copying", progress.view());
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        if !json {
            eprintln!();
        }
        job.await?.map_err(|e| match e {
            valv_service::ServiceError::NotFound => anyhow::anyhow!("tenant {tenant} did not exist at {at}"),
            e => explain(e),
        })
    })
    .await?;
    print(json, &report, || {
        format!(
            "tenant {tenant} as it was at {at} is now also tenant {} ({}): {} users (not invited), {} collections, {} records, {} file versions; the original is unchanged",
            report.tenant_id, report.slug, report.users, report.collections, report.records, report.file_versions
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Restores the installation at `at` into a private scratch folder inside
/// the data dir (mode 0700, never a shared temporary folder), runs `f` on it
/// and removes the folder, whatever `f` did.
async fn in_scratch<T>(
    config: &Config,
    at: &str,
    from: &str,
    json: bool,
    f: impl AsyncFnOnce(service::Restored) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let scratch = config.data_dir.join(format!("restore-scratch-{}", std::process::id()));
    let result =
        async { f(restore_into(config, at, from, &Destination::Dir(scratch.clone()), json).await?).await }.await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn tenant_id(tenant: &str) -> anyhow::Result<valv_domain::TenantId> {
    valv_domain::TenantId::parse(tenant)
        .map_err(|_| anyhow::anyhow!("`{tenant}` is not a tenant id; see `valv tenant list`"))
}

/// `valv restore --tenant`: restores the installation at `at` into a private
/// scratch folder, then brings one live tenant's data back to that state.
pub async fn restore_tenant_cmd(
    config: &Config,
    at: &str,
    from: &str,
    tenant: &str,
    yes: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let id = tenant_id(tenant)?;
    let live = crate::wiring::build(config).await?;
    if !yes && !confirm(tenant, at)? {
        eprintln!("nothing changed");
        return Ok(ExitCode::FAILURE);
    }
    let report = in_scratch(config, at, from, json, async |copy| {
        live.backups().restore_tenant(&Caller::Cli, id, copy.store().as_ref(), at).await.map_err(explain)
    })
    .await?;
    print(json, &report, || {
        format!(
            "tenant {tenant} is as it was at {at}: {} collections, {} records restored, {} records deleted, {} files restored, {} files deleted (all journaled; undo by restoring to an instant before now)",
            report.collections,
            report.records_restored,
            report.records_deleted,
            report.files_restored,
            report.files_deleted
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Asks on the terminal; refuses when nobody can answer.
fn confirm(tenant: &str, at: &str) -> anyhow::Result<bool> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        anyhow::bail!("replacing a tenant's data needs confirmation: add --yes");
    }
    eprint!("Replace the collections, records and files of tenant {tenant} with their state at {at}? Type yes: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// A restore goes into a new folder, or an empty one.
fn empty_target(to: &Path) -> anyhow::Result<()> {
    if to.exists() && std::fs::read_dir(to).map(|mut d| d.next().is_some()).unwrap_or(true) {
        anyhow::bail!("{} is not empty; restore into a new folder and point the installation at it", to.display());
    }
    Ok(())
}

/// The stores a restore writes into, and the configuration that serves them.
/// A new database in a folder is made while the restore begins (`StoreSlot`);
/// a configured one must be empty before anything is written.
async fn open_destination(config: &Config, to: &Destination) -> anyhow::Result<(service::Destination, Config)> {
    let not_empty = || {
        anyhow::anyhow!("{} is not empty; restore into a new, empty one and point the installation at it", to.shown())
    };
    let mut restored = config.clone();
    restored.backup_targets = Vec::new();
    let store = match to {
        Destination::Dir(dir) => {
            crate::wiring::ensure_data_dir(dir)?;
            restored.data_dir.clone_from(dir);
            restored.database_url = None;
            restored.blobs = None;
            if config.master_key.is_none() && config.master_key_file.is_none() {
                // The key file sat in the old data dir by default: the new one gets a copy (mode 0600 is kept).
                std::fs::copy(crate::keys::key_file(config), dir.join("master.key"))?;
            }
            // The folder is marked before anything is written into it.
            crate::wiring::mark_restoring(dir)?;
            let making = restored.clone();
            StoreSlot::making(async move {
                crate::wiring::restore_store(&making).await.map_err(|e| ServiceError::internal_msg(format!("{e:#}")))
            })
        }
        Destination::Database(url) => {
            restored.database_url = Some(url.clone());
            let store = crate::wiring::restore_store(&restored).await?;
            if store.journal_seq().await? != 0 {
                return Err(not_empty());
            }
            StoreSlot::ready(store)
        }
    };
    let rest = async {
        let keys = crate::wiring::restore_key_store(&restored).await?;
        if keys.check().await?.is_some() {
            return Err(not_empty());
        }
        Ok((keys, crate::wiring::blobs(&restored)?))
    }
    .await;
    if rest.is_err() {
        // A database still being made is whole before the caller cleans its folder up.
        let _ = store.get().await;
    }
    let (keys, blobs) = rest?;
    let marker = restored.database_url.is_none().then(|| crate::wiring::restoring_marker(&restored.data_dir));
    Ok((service::Destination { store, keys, blobs, marker }, restored))
}

/// Restores everything at `at` into `to`, ready to serve (`restore_installation`).
async fn restore_into(
    config: &Config,
    at: &str,
    from: &str,
    to: &Destination,
    json: bool,
) -> anyhow::Result<service::Restored> {
    let at = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .map_err(|_| anyhow::anyhow!("--at must be an RFC 3339 instant, as in 2026-11-23T14:05:00Z"))?;
    let mut targets = config.targets()?;
    let primary = match targets.iter().position(|t| t.name() == from) {
        Some(i) => targets.remove(i),
        None => valv_backup_format::Target::open("from", from)
            .map_err(|e| anyhow::anyhow!("--from is neither a configured target name nor a location: {e}"))?,
    };
    targets.insert(0, primary);
    let master = crate::keys::configured(config)?
        .ok_or_else(|| anyhow::anyhow!("the master key is needed: set VALV_MASTER_KEY or master_key_file"))?;
    let (dest, restored) = open_destination(config, to).await?;
    let req = RestoreRequest { at, targets, master };
    let progress = |phase: &str, done: u64, total: u64| {
        if !json {
            let filled = (done * 30).checked_div(total).map_or(30, |f| f as usize);
            eprint!("\rrestoring {phase:<8} [{:<30}] {done}/{total} ", "#".repeat(filled.min(30)));
            let _ = std::io::stderr().flush();
        }
    };
    let open = async |store, keys| {
        crate::wiring::build_on(&restored, store, keys).await.map_err(|e| ServiceError::internal_msg(format!("{e:#}")))
    };
    let done = service::restore_installation(dest, &req, &progress, open).await;
    if !json {
        eprintln!();
    }
    done.map_err(explain)
}
