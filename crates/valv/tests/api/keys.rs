//! The master key: created private, refused when readable by others, a wrong
//! one detected at start, and rotation rewraps tenant keys without touching data.

use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn valv(data: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_valv")).arg("--data-dir").arg(data).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Starts `valv serve` expecting it to stop by itself; its output.
#[allow(clippy::disallowed_methods)] // polls a child process from a synchronous test
fn serve_expecting_failure(data: &std::path::Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_valv"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("valv serve started although it should have refused");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    text(&out)
}

#[test]
fn a_new_installation_gets_a_master_key_readable_by_its_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = valv(dir.path(), &["keys", "init"]);
    assert!(out.status.success(), "{}", text(&out));
    let mode = std::fs::metadata(dir.path().join("master.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = valv(dir.path(), &["keys", "init"]);
    assert!(!again.status.success(), "init never overwrites a key");
}

#[test]
fn the_server_refuses_a_key_file_others_can_read() {
    let dir = tempfile::tempdir().unwrap();
    assert!(valv(dir.path(), &["keys", "init"]).status.success());
    let key = dir.path().join("master.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = serve_expecting_failure(dir.path());
    assert!(out.contains("chmod 600"), "{out}");
}

#[test]
fn a_wrong_master_key_is_detected_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let created = valv(
        dir.path(),
        &[
            "tenant",
            "create",
            "--name",
            "Acme",
            "--contact-name",
            "Ada Lind",
            "--contact-email",
            "ada@acme.example",
            "--contact-phone",
            "+46701234567",
        ],
    );
    assert!(created.status.success(), "{}", text(&created));
    let key = dir.path().join("master.key");
    std::fs::remove_file(&key).unwrap();
    std::fs::write(&key, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = serve_expecting_failure(dir.path());
    assert!(out.contains("does not match"), "{out}");
    std::fs::remove_file(&key).unwrap();
    let out = serve_expecting_failure(dir.path());
    assert!(out.contains("master key is missing"), "a keyring without its key is refused: {out}");
}

#[test]
fn rotation_rewraps_tenant_keys_and_retires_the_old_master_key() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["Acme", "Beta"] {
        let o = valv(
            dir.path(),
            &[
                "tenant",
                "create",
                "--name",
                name,
                "--contact-name",
                "Ada Lind",
                "--contact-email",
                "ada@x.example",
                "--contact-phone",
                "+46701234567",
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    let key = dir.path().join("master.key");
    let old = std::fs::read_to_string(&key).unwrap();
    let rotated = valv(dir.path(), &["keys", "rotate"]);
    assert!(rotated.status.success() && text(&rotated).contains("rewrapped 2 tenant keys"), "{}", text(&rotated));
    assert_ne!(std::fs::read_to_string(&key).unwrap(), old, "a new master key");
    let verify = valv(dir.path(), &["keys", "verify"]);
    assert!(verify.status.success() && text(&verify).contains("all 2 tenant keys"), "{}", text(&verify));
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the new key file is private too");
    std::fs::write(&key, old).unwrap();
    let stale = valv(dir.path(), &["keys", "verify"]);
    assert!(!stale.status.success() && text(&stale).contains("does not match"), "{}", text(&stale));
}

/// Review H1: a rotation while `valv serve` runs would leave the server
/// wrapping new tenants' keys under the old master key. It is refused, and
/// changes nothing, until the server stops.
#[tokio::test]
async fn rotation_is_refused_while_a_server_runs() {
    let app = crate::app();
    let key = app.data_dir().join("master.key");
    let before = std::fs::read(&key).unwrap();
    let refused = app.cli(&["keys", "rotate"]);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("valv serve is running"), "the error says what to do: {}", text(&refused));
    assert_eq!(std::fs::read(&key).unwrap(), before, "the master key is unchanged");
    assert!(!app.data_dir().join("master.key.new").exists(), "and no new key was left behind");
    let operator = app.operator().await;
    app.tenant(&operator, "after").await;
    let dir = app.crash();
    let verify = valv(&dir.path().join("data"), &["keys", "verify"]);
    assert!(verify.status.success(), "every key the server wrapped opens: {}", text(&verify));
    let rotated = valv(&dir.path().join("data"), &["keys", "rotate"]);
    assert!(rotated.status.success(), "once the server stopped: {}", text(&rotated));
}

#[test]
fn the_master_key_can_come_from_the_environment_and_a_wrong_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let with = |key: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_valv"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env("VALV_MASTER_KEY", key)
            .output()
            .unwrap()
    };
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let created = with(
        key,
        &[
            "tenant",
            "create",
            "--name",
            "Acme",
            "--contact-name",
            "Ada Lind",
            "--contact-email",
            "ada@acme.example",
            "--contact-phone",
            "+46701234567",
        ],
    );
    assert!(created.status.success(), "{}", text(&created));
    assert!(!dir.path().join("master.key").exists(), "no key file when the key comes from the environment");
    assert!(with(key, &["keys", "verify"]).status.success());
    let wrong = with("HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=", &["keys", "verify"]);
    assert!(!wrong.status.success() && text(&wrong).contains("does not match"), "{}", text(&wrong));
    let garbage = with("not-base64!", &["keys", "verify"]);
    assert!(text(&garbage).contains("VALV_MASTER_KEY"), "the error names the setting: {}", text(&garbage));
}
