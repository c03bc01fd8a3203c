//! A live installation for the backup and restore tests: a tenant `acme`
//! with a collection `notes`, shipping to the backup target it is given, and
//! the steps (record and file changes) that the tests apply to it.

use std::sync::Arc;

use serde_json::json;
use time::macros::datetime;
use valv_backup_format::Target;
use valv_crypto::seal::Key;
use valv_domain::{ManualClock, RecordId};
use valv_service::keyring::Keyring;
use valv_service::{Caller, Settings, UploadTarget, Valv};
use valv_store_sqlite::{SqliteKeyStore, SqliteStore};

use super::Inbox;

#[derive(Debug, Clone)]
pub enum Step {
    Create(u8),
    Update(usize, u8),
    Delete(usize),
    Upload(u8),
    NewVersion(usize, u8),
}

pub struct Live {
    pub valv: Valv,
    pub clock: Arc<ManualClock>,
    pub owner: Caller,
    pub records: Vec<RecordId>,
    pub files: Vec<valv_domain::FileId>,
}

pub async fn live(dir: &std::path::Path, master: Key, target: Target) -> Live {
    let store = SqliteStore::open(&dir.join("valv.db")).await.unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2026-03-01 12:00 UTC)));
    let inbox = Arc::new(Inbox::default());
    let keyring =
        Keyring::open(Arc::new(SqliteKeyStore::open(&dir.join("keyring.db")).unwrap()), master).await.unwrap();
    let blobs = valv_blob::ChunkStore::open(&dir.join("blobs").display().to_string()).unwrap();
    let valv = Valv::new(Arc::new(store), Arc::new(keyring), clock.clone(), inbox.clone(), Settings::default())
        .with_blobs(blobs)
        .with_targets(vec![target], None);
    super::create_acme(&valv, &inbox).await;
    let s = valv.accounts().sign_in("acme", "ada@acme.example", super::pw(super::PASSWORD), super::CLIENT).await;
    let s = s.unwrap();
    let owner = valv.accounts().resolve_session(&s.cookie).await.unwrap();
    let col = json!({ "name": "notes", "fields": [{ "name": "n", "type": "number" }] });
    valv.content().create_collection(&owner, serde_json::from_value(col).unwrap()).await.unwrap();
    Live { valv, clock, owner, records: Vec::new(), files: Vec::new() }
}

fn body(v: u8, len: usize) -> futures::stream::Iter<std::vec::IntoIter<Result<bytes::Bytes, std::io::Error>>> {
    futures::stream::iter(vec![Ok(bytes::Bytes::from(vec![v; len]))])
}

pub async fn apply(l: &mut Live, s: &Step) {
    let v = &l.valv;
    match *s {
        Step::Create(n) => {
            let r = v.content().create_record(&l.owner, "notes", json!({ "n": n })).await.unwrap();
            l.records.push(RecordId::parse(&r.id).unwrap());
        }
        Step::Update(i, n) if !l.records.is_empty() => {
            let id = l.records[i % l.records.len()];
            let patch = json!({ "n": n }).as_object().unwrap().clone();
            let _ = v.content().update_record(&l.owner, "notes", id, patch, None).await;
        }
        Step::Delete(i) if !l.records.is_empty() => {
            let id = l.records[i % l.records.len()];
            let _ = v.content().delete_record(&l.owner, "notes", id, None).await;
        }
        Step::Upload(b) => {
            let target = UploadTarget::New { folder: "/".into(), name: format!("f{}.bin", l.files.len()) };
            let f = v.content().upload(&l.owner, target, "application/octet-stream", body(b, 70_000)).await.unwrap();
            l.files.push(valv_domain::FileId::parse(&f.id).unwrap());
        }
        Step::NewVersion(i, b) if !l.files.is_empty() => {
            let target = UploadTarget::Version(l.files[i % l.files.len()]);
            v.content()
                .upload(&l.owner, target, "application/octet-stream", body(b, 1_000 + usize::from(b)))
                .await
                .unwrap();
        }
        _ => {}
    }
}
