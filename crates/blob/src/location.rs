//! Where chunks live, parsed from the `--blobs` URL: a local folder
//! (`/var/lib/valv/chunks`, `file:///var/lib/valv/chunks`) or an S3-compatible
//! bucket (`s3://bucket?endpoint=http://127.0.0.1:9000&region=us-east-1`).
//! Error messages never repeat the URL, which may carry a secret key.

use std::path::PathBuf;

use crate::error::BlobError;

/// A parsed chunk store location.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Location {
    /// A folder on the local file system.
    Local(PathBuf),
    /// A bucket on S3 or an S3-compatible server.
    S3(S3Location),
}

/// An S3 bucket and how to reach it.
#[derive(PartialEq, Eq)]
pub(crate) struct S3Location {
    pub bucket: String,
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Location")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "redacted"))
            .finish()
    }
}

/// Parses a chunk store URL. `env` reads credentials from the environment
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`); query parameters win.
pub(crate) fn parse(url: &str, env: impl Fn(&str) -> Option<String>) -> Result<Location, BlobError> {
    if let Some(path) = url.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(invalid("a file:// URL needs an absolute path, as in file:///var/lib/valv/chunks"));
        }
        return Ok(Location::Local(PathBuf::from(percent_decode(path)?)));
    }
    if let Some(rest) = url.strip_prefix("s3://") {
        return parse_s3(rest, env).map(Location::S3);
    }
    if url.is_empty() {
        return Err(invalid("the location is empty; give a folder path or an s3:// URL"));
    }
    if let Some((scheme, _)) = url.split_once("://") {
        let scheme: String = scheme.chars().take(16).collect();
        return Err(invalid(&format!(
            "unknown scheme '{scheme}'; use a folder path, file:///absolute/path or s3://bucket?endpoint=..."
        )));
    }
    Ok(Location::Local(PathBuf::from(url)))
}

fn parse_s3(rest: &str, env: impl Fn(&str) -> Option<String>) -> Result<S3Location, BlobError> {
    let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
    let bucket = bucket.strip_suffix('/').unwrap_or(bucket);
    if bucket.is_empty() || bucket.contains('/') {
        return Err(invalid("an s3:// URL names one bucket and no path, as in s3://bucket?region=us-east-1"));
    }
    let mut loc = S3Location {
        bucket: bucket.to_owned(),
        endpoint: None,
        region: "us-east-1".to_owned(),
        access_key_id: env("AWS_ACCESS_KEY_ID"),
        secret_access_key: env("AWS_SECRET_ACCESS_KEY"),
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value)?;
        match name {
            "endpoint" => loc.endpoint = Some(value),
            "region" => loc.region = value,
            "access_key_id" => loc.access_key_id = Some(value),
            "secret_access_key" => loc.secret_access_key = Some(value),
            _ => {
                let name: String = name.chars().take(32).collect();
                return Err(invalid(&format!(
                    "unknown s3 parameter '{name}'; known: endpoint, region, access_key_id, secret_access_key"
                )));
            }
        }
    }
    Ok(loc)
}

/// Decodes `%XX` escapes; `+` stays `+`, as secret keys may contain it.
fn percent_decode(s: &str) -> Result<String, BlobError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(|| invalid("a '%' escape is cut short"))?;
            let byte = std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| invalid("a '%' escape is not followed by two hex digits"))?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| invalid("a '%' escape does not decode to UTF-8"))
}

fn invalid(msg: &str) -> BlobError {
    BlobError::InvalidUrl(msg.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn folders_and_file_urls_are_local() {
        assert_eq!(parse("/var/lib/valv", no_env).unwrap(), Location::Local("/var/lib/valv".into()));
        assert_eq!(parse("data/chunks", no_env).unwrap(), Location::Local("data/chunks".into()));
        assert_eq!(parse("file:///srv/my%20chunks", no_env).unwrap(), Location::Local("/srv/my chunks".into()));
        assert!(matches!(parse("file://relative", no_env), Err(BlobError::InvalidUrl(_))));
    }

    #[test]
    fn s3_urls_carry_bucket_endpoint_region_and_credentials() {
        let url = "s3://valv-chunks?endpoint=http://127.0.0.1:9000&region=eu-west-1\
                   &access_key_id=AKID&secret_access_key=s%2Fk+y";
        let Location::S3(s3) = parse(url, no_env).unwrap() else { panic!("not s3") };
        assert_eq!(s3.bucket, "valv-chunks");
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(s3.region, "eu-west-1");
        assert_eq!(s3.access_key_id.as_deref(), Some("AKID"));
        assert_eq!(s3.secret_access_key.as_deref(), Some("s/k+y"));
        assert!(!format!("{s3:?}").contains("s/k+y"), "Debug redacts the secret");
    }

    #[test]
    fn s3_credentials_come_from_the_environment_unless_given_in_the_url() {
        let env = |name: &str| Some(format!("env-{name}"));
        let Location::S3(s3) = parse("s3://b", env).unwrap() else { panic!("not s3") };
        assert_eq!(s3.region, "us-east-1", "default region");
        assert_eq!(s3.endpoint, None);
        assert_eq!(s3.access_key_id.as_deref(), Some("env-AWS_ACCESS_KEY_ID"));
        assert_eq!(s3.secret_access_key.as_deref(), Some("env-AWS_SECRET_ACCESS_KEY"));
        let Location::S3(s3) = parse("s3://b/?access_key_id=url", env).unwrap() else { panic!("not s3") };
        assert_eq!(s3.access_key_id.as_deref(), Some("url"), "the URL wins");
    }

    #[test]
    fn bad_locations_are_refused_without_echoing_secrets() {
        let cases = [
            ("gs://bucket", "unknown scheme"),
            ("postgres://u:topsecret@h/db", "unknown scheme"),
            ("", "empty"),
            ("s3://", "no bucket"),
            ("s3://bucket/prefix", "path after bucket"),
            ("s3://bucket?secret_access_key=topsecret&colour=blue", "unknown parameter"),
            ("s3://bucket?secret_access_key=topsecret%zz", "bad escape"),
            ("s3://bucket?secret_access_key=topsecret%4", "short escape"),
        ];
        for (url, case) in cases {
            let err = parse(url, no_env).expect_err(case);
            assert!(matches!(err, BlobError::InvalidUrl(_)), "{case}");
            assert!(!err.to_string().contains("topsecret"), "{case}: {err}");
        }
        assert!(parse("gs://bucket", no_env).unwrap_err().to_string().contains("unknown scheme 'gs'"));
    }
}
