//! First start: with no operator there is no way in, and no default password
//! exists anywhere. `valv serve` prints a one-time setup token; whoever holds it
//! creates the first operator account, which consumes the token, and gets
//! the secret of the authenticator app every operator signs in with.

use secrecy::SecretString;
use valv_crypto::token;
use valv_domain::{Email, OperatorId, PersonName, UserStatus};
use valv_store::{Action, Actor, Chain, Change, OperatorRow, Row};

use serde::Serialize;
use utoipa::ToSchema;

use crate::form::Form;
use crate::me::{TotpEnrolment, check_password};
use crate::{OperatorView, ServiceError, ServiceResult, Valv};

/// The first operator, and their authenticator secret to enter in an app.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SetUp {
    pub operator: OperatorView,
    /// Enter it in an authenticator app; the first sign-in confirms it.
    pub totp: TotpEnrolment,
}

impl Valv {
    /// A fresh setup token when no operator exists yet, else `None`.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn setup_token(&self) -> ServiceResult<Option<String>> {
        if self.ctx.store.operator_count().await? > 0 {
            return Ok(None);
        }
        let secret = token::random(32);
        self.ctx.store.put_setup_token(&token::digest(&secret)).await?;
        Ok(Some(secret))
    }

    /// Creates the first operator with the setup token, and the secret of
    /// the authenticator app they sign in with (shown this once).
    ///
    /// # Errors
    /// Invalid fields, a refused password, or an unknown or used token.
    pub async fn complete_setup(
        &self,
        setup_token: &str,
        name: &str,
        email: &str,
        password: SecretString,
    ) -> ServiceResult<SetUp> {
        let mut f = Form::default();
        let name = f.parse("name", name, PersonName::parse);
        let email = f.parse("email", email, Email::parse);
        let (name, email) = f.finish(name.zip(email))?;
        check_password(&password, &[name.as_str(), email.as_str()])?;
        // The token is taken only once the input is known to be good, so a typo
        // does not burn it.
        if !self.ctx.store.take_setup_token(&token::digest(setup_token)).await? {
            return Err(ServiceError::Unauthenticated {
                code: "setup_token_invalid",
                message: "the setup token is unknown or was already used; restart valv serve for a new one",
            });
        }
        let mut row = OperatorRow {
            id: OperatorId::new(),
            name,
            email,
            status: UserStatus::Active,
            password_hash: self.ctx.hash_password(password).await?,
            created_at: self.ctx.now(),
            totp: None,
        };
        let (state, totp) = self.accounts().new_operator_totp(&row).await?;
        row.totp = Some(state);
        let view = OperatorView::from(&row);
        let change = Change::new(Chain::Provider, self.ctx.now(), Actor::Anonymous, Action::OperatorCreated)
            .about("operator", row.id)
            .detail(serde_json::json!({ "via": "setup_token" }))
            .row(Row::Operator(row));
        self.ctx.store.commit(change).await?;
        Ok(SetUp { operator: view, totp })
    }
}
