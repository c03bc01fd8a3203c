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
