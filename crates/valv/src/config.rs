//! Configuration: defaults, then a TOML file (`--config`), then `VALV_*`
//! environment variables, then command-line flags. Validated once at start
//! into typed settings; every error names the setting and how to set it.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format as _, Serialized, Toml};
use serde::{Deserialize, Serialize};
use time::Duration;
use valv_crypto::password::{Kdf, PBKDF2_MIN_ROUNDS};
use valv_service::Settings;

/// Every setting of valv. In a file as `name = value`, in the environment as
/// `VALV_NAME` (upper case).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Folder for the database, files, TLS material and the outbox.
    pub data_dir: PathBuf,
    /// PostgreSQL instead of the embedded database in the data dir, e.g.
    /// `postgres://valv:…@db.internal/valv` (env VALV_DATABASE_URL). Several
    /// processes may serve one database. Never logged.
    #[serde(skip_serializing)]
    pub database_url: Option<secrecy::SecretString>,
    /// Address and port to listen on.
    pub listen: String,
    /// URL people reach valv at; used in links sent by e-mail.
    pub public_url: Option<String>,
    /// PEM certificate chain; without it a self-signed one is made in the data dir.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key belonging to `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP. Only behind a TLS-terminating proxy.
    pub insecure_http: bool,
    /// Proxies (addresses or CIDR ranges, e.g. `["10.0.0.0/8"]`) whose `Forwarded` or
    /// `X-Forwarded-For` header names the client; from any other peer they are ignored.
    pub trusted_proxies: Vec<String>,
    /// Bearer token (at least 32 characters) a metrics scraper sends to `/metrics`; without it
    /// only signed-in operators read `/metrics`. Never logged.
    #[serde(skip_serializing)]
    pub metrics_token: Option<secrecy::SecretString>,
    /// `argon2id` (default) or `pbkdf2-sha256`.
    pub password_kdf: String,
    /// Argon2id memory in KiB (OWASP minimum 19456).
    pub argon2_memory_kib: u32,
    /// Argon2id passes (OWASP minimum 2).
    pub argon2_iterations: u32,
    /// Argon2id lanes.
    pub argon2_parallelism: u32,
    /// PBKDF2-SHA256 iterations (OWASP minimum 600000).
    pub pbkdf2_rounds: u32,
    /// Password hashes computed at once; default: half the cores, at least one.
    pub hash_concurrency: Option<usize>,
    /// Lifetime of a sign-in session in hours.
    pub session_hours: u32,
    /// SMTP server for e-mail, e.g. `smtp://127.0.0.1:2525`; without it messages go to the outbox.
    pub smtp_url: Option<String>,
    /// Sender address of e-mail.
    pub smtp_from: String,
    /// Log filter, e.g. `info` or `valv_api=debug,info`.
    pub log: String,
    /// Where file content goes: a folder, `file:///path` or `s3://bucket?endpoint=…&region=…`
    /// (credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) [default: <data_dir>/blobs].
    pub blobs: Option<String>,
    /// clamd to scan uploads with: `host:port` or a unix socket path; none: no scanning.
    pub clamd: Option<String>,
    /// Accept uploads unscanned when clamd is unreachable (default: refuse them).
    pub clamd_fail_open: bool,
    /// Largest file (one version) in MiB.
    pub max_file_mib: u64,
    /// Storage per tenant (all versions of all files) in GiB.
    pub max_tenant_gib: u64,
    /// Live records per collection.
    pub max_records_per_collection: u64,
    /// Days after the end of its agreement that a tenant's admins may still export; then its data is deleted.
    pub export_window_days: u32,
    /// File holding the master key (base64, mode 0600) [default: <data_dir>/master.key].
    pub master_key_file: Option<PathBuf>,
    /// The master key itself (base64 of 32 bytes), instead of a file. Never logged.
    #[serde(skip_serializing)]
    pub master_key: Option<secrecy::SecretString>,
    /// Backup targets, each `name=location` (a folder or `s3://bucket?endpoint=...`); three in different places.
    pub backup_targets: Vec<String>,
    /// When the daily full backup runs, cron syntax in UTC.
    pub backup_schedule: String,
    /// Replication lag in seconds above which shipping logs a warning.
    pub backup_lag_warning_secs: u32,
    /// Days of point-in-time history kept on the targets.
    pub backup_keep_pitr_days: u32,
    /// Days daily snapshots are kept.
    pub backup_keep_daily_days: u32,
    /// Months a monthly snapshot (the first of each month) is kept.
    pub backup_keep_monthly: u32,
    /// Seconds a request may take to be answered; an upload, which takes as
    /// long as its size needs, is given up when nothing arrives for this long.
    pub request_timeout_secs: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./valv-data"),
            database_url: None,
            listen: "127.0.0.1:8443".into(),
            public_url: None,
            tls_cert: None,
            tls_key: None,
            insecure_http: false,
            password_kdf: "argon2id".into(),
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            pbkdf2_rounds: PBKDF2_MIN_ROUNDS,
            hash_concurrency: None,
            session_hours: 12,
            smtp_url: None,
            smtp_from: "valv <valv@localhost>".into(),
            log: "info".into(),
            master_key_file: None,
            master_key: None,
            blobs: None,
            clamd: None,
            clamd_fail_open: false,
            max_file_mib: 5 * 1024,
            max_tenant_gib: 100,
            max_records_per_collection: 1_000_000,
            export_window_days: 30,
            trusted_proxies: Vec::new(),
            metrics_token: None,
            backup_targets: Vec::new(),
            backup_schedule: valv_backup_format::schedule::DEFAULT.into(),
            backup_lag_warning_secs: 5,
            backup_keep_pitr_days: 35,
            backup_keep_daily_days: 30,
            backup_keep_monthly: 12,
            request_timeout_secs: 30,
        }
    }
}

