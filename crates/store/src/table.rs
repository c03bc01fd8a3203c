//! The tables that hold valv's state, as one enum. What must agree between
//! the backends and the backups — which tables a dump walks and in what
//! order, which rows belong to a tenant and go when it is purged, how a
//! stored row is decoded — is derived from it, so a new table is one new
//! variant and the compiler names every `match` that must learn about it.

use valv_domain::TenantId;

use crate::{Row, StoreError, StoreResult};

/// A table of rows (journaled ones and sessions). Declared parents first:
/// a row's foreign keys point to tables above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Tenants,
    Operators,
    Users,
    Sessions,
    Tokens,
    Collections,
    Records,
    Files,
    FileVersions,
    Requests,
}

/// Whose data a table's rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The provider's own rows (tenants, operators): they stay when a tenant goes.
    Provider,
    /// One tenant's rows, each with a `tenant_id`: deleted when it is purged.
    Tenant,
}

impl Table {
    /// Every table, parents first.
    pub const ALL: [Self; 10] = [
        Self::Tenants,
        Self::Operators,
        Self::Users,
        Self::Sessions,
        Self::Tokens,
        Self::Collections,
        Self::Records,
        Self::Files,
        Self::FileVersions,
        Self::Requests,
    ];

    /// The table's name in SQL (the same on every backend).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Tenants => "tenants",
            Self::Operators => "operators",
            Self::Users => "users",
            Self::Sessions => "sessions",
            Self::Tokens => "tokens",
            Self::Collections => "collections",
            Self::Records => "records",
            Self::Files => "files",
            Self::FileVersions => "file_versions",
            Self::Requests => "requests",
        }
    }

    /// Whose rows these are.
    #[must_use]
    pub const fn owner(self) -> Owner {
        match self {
            Self::Tenants | Self::Operators => Owner::Provider,
            Self::Users
            | Self::Sessions
            | Self::Tokens
            | Self::Collections
            | Self::Records
            | Self::Files
            | Self::FileVersions
            | Self::Requests => Owner::Tenant,
        }
    }

    /// The key columns a dump orders the rows by, when the table is journaled
    /// (its rows are written by changes, carried in journal payloads, dumped
    /// and restored); `None` for short-lived security state (sessions), which
    /// no backup holds.
    #[must_use]
    pub const fn dump_order(self) -> Option<&'static str> {
        match self {
            Self::Tenants
            | Self::Operators
            | Self::Users
            | Self::Tokens
            | Self::Collections
            | Self::Records
            | Self::Files
            | Self::Requests => Some("id"),
            Self::FileVersions => Some("file_id, version"),
            Self::Sessions => None,
        }
    }

    /// The SQL expression of a row's key, as sealing binds it
    /// (`RowKeys::key`): the id, or a file version's `file/version`.
    #[must_use]
    pub const fn key_sql(self) -> &'static str {
        match self {
            Self::FileVersions => "file_id || '/' || version",
            _ => "id",
        }
    }

    /// The SQL expression of a row's tenant: `NULL` for the provider's tables.
    #[must_use]
    pub const fn tenant_sql(self) -> &'static str {
        match self.owner() {
            Owner::Provider => "NULL",
            Owner::Tenant => "tenant_id",
        }
    }

    /// Journaled tables in dump order, with the columns their rows are
    /// ordered by. A state's digest depends on this order, which keeps the
    /// digests of SQLite and PostgreSQL equal.
    pub fn dumped() -> impl Iterator<Item = (Self, &'static str)> {
        Self::ALL.into_iter().filter_map(|t| t.dump_order().map(|order| (t, order)))
    }

    /// Tables whose rows a tenant's purge deletes, children first so no
    /// foreign key is left pointing at a deleted row.
    pub fn purged() -> impl Iterator<Item = Self> {
        Self::ALL.into_iter().rev().filter(|t| t.owner() == Owner::Tenant)
    }

    /// The name a row of this table carries in a journal payload (`Row`'s tag).
    #[must_use]
    pub const fn row_tag(self) -> &'static str {
        match self {
            Self::Tenants => "tenant",
            Self::Operators => "operator",
            Self::Users => "user",
            Self::Sessions => "session",
            Self::Tokens => "token",
            Self::Collections => "collection",
            Self::Records => "record",
            Self::Files => "file",
            Self::FileVersions => "file_version",
            Self::Requests => "request",
        }
    }

    /// The table whose rows carry `tag` in journal payloads.
    #[must_use]
    pub fn of_row_tag(tag: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.row_tag() == tag)
    }

    /// The row whose opened `image` in this table is `json`.
    ///
    /// # Errors
    /// `Corrupt` when the text is not a row of this table, or the table holds
    /// no journaled rows.
    pub fn decode(self, json: &str) -> StoreResult<Row> {
        let parsed = match self {
            Self::Tenants => serde_json::from_str(json).map(Row::Tenant),
            Self::Operators => serde_json::from_str(json).map(Row::Operator),
            Self::Users => serde_json::from_str(json).map(Row::User),
            Self::Tokens => serde_json::from_str(json).map(Row::Token),
            Self::Collections => serde_json::from_str(json).map(Row::Collection),
            Self::Records => serde_json::from_str(json).map(Row::Record),
            Self::Files => serde_json::from_str(json).map(Row::File),
            Self::FileVersions => serde_json::from_str(json).map(Row::FileVersion),
            Self::Requests => serde_json::from_str(json).map(Row::Request),
            Self::Sessions => return Err(StoreError::Corrupt("sessions hold no journaled rows".into())),
        };
        parsed.map_err(|e| StoreError::Corrupt(format!("a row of {}: {e}", self.name())))
    }
}

