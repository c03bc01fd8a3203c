//! A typed client of the API for tests: one method per route, each taking
//! the signed-in client it acts as and returning an [`Answer`] that states
//! what it expects (`.created()`, `.ok()`, `.error(409, "collection_exists")`),
//! so a test reads as arrange, act, assert in a few lines.

use reqwest::{Client, Method};
use serde_json::{Value, json};

use crate::TestApp;
use crate::answer::{Answer, Content, answer};

/// The API of one running server.
pub struct Api<'a> {
    app: &'a TestApp,
}

impl TestApp {
    /// The typed API client of this server.
    #[must_use]
    pub fn api(&self) -> Api<'_> {
        Api { app: self }
    }
}

impl Api<'_> {
    /// Sends `method path` as `who`, with `body` as JSON when given and
    /// `headers` added.
    pub async fn send(
        &self,
        who: &Client,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = who.request(method, self.app.at(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        answer(req.send().await.unwrap()).await
    }

    async fn get(&self, who: &Client, path: &str) -> Answer {
        self.send(who, Method::GET, path, None, &[]).await
    }

    async fn post(&self, who: &Client, path: &str, body: &Value) -> Answer {
        self.send(who, Method::POST, path, Some(body), &[]).await
    }

    // The service itself.

    /// `/healthz`, asked by an anonymous client (a load balancer).
    pub async fn health(&self) -> Answer {
        self.get(&crate::client(), "/healthz").await
    }

    /// `/readyz`, asked by an anonymous client (an orchestrator).
    pub async fn ready(&self) -> Answer {
        self.get(&crate::client(), "/readyz").await
    }

    /// `/metrics`: its body is Prometheus text, so the answer's body is `Null`
    /// and only the status and headers tell.
    pub async fn metrics(&self, who: &Client) -> Answer {
        self.get(who, "/metrics").await
    }

    pub async fn openapi(&self, who: &Client) -> Answer {
        self.get(who, "/api/v1/openapi.json").await
    }

    // Tenants (operators).

    pub async fn create_tenant(&self, operator: &Client, body: Value) -> Answer {
        self.post(operator, "/api/v1/tenants", &body).await
    }

    pub async fn tenants(&self, operator: &Client) -> Answer {
        self.get(operator, "/api/v1/tenants").await
    }

    pub async fn tenant(&self, operator: &Client, id: &str) -> Answer {
        self.get(operator, &format!("/api/v1/tenants/{id}")).await
    }

    /// `action`: `block`, `unblock` or `terminate`.
    pub async fn tenant_action(&self, operator: &Client, id: &str, action: &str) -> Answer {
        self.send(operator, Method::POST, &format!("/api/v1/tenants/{id}/{action}"), None, &[]).await
    }

    pub async fn jobs(&self, operator: &Client) -> Answer {
        self.get(operator, "/api/v1/jobs").await
    }

    // Accounts.

    pub async fn me(&self, who: &Client) -> Answer {
        self.get(who, "/api/v1/me").await
    }

    pub async fn create_user(&self, admin: &Client, body: Value) -> Answer {
        self.post(admin, "/api/v1/users", &body).await
    }

    pub async fn users(&self, admin: &Client) -> Answer {
        self.get(admin, "/api/v1/users").await
    }

    pub async fn update_user(&self, admin: &Client, id: &str, patch: Value) -> Answer {
        self.send(admin, Method::PATCH, &format!("/api/v1/users/{id}"), Some(&patch), &[]).await
    }

    /// `action`: `block` or `unblock`.
    pub async fn user_action(&self, admin: &Client, id: &str, action: &str) -> Answer {
        self.send(admin, Method::POST, &format!("/api/v1/users/{id}/{action}"), None, &[]).await
    }

    // Collections and records.

    pub async fn create_collection(&self, admin: &Client, body: Value) -> Answer {
        self.post(admin, "/api/v1/collections", &body).await
    }

    pub async fn collection(&self, who: &Client, name: &str) -> Answer {
        self.get(who, &format!("/api/v1/collections/{name}")).await
    }

    pub async fn create_record(&self, who: &Client, collection: &str, data: Value) -> Answer {
        self.post(who, &format!("/api/v1/collections/{collection}/records"), &data).await
    }

    /// The records of `collection` matching `query` (`status=lead&sort=-age`).
    pub async fn records(&self, who: &Client, collection: &str, query: &str) -> Answer {
        self.get(who, &format!("/api/v1/collections/{collection}/records?{query}")).await
    }

    pub async fn record(&self, who: &Client, collection: &str, id: &str) -> Answer {
        self.get(who, &format!("/api/v1/collections/{collection}/records/{id}")).await
    }

    /// Changes fields of a record; `if_match` is the `ETag` read, if any.
    pub async fn update_record(
        &self,
        who: &Client,
        collection: &str,
        id: &str,
        patch: Value,
        if_match: Option<&str>,
    ) -> Answer {
        let path = format!("/api/v1/collections/{collection}/records/{id}");
        let headers: Vec<(&str, &str)> = if_match.map(|m| ("if-match", m)).into_iter().collect();
        self.send(who, Method::PATCH, &path, Some(&patch), &headers).await
    }

    pub async fn delete_record(&self, who: &Client, collection: &str, id: &str, if_match: Option<&str>) -> Answer {
        let path = format!("/api/v1/collections/{collection}/records/{id}");
        let headers: Vec<(&str, &str)> = if_match.map(|m| ("if-match", m)).into_iter().collect();
        self.send(who, Method::DELETE, &path, None, &headers).await
    }

    pub async fn revisions(&self, who: &Client, collection: &str, id: &str) -> Answer {
        self.get(who, &format!("/api/v1/collections/{collection}/records/{id}/revisions")).await
    }

    pub async fn revision(&self, who: &Client, collection: &str, id: &str, revision: u64) -> Answer {
        self.get(who, &format!("/api/v1/collections/{collection}/records/{id}/revisions/{revision}")).await
    }

    pub async fn restore_revision(&self, who: &Client, collection: &str, id: &str, revision: u64) -> Answer {
        let path = format!("/api/v1/collections/{collection}/records/{id}/revisions/{revision}/restore");
        self.send(who, Method::POST, &path, None, &[]).await
    }

    // Journal.

    /// Journal entries of the caller's tenant, newest first.
    pub async fn journal(&self, reader: &Client) -> Answer {
        self.journal_where(reader, "limit=500").await
    }

    /// Journal entries matching `query` (`action=auth.sign_in_failed`, `before=7&limit=2`).
    pub async fn journal_where(&self, reader: &Client, query: &str) -> Answer {
        self.get(reader, &format!("/api/v1/journal?{query}")).await
    }

    // Data subjects.

    /// Files a data-subject request at the public form of tenant `slug`.
    pub async fn file_request(&self, slug: &str, kind: &str, email: &str) -> Answer {
        self.file_request_with(slug, json!({ "kind": kind, "email": email })).await
    }

    /// Files a data-subject request with the whole `body` (one with a `message`).
    pub async fn file_request_with(&self, slug: &str, body: Value) -> Answer {
        self.post(&crate::client(), &format!("/api/v1/public/{slug}/requests"), &body).await
    }

    // Operators and setup.

    pub async fn setup(&self, body: Value) -> Answer {
        self.post(&crate::client(), "/api/v1/setup", &body).await
    }

    pub async fn operator_sign_in(&self, who: &Client, email: &str, password: &str) -> Answer {
        self.post(who, "/api/v1/operator/sign-in", &json!({ "email": email, "password": password })).await
    }

    pub async fn operator_me(&self, operator: &Client) -> Answer {
        self.get(operator, "/api/v1/operator/me").await
    }

    pub async fn set_limits(&self, operator: &Client, id: &str, limits: Value) -> Answer {
        self.send(operator, Method::PATCH, &format!("/api/v1/tenants/{id}/limits"), Some(&limits), &[]).await
    }

    // The caller's own tenant.

    pub async fn own_tenant(&self, who: &Client) -> Answer {
        self.get(who, "/api/v1/tenant").await
    }

    pub async fn update_own_tenant(&self, owner: &Client, patch: Value) -> Answer {
        self.send(owner, Method::PATCH, "/api/v1/tenant", Some(&patch), &[]).await
    }

    // Sign-in.

    pub async fn sign_in(&self, who: &Client, slug: &str, email: &str, password: &str) -> Answer {
        self.post(who, "/api/v1/auth/sign-in", &json!({ "tenant": slug, "email": email, "password": password })).await
    }

    /// Completes a sign-in with a `code` of `method` (`totp`, `recovery_code` or `code`).
    pub async fn second_factor(&self, who: &Client, method: &str, code: &str) -> Answer {
        self.post(who, "/api/v1/auth/second-factor", &json!({ "method": method, "code": code })).await
    }

    /// Asks for a one-time code by `channel` (`email` or `sms`).
    pub async fn send_code(&self, who: &Client, channel: &str) -> Answer {
        self.post(who, "/api/v1/auth/send-code", &json!({ "channel": channel })).await
    }

    pub async fn activate(&self, invitation: &str, password: &str) -> Answer {
        let body = json!({ "invitation": invitation, "password": password });
        self.post(&crate::client(), "/api/v1/auth/activate", &body).await
    }

    pub async fn sign_out(&self, who: &Client) -> Answer {
        self.send(who, Method::POST, "/api/v1/auth/sign-out", None, &[]).await
    }

    pub async fn change_password(&self, who: &Client, current: &str, new: &str) -> Answer {
        self.post(who, "/api/v1/me/password", &json!({ "current_password": current, "new_password": new })).await
    }

    pub async fn begin_totp(&self, who: &Client) -> Answer {
        self.send(who, Method::POST, "/api/v1/me/totp", None, &[]).await
    }

    pub async fn confirm_totp(&self, who: &Client, code: &str) -> Answer {
        self.post(who, "/api/v1/me/totp/confirm", &json!({ "code": code })).await
    }

    // Users and tokens.

    pub async fn user(&self, admin: &Client, id: &str) -> Answer {
        self.get(admin, &format!("/api/v1/users/{id}")).await
    }

    pub async fn reinvite(&self, admin: &Client, id: &str) -> Answer {
        self.send(admin, Method::POST, &format!("/api/v1/users/{id}/invite"), None, &[]).await
    }

    pub async fn create_token(&self, who: &Client, body: Value) -> Answer {
        self.post(who, "/api/v1/tokens", &body).await
    }

    pub async fn tokens(&self, who: &Client) -> Answer {
        self.get(who, "/api/v1/tokens").await
    }

    pub async fn revoke_token(&self, who: &Client, id: &str) -> Answer {
        self.send(who, Method::DELETE, &format!("/api/v1/tokens/{id}"), None, &[]).await
    }

    // Collections.

    pub async fn collections(&self, who: &Client) -> Answer {
        self.get(who, "/api/v1/collections").await
    }

    pub async fn update_collection(&self, admin: &Client, name: &str, patch: Value) -> Answer {
        self.send(admin, Method::PATCH, &format!("/api/v1/collections/{name}"), Some(&patch), &[]).await
    }

    // Files.

    /// Uploads `bytes` as a new file `name` in `folder`.
    pub async fn upload(&self, who: &Client, folder: &str, name: &str, bytes: Vec<u8>) -> Answer {
        let url = self.app.at(&format!("/api/v1/files?folder={folder}&name={name}"));
        answer(who.post(url).body(bytes).send().await.unwrap()).await
    }

    /// Uploads `bytes` as a new version of file `id`.
    pub async fn upload_version(&self, who: &Client, id: &str, bytes: Vec<u8>) -> Answer {
        answer(who.put(self.app.at(&format!("/api/v1/files/{id}/content"))).body(bytes).send().await.unwrap()).await
    }

    /// Files in `folder`, or everywhere.
    pub async fn files(&self, who: &Client, folder: Option<&str>) -> Answer {
        self.get(who, &folder.map_or_else(|| "/api/v1/files".to_owned(), |f| format!("/api/v1/files?folder={f}"))).await
    }

    pub async fn file(&self, who: &Client, id: &str) -> Answer {
        self.get(who, &format!("/api/v1/files/{id}")).await
    }

    pub async fn delete_file(&self, who: &Client, id: &str) -> Answer {
        self.send(who, Method::DELETE, &format!("/api/v1/files/{id}"), None, &[]).await
    }

    /// The current content of file `id` (or `version`), with `range` if given.
    pub async fn download(&self, who: &Client, id: &str, version: Option<u32>, range: Option<&str>) -> Content {
        let path = version.map_or_else(
            || format!("/api/v1/files/{id}/content"),
            |v| format!("/api/v1/files/{id}/versions/{v}/content"),
        );
        let mut req = who.get(self.app.at(&path));
        if let Some(r) = range {
            req = req.header("range", r);
        }
        let res = req.send().await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        Content { status, headers, bytes: res.bytes().await.unwrap().to_vec() }
    }

    // Exports.

    pub async fn start_export(&self, admin: &Client) -> Answer {
        self.send(admin, Method::POST, "/api/v1/exports", None, &[]).await
    }

    pub async fn export_status(&self, admin: &Client, id: &str) -> Answer {
        self.get(admin, &format!("/api/v1/exports/{id}")).await
    }

    pub async fn export_archive(&self, admin: &Client, id: &str) -> Content {
        let res = admin.get(self.app.at(&format!("/api/v1/exports/{id}/archive"))).send().await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        Content { status, headers, bytes: res.bytes().await.unwrap().to_vec() }
    }

    /// Verifies a request's e-mail address with the code sent to it.
    pub async fn verify_request(&self, code: &str) -> Answer {
        self.post(&crate::client(), "/api/v1/public/requests/verify", &json!({ "code": code })).await
    }

    /// Requests of the caller's tenant, optionally by deadline (`open`, `due_soon`, `overdue`).
    pub async fn requests(&self, admin: &Client, deadline: Option<&str>) -> Answer {
        self.get(
            admin,
            &deadline.map_or_else(|| "/api/v1/requests".into(), |d| format!("/api/v1/requests?deadline={d}")),
        )
        .await
    }

    pub async fn answer_request(&self, admin: &Client, id: &str) -> Answer {
        self.send(admin, Method::POST, &format!("/api/v1/requests/{id}/answer"), None, &[]).await
    }

    pub async fn extend_request(&self, admin: &Client, id: &str, months: u8, reason: &str) -> Answer {
        let body = json!({ "months": months, "reason": reason });
        self.post(admin, &format!("/api/v1/requests/{id}/extend"), &body).await
    }

    pub async fn search_subject(&self, admin: &Client, query: Value) -> Answer {
        self.post(admin, "/api/v1/subjects/search", &query).await
    }

    pub async fn access_report(&self, admin: &Client, query: Value) -> Answer {
        self.post(admin, "/api/v1/subjects/access", &query).await
    }

    pub async fn erase_subject(&self, admin: &Client, query: Value) -> Answer {
        self.post(admin, "/api/v1/subjects/erase", &query).await
    }
}
