//! Operators' second factor (review M5): an operator can terminate any
//! tenant, so a password alone must not be enough. Every operator signs in
//! with an authenticator app (TOTP, RFC 6238). The first operator gets its
//! secret at setup, any operator a new one from `valv operator totp` on the
//! server (a lost phone); the first code accepted confirms it. Guesses are
//! counted and locked as a user's are.

use std::net::IpAddr;

use valv_crypto::totp;
use valv_domain::{Email, OperatorId, UserStatus};
use valv_store::{Action, Actor, Chain, Change, OperatorRow, Row, SessionRow, TotpState};

use crate::auth::session_invalid;
use crate::me::TotpEnrolment;
use crate::second_factor::{CODE_REPLAYED, WRONG_CODE, step_key};
use crate::{Accounts, Caller, SecondFactor, ServiceError, ServiceResult, SignIn, SignInStatus};

impl Accounts<'_> {
    /// A new authenticator secret for `op`: the state to store (sealed,
    /// unconfirmed) and what to show the operator, once.
    pub(crate) async fn new_operator_totp(&self, op: &OperatorRow) -> ServiceResult<(TotpState, TotpEnrolment)> {
        let secret = totp::new_secret();
        let sealed = self.seal_operator_totp(op.id, &secret).await?;
        let otpauth_url = totp::otpauth_url(&secret, &self.ctx.settings.issuer, op.email.as_str());
        Ok((TotpState { secret: sealed, confirmed: false, last_step: 0 }, TotpEnrolment { secret, otpauth_url }))
    }

    /// Gives the operator with `email` a new authenticator secret, from the
    /// server's command line only (a lost phone). Their sessions end.
    ///
    /// # Errors
    /// `Forbidden` unless the CLI; `NotFound` for an unknown operator.
    pub async fn reset_operator_totp(&self, caller: &Caller, email: &str) -> ServiceResult<TotpEnrolment> {
        if !matches!(caller, Caller::Cli) {
            return Err(ServiceError::Forbidden("an operator's authenticator is reset on the server only"));
        }
        let email = Email::parse(email).map_err(|e| ServiceError::field("email", "invalid_email", e.reason))?;
        let mut op = self.ctx.store.operator_by_email(&email).await?.ok_or(ServiceError::NotFound)?;
        let (state, shown) = self.new_operator_totp(&op).await?;
        op.totp = Some(state);
        let change = Change::new(Chain::Provider, self.ctx.now(), Actor::Cli, Action::OperatorTotpReset)
            .about("operator", op.id)
            .row(Row::Operator(op.clone()));
        self.ctx.store.commit(change).await?;
        self.ctx.store.delete_sessions(valv_store::Principal::Operator(op.id), None).await?;
        Ok(shown)
    }

    /// Completes an operator's pending sign-in with a code from their app.
    pub(crate) async fn operator_second_factor(
        &self,
        mut session: SessionRow,
        id: OperatorId,
        factor: SecondFactor,
        client: IpAddr,
    ) -> ServiceResult<SignIn> {
        let mut op = self.ctx.store.operator(id).await?.ok_or_else(session_invalid)?;
        if op.status == UserStatus::Blocked {
            return Err(ServiceError::AccountBlocked);
        }
        let guesses = format!("second-factor:operator:{id}");
        self.check_lock(&guesses).await?;
        let step = match self.operator_step(&op, &factor).await {
            Ok(step) => step,
            Err(e) => {
                let failed =
                    Change::new(Chain::Provider, self.ctx.now(), Actor::Operator(id), Action::AuthSecondFactorFailed)
                        .about("operator", id)
                        .detail(serde_json::json!({ "reason": e.code(), "client": client.to_string() }));
                let (e, first_lock) = self.second_factor_failed(&mut session, failed, &guesses, e).await?;
                if first_lock {
                    self.warn_of_guessing(&op.email, client).await;
                }
                return Err(e);
            }
        };
        self.ctx.store.clear_throttle(&guesses).await?;
        let mut change =
            Change::new(Chain::Provider, self.ctx.now(), Actor::Operator(id), Action::AuthOperatorSignedIn)
                .about("operator", id)
                .detail(serde_json::json!({ "method": "totp", "client": client.to_string() }));
        if let Some(state) = op.totp.as_mut().filter(|t| !t.confirmed) {
            state.confirmed = true;
            state.last_step = step;
            change = change.row(Row::Operator(op));
        }
        self.ctx.store.commit(change).await?;
        self.ctx.store.delete_session(&session.id).await?;
        let (cookie, fresh) = self.new_session(session.principal, true);
        self.ctx.store.put_session(fresh).await?;
        Ok(SignIn { cookie, status: SignInStatus::SignedIn, methods: Vec::new() })
    }

    /// The time step of a correct, unused code from the operator's app.
    async fn operator_step(&self, op: &OperatorRow, factor: &SecondFactor) -> ServiceResult<u64> {
        let (SecondFactor::Totp(code), Some(state)) = (factor, op.totp.as_ref()) else { return Err(WRONG_CODE) };
        let secret = self.open_operator_totp(op.id, &state.secret).await?;
        let step = totp::matching_step(&secret, code.trim(), self.unix_now()).ok_or(WRONG_CODE)?;
        if step <= state.last_step {
            return Err(CODE_REPLAYED);
        }
        let key = step_key(&op.id.to_string(), state, step);
        if self.ctx.store.count_call(&key, self.ctx.now(), time::Duration::minutes(3)).await?.failures > 1 {
            return Err(CODE_REPLAYED);
        }
        Ok(step)
    }
}
