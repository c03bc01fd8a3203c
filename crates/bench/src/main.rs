//! `valv-bench`: benchmarks against the tools a user would pick instead, side
//! by side in one run on one machine.
//!
//! - `api`: requests per second and latency of valv's API on its embedded
//!   default against PocketBase: `GET` of the signed-in user and creating users
//!   at N concurrent clients, and a password sign-in storm during which a simple
//!   authenticated `GET` is probed (hashing must not stall the server).
//! - `files`: storing a dataset of documents through valv (blob layer and HTTP
//!   API) against `restic backup`/`restore` and `tar`.
//!
//! Examples:
//!   valv-bench api --valv target/release/valv --pocketbase target/test-tools/venv/bin/pocketbase
//!   valv-bench files --valv target/release/valv --dataset /tmp/dataset
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

mod backup;
mod files;
mod load;
mod subjects;
mod targets;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;
use load::{Stats, closed_loop, probe_until};
use targets::Target;

/// Benchmarks of valv against the tools a user would pick instead.
#[derive(Debug, Parser)]
enum Cli {
    /// valv's API against PocketBase.
    #[command(
        after_help = "Example:\n  valv-bench api --valv target/release/valv --pocketbase target/test-tools/venv/bin/pocketbase"
    )]
    Api(Args),
    /// Storing a dataset: valv's blob layer and HTTP API against restic and tar.
    #[command(
        after_help = "Example:\n  python3 gen_dataset.py /tmp/dataset\n  valv-bench files --valv target/release/valv --dataset /tmp/dataset"
    )]
    Files(FilesArgs),
    /// Backups: replication against Litestream, full/incremental backup, restore and verification against restic.
    #[command(
        after_help = "Example:\n  valv-bench backup --valv target/release/valv --litestream ~/.venv/bin/litestream --dataset /tmp/dataset --work /tmp/bench"
    )]
    Backup(backup::BackupArgs),
    /// A tenant with the dataset and a million records: export vs tar, access request, erasure.
    #[command(
        after_help = "Example:\n  valv-bench subjects --valv target/release/valv --dataset /tmp/dataset --records 1000000"
    )]
    Subjects {
        #[command(flatten)]
        files: FilesArgs,
        /// Records in the data-subject collection.
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        /// Skip the export (it takes minutes at a million records).
        #[arg(long)]
        no_export: bool,
    },
}

/// Options of `valv-bench files`.
#[derive(Debug, clap::Args)]
struct FilesArgs {
    /// The valv binary (a release build).
    #[arg(long, default_value = "target/release/valv")]
    valv: PathBuf,
    /// The folder to store (e.g. made by gen_dataset.py).
    #[arg(long)]
    dataset: PathBuf,
    /// Scratch folder on the same disk [default: a temporary folder].
    #[arg(long)]
    work: Option<PathBuf>,
}

/// Options of `valv-bench api`.
#[derive(Debug, clap::Args)]
struct Args {
    /// The valv binary (a release build).
    #[arg(long, default_value = "target/release/valv")]
    valv: PathBuf,
    /// A PocketBase binary to compare with; skipped when absent.
    #[arg(long)]
    pocketbase: Option<PathBuf>,
    /// Another valv binary to compare with (a build of an earlier commit), over plain HTTP.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse() {
        Cli::Api(a) => api(a).await,
        Cli::Files(f) => files_bench(f).await,
        Cli::Subjects { files, records, no_export } => {
            let tmp = tempfile::tempdir_in(files.work.clone().unwrap_or_else(std::env::temp_dir))?;
            subjects::run(&files.valv, &files.dataset, tmp.path(), records, !no_export).await
        }
        Cli::Backup(a) => backup::run(&a).await,
    }
}

