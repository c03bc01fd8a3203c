//! Import: an export archive becomes a new tenant of this installation, with
//! the same ids. The archive is checked whole first (format version, every
//! part against the manifest's SHA-256, nothing missing or extra), each part
//! copied into a sealed spool. Then `export.json` is read as a stream: each
//! item becomes rows (file content is stored as its file comes) that flow
//! into one store transaction, so memory stays flat whatever the tenant's
//! size, and a refused or failed import leaves nothing half-imported (chunks
//! it stored are collected by `valv gc`).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;
use valv_domain::TenantId;
use valv_store::{Action, Change, StoreError, TenantRow, UserRow};

use super::format::{ExportManifest, FORMAT, VERSION};
use super::parse::{self, Piece};
use super::renumber::Renumber;
use super::{Progress, Spool};

use crate::{Caller, Portability, ServiceError, ServiceResult, Valv};

/// The largest `manifest.json` read: a name and a SHA-256 per part, so
/// room for millions of files.
const MAX_MANIFEST: u64 = 256 << 20;

/// What an import created.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub tenant_id: String,
    pub slug: String,
    pub users: usize,
    pub collections: usize,
    pub records: usize,
    pub file_versions: usize,
}

pub(super) fn damaged(why: impl Into<String>) -> ServiceError {
    ServiceError::Invalid {
        code: "import_damaged",
        message: format!("the archive is damaged or incomplete: {}", why.into()),
    }
}

fn unknown_format(message: String) -> ServiceError {
    ServiceError::Invalid { code: "import_format_unknown", message }
}

/// The checked archive: `export.json` in a sealed spool, and the file parts
/// one after the other in another (nothing readable rests on disk while the
/// import runs, and one temporary file serves any number of parts).
pub(super) struct Unpacked {
    doc: Spool,
    files: Spool,
    /// The frames of `files` holding each part.
    parts: BTreeMap<String, std::ops::Range<usize>>,
}

impl Unpacked {
    /// The bytes of file part `path`, if the archive holds it.
    pub(super) fn part(
        &self,
        path: &str,
    ) -> Option<impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin + Send + 'static + use<>> {
        self.parts.get(path).map(|frames| self.files.reader_of(frames.clone()))
    }
}

/// Copies a part into a sealed spool in pieces, hashing it on the way.
fn spool_part(entry: &mut impl std::io::Read, name: &str, spool: &mut Spool) -> ServiceResult<String> {
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = entry.read(&mut buf).map_err(|e| damaged(format!("{name}: {e}")))?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        spool.write(&buf[..n]).map_err(ServiceError::internal)?;
    }
    Ok(hex::encode(sha.finalize()))
}

fn new_spool() -> ServiceResult<Spool> {
    Spool::new(None).map_err(ServiceError::internal)
}

