//! Settings of the service layer, validated by the binary's configuration.

use time::Duration;
use valv_crypto::password::Kdf;

/// Back-off after failed sign-ins (OWASP Authentication Cheat Sheet: throttle
/// per account and per source, lock temporarily, never permanently).
#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    /// Failures per account before locking starts.
    pub account_free: u32,
    /// Failures per client address before locking starts (higher: NAT).
    pub address_free: u32,
    /// First lock; doubles with every further failure.
    pub base_lock: Duration,
    /// Longest lock.
    pub max_lock: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self { account_free: 5, address_free: 20, base_lock: Duration::seconds(2), max_lock: Duration::minutes(15) }
    }
}

/// Settings of the service layer.
#[derive(Debug, Clone)]
pub struct Settings {
    /// KDF for new password hashes; older hashes are upgraded at sign-in.
    pub kdf: Kdf,
    /// Lifetime of a browser session.
    pub session_ttl: Duration,
    /// Lifetime of a pending second-factor step and of one-time codes.
    pub code_ttl: Duration,
    /// Base URL people reach this installation at, for links in messages.
    pub public_url: String,
    /// Issuer name shown in authenticator apps.
    pub issuer: String,
    pub throttle: ThrottlePolicy,
    /// Password hashes computed at once; the rest wait.
    pub hash_concurrency: usize,
    /// Live records one collection may hold.
    pub max_records_per_collection: u64,
    /// Largest file (one version) in bytes.
    pub max_file_bytes: u64,
    /// Bytes of all versions of all files one tenant may hold.
    pub max_tenant_bytes: u64,
    /// clamd to scan uploads with; none: uploads are not scanned.
    pub clamd: Option<crate::scan::Clamd>,
    /// Accept uploads unscanned when clamd is unreachable (default: refuse them).
    pub clamd_fail_open: bool,
    /// How long after the end of its agreement a tenant's admins may still export.
    pub export_window: Duration,
    /// Where export archives made through the API are written.
    pub export_dir: Option<std::path::PathBuf>,
    /// Replication lag above which shipping logs a warning.
    pub backup_lag_warning: Duration,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` name the client; from
    /// any other peer those headers are ignored (anyone can send them).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Digest of the bearer token a metrics scraper sends to `/metrics`.
    pub metrics_token_digest: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            kdf: Kdf::default(),
            session_ttl: Duration::hours(12),
            code_ttl: Duration::minutes(10),
            public_url: "https://127.0.0.1:8443".into(),
            issuer: "valv".into(),
            throttle: ThrottlePolicy::default(),
            hash_concurrency: 1,
            max_records_per_collection: 1_000_000,
            max_file_bytes: 5 << 30,
            max_tenant_bytes: 100 << 30,
            clamd: None,
            clamd_fail_open: false,
            export_dir: None,
            backup_lag_warning: Duration::seconds(5),
            export_window: Duration::days(30),
            trusted_proxies: Vec::new(),
            metrics_token_digest: None,
        }
    }
}
