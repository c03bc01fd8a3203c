//! Test helpers: [`spawn_app`] starts the real `valv serve` binary on port 0
//! with a fresh data dir and answers over real HTTPS; the helpers sign people
//! in the way a client would. Server logs go to a file in the data dir's
//! parent (shown with `TEST_LOG=1`). [`postgres`] gives a test a fresh
//! database on a PostgreSQL server started for the test process. [`Api`]
//! is a typed client with one method per route.
#![allow(clippy::missing_panics_doc, clippy::unwrap_used)] // test code: a failed step fails the test

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};

mod answer;
mod api;
mod postgres;
pub use answer::{Answer, Content, bearer};
pub use api::Api;
pub use postgres::{pg_dump, postgres, postgres_dir, psql};

/// A password every policy check accepts for the fixtures' names.
pub const PASSWORD: &str = "violet-tundra-92-oboe-quill";

/// The `metrics_token` every test server is started with, for tests that
/// watch `/metrics` as a scraper would.
pub const METRICS_TOKEN: &str = "metrics-scraper-token-0123456789abcdef";

/// A running server.
pub struct TestApp {
    pub url: String,
    pub bin: PathBuf,
    pub root: tempfile::TempDir,
    pub setup_token: Option<String>,
    /// The environment the server was started with; `cli` passes it on.
    env: Vec<(String, String)>,
    child: Child,
}

/// A tenant made by [`TestApp::tenant`], with its signed-in owner.
pub struct Tenant {
    pub id: String,
    pub slug: String,
    pub owner_id: String,
    pub owner_email: String,
    pub owner: reqwest::Client,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::env::var_os("TEST_LOG").is_some() {
            eprintln!("{}", self.logs());
        }
    }
}

/// Starts `valv serve` (the binary at `bin`) with a fresh data dir.
pub fn spawn_app(bin: &Path) -> TestApp {
    spawn_with(bin, &[], &[])
}

