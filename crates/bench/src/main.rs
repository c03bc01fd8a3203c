//! `valv-bench`: requests per second and latency of valv's API on its embedded
//! default, side by side with PocketBase, in one run on one machine:
//! `GET` of the signed-in user and creating users at N concurrent clients, and
//! a password sign-in storm during which a simple authenticated `GET` is
//! probed (password hashing must not stall the server).
//!
//! Example:
//!   cargo run --release -p valv-bench -- --valv target/release/valv \
//!     --pocketbase target/test-tools/venv/bin/pocketbase
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

mod load;
mod targets;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;
use load::{Stats, closed_loop, probe_until};
use targets::Target;

/// Benchmark valv's API against PocketBase.
#[derive(Debug, Parser)]
#[command(
    after_help = "Example:\n  valv-bench --valv target/release/valv --pocketbase target/test-tools/venv/bin/pocketbase"
)]
struct Args {
    /// The valv binary (a release build).
    #[arg(long, default_value = "target/release/valv")]
    valv: PathBuf,
    /// A PocketBase binary to compare with; skipped when absent.
    #[arg(long)]
    pocketbase: Option<PathBuf>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let d = Duration::from_secs(args.seconds);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    println!("valv-bench: {} clients, {}s per scenario, {cores} cores\n", args.clients, args.seconds);
    let mut targets = vec![
        targets::valv(&args.valv, "valv (HTTPS)", &[]).await?,
        targets::valv(&args.valv, "valv (HTTP)", &["--insecure-http"]).await?,
    ];
    if let Some(pb) = &args.pocketbase {
        targets.push(targets::pocketbase(pb).await?);
    }
    println!("| system | scenario | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---:|---:|---:|---:|");
    for t in targets {
        let t = Arc::new(t);
        run(&t, "GET current user", scenario(&t, args.clients, d, |t, _, _| t.get_me()).await);
        run(&t, "create user", scenario(&t, args.clients, d, |t, c, n| t.create_user(c, n)).await);
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
