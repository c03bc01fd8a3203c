//! Real neighbours, started by the test on loopback: clamd (Debian's
//! clamav-daemon with a local EICAR signature; installed by scripts/test) and
//! an S3-compatible server (`rclone serve s3`, from the test tools).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::app_with;

/// The EICAR anti-virus test file (68 bytes); harmless, detected by every scanner.
pub const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// A child process and the folder it works in, both gone on drop.
pub struct Daemon(pub Child, #[allow(dead_code)] pub tempfile::TempDir);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) async fn wait_for(port: u16, what: &str) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not start on port {port}");
}

/// clamd with only the EICAR signature (no download needed).
pub async fn clamd() -> (Daemon, u16) {
    let bin = ["/usr/sbin/clamd", "/usr/bin/clamd"].into_iter().find(|p| std::path::Path::new(p).exists());
    let bin = bin.expect("clamd is not installed: run scripts/test, which installs clamav-daemon");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(db.join("eicar.hdb"), "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n").unwrap();
    let port = free_port();
    let conf = dir.path().join("clamd.conf");
    let text = format!(
        "DatabaseDirectory {}\nTCPSocket {port}\nTCPAddr 127.0.0.1\nForeground yes\nStreamMaxLength 100M\nLogFile {}\n",
        db.display(),
        dir.path().join("clamd.log").display()
    );
    std::fs::write(&conf, text).unwrap();
    let child = Command::new(bin)
        .arg(format!("--config-file={}", conf.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let d = Daemon(child, dir);
    wait_for(port, "clamd").await;
    (d, port)
}

#[tokio::test]
async fn uploads_are_scanned_and_malware_is_refused_with_its_name() {
    let (_clamd, port) = clamd().await;
    let app = app_with(&[], &[("VALV_CLAMD", &format!("127.0.0.1:{port}"))]);
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let clean = api.upload(&t.owner, "/", "clean.txt", b"just a letter".to_vec()).await.created();
    assert_eq!(clean["versions"][0]["scan"], "clean (clamd)");

    let named = api.upload(&t.owner, "/", "eicar.com", EICAR.into()).await.error(422, "malware_found");
    assert!(named.contains("Eicar-Test-Signature"), "names the signature: {named}");
    let list = api.files(&t.owner, None).await.ok();
    assert_eq!(list.as_array().unwrap().len(), 1, "the infected upload was not stored");
    let refused =
        app.journal(&t.owner).await.into_iter().find(|e| e["action"] == "file.malware_refused").expect("journaled");
    assert!(refused["detail"]["signature"].as_str().unwrap().starts_with("Eicar-Test-Signature"));
}

#[tokio::test]
async fn an_unreachable_scanner_refuses_uploads_unless_told_to_fail_open() {
    let dead = format!("127.0.0.1:{}", free_port());
    let app = app_with(&[], &[("VALV_CLAMD", &dead)]);
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    // Fail closed.
    app.api().upload(&t.owner, "/", "a.txt", b"x".to_vec()).await.error(503, "scanner_unavailable");
    let open = app_with(&[], &[("VALV_CLAMD", &dead), ("VALV_CLAMD_FAIL_OPEN", "true")]);
    let op = open.operator().await;
    let t = open.tenant(&op, "acme").await;
    let f = open.api().upload(&t.owner, "/", "a.txt", b"x".to_vec()).await.created();
    assert_eq!(f["versions"][0]["scan"], "not scanned");
}

#[tokio::test]
async fn file_content_lives_in_an_s3_compatible_store() {
    let rclone = crate::fuzz::tools().join("rclone");
    assert!(rclone.exists(), "rclone is missing from the test tools: run scripts/test");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("bucket1")).unwrap();
    let port = free_port();
    let child = Command::new(rclone)
        .args(["serve", "s3", "--addr", &format!("127.0.0.1:{port}"), "--auth-key", "valvkey,valvsecret"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let root = dir.path().to_owned();
    let _s3 = Daemon(child, dir);
    wait_for(port, "rclone serve s3").await;
    let url = format!("s3://bucket1?endpoint=http://127.0.0.1:{port}&region=us-east-1");
    let app = app_with(
        &[],
        &[("VALV_BLOBS", &url), ("AWS_ACCESS_KEY_ID", "valvkey"), ("AWS_SECRET_ACCESS_KEY", "valvsecret")],
    );
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let f = api.upload(&t.owner, "/", "s3.bin", body.clone()).await.created();
    let back = api.download(&t.owner, f["id"].as_str().unwrap(), None, None).await;
    assert_eq!(back.bytes, body, "round trip through S3");
    let chunks = root.join("bucket1").join("chunks").join(&t.id);
    assert!(chunks.exists(), "the chunks are objects in the bucket");
    assert!(!app.data_dir().join("blobs").exists(), "nothing went to the local disk");
}
