//! A backup target on a temporary folder, and targets that fail: a bad URL,
//! a folder that cannot be written, a server that never answers.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use valv_backup_format::Target;
use valv_backup_format::TargetError;

fn target(dir: &tempfile::TempDir) -> Target {
    Target::open("local", &format!("file://{}/backups", dir.path().display())).unwrap()
}

#[tokio::test]
async fn objects_are_written_read_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let t = target(&dir);
    assert_eq!(t.name(), "local");
    assert!(t.description().starts_with("local folder ") && t.description().ends_with("/backups"));
    assert_eq!(t.get("keyring").await.unwrap(), None);
    assert!(!t.exists("keyring").await.unwrap());

    t.put("keyring", Bytes::from_static(b"v1")).await.unwrap();
    t.put("keyring", Bytes::from_static(b"v2")).await.unwrap();
    assert_eq!(t.get("keyring").await.unwrap(), Some(Bytes::from_static(b"v2")), "put replaces");
    t.put("segments/00000000000000000002-00000000000000000003", Bytes::from_static(b"bb")).await.unwrap();
    t.put("segments/00000000000000000001-00000000000000000001", Bytes::from_static(b"a")).await.unwrap();
    t.put("snapshots/00000000000000000003/provider", Bytes::from_static(b"ccc")).await.unwrap();

    let segments = t.list("segments").await.unwrap();
    assert_eq!(
        segments,
        [
            ("segments/00000000000000000001-00000000000000000001".to_owned(), 1),
            ("segments/00000000000000000002-00000000000000000003".to_owned(), 2),
        ],
        "sorted by path, with sizes"
    );
    assert_eq!(t.list("").await.unwrap().len(), 4, "everything");
    assert!(t.list("chunks").await.unwrap().is_empty(), "a prefix with nothing under it");

    t.delete("keyring").await.unwrap();
    t.delete("keyring").await.unwrap();
    assert!(!t.exists("keyring").await.unwrap());
}

#[tokio::test]
async fn put_if_absent_leaves_an_existing_chunk_alone() {
    let dir = tempfile::tempdir().unwrap();
    let t = target(&dir);
    let path = "chunks/t-1/ab/abcd";
    assert!(t.put_if_absent(path, Bytes::from_static(b"first")).await.unwrap());
    assert!(!t.put_if_absent(path, Bytes::from_static(b"second")).await.unwrap());
    assert_eq!(t.get(path).await.unwrap(), Some(Bytes::from_static(b"first")));
    assert_eq!(t.list("chunks").await.unwrap(), [(path.to_owned(), 5)], "no temporary file left behind");
}

#[tokio::test]
async fn an_unwritable_folder_is_an_error_naming_the_target() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the folder should be: refused even for root, unlike permissions.
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let err = Target::open("usb", &format!("{}/backups", file.display())).unwrap_err();
    assert!(matches!(err, TargetError::Open { .. }), "{err}");
    assert!(err.to_string().contains("'usb'"), "{err}");

    let t = target(&dir);
    std::fs::remove_dir(dir.path().join("backups")).unwrap();
    std::fs::write(dir.path().join("backups"), b"x").unwrap();
    let err = t.put("keyring", Bytes::from_static(b"k")).await.unwrap_err();
    assert!(matches!(err, TargetError::Failed { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("'local'") && msg.contains("write 'keyring'") && msg.contains("writable"), "{msg}");
}

#[test]
fn bad_urls_are_refused_without_echoing_secrets() {
    for url in ["ftp://example.org/x", "s3://bucket?secret_access_key=topsecret&colour=blue", "", "s3://"] {
        let err = Target::open("offsite", url).expect_err(url);
        let msg = err.to_string();
        assert!(matches!(err, TargetError::Open { .. }) && msg.contains("'offsite'"), "{url}: {msg}");
        assert!(!msg.contains("topsecret"), "{url}: {msg}");
    }
}

#[tokio::test]
async fn invalid_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = target(&dir).put("a/../b", Bytes::new()).await.unwrap_err();
    assert!(matches!(err, TargetError::InvalidPath { .. }), "{err}");
}

#[tokio::test]
async fn a_target_that_never_answers_times_out() {
    // Accepts connections (the kernel does, from the backlog) and never replies.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let url = format!("s3://bucket?endpoint=http://127.0.0.1:{port}&access_key_id=a&secret_access_key=topsecret");
    let t = Target::open("offsite", &url).unwrap().with_timeout(Duration::from_millis(300));
    let err = t.get("keyring").await.unwrap_err();
    assert!(matches!(err, TargetError::TimedOut { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("'offsite'") && msg.contains("s3 bucket bucket") && !msg.contains("topsecret"), "{msg}");
}