async fn files_bench(a: FilesArgs) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir_in(a.work.clone().unwrap_or_else(std::env::temp_dir))?;
    let work = tmp.path();
    let total = files::du(&a.dataset);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    println!("valv-bench files: {} ({:.0} MiB), {cores} cores\n", a.dataset.display(), total as f64 / 1048576.0);
    let mut steps = vec![files::tar(&a.dataset, work, total)?];
    steps.extend(files::restic(&a.dataset, work, total)?);
    steps.extend(files::blob_layer(&a.dataset, work, total).await?);
    steps.extend(files::http_api(&a.valv, &a.dataset, total).await?);
    let restic_ingest =
        steps.iter().find(|s| s.tool == "restic" && s.what.starts_with("backup")).map_or(f64::NAN, |s| s.seconds);
    let restic_stored =
        steps.iter().find_map(|s| (s.tool == "restic").then_some(s.stored).flatten()).unwrap_or(1) as f64;
    println!("| tool | step | seconds | MiB/s | × restic backup time | stored MiB | × restic size |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for s in &steps {
        let mib = s.bytes as f64 / 1048576.0;
        let stored = s.stored.map_or("".into(), |b| format!("{:.0}", b as f64 / 1048576.0));
        let size_ratio = s.stored.map_or("".into(), |b| format!("{:.2}", b as f64 / restic_stored));
        println!(
            "| {} | {} | {:.2} | {:.0} | {:.2} | {stored} | {size_ratio} |",
            s.tool,
            s.what,
            s.seconds,
            mib / s.seconds,
            s.seconds / restic_ingest
        );
    }
    Ok(())
}

async fn api(args: Args) -> anyhow::Result<()> {
    let d = Duration::from_secs(args.seconds);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    println!("valv-bench: {} clients, {}s per scenario, {cores} cores\n", args.clients, args.seconds);
    let mut targets = vec![
        targets::valv(&args.valv, "valv (HTTPS)", &[]).await?,
        targets::valv(&args.valv, "valv (HTTP)", &["--insecure-http"]).await?,
    ];
    if let Some(b) = &args.baseline {
        targets.push(targets::valv(b, "valv baseline (HTTP)", &["--insecure-http"]).await?);
    }
    if let Some(pb) = &args.pocketbase {
        targets.push(targets::pocketbase(pb).await?);
    }
    println!("| system | scenario | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---:|---:|---:|---:|");
    for t in targets {
        let t = Arc::new(t);
        run(&t, "GET current user", scenario(&t, args.clients, d, |t, _, _| t.get_me()).await);
        run(&t, "create user", scenario(&t, args.clients, d, |t, c, n| t.create_user(c, n)).await);
        if t.list_records().is_some() {
            let create = |t: &Target, c, n| t.create_record(c, n).unwrap_or_else(|| t.get_me());
            run(&t, "create record", scenario(&t, args.clients, d, create).await);
            let get = |t: &Target, _, n| t.get_record(n).unwrap_or_else(|| t.get_me());
            run(&t, "get record by id", scenario(&t, args.clients, d, get).await);
            let list = |t: &Target, _, _| t.list_records().unwrap_or_else(|| t.get_me());
            run(&t, "list 50 records", scenario(&t, args.clients, d, list).await);
        }
        let (storm, probe) = storm(&t, args.clients, d).await;
        run(&t, "sign-in storm (password KDF)", storm);
        run(&t, "GET current user during storm", probe);
    }
    Ok(())
}

fn run(t: &Target, scenario: &str, s: Stats) {
    println!("| {} | {scenario} | {:.0} | {:.2} | {:.2} | {} |", t.name, s.rps(), s.p50_ms, s.p99_ms, s.errors);
}

async fn scenario(
    t: &Arc<Target>,
    clients: usize,
    d: Duration,
    req: fn(&Target, usize, u64) -> reqwest::RequestBuilder,
) -> Stats {
    let t = Arc::clone(t);
    closed_loop(clients, d, move |c, n| {
        let r = req(&t, c, n);
        async move { r.send().await.is_ok_and(|r| r.status().is_success()) }
    })
    .await
}

/// `clients` tasks sign in as fast as they can while one probe sends a simple
/// authenticated `GET` every 10 ms.
async fn storm(t: &Arc<Target>, clients: usize, d: Duration) -> (Stats, Stats) {
    let stop = Arc::new(AtomicBool::new(false));
    let probe_target = Arc::clone(t);
    let probe = tokio::spawn(probe_until(Arc::clone(&stop), Duration::from_millis(10), move || {
        let r = probe_target.get_me();
        async move { r.send().await.is_ok_and(|r| r.status().is_success()) }
    }));
    let storm = scenario(t, clients, d, |t, _, _| t.sign_in()).await;
    stop.store(true, Ordering::Relaxed);
    let probe = probe.await.unwrap_or_else(|_| Stats::from_latencies(Vec::new(), 0, 0.0));
    (storm, probe)
}
