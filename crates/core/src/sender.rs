//! Delivery of messages (invitations, one-time codes) to people: a file outbox
//! for the embedded default, SMTP for e-mail when configured. Text messages to
//! mobile numbers go to the outbox until an SMS gateway is configured.

use std::path::PathBuf;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use serde::Serialize;
use valv_domain::{Email, Phone};

/// Where a message goes.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", content = "address", rename_all = "lowercase")]
pub enum Recipient {
    Email(Email),
    Sms(Phone),
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

#[async_trait::async_trait]
impl Sender for FileOutbox {
    async fn send(&self, message: Message) -> Result<(), String> {
        tokio::fs::create_dir_all(&self.dir).await.map_err(|e| e.to_string())?;
        let name = format!("{}.json", uuid::Uuid::now_v7());
        let body = serde_json::to_vec_pretty(&message).map_err(|e| e.to_string())?;
        // Write under a temporary name, then rename: readers never see half a message.
        let tmp = self.dir.join(format!(".{name}.tmp"));
        tokio::fs::write(&tmp, body).await.map_err(|e| e.to_string())?;
        tokio::fs::rename(&tmp, self.dir.join(name)).await.map_err(|e| e.to_string())
    }
}

/// Sends e-mail through an SMTP server; text messages go to `sms`.
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    sms: FileOutbox,
}

impl SmtpSender {
    /// `url` as lettre reads it, e.g. `smtp://127.0.0.1:2525` or
    /// `smtps://user:pass@mail.example.com`.
    ///
    /// # Errors
    /// When the URL or the sender address is invalid.
    pub fn new(url: &str, from: &str, sms: FileOutbox) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| e.to_string())?.build();
        let from = from.parse().map_err(|e: lettre::address::AddressError| e.to_string())?;
        Ok(Self { transport, from, sms })
    }
}

#[async_trait::async_trait]
impl Sender for SmtpSender {
    async fn send(&self, message: Message) -> Result<(), String> {
        let Recipient::Email(to) = &message.to else {
            return self.sms.send(message).await;
        };
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to.as_str().parse().map_err(|e: lettre::address::AddressError| e.to_string())?)
            .subject(&message.subject)
            .body(message.body.clone())
            .map_err(|e| e.to_string())?;
        self.transport.send(email).await.map(drop).map_err(|e| e.to_string())
    }
}
