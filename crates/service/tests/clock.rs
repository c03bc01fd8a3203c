//! Time-dependent rules, tested by moving an injected clock instead of
//! sleeping: locks, sessions, sent codes and tokens all expire.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use time::Duration;
use valv_service::{Caller, NewToken, ServiceError, SignInStatus};

mod common;

use common::{CLIENT, PASSWORD, pw, sign_in, world};

/// Sign-ins to one account that arrive at the same moment are taken one at
/// a time: each is counted before the next checks the lock, so a burst gets
/// no more guesses than attempts one after another would (OWASP
/// Authentication Cheat Sheet, "Account lockout").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_attempts_is_taken_one_at_a_time_and_locked_after_the_free_failures() {
    let w = world().await;
    let attempts = futures::future::join_all((0..10).map(|_| sign_in(&w, "wrong-wrong-wrong"))).await;
    let refused = attempts.iter().filter(|a| matches!(a, Err(ServiceError::BadCredentials))).count();
    let locked = attempts.iter().filter(|a| matches!(a, Err(ServiceError::Locked { .. }))).count();
    // Five free failures and the sixth, which sets the lock; the other four
    // are refused before their password is even checked.
    assert_eq!((refused, locked), (6, 4), "{attempts:?}");
    assert!(
        matches!(sign_in(&w, PASSWORD).await, Err(ServiceError::Locked { retry_after_secs: 2 })),
        "even the right password waits for the lock"
    );
}

#[tokio::test]
async fn account_locks_double_and_expire_with_time() {
    let w = world().await;
    for _ in 0..6 {
        assert!(matches!(sign_in(&w, "wrong-wrong-wrong").await, Err(ServiceError::BadCredentials)));
    }
    // Six failures: one past the five free ones, so a 2 s lock.
    assert!(matches!(sign_in(&w, PASSWORD).await, Err(ServiceError::Locked { retry_after_secs: 2 })));
    w.clock.advance(Duration::seconds(3));
    assert!(matches!(sign_in(&w, "wrong-wrong-wrong").await, Err(ServiceError::BadCredentials)));
    assert!(matches!(sign_in(&w, PASSWORD).await, Err(ServiceError::Locked { retry_after_secs: 4 })), "doubled");
    w.clock.advance(Duration::seconds(5));
    assert!(sign_in(&w, PASSWORD).await.is_ok(), "the lock expired and a success clears the count");
    assert!(matches!(sign_in(&w, "wrong-wrong-wrong").await, Err(ServiceError::BadCredentials)));
    assert!(sign_in(&w, PASSWORD).await.is_ok(), "one failure after a success does not lock");
}

/// Review M2: every spelling of one account shares its lock. The tenant's
/// slug with spaces around it (ASCII or not) or in capitals, and the e-mail
/// address in capitals, are the same account.
#[tokio::test]
async fn the_account_lock_holds_for_every_spelling_of_the_account() {
    let w = world().await;
    for _ in 0..6 {
        let _ = sign_in(&w, "wrong-wrong-wrong").await;
    }
    for (tenant, email) in
        [(" acme", "ada@acme.example"), ("acme\t", "ada@acme.example"), ("\u{a0}acme", "ADA@acme.example")]
    {
        let r = w.valv.accounts().sign_in(tenant, email, pw(PASSWORD), CLIENT).await;
        assert!(matches!(r, Err(ServiceError::Locked { .. })), "{tenant:?} {email:?}: {r:?}");
    }
}

