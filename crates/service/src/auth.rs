//! Sign-in: the password, then (when the user has an authenticator app or
//! the tenant requires it) a second factor (`second_factor.rs`). Every step
//! creates a new session id (rotation against fixation, OWASP Session
//! Management Cheat Sheet). Failures are throttled and journaled.

use std::net::IpAddr;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use valv_crypto::password::Verdict;
use valv_crypto::token;
use valv_domain::{Email, Slug, UserStatus};
use valv_store::{Action, Actor, Chain, Change, Principal, Row, SessionRow, TenantRow, UserRow};

use crate::second_factor::second_factors;
use crate::throttle::{Keys, account_key};
use crate::{Accounts, ServiceError, ServiceResult};

/// Where a sign-in stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignInStatus {
    SignedIn,
    SecondFactorRequired,
}

/// A new session: the cookie value and what is still owed.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// `<id>.<secret>`, for the session cookie only.
    pub cookie: String,
    pub status: SignInStatus,
    /// Second factors this user can use: `totp`, `recovery_code`, `email`.
    pub methods: Vec<&'static str>,
}

impl Accounts<'_> {
    /// Signs a tenant user in with their organisation's slug, e-mail and password.
    ///
    /// # Errors
    /// `Locked`, `BadCredentials`, `AccountBlocked`, `TenantBlocked`, `TenantTerminated`.
    pub async fn sign_in(
        &self,
        tenant: &str,
        email: &str,
        password: SecretString,
        client: IpAddr,
    ) -> ServiceResult<SignIn> {
        let t = match Slug::parse(tenant.trim()) {
            Ok(slug) => self.ctx.store.tenant_by_slug(&slug).await?,
            Err(_) => None,
        };
        // Keyed on what the input resolved to: every spelling of one account shares its count.
        let scope = t.as_ref().map_or_else(|| format!("?{}", tenant.trim().to_lowercase()), |t| t.id.to_string());
        let keys = Keys::new(&account_key(&scope, email), client);
        let _one_at_a_time = self.attempts.begin(&keys).await;
        self.check_throttle(&keys).await?;
        let u = match (&t, Email::parse(email)) {
            (Some(t), Ok(e)) => self.ctx.store.user_by_email(t.id, &e).await?,
            _ => None,
        };
        let phc = u.as_ref().and_then(|u| u.password_hash.clone());
        // Kept only for upgrading an outdated hash below; dropped (and zeroed) at return.
        let retained = SecretString::from(password.expose_secret().to_owned());
        // Unknown accounts cost one hash too, so timing does not reveal which exist.
        let verdict = match phc {
            Some(phc) => self.ctx.verify_password(password, phc).await?,
            None => self.burn_hash(password).await?,
        };
        let (Some(t), Some(u), Verdict::Match { rehash }) = (t.clone(), u, verdict) else {
            self.fail_sign_in(&keys, t.as_ref(), email, client, "bad_credentials").await?;
            return Err(ServiceError::BadCredentials);
        };
        // The row as it is now: a block or role change committed while the
        // password was being checked counts, and a rehash never reverts it (review S2).
        let read = self.ctx.store.user(t.id, u.id).await?.ok_or(ServiceError::BadCredentials)?;
        let mut u = read.clone();
        if let Err(e) = self.admit(&t, &u) {
            self.fail_sign_in(&keys, Some(&t), email, client, e.code()).await?;
            return Err(e);
        }
        self.clear_throttle(&keys).await?;
        if rehash {
            // The stored hash used older settings: upgrade it now that we hold the password.
            u.password_hash = Some(self.ctx.hash_password(retained).await?);
        }
        let methods = second_factors(&t, &u);
        let principal = Principal::User { tenant: t.id, user: u.id };
        let (cookie, session) = self.new_session(principal, methods.is_empty());
        let action = if methods.is_empty() { Action::AuthSignedIn } else { Action::AuthPasswordVerified };
        let mut change = Change::new(Chain::Tenant(t.id), self.ctx.now(), Actor::User(u.id), action)
            .about("user", u.id)
            .detail(serde_json::json!({ "method": "password", "rehashed": rehash, "client": client.to_string() }));
        if rehash {
            // Only over the row as it was read: a change committed since is never reverted (review S2).
            change = change.row(Row::User(u)).expecting(Row::User(read));
        }
        self.ctx.store.commit(change).await?;
        self.ctx.store.put_session(session).await?;
        let status = if methods.is_empty() { SignInStatus::SignedIn } else { SignInStatus::SecondFactorRequired };
        Ok(SignIn { cookie, status, methods })
    }

    /// The pending (password verified, second factor owed) session of `cookie`.
    pub(crate) async fn pending(&self, cookie: &str) -> ServiceResult<(SessionRow, TenantRow, UserRow)> {
        let s = self.live_session(cookie).await?;
        let Principal::User { tenant, user } = s.principal else { return Err(session_invalid()) };
        if s.complete {
            return Err(session_invalid());
        }
        let t = self.tenant_row(tenant).await.map_err(|_| session_invalid())?;
        let u = self.ctx.store.user(tenant, user).await?.ok_or_else(session_invalid)?;
        self.admit(&t, &u)?;
        Ok((s, t, u))
    }

    /// The unexpired session of `cookie`, its secret checked in constant time.
    pub(crate) async fn live_session(&self, cookie: &str) -> ServiceResult<SessionRow> {
        let (id, secret) = token::split(cookie).ok_or_else(session_invalid)?;
        let s = self.ctx.store.session(id).await?.ok_or_else(session_invalid)?;
        if !token::digest_eq(&s.secret_digest, &token::digest(secret)) || s.expires_at <= self.ctx.now() {
            return Err(session_invalid());
        }
        Ok(s)
    }

    pub(crate) fn new_session(&self, principal: Principal, complete: bool) -> (String, SessionRow) {
        let (id, secret) = (token::random(16), token::random(32));
        let ttl = if complete { self.ctx.settings.session_ttl } else { self.ctx.settings.code_ttl };
        let row = SessionRow {
            id: id.clone(),
            secret_digest: token::digest(&secret),
            principal,
            complete,
            created_at: self.ctx.now(),
            expires_at: self.ctx.now() + ttl,
            code_digest: None,
            code_expires_at: None,
            code_failures: 0,
        };
        (format!("{id}.{secret}"), row)
    }

    pub(crate) async fn fail_sign_in(
        &self,
        keys: &Keys,
        tenant: Option<&TenantRow>,
        email: &str,
        client: IpAddr,
        reason: &str,
    ) -> ServiceResult<()> {
        self.record_failure(keys).await?;
        let chain = tenant.map_or(Chain::Provider, |t| Chain::Tenant(t.id));
        let email: String = email.chars().take(254).collect();
        let change = Change::new(chain, self.ctx.now(), Actor::Anonymous, Action::AuthSignInFailed)
            .about("sign_in", "")
            .detail(serde_json::json!({ "reason": reason, "email": email, "client": client.to_string() }));
        self.ctx.store.commit(change).await?;
        Ok(())
    }

    /// Spends the time of one verification on an unknown account.
    pub(crate) async fn burn_hash(&self, password: SecretString) -> ServiceResult<Verdict> {
        let dummy = self
            .dummy_hash
            .get_or_try_init(|| self.ctx.hash_password(SecretString::from("valv-dummy-password".to_owned())))
            .await?
            .clone();
        self.ctx.verify_password(password, dummy).await.map(|_| Verdict::Mismatch)
    }
}

impl Accounts<'_> {
    /// Blocked accounts and tenants are refused (after the password was
    /// verified, so the answer reveals nothing to someone without it). After the
    /// agreement ended, owners and admins are admitted to export only, until the
    /// export window closes. Returns whether the admission is export-only.
    pub(crate) fn admit(&self, t: &TenantRow, u: &UserRow) -> ServiceResult<bool> {
        if t.status == UserStatus::Blocked {
            return Err(ServiceError::TenantBlocked);
        }
        if u.status == UserStatus::Blocked {
            return Err(ServiceError::AccountBlocked);
        }
        match t.terminated_at {
            None => Ok(false),
            Some(end) if u.role.manages_accounts() && self.ctx.now() < end + self.ctx.settings.export_window => {
                Ok(true)
            }
            Some(_) => Err(ServiceError::TenantTerminated),
        }
    }
}

pub(crate) fn session_invalid() -> ServiceError {
    ServiceError::Unauthenticated {
        code: "session_invalid",
        message: "sign in first; the session is unknown or expired",
    }
}
