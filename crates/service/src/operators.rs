//! Provider operators: sign-in, session resolution and sign-out for every
//! kind of session. Operators manage tenants but never read tenant records.

use std::net::IpAddr;

use secrecy::SecretString;
use valv_crypto::password::Verdict;
use valv_domain::{Email, UserStatus};
use valv_store::{Action, Actor, Chain, Change, Principal};

use crate::auth::session_invalid;
use crate::throttle::{Keys, account_key};
use crate::{Accounts, Caller, OperatorView, ServiceError, ServiceResult, SignIn, SignInStatus, Via};

impl Accounts<'_> {
    /// Signs an operator in with e-mail and password; a code from their
    /// authenticator app is owed next.
    ///
    /// # Errors
    /// `Locked`, `BadCredentials`, `AccountBlocked`, `second_factor_enrolment_required`.
    pub async fn operator_sign_in(&self, email: &str, password: SecretString, client: IpAddr) -> ServiceResult<SignIn> {
        let keys = Keys::new(&account_key("operator", email), client);
        let _one_at_a_time = self.attempts.begin(&keys).await;
        self.check_throttle(&keys).await?;
        let op = match Email::parse(email) {
            Ok(e) => self.ctx.store.operator_by_email(&e).await?,
            Err(_) => None,
        };
        // An unknown operator costs one hash too (review L1: timing told them apart).
        let verdict = match op.as_ref() {
            Some(o) => self.ctx.verify_password(password, o.password_hash.clone()).await?,
            None => self.burn_hash(password).await?,
        };
        let (Some(op), Verdict::Match { .. }) = (op, verdict) else {
            self.fail_sign_in(&keys, None, email, client, "bad_credentials").await?;
            return Err(ServiceError::BadCredentials);
        };
        if op.status == UserStatus::Blocked {
            self.fail_sign_in(&keys, None, email, client, "account_blocked").await?;
            return Err(ServiceError::AccountBlocked);
        }
        self.clear_throttle(&keys).await?;
        if op.totp.is_none() {
            return Err(ServiceError::Unprocessable {
                code: "second_factor_enrolment_required",
                message: "operators sign in with an authenticator app: run `valv operator totp --email <yours>` \
                          on the server and enter the secret it prints in the app",
            });
        }
        // The password alone opens nothing: a code from the app is owed (review M5).
        let (cookie, session) = self.new_session(Principal::Operator(op.id), false);
        let change = Change::new(Chain::Provider, self.ctx.now(), Actor::Operator(op.id), Action::AuthPasswordVerified)
            .about("operator", op.id)
            .detail(serde_json::json!({ "method": "password", "client": client.to_string() }));
        self.ctx.store.commit(change).await?;
        self.ctx.store.put_session(session).await?;
        Ok(SignIn { cookie, status: SignInStatus::SecondFactorRequired, methods: vec!["totp"] })
    }

    /// The caller a session cookie stands for; only completed sign-ins count.
    ///
    /// # Errors
    /// `session_invalid`; `AccountBlocked`/`TenantBlocked` when no longer admitted.
    pub async fn resolve_session(&self, cookie: &str) -> ServiceResult<Caller> {
        let s = self.live_session(cookie).await?;
        if !s.complete {
            return Err(ServiceError::Unauthenticated {
                code: "second_factor_required",
                message: "complete the second factor first",
            });
        }
        match s.principal {
            Principal::User { tenant, user } => {
                let t = self.tenant_row(tenant).await.map_err(|_| session_invalid())?;
                let u = self.ctx.store.user(tenant, user).await?.ok_or_else(session_invalid)?;
                let export_only = self.admit(&t, &u)?;
                Ok(Caller::User { tenant, user, role: u.role, via: Via::Session(s.id), export_only })
            }
            Principal::Operator(id) => {
                let op = self.ctx.store.operator(id).await?.ok_or_else(session_invalid)?;
                if op.status == UserStatus::Blocked {
                    return Err(ServiceError::AccountBlocked);
                }
                Ok(Caller::Operator { id, session: s.id })
            }
        }
    }

    /// Ends the caller's session (tokens are revoked, not signed out).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn sign_out(&self, caller: &Caller) -> ServiceResult<()> {
        let session = match caller {
            Caller::User { via: Via::Session(id), .. } | Caller::Operator { session: id, .. } => id,
            _ => return Ok(()),
        };
        self.ctx.store.delete_session(session).await?;
        let change = Change::new(caller.chain(), self.ctx.now(), caller.actor(), Action::AuthSignedOut);
        self.ctx.store.commit(change).await?;
        Ok(())
    }

    /// The signed-in operator's account.
    ///
    /// # Errors
    /// `Forbidden` for tenant users and the CLI.
    pub async fn operator_me(&self, caller: &Caller) -> ServiceResult<OperatorView> {
        let Caller::Operator { id, .. } = caller else {
            return Err(ServiceError::Forbidden("this needs a provider operator"));
        };
        let op = self.ctx.store.operator(*id).await?.ok_or(ServiceError::NotFound)?;
        Ok(OperatorView::from(&op))
    }
}
