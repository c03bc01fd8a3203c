//! What the typed client ([`crate::Api`]) hands back: an [`Answer`] that
//! states what it expects, binary [`Content`], and a [`bearer`] client for
//! API tokens.

use reqwest::{Client, StatusCode};
use serde_json::Value;

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

/// Binary content the server answered.
#[derive(Debug)]
pub struct Content {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl Content {
    /// The error message, once the content is the JSON error `code` with `status`.
    pub fn error(self, status: u16, code: &str) -> String {
        let body = serde_json::from_slice(&self.bytes).unwrap_or(Value::Null);
        Answer { status: self.status, headers: self.headers, body }.error(status, code)
    }
}

pub(crate) async fn answer(res: reqwest::Response) -> Answer {
    let (status, headers) = (res.status(), res.headers().clone());
    let body = res.json().await.unwrap_or(Value::Null);
    Answer { status, headers, body }
}

/// A client that authenticates with the API token `secret` (`Authorization: Bearer`).
#[must_use]
pub fn bearer(secret: &str) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = reqwest::header::HeaderValue::from_str(&format!("Bearer {secret}")).unwrap();
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder().danger_accept_invalid_certs(true).default_headers(headers).build().unwrap()
}
