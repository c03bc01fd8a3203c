//! User accounts of a tenant, managed by its owners and admins: create (the
//! user is invited by message and sets their own password), list, show, edit,
//! block (which revokes every session and token at once) and unblock.

use secrecy::SecretString;
use serde::Deserialize;
use valv_crypto::token;
use valv_domain::{Email, PersonName, Phone, Role, TenantId, UserId, UserStatus};
use valv_store::{Action, Actor, Chain, Change, Principal, Row, TenantRow, UserRow};

use crate::form::Form;
use crate::me::check_password;
use crate::{Accounts, Caller, Message, Recipient, ServiceError, ServiceResult, UserView};

/// A new user as submitted.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(min_length = 1, max_length = 200, example = "Ada Lind")]
    pub name: String,
    #[schema(format = Email, max_length = 254, example = "ada@example.com")]
    pub email: String,
    /// Mobile number in E.164 form, e.g. `+46701234567`.
    #[schema(pattern = r"^\+[1-9][0-9]{7,14}$", example = "+46701234567")]
    pub phone: String,
    /// owner, admin, member, viewer or auditor.
    #[schema(pattern = "^(owner|admin|member|viewer|auditor)$", example = "member")]
    pub role: String,
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[schema(min_length = 1, max_length = 200, example = "Ada Lind")]
    pub name: Option<String>,
    #[schema(format = Email, max_length = 254, example = "ada@example.com")]
    pub email: Option<String>,
    #[schema(pattern = r"^\+[1-9][0-9]{7,14}$", example = "+46701234567")]
    pub phone: Option<String>,
    #[schema(pattern = "^(owner|admin|member|viewer|auditor)$", example = "member")]
    pub role: Option<String>,
}

/// How long an invitation works: a secret sent by e-mail (or left in the
/// outbox) must not open an account for ever (review L8).
pub(crate) const INVITATION_TTL: time::Duration = time::Duration::days(7);

