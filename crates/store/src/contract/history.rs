//! Random histories for the restore properties every backend must pass: a
//! world of two tenants whose users, records, events, erasures and purges
//! are written alike to any number of stores, and the property itself —
//! a dump taken at one point plus the entries shipped up to a later point,
//! replayed into an empty store, give exactly the state the live store had
//! there (same digest) with every chain verifying. The backends' restore
//! tests run it on their own stores and across backends.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;
use time::macros::datetime;
use valv_domain::{PersonName, RecordId};

use super::{tenant, user};
use crate::journal::verify;
use crate::{
    Actor, Chain, Change, CollectionRow, DumpItem, JournalEntry, Position, RecordRow, ReplayEntry, Row, Store,
    TenantRow, UserRow,
};

/// One step of a random history.
#[derive(Debug, Clone)]
pub enum Step {
    /// A new user in tenant `t % 2`.
    AddUser(usize),
    /// Rename user `u % n`.
    Rename(usize),
    /// Purge tenant `t % 2` (rows go, payloads blanked).
    Purge(usize),
    /// A record in tenant `t % 2` with field values of kind `k`.
    AddRecord(usize, u8),
    /// An event without rows on tenant `t % 2`'s chain.
    Event(usize),
    /// Erase user `u % n` (payloads blanked, a ledger row).
    Erase(usize),
}

/// A random step.
pub fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => any::<usize>().prop_map(Step::AddUser),
        4 => any::<usize>().prop_map(Step::Rename),
        1 => any::<usize>().prop_map(Step::Purge),
        3 => (any::<usize>(), any::<u8>()).prop_map(|(t, k)| Step::AddRecord(t, k)),
        1 => any::<usize>().prop_map(Step::Event),
        1 => any::<usize>().prop_map(Step::Erase),
    ]
}

/// Field values that must come back byte for byte: floats, big and negative
/// numbers, escapes, a NUL, non-ASCII text, nesting.
fn data(i: usize, kind: u8) -> serde_json::Value {
    match kind % 4 {
        0 => {
            json!({ "name": format!("Åsa {i} 🎉"), "amount": 1.5 + i as f64, "big": 1e20, "max": u64::MAX, "neg": -0.0 })
        }
        1 => json!({ "z": { "b": [1, "two", null, true], "a": {} }, "a": "first key last" }),
        2 => json!({ "text": "line\nbreak \u{0} nul \"quoted\" \\ tab\t", "n": i }),
        _ => json!({}),
    }
}

/// The live installation's rows, as the steps change them.
pub struct World {
    tenants: Vec<TenantRow>,
    collections: Vec<CollectionRow>,
    users: Vec<UserRow>,
}

impl Default for World {
    fn default() -> Self {
        let tenants = vec![tenant("restore-a"), tenant("restore-b")];
        let collections = tenants.iter().map(|t| super::collection(t.id, "notes")).collect();
        Self { tenants, collections, users: Vec::new() }
    }
}

impl World {
    /// Writes the tenants and their collections into each of `stores`.
    pub async fn create(&self, stores: &[&dyn Store]) {
        for s in stores {
            for (t, c) in self.tenants.iter().zip(&self.collections) {
                let change = Change::new(Chain::Provider, t.created_at, Actor::Cli, crate::Action::TenantCreated)
                    .about("tenant", t.id);
                s.commit(change.row(Row::Tenant(t.clone()))).await.expect("tenant");
                let change =
                    Change::new(Chain::Tenant(t.id), t.created_at, Actor::Cli, crate::Action::CollectionCreated);
                s.commit(change.about("collection", c.id).row(Row::Collection(c.clone()))).await.expect("collection");
            }
        }
    }

    fn live(&self, t: valv_domain::TenantId) -> bool {
        self.tenants.iter().any(|x| x.id == t && x.purged_at.is_none())
    }

    /// Applies one step to each of `stores` (the same change, same ids, on each).
    pub async fn apply(&mut self, stores: &[&dyn Store], step: &Step, i: usize) {
        let Some(op) = self.op(step, i) else { return };
        for s in stores {
            match op.clone() {
                Op::Commit(c) => drop(s.commit(c).await.expect("commit")),
                Op::Purge(t, c) => drop(s.purge_tenant(t, c).await.expect("purge")),
                Op::Erase(t, id, entities, c) => {
                    let ledger = json!({ "fields": ["name"] });
                    s.erase(t, &id, entities, Vec::new(), ledger, c).await.expect("erase");
                }
            }
        }
    }