/// [`spawn_app`] with extra flags and environment variables.
pub fn spawn_with(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> TestApp {
    spawn_at(bin, tempfile::tempdir().unwrap(), args, env)
}

/// Starts `valv serve` on the data dir `root/data`, which may hold an
/// installation already (a restart after a crash, a restored copy).
///
/// With `VALV_TEST_DATABASE=postgres` in the tests' environment, a server not
/// given a `VALV_DATABASE_URL` runs on a PostgreSQL database of its own, the
/// same one again when restarted on `root` (scripts/test runs the API suite
/// that way once more).
pub fn spawn_at(bin: &Path, root: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> TestApp {
    let mut env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    if std::env::var("VALV_TEST_DATABASE").is_ok_and(|d| d == "postgres")
        && !env.iter().any(|(k, _)| k == "VALV_DATABASE_URL")
    {
        // Kept beside the data dir, so a restart after a crash finds its database.
        // A data dir already there without one holds an embedded installation (a restore).
        let kept = root.path().join("database-url");
        if let Ok(url) = std::fs::read_to_string(&kept) {
            env.push(("VALV_DATABASE_URL".into(), url));
        } else if !root.path().join("data").exists() {
            let url = postgres();
            std::fs::write(&kept, &url).unwrap();
            env.push(("VALV_DATABASE_URL".into(), url));
        }
    }
    if !env.iter().any(|(k, _)| k == "VALV_METRICS_TOKEN") {
        env.push(("VALV_METRICS_TOKEN".into(), METRICS_TOKEN.into()));
    }
    let log = std::fs::OpenOptions::new().create(true).append(true).open(root.path().join("server.log")).unwrap();
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(root.path().join("data"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("VALV_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut url, mut setup_token) = (None, None);
    while url.is_none() {
        let Some(Ok(line)) = lines.next() else {
            let log = std::fs::read_to_string(root.path().join("server.log")).unwrap_or_default();
            panic!("valv serve stopped before listening:\n{log}");
        };
        if let Some(t) = line.strip_prefix("valv setup token: ") {
            setup_token = Some(t.trim().to_owned());
        }
        url = line.strip_prefix("valv listening on ").map(str::to_owned);
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    TestApp { url: url.unwrap(), bin: bin.to_owned(), root, setup_token, env, child }
}

/// A client that keeps cookies and trusts the self-signed test certificate.
#[must_use]
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).danger_accept_invalid_certs(true).build().unwrap()
}

impl TestApp {
    #[must_use]
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    #[must_use]
    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// Files of the data dir (database, WAL, keyring, chunks, outbox …) whose
    /// bytes hold `needle`: where a secret must never be found in plain text.
    #[must_use]
    pub fn files_holding(&self, needle: &[u8]) -> Vec<PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() { walk(&p, out) } else { out.push(p) }
            }
        }
        let mut files = Vec::new();
        walk(&self.data_dir(), &mut files);
        files.retain(|f| std::fs::read(f).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)));
        files
    }

    /// The PostgreSQL database the server runs on, if it does not run embedded.
    #[must_use]
    pub fn database_url(&self) -> Option<String> {
        self.env.iter().find(|(k, _)| k == "VALV_DATABASE_URL").map(|(_, v)| v.clone())
    }

    /// Kills the server with SIGKILL (no shutdown at all) and hands back its
    /// folder, for a restart on the same data.
    #[must_use]
    pub fn crash(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.root, tempfile::tempdir().unwrap())
    }

    /// The server's process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server logged so far.
    #[must_use]
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.root.path().join("server.log")).unwrap_or_default()
    }

    /// Runs a `valv` command against this installation's data dir.
    #[must_use]
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command().arg("--data-dir").arg(self.data_dir()).args(args).output().unwrap()
    }

    /// The `valv` binary with the environment this server was started with.
    #[must_use]
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// Messages in the outbox, oldest first.
    #[must_use]
    pub fn outbox(&self) -> Vec<Value> {
        let dir = self.data_dir().join("outbox");
        let mut names: Vec<PathBuf> =
            std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
        names.retain(|p| p.extension().is_some_and(|e| e == "json"));
        names.sort();
        names.iter().map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()).collect()
    }

    /// The newest invitation code sent to `email`.
    #[must_use]
    pub fn invitation(&self, email: &str) -> String {
        let msg = self.outbox().into_iter().rev().find(|m| m["to"]["address"] == email).expect("an invitation");
        let body = msg["body"].as_str().unwrap();
        body.lines().last().unwrap().trim().to_owned()
    }

    /// The newest six-digit code sent to `address` (e-mail or phone).
    #[must_use]
    pub fn sent_code(&self, address: &str) -> String {
        let msg = self.outbox().into_iter().rev().find(|m| m["to"]["address"] == address).expect("a code message");
        let body = msg["body"].as_str().unwrap();
        body.split_whitespace().find(|w| w.len() == 7 && w.ends_with('.')).unwrap().trim_end_matches('.').to_owned()
    }

    /// Creates the first operator with the setup token and signs them in
    /// with their password and a code from the authenticator secret setup gave.
    pub async fn operator(&self) -> reqwest::Client {
        self.operator_and_secret().await.0
    }

    /// [`Self::operator`], and the operator's authenticator secret.
    pub async fn operator_and_secret(&self) -> (reqwest::Client, String) {
        let (api, c) = (self.api(), client());
        let token = self.setup_token.clone().expect("fresh installation prints a setup token");
        let body = json!({ "setup_token": token, "name": "Olle Operator", "email": "ops@provider.example", "password": PASSWORD });
        let set_up = api.setup(body).await;
        assert_eq!(set_up.status, 201, "setup");
        let secret = set_up.body["totp"]["secret"].as_str().expect("setup gives an authenticator secret").to_owned();
        assert_eq!(api.operator_sign_in(&c, "ops@provider.example", PASSWORD).await.status, 200, "operator sign-in");
        let second = api.second_factor(&c, "totp", &totp_code(&secret, 0)).await;
        assert_eq!(second.status, 200, "operator second factor");
        (c, secret)
    }

    /// Sets a password from an invitation.
    pub async fn activate(&self, email: &str) {
        let activated = self.api().activate(&self.invitation(email), PASSWORD).await;
        assert_eq!(activated.status, 200, "activate {email}: {}", activated.body);
    }

    /// Signs in a tenant user; returns the client and the answer's JSON.
    pub async fn sign_in(
        &self,
        slug: &str,
        email: &str,
        password: &str,
    ) -> (reqwest::Client, reqwest::StatusCode, Value) {
        let c = client();
        let signed_in = self.api().sign_in(&c, slug, email, password).await;
        (c, signed_in.status, signed_in.body)
    }

    /// A new tenant (via `operator`) whose owner has activated and signed in.
    pub async fn tenant(&self, operator: &reqwest::Client, slug: &str) -> Tenant {
        let owner_email = format!("owner@{slug}.example");
        let body = json!({
            "name": format!("Org {slug}"), "slug": slug, "contact_name": "Ada Owner",
            "contact_email": owner_email, "contact_phone": "+46701234567"
        });
        let made = self.api().create_tenant(operator, body).await;
        assert_eq!(made.status, 201, "create tenant");
        self.activate(&owner_email).await;
        let (owner, status, _) = self.sign_in(slug, &owner_email, PASSWORD).await;
        assert_eq!(status, 200, "owner sign-in");
        Tenant {
            id: made.body["tenant"]["id"].as_str().unwrap().to_owned(),
            slug: slug.to_owned(),
            owner_id: made.body["owner"]["id"].as_str().unwrap().to_owned(),
            owner_email,
            owner,
        }
    }

    /// Creates, activates and signs in a user of `tenant` with `role`.
    pub async fn member(&self, tenant: &Tenant, email: &str, role: &str) -> (String, reqwest::Client) {
        let body = json!({ "name": "Bo Member", "email": email, "phone": "+46701234599", "role": role });
        let made = self.api().create_user(&tenant.owner, body).await;
        assert_eq!(made.status, 201, "create user");
        let id = made.body["id"].as_str().unwrap().to_owned();
        self.activate(email).await;
        let (c, status, _) = self.sign_in(&tenant.slug, email, PASSWORD).await;
        assert_eq!(status, 200, "member sign-in");
        (id, c)
    }

    /// A new API token of the user signed in on `client`, with their role.
    pub async fn token(&self, client: &reqwest::Client) -> String {
        let made = self.api().create_token(client, json!({ "name": "test" })).await;
        assert_eq!(made.status, 201, "create token");
        made.body["secret"].as_str().unwrap().to_owned()
    }

    /// The head of a raw HTTP/1.1 upload of a new file announcing `length`
    /// bytes (plain HTTP servers only), for tests that control the body.
    #[must_use]
    pub fn raw_upload_head(&self, token: &str, name: &str, length: u64) -> (String, String) {
        let addr = self.url.trim_start_matches("http://").to_owned();
        let head = format!(
            "POST /api/v1/files?name={name} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
        );
        (addr, head)
    }

    /// Journal entries of the tenant `reader` belongs to, newest first.
    pub async fn journal(&self, reader: &reqwest::Client) -> Vec<Value> {
        let read = self.api().journal(reader).await;
        assert_eq!(read.status, 200, "journal");
        read.body["entries"].as_array().unwrap().clone()
    }
}

/// The TOTP code an authenticator app would show `offset_steps` steps from now.
#[must_use]
pub fn totp_code(secret: &str, offset_steps: i64) -> String {
    #[allow(clippy::disallowed_methods)] // the test plays the user's phone, which has a clock
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let t = now.saturating_add_signed(offset_steps * 30);
    valv_crypto::totp::code_at(secret, t).unwrap()
}
