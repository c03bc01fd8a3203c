//! Delivery of messages (invitations, one-time codes) to people: a file outbox
//! for the embedded default, SMTP for e-mail when configured. With SMTP,
//! nothing is written to the outbox. The outbox keeps a message a week at
//! most: longer than any secret in it works (review L8), and its files are
//! readable by valv's user only.

use std::path::PathBuf;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use serde::Serialize;
use valv_domain::Email;

/// Where a message goes.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", content = "address", rename_all = "lowercase")]
pub enum Recipient {
    Email(Email),
}

/// One message to one person.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub to: Recipient,
    pub subject: String,
    pub body: String,
}

/// A way to deliver messages.
#[async_trait::async_trait]
pub trait Sender: Send + Sync {
    /// Delivers `message` or says why not.
    async fn send(&self, message: Message) -> Result<(), String>;

    /// Forgets every message kept for `to` (an erased person, GDPR Art. 17).
    /// A sender that keeps nothing has nothing to forget.
    async fn forget(&self, _to: &Email) {}
}

/// Writes each message as a JSON file into a folder an operator can read.
#[derive(Debug, Clone)]
pub struct FileOutbox {
    dir: PathBuf,
}

impl FileOutbox {
    #[must_use]
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }
}

/// How long the outbox keeps a message: an invitation, the longest-lived
/// secret sent, works for seven days.
const OUTBOX_KEEPS_SECS: u64 = 7 * 86_400;

#[async_trait::async_trait]
impl Sender for FileOutbox {
    async fn send(&self, message: Message) -> Result<(), String> {
        tokio::fs::create_dir_all(&self.dir).await.map_err(|e| e.to_string())?;
        let id = uuid::Uuid::now_v7();
        let name = format!("{id}.json");
        let body = serde_json::to_vec_pretty(&message).map_err(|e| e.to_string())?;
        // Write under a temporary name, then rename: readers never see half a message.
        let tmp = self.dir.join(format!(".{name}.tmp"));
        write_private(&tmp, &body).await.map_err(|e| e.to_string())?;
        tokio::fs::rename(&tmp, self.dir.join(name)).await.map_err(|e| e.to_string())?;
        self.forget_before(id).await;
        Ok(())
    }

    async fn forget(&self, to: &Email) {
        self.forget_to(to).await;
    }
}

impl FileOutbox {
    async fn forget_to(&self, to: &Email) {
        let Ok(mut dir) = tokio::fs::read_dir(&self.dir).await else { return };
        while let Ok(Some(e)) = dir.next_entry().await {
            let Ok(bytes) = tokio::fs::read(e.path()).await else { continue };
            let message: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let address = message["to"]["address"].as_str().and_then(|a| Email::parse(a).ok());
            if address.is_some_and(|a| a.normalized() == to.normalized()) {
                let _ = tokio::fs::remove_file(e.path()).await;
            }
        }
    }

    /// Deletes messages written a week or more before message `newest`.
    /// Names are time-ordered UUIDs (v7), so their age needs no clock here.
    async fn forget_before(&self, newest: uuid::Uuid) {
        let Some(now) = newest.get_timestamp().map(|t| t.to_unix().0) else { return };
        let Ok(mut dir) = tokio::fs::read_dir(&self.dir).await else { return };
        while let Ok(Some(e)) = dir.next_entry().await {
            let name = e.file_name().to_string_lossy().into_owned();
            let written = name.strip_suffix(".json").and_then(|id| uuid::Uuid::parse_str(id).ok());
            let secs = written.and_then(|id| id.get_timestamp()).map(|t| t.to_unix().0);
            if secs.is_some_and(|s| s + OUTBOX_KEEPS_SECS <= now) {
                let _ = tokio::fs::remove_file(e.path()).await;
            }
        }
    }
}

/// Writes a file only valv's user can read (it may hold a secret).
async fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let mut f = tokio::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).await?;
    f.write_all(bytes).await?;
    f.sync_all().await
}

/// Sends e-mail through an SMTP server.
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpSender {
    /// `url` as lettre reads it, e.g. `smtp://127.0.0.1:2525` or
    /// `smtps://user:pass@mail.example.com`.
    ///
    /// # Errors
    /// When the URL or the sender address is invalid.
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| e.to_string())?.build();
        let from = from.parse().map_err(|e: lettre::address::AddressError| e.to_string())?;
        Ok(Self { transport, from })
    }
}

#[async_trait::async_trait]
impl Sender for SmtpSender {
    async fn send(&self, message: Message) -> Result<(), String> {
        let Recipient::Email(to) = &message.to;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to.as_str().parse().map_err(|e: lettre::address::AddressError| e.to_string())?)
            .subject(&message.subject)
            .body(message.body.clone())
            .map_err(|e| e.to_string())?;
        self.transport.send(email).await.map(drop).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn at(secs: u64) -> uuid::Uuid {
        uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, secs, 0))
    }

    #[tokio::test]
    async fn the_outbox_keeps_a_message_a_week_and_only_for_valvs_user() {
        let dir = tempfile::tempdir().expect("dir");
        let outbox = FileOutbox::new(dir.path().to_path_buf());
        let to = Recipient::Email(Email::parse("ada@x.example").expect("email"));
        outbox.send(Message { to, subject: "code".into(), body: "123456".into() }).await.expect("sent");
        let sent: Vec<_> = std::fs::read_dir(dir.path()).expect("list").flatten().collect();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].metadata().expect("meta").permissions().mode() & 0o777, 0o600, "review L8");

        let day = 86_400;
        for (secs, body) in [(100 * day, "old"), (106 * day, "recent")] {
            std::fs::write(dir.path().join(format!("{}.json", at(secs))), body).expect("write");
        }
        outbox.forget_before(at(107 * day)).await;
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .map(|e| std::fs::read_to_string(e.path()).expect("read"))
            .collect();
        assert!(!left.iter().any(|b| b == "old"), "a week old: gone");
        assert!(left.iter().any(|b| b == "recent"), "six days old: kept");
    }
}
