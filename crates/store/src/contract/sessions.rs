//! The contract of SessionStore: sessions, throttles and the setup token.

use super::*;

/// Runs this aggregate's contract tests.
pub(super) async fn run(s: &dyn Store) {
    sessions_are_kept_and_ended(s).await;
    throttles_count_each_failure_keep_the_longest_lock_and_window_calls(s).await;
    setup_token_is_taken_once(s).await;
}

async fn sessions_are_kept_and_ended(s: &dyn Store) {
    let p = Principal::User { tenant: TenantId::new(), user: UserId::new() };
    let mk = |id: &str| session(id, p);
    s.put_session(mk("s1")).await.expect("put");
    s.put_session(mk("s2")).await.expect("put");
    assert_eq!(s.session("s1").await.expect("get"), Some(mk("s1")));
    s.delete_sessions(p, Some("s2")).await.expect("delete");
    assert_eq!(s.session("s1").await.expect("get"), None);
    assert!(s.session("s2").await.expect("get").is_some(), "kept session stays");
    s.delete_session("s2").await.expect("delete one");
    assert_eq!(s.session("s2").await.expect("get"), None, "a signed-out session is gone");
}

async fn throttles_count_each_failure_keep_the_longest_lock_and_window_calls(s: &dyn Store) {
    let key = "account:acme:ada@acme.example";
    // At the same moment, as a burst of failed sign-ins on several connections.
    let counts = futures::future::join_all((0..12).map(|_| s.add_failure(key))).await;
    let mut counts: Vec<u32> = counts.into_iter().map(|c| c.expect("count")).collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=12).collect::<Vec<u32>>(), "each failure counted once, none lost");
    s.lock_throttle(key, T0 + time::Duration::minutes(5)).await.expect("lock");
    s.lock_throttle(key, T0 + time::Duration::minutes(1)).await.expect("shorter lock");
    let t = s.throttle(key).await.expect("read").expect("a throttle");
    assert_eq!((t.failures, t.locked_until), (12, Some(T0 + time::Duration::minutes(5))), "the longer lock stays");
    s.clear_throttle(key).await.expect("clear");
    assert_eq!(s.throttle(key).await.expect("read"), None);
    for k in ["account:t1:ada@acme.example", "pair:192.0.2.1|t1:ada@acme.example", "requests:email:ada@acme.example"] {
        s.add_failure(k).await.expect("count");
    }
    for k in ["account:t1:bada@acme.example", "account:t1:ada@acme_example", "account:t1:ada@acme.example.org"] {
        s.add_failure(k).await.expect("count");
    }
    assert_eq!(s.forget_throttles_of("ada@acme.example").await.expect("forget"), 3, "only that address's");
    assert_eq!(s.throttle("account:t1:ada@acme.example").await.expect("read"), None);
    assert!(s.throttle("account:t1:ada@acme_example").await.expect("read").is_some(), "`_` is no wildcard");
    assert!(s.throttle("account:t1:bada@acme.example").await.expect("read").is_some(), "another address");

    let (rate, window) = ("requests:address:192.0.2.1", time::Duration::hours(1));
    let call = |at| s.count_call(rate, at, window);
    let first = call(T0).await.expect("call");
    assert_eq!((first.failures, first.locked_until), (1, Some(T0 + window)));
    assert_eq!(call(T0 + time::Duration::minutes(59)).await.expect("call").failures, 2, "same window");
    let next = call(T0 + time::Duration::minutes(61)).await.expect("call");
    let end = T0 + time::Duration::minutes(61) + window;
    assert_eq!((next.failures, next.locked_until), (1, Some(end)), "a new window once the last has ended");
}

async fn setup_token_is_taken_once(s: &dyn Store) {
    s.put_setup_token("abc").await.expect("put");
    s.put_setup_token("def").await.expect("a second process's token");
    assert!(!s.take_setup_token("wrong").await.expect("take"));
    assert!(s.take_setup_token("abc").await.expect("the first process's token still works"));
    assert!(!s.take_setup_token("abc").await.expect("take twice"));
    assert!(!s.take_setup_token("def").await.expect("take the other"), "one setup: the other token went too");
}
