//! Downloads as HTTP answers, for the API and the pages alike: an export
//! archive, and a stored file's content, streamed, with its length, media type, `ETag` (its SHA-256),
//! `Range` support (RFC 9110 §14) and a download name (RFC 6266 with the
//! RFC 8187 encoding). Content that fails verification on its first chunk
//! is not sent at all.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use valv_service::Download;

use crate::error::WebError;

/// The answer that sends an export archive of `len` bytes.
pub fn archive(
    archive: impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
    len: u64,
) -> Response {
    let mut res = Body::from_stream(archive).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-tar"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"export.tar\""));
    res
}

/// The answer that sends `d`. The first chunk is read before answering,
/// so a damaged start is a clear error answer rather than a broken body.
///
/// # Errors
/// `content_damaged` (500) when the first chunk fails verification.
pub async fn send(d: Download) -> Result<Response, WebError> {
    let mut body = d.body;
    let first = match body.next().await {
        Some(Err(e)) => return Err(damaged(&e)),
        other => other,
    };
    let partial = d.range.start != 0 || d.range.end != d.size;
    let len = d.range.end - d.range.start;
    let stream = futures::stream::iter(first).chain(body).map(|r| r.map_err(std::io::Error::other));
    let mut res = Body::from_stream(stream).into_response();
    *res.status_mut() = if partial { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    let h = res.headers_mut();
    let set = |h: &mut HeaderMap, k, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    set(h, header::CONTENT_TYPE, d.media_type);
    set(h, header::CONTENT_LENGTH, len.to_string());
    set(h, header::ACCEPT_RANGES, "bytes".into());
    set(h, header::ETAG, format!("\"{}\"", d.sha256));
    set(h, header::CONTENT_DISPOSITION, format!("attachment; filename*=UTF-8''{}", encode(&d.name)));
    set(h, HeaderName::from_static("x-valv-version"), d.version.to_string());
    if partial {
        set(h, header::CONTENT_RANGE, format!("bytes {}-{}/{}", d.range.start, d.range.end - 1, d.size));
    }
    Ok(res)
}

fn damaged(e: &impl std::fmt::Display) -> WebError {
    tracing::error!(error = %e, "stored content failed verification");
    WebError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "content_damaged",
        "the stored content of this file is damaged and was not sent; restore it from a backup",
    )
}

/// RFC 5987 percent-encoding for `filename*`.
fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
