//! Tenants (customer organisations), managed by provider operators: create
//! (with the contact person as first owner, invited by message), list, show,
//! block, unblock, terminate. Owners and admins set whether a second factor is
//! required for all their users.

use serde::Deserialize;
use valv_domain::{Email, PersonName, Phone, Role, Slug, TenantId, TenantName, UserId, UserStatus};
use valv_store::{Action, Chain, Change, Contact, Row, TenantLimits, TenantRow, UserRow};

use crate::form::Form;
use crate::{Accounts, Caller, ServiceError, ServiceResult, TenantView, UserView};

/// Limits an operator sets for one tenant; absent ones use the installation's.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsInput {
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "valv_domain::whole::optional")]
    pub max_file_mib: Option<u64>,
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "valv_domain::whole::optional")]
    pub max_storage_gib: Option<u64>,
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "valv_domain::whole::optional")]
    pub max_records_per_collection: Option<u64>,
}

/// Limits in force for a tenant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub file_bytes: u64,
    pub storage_bytes: u64,
    pub records: u64,
}

/// A new tenant as submitted.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    #[schema(min_length = 1, max_length = 200, example = "Acme AB")]
    pub name: String,
    /// Sign-in handle; derived from the name when absent.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$", example = "acme")]
    pub slug: Option<String>,
    #[schema(min_length = 1, max_length = 200, example = "Ada Lind")]
    pub contact_name: String,
    #[schema(format = Email, max_length = 254, example = "ada@example.com")]
    pub contact_email: String,
    /// Mobile number in E.164 form, e.g. `+46701234567`.
    #[schema(pattern = r"^\+[1-9][0-9]{7,14}$", example = "+46701234567")]
    pub contact_phone: String,
}

