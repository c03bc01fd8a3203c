//! The PostgreSQL backend passes the store contract suite, keeps its data
//! across restarts, and keeps one gapless, verifiable journal when several
//! instances write to one database at once.

use valv_store::journal::verify;
use valv_store::prelude::*;
use valv_store::{Actor, Chain, Change, Row};
use valv_store_postgres::PgStore;

#[tokio::test]
async fn postgres_store_passes_the_contract_suite() {
    let store = valv_store::contract::sealed(PgStore::connect(&valv_testkit::postgres()).await.expect("connect"));
    valv_store::contract::run_all(&store).await;
}

#[tokio::test]
async fn every_table_is_dumped_restored_and_purged_of_a_tenant() {
    let store = valv_store::contract::sealed(PgStore::connect(&valv_testkit::postgres()).await.expect("connect"));
    let fresh = valv_store::contract::sealed(PgStore::connect(&valv_testkit::postgres()).await.expect("connect"));
    valv_store::contract::every_table_is_dumped_restored_and_purged(&store, &fresh).await;
}

#[tokio::test]
async fn replayed_entries_rebuild_the_state() {
    let store = valv_store::contract::sealed(PgStore::connect(&valv_testkit::postgres()).await.expect("connect"));
    let fresh = valv_store::contract::sealed(PgStore::connect(&valv_testkit::postgres()).await.expect("connect"));
    valv_store::contract::replayed_entries_rebuild_the_state(&store, &fresh).await;
}

#[tokio::test]
async fn reopening_keeps_data_and_skips_applied_migrations() {
    let url = valv_testkit::postgres();
    let t = valv_store::contract::tenant("reopen");
    {
        let s = valv_store::contract::sealed(PgStore::connect(&url).await.expect("connect"));
        let c = Change::new(Chain::Provider, t.created_at, Actor::Cli, valv_store::Action::TenantCreated)
            .row(Row::Tenant(t.clone()));
        s.commit(c).await.expect("commit");
    }
    let s = valv_store::contract::sealed(PgStore::connect(&url).await.expect("reconnect"));
    assert_eq!(s.tenant(t.id).await.expect("read"), Some(t));
    let db = sqlx::PgPool::connect(&url).await.expect("pool");
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM schema_migrations ORDER BY name").fetch_all(&db).await.expect("names");
    // Eleven migrations, and the sealing of an empty database recorded as done.
    assert_eq!(names.len(), 12, "each migration recorded once: {names:?}");
    assert!(names.iter().any(|n| n == "0011_sealed_rows"), "{names:?}");
    assert_eq!(names.first().map(String::as_str), Some("0001_init"));
}

#[tokio::test]
async fn instances_starting_together_migrate_once() {
    let url = valv_testkit::postgres();
    let (a, b) = tokio::join!(PgStore::connect(&url), PgStore::connect(&url));
    a.expect("first instance");
    b.expect("second instance");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_writing_at_once_keep_one_gapless_verifiable_journal() {
    const EACH: usize = 200;
    let url = valv_testkit::postgres();
    let (a, b) = (
        valv_store::contract::sealed(PgStore::connect(&url).await.expect("a")),
        valv_store::contract::sealed(PgStore::connect(&url).await.expect("b")),
    );
    let t = valv_store::contract::tenant("concurrent");
    let c = Change::new(Chain::Provider, t.created_at, Actor::Cli, valv_store::Action::TenantCreated)
        .row(Row::Tenant(t.clone()));
    a.commit(c).await.expect("tenant");
    let writer = |s: PgStore, chain: Chain| {
        tokio::spawn(async move {
            for i in 0..EACH {
                // Both write the tenant's chain and one of their own.
                let c = Change::new(chain, t.created_at, Actor::System, valv_store::Action::AuthSignedIn).about("n", i);
                s.commit(c).await.expect("commit");
            }
        })
    };
    let (ra, rb, rc) = tokio::join!(
        writer(a.clone(), Chain::Tenant(t.id)),
        writer(b.clone(), Chain::Tenant(t.id)),
        writer(b.clone(), Chain::Provider)
    );
    ra.expect("a");
    rb.expect("b");
    rc.expect("c");
    let all = a.journal_after(0, u32::MAX).await.expect("journal");
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    let want: Vec<u64> = (1..=(1 + 3 * EACH as u64)).collect();
    assert_eq!(seqs, want, "seqs are gapless and in commit order");
    for (key, head) in a.chain_heads().await.expect("heads") {
        let entries = b.chain_page(&key, 0, u32::MAX).await.expect("entries");
        assert!(verify(&key, &entries, Some(&head)).is_ok(), "chain {key} verifies");
    }
    assert_eq!(b.journal_seq().await.expect("seq"), 1 + 3 * EACH as u64);
}

#[tokio::test]
async fn store_and_keyring_debug_never_show_the_url() {
    let url = valv_testkit::postgres();
    let s = valv_store::contract::sealed(PgStore::connect(&url).await.expect("connect"));
    let k = valv_store_postgres::PgKeyStore::connect(&url).await.expect("keyring");
    for shown in [format!("{s:?}"), format!("{k:?}")] {
        assert!(!shown.contains("127.0.0.1") && !shown.contains("postgres://"), "{shown}");
    }
}

#[tokio::test]
async fn connection_errors_never_show_the_url_or_password() {
    let url = valv_testkit::postgres();
    let (_, rest) = url.split_once("app@").expect("testkit URL");
    let wrong = format!("postgres://nobody:hunter2-secret@{rest}");
    let err = PgStore::connect(&wrong).await.expect_err("unknown role").to_string();
    assert!(!err.contains("hunter2-secret") && !err.contains(&wrong), "{err}");
    assert!(err.contains("nobody"), "the server's reason is kept: {err}");
    let err = valv_store_postgres::PgKeyStore::connect("postgres://app:hunter2-secret@127.0.0.1:notaport/valv")
        .await
        .expect_err("bad port")
        .to_string();
    assert!(!err.contains("hunter2-secret"), "{err}");
}

#[tokio::test]
async fn one_instance_leads_and_another_takes_over_when_it_ends() {
    let url = valv_testkit::postgres();
    let (a, b) = (
        valv_store::contract::sealed(PgStore::connect(&url).await.expect("a")),
        valv_store::contract::sealed(PgStore::connect(&url).await.expect("b")),
    );
    assert!(a.lead().await.expect("a asks"), "the first to ask leads");
    assert!(!b.lead().await.expect("b asks"), "a second instance follows");
    assert!(a.lead().await.expect("a asks again"), "the leader keeps the lead");
    assert!(a.clone().lead().await.expect("a clone asks"), "a clone is the same process");
    drop(a);
    let mut took_over = false;
    for _ in 0..50 {
        if b.lead().await.expect("b asks") {
            took_over = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(took_over, "the follower leads once the leader's connection is gone");
}