/// Review M6 and S4: failures from one network (an IPv6 /64 counts as one)
/// never lock everyone behind it. Past `address_free` failures in the
/// window, each further failure locks only its (network, account) pair, and
/// the count is forgotten once the window has passed.
#[tokio::test]
async fn a_client_spraying_accounts_cannot_lock_out_its_neighbours() {
    let w = world().await;
    let from = |i: u16| IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, i));
    let attempt = |email: String, password: &'static str, i: u16| {
        let accounts = w.valv.accounts();
        async move { accounts.sign_in("acme", &email, pw(password), from(i)).await }
    };
    for i in 0..21 {
        let r = attempt(format!("guess{i}@acme.example"), "wrong-wrong-wrong", 7).await;
        assert!(matches!(r, Err(ServiceError::BadCredentials)), "attempt {i}: {r:?}");
    }
    assert!(attempt("ada@acme.example".into(), PASSWORD, 7).await.is_ok(), "a neighbour behind that address signs in");
    let r = attempt("victim@acme.example".into(), "wrong-wrong-wrong", 500).await;
    assert!(matches!(r, Err(ServiceError::BadCredentials)), "{r:?}");
    let r = attempt("victim@acme.example".into(), "wrong-wrong-wrong", 501).await;
    assert!(matches!(r, Err(ServiceError::Locked { .. })), "past the budget one guess per account: {r:?}");
    let elsewhere = w.valv.accounts().sign_in("acme", "victim@acme.example", pw("x-x-x-x-x"), CLIENT).await;
    assert!(matches!(elsewhere, Err(ServiceError::BadCredentials)), "only from that network: {elsewhere:?}");

    w.clock.advance(Duration::minutes(16));
    for i in 0..20 {
        let r = attempt(format!("later{i}@acme.example"), "wrong-wrong-wrong", i).await;
        assert!(matches!(r, Err(ServiceError::BadCredentials)), "the window passed, the count is new: {r:?}");
    }
}

#[test]
fn retry_after_is_rounded_up_and_said_in_words() {
    assert_eq!(valv_service::retry_after_secs(Duration::milliseconds(1200)), 2);
    assert_eq!(valv_service::retry_after_secs(Duration::seconds(2)), 2);
    assert_eq!(valv_service::retry_after_secs(Duration::milliseconds(10)), 1);
    let locked = ServiceError::Locked { retry_after_secs: 1 }.to_string();
    assert!(locked.ends_with("try again in 1 second"), "{locked}");
}

#[tokio::test]
async fn sessions_expire_after_their_lifetime() {
    let w = world().await;
    let s = sign_in(&w, PASSWORD).await.unwrap();
    assert_eq!(s.status, SignInStatus::SignedIn);
    assert!(w.valv.accounts().resolve_session(&s.cookie).await.is_ok());
    w.clock.advance(Duration::hours(12) + Duration::seconds(1));
    let e = w.valv.accounts().resolve_session(&s.cookie).await.unwrap_err();
    assert_eq!(e.code(), "session_invalid");
}

#[tokio::test]
async fn sent_codes_expire_after_ten_minutes() {
    let w = world().await;
    let owner = w.valv.accounts().resolve_session(&sign_in(&w, PASSWORD).await.unwrap().cookie).await.unwrap();
    w.valv.accounts().set_require_second_factor(&owner, true).await.unwrap();
    let pending = sign_in(&w, PASSWORD).await.unwrap();
    assert_eq!(pending.status, SignInStatus::SecondFactorRequired);
    w.valv.accounts().send_code(&pending.cookie, "email").await.unwrap();
    let code: String = w.inbox.last_body().chars().filter(char::is_ascii_digit).take(6).collect();
    w.clock.advance(Duration::minutes(9));
    let fresh = sign_in(&w, PASSWORD).await.unwrap();
    w.valv.accounts().send_code(&fresh.cookie, "email").await.unwrap();
    let code2: String = w.inbox.last_body().chars().filter(char::is_ascii_digit).take(6).collect();
    w.clock.advance(Duration::minutes(2));
    let late =
        w.valv.accounts().second_factor(&pending.cookie, valv_service::SecondFactor::SentCode(code), CLIENT).await;
    assert_eq!(late.unwrap_err().code(), "session_invalid", "the pending sign-in itself expired");
    let ok = w.valv.accounts().second_factor(&fresh.cookie, valv_service::SecondFactor::SentCode(code2), CLIENT).await;
    assert_eq!(ok.unwrap().status, SignInStatus::SignedIn);
}

#[tokio::test]
async fn api_tokens_expire() {
    let w = world().await;
    let owner = w.valv.accounts().resolve_session(&sign_in(&w, PASSWORD).await.unwrap().cookie).await.unwrap();
    let t = w
        .valv
        .accounts()
        .create_token(&owner, NewToken { name: "short".into(), role: None, expires_in_days: Some(1) })
        .await
        .unwrap();
    assert!(w.valv.accounts().resolve_token(&t.secret).await.is_ok());
    w.clock.advance(Duration::days(1) + Duration::seconds(1));
    assert_eq!(w.valv.accounts().resolve_token(&t.secret).await.unwrap_err().code(), "token_invalid");
}

