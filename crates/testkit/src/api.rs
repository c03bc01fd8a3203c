//! A typed client of the API for tests: one method per route, each taking
//! the signed-in client it acts as and returning an [`Answer`] that states
//! what it expects (`.created()`, `.ok()`, `.error(409, "collection_exists")`),
//! so a test reads as arrange, act, assert in a few lines.

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::TestApp;

/// The API of one running server.
pub struct Api<'a> {
    app: &'a TestApp,
}

/// What the server answered: the status, the headers and the JSON body
/// (`Null` when there is none).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The body of a `200 OK`.
    #[must_use]
    pub fn ok(self) -> Value {
        self.expect(200)
    }

    /// The body of a `201 Created`.
    #[must_use]
    pub fn created(self) -> Value {
        self.expect(201)
    }

    /// The body, once the status is `status`.
    #[must_use]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        self.body
    }

    /// The error message, once the answer is the error `code` with `status`.
    pub fn error(self, status: u16, code: &str) -> String {
        assert_eq!((self.status.as_u16(), self.body["error"]["code"].as_str()), (status, Some(code)), "{}", self.body);
        self.body["error"]["message"].as_str().unwrap_or_default().to_owned()
    }

    /// The fields a `validation_failed` answer names, in order.
    #[must_use]
    pub fn refused_fields(self) -> Vec<String> {
        let body = self.body.clone();
        self.error(422, "validation_failed");
        body["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap().to_owned()).collect()
    }

    /// The `ETag` header.
    #[must_use]
    pub fn etag(&self) -> &str {
        self.headers["etag"].to_str().unwrap()
    }
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
        let res = req.send().await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let body = res.json().await.unwrap_or(Value::Null);
        Answer { status, headers, body }
    }

    async fn get(&self, who: &Client, path: &str) -> Answer {
        self.send(who, Method::GET, path, None, &[]).await
    }

    async fn post(&self, who: &Client, path: &str, body: &Value) -> Answer {
        self.send(who, Method::POST, path, Some(body), &[]).await
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
        self.get(reader, "/api/v1/journal?limit=500").await
    }

    // Data subjects.

    /// Files a data-subject request at the public form of tenant `slug`.
    pub async fn file_request(&self, slug: &str, kind: &str, email: &str) -> Answer {
        let body = json!({ "kind": kind, "email": email });
        self.post(&crate::client(), &format!("/api/v1/public/{slug}/requests"), &body).await
    }
}
