//! The second step of a sign-in: a code from the authenticator app (TOTP,
//! RFC 6238), a recovery code, or a code sent by e-mail to a user without
//! an app. Wrong codes are counted per user across sign-ins and lock; a
//! code is spent once, by an atomic insert in the store; the person is told
//! when someone who knows their password is guessing (review M3, M4, L4).

use std::net::IpAddr;

use valv_crypto::{token, totp};
use valv_domain::Email;
use valv_store::{Action, Actor, Chain, Change, Principal, Row, SessionRow, TenantRow, TotpState, UserRow};

use crate::auth::session_invalid;
use crate::throttle::second_factor_key;
use crate::{Accounts, Message, Recipient, ServiceError, ServiceResult, SignIn, SignInStatus};

/// A second factor as presented.
#[derive(Debug, Clone)]
pub enum SecondFactor {
    Totp(String),
    RecoveryCode(String),
    /// A one-time code sent by e-mail.
    SentCode(String),
}

pub(crate) const WRONG_CODE: ServiceError =
    ServiceError::Unauthenticated { code: "code_invalid", message: "the code is wrong or expired" };
pub(crate) const CODE_REPLAYED: ServiceError = ServiceError::Unauthenticated {
    code: "code_replayed",
    message: "this code was already used; wait for the next one",
};

/// A second factor that checked out, still to be spent.
enum Checked {
    Totp(u64),
    /// The stored digest of the recovery code given.
    RecoveryCode(String),
    SentCode,
}

impl Checked {
    fn method(&self) -> &'static str {
        match self {
            Self::Totp(_) => "totp",
            Self::RecoveryCode(_) => "recovery_code",
            Self::SentCode => "sent_code",
        }
    }
}

/// Wrong codes a pending sign-in takes before it ends (the password is needed again).
const MAX_CODE_FAILURES: u32 = 5;