#[tokio::test]
async fn after_termination_admins_may_only_export_until_the_window_closes_then_everything_goes() {
    let w = world().await;
    let owner = w.valv.accounts().resolve_session(&sign_in(&w, PASSWORD).await.unwrap().cookie).await.unwrap();
    let (tenant, _, _) = owner.member().unwrap();
    w.valv.accounts().terminate_tenant(&Caller::Cli, tenant).await.unwrap();

    w.clock.advance(Duration::days(29));
    let late = w.valv.accounts().resolve_session(&sign_in(&w, PASSWORD).await.unwrap().cookie).await.unwrap();
    assert_eq!(w.valv.accounts().me(&late).await.unwrap_err().code(), "tenant_terminated", "only exports are left");
    let progress = std::sync::Arc::new(valv_service::export::Progress::default());
    let archive = w.valv.portability().export(&late, tenant, Vec::new(), &progress).await.unwrap();
    assert!(!archive.is_empty(), "but exporting works in the window");
    assert!(
        w.valv.accounts().purge_expired(&Caller::Cli).await.unwrap().is_empty(),
        "nothing is purged inside the window"
    );

    w.clock.advance(Duration::days(2));
    assert_eq!(sign_in(&w, PASSWORD).await.err().map(|e| e.code()), Some("tenant_terminated"), "the window closed");
    let receipts = w.valv.accounts().purge_expired(&Caller::System).await.unwrap();
    assert_eq!(receipts.len(), 1);
    assert!(receipts[0].key_destroyed);
    assert_eq!(receipts[0].deleted.get("users"), Some(&1));
    assert!(w.valv.keyring().key(tenant).await.is_err(), "the data key is gone: every copy is unreadable");
    assert!(w.valv.accounts().purge_expired(&Caller::System).await.unwrap().is_empty(), "a purge happens once");
    let chains = w.valv.verify_journal(&Caller::Cli, None).await.unwrap();
    assert!(chains.iter().all(|c| c.outcome.is_ok()), "the journal still verifies: {chains:?}");
    let _ = &w.inbox;
}

#[tokio::test]
async fn requests_come_due_then_overdue_and_extensions_close_after_the_first_month() {
    let w = world().await;
    let owner = w.valv.accounts().resolve_session(&sign_in(&w, PASSWORD).await.unwrap().cookie).await.unwrap();
    let new =
        || valv_service::privacy::NewRequest { kind: "access".into(), email: "eve@x.example".into(), message: None };
    let id = w.valv.privacy().file_request("acme", new(), CLIENT).await.unwrap();
    let ids = |v: Vec<valv_service::privacy::RequestView>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(w.valv.privacy().requests(&owner, Some("open")).await.unwrap()), vec![id.clone()]);
    w.clock.advance(Duration::days(25));
    assert_eq!(
        ids(w.valv.privacy().requests(&owner, Some("due_soon")).await.unwrap()),
        vec![id.clone()],
        "one week before the month ends"
    );
    let second = w.valv.privacy().file_request("acme", new(), CLIENT).await.unwrap();
    // Received 1 March 12:00 UTC: due 1 April 12:00 UTC, overdue after it.
    w.clock.advance(Duration::days(6));
    assert!(
        w.valv.privacy().requests(&owner, Some("overdue")).await.unwrap().is_empty(),
        "due at this very instant, not yet overdue"
    );
    w.clock.advance(Duration::seconds(1));
    assert_eq!(
        ids(w.valv.privacy().requests(&owner, Some("overdue")).await.unwrap()),
        vec![id.clone()],
        "a month after receipt it is overdue"
    );
    let late = w.valv.privacy().extend_request(&owner, &id, 1, "busy").await.unwrap_err();
    assert_eq!(late.code(), "extension_refused", "Art. 12(3): extend only within the first month");
    let ok = w.valv.privacy().extend_request(&owner, &second, 2, "many systems").await.unwrap();
    assert_eq!((ok.extended_by_months, ok.deadline.as_str()), (2, "open"));
}

