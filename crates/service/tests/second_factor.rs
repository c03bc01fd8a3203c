//! The second factor as an attacker who knows the password meets it:
//! guesses are counted per user across sign-ins and never cleared by the
//! password (review M3); a code is spent once even when two sign-ins
//! present it at the same moment (L4); an authenticator cannot be
//! sidestepped by an e-mailed code (M4); a block made while a sign-in runs
//! holds (S2).
#![allow(clippy::unwrap_used)]

mod common;

use common::{CLIENT, PASSWORD, World, pw, sign_in, world};
use time::Duration;
use valv_service::{SecondFactor, ServiceError, SignInStatus};

/// Enrols an authenticator app for the owner; its secret.
async fn enrol(w: &World) -> String {
    enrol_with_codes(w).await.0
}

/// Enrols an authenticator app for the owner; its secret and the recovery codes.
async fn enrol_with_codes(w: &World) -> (String, Vec<String>) {
    let owner = w.valv.accounts().resolve_session(&sign_in(w, PASSWORD).await.unwrap().cookie).await.unwrap();
    let e = w.valv.accounts().begin_totp(&owner).await.unwrap();
    let codes = w.valv.accounts().confirm_totp(&owner, &code(w, &e.secret, -1)).await.unwrap();
    (e.secret, codes)
}

/// The code of `secret` `offset` steps from the world's clock.
fn code(w: &World, secret: &str, offset: i64) -> String {
    let now = u64::try_from(valv_domain::Clock::now(w.clock.as_ref()).unix_timestamp()).unwrap();
    valv_crypto::totp::code_at(secret, now.saturating_add_signed(offset * 30)).unwrap()
}

async fn totp(w: &World, cookie: &str, code: String) -> Result<valv_service::SignIn, ServiceError> {
    w.valv.accounts().second_factor(cookie, SecondFactor::Totp(code), CLIENT).await
}

#[tokio::test]
async fn wrong_codes_count_per_user_across_sign_ins_and_lock_and_the_user_is_told() {
    let w = world().await;
    let secret = enrol(&w).await;
    let mut locked = None;
    for round in 0..3 {
        let pending = sign_in(&w, PASSWORD).await.unwrap();
        assert_eq!(pending.status, SignInStatus::SecondFactorRequired, "a correct password, round {round}");
        for _ in 0..3 {
            if let Err(e @ ServiceError::Locked { .. }) = totp(&w, &pending.cookie, "000000".into()).await {
                locked = Some((round, e));
            }
        }
    }
    let (round, _) = locked.expect("the guesses were locked");
    assert!(round >= 1, "the lock counts across sign-ins, not per pending session");
    let mails = w.inbox.0.lock().unwrap().clone();
    let told = mails.iter().filter(|m| m.subject.contains("wrong sign-in codes")).count();
    assert_eq!(told, 1, "the user is told once: {mails:?}");

    let pending = sign_in(&w, PASSWORD).await.unwrap();
    let r = totp(&w, &pending.cookie, code(&w, &secret, 0)).await;
    assert!(matches!(r, Err(ServiceError::Locked { .. })), "even the right code waits: {r:?}");
    w.clock.advance(Duration::minutes(16));
    let pending = sign_in(&w, PASSWORD).await.unwrap();
    assert!(totp(&w, &pending.cookie, code(&w, &secret, 0)).await.is_ok(), "the lock expires");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_code_signs_in_once_even_when_presented_twice_at_once() {
    let w = world().await;
    let secret = enrol(&w).await;
    w.clock.advance(Duration::seconds(60));
    let (a, b) = (sign_in(&w, PASSWORD).await.unwrap(), sign_in(&w, PASSWORD).await.unwrap());
    let c = code(&w, &secret, 0);
    let (ra, rb) = tokio::join!(totp(&w, &a.cookie, c.clone()), totp(&w, &b.cookie, c));
    let ok = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "{ra:?} {rb:?}");
    let refused = if ra.is_err() { ra } else { rb };
    assert_eq!(refused.unwrap_err().code(), "code_replayed");
}

#[tokio::test]
async fn a_user_with_an_authenticator_is_offered_no_emailed_code() {
    let w = world().await;
    enrol(&w).await;
    let pending = sign_in(&w, PASSWORD).await.unwrap();
    assert_eq!(pending.methods, ["totp", "recovery_code"]);
    let r = w.valv.accounts().send_code(&pending.cookie, "email").await;
    assert_eq!(r.unwrap_err().code(), "channel_unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_made_while_a_sign_in_checks_the_password_holds() {
    let w = world().await;
    let owner = w.valv.accounts().resolve_session(&sign_in(&w, PASSWORD).await.unwrap().cookie).await.unwrap();
    let bo = common::new_member(&w, &owner).await;
    let invitation = w.inbox.last_body().lines().last().unwrap().trim().to_owned();
    w.valv.accounts().activate(&invitation, pw(PASSWORD)).await.unwrap();
    let id = valv_domain::UserId::parse(&bo.id).unwrap();
    let accounts = w.valv.accounts();
    let signing_in = accounts.sign_in("acme", "bo@acme.example", pw(PASSWORD), CLIENT);
    let blocking = async {
        // The block lands while the sign-in hashes the password (tens of milliseconds).
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        w.valv.accounts().set_user_blocked(&owner, id, true).await.unwrap()
    };
    let (signed_in, blocked) = tokio::join!(signing_in, blocking);
    assert_eq!(blocked.status, valv_domain::UserStatus::Blocked);
    assert_eq!(signed_in.map(|_| ()).unwrap_err().code(), "account_blocked", "the block is seen");
    let now = w.valv.accounts().user(&owner, id).await.unwrap();
    assert_eq!(now.status, valv_domain::UserStatus::Blocked, "and kept");
}

/// Review L5: recovery codes carry about 79 bits and are stored as keyed
/// digests, bound to their user: the database alone cannot test guesses.
#[tokio::test]
async fn recovery_codes_are_long_and_stored_keyed() {
    let w = world().await;
    let (_, codes) = enrol_with_codes(&w).await;
    assert!(codes.iter().all(|c| c.len() == 19 && c.split('-').all(|p| p.len() == 4)), "{codes:?}");
    let store = &w.valv.context().store;
    let tenant = store.tenant_by_slug(&valv_domain::Slug::parse("acme").unwrap()).await.unwrap().unwrap();
    let email = valv_domain::Email::parse("ada@acme.example").unwrap();
    let stored = store.user_by_email(tenant.id, &email).await.unwrap().unwrap().recovery_codes;
    for c in &codes {
        let plain = valv_crypto::token::digest(&c.replace('-', ""));
        assert!(!stored.contains(&plain) && !stored.contains(&valv_crypto::token::digest(c)), "not a bare hash");
    }
    let pending = sign_in(&w, PASSWORD).await.unwrap();
    let typed = codes[0].to_uppercase().replace('-', " ");
    let used =
        w.valv.accounts().second_factor(&pending.cookie, SecondFactor::RecoveryCode(typed.clone()), CLIENT).await;
    assert!(used.is_ok(), "typed in capitals with spaces");
    let again = sign_in(&w, PASSWORD).await.unwrap();
    let r = w.valv.accounts().second_factor(&again.cookie, SecondFactor::RecoveryCode(typed), CLIENT).await;
    assert_eq!(r.unwrap_err().code(), "code_invalid", "once only");
}
