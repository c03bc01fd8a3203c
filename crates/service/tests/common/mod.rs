//! The world the service tests share: a tenant `acme` whose owner has
//! activated, on a real SQLite store, with a clock the test moves and an
//! inbox that keeps every message.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use secrecy::SecretString;
use time::macros::datetime;
use valv_domain::ManualClock;
use valv_service::keyring::Keyring;
use valv_service::{Caller, Message, NewTenant, Sender, ServiceError, Settings, Valv};
use valv_store_sqlite::SqliteStore;

pub mod live;

pub const PASSWORD: &str = "violet-tundra-92-oboe-quill";
pub const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[derive(Default)]
pub struct Inbox(pub Mutex<Vec<Message>>);

#[async_trait::async_trait]
impl Sender for Inbox {
    async fn send(&self, m: Message) -> Result<(), String> {
        self.0.lock().unwrap().push(m);
        Ok(())
    }
}

impl Inbox {
    pub fn last_body(&self) -> String {
        self.0.lock().unwrap().last().unwrap().body.clone()
    }
}

pub struct World {
    pub valv: Valv,
    pub clock: Arc<ManualClock>,
    pub inbox: Arc<Inbox>,
    master: valv_crypto::seal::Key,
    settings: Settings,
    dir: tempfile::TempDir,
}

pub fn pw(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

/// A tenant `acme` whose owner `ada@acme.example` has set `PASSWORD`.
pub async fn world() -> World {
    world_with(Settings::default()).await
}

/// [`world`] with `settings`, and a chunk store for files.
pub async fn world_with(settings: Settings) -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2026-03-01 12:00 UTC)));
    let inbox = Arc::new(Inbox::default());
    let master = valv_crypto::seal::Key::generate();
    let valv = open(&dir, &master, &clock, &inbox, settings.clone()).await;
    create_acme(&valv, &inbox).await;
    World { valv, clock, inbox, master, settings, dir }
}

/// Creates the tenant `acme`, whose owner `ada@acme.example` sets `PASSWORD`
/// from the invitation `inbox` received.
pub async fn create_acme(valv: &Valv, inbox: &Inbox) {
    let new = NewTenant {
        name: "Acme".into(),
        slug: Some("acme".into()),
        contact_name: "Ada Owner".into(),
        contact_email: "ada@acme.example".into(),
        contact_phone: "+46701234567".into(),
    };
    valv.accounts().create_tenant(&Caller::Cli, new).await.unwrap();
    let invitation = inbox.last_body().lines().last().unwrap().trim().to_owned();
    valv.accounts().activate(&invitation, pw(PASSWORD)).await.unwrap();
}

/// A service over the files of `dir`: a process of its own, with its own
/// connections and its own count of uploads under way.
async fn open(
    dir: &tempfile::TempDir,
    master: &valv_crypto::seal::Key,
    clock: &Arc<ManualClock>,
    inbox: &Arc<Inbox>,
    settings: Settings,
) -> Valv {
    let store = SqliteStore::open(&dir.path().join("valv.db")).await.unwrap();
    let keys = valv_store_sqlite::SqliteKeyStore::open(&dir.path().join("keyring.db")).unwrap();
    let keyring = Keyring::open(Arc::new(keys), master.clone()).await.unwrap();
    let blobs = valv_blob::ChunkStore::open(&dir.path().join("blobs").display().to_string()).unwrap();
    Valv::new(Arc::new(store), Arc::new(keyring), clock.clone(), inbox.clone(), settings).with_blobs(blobs)
}

impl World {
    /// A second process on this world's database, keyring and chunks.
    pub async fn second_process(&self) -> Valv {
        open(&self.dir, &self.master, &self.clock, &self.inbox, self.settings.clone()).await
    }
}

pub async fn sign_in(w: &World, password: &str) -> Result<valv_service::SignIn, ServiceError> {
    w.valv.accounts().sign_in("acme", "ada@acme.example", pw(password), CLIENT).await
}

/// Creates the member `bo@acme.example` as `owner`; their view. The invitation is the inbox's last message.
pub async fn new_member(w: &World, owner: &Caller) -> valv_service::UserView {
    let new = serde_json::from_value(serde_json::json!({
        "name": "Bo Member", "email": "bo@acme.example", "phone": "+46701234599", "role": "member"
    }))
    .unwrap();
    w.valv.accounts().create_user(owner, new).await.unwrap()
}