    /// What one step writes, if anything.
    fn op(&mut self, step: &Step, i: usize) -> Option<Op> {
        let at = datetime!(2026-01-01 0:00 UTC) + time::Duration::seconds(i as i64) + time::Duration::microseconds(7);
        let n = self.users.len();
        Some(match *step {
            Step::AddUser(t) if self.tenants[t % 2].purged_at.is_none() => {
                let u = user(self.tenants[t % 2].id, &format!("u{i}@example.se"));
                let c = Change::new(Chain::Tenant(u.tenant_id), at, Actor::Cli, crate::Action::UserCreated)
                    .about("user", u.id);
                self.users.push(u.clone());
                Op::Commit(c.row(Row::User(u)))
            }
            Step::Rename(u) | Step::Erase(u) if n > 0 && self.live(self.users[u % n].tenant_id) => {
                let u = &mut self.users[u % n];
                u.name = PersonName::parse(&format!("Name {i}")).expect("name");
                let chain = Chain::Tenant(u.tenant_id);
                if matches!(step, Step::Erase(_)) {
                    let c = Change::new(chain, at, Actor::System, crate::Action::SubjectErased).about("erasure", i);
                    let entities = vec![("user".to_owned(), u.id.to_string())];
                    Op::Erase(u.tenant_id, format!("erasure-{i}"), entities, c.row(Row::User(u.clone())))
                } else {
                    let c = Change::new(chain, at, Actor::Cli, crate::Action::UserUpdated).about("user", u.id);
                    Op::Commit(c.row(Row::User(u.clone())))
                }
            }
            Step::Purge(t) if self.tenants[t % 2].purged_at.is_none() => {
                let t = &mut self.tenants[t % 2];
                t.purged_at = Some(at);
                let c =
                    Change::new(Chain::Provider, at, Actor::System, crate::Action::TenantPurged).about("tenant", t.id);
                Op::Purge(t.id, c.row(Row::Tenant(t.clone())))
            }
            Step::AddRecord(t, kind) if self.tenants[t % 2].purged_at.is_none() => {
                let c = &self.collections[t % 2];
                let r = RecordRow {
                    id: RecordId::new(),
                    tenant_id: c.tenant_id,
                    collection_id: c.id,
                    revision: 1,
                    data: data(i, kind),
                    deleted_at: (kind % 5 == 4).then_some(at),
                    created_at: at,
                    created_by: "cli".into(),
                    updated_at: at,
                    updated_by: "cli".into(),
                };
                let change = Change::new(Chain::Tenant(c.tenant_id), at, Actor::Cli, crate::Action::RecordCreated);
                Op::Commit(change.about("record", r.id).row(Row::Record(r)))
            }
            Step::Event(t) => {
                let c = Change::new(
                    Chain::Tenant(self.tenants[t % 2].id),
                    at,
                    Actor::Anonymous,
                    crate::Action::AuthSignInFailed,
                );
                Op::Commit(c.detail(json!({ "reason": "wrong password", "attempt": i })))
            }
            _ => return None,
        })
    }
}

/// A write of one step, applied alike to every store given the history.
#[derive(Clone)]
enum Op {
    Commit(Change),
    Purge(valv_domain::TenantId, Change),
    Erase(valv_domain::TenantId, String, Vec<(String, String)>, Change),
}

/// Every item of a dump of `s`, and its position.
pub async fn dump(s: &dyn Store) -> (Vec<DumpItem>, Position) {
    let items = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&items);
    let pos = s
        .dump(Box::new(move |item| {
            sink.lock().expect("lock").push(item);
            Ok(())
        }))
        .await
        .expect("dump");
    let items = std::mem::take(&mut *items.lock().expect("lock"));
    (items, pos)
}

/// Every chain of `s` verifies against its recorded head.
pub async fn verify_chains(s: &dyn Store) {
    for (key, head) in s.chain_heads().await.expect("heads") {
        let entries = s.chain_page(&key, 0, u32::MAX).await.expect("entries");
        assert!(verify(&key, &entries, Some(&head)).is_ok(), "restored chain {key} verifies");
    }
}

