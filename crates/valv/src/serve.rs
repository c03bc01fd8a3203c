//! `valv serve`: HTTPS by default, plain HTTP only with `--insecure-http`.
//! On an installation without operators it prints a one-time setup token.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use serde::Serialize;
use tracing_subscriber::EnvFilter;

use crate::config::Config;

/// Flags of `valv serve`; each overrides the file and the environment.
#[derive(Debug, clap::Args, Serialize)]
pub struct ServeArgs {
    /// Address and port to listen on [default: 127.0.0.1:8443]; port 0 picks a free one.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<String>,
    /// PEM certificate chain (with --tls-key); default: a self-signed one in the data dir.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP (only behind a proxy that terminates TLS).
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    insecure_http: bool,
    /// URL people reach this installation at, for links in messages.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    public_url: Option<String>,
}

/// Runs the server until SIGINT or SIGTERM.
/// Everything valv answers over HTTP: the JSON API under `/api/` with the
/// health and metrics routes, and the web pages at every other address.
/// Told apart by path before either routes, so each keeps its own routes,
/// path parameters, fallback and security headers.
fn web(valv: valv_service::Valv, deadline: std::time::Duration) -> axum::Router {
    use tower::ServiceExt as _;
    let api = valv_api::app(valv.clone(), deadline);
    let pages = valv_ui::pages(valv);
    let either = tower::service_fn(move |req: axum::extract::Request| {
        let path = req.uri().path();
        let to_api = path.starts_with("/api/") || ["/healthz", "/readyz", "/metrics"].contains(&path);
        let router = if to_api { api.clone() } else { pages.clone() };
        router.oneshot(req)
    });
    axum::Router::new().fallback_service(either)
}

pub async fn run(file: Option<&Path>, args: ServeArgs, global: serde_json::Value) -> anyhow::Result<ExitCode> {
    let mut overrides = serde_json::to_value(&args)?;
    if let (Some(o), serde_json::Value::Object(g)) = (overrides.as_object_mut(), global) {
        o.extend(g);
    }
    let mut config = Config::load(file, &overrides)?;
    init_logging(&config.log)?;
    let addr = config.listen_addr()?;
    // One crypto provider for the process (rustls picks none by itself when unsure).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let scheme = if config.insecure_http { "http" } else { "https" };
    // Messages name where valv is: the address it really listens on (port 0 picks one) unless configured.
    config.public_url.get_or_insert_with(|| format!("{scheme}://{local}"));
    let (valv, _keyring_lock) = crate::wiring::build_for_serving(&config).await?;
    seal_stored(&valv).await?;
    let app = web(valv.clone(), config.request_timeout()?).into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    tokio::spawn(shutdown_on_signal(handle.clone()));
    tokio::spawn(lead_background_work(valv.clone()));
    let tls = if config.insecure_http {
        tracing::warn!("serving plain HTTP (--insecure-http): only safe behind a proxy that terminates TLS");
        None
    } else {
        Some(crate::tls::load(&config).await?)
    };
    if let Some(token) = valv.setup_token().await? {
        print_setup(&config, scheme, local, &token);
    }
    println!("valv listening on {scheme}://{local}");
    tracing::info!(address = %local, scheme, data_dir = %config.data_dir.display(), "valv serving");
    match tls {
        Some(tls) => axum_server::from_tcp_rustls(listener, tls).handle(handle).serve(app).await?,
        None => axum_server::from_tcp(listener).handle(handle).serve(app).await?,
    }
    tracing::info!("valv stopped");
    Ok(ExitCode::SUCCESS)
}

/// Seals rows an earlier release stored in clear, saying how far it is.
async fn seal_stored(valv: &valv_service::Valv) -> anyhow::Result<()> {
    let progress = |n: u64| eprint!("\rvalv: sealing rows stored in clear: {n} looked at");
    let seen = valv.seal_stored(&progress).await.context("cannot seal the rows stored in clear")?;
    if seen > 0 {
        eprintln!("\rvalv: sealed the rows stored in clear ({seen} looked at)");
        tracing::info!(rows = seen, "sealed the rows stored in clear");
    }
    Ok(())
}

/// The setup token goes to the terminal once, never into the log.
fn print_setup(config: &Config, scheme: &str, local: SocketAddr, token: &str) {
    let base = config.public_url.clone().unwrap_or_else(|| format!("{scheme}://{local}"));
    println!(
        "valv: no operator account exists yet. Create the first one with this one-time setup token:\n\
         valv setup token: {token}\n\
         curl -k -X POST {base}/api/v1/setup -H 'Content-Type: application/json' \\\n  \
         -d '{{\"setup_token\":\"{token}\",\"name\":\"Your Name\",\"email\":\"you@example.com\",\"password\":\"<a long passphrase>\"}}'\n\
         A new token is printed at every start until an operator exists."
    );
}

fn init_logging(filter: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter).map_err(|e| anyhow::anyhow!("setting `log` (env VALV_LOG): {e}"))?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .init();
    Ok(())
}

/// Runs the background jobs (`valv_service::jobs`) while this process leads
/// the installation: always on the embedded store; on a shared database, in
/// exactly one of the processes serving it, another taking over within
/// seconds when the leader ends.
async fn lead_background_work(valv: valv_service::Valv) {
    let mut every = tokio::time::interval(LEAD_CHECK);
    let mut work: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    loop {
        every.tick().await;
        let leads = valv.lead().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot tell whether this process leads the background work");
            false
        });
        match (leads, work.is_empty()) {
            (true, true) => {
                tracing::info!("this process leads the background work (backups, purging)");
                work = valv.start_jobs();
            }
            (false, false) => {
                tracing::warn!("this process lost the lead of the background work; stopping it");
                work.drain(..).for_each(|w| w.abort());
            }
            _ => {}
        }
    }
}

/// How often a process asks whether it leads (and a follower whether it may).
const LEAD_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

async fn shutdown_on_signal(handle: axum_server::Handle) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        () = term => {}
    }
    handle.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
}
