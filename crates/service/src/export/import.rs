//! Import: an export archive becomes a new tenant of this installation, with
//! the same ids. The archive is checked whole first (format version, every
//! part against the manifest's SHA-256, nothing missing or extra); file
//! content is stored next; then every row is written in one transaction, so a
//! refused or failed import leaves nothing half-imported (stored chunks are
//! collected by `valv gc`).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use valv_domain::files::{FileName, Folder};
use valv_domain::{
    CollectionId, Email, FileId, PersonName, Phone, RecordId, Role, Slug, TenantId, TenantName, UserId, UserStatus,
    parse_stamp,
};
use valv_store::{
    Chain, Change, CollectionRow, Contact, FileRow, FileVersionRow, RecordRow, Row, StoredChunk, TenantLimits,
    TenantRow, UserRow,
};

use super::Spool;
use super::format::{ExportDocument, ExportManifest, FORMAT, VERSION};
use crate::{Caller, ServiceError, ServiceResult, Valv};

/// What an import created.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub tenant_id: String,
    pub slug: String,
    pub users: usize,
    pub collections: usize,
    pub records: usize,
    pub file_versions: usize,
}

fn damaged(why: impl Into<String>) -> ServiceError {
    ServiceError::Invalid {
        code: "import_damaged",
        message: format!("the archive is damaged or incomplete: {}", why.into()),
    }
}

/// The checked archive: the document and the file parts, each in a sealed
/// spool (nothing readable rests on disk while the import runs).
struct Unpacked {
    doc: ExportDocument,
    parts: BTreeMap<String, Spool>,
}

/// Copies a part into a sealed spool in pieces, hashing it on the way.
fn spool_part(entry: &mut impl std::io::Read, name: &str) -> ServiceResult<(String, Spool)> {
    let mut spool = Spool::new(None).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = entry.read(&mut buf).map_err(|e| damaged(format!("{name}: {e}")))?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        spool.write(&buf[..n]).map_err(|e| ServiceError::Internal(e.to_string()))?;
    }
    spool.close().map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok((hex::encode(sha.finalize()), spool))
}