impl Accounts<'_> {
    /// Sends a one-time code for the pending sign-in by `channel` (`email`;
    /// `sms` is answered `channel_unavailable`: valv has no SMS gateway).
    ///
    /// # Errors
    /// `session_invalid`; `channel_invalid`; `channel_unavailable`; delivery failure.
    pub async fn send_code(&self, cookie: &str, channel: &str) -> ServiceResult<()> {
        let (mut session, tenant, user) = self.pending(cookie).await?;
        let to = match channel {
            "email" | "sms" if !second_factors(&tenant, &user).contains(&channel) => {
                return Err(ServiceError::Unprocessable {
                    code: "channel_unavailable",
                    message: "this sign-in does not offer that channel; use a method the sign-in answer lists",
                });
            }
            "email" => Recipient::Email(user.email.clone()),
            _ => return Err(ServiceError::field("channel", "channel_invalid", "channel must be email or sms")),
        };
        let code = token::numeric_code(6);
        session.code_digest = Some(token::digest(&code));
        session.code_expires_at = Some(self.ctx.now() + self.ctx.settings.code_ttl);
        self.ctx.store.put_session(session).await?;
        let minutes = self.ctx.settings.code_ttl.whole_minutes();
        let body =
            format!("Your {} sign-in code is {code}. It expires in {minutes} minutes.", self.ctx.settings.issuer);
        let msg = Message { to, subject: format!("{} sign-in code", self.ctx.settings.issuer), body };
        self.ctx.sender.send(msg).await.map_err(|e| ServiceError::internal_msg(format!("code delivery failed: {e}")))
    }

    /// Completes a pending sign-in with a second factor.
    ///
    /// # Errors
    /// `session_invalid`; `code_invalid`; `code_replayed`; `Locked` after
    /// repeated failures of this user, whatever the session (review M3).
    pub async fn second_factor(&self, cookie: &str, factor: SecondFactor, client: IpAddr) -> ServiceResult<SignIn> {
        let s = self.live_session(cookie).await?;
        if let (Principal::Operator(id), false) = (s.principal, s.complete) {
            return self.operator_second_factor(s, id, factor, client).await;
        }
        let (mut session, tenant, user) = self.pending(cookie).await?;
        let guesses = second_factor_key(user.id);
        self.check_lock(&guesses).await?;
        // What the factor is checked against: the opened TOTP secret, or the recovery code's digest.
        let secret = match (&factor, user.totp.as_ref().filter(|t| t.confirmed)) {
            (SecondFactor::Totp(_), Some(t)) => Some(self.open_totp(tenant.id, user.id, &t.secret).await?),
            (SecondFactor::RecoveryCode(code), _) => Some(self.recovery_digest(tenant.id, user.id, code).await?),
            _ => None,
        };
        let checked = match self.check_factor(&mut session, &user, &factor, secret.as_deref()) {
            Ok(c) => self.use_once(&user, c).await,
            Err(e) => Err(e),
        };
        let checked = match checked {
            Ok(c) => c,
            Err(e) => return Err(self.fail_second_factor(session, &tenant, &user, client, e).await?),
        };
        self.ctx.store.clear_throttle(&guesses).await?;
        let mut change =
            Change::new(Chain::Tenant(tenant.id), self.ctx.now(), Actor::User(user.id), Action::AuthSignedIn)
                .about("user", user.id)
                .detail(serde_json::json!({ "method": checked.method(), "client": client.to_string() }));
        if let Checked::RecoveryCode(used) = &checked {
            let (read, spent) = self.without_recovery_code(&tenant, &user, used).await?;
            change = change.row(Row::User(spent)).expecting(Row::User(read));
        }
        self.ctx.store.commit(change).await?;
        self.ctx.store.delete_session(&session.id).await?;
        let (cookie, fresh) = self.new_session(session.principal, true);
        self.ctx.store.put_session(fresh).await?;
        Ok(SignIn { cookie, status: SignInStatus::SignedIn, methods: Vec::new() })
    }

    /// Checks `f`; `secret` is the user's opened TOTP secret for a TOTP code,
    /// the presented code's digest for a recovery code.
    fn check_factor(
        &self,
        s: &mut SessionRow,
        u: &UserRow,
        f: &SecondFactor,
        secret: Option<&str>,
    ) -> ServiceResult<Checked> {
        match f {
            SecondFactor::Totp(code) => {
                let state = u.totp.as_ref().filter(|t| t.confirmed).ok_or(WRONG_CODE)?;
                let step =
                    totp::matching_step(secret.ok_or(WRONG_CODE)?, code.trim(), self.unix_now()).ok_or(WRONG_CODE)?;
                // The code confirmed at enrolment is spent too.
                if step <= state.last_step {
                    return Err(CODE_REPLAYED);
                }
                Ok(Checked::Totp(step))
            }
            SecondFactor::RecoveryCode(_) => {
                let d = secret.ok_or(WRONG_CODE)?;
                let stored = u.recovery_codes.iter().find(|c| token::digest_eq(c, d)).ok_or(WRONG_CODE)?;
                Ok(Checked::RecoveryCode(stored.clone()))
            }
            SecondFactor::SentCode(code) => {
                let fresh = s.code_expires_at.is_some_and(|t| t > self.ctx.now());
                let ok =
                    fresh && s.code_digest.as_deref().is_some_and(|d| token::digest_eq(d, &token::digest(code.trim())));
                if !ok {
                    return Err(WRONG_CODE);
                }
                s.code_digest = None;
                Ok(Checked::SentCode)
            }
        }
    }

    /// Spends a TOTP step or a recovery code, once: an atomic insert in the
    /// store decides which of two sign-ins presenting it at the same moment
    /// wins (RFC 6238 §5.2; review L4). A sent code lives in its session,
    /// which the success deletes.
    async fn use_once(&self, u: &UserRow, c: Checked) -> ServiceResult<Checked> {
        let (key, window) = match &c {
            // Two steps on either side are accepted: past that, the step is refused anyway.
            Checked::Totp(step) => {
                let state = u.totp.as_ref().ok_or(WRONG_CODE)?;
                (step_key(&u.id.to_string(), state, *step), time::Duration::minutes(3))
            }
            Checked::RecoveryCode(digest) => (format!("recovery-code:{}:{digest}", u.id), time::Duration::days(1)),
            Checked::SentCode => return Ok(c),
        };
        if self.ctx.store.count_call(&key, self.ctx.now(), window).await?.failures > 1 {
            return Err(CODE_REPLAYED);
        }
        Ok(c)
    }

    /// The user's row as it is now, and that row without the recovery code
    /// `used`. Read afresh, and written only over the row read here
    /// (`Change::expecting`): a block or role change committed since the
    /// sign-in began is never overwritten (review S2).
    async fn without_recovery_code(&self, t: &TenantRow, u: &UserRow, used: &str) -> ServiceResult<(UserRow, UserRow)> {
        let read = self.ctx.store.user(t.id, u.id).await?.ok_or_else(session_invalid)?;
        self.admit(t, &read)?;
        let mut spent = read.clone();
        spent.recovery_codes.retain(|c| c != used);
        spent.updated_at = self.ctx.now();
        Ok((read, spent))
    }

    async fn fail_second_factor(
        &self,
        mut session: SessionRow,
        tenant: &TenantRow,
        user: &UserRow,
        client: IpAddr,
        err: ServiceError,
    ) -> ServiceResult<ServiceError> {
        let change =
            Change::new(Chain::Tenant(tenant.id), self.ctx.now(), Actor::User(user.id), Action::AuthSecondFactorFailed)
                .about("user", user.id)
                .detail(serde_json::json!({ "reason": err.code(), "client": client.to_string() }));
        let (err, first_lock) =
            self.second_factor_failed(&mut session, change, &second_factor_key(user.id), err).await?;
        if first_lock {
            self.warn_of_guessing(&user.email, client).await;
        }
        Ok(err)
    }

    /// Journals a wrong second factor, counts it against `guesses`, and
    /// ends the pending sign-in after too many in it. The error to answer,
    /// and whether this failure set the first lock (the moment to tell the
    /// person whose password is known).
    pub(crate) async fn second_factor_failed(
        &self,
        session: &mut SessionRow,
        journaled: Change,
        guesses: &str,
        err: ServiceError,
    ) -> ServiceResult<(ServiceError, bool)> {
        session.code_failures += 1;
        self.ctx.store.commit(journaled).await?;
        let first_lock = self.count_failure(guesses).await?;
        if session.code_failures >= MAX_CODE_FAILURES {
            // Too many guesses: the pending sign-in ends and the password is needed again.
            self.ctx.store.delete_session(&session.id).await?;
            let ended = ServiceError::Unauthenticated {
                code: "second_factor_locked",
                message: "too many wrong codes; sign in again",
            };
            return Ok((ended, first_lock));
        }
        self.ctx.store.put_session(session.clone()).await?;
        Ok((err, first_lock))
    }

    /// Tells the person that someone who knows their password is guessing
    /// their second factor: they are the one who can change the password.
    pub(crate) async fn warn_of_guessing(&self, to: &Email, client: IpAddr) {
        let issuer = &self.ctx.settings.issuer;
        let body = format!(
            "Someone entered wrong sign-in codes for your {issuer} account several times (last from {client}), \
             after giving your password. Further tries are held back for a while.\n\n\
             If this was not you, your password is known to someone else: change it now.\n"
        );
        let msg = Message { to: Recipient::Email(to.clone()), subject: format!("{issuer}: wrong sign-in codes"), body };
        if let Err(e) = self.ctx.sender.send(msg).await {
            tracing::warn!(error = %e, "the warning of wrong sign-in codes was not delivered");
        }
    }
}

/// The second factors this user must choose from; empty when none is owed.
/// A user with an authenticator app is offered it and their recovery codes
/// only: a code sent by e-mail would be a weaker way past it (review M4).
/// Text messages are not offered: valv has no SMS gateway, and a code
/// written to a file is no second factor.
pub(crate) fn second_factors(t: &TenantRow, u: &UserRow) -> Vec<&'static str> {
    let has_totp = u.totp.as_ref().is_some_and(|x| x.confirmed);
    if !has_totp && !t.require_second_factor {
        return Vec::new();
    }
    let mut m = Vec::new();
    if has_totp {
        m.push("totp");
    }
    if !u.recovery_codes.is_empty() {
        m.push("recovery_code");
    }
    if !has_totp {
        m.push("email");
    }
    m
}

/// The key that marks a time step of one authenticator secret as spent:
/// per secret, so a step used with a replaced secret does not block the new one.
pub(crate) fn step_key(owner: &str, state: &TotpState, step: u64) -> String {
    format!("totp-step:{owner}:{}:{step}", &token::digest(&state.secret)[..16])
}
