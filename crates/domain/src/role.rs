//! Roles of tenant users, and account status. Stored as text (STYLE.md).

use crate::Invalid;

/// What a tenant user may do. Segregation of duties: an auditor reads the audit
/// log and nothing else; only owners and admins manage accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
    Viewer,
    Auditor,
}

impl Role {
    pub const ALL: [Self; 5] = [Self::Owner, Self::Admin, Self::Member, Self::Viewer, Self::Auditor];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
            Self::Viewer => "viewer",
            Self::Auditor => "auditor",
        }
    }

    /// Parses the stored or submitted form.
    ///
    /// # Errors
    /// When `s` names no role.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(Invalid::new("role", "must be one of owner, admin, member, viewer, auditor"))
    }

    /// Owners and admins manage the tenant's accounts.
    #[must_use]
    pub const fn manages_accounts(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }

    /// Owners, admins and auditors read the tenant's journal.
    #[must_use]
    pub const fn reads_journal(self) -> bool {
        matches!(self, Self::Owner | Self::Admin | Self::Auditor)
    }

    /// Whether a holder of `self` may hand out `other` (to a user or a token):
    /// nobody grants more than they hold, and only owners make owners.
    #[must_use]
    pub const fn may_grant(self, other: Self) -> bool {
        match self {
            Self::Owner => true,
            Self::Admin => !matches!(other, Self::Owner),
            Self::Member => matches!(other, Self::Member | Self::Viewer),
            Self::Viewer => matches!(other, Self::Viewer),
            Self::Auditor => matches!(other, Self::Auditor),
        }
    }
}

/// Whether an account (or tenant) may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    Active,
    Blocked,
}

impl UserStatus {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Blocked => "blocked",
        }
    }

    /// # Errors
    /// When `s` names no status.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "active" => Ok(Self::Active),
            "blocked" => Ok(Self::Blocked),
            _ => Err(Invalid::new("status", "must be active or blocked")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_text() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r), "{r:?}");
        }
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn nobody_grants_more_than_they_hold() {
        assert!(!Role::Admin.may_grant(Role::Owner));
        assert!(Role::Admin.may_grant(Role::Auditor));
        assert!(!Role::Auditor.may_grant(Role::Viewer));
        assert!(!Role::Viewer.may_grant(Role::Member));
    }
}
