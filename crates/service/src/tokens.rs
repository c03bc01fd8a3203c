//! API tokens: created by a signed-in user for a role no higher than theirs,
//! scoped to their tenant, expiring, revocable. The secret is shown once; only
//! its digest is stored.

use serde::{Deserialize, Serialize};
use time::Duration;
use valv_crypto::token;
use valv_domain::{Role, TokenId, UserStatus};
use valv_store::{Action, Chain, Change, Row, TokenRow};

use crate::{Accounts, Caller, ServiceError, ServiceResult, TokenView, Via};

const MAX_DAYS: u32 = 365;
const PREFIX: &str = "valv_";

/// A token request.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    #[schema(min_length = 1, max_length = 100, example = "ci")]
    pub name: String,
    /// Defaults to the creator's role; never above it.
    #[schema(pattern = "^(owner|admin|member|viewer|auditor)$", example = "member")]
    pub role: Option<String>,
    /// 1 to 365; defaults to 90.
    #[schema(minimum = 1, maximum = 365)]
    #[serde(default, deserialize_with = "valv_domain::whole::optional")]
    pub expires_in_days: Option<u32>,
}

/// A created token with its secret, shown this once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenCreated {
    #[serde(flatten)]
    pub token: TokenView,
    /// Send as `Authorization: Bearer <secret>`.
    pub secret: String,
}

impl Accounts<'_> {
    /// Creates an API token for the caller.
    ///
    /// # Errors
    /// Invalid fields; a role above the caller's.
    pub async fn create_token(&self, caller: &Caller, new: NewToken) -> ServiceResult<TokenCreated> {
        let (tenant, user, my_role) = caller.member()?;
        // Review L3: a stolen token must not mint itself successors that outlive it.
        if !matches!(caller, Caller::User { via: Via::Session(_), .. }) {
            return Err(ServiceError::Forbidden("tokens are made in a signed-in session, not with another token"));
        }
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(ServiceError::field("name", "invalid_name", "name must be 1 to 100 printable characters"));
        }
        let role = match new.role.as_deref() {
            Some(r) => Role::parse(r).map_err(|e| ServiceError::field("role", "invalid_role", e.reason))?,
            None => my_role,
        };
        if !my_role.may_grant(role) {
            return Err(ServiceError::Forbidden("a token cannot hold a role above your own"));
        }
        let days = new.expires_in_days.unwrap_or(90);
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(ServiceError::field("expires_in_days", "invalid_expiry", "expires_in_days must be 1 to 365"));
        }
        let secret = token::random(32);
        let now = self.ctx.now();
        let row = TokenRow {
            id: TokenId::new(),
            tenant_id: tenant,
            user_id: user,
            name: name.to_owned(),
            role,
            secret_digest: token::digest(&secret),
            created_at: now,
            expires_at: now + Duration::days(i64::from(days)),
            revoked_at: None,
        };
        let change = Change::new(Chain::Tenant(tenant), now, caller.actor(), Action::TokenCreated)
            .about("token", row.id)
            .detail(serde_json::json!({ "role": role.as_str(), "expires_in_days": days }))
            .row(Row::Token(row.clone()));
        self.ctx.store.commit(change).await?;
        Ok(TokenCreated { token: TokenView::from(&row), secret: format!("{PREFIX}{}.{secret}", row.id) })
    }

    /// The caller's tokens, revoked and expired ones included.
    ///
    /// # Errors
    /// `Forbidden` for operators.
    pub async fn tokens(&self, caller: &Caller) -> ServiceResult<Vec<TokenView>> {
        let (tenant, user, _) = caller.member()?;
        Ok(self.ctx.store.tokens(tenant, user).await?.iter().map(TokenView::from).collect())
    }

    /// Revokes one of the caller's tokens.
    ///
    /// # Errors
    /// `NotFound` for tokens of other users or tenants.
    pub async fn revoke_token(&self, caller: &Caller, id: TokenId) -> ServiceResult<TokenView> {
        let (tenant, user, _) = caller.member()?;
        let mut row = self
            .ctx
            .store
            .token(id)
            .await?
            .filter(|t| t.tenant_id == tenant && t.user_id == user)
            .ok_or(ServiceError::NotFound)?;
        if row.revoked_at.is_none() {
            row.revoked_at = Some(self.ctx.now());
            let change = Change::new(Chain::Tenant(tenant), self.ctx.now(), caller.actor(), Action::TokenRevoked)
                .about("token", id)
                .row(Row::Token(row.clone()));
            self.ctx.store.commit(change).await?;
        }
        Ok(TokenView::from(&row))
    }

    /// The caller a bearer token stands for.
    ///
    /// # Errors
    /// `token_invalid` for unknown, forged, expired or revoked tokens;
    /// `AccountBlocked`/`TenantBlocked` when its owner may not sign in.
    pub async fn resolve_token(&self, bearer: &str) -> ServiceResult<Caller> {
        let (id, secret) = bearer.strip_prefix(PREFIX).and_then(token::split).ok_or_else(invalid)?;
        let id = TokenId::parse(id).map_err(|_| invalid())?;
        let row = self.ctx.store.token(id).await?.ok_or_else(invalid)?;
        let live = row.revoked_at.is_none() && row.expires_at > self.ctx.now();
        if !token::digest_eq(&row.secret_digest, &token::digest(secret)) || !live {
            return Err(invalid());
        }
        let tenant = self.tenant_row(row.tenant_id).await?;
        let user = self.user_row(row.tenant_id, row.user_id).await?;
        let export_only = self.admit(&tenant, &user)?;
        // A token never outranks its owner, even after the owner's role was lowered.
        if user.status != UserStatus::Active || !user.role.may_grant(row.role) {
            return Err(invalid());
        }
        Ok(Caller::User {
            tenant: row.tenant_id,
            user: row.user_id,
            role: row.role,
            via: crate::Via::Token(id),
            export_only,
        })
    }
}

fn invalid() -> ServiceError {
    ServiceError::Unauthenticated { code: "token_invalid", message: "the API token is unknown, expired or revoked" }
}