impl Row {
    /// The table this row is stored in.
    #[must_use]
    pub const fn table(&self) -> Table {
        match self {
            Self::Tenant(_) => Table::Tenants,
            Self::User(_) => Table::Users,
            Self::Operator(_) => Table::Operators,
            Self::Token(_) => Table::Tokens,
            Self::Collection(_) => Table::Collections,
            Self::Record(_) => Table::Records,
            Self::File(_) => Table::Files,
            Self::FileVersion(_) => Table::FileVersions,
            Self::Request(_) => Table::Requests,
        }
    }

    /// The tenant whose row this is; `None` for the provider's own rows.
    #[must_use]
    pub fn tenant(&self) -> Option<TenantId> {
        match self {
            Self::Tenant(_) | Self::Operator(_) => None,
            Self::User(r) => Some(r.tenant_id),
            Self::Token(r) => Some(r.tenant_id),
            Self::Collection(r) => Some(r.tenant_id),
            Self::Record(r) => Some(r.tenant_id),
            Self::File(r) => Some(r.tenant_id),
            Self::FileVersion(r) => Some(r.tenant_id),
            Self::Request(r) => Some(r.tenant_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_journaled_table_is_dumped_and_every_tenant_table_is_purged() {
        let dumped: Vec<Table> = Table::dumped().map(|(t, _)| t).collect();
        assert_eq!(dumped.len(), 9, "every table but sessions: {dumped:?}");
        assert!(!dumped.contains(&Table::Sessions), "sessions are never backed up");
        let purged: Vec<Table> = Table::purged().collect();
        for t in Table::ALL {
            assert_eq!(purged.contains(&t), t.owner() == Owner::Tenant, "{t:?}");
        }
        assert!(purged.contains(&Table::Requests), "data-subject requests go with their tenant");
        let pos = |t| purged.iter().position(|p| *p == t);
        assert!(pos(Table::FileVersions) < pos(Table::Files), "children before parents");
        assert!(pos(Table::Tokens) < pos(Table::Users), "children before parents");
    }

    #[test]
    fn a_row_tag_names_its_table_and_back() {
        for t in Table::ALL {
            assert_eq!(Table::of_row_tag(t.row_tag()), Some(t), "{t:?}");
        }
        assert_eq!(Table::of_row_tag("nope"), None);
    }
}
