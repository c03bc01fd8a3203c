//! What a signed-in user does for themself: read their account, change their
//! password (ending their other sessions), and enrol an authenticator app
//! (RFC 6238) with one-time recovery codes.

use secrecy::SecretString;
use serde::Serialize;
use valv_crypto::{password::Verdict, policy, token, totp};
use valv_store::{Action, Chain, Change, Principal, Row, TotpState, UserRow};

use crate::{Accounts, Caller, ServiceError, ServiceResult, UserView, Via};

/// Number of recovery codes handed out when TOTP is enabled.
const RECOVERY_CODES: usize = 10;

/// A started TOTP enrolment: what the authenticator app needs.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TotpEnrolment {
    /// Base32 secret, for typing into the app.
    pub secret: String,
    /// `otpauth://` URL, for a QR code.
    pub otpauth_url: String,
}

/// Applies the password policy, turning a refusal into a service error.
pub(crate) fn check_password(password: &SecretString, personal: &[&str]) -> ServiceResult<()> {
    policy::check(password, personal).map(drop).map_err(|r| ServiceError::PasswordRefused {
        code: r.code,
        message: r.message,
        feedback: r.feedback,
    })
}

impl Accounts<'_> {
    async fn my_row(&self, caller: &Caller) -> ServiceResult<UserRow> {
        let (tenant, user, _) = caller.member()?;
        self.user_row(tenant, user).await
    }

    /// The caller's own account.
    ///
    /// # Errors
    /// `Forbidden` for operators.
    pub async fn me(&self, caller: &Caller) -> ServiceResult<UserView> {
        Ok(UserView::from(&self.my_row(caller).await?))
    }

    /// Changes the caller's password, ends their other sessions and revokes
    /// their API tokens (review L3: a stolen token must not outlive the
    /// password change its theft prompts). Only in a signed-in session: a
    /// token holder cannot use this to test guesses of the password, and
    /// wrong current passwords are counted and locked like sign-ins (L2).
    /// The new password is checked first, so the answer to a wrong current
    /// one is the same whatever the new one is.
    ///
    /// # Errors
    /// `Forbidden` with a token; a refused new password; `Locked` after
    /// repeated wrong current passwords; `bad_credentials`.
    pub async fn change_password(
        &self,
        caller: &Caller,
        current: SecretString,
        new: SecretString,
    ) -> ServiceResult<()> {
        let Caller::User { via: Via::Session(session), .. } = caller else {
            return Err(ServiceError::Forbidden("a password is changed in a signed-in session, not with a token"));
        };
        let mut u = self.my_row(caller).await?;
        let tenant = self.tenant_row(u.tenant_id).await?;
        check_password(&new, &[u.name.as_str(), u.email.as_str(), tenant.name.as_str()])?;
        let guesses = format!("password-change:{}", u.id);
        self.check_lock(&guesses).await?;
        let phc = u.password_hash.clone().unwrap_or_default();
        if self.ctx.verify_password(current, phc).await? == Verdict::Mismatch {
            self.count_failure(&guesses).await?;
            return Err(ServiceError::BadCredentials);
        }
        self.ctx.store.clear_throttle(&guesses).await?;
        u.password_hash = Some(self.ctx.hash_password(new).await?);
        u.updated_at = self.ctx.now();
        let change = Change::new(Chain::Tenant(u.tenant_id), u.updated_at, caller.actor(), Action::UserPasswordChanged)
            .about("user", u.id)
            .row(Row::User(u.clone()));
        self.ctx.store.commit(self.revoking_tokens(change, u.tenant_id, u.id).await?).await?;
        let principal = Principal::User { tenant: u.tenant_id, user: u.id };
        self.ctx.store.delete_sessions(principal, Some(session.as_str())).await?;
        Ok(())
    }

    /// Starts TOTP enrolment with a fresh secret.
    ///
    /// # Errors
    /// `totp_already_enabled` when a confirmed app exists.
    pub async fn begin_totp(&self, caller: &Caller) -> ServiceResult<TotpEnrolment> {
        let mut u = self.my_row(caller).await?;
        if u.totp.as_ref().is_some_and(|t| t.confirmed) {
            return Err(ServiceError::Conflict {
                code: "totp_already_enabled",
                message: "an authenticator app is already set up",
            });
        }
        let secret = totp::new_secret();
        let sealed = self.seal_totp(u.tenant_id, u.id, &secret).await?;
        u.totp = Some(TotpState { secret: sealed, confirmed: false, last_step: 0 });
        u.updated_at = self.ctx.now();
        self.commit_user(caller, Action::UserTotpEnrolmentStarted, &u).await?;
        let otpauth_url = totp::otpauth_url(&secret, &self.ctx.settings.issuer, u.email.as_str());
        Ok(TotpEnrolment { secret, otpauth_url })
    }

    /// Confirms enrolment with a code from the app; returns the recovery codes,
    /// shown this once and stored only as digests.
    ///
    /// # Errors
    /// `totp_not_started`; `code_invalid`.
    pub async fn confirm_totp(&self, caller: &Caller, code: &str) -> ServiceResult<Vec<String>> {
        let mut u = self.my_row(caller).await?;
        // Taken out of the row: on any refusal below the row is not written back.
        let Some(mut state) = u.totp.take().filter(|t| !t.confirmed) else {
            return Err(ServiceError::Conflict { code: "totp_not_started", message: "start the enrolment first" });
        };
        let secret = self.open_totp(u.tenant_id, u.id, &state.secret).await?;
        let step = totp::matching_step(&secret, code.trim(), self.unix_now())
            .ok_or(ServiceError::Unauthenticated { code: "code_invalid", message: "the code is wrong or expired" })?;
        state.confirmed = true;
        state.last_step = step;
        u.totp = Some(state);
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
        let mut digests = Vec::with_capacity(codes.len());
        for c in &codes {
            digests.push(self.recovery_digest(u.tenant_id, u.id, c).await?);
        }
        u.recovery_codes = digests;
        u.updated_at = self.ctx.now();
        self.commit_user(caller, Action::UserTotpEnabled, &u).await?;
        Ok(codes)
    }

    pub(crate) fn unix_now(&self) -> u64 {
        self.ctx.now().unix_timestamp().max(0).unsigned_abs()
    }
}

/// `xxxx-xxxx-xxxx-xxxx` from an unambiguous alphabet of 31: about 79 bits
/// (review L5: 10 characters were under 50), still easy to type from paper.
fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let chars = token::from_alphabet(16, ALPHABET);
    format!("{}-{}-{}-{}", &chars[..4], &chars[4..8], &chars[8..12], &chars[12..])
}

/// A typed recovery code as it is digested: lower case, letters and digits
/// only, so spaces, dashes and capitals as typed do not matter.
pub(crate) fn normalize_recovery(code: &str) -> String {
    code.trim().to_lowercase().chars().filter(char::is_ascii_alphanumeric).collect()
}
