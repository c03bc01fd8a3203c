//! The rows of an import: each piece of `export.json` checked and turned
//! into the changes that write it, sent to the store's open transaction.
//! Only what later pieces need is kept (collection ids by name, the users to
//! invite), never the records or the journal.

use std::collections::BTreeMap;

use tokio::sync::mpsc;
use valv_domain::files::{FileName, Folder};
use valv_domain::schema::FieldDef;
use valv_domain::{
    CollectionId, Email, FileId, PersonName, Phone, RecordId, Role, Slug, TenantId, TenantName, UserId, UserStatus,
    parse_stamp,
};
use valv_store::{
    Action, Chain, Change, CollectionRow, Contact, FileRow, FileVersionRow, RecordRow, Row, StoredChunk, TenantLimits,
    TenantRow, UserRow,
};

use super::format::{ExportCollection, ExportFile, ExportRecord, ExportTenant, ExportUser, FORMAT, VERSION};
use super::import::{ImportReport, STORE_STOPPED, Unpacked, conflict, damaged};
use super::parse::Piece;
use super::renumber::Renumber;
use crate::{Caller, ServiceError, ServiceResult, Valv};

fn bad(what: &str) -> ServiceError {
    damaged(format!("export.json holds an invalid {what}"))
}

fn instant(s: &str) -> ServiceResult<time::OffsetDateTime> {
    parse_stamp(s).map_err(|_| bad("time"))
}

/// The state of one import while pieces arrive.
pub(super) struct Feed<'a> {
    valv: &'a Valv,
    caller: &'a Caller,
    up: &'a Unpacked,
    tx: mpsc::Sender<Option<Change>>,
    version_checked: bool,
    tenant: Option<(TenantRow, valv_blob::TenantKeys)>,
    /// Each collection's id and fields, by name (records name their collection).
    collections: BTreeMap<String, (CollectionId, Vec<FieldDef>)>,
    users: Vec<UserRow>,
    /// Set when the tenant is imported as a copy of itself, with fresh ids.
    copy: Option<Renumber>,
    report: ImportReport,
    journal_head: Option<String>,
    /// The tenant whose data key this import made, to remove if it fails.
    pub(super) key_made: Option<TenantId>,
}

impl<'a> Feed<'a> {
    pub(super) fn new(
        valv: &'a Valv,
        caller: &'a Caller,
        up: &'a Unpacked,
        tx: mpsc::Sender<Option<Change>>,
        copy: Option<Renumber>,
    ) -> Self {
        Self {
            valv,
            caller,
            up,
            tx,
            version_checked: false,
            tenant: None,
            collections: BTreeMap::new(),
            users: Vec::new(),
            copy,
            report: ImportReport::default(),
            journal_head: None,
            key_made: None,
        }
    }

    /// Takes every piece the parser sends.
    pub(super) async fn take_all(&mut self, mut pieces: mpsc::Receiver<Piece>) -> ServiceResult<()> {
        while let Some(piece) = pieces.recv().await {
            self.take(piece).await?;
        }
        Ok(())
    }

    /// Ends the import: a last journal entry with what was imported, then the commit.
    pub(super) async fn finish(self) -> ServiceResult<(ImportReport, Vec<UserRow>, TenantRow)> {
        let (tenant, _) = self.tenant.ok_or_else(|| damaged("export.json holds no tenant"))?;
        let change =
            Change::new(Chain::Provider, self.valv.ctx.now(), self.caller.actor(), Action::TenantImportFinished)
                .about("tenant", tenant.id)
                .detail(serde_json::json!({
                    "journal_head": self.journal_head,
                    "users": self.report.users,
                    "collections": self.report.collections,
                    "records": self.report.records,
                    "file_versions": self.report.file_versions,
                }));
        for item in [Some(change), None] {
            self.tx.send(item).await.map_err(|_| ServiceError::internal_msg(STORE_STOPPED))?;
        }
        Ok((self.report, self.users, tenant))
    }

    async fn send(&self, change: Change) -> ServiceResult<()> {
        self.tx.send(Some(change)).await.map_err(|_| ServiceError::internal_msg(STORE_STOPPED))
    }

    fn change(&self, tenant: TenantId, action: Action) -> Change {
        Change::new(Chain::Tenant(tenant), self.valv.ctx.now(), self.caller.actor(), action)
    }

    /// The id this import gives what the archive names `old`.
    fn id(&self, old: uuid::Uuid) -> uuid::Uuid {
        self.copy.as_ref().map_or(old, |r| r.uuid(old))
    }

    /// An actor (`user:ID`, `cli` …) as this import writes it.
    fn actor(&self, actor: &str) -> String {
        self.copy.as_ref().map_or_else(|| actor.to_owned(), |r| r.actor(actor))
    }