impl Accounts<'_> {
    /// Creates a tenant and invites its contact person as the first owner.
    ///
    /// # Errors
    /// `Forbidden` unless an operator; invalid fields; a taken slug.
    pub async fn create_tenant(&self, caller: &Caller, new: NewTenant) -> ServiceResult<(TenantView, UserView)> {
        caller.operator()?;
        let (name, slug, contact) = parse_tenant(&new)?;
        let now = self.ctx.now();
        let tenant = TenantRow {
            id: TenantId::new(),
            slug,
            name,
            contact: contact.clone(),
            status: UserStatus::Active,
            require_second_factor: false,
            limits: TenantLimits::default(),
            terminated_at: None,
            purged_at: None,
            created_at: now,
            updated_at: now,
        };
        let (invitation, digest) = self.invitation(tenant.id);
        let owner = UserRow {
            id: invitation.0,
            tenant_id: tenant.id,
            name: contact.name,
            email: contact.email,
            phone: contact.phone,
            role: Role::Owner,
            status: UserStatus::Active,
            password_hash: None,
            invitation_digest: Some(digest),
            invitation_expires_at: Some(now + crate::users::INVITATION_TTL),
            totp: None,
            recovery_codes: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        // The data key exists before the tenant does: no tenant is ever without one.
        self.ctx.keyring.create(tenant.id).await.map_err(ServiceError::internal)?;
        let views = (TenantView::from(&tenant), UserView::from(&owner));
        let created = Change::new(Chain::Provider, now, caller.actor(), Action::TenantCreated)
            .about("tenant", tenant.id)
            .row(Row::Tenant(tenant.clone()));
        let invited = Change::new(Chain::Tenant(tenant.id), now, caller.actor(), Action::UserInvited)
            .about("user", owner.id)
            .row(Row::User(owner.clone()));
        self.ctx.store.commit_all(vec![created, invited]).await?;
        self.send_invitation(&tenant, &owner, &invitation.1).await;
        Ok(views)
    }

    /// Every tenant.
    ///
    /// # Errors
    /// `Forbidden` unless an operator.
    pub async fn tenants(&self, caller: &Caller) -> ServiceResult<Vec<TenantView>> {
        caller.operator()?;
        Ok(self.ctx.store.tenants().await?.iter().map(TenantView::from).collect())
    }

    /// One tenant: operators see any; a tenant's users see their own.
    ///
    /// # Errors
    /// `NotFound` for unknown ids and for other tenants' ids.
    pub async fn tenant(&self, caller: &Caller, id: TenantId) -> ServiceResult<TenantView> {
        if let Caller::User { tenant, .. } = caller
            && *tenant != id
        {
            return Err(ServiceError::NotFound);
        }
        Ok(TenantView::from(&self.tenant_row(id).await?))
    }

    pub(crate) async fn tenant_row(&self, id: TenantId) -> ServiceResult<TenantRow> {
        self.ctx.store.tenant(id).await?.ok_or(ServiceError::NotFound)
    }

    /// Blocks or unblocks a tenant: all its users are refused while blocked.
    ///
    /// # Errors
    /// `Forbidden` unless an operator; `NotFound`.
    pub async fn set_tenant_blocked(&self, caller: &Caller, id: TenantId, blocked: bool) -> ServiceResult<TenantView> {
        caller.operator()?;
        let (status, action) = if blocked {
            (UserStatus::Blocked, Action::TenantBlocked)
        } else {
            (UserStatus::Active, Action::TenantUnblocked)
        };
        self.update_tenant(caller, id, action, |t| t.status = status).await
    }

    /// Records the end of the tenant's agreement. Its data stays for the export window.
    ///
    /// # Errors
    /// `Forbidden` unless an operator; `NotFound`; `Conflict` when already terminated.
    pub async fn terminate_tenant(&self, caller: &Caller, id: TenantId) -> ServiceResult<TenantView> {
        caller.operator()?;
        if self.tenant_row(id).await?.terminated_at.is_some() {
            return Err(ServiceError::Conflict {
                code: "already_terminated",
                message: "the tenant is already terminated",
            });
        }
        let now = self.ctx.now();
        self.update_tenant(caller, id, Action::TenantTerminated, |t| t.terminated_at = Some(now)).await
    }

    /// Sets a tenant's limits; an absent value falls back to the installation's.
    ///
    /// # Errors
    /// `Forbidden` unless an operator; `NotFound`; zero limits.
    pub async fn set_tenant_limits(
        &self,
        caller: &Caller,
        id: TenantId,
        limits: LimitsInput,
    ) -> ServiceResult<TenantView> {
        caller.operator()?;
        let l = TenantLimits {
            max_file_bytes: limits.max_file_mib.map(|m| m.saturating_mul(1 << 20)),
            max_storage_bytes: limits.max_storage_gib.map(|g| g.saturating_mul(1 << 30)),
            max_records_per_collection: limits.max_records_per_collection,
        };
        let values = [l.max_file_bytes, l.max_storage_bytes, l.max_records_per_collection];
        if values.iter().flatten().any(|v| *v == 0) {
            return Err(ServiceError::field("limits", "invalid_limit", "a limit must be at least 1"));
        }
        self.update_tenant(caller, id, Action::TenantLimitsChanged, |t| t.limits = l).await
    }

    /// The limits in force for `tenant`.
    pub(crate) async fn limits(&self, tenant: TenantId) -> ServiceResult<Limits> {
        let l = self.tenant_row(tenant).await?.limits;
        Ok(Limits {
            file_bytes: l.max_file_bytes.unwrap_or(self.ctx.settings.max_file_bytes),
            storage_bytes: l.max_storage_bytes.unwrap_or(self.ctx.settings.max_tenant_bytes),
            records: l.max_records_per_collection.unwrap_or(self.ctx.settings.max_records_per_collection),
        })
    }

    /// Owners and admins require (or stop requiring) a second factor for every user.
    ///
    /// # Errors
    /// `Forbidden` unless owner or admin.
    pub async fn set_require_second_factor(&self, caller: &Caller, required: bool) -> ServiceResult<TenantView> {
        let (tenant, _) = caller.admin()?;
        self.update_tenant(caller, tenant, Action::TenantSecondFactorPolicyChanged, |t| {
            t.require_second_factor = required;
        })
        .await
    }

    async fn update_tenant(
        &self,
        caller: &Caller,
        id: TenantId,
        action: Action,
        edit: impl FnOnce(&mut TenantRow),
    ) -> ServiceResult<TenantView> {
        let mut t = self.tenant_row(id).await?;
        edit(&mut t);
        t.updated_at = self.ctx.now();
        let chain = if matches!(caller, Caller::User { .. }) { Chain::Tenant(id) } else { Chain::Provider };
        let change =
            Change::new(chain, self.ctx.now(), caller.actor(), action).about("tenant", id).row(Row::Tenant(t.clone()));
        self.ctx.store.commit(change).await?;
        Ok(TenantView::from(&t))
    }

    /// An invitation credential `<tenant>.<user>.<secret>` and its stored digest.
    pub(crate) fn invitation(&self, tenant: TenantId) -> ((UserId, String), String) {
        let user = UserId::new();
        let secret = valv_crypto::token::random(32);
        ((user, format!("{tenant}.{user}.{secret}")), valv_crypto::token::digest(&secret))
    }
}

fn parse_tenant(new: &NewTenant) -> ServiceResult<(TenantName, Slug, Contact)> {
    let mut f = Form::default();
    let name = f.parse("name", &new.name, TenantName::parse);
    let slug = match (&new.slug, &name) {
        (Some(s), _) => f.parse("slug", s, Slug::parse),
        (None, Some(n)) => Slug::suggest(n).or_else(|| {
            f.refuse("slug", "invalid_slug", "slug cannot be derived from the name; give one");
            None
        }),
        (None, None) => None,
    };
    let cname = f.parse("contact_name", &new.contact_name, PersonName::parse);
    let cemail = f.parse("contact_email", &new.contact_email, Email::parse);
    let cphone = f.parse("contact_phone", &new.contact_phone, Phone::parse);
    let all = (|| Some((name?, slug?, Contact { name: cname?, email: cemail?, phone: cphone? })))();
    f.finish(all)
}
