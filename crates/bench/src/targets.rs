//! The systems under test: valv on its embedded default (over HTTPS and over
//! plain HTTP) and PocketBase, each started fresh in a temporary folder and
//! prepared with a signed-in user and an administrator's credential.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use reqwest::{Client, RequestBuilder};
use serde_json::{Value, json};
use valv_testkit::PASSWORD;

/// One system under test.
pub struct Target {
    pub name: String,
    pub client: Client,
    base: String,
    kind: Kind,
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

enum Kind {
    Valv { token: String, slug: String, email: String, records: Vec<String> },
    PocketBase { user_token: String, admin_token: String, user_id: String, email: String },
}

impl Target {
    /// `GET` of the signed-in user, with a user's credential.
    pub fn get_me(&self) -> RequestBuilder {
        match &self.kind {
            Kind::Valv { token, .. } => self.client.get(format!("{}/api/v1/me", self.base)).bearer_auth(token),
            Kind::PocketBase { user_token, user_id, .. } => self
                .client
                .get(format!("{}/api/collections/users/records/{user_id}", self.base))
                .header("authorization", user_token),
        }
    }

    /// Creating user `n` with an administrator's credential.
    pub fn create_user(&self, c: usize, n: u64) -> RequestBuilder {
        let email = format!("u{c}-{n}@bench.example");
        match &self.kind {
            Kind::Valv { token, .. } => self
                .client
                .post(format!("{}/api/v1/users", self.base))
                .bearer_auth(token)
                .json(&json!({ "name": "Bench User", "email": email, "phone": "+46701234567", "role": "member" })),
            Kind::PocketBase { admin_token, .. } => self
                .client
                .post(format!("{}/api/collections/users/records", self.base))
                .header("authorization", admin_token)
                .json(&json!({ "email": email, "password": PASSWORD, "passwordConfirm": PASSWORD })),
        }
    }

    /// Creating a record of three small fields (one personal), with a user's
    /// credential; `None` where the system has no such collection.
    pub fn create_record(&self, c: usize, n: u64) -> Option<RequestBuilder> {
        let Kind::Valv { token, .. } = &self.kind else { return None };
        let body = json!({ "title": format!("note {c}-{n}"), "email": format!("p{c}-{n}@bench.example"), "n": n });
        Some(
            self.client
                .post(format!("{}/api/v1/collections/{NOTES}/records", self.base))
                .bearer_auth(token)
                .json(&body),
        )
    }

    /// Reading one of the seeded records by id.
    pub fn get_record(&self, n: u64) -> Option<RequestBuilder> {
        let Kind::Valv { token, records, .. } = &self.kind else { return None };
        let id = &records[usize::try_from(n).unwrap_or_default() % records.len()];
        Some(self.client.get(format!("{}/api/v1/collections/{NOTES}/records/{id}", self.base)).bearer_auth(token))
    }

    /// A page of 50 records, in creation order.
    pub fn list_records(&self) -> Option<RequestBuilder> {
        let Kind::Valv { token, .. } = &self.kind else { return None };
        Some(self.client.get(format!("{}/api/v1/collections/{NOTES}/records?limit=50", self.base)).bearer_auth(token))
    }

    /// A password sign-in (the expensive KDF on the server).
    pub fn sign_in(&self) -> RequestBuilder {
        match &self.kind {
            Kind::Valv { slug, email, .. } => self
                .client
                .post(format!("{}/api/v1/auth/sign-in", self.base))
                .json(&json!({ "tenant": slug, "email": email, "password": PASSWORD })),
            Kind::PocketBase { email, .. } => self
                .client
                .post(format!("{}/api/collections/users/auth-with-password", self.base))
                .json(&json!({ "identity": email, "password": PASSWORD })),
        }
    }
}

fn http_client() -> Client {
    Client::builder().danger_accept_invalid_certs(true).pool_max_idle_per_host(64).build().unwrap_or_default()
}

/// The collection the record scenarios use.
const NOTES: &str = "notes";

/// Records seeded for the reads.
const SEEDED: usize = 500;

/// valv from the binary at `bin`, with `args` for `valv serve`; a collection
/// of notes holds [`SEEDED`] records to read.
pub async fn valv(bin: &Path, name: &str, args: &[&str]) -> anyhow::Result<Target> {
    let app = valv_testkit::spawn_with(bin, args, &[]);
    let op = app.operator().await;
    let t = app.tenant(&op, "bench").await;
    let tok: Value =
        t.owner.post(app.at("/api/v1/tokens")).json(&json!({ "name": "bench" })).send().await?.json().await?;
    let token = tok["secret"].as_str().context("token secret")?.to_owned();
    let api = app.api();
    let notes = json!({ "name": NOTES, "fields": [
        { "name": "title", "type": "text" },
        { "name": "email", "type": "email", "personal": "contact" },
        { "name": "n", "type": "number" }]});
    let _ = api.create_collection(&t.owner, notes).await.created();
    let mut records = Vec::with_capacity(SEEDED);
    for n in 0..SEEDED {
        let body = json!({ "title": format!("seeded {n}"), "email": format!("s{n}@bench.example"), "n": n });
        records.push(api.create_record(&t.owner, NOTES, body).await.created()["id"].as_str().context("id")?.to_owned());
    }
    Ok(Target {
        name: name.to_owned(),
        client: http_client(),
        base: app.url.clone(),
        kind: Kind::Valv { token, slug: t.slug.clone(), email: t.owner_email.clone(), records },
        _keep: Box::new(app),
    })
}

struct Process {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// PocketBase from the binary at `bin`, over plain HTTP (its default).
pub async fn pocketbase(bin: &Path) -> anyhow::Result<Target> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("pb_data");
    let admin = "admin@bench.example";
    let status = Command::new(bin).args(["superuser", "upsert", admin, PASSWORD, "--dir"]).arg(&data).output()?;
    if !status.status.success() {
        bail!("pocketbase superuser upsert failed: {}", String::from_utf8_lossy(&status.stderr));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new(bin)
        .args(["serve", "--http", &format!("127.0.0.1:{port}"), "--dir"])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let keep = Process { child, _dir: dir };
    let base = format!("http://127.0.0.1:{port}");
    let client = http_client();
    wait_ready(&client, &format!("{base}/api/health")).await?;
    let auth = |coll: &str, identity: &str| {
        client
            .post(format!("{base}/api/collections/{coll}/auth-with-password"))
            .json(&json!({ "identity": identity, "password": PASSWORD }))
    };
    let admin_token = auth("_superusers", admin).send().await?.json::<Value>().await?["token"]
        .as_str()
        .context("superuser token")?
        .to_owned();
    let email = "owner@bench.example".to_owned();
    let user: Value = client
        .post(format!("{base}/api/collections/users/records"))
        .header("authorization", &admin_token)
        .json(&json!({ "email": email, "password": PASSWORD, "passwordConfirm": PASSWORD }))
        .send()
        .await?
        .json()
        .await?;
    let user_id = user["id"].as_str().with_context(|| format!("user id in {user}"))?.to_owned();
    let user_token =
        auth("users", &email).send().await?.json::<Value>().await?["token"].as_str().context("user token")?.to_owned();
    Ok(Target {
        name: "PocketBase (HTTP)".into(),
        client,
        base,
        kind: Kind::PocketBase { user_token, admin_token, user_id, email },
        _keep: Box::new(keep),
    })
}

async fn wait_ready(client: &Client, url: &str) -> anyhow::Result<()> {
    for _ in 0..200 {
        if client.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{url} did not become ready")
}