    /// The tenant, which every piece but the version needs first.
    fn tenant(&self) -> ServiceResult<&(TenantRow, valv_blob::TenantKeys)> {
        self.tenant.as_ref().ok_or_else(|| damaged("export.json lists rows before its tenant"))
    }

    async fn take(&mut self, piece: Piece) -> ServiceResult<()> {
        if !self.version_checked && !matches!(piece, Piece::Version { .. }) {
            return Err(damaged("export.json does not start with its format and version"));
        }
        match piece {
            Piece::Version { format, version } => self.version(&format, version),
            Piece::Tenant(t) => self.import_tenant(&t).await,
            Piece::User(u) => self.import_user(&u).await,
            Piece::Collection(c) => self.import_collection(&c).await,
            Piece::Record(r) => self.import_record(&r).await,
            Piece::File(f) => self.import_file(&f).await,
            Piece::Entry(e) => {
                self.journal_head = Some(e.hash.into_owned());
                Ok(())
            }
        }
    }

    fn version(&mut self, format: &str, version: u32) -> ServiceResult<()> {
        if format != FORMAT || version != VERSION {
            return Err(ServiceError::Invalid {
                code: "import_format_unknown",
                message: "export.json has an unknown format version".into(),
            });
        }
        self.version_checked = true;
        Ok(())
    }

    async fn import_tenant(&mut self, t: &ExportTenant) -> ServiceResult<()> {
        if self.tenant.is_some() {
            return Err(damaged("export.json holds two tenants"));
        }
        let store = &self.valv.ctx.store;
        let original = TenantId::parse(&t.id).map_err(|_| bad("tenant id"))?;
        let (id, slug) = match &self.copy {
            Some(r) => (r.tenant, r.slug.clone()),
            None => (original, Slug::parse(&t.slug).map_err(|_| bad("slug"))?),
        };
        if store.tenant(id).await?.is_some() || store.tenant_by_slug(&slug).await?.is_some() {
            return Err(conflict());
        }
        let row = TenantRow {
            id,
            slug,
            name: match self.copy {
                // Named apart from the original where the name leaves room.
                Some(_) => TenantName::parse(&format!("{} (copy)", t.name))
                    .or_else(|_| TenantName::parse(&t.name))
                    .map_err(|_| bad("tenant name"))?,
                None => TenantName::parse(&t.name).map_err(|_| bad("tenant name"))?,
            },
            contact: Contact {
                name: PersonName::parse(&t.contact_name).map_err(|_| bad("contact"))?,
                email: Email::parse(&t.contact_email).map_err(|_| bad("contact"))?,
                phone: Phone::parse(&t.contact_phone).map_err(|_| bad("contact"))?,
            },
            status: UserStatus::Active,
            require_second_factor: t.require_second_factor,
            limits: TenantLimits::default(),
            terminated_at: None,
            purged_at: None,
            created_at: instant(&t.created_at)?,
            updated_at: self.valv.ctx.now(),
        };
        self.valv.ctx.keyring.create(id).await.map_err(|e| match e {
            crate::keyring::KeyringError::Exists(_) => super::import::conflict(),
            e => ServiceError::internal(e),
        })?;
        self.key_made = Some(id);
        let keys = self.valv.content().tenant_keys(id).await?;
        self.report.tenant_id = id.to_string();
        self.report.slug = row.slug.to_string();
        let mut change = Change::new(Chain::Provider, self.valv.ctx.now(), self.caller.actor(), Action::TenantImported)
            .about("tenant", id)
            .row(Row::Tenant(row.clone()));
        if let Some(r) = &self.copy {
            change = change.detail(serde_json::json!({ "copy_of": original, "as_of": r.as_of }));
        }
        self.tenant = Some((row, keys));
        self.send(change).await
    }

    async fn import_user(&mut self, u: &ExportUser) -> ServiceResult<()> {
        let tenant = self.tenant()?.0.id;
        let row = UserRow {
            id: UserId::from_uuid(self.id(UserId::parse(&u.id).map_err(|_| bad("user id"))?.as_uuid())),
            tenant_id: tenant,
            name: PersonName::parse(&u.name).map_err(|_| bad("user name"))?,
            email: Email::parse(&u.email).map_err(|_| bad("user e-mail"))?,
            phone: Phone::parse(&u.phone).map_err(|_| bad("user phone"))?,
            role: Role::parse(&u.role).map_err(|_| bad("role"))?,
            status: UserStatus::parse(&u.status).map_err(|_| bad("user status"))?,
            // Secrets never travel: every imported user sets a new password.
            password_hash: None,
            invitation_digest: None,
            invitation_expires_at: None,
            totp: None,
            recovery_codes: Vec::new(),
            created_at: instant(&u.created_at)?,
            updated_at: self.valv.ctx.now(),
        };
        let change = self.change(tenant, Action::UserImported).about("user", row.id).row(Row::User(row.clone()));
        self.users.push(row);
        self.report.users += 1;
        self.send(change).await
    }

