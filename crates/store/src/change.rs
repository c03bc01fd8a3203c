//! A change: the rows one use case writes, plus what the journal records about
//! it. Backends apply the rows and append the journal entry in one transaction;
//! there is no other write path for journaled state (DESIGN.md).

use serde::Serialize;
use time::OffsetDateTime;
use valv_domain::{OperatorId, TenantId, TokenId, UserId};

use crate::{Action, Row};

/// Which hash chain an entry belongs to: one per tenant, one for the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Chain {
    Provider,
    Tenant(TenantId),
}

impl Chain {
    /// Stored key: `provider` or the tenant's id.
    #[must_use]
    pub fn key(&self) -> String {
        match self {
            Self::Provider => "provider".to_owned(),
            Self::Tenant(t) => t.to_string(),
        }
    }
}

/// Who caused a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Operator(OperatorId),
    User(UserId),
    /// A user acting through an API token.
    Token(TokenId),
    /// The operator's command line on the server machine.
    Cli,
    /// valv itself (scheduled jobs, first start).
    System,
    /// Nobody signed in (failed sign-ins, activation links).
    Anonymous,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Operator(id) => write!(f, "operator:{id}"),
            Self::User(id) => write!(f, "user:{id}"),
            Self::Token(id) => write!(f, "token:{id}"),
            Self::Cli => f.write_str("cli"),
            Self::System => f.write_str("system"),
            Self::Anonymous => f.write_str("anonymous"),
        }
    }
}

/// Everything a backend needs to apply one change and journal it.
#[derive(Debug, Clone)]
pub struct Change {
    pub chain: Chain,
    pub at: OffsetDateTime,
    pub actor: Actor,
    pub action: Action,
    /// Kind and id of the entity the action is about.
    pub entity: &'static str,
    pub entity_id: String,
    /// Full row images written by this change (may be empty for events).
    pub rows: Vec<Row>,
    /// Event details without row images (e.g. why a sign-in failed). Never secrets.
    pub detail: serde_json::Value,
    /// Rows as the change's author read them: the change is made only while
    /// each is still stored exactly so, else refused with `StoreError::Stale`
    /// and nothing written. A compare-and-set, so that a change committed in
    /// between (a block, a role change) is never overwritten (review S2).
    pub expected: Vec<Row>,
    /// The most bytes of file versions the chain's tenant may hold once the
    /// change is made, checked in the change's transaction: processes that
    /// upload at once for one tenant cannot together pass the quota (review
    /// S5), else `StoreError::StorageFull` and nothing written.
    pub storage_limit: Option<u64>,
}

#[derive(Serialize)]
struct Payload<'a> {
    rows: &'a [Row],
    detail: &'a serde_json::Value,
}

impl Change {
    /// An event on `chain` with no rows yet.
    #[must_use]
    pub fn new(chain: Chain, at: OffsetDateTime, actor: Actor, action: Action) -> Self {
        Self {
            chain,
            at,
            actor,
            action,
            entity: "",
            entity_id: String::new(),
            rows: Vec::new(),
            detail: serde_json::Value::Null,
            expected: Vec::new(),
            storage_limit: None,
        }
    }

    #[must_use]
    pub fn about(mut self, entity: &'static str, id: impl ToString) -> Self {
        self.entity = entity;
        self.entity_id = id.to_string();
        self
    }

    #[must_use]
    pub fn row(mut self, row: Row) -> Self {
        self.rows.push(row);
        self
    }

    /// Makes the change only while `row` is stored as it is (see `expected`).
    #[must_use]
    pub fn expecting(mut self, row: Row) -> Self {
        self.expected.push(row);
        self
    }

    /// Makes the change only while the tenant's stored file bytes, this
    /// change's included, stay within `bytes` (see `storage_limit`).
    #[must_use]
    pub fn within_storage(mut self, bytes: u64) -> Self {
        self.storage_limit = Some(bytes);
        self
    }

    #[must_use]
    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }

    /// Whose keys the change seals with: its chain's, and every row's owner.
    #[must_use]
    pub fn owners(&self) -> Vec<crate::KeyOwner> {
        let rows = self
            .rows
            .iter()
            .chain(&self.expected)
            .map(|r| r.tenant().map_or(crate::KeyOwner::Provider, crate::KeyOwner::Tenant));
        std::iter::once(self.chain.into()).chain(rows).collect()
    }

    /// The journal payload: the row images and details as JSON.
    #[must_use]
    pub fn payload(&self) -> Vec<u8> {
        serde_json::to_vec(&Payload { rows: &self.rows, detail: &self.detail }).unwrap_or_default()
    }
}