/// A refused setting.
#[derive(Debug, thiserror::Error)]
#[error("setting `{name}` (env VALV_{env}): {reason}")]
pub struct ConfigError {
    name: &'static str,
    env: String,
    reason: String,
}

fn refuse(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError { name, env: name.to_uppercase(), reason: reason.into() }
}

impl Config {
    /// Reads defaults, the file, the environment and `overrides`, in that order.
    ///
    /// # Errors
    /// When the file is unreadable or a value has the wrong type or an unknown name.
    pub fn load(file: Option<&std::path::Path>, overrides: &impl Serialize) -> Result<Self, Box<figment::Error>> {
        let mut f = Figment::from(Serialized::defaults(Self::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(Box::new(figment::Error::from(format!("config file {} does not exist", path.display()))));
            }
            f = f.merge(Toml::file(path));
        }
        // VALV_CONFIG names the file itself; VALV_TEST_* belong to the test suite.
        let env = Env::prefixed("VALV_").filter(|k| k != "config" && !k.as_str().to_lowercase().starts_with("test_"));
        f.merge(env).merge(Serialized::defaults(overrides)).extract().map_err(Box::new)
    }

    /// The socket address to listen on.
    ///
    /// # Errors
    /// When `listen` is not `ADDR:PORT`.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen
            .parse()
            .map_err(|_| refuse("listen", format!("`{}` is not ADDR:PORT, e.g. 127.0.0.1:8443", self.listen)))
    }

    /// The backup targets, opened (nothing is written yet).
    ///
    /// # Errors
    /// A target that is not `name=location`, a repeated name, or a location that cannot be used.
    pub fn targets(&self) -> Result<Vec<valv_backup_format::Target>, ConfigError> {
        let mut out: Vec<valv_backup_format::Target> = Vec::new();
        for (i, t) in self.backup_targets.iter().enumerate() {
            let (name, url) =
                t.split_once('=').filter(|(n, _)| !n.contains('/') && !n.contains(':')).ok_or_else(|| {
                    refuse(
                        "backup_targets",
                        format!("entry {} must be name=location, as in offsite=s3://bucket?endpoint=...", i + 1),
                    )
                })?;
            if out.iter().any(|o| o.name() == name) {
                return Err(refuse("backup_targets", format!("the name '{name}' is given twice")));
            }
            out.push(valv_backup_format::Target::open(name, url).map_err(|e| refuse("backup_targets", e.to_string()))?);
        }
        Ok(out)
    }

    /// What pruning keeps on the backup targets.
    #[must_use]
    pub fn retention(&self) -> valv_backup_format::Policy {
        valv_backup_format::Policy {
            pitr: Duration::days(i64::from(self.backup_keep_pitr_days)),
            daily: Duration::days(i64::from(self.backup_keep_daily_days)),
            monthly: self.backup_keep_monthly,
        }
    }

    /// The full-backup schedule.
    ///
    /// # Errors
    /// An expression that is not cron syntax.
    pub fn schedule(&self) -> Result<valv_backup_format::Schedule, ConfigError> {
        valv_backup_format::Schedule::parse(&self.backup_schedule).map_err(|e| refuse("backup_schedule", e.to_string()))
    }

    /// How long a request may take, and an upload may stall.
    ///
    /// # Errors
    /// Zero, or more than an hour.
    pub fn request_timeout(&self) -> Result<std::time::Duration, ConfigError> {
        match self.request_timeout_secs {
            1..=3600 => Ok(std::time::Duration::from_secs(u64::from(self.request_timeout_secs))),
            _ => Err(refuse("request_timeout_secs", "must be 1 to 3600")),
        }
    }

    /// The service settings.
    ///
    /// # Errors
    /// Weak or unknown KDF settings; a session lifetime of zero.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let kdf = match self.password_kdf.as_str() {
            "argon2id" => {
                Kdf::Argon2id { m_kib: self.argon2_memory_kib, t: self.argon2_iterations, p: self.argon2_parallelism }
            }
            "pbkdf2-sha256" => Kdf::Pbkdf2Sha256 { rounds: self.pbkdf2_rounds },
            other => return Err(refuse("password_kdf", format!("`{other}` is not argon2id or pbkdf2-sha256"))),
        };
        let kdf = kdf.checked().map_err(|r| refuse("password_kdf", r))?;
        if self.session_hours == 0 || self.session_hours > 24 * 30 {
            return Err(refuse("session_hours", "must be 1 to 720"));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(refuse("tls_cert", "give both tls_cert and tls_key, or neither"));
        }
        let trusted_proxies = self.trusted_proxies.iter().map(|p| proxy(p)).collect::<Result<_, _>>()?;
        let metrics_token = self.metrics_token.as_ref().map(secrecy::ExposeSecret::expose_secret);
        if metrics_token.is_some_and(|t| t.trim().chars().count() < 32) {
            return Err(refuse("metrics_token", "must be at least 32 characters (e.g. `openssl rand -hex 32`)"));
        }
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let scheme = if self.insecure_http { "http" } else { "https" };
        Ok(Settings {
            kdf,
            session_ttl: Duration::hours(i64::from(self.session_hours)),
            public_url: self.public_url.clone().unwrap_or_else(|| format!("{scheme}://{}", self.listen)),
            hash_concurrency: self.hash_concurrency.unwrap_or((cores / 2).max(1)),
            max_file_bytes: self.max_file_mib.saturating_mul(1 << 20),
            max_tenant_bytes: self.max_tenant_gib.saturating_mul(1 << 30),
            max_records_per_collection: self.max_records_per_collection,
            clamd: self.clamd.as_deref().map(valv_service::scan::Clamd::parse),
            clamd_fail_open: self.clamd_fail_open,
            export_dir: Some(self.data_dir.join("exports")),
            export_window: Duration::days(i64::from(self.export_window_days)),
            backup_lag_warning: Duration::seconds(i64::from(self.backup_lag_warning_secs)),
            trusted_proxies,
            metrics_token_digest: metrics_token.map(|t| valv_crypto::token::digest(t.trim())),
            ..Settings::default()
        })
    }
}