    async fn import_collection(&mut self, c: &ExportCollection) -> ServiceResult<()> {
        let tenant = self.tenant()?.0.id;
        valv_domain::schema::check_fields(&c.fields).map_err(|_| bad("collection"))?;
        let row = CollectionRow {
            id: CollectionId::from_uuid(
                self.id(CollectionId::parse(&c.id).map_err(|_| bad("collection id"))?.as_uuid()),
            ),
            tenant_id: tenant,
            name: valv_domain::schema::parse_identifier(&c.name).map_err(|_| bad("collection name"))?,
            fields: c.fields.clone(),
            data_subject: c.data_subject,
            processing: c.processing.clone(),
            created_at: instant(&c.created_at)?,
            updated_at: self.valv.ctx.now(),
        };
        self.collections.insert(c.name.clone(), (row.id, c.fields.clone()));
        self.report.collections += 1;
        self.send(self.change(tenant, Action::CollectionImported).about("collection", row.id).row(Row::Collection(row)))
            .await
    }

    /// One change per revision, so the record's history is its journal again.
    async fn import_record(&mut self, r: &ExportRecord) -> ServiceResult<()> {
        let tenant = self.tenant()?.0.id;
        let (collection_id, fields) = self.collections.get(&r.collection).ok_or_else(|| bad("record collection"))?;
        let id = RecordId::from_uuid(self.id(RecordId::parse(&r.id).map_err(|_| bad("record id"))?.as_uuid()));
        let created_at = instant(&r.created_at)?;
        for rev in &r.revisions {
            let at = instant(&rev.at)?;
            let mut data = rev.data.clone();
            if let Some(renumber) = &self.copy {
                renumber.data(fields, &mut data);
            }
            let row = RecordRow {
                id,
                tenant_id: tenant,
                collection_id: *collection_id,
                revision: rev.revision,
                data,
                deleted_at: rev.deleted.then_some(at),
                created_at,
                created_by: self.actor(&r.created_by),
                updated_at: at,
                updated_by: self.actor(&rev.by),
            };
            self.send(self.change(tenant, Action::RecordImported).about("record", id).row(Row::Record(row))).await?;
        }
        self.report.records += 1;
        Ok(())
    }

    /// Stores every version's content from its spooled part, then the rows.
    async fn import_file(&mut self, f: &ExportFile) -> ServiceResult<()> {
        let (tenant, keys) = {
            let (t, k) = self.tenant()?;
            (t.id, k.clone())
        };
        let id = FileId::from_uuid(self.id(FileId::parse(&f.id).map_err(|_| bad("file id"))?.as_uuid()));
        let mut row = FileRow {
            id,
            tenant_id: tenant,
            folder: Folder::parse(&f.folder).map_err(|_| bad("folder"))?,
            name: FileName::parse(&f.name).map_err(|_| bad("file name"))?,
            current_version: 0,
            created_at: instant(&f.created_at)?,
            created_by: self.actor(&f.created_by),
            deleted_at: f.deleted_at.as_deref().map(instant).transpose()?,
        };
        let mut change = self.change(tenant, Action::FileImported).about("file", id);
        for v in &f.versions {
            let part = self.up.part(&v.path).ok_or_else(|| damaged(format!("{} is missing", v.path)))?;
            let refresh_before = crate::gc::refresh_before(self.valv.ctx.now());
            let (m, _) = valv_blob::write_stream(self.valv.ctx.blobs()?, &keys, refresh_before, part)
                .await
                .map_err(ServiceError::internal)?;
            if m.sha256 != v.sha256 || m.size != v.size {
                return Err(damaged(format!("{} does not match its recorded SHA-256", v.path)));
            }
            change = change.row(Row::FileVersion(FileVersionRow {
                file_id: id,
                tenant_id: tenant,
                version: v.version,
                size: m.size,
                sha256: m.sha256,
                media_type: v.media_type.clone(),
                chunks: m.chunks.iter().map(|c| StoredChunk { id: c.id.as_str().to_owned(), len: c.len }).collect(),
                uploaded_by: self.actor(&v.uploaded_by),
                uploaded_at: instant(&v.uploaded_at)?,
                scan: "imported".into(),
            }));
            row.current_version = row.current_version.max(v.version);
            self.report.file_versions += 1;
        }
        // The file row goes before its versions (they refer to it).
        change.rows.insert(0, Row::File(row));
        self.send(change).await
    }
}
