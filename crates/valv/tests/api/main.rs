//! Integration tests: the real `valv serve` on port 0 with a fresh data dir,
//! spoken to over real HTTPS the way a client would. One test binary.
#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod auth;
mod backup;
mod bad_input;
mod bigfile;
mod browser;
mod cli;
mod export;
mod file_pages;
mod files;
mod fuzz;
mod health;
mod isolation;
mod journal;
mod keys;
mod pages;
mod postgres;
mod record_pages;
mod records;
mod requests;
mod restore;
mod sealed;
mod secrets;
mod services;
mod setup;
mod shredding;
mod smtp;
mod subjects;
mod tenant_restore;
mod tenants;
mod tokens;
mod users;

use serde_json::Value;
use valv_testkit::TestApp;

pub fn app() -> TestApp {
    valv_testkit::spawn_app(std::path::Path::new(env!("CARGO_BIN_EXE_valv")))
}

pub fn app_with(args: &[&str], env: &[(&str, &str)]) -> TestApp {
    valv_testkit::spawn_with(std::path::Path::new(env!("CARGO_BIN_EXE_valv")), args, env)
}

/// The database of an embedded installation, opened beside its server with
/// its keyring: for what a test must read that no route shows (rows are
/// sealed, so SQL alone reads nothing).
pub async fn stored(app: &TestApp) -> std::sync::Arc<dyn valv_store::Store> {
    use base64::Engine as _;
    let data = app.data_dir();
    let text = std::fs::read_to_string(data.join("master.key")).unwrap();
    let raw: [u8; 32] = base64::engine::general_purpose::STANDARD.decode(text.trim()).unwrap().try_into().unwrap();
    let keys = valv_store_sqlite::SqliteKeyStore::open(&data.join("keyring.db")).unwrap();
    let ring = valv_service::keyring::Keyring::open(std::sync::Arc::new(keys), valv_crypto::seal::Key::from_bytes(raw));
    let store = valv_store_sqlite::SqliteStore::open(&data.join("valv.db")).await.unwrap();
    valv_store::JournalStore::seal_with(&store, std::sync::Arc::new(ring.await.unwrap()));
    std::sync::Arc::new(store)
}

/// The error code of an error answer.
pub async fn code(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (status, v["error"]["code"].as_str().unwrap_or_default().to_owned())
}

/// `n` incompressible bytes, distinct per seed (xorshift), cheap to make.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
