//! The constraints a write may break, as one enum shared by both backends
//! and the service: a backend names the one its database reported, the
//! service maps each to the answer a client gets. Every constraint is named
//! alike in both backends' migrations (STYLE.md).

use std::fmt;

/// A unique or ownership constraint that refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Constraint {
    /// Two live files at one path of a tenant.
    FilesTenantPath,
    /// A version number of a file given twice.
    FileVersionsKey,
    /// Two collections of a tenant with one name.
    CollectionsTenantName,
    /// Two users of a tenant with one e-mail address (compared normalised).
    UsersTenantEmail,
    /// Two tenants with one slug.
    TenantsSlug,
    /// Two operators with one e-mail address.
    OperatorsEmail,
    /// Two journal entries at one position of a chain.
    JournalChainSeq,
    /// An update that would move a row to another tenant or owner.
    RowOwnerMismatch,
}

impl Constraint {
    /// Every constraint.
    pub const ALL: [Self; 8] = [
        Self::FilesTenantPath,
        Self::FileVersionsKey,
        Self::CollectionsTenantName,
        Self::UsersTenantEmail,
        Self::TenantsSlug,
        Self::OperatorsEmail,
        Self::JournalChainSeq,
        Self::RowOwnerMismatch,
    ];

    /// The constraint's name in both backends' schemas (PostgreSQL reports it).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::FilesTenantPath => "files_tenant_path_key",
            Self::FileVersionsKey => "file_versions_pkey",
            Self::CollectionsTenantName => "collections_tenant_name_key",
            Self::UsersTenantEmail => "users_tenant_email_key",
            Self::TenantsSlug => "tenants_slug_key",
            Self::OperatorsEmail => "operators_email_key",
            Self::JournalChainSeq => "journal_chain_seq_key",
            Self::RowOwnerMismatch => "row_owner_mismatch",
        }
    }

    /// The columns SQLite names when a unique constraint fails (it does not
    /// report the constraint's name); `None` for checks made in code.
    #[must_use]
    pub const fn sqlite_columns(self) -> Option<&'static str> {
        match self {
            Self::FilesTenantPath => Some("files.tenant_id, files.folder, files.name"),
            Self::FileVersionsKey => Some("file_versions.file_id, file_versions.version"),
            Self::CollectionsTenantName => Some("collections.tenant_id, collections.name"),
            Self::UsersTenantEmail => Some("users.tenant_id, users.email_norm"),
            Self::TenantsSlug => Some("tenants.slug"),
            Self::OperatorsEmail => Some("operators.email_norm"),
            Self::JournalChainSeq => Some("journal.chain, journal.chain_seq"),
            Self::RowOwnerMismatch => None,
        }
    }

    /// The constraint named `name` in a schema.
    #[must_use]
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The constraint of SQLite's message about a failed unique constraint.
    #[must_use]
    pub fn of_sqlite_message(message: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.sqlite_columns().is_some_and(|cols| message.contains(cols)))
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sqlite_messages_lead_back_to_their_constraint() {
        for c in Constraint::ALL {
            assert_eq!(Constraint::named(c.name()), Some(c));
            if let Some(cols) = c.sqlite_columns() {
                let msg = format!("UNIQUE constraint failed: {cols}");
                assert_eq!(Constraint::of_sqlite_message(&msg), Some(c), "{c:?}");
            }
        }
        assert_eq!(Constraint::named("nope"), None);
        assert_eq!(Constraint::of_sqlite_message("UNIQUE constraint failed: other.col"), None);
    }
}
