//! The contract suite: behaviour every backend must show. A backend's tests
//! call [`run_all`] with a fresh, empty store, and
//! [`every_table_is_dumped_restored_and_purged`] and
//! [`replayed_entries_rebuild_the_state`] with two each, and [`keys`] with
//! two handles on one keyring. One module per aggregate trait; together
//! they call every method of [`Store`] and of [`crate::KeyStore`].

mod accounts;
mod content;
pub mod history;
mod jobs;
mod journal;
mod keys;
mod privacy;
mod replication;
mod sessions;
mod tables;
mod vault;

pub use keys::keys;
pub use replication::replayed_entries_rebuild_the_state;
pub use tables::every_table_is_dumped_restored_and_purged;
pub use vault::{sealed, vault};

use time::macros::datetime;
use valv_domain::{
    CollectionId, Email, PersonName, Phone, RecordId, Role, Slug, TenantId, TenantName, UserId, UserStatus,
};

use crate::journal::verify;
use crate::{
    Action, Actor, Chain, Change, CollectionRow, Constraint, Contact, JournalEntry, JournalQuery, Principal,
    Processing, RecordRow, Row, SessionRow, Store, StoreError, TenantRow, UserRow,
};

pub(crate) const T0: time::OffsetDateTime = datetime!(2026-01-01 12:00 UTC);

/// Runs every contract test against `store`, which must start empty.
///
/// # Panics
/// When the backend breaks the contract.
pub async fn run_all(store: &dyn Store) {
    store.seal_with(vault());
    journal::run(store).await;
    accounts::run(store).await;
    sessions::run(store).await;
    content::run(store).await;
    privacy::run(store).await;
    replication::run(store).await;
    jobs::run(store).await;
}

#[must_use]
pub fn tenant(slug: &str) -> TenantRow {
    let id = TenantId::new();
    vault::register(crate::KeyOwner::Tenant(id));
    TenantRow {
        id,
        slug: Slug::parse(slug).expect("slug"),
        name: TenantName::parse(slug).expect("name"),
        contact: Contact {
            name: PersonName::parse("Ada Contact").expect("name"),
            email: Email::parse("contact@example.se").expect("email"),
            phone: Phone::parse("+46701234567").expect("phone"),
        },
        status: UserStatus::Active,
        require_second_factor: false,
        limits: crate::TenantLimits::default(),
        terminated_at: None,
        purged_at: None,
        created_at: T0,
        updated_at: T0,
    }
}

/// An empty collection `name` of `tenant`.
#[must_use]
pub fn collection(tenant: TenantId, name: &str) -> CollectionRow {
    CollectionRow {
        id: CollectionId::new(),
        tenant_id: tenant,
        name: name.into(),
        fields: Vec::new(),
        data_subject: false,
        processing: Processing::default(),
        created_at: T0,
        updated_at: T0,
    }
}

#[must_use]
pub fn user(tenant: TenantId, email: &str) -> UserRow {
    UserRow {
        id: UserId::new(),
        tenant_id: tenant,
        name: PersonName::parse("Bo User").expect("name"),
        email: Email::parse(email).expect("email"),
        phone: Phone::parse("+46701234568").expect("phone"),
        role: Role::Member,
        status: UserStatus::Active,
        password_hash: None,
        invitation_digest: None,
        invitation_expires_at: None,
        totp: None,
        recovery_codes: Vec::new(),
        created_at: T0,
        updated_at: T0,
    }
}

pub(crate) fn put(chain: Chain, action: Action, row: Row) -> Change {
    Change::new(chain, T0, Actor::Cli, action).about("test", "x").row(row)
}

/// A live file of `tenant` at `folder`/`name`.
#[must_use]
pub fn file(tenant: TenantId, folder: &str, name: &str) -> crate::FileRow {
    crate::FileRow {
        id: valv_domain::FileId::new(),
        tenant_id: tenant,
        folder: valv_domain::files::Folder::parse(folder).expect("folder"),
        name: valv_domain::files::FileName::parse(name).expect("name"),
        current_version: 1,
        created_at: T0,
        created_by: "cli".into(),
        deleted_at: None,
    }
}

/// Version `version` of `file`, made of `chunks` (each 10 bytes).
#[must_use]
pub fn version(file: &crate::FileRow, version: u32, chunks: &[&str]) -> crate::FileVersionRow {
    crate::FileVersionRow {
        file_id: file.id,
        tenant_id: file.tenant_id,
        version,
        size: 10 * chunks.len() as u64,
        sha256: "00".into(),
        media_type: "application/pdf".into(),
        chunks: chunks.iter().map(|c| crate::StoredChunk { id: (*c).to_owned(), len: 10 }).collect(),
        uploaded_by: "cli".into(),
        uploaded_at: T0,
        scan: "not scanned".into(),
    }
}

/// An answered access request `id` of `tenant`.
#[must_use]
pub fn request(tenant: TenantId, id: &str) -> crate::RequestRow {
    crate::RequestRow {
        id: id.to_owned(),
        tenant_id: tenant,
        kind: "access".into(),
        email: "subject@example.se".into(),
        message: "every record about me".into(),
        deadline: valv_domain::RequestDeadline::new(T0),
        extension_reason: None,
        verification_digest: None,
        verified_at: Some(T0),
        status: "answered".into(),
        answered_at: Some(T0),
        response: Some(serde_json::json!({ "records": ["the whole extract"] })),
    }
}

/// An API token of `user`.
#[must_use]
pub fn token(user: &UserRow) -> crate::TokenRow {
    crate::TokenRow {
        id: crate::TokenId::new(),
        tenant_id: user.tenant_id,
        user_id: user.id,
        name: "script".into(),
        role: user.role,
        secret_digest: "digest".into(),
        created_at: T0,
        expires_at: T0,
        revoked_at: None,
    }
}

/// A complete session `id` of `principal`.
#[must_use]
pub fn session(id: &str, principal: Principal) -> SessionRow {
    SessionRow {
        id: id.to_owned(),
        secret_digest: "d".into(),
        principal,
        complete: true,
        created_at: T0,
        expires_at: T0,
        code_digest: None,
        code_expires_at: None,
        code_failures: 0,
    }
}

/// A tenant, committed.
async fn committed_tenant(s: &dyn Store, slug: &str) -> TenantRow {
    let t = tenant(slug);
    s.commit(put(Chain::Provider, Action::TenantCreated, Row::Tenant(t.clone()))).await.expect("tenant");
    t
}
