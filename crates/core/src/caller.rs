//! Who is calling, as resolved from a session cookie, an API token or the
//! local command line, and the role checks every use case starts with.

use valv_domain::{OperatorId, Role, TenantId, TokenId, UserId};
use valv_store::{Actor, Chain};

use crate::{ServiceError, ServiceResult};

/// How a tenant user authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A browser session; holds the session id.
    Session(String),
    Token(TokenId),
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    User {
        tenant: TenantId,
        user: UserId,
        role: Role,
        via: Via,
        /// The tenant's agreement ended: this owner or admin may only export.
        export_only: bool,
    },
    Operator {
        id: OperatorId,
        session: String,
    },
    /// The operator's command line on the server machine.
    Cli,
    /// The command line managing one tenant's accounts, with an owner's rights
    /// over accounts (never over records or files).
    CliForTenant(TenantId),
    /// valv's own scheduled jobs (purging tenants after the export window).
    System,
}

impl Caller {
    /// The journal's actor for this caller.
    #[must_use]
    pub fn actor(&self) -> Actor {
        match self {
            Self::User { via: Via::Token(t), .. } => Actor::Token(*t),
            Self::User { user, .. } => Actor::User(*user),
            Self::Operator { id, .. } => Actor::Operator(*id),
            Self::Cli | Self::CliForTenant(_) => Actor::Cli,
            Self::System => Actor::System,
        }
    }

    /// The tenant user, with any role.
    ///
    /// # Errors
    /// `Forbidden` for operators and the CLI.
    pub fn member(&self) -> ServiceResult<(TenantId, UserId, Role)> {
        match self {
            Self::User { export_only: true, .. } => Err(ServiceError::TenantTerminated),
            Self::User { tenant, user, role, .. } => Ok((*tenant, *user, *role)),
            _ => Err(ServiceError::Forbidden("this needs a tenant user")),
        }
    }

    /// An owner or admin of their tenant.
    ///
    /// # Errors
    /// `Forbidden` otherwise.
    pub fn admin(&self) -> ServiceResult<(TenantId, Role)> {
        if let Self::CliForTenant(t) = self {
            return Ok((*t, Role::Owner));
        }
        match self.member()? {
            (t, _, r) if r.manages_accounts() => Ok((t, r)),
            _ => Err(ServiceError::Forbidden("this needs the owner or admin role")),
        }
    }

    /// An owner or admin who may export, also during the export window after
    /// the tenant's agreement ended.
    ///
    /// # Errors
    /// `Forbidden` otherwise.
    pub fn export_admin(&self) -> ServiceResult<(TenantId, Role)> {
        match self {
            Self::User { tenant, role, .. } if role.manages_accounts() => Ok((*tenant, *role)),
            _ => Err(ServiceError::Forbidden("this needs the owner or admin role")),
        }
    }

    /// A provider operator or the local CLI.
    ///
    /// # Errors
    /// `Forbidden` for tenant users.
    pub fn operator(&self) -> ServiceResult<()> {
        match self {
            Self::Operator { .. } | Self::Cli | Self::System => Ok(()),
            Self::User { .. } | Self::CliForTenant(_) => Err(ServiceError::Forbidden("this needs a provider operator")),
        }
    }

    /// The journal chain this caller's tenant actions go to.
    #[must_use]
    pub fn chain(&self) -> Chain {
        match self {
            Self::User { tenant, .. } | Self::CliForTenant(tenant) => Chain::Tenant(*tenant),
            _ => Chain::Provider,
        }
    }
}