impl Accounts<'_> {
    /// Creates and invites a user.
    ///
    /// # Errors
    /// `Forbidden` unless owner/admin (only owners make owners); invalid
    /// fields; `email_taken`.
    pub async fn create_user(&self, caller: &Caller, new: NewUser) -> ServiceResult<UserView> {
        let (tenant_id, my_role) = self.admin_of(caller).await?;
        let mut f = Form::default();
        let name = f.parse("name", &new.name, PersonName::parse);
        let email = f.parse("email", &new.email, Email::parse);
        let phone = f.parse("phone", &new.phone, Phone::parse);
        let role = f.parse("role", &new.role, Role::parse);
        let (name, email, phone, role) = f.finish((|| Some((name?, email?, phone?, role?)))())?;
        if !my_role.may_grant(role) {
            return Err(ServiceError::Forbidden("you cannot grant a role above your own"));
        }
        let tenant = self.tenant_row(tenant_id).await?;
        let ((id, credential), digest) = self.invitation(tenant_id);
        let now = self.ctx.now();
        let user = UserRow {
            id,
            tenant_id,
            name,
            email,
            phone,
            role,
            status: UserStatus::Active,
            password_hash: None,
            invitation_digest: Some(digest),
            invitation_expires_at: Some(now + INVITATION_TTL),
            totp: None,
            recovery_codes: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        self.commit_user(caller, Action::UserInvited, &user).await?;
        self.send_invitation(&tenant, &user, &credential).await;
        Ok(UserView::from(&user))
    }

    /// The tenant's users.
    ///
    /// # Errors
    /// `Forbidden` unless owner/admin.
    pub async fn users(&self, caller: &Caller) -> ServiceResult<Vec<UserView>> {
        let (tenant, _) = caller.admin()?;
        Ok(self.ctx.store.users(tenant).await?.iter().map(UserView::from).collect())
    }

    /// One user of the caller's tenant.
    ///
    /// # Errors
    /// `Forbidden` unless owner/admin; `NotFound` for ids of other tenants too.
    pub async fn user(&self, caller: &Caller, id: UserId) -> ServiceResult<UserView> {
        let (tenant, _) = caller.admin()?;
        Ok(UserView::from(&self.user_row(tenant, id).await?))
    }

    pub(crate) async fn user_row(&self, tenant: TenantId, id: UserId) -> ServiceResult<UserRow> {
        self.ctx.store.user(tenant, id).await?.ok_or(ServiceError::NotFound)
    }

    /// Edits a user's name, e-mail address, mobile number or role.
    ///
    /// # Errors
    /// As [`Self::create_user`]; `last_owner` when the change would leave no owner.
    pub async fn update_user(&self, caller: &Caller, id: UserId, patch: UserPatch) -> ServiceResult<UserView> {
        let (tenant, my_role) = self.admin_of(caller).await?;
        let mut u = self.user_row(tenant, id).await?;
        let mut f = Form::default();
        let name = f.opt("name", patch.name.as_deref(), PersonName::parse);
        let email = f.opt("email", patch.email.as_deref(), Email::parse);
        let phone = f.opt("phone", patch.phone.as_deref(), Phone::parse);
        let role = f.opt("role", patch.role.as_deref(), Role::parse);
        let (name, email, phone, role) = f.finish((|| Some((name?, email?, phone?, role?)))())?;
        if !my_role.may_grant(u.role) || role.is_some_and(|r| !my_role.may_grant(r)) {
            return Err(ServiceError::Forbidden("you cannot manage a role above your own"));
        }
        if role.is_some_and(|r| r != Role::Owner) {
            self.keep_an_owner(&u).await?;
        }
        u.name = name.unwrap_or(u.name);
        u.email = email.unwrap_or(u.email);
        u.phone = phone.unwrap_or(u.phone);
        u.role = role.unwrap_or(u.role);
        u.updated_at = self.ctx.now();
        self.commit_user(caller, Action::UserUpdated, &u).await?;
        Ok(UserView::from(&u))
    }

    /// Blocks or unblocks a user. Blocking revokes every session and API token.
    ///
    /// # Errors
    /// As [`Self::update_user`]; `cannot_block_self`.
    pub async fn set_user_blocked(&self, caller: &Caller, id: UserId, blocked: bool) -> ServiceResult<UserView> {
        let (tenant, my_role) = self.admin_of(caller).await?;
        let mut u = self.user_row(tenant, id).await?;
        if !my_role.may_grant(u.role) {
            return Err(ServiceError::Forbidden("you cannot manage a role above your own"));
        }
        if blocked && caller.member().is_ok_and(|(_, me, _)| me == id) {
            return Err(ServiceError::Conflict { code: "cannot_block_self", message: "you cannot block yourself" });
        }
        if blocked {
            self.keep_an_owner(&u).await?;
        }
        let now = self.ctx.now();
        u.status = if blocked { UserStatus::Blocked } else { UserStatus::Active };
        u.updated_at = now;
        let action = if blocked { Action::UserBlocked } else { Action::UserUnblocked };
        let mut change =
            Change::new(Chain::Tenant(tenant), now, caller.actor(), action).about("user", id).row(Row::User(u.clone()));
        if blocked {
            change = self.revoking_tokens(change, tenant, id).await?;
        }
        self.ctx.store.commit(change).await?;
        if blocked {
            self.ctx.store.delete_sessions(Principal::User { tenant, user: id }, None).await?;
        }
        Ok(UserView::from(&u))
    }

    /// Sets the password of an invited user from their invitation credential.
    ///
    /// # Errors
    /// `invitation_invalid` for unknown or used credentials; a refused password.
    pub async fn activate(&self, credential: &str, password: SecretString) -> ServiceResult<UserView> {
        let invalid = ServiceError::Unauthenticated {
            code: "invitation_invalid",
            message: "the invitation is unknown or was already used; ask your administrator for a new one",
        };
        let mut parts = credential.splitn(3, '.');
        let (Some(t), Some(u), Some(secret)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid);
        };
        let (Ok(tenant_id), Ok(user_id)) = (TenantId::parse(t), UserId::parse(u)) else {
            return Err(invalid);
        };
        let Some(mut user) = self.ctx.store.user(tenant_id, user_id).await? else {
            return Err(invalid);
        };
        let valid = user.invitation_digest.as_deref().is_some_and(|d| token::digest_eq(d, &token::digest(secret)));
        if !valid {
            return Err(invalid);
        }
        if user.invitation_expires_at.is_none_or(|end| end <= self.ctx.now()) {
            return Err(ServiceError::Unauthenticated {
                code: "invitation_expired",
                message: "the invitation has expired; ask your administrator for a new one",
            });
        }
        let tenant = self.tenant_row(tenant_id).await?;
        check_password(&password, &[user.name.as_str(), user.email.as_str(), tenant.name.as_str()])?;
        user.password_hash = Some(self.ctx.hash_password(password).await?);
        user.invitation_digest = None;
        user.invitation_expires_at = None;
        user.updated_at = self.ctx.now();
        let change = Change::new(Chain::Tenant(tenant_id), self.ctx.now(), Actor::User(user_id), Action::UserActivated)
            .about("user", user_id)
            .row(Row::User(user.clone()));
        self.ctx.store.commit(change).await?;
        Ok(UserView::from(&user))
    }

    /// Sends a new invitation to a user who has not set a password yet.
    ///
    /// # Errors
    /// As [`Self::update_user`]; `already_activated`.
    pub async fn reinvite(&self, caller: &Caller, id: UserId) -> ServiceResult<UserView> {
        let (tenant_id, my_role) = self.admin_of(caller).await?;
        let mut u = self.user_row(tenant_id, id).await?;
        if !my_role.may_grant(u.role) {
            return Err(ServiceError::Forbidden("you cannot manage a role above your own"));
        }
        if u.password_hash.is_some() {
            return Err(ServiceError::Conflict { code: "already_activated", message: "the user has set a password" });
        }
        let secret = token::random(32);
        u.invitation_digest = Some(token::digest(&secret));
        u.invitation_expires_at = Some(self.ctx.now() + INVITATION_TTL);
        u.updated_at = self.ctx.now();
        self.commit_user(caller, Action::UserInvited, &u).await?;
        let tenant = self.tenant_row(tenant_id).await?;
        self.send_invitation(&tenant, &u, &format!("{tenant_id}.{id}.{secret}")).await;
        Ok(UserView::from(&u))
    }

    /// The caller's tenant and role, after checking the tenant may be managed.
    async fn admin_of(&self, caller: &Caller) -> ServiceResult<(TenantId, Role)> {
        let (tenant, role) = caller.admin()?;
        if self.tenant_row(tenant).await?.terminated_at.is_some() {
            return Err(ServiceError::TenantTerminated);
        }
        Ok((tenant, role))
    }

    /// Refuses a change that would leave the tenant without an active owner.
    async fn keep_an_owner(&self, u: &UserRow) -> ServiceResult<()> {
        if u.role != Role::Owner || u.status != UserStatus::Active {
            return Ok(());
        }
        let owners = self.ctx.store.users(u.tenant_id).await?;
        let others = owners.iter().filter(|o| o.id != u.id && o.role == Role::Owner && o.status == UserStatus::Active);
        if others.count() == 0 {
            return Err(ServiceError::Conflict {
                code: "last_owner",
                message: "the organisation must keep at least one active owner",
            });
        }
        Ok(())
    }

    /// `change` with every live API token of the user revoked.
    pub(crate) async fn revoking_tokens(
        &self,
        mut change: Change,
        tenant: TenantId,
        user: UserId,
    ) -> ServiceResult<Change> {
        for mut t in self.ctx.store.tokens(tenant, user).await? {
            if t.revoked_at.is_none() {
                t.revoked_at = Some(change.at);
                change = change.row(Row::Token(t));
            }
        }
        Ok(change)
    }

    pub(crate) async fn commit_user(&self, caller: &Caller, action: Action, u: &UserRow) -> ServiceResult<()> {
        let change = Change::new(Chain::Tenant(u.tenant_id), self.ctx.now(), caller.actor(), action)
            .about("user", u.id)
            .row(Row::User(u.clone()));
        self.ctx.store.commit(change).await?;
        Ok(())
    }

    /// Sends an invitation; a failed delivery is logged, and the admin can re-invite.
    pub(crate) async fn send_invitation(&self, tenant: &TenantRow, user: &UserRow, credential: &str) {
        let base = self.ctx.settings.public_url.trim_end_matches('/');
        let until = user.invitation_expires_at.map(valv_domain::stamp).unwrap_or_default();
        // The code is also the message's last line, for those who open the page by hand.
        let msg = Message {
            to: Recipient::Email(user.email.clone()),
            subject: format!("Your {} account at {}", self.ctx.settings.issuer, tenant.name),
            body: format!(
                "Hello {},\n\nan account was created for you at {} (organisation: {}).\n\
                 Set your password before {until} (UTC) on this page:\n{base}/activate?code={credential}\n\n\
                 If the link does not open, go to {base}/activate and enter this invitation code;\n\
                 your administrator can help, or send you a new invitation.\n\n{credential}\n",
                user.name, tenant.name, tenant.slug
            ),
        };
        if let Err(e) = self.ctx.sender.send(msg).await {
            tracing::warn!(user = %user.id, error = %e, "invitation could not be delivered");
        }
    }
}
