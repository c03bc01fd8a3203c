//! A PostgreSQL 15 server for tests: [`postgres`] starts one per test process
//! on first use (in a temp dir, on a free loopback port, without fsync) and
//! hands each caller a fresh database. A watchdog shell stops the server and
//! removes its folder within a second of the test process exiting.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where Debian's `postgresql-15` puts the server programs.
const BIN: &str = "/usr/lib/postgresql/15/bin";

struct Server {
    port: u16,
    /// The cluster's folder: its data directory and its log.
    dir: PathBuf,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static NEXT_DB: AtomicU64 = AtomicU64::new(0);

/// The URL of a new, empty database (`postgres://app@127.0.0.1:PORT/t_...`)
/// on this process's server, which is started on the first call.
///
/// # Panics
/// When PostgreSQL 15 is not installed (`scripts/test` installs it) or does not start.
#[must_use]
pub fn postgres() -> String {
    let server = SERVER.get_or_init(start);
    #[allow(clippy::disallowed_methods)] // only makes names unique across test runs
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let name = format!("t_{}_{nanos:x}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::Relaxed));
    let port = server.port.to_string();
    let out = Command::new(Path::new(BIN).join("createdb"))
        .args(["-h", "127.0.0.1", "-p", &port, "-U", "app", &name])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "createdb {name}: {}", String::from_utf8_lossy(&out.stderr));
    format!("postgres://app@127.0.0.1:{port}/{name}")
}

/// The folder of this process's server (its data directory and its log),
/// once started: where a test looks for what PostgreSQL wrote to disk.
#[must_use]
pub fn postgres_dir() -> Option<PathBuf> {
    SERVER.get().map(|s| s.dir.clone())
}

/// What `pg_dump` writes of the database at `url` (plain SQL).
///
/// # Panics
/// When `pg_dump` fails.
#[must_use]
pub fn pg_dump(url: &str) -> Vec<u8> {
    let out = Command::new(Path::new(BIN).join("pg_dump")).arg(url).stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Runs `sql` with `psql` on the database at `url`; returns what it printed
/// (unaligned, tuples only).
///
/// # Panics
/// When `psql` fails.
#[must_use]
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new(Path::new(BIN).join("psql")).args([url, "-tAc", sql]).stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `program` of the server, run as `postgres` when we are root (initdb and
/// the server refuse to run as root).
fn server_command(program: &str) -> Command {
    let path = Path::new(BIN).join(program);
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let mut c = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    };
    c.stdin(Stdio::null());
    c
}

fn run(mut c: Command, what: &str) -> Result<(), String> {
    let out = c.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{what}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

fn start() -> Server {
    assert!(Path::new(BIN).join("initdb").exists(), "PostgreSQL 15 is not installed (apt-get install postgresql-15)");
    let dir: PathBuf = tempfile::Builder::new().prefix("valv-pg-").tempdir().unwrap().keep();
    let data = dir.join("data");
    if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        run(
            {
                let mut c = Command::new("chown");
                c.args(["-R", "postgres:"]).arg(&dir);
                c
            },
            "chown",
        )
        .unwrap();
    }
    let mut initdb = server_command("initdb");
    initdb.args(["-A", "trust", "-U", "app", "-E", "UTF8", "--no-sync", "-D"]).arg(&data);
    run(initdb, "initdb").unwrap();
    watch(&dir, &data);
    // A port free a moment ago may be taken by the time the server binds it: try again.
    let mut last = String::new();
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=300",
            dir.display()
        );
        let mut pg_ctl = server_command("pg_ctl");
        pg_ctl.arg("-D").arg(&data).arg("-l").arg(dir.join("server.log")).args(["-o", &options, "-w", "start"]);
        match run(pg_ctl, "pg_ctl start") {
            Ok(()) => return Server { port, dir },
            Err(e) => last = format!("{e}\n{}", std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()),
        }
    }
    panic!("PostgreSQL did not start: {last}");
}

/// Stops the server and removes `dir` once this process has exited.
fn watch(dir: &Path, data: &Path) {
    let pg_ctl = Path::new(BIN).join("pg_ctl");
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let stop = format!(
        "{}{} -D '{}' -m immediate stop",
        if root { "runuser -u postgres -- " } else { "" },
        pg_ctl.display(),
        data.display()
    );
    let script = format!(
        "while kill -0 {} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{}'",
        std::process::id(),
        dir.display()
    );
    // Started in the background of a shell that exits at once, so the watchdog
    // belongs to init, not to this process, and nobody need wait for it.
    let status = Command::new("sh")
        .args(["-c", &format!("( {script} ) >/dev/null 2>&1 &")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the PostgreSQL watchdog did not start");
}
