//! E-mail through a real SMTP server (aiosmtpd, installed by `scripts/test`):
//! invitations arrive in its Maildir and work, and nothing goes to the outbox.

use std::time::Duration;

use serde_json::json;
use valv_testkit::PASSWORD;

use crate::fuzz::tools;

pub struct Smtpd(std::process::Child);

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub async fn start_smtpd(maildir: &std::path::Path) -> (Smtpd, u16) {
    let port = free_port();
    let smtpd = Smtpd(
        std::process::Command::new(tools().join("aiosmtpd"))
            .args(["-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .spawn()
            .unwrap(),
    );
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return (smtpd, port);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("aiosmtpd did not start on port {port}");
}

pub fn mails(maildir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(maildir.join("new"))
        .map(|d| d.flatten().map(|e| std::fs::read_to_string(e.path()).unwrap()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn invitations_are_sent_through_smtp_and_work() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    let (_smtpd, port) = start_smtpd(&maildir).await;
    let url = format!("smtp://127.0.0.1:{port}");
    let app = crate::app_with(&[], &[("VALV_SMTP_URL", &url), ("VALV_SMTP_FROM", "valv <noreply@provider.example>")]);
    let (api, op) = (app.api(), app.operator().await);
    let body = json!({ "name": "Acme", "slug": "acme", "contact_name": "Ada Owner",
        "contact_email": "ada@acme.example", "contact_phone": "+46701234567" });
    let _ = api.create_tenant(&op, body).await.created();
    let mail = mails(&maildir).into_iter().find(|m| m.contains("ada@acme.example")).expect("the invitation was mailed");
    assert!(mail.contains("From: valv <noreply@provider.example>"), "{mail}");
    let unfolded = mail.replace("=\r\n", "").replace("=\n", "");
    let code =
        unfolded.lines().rev().map(str::trim).find(|l| l.split('.').count() == 3 && l.len() > 80).expect("code line");
    let _ = api.activate(code, PASSWORD).await.ok(); // the mailed invitation works
    assert!(app.outbox().is_empty(), "e-mail did not go to the outbox");
}
