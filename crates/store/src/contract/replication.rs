//! The contract of ReplicationStore: the journal in commit order for
//! shipping, the bookkeeping of targets and runs, the lead, and (with a
//! fresh store, `replayed_entries_rebuild_the_state`) a replay that
//! rebuilds the same state.

use super::*;
use crate::{BackupRun, ReplayEntry, TargetState};

/// Runs this aggregate's contract tests.
pub(super) async fn run(s: &dyn Store) {
    the_journal_is_read_after_a_position_in_commit_order(s).await;
    targets_and_runs_are_kept_and_a_lone_process_leads(s).await;
}

async fn the_journal_is_read_after_a_position_in_commit_order(s: &dyn Store) {
    let before = s.journal_seq().await.expect("seq");
    let t = committed_tenant(s, "contract-shipping").await;
    let u = user(t.id, "ship@example.se");
    s.commit(put(Chain::Tenant(t.id), Action::UserCreated, Row::User(u))).await.expect("user");
    assert_eq!(s.journal_seq().await.expect("seq"), before + 2, "each commit moves the position by one");
    let after = s.journal_after(before, 100).await.expect("after");
    let seqs: Vec<u64> = after.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![before + 1, before + 2], "the entries after the position, in order");
    assert!(after.iter().all(|e| e.payload.is_some()), "with their payloads");
    assert_eq!(s.journal_after(before, 1).await.expect("after").len(), 1, "at most the limit");
    assert!(s.journal_after(before + 2, 100).await.expect("after").is_empty(), "nothing after the newest");
}

async fn targets_and_runs_are_kept_and_a_lone_process_leads(s: &dyn Store) {
    let target = |seq| TargetState { name: "offsite".into(), shipped_seq: seq, last_success: None, last_error: None };
    s.put_backup_target(target(3)).await.expect("put");
    s.put_backup_target(target(7)).await.expect("put again");
    assert_eq!(s.backup_targets().await.expect("targets"), vec![target(7)], "one state per target, the last");
    let run = |id: &str, minute: u8| BackupRun {
        id: id.into(),
        kind: "full".into(),
        started_at: format!("2026-01-01T12:{minute:02}:00Z"),
        duration_ms: 5,
        outcome: "ok".into(),
        detail: serde_json::json!({ "targets": ["offsite"] }),
    };
    for (id, minute) in [("run-1", 1), ("run-3", 3), ("run-2", 2)] {
        s.add_backup_run(run(id, minute)).await.expect("run");
    }
    assert_eq!(s.backup_runs(2).await.expect("runs"), vec![run("run-3", 3), run("run-2", 2)], "newest first, limited");
    assert!(s.lead().await.expect("lead"), "the only process leads");
    s.flush().await.expect("a flush of a store whose commits are durable already");
}

/// Entries shipped from `s` and replayed into `fresh` (empty), part one
/// batch at a time and the rest through the writer's queue, rebuild the
/// same state; a replay of entries the store holds already changes nothing.
///
/// # Panics
/// When the backend breaks the contract.
pub async fn replayed_entries_rebuild_the_state(s: &dyn Store, fresh: &dyn Store) {
    s.seal_with(super::vault());
    fresh.seal_with(super::vault());
    let t = committed_tenant(s, "contract-replay").await;
    let c = collection(t.id, "notes");
    s.commit(put(Chain::Tenant(t.id), Action::CollectionCreated, Row::Collection(c.clone()))).await.expect("c");
    for n in 0..6 {
        let mut u = user(t.id, &format!("r{n}@example.se"));
        u.name = PersonName::parse(&format!("Replayed {n}")).expect("name");
        s.commit(put(Chain::Tenant(t.id), Action::UserCreated, Row::User(u))).await.expect("user");
    }
    let decoded: Vec<ReplayEntry> = s
        .journal_after(0, u32::MAX)
        .await
        .expect("entries")
        .into_iter()
        .map(|e| ReplayEntry::decode(e).expect("decode"))
        .collect();
    let (first, rest) = decoded.split_at(3);
    fresh.replay(first.to_vec()).await.expect("replay");
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let queue = async {
        for batch in rest.chunks(2) {
            tx.send(batch.to_vec()).await.expect("send");
        }
        drop(tx);
    };
    let (replayed, ()) = tokio::join!(fresh.replay_all(rx), queue);
    replayed.expect("replay all");
    let want = s.state_digest().await.expect("digest");
    assert_eq!(fresh.state_digest().await.expect("digest"), want, "the same state");
    fresh.replay(decoded).await.expect("replay again");
    assert_eq!(fresh.state_digest().await.expect("digest"), want, "entries held already are skipped");
    assert_eq!(fresh.users(t.id).await.expect("users").len(), 6);
}