/// Reads the archive, checks every part against the manifest and extracts file parts.
fn unpack(path: &Path) -> ServiceResult<Unpacked> {
    let f = std::fs::File::open(path).map_err(|e| ServiceError::Invalid {
        code: "import_unreadable",
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    let mut parts = BTreeMap::new();
    let mut hashes: BTreeMap<String, String> = BTreeMap::new();
    let (mut doc, mut manifest) = (None, None);
    let mut archive = tar::Archive::new(f);
    for entry in archive.entries().map_err(|e| damaged(e.to_string()))? {
        let mut entry = entry.map_err(|e| damaged(e.to_string()))?;
        let name = entry.path().map_err(|e| damaged(e.to_string()))?.to_string_lossy().into_owned();
        if name.starts_with("files/") && name.split('/').count() == 3 && !name.contains("..") {
            let (hash, spool) = spool_part(&mut entry, &name)?;
            hashes.insert(name.clone(), hash);
            parts.insert(name, spool);
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|e| damaged(format!("{name}: {e}")))?;
        match name.as_str() {
            "manifest.json" => {
                manifest = Some(
                    serde_json::from_slice::<ExportManifest>(&bytes).map_err(|e| damaged(format!("manifest: {e}")))?,
                )
            }
            "export.json" => {
                hashes.insert(name, hex::encode(Sha256::digest(&bytes)));
                doc = Some(bytes);
            }
            other => return Err(damaged(format!("unexpected part {other}"))),
        }
    }
    let manifest = manifest.ok_or_else(|| damaged("manifest.json is missing (truncated?)"))?;
    if manifest.format != FORMAT || manifest.version != VERSION {
        return Err(ServiceError::Invalid {
            code: "import_format_unknown",
            message: format!(
                "this installation reads {FORMAT} version {VERSION}, not {} version {}",
                manifest.format, manifest.version
            ),
        });
    }
    if manifest.parts != hashes {
        return Err(damaged("a part does not match the SHA-256 in the manifest, or one is missing"));
    }
    let doc: ExportDocument =
        serde_json::from_slice(&doc.unwrap_or_default()).map_err(|e| damaged(format!("export.json: {e}")))?;
    if doc.format != FORMAT || doc.version != VERSION {
        return Err(ServiceError::Invalid {
            code: "import_format_unknown",
            message: "export.json has an unknown format version".into(),
        });
    }
    Ok(Unpacked { doc, parts })
}

fn bad(what: &str) -> ServiceError {
    damaged(format!("export.json holds an invalid {what}"))
}

fn instant(s: &str) -> ServiceResult<time::OffsetDateTime> {
    parse_stamp(s).map_err(|_| bad("time"))
}

impl Valv {
    /// Imports the archive at `path` as a new tenant.
    ///
    /// # Errors
    /// `Forbidden` unless operator or CLI; damaged, truncated or unknown archives;
    /// `import_conflict` when the tenant's id or slug exists here.
    pub async fn import(&self, caller: &Caller, path: &Path) -> ServiceResult<ImportReport> {
        caller.operator()?;
        let p: PathBuf = path.to_owned();
        let up = tokio::task::spawn_blocking(move || unpack(&p))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??;
        let doc = &up.doc;
        let tenant = self.import_tenant(doc).await?;
        let mut changes = vec![
            Change::new(Chain::Provider, self.now(), caller.actor(), "tenant.imported")
                .about("tenant", tenant.id)
                .detail(serde_json::json!({ "journal_head": doc.journal.last().map(|e| e.hash.clone()) }))
                .row(Row::Tenant(tenant.clone())),
        ];
        let users = self.import_users(caller, &tenant, doc, &mut changes)?;
        let (collections, records) = self.import_records(caller, tenant.id, doc, &mut changes)?;
        self.keyring.create(tenant.id).await.map_err(|e| ServiceError::Internal(e.to_string()))?;
        let versions = self.import_files(caller, tenant.id, &up, &mut changes).await?;
        self.store.commit_all(changes).await.map_err(|e| match e {
            valv_store::StoreError::Conflict(_) => conflict(),
            other => other.into(),
        })?;
        for c in self.store.collections(tenant.id).await? {
            self.index_collection(&c).await?;
        }
        for u in &users {
            self.reinvite_imported(&tenant, u).await;
        }
        Ok(ImportReport {
            tenant_id: tenant.id.to_string(),
            slug: tenant.slug.to_string(),
            users: users.len(),
            collections,
            records,
            file_versions: versions,
        })
    }

    async fn import_tenant(&self, doc: &ExportDocument) -> ServiceResult<TenantRow> {
        let t = &doc.tenant;
        let id = TenantId::parse(&t.id).map_err(|_| bad("tenant id"))?;
        let slug = Slug::parse(&t.slug).map_err(|_| bad("slug"))?;
        if self.store.tenant(id).await?.is_some() || self.store.tenant_by_slug(&slug).await?.is_some() {
            return Err(conflict());
        }
        Ok(TenantRow {
            id,
            slug,
            name: TenantName::parse(&t.name).map_err(|_| bad("tenant name"))?,
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
            updated_at: self.now(),
        })
    }

    fn import_users(
        &self,
        caller: &Caller,
        t: &TenantRow,
        doc: &ExportDocument,
        changes: &mut Vec<Change>,
    ) -> ServiceResult<Vec<UserRow>> {
        let mut out = Vec::new();
        for u in &doc.users {
            let row = UserRow {
                id: UserId::parse(&u.id).map_err(|_| bad("user id"))?,
                tenant_id: t.id,
                name: PersonName::parse(&u.name).map_err(|_| bad("user name"))?,
                email: Email::parse(&u.email).map_err(|_| bad("user e-mail"))?,
                phone: Phone::parse(&u.phone).map_err(|_| bad("user phone"))?,
                role: Role::parse(&u.role).map_err(|_| bad("role"))?,
                status: UserStatus::parse(&u.status).map_err(|_| bad("user status"))?,
                // Secrets never travel: every imported user sets a new password.
                password_hash: None,
                invitation_digest: None,
                totp: None,
                recovery_codes: Vec::new(),
                created_at: instant(&u.created_at)?,
                updated_at: self.now(),
            };
            changes.push(
                Change::new(Chain::Tenant(t.id), self.now(), caller.actor(), "user.imported")
                    .about("user", row.id)
                    .row(Row::User(row.clone())),
            );
            out.push(row);
        }
        Ok(out)
    }

    fn import_records(
        &self,
        caller: &Caller,
        tenant: TenantId,
        doc: &ExportDocument,
        changes: &mut Vec<Change>,
    ) -> ServiceResult<(usize, usize)> {
        let mut ids = BTreeMap::new();
        for c in &doc.collections {
            valv_domain::schema::check_fields(&c.fields).map_err(|_| bad("collection"))?;
            let row = CollectionRow {
                id: CollectionId::parse(&c.id).map_err(|_| bad("collection id"))?,
                tenant_id: tenant,
                name: valv_domain::schema::parse_identifier(&c.name).map_err(|_| bad("collection name"))?,
                fields: c.fields.clone(),
                data_subject: c.data_subject,
                processing: c.processing.clone(),
                created_at: instant(&c.created_at)?,
                updated_at: self.now(),
            };
            ids.insert(c.name.clone(), row.id);
            changes.push(
                Change::new(Chain::Tenant(tenant), self.now(), caller.actor(), "collection.imported")
                    .about("collection", row.id)
                    .row(Row::Collection(row)),
            );
        }
        for r in &doc.records {
            let collection_id = *ids.get(&r.collection).ok_or_else(|| bad("record collection"))?;
            let id = RecordId::parse(&r.id).map_err(|_| bad("record id"))?;
            for rev in &r.revisions {
                let at = instant(&rev.at)?;
                let row = RecordRow {
                    id,
                    tenant_id: tenant,
                    collection_id,
                    revision: rev.revision,
                    data: rev.data.clone(),
                    deleted_at: rev.deleted.then_some(at),
                    created_at: instant(&r.created_at)?,
                    created_by: r.created_by.clone(),
                    updated_at: at,
                    updated_by: rev.by.clone(),
                };
                changes.push(
                    Change::new(Chain::Tenant(tenant), self.now(), caller.actor(), "record.imported")
                        .about("record", id)
                        .row(Row::Record(row)),
                );
            }
        }
        Ok((doc.collections.len(), doc.records.len()))
    }

    async fn import_files(
        &self,
        caller: &Caller,
        tenant: TenantId,
        up: &Unpacked,
        changes: &mut Vec<Change>,
    ) -> ServiceResult<usize> {
        let keys = self.tenant_keys(tenant).await?;
        let mut n = 0;
        for f in &up.doc.files {
            let id = FileId::parse(&f.id).map_err(|_| bad("file id"))?;
            let mut row = FileRow {
                id,
                tenant_id: tenant,
                folder: Folder::parse(&f.folder).map_err(|_| bad("folder"))?,
                name: FileName::parse(&f.name).map_err(|_| bad("file name"))?,
                current_version: 0,
                created_at: instant(&f.created_at)?,
                created_by: f.created_by.clone(),
                deleted_at: f.deleted_at.as_deref().map(instant).transpose()?,
            };
            let mut version_rows = Vec::new();
            for v in &f.versions {
                let part = up.parts.get(&v.path).ok_or_else(|| damaged(format!("{} is missing", v.path)))?;
                let stream = part.reader();
                let (m, _) = valv_blob::write_stream(self.blobs()?, &keys, stream)
                    .await
                    .map_err(|e| ServiceError::Internal(e.to_string()))?;
                if m.sha256 != v.sha256 || m.size != v.size {
                    return Err(damaged(format!("{} does not match its recorded SHA-256", v.path)));
                }
                version_rows.push(FileVersionRow {
                    file_id: id,
                    tenant_id: tenant,
                    version: v.version,
                    size: m.size,
                    sha256: m.sha256,
                    media_type: v.media_type.clone(),
                    chunks: m.chunks.iter().map(|c| StoredChunk { id: c.id.as_str().to_owned(), len: c.len }).collect(),
                    uploaded_by: v.uploaded_by.clone(),
                    uploaded_at: instant(&v.uploaded_at)?,
                    scan: "imported".into(),
                });
                row.current_version = row.current_version.max(v.version);
                n += 1;
            }
            let mut change = Change::new(Chain::Tenant(tenant), self.now(), caller.actor(), "file.imported")
                .about("file", id)
                .row(Row::File(row));
            for v in version_rows {
                change = change.row(Row::FileVersion(v));
            }
            changes.push(change);
        }
        Ok(n)
    }
}

fn conflict() -> ServiceError {
    ServiceError::Conflict {
        code: "import_conflict",
        message: "a tenant with this id or slug exists in this installation",
    }
}

impl Valv {
    /// Imported users have no password: each gets an invitation to set one.
    async fn reinvite_imported(&self, t: &TenantRow, u: &UserRow) {
        let secret = valv_crypto::token::random(32);
        let mut row = u.clone();
        row.invitation_digest = Some(valv_crypto::token::digest(&secret));
        let change = Change::new(Chain::Tenant(t.id), self.now(), valv_store::Actor::System, "user.invited")
            .about("user", row.id)
            .row(Row::User(row.clone()));
        match self.store.commit(change).await {
            Ok(_) => self.send_invitation(t, &row, &format!("{}.{}.{secret}", t.id, row.id)).await,
            Err(e) => {
                tracing::warn!(user = %row.id, error = %e, "an imported user could not be invited; re-invite them")
            }
        }
    }
}