/// Lives `steps` on `live`, restores the dump taken before step
/// `snapshot_at` plus the entries shipped up to step `restore_at` into
/// `restored` (empty), fed to its writer in batches of `batch_size` as a
/// restore parses them, and asserts the restored state is the live state
/// there. Returns that state's position.
///
/// # Panics
/// When the backends break the property.
pub async fn restored_state_equals_live_state(
    live: &dyn Store,
    restored: &dyn Store,
    steps: Vec<Step>,
    (snapshot_at, restore_at): (usize, usize),
    batch_size: usize,
) -> Position {
    // A replay cannot re-apply an erasure to entries shipped before it (the
    // service re-applies the ledger after a restore): these histories do not erase.
    let steps: Vec<Step> = steps.into_iter().map(|s| if let Step::Erase(u) = s { Step::Event(u) } else { s }).collect();
    let mut world = World::default();
    world.create(&[live]).await;
    let mut shipped = live.journal_after(0, u32::MAX).await.expect("ship");
    let snapshot_at = snapshot_at % (steps.len() + 1);
    let restore_at = snapshot_at + restore_at % (steps.len() + 1 - snapshot_at);
    let (mut snapshot, mut target) = (None, None);
    for (i, step) in steps.iter().enumerate() {
        if i == snapshot_at {
            snapshot = Some(dump(live).await);
        }
        if i == restore_at {
            target = Some(live.state_digest().await.expect("digest"));
        }
        world.apply(&[live], step, i).await;
        // The shipper: every new entry leaves with its payload as it is now (a later purge blanks the live copy).
        let after = shipped.last().map_or(0, |e: &JournalEntry| e.seq);
        shipped.extend(live.journal_after(after, u32::MAX).await.expect("ship"));
    }
    let (items, base) = match snapshot {
        Some(snapshot) => snapshot,
        None => dump(live).await,
    };
    let target = match target {
        Some(t) => t,
        None => live.state_digest().await.expect("digest"),
    };
    restored.load(items).await.expect("load");
    assert_eq!(restored.state_digest().await.expect("digest"), base, "a loaded dump is the dumped state");
    let entries: Vec<ReplayEntry> = shipped
        .into_iter()
        .filter(|e| e.seq > base.seq && e.seq <= target.seq)
        .map(|e| ReplayEntry::decode(e).expect("decode"))
        .collect();
    let (batches, queue) = tokio::sync::mpsc::channel(2);
    let feeding = async move {
        for batch in entries.chunks(batch_size.max(1)) {
            batches.send(batch.to_vec()).await.expect("send");
        }
    };
    let ((), replayed) = tokio::join!(feeding, restored.replay_all(queue));
    replayed.expect("replay");
    assert_eq!(restored.state_digest().await.expect("digest"), target, "restored state = live state");
    verify_chains(restored).await;
    target
}

/// Lives `steps` on `a` and `b` at once: their dumps and digests agree, and
/// each one's dump loads into the other backend's empty store (`into_a`,
/// `into_b`) with the same digest.
///
/// # Panics
/// When the backends disagree.
pub async fn one_history_gives_one_digest(
    (a, b): (&dyn Store, &dyn Store),
    (into_a, into_b): (&dyn Store, &dyn Store),
    steps: &[Step],
) {
    let mut world = World::default();
    world.create(&[a, b]).await;
    for (i, step) in steps.iter().enumerate() {
        world.apply(&[a, b], step, i).await;
    }
    let ((a_items, a_pos), (b_items, b_pos)) = (dump(a).await, dump(b).await);
    assert_eq!(a_items, b_items, "the same dump from both");
    assert_eq!(a_pos, b_pos, "the same position and digest from both");
    into_b.load(a_items).await.expect("load into b");
    assert_eq!(into_b.state_digest().await.expect("digest"), a_pos, "a's dump in b");
    assert_eq!(into_b.erasure_ledger().await.expect("ledger"), a.erasure_ledger().await.expect("ledger"));
    into_a.load(b_items).await.expect("load into a");
    assert_eq!(into_a.state_digest().await.expect("digest"), b_pos, "b's dump in a");
    verify_chains(into_b).await;
}