/// A trusted proxy: an address (one host) or a CIDR range.
fn proxy(text: &str) -> Result<ipnet::IpNet, ConfigError> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| refuse("trusted_proxies", format!("`{text}` is not an address or a CIDR range like 10.0.0.0/8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_argon2id() {
        let s = Config::default().settings().unwrap();
        assert_eq!(s.kdf, Kdf::default());
        assert!(Config::default().listen_addr().is_ok());
    }

    #[test]
    fn errors_name_the_setting() {
        let c = Config { password_kdf: "md5".into(), ..Config::default() };
        let e = c.settings().unwrap_err().to_string();
        assert!(e.contains("password_kdf") && e.contains("VALV_PASSWORD_KDF"), "{e}");
        let c = Config { pbkdf2_rounds: 1000, password_kdf: "pbkdf2-sha256".into(), ..Config::default() };
        assert!(c.settings().unwrap_err().to_string().contains("600000"));
        let c = Config { listen: "nowhere".into(), ..Config::default() };
        assert!(c.listen_addr().unwrap_err().to_string().contains("listen"));
        let c = Config { request_timeout_secs: 0, ..Config::default() };
        assert!(c.request_timeout().unwrap_err().to_string().contains("VALV_REQUEST_TIMEOUT_SECS"));
    }

    #[test]
    fn file_and_environment_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("valv.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9999\"\nsession_hours = 3\n").unwrap();
        let c = Config::load(Some(&file), &serde_json::json!({})).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9999");
        assert_eq!(c.session_hours, 3);
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let e = Config::load(Some(&file), &serde_json::json!({})).unwrap_err().to_string();
        assert!(e.contains("lisen"), "unknown settings are named: {e}");
    }
}