/// Reads the archive at `path`.
fn unpack_file(path: &Path) -> ServiceResult<Unpacked> {
    let f = std::fs::File::open(path).map_err(|e| ServiceError::Invalid {
        code: "import_unreadable",
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    unpack(f)
}

/// Reads an archive, checks every part against the manifest and spools the parts.
fn unpack(f: impl std::io::Read) -> ServiceResult<Unpacked> {
    let (mut parts, mut hashes) = (BTreeMap::new(), BTreeMap::new());
    let (mut doc, mut files, mut manifest) = (None, new_spool()?, None);
    let mut start = 0;
    let mut archive = tar::Archive::new(f);
    for entry in archive.entries().map_err(|e| damaged(e.to_string()))? {
        let mut entry = entry.map_err(|e| damaged(e.to_string()))?;
        let name = entry.path().map_err(|e| damaged(e.to_string()))?.to_string_lossy().into_owned();
        let is_file = name.starts_with("files/") && name.split('/').count() == 3 && !name.contains("..");
        if is_file {
            hashes.insert(name.clone(), spool_part(&mut entry, &name, &mut files)?);
            let end = files.mark().map_err(ServiceError::internal)?;
            parts.insert(name, start..end);
            start = end;
        } else if name == "export.json" {
            let mut spool = new_spool()?;
            hashes.insert(name.clone(), spool_part(&mut entry, &name, &mut spool)?);
            spool.close().map_err(ServiceError::internal)?;
            doc = Some(spool);
        } else if name == "manifest.json" {
            // Read into memory, so bounded first (review S6): the size a header claims is checked
            // before anything is read, and the read stops at the bound whatever the header said.
            if entry.header().size().map_err(|e| damaged(e.to_string()))? > MAX_MANIFEST {
                return Err(damaged(format!("manifest.json is larger than {MAX_MANIFEST} bytes")));
            }
            let mut bytes = Vec::new();
            (&mut entry).take(MAX_MANIFEST).read_to_end(&mut bytes).map_err(|e| damaged(format!("{name}: {e}")))?;
            let m = serde_json::from_slice::<ExportManifest>(&bytes).map_err(|e| damaged(format!("manifest: {e}")))?;
            manifest = Some(m);
        } else {
            return Err(damaged(format!("unexpected part {name}")));
        }
    }
    let manifest = manifest.ok_or_else(|| damaged("manifest.json is missing (truncated?)"))?;
    if manifest.format != FORMAT || manifest.version != VERSION {
        return Err(unknown_format(format!(
            "this installation reads {FORMAT} version {VERSION}, not {} version {}",
            manifest.format, manifest.version
        )));
    }
    if manifest.parts != hashes {
        return Err(damaged("a part does not match the SHA-256 in the manifest, or one is missing"));
    }
    let doc = doc.ok_or_else(|| damaged("export.json is missing"))?;
    files.close().map_err(ServiceError::internal)?;
    Ok(Unpacked { doc, files, parts })
}

impl Portability<'_> {
    /// Imports the archive at `path` as a new tenant.
    ///
    /// Three parts run side by side: a parser reading `export.json` piece by
    /// piece, this task turning pieces into changes (storing file content as
    /// it goes), and the store applying the changes in one transaction, which
    /// commits only after the whole document was read and accepted.
    ///
    /// # Errors
    /// `Forbidden` unless operator or CLI; damaged, truncated or unknown archives;
    /// `import_conflict` when the tenant's id or slug exists here.
    pub async fn import(&self, caller: &Caller, path: &Path) -> ServiceResult<ImportReport> {
        caller.operator()?;
        let p: PathBuf = path.to_owned();
        let up = tokio::task::spawn_blocking(move || unpack_file(&p)).await.map_err(internal)??;
        self.import_unpacked(caller, &up, None).await
    }

    /// Copies `tenant` as installation `from` holds it (a restore of this
    /// one at some instant) into this installation as a new tenant with
    /// fresh ids and the slug `renumber` gives: its export, taken into a
    /// sealed spool, imported with renumbered ids. The original is not
    /// touched; the copy's users are not invited (an operator invites whom
    /// the copy is for).
    ///
    /// # Errors
    /// `Forbidden` unless operator or CLI; `NotFound` when `from` lacks the
    /// tenant; `import_conflict` when the slug is taken here.
    pub async fn copy_tenant(
        &self,
        caller: &Caller,
        from: &Valv,
        tenant: TenantId,
        renumber: Renumber,
        progress: &Arc<Progress>,
    ) -> ServiceResult<ImportReport> {
        caller.operator()?;
        if from.ctx.store.tenant(tenant).await?.is_none() {
            return Err(ServiceError::NotFound);
        }
        if self.ctx.store.tenant_by_slug(&renumber.slug).await?.is_some() {
            return Err(conflict());
        }
        let mut spool = from.portability().export_into(&Caller::System, tenant, self.spool()?, progress).await?;
        spool.close().map_err(internal)?;
        let reader = spool.read_sync();
        let up = tokio::task::spawn_blocking(move || unpack(reader)).await.map_err(internal)??;
        self.import_unpacked(caller, &up, Some(renumber)).await
    }

    async fn import_unpacked(
        &self,
        caller: &Caller,
        up: &Unpacked,
        copy: Option<Renumber>,
    ) -> ServiceResult<ImportReport> {
        let invite = copy.is_none();
        let (piece_tx, piece_rx) = mpsc::channel::<Piece>(64);
        let (change_tx, change_rx) = mpsc::channel::<Option<Change>>(64);
        let reader = up.doc.read_sync();
        let parser = tokio::task::spawn_blocking(move || {
            parse::parse(reader, &mut |piece| piece_tx.blocking_send(piece).map_err(|_| "the import stopped".into()))
        });
        let commit = self.ctx.store.commit_from(source(change_rx));
        let mut key_made = None;
        let feed = async {
            let mut feed = super::import_rows::Feed::new(self, caller, up, change_tx, copy);
            let read = async {
                feed.take_all(piece_rx).await?;
                // Only a document read to its end, without error, is committed.
                parser.await.map_err(internal)?.map_err(|e| damaged(format!("export.json: {e}")))
            };
            let read = read.await;
            key_made = feed.key_made;
            read?;
            feed.finish().await
        };
        let (fed, committed) = tokio::join!(feed, commit);
        let outcome = match (fed, committed) {
            (Ok(fed), Ok(_)) => Ok(fed),
            (_, Err(StoreError::Conflict(_))) => Err(conflict()),
            // The import failed first and the store gave up because of it.
            (Err(e), _) if !is_store_stopped(&e) => Err(e),
            (_, Err(e)) => Err(e.into()),
            (Err(e), Ok(_)) => Err(e),
        };
        let (report, users, tenant) = match outcome {
            Ok(fed) => fed,
            Err(e) => {
                // Nothing of the tenant was committed: the key made for it goes
                // too, so the same archive can be imported again.
                if let Some(id) = key_made
                    && self.ctx.store.tenant(id).await?.is_none()
                {
                    self.ctx.keyring.destroy(id).await.map_err(internal)?;
                }
                return Err(e);
            }
        };
        self.after_import(&tenant, if invite { &users } else { &[] }).await?;
        Ok(report)
    }

    /// Lookup indexes of the new collections, and invitations for `users`.
    async fn after_import(&self, tenant: &TenantRow, users: &[UserRow]) -> ServiceResult<()> {
        for c in self.ctx.store.collections(tenant.id).await? {
            self.content().index_collection(&c).await?;
        }
        for u in users {
            self.reinvite_imported(tenant, u).await;
        }
        Ok(())
    }

    /// Imported users have no password: each gets an invitation to set one.
    async fn reinvite_imported(&self, t: &TenantRow, u: &UserRow) {
        let secret = valv_crypto::token::random(32);
        let mut row = u.clone();
        row.invitation_digest = Some(valv_crypto::token::digest(&secret));
        row.invitation_expires_at = Some(self.ctx.now() + crate::users::INVITATION_TTL);
        let change = Change::new(
            valv_store::Chain::Tenant(t.id),
            self.ctx.now(),
            valv_store::Actor::System,
            Action::UserInvited,
        )
        .about("user", row.id)
        .row(valv_store::Row::User(row.clone()));
        match self.ctx.store.commit(change).await {
            Ok(_) => self.accounts().send_invitation(t, &row, &format!("{}.{}.{secret}", t.id, row.id)).await,
            Err(e) => {
                tracing::warn!(user = %row.id, error = %e, "an imported user could not be invited; re-invite them")
            }
        }
    }
}

/// The store's side of the change channel: `None` commits; a channel closed
/// before it (the import failed) writes nothing.
fn source(mut rx: mpsc::Receiver<Option<Change>>) -> valv_store::ChangeSource {
    Box::new(move || match rx.blocking_recv() {
        Some(change) => Ok(change),
        None => Err(StoreError::Backend("the import stopped before its end".into())),
    })
}

/// What the feed says when the store's transaction ended before it.
pub(super) const STORE_STOPPED: &str = "import: the store stopped taking changes";

fn is_store_stopped(e: &ServiceError) -> bool {
    matches!(e, ServiceError::Internal(m) if m.to_string() == STORE_STOPPED)
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> ServiceError {
    ServiceError::internal(anyhow::Error::new(e).context("import"))
}

pub(super) fn conflict() -> ServiceError {
    ServiceError::Conflict {
        code: "import_conflict",
        message: "a tenant with this id or slug exists in this installation",
    }
}

#[cfg(test)]
mod tests {
    //! The archive reader under fuzzing: whatever the bytes, it answers
    //! with an error or an archive, never a panic, and it never accepts a
    //! changed byte of a part's content or a cut that loses any of it.
    use proptest::prelude::*;

    use super::*;

    /// A small archive as the exporter writes it, and where each entry's
    /// content lies in it.
    fn archive() -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
        let parts = [("export.json", br#"{"format":"valv-export"}"#.to_vec()), ("files/f1/v1", b"a contract".to_vec())];
        let digest = |b: &[u8]| hex::encode(Sha256::digest(b));
        let parts_of = parts.iter().map(|(n, b)| ((*n).to_owned(), digest(b))).collect();
        let manifest = ExportManifest { format: FORMAT.into(), version: VERSION, parts: parts_of };
        let mut tar = tar::Builder::new(Vec::new());
        for (name, bytes) in parts.into_iter().chain([("manifest.json", serde_json::to_vec(&manifest).unwrap())]) {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o600);
            tar.append_data(&mut h, name, bytes.as_slice()).unwrap();
        }
        let bytes = tar.into_inner().unwrap();
        let mut contents = Vec::new();
        for e in tar::Archive::new(bytes.as_slice()).entries().unwrap() {
            let e = e.unwrap();
            let start = usize::try_from(e.raw_file_position()).unwrap();
            contents.push(start..start + usize::try_from(e.size()).unwrap());
        }
        (bytes, contents)
    }

    #[test]
    fn the_archive_as_written_is_read() {
        let (bytes, _) = archive();
        let got = unpack(bytes.as_slice()).unwrap();
        assert_eq!(got.parts.keys().collect::<Vec<_>>(), ["files/f1/v1"]);
    }

    proptest! {
        /// Any one byte changed: no panic; inside any part's content, a refusal.
        #[test]
        fn a_changed_byte_is_never_accepted_inside_a_part(at in any::<prop::sample::Index>(), flip in 1u8..) {
            let (mut bytes, contents) = archive();
            let at = at.index(bytes.len());
            bytes[at] ^= flip;
            let read = unpack(bytes.as_slice());
            if contents.iter().any(|c| c.contains(&at)) {
                prop_assert!(read.is_err(), "byte {} changed inside a part, yet accepted", at);
            }
        }

        /// Cut anywhere before the last content byte: refused.
        #[test]
        fn a_cut_archive_is_refused(cut in any::<prop::sample::Index>()) {
            let (bytes, contents) = archive();
            let end = contents.iter().map(|c| c.end).max().unwrap();
            let at = cut.index(end);
            prop_assert!(unpack(&bytes[..at]).is_err(), "cut at {} of {}", at, end);
        }

        /// Bytes of any kind, with or without a tar header in front: no panic.
        #[test]
        fn any_bytes_are_answered(tail in prop::collection::vec(any::<u8>(), 0..4096), header in any::<bool>()) {
            let (mut bytes, _) = archive();
            if header {
                bytes.truncate(512);
                bytes.extend(tail);
            } else {
                bytes = tail;
            }
            let _ = unpack(bytes.as_slice());
        }
    }
}