#[tokio::test]
async fn filing_is_rate_limited_per_address_and_per_mailbox() {
    let w = world().await;
    let to =
        |email: &str| valv_service::privacy::NewRequest { kind: "access".into(), email: email.into(), message: None };
    for _ in 0..3 {
        w.valv.privacy().file_request("acme", to("eve@x.example"), CLIENT).await.unwrap();
    }
    let err = w.valv.privacy().file_request("acme", to("eve@x.example"), CLIENT).await.unwrap_err();
    assert_eq!(err.code(), "rate_limited", "a fourth message to one mailbox in a day is refused");
    let other: std::net::IpAddr = [192, 0, 2, 9].into();
    let err = w.valv.privacy().file_request("acme", to("eve@x.example"), other).await.unwrap_err();
    assert_eq!(err.code(), "rate_limited", "whatever address it comes from");
    for i in 0..6 {
        w.valv.privacy().file_request("acme", to(&format!("p{i}@x.example")), CLIENT).await.unwrap();
    }
    let err = w.valv.privacy().file_request("acme", to("q@x.example"), CLIENT).await.unwrap_err();
    assert_eq!(err.code(), "rate_limited", "ten filings an hour from one address");
    w.clock.advance(Duration::days(1));
    assert!(
        w.valv.privacy().file_request("acme", to("eve@x.example"), CLIENT).await.is_ok(),
        "a new day, a new window"
    );
}

/// Review L8: an invitation works for seven days; a new one can be sent.
#[tokio::test]
async fn invitations_expire_after_a_week() {
    let w = world().await;
    let owner = w.valv.accounts().resolve_session(&sign_in(&w, PASSWORD).await.unwrap().cookie).await.unwrap();
    let bo = common::new_member(&w, &owner).await;
    let invitation = w.inbox.last_body().lines().last().unwrap().trim().to_owned();
    assert!(w.inbox.last_body().contains("2026-03-08"), "the message says until when: {}", w.inbox.last_body());
    w.clock.advance(Duration::days(7) + Duration::seconds(1));
    let late = w.valv.accounts().activate(&invitation, common::pw(PASSWORD)).await;
    assert_eq!(late.unwrap_err().code(), "invitation_expired");
    w.valv.accounts().reinvite(&owner, valv_domain::UserId::parse(&bo.id).unwrap()).await.unwrap();
    let fresh = w.inbox.last_body().lines().last().unwrap().trim().to_owned();
    assert!(w.valv.accounts().activate(&fresh, common::pw(PASSWORD)).await.is_ok(), "a new one works");
}

/// Review L9: a request whose address was never confirmed is forgotten a
/// week after it came in: its address and message are blanked, everywhere.
#[tokio::test]
async fn unconfirmed_requests_are_forgotten_after_a_week() {
    let w = world().await;
    let owner = w.valv.accounts().resolve_session(&sign_in(&w, PASSWORD).await.unwrap().cookie).await.unwrap();
    let privacy = w.valv.privacy();
    let file = |email: &str| {
        let new = serde_json::json!({ "kind": "access", "email": email, "message": "call me at 555-0199" });
        privacy.file_request("acme", serde_json::from_value(new).unwrap(), CLIENT)
    };
    file("ghost@x.example").await.unwrap();
    file("real@x.example").await.unwrap();
    let code = w.inbox.last_body().lines().rev().find(|l| l.split('.').count() == 3).unwrap().trim().to_owned();
    w.valv.privacy().verify_request(&code).await.unwrap();
    w.clock.advance(Duration::days(6));
    assert_eq!(w.valv.privacy().expire_unverified_requests(&Caller::System).await.unwrap(), 0, "kept a week");
    w.clock.advance(Duration::days(1));
    assert_eq!(w.valv.privacy().expire_unverified_requests(&Caller::System).await.unwrap(), 1);
    let listed = serde_json::to_string(&w.valv.privacy().requests(&owner, None).await.unwrap()).unwrap();
    assert!(!listed.contains("ghost@x.example") && listed.contains("real@x.example"), "{listed}");
    let journal = serde_json::to_string(&w.valv.context().store.journal_after(0, 1000).await.unwrap()).unwrap();
    assert!(!journal.contains("ghost@x.example"), "nor in any journal payload");
    assert_eq!(w.valv.privacy().expire_unverified_requests(&Caller::System).await.unwrap(), 0, "once");
}
