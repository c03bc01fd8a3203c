//! Sealed at rest (DESIGN.md, Sealed at rest; review H5, M7): every row
//! image and every journal payload is stored sealed with a key derived from
//! its owner's data key — a tenant's for its rows and chain, the provider's
//! for its own — so a copy of the database alone reveals no content, and
//! destroying a tenant's key shreds its rows as it shreds its backups.
//!
//! The associated data binds the owner, the table and the row's key (or the
//! chain and position of a payload): a sealed value moved to another row,
//! table or tenant does not open. Exact-match lookups on personal values go
//! through blind indexes: an HMAC under another subkey of the same data key,
//! over the normalised value, so equal values still meet in an index while
//! the value itself is not stored.
//!
//! Backends hold a [`VaultSlot`]; the service fills it with the keyring
//! (`JournalStore::seal_with`) before the first row is written. Reads open
//! outside the database call ([`Sealed`]), so a row whose owner is known only
//! once it is read (a token looked up by id) needs no second query.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use serde::de::DeserializeOwned;
use valv_crypto::seal::Key;
use valv_domain::TenantId;

use crate::{Chain, StoreError, StoreResult, Table};

/// Whose key seals a row or a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyOwner {
    /// The provider's own rows (tenants, operators) and its chain.
    Provider,
    Tenant(TenantId),
}

impl KeyOwner {
    /// The owner of a row whose `tenant_id` column reads `tenant` (`None`
    /// for the provider's tables).
    ///
    /// # Errors
    /// `Corrupt` for a tenant id that does not parse.
    pub fn of_column(tenant: Option<&str>) -> StoreResult<Self> {
        match tenant {
            None => Ok(Self::Provider),
            Some(t) => TenantId::parse(t).map(Self::Tenant).map_err(|e| StoreError::Corrupt(e.to_string())),
        }
    }

    /// The owner of the chain stored as `key` (`provider` or a tenant id).
    ///
    /// # Errors
    /// `Corrupt` for a key that is neither.
    pub fn of_chain(key: &str) -> StoreResult<Self> {
        if key == "provider" { Ok(Self::Provider) } else { Self::of_column(Some(key)) }
    }

    fn label(&self) -> String {
        match self {
            Self::Provider => "provider".to_owned(),
            Self::Tenant(t) => t.to_string(),
        }
    }
}

impl From<Chain> for KeyOwner {
    fn from(c: Chain) -> Self {
        match c {
            Chain::Provider => Self::Provider,
            Chain::Tenant(t) => Self::Tenant(t),
        }
    }
}

/// The first byte of a value stored before sealing: a JSON object. A sealed
/// value starts with its format version (1), never with `{`.
const PLAIN_JSON: u8 = b'{';

/// The keys one owner's rows are sealed and indexed with, each derived from
/// its data key for one purpose (HKDF, RFC 5869), so the sealing key and the
/// index key never meet.
pub struct RowKey {
    owner: KeyOwner,
    seal: Key,
    blind: Key,
}

impl std::fmt::Debug for RowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RowKey({:?}, redacted)", self.owner)
    }
}

impl RowKey {
    /// The row keys of `owner`, whose data key is `data_key`.
    #[must_use]
    pub fn new(owner: KeyOwner, data_key: &Key) -> Self {
        Self { owner, seal: data_key.derive(b"rows"), blind: data_key.derive(b"blind-index") }
    }

    fn row_context(&self, table: Table, id: &str) -> Vec<u8> {
        format!("row/{}/{}/{id}", self.owner.label(), table.name()).into_bytes()
    }

    fn payload_context(&self, chain_seq: u64) -> Vec<u8> {
        format!("journal/{}/{chain_seq}", self.owner.label()).into_bytes()
    }

    /// Seals a row image of `table` whose key is `id`.
    #[must_use]
    pub fn seal_row(&self, table: Table, id: &str, image: &[u8]) -> Vec<u8> {
        self.seal.seal(image, &self.row_context(table, id))
    }

    /// Opens what [`RowKey::seal_row`] made for the same place. A row stored
    /// before sealing (plain JSON) is taken as it is, until the upgrade has
    /// sealed it (`Store::seal_stored`).
    ///
    /// # Errors
    /// `Corrupt` when it does not open: damaged, moved, or another's key.
    pub fn open_row(&self, table: Table, id: &str, stored: &[u8]) -> StoreResult<Vec<u8>> {
        if stored.first() == Some(&PLAIN_JSON) {
            return Ok(stored.to_vec());
        }
        self.seal
            .open(stored, &self.row_context(table, id))
            .map_err(|e| StoreError::Corrupt(format!("a row of {} ({id}): {e}", table.name())))
    }

    /// Seals the journal payload at `chain_seq` of this owner's chain.
    #[must_use]
    pub fn seal_payload(&self, chain_seq: u64, payload: &[u8]) -> Vec<u8> {
        self.seal.seal(payload, &self.payload_context(chain_seq))
    }

    /// Opens what [`RowKey::seal_payload`] made (or a payload stored before sealing).
    ///
    /// # Errors
    /// `Corrupt` when it does not open.
    pub fn open_payload(&self, chain_seq: u64, stored: &[u8]) -> StoreResult<Vec<u8>> {
        if stored.first() == Some(&PLAIN_JSON) {
            return Ok(stored.to_vec());
        }
        self.seal
            .open(stored, &self.payload_context(chain_seq))
            .map_err(|e| StoreError::Corrupt(format!("the journal payload {chain_seq} of {}: {e}", self.owner.label())))
    }

    /// The blind index of `value` in the index `what` (e.g. `email`): equal
    /// inputs give equal outputs under this owner's key only. Callers pass the
    /// normalised value ([`crate::blind`]).
    #[must_use]
    pub fn blind(&self, what: &str, value: &str) -> String {
        let mut message = Vec::with_capacity(what.len() + 1 + value.len());
        message.extend_from_slice(what.as_bytes());
        message.push(0);
        message.extend_from_slice(value.as_bytes());
        self.blind.mac(&message)
    }
}

impl RowKey {
    /// The stored form of a throttle key: keys name e-mail addresses and
    /// networks, so a table of them would list who was tried from where.
    #[must_use]
    pub fn throttle(&self, key: &str) -> String {
        self.blind("throttle", key)
    }

    /// The blind index a throttle is forgotten by when its address is
    /// erased: of the part of its key after the last `:`, which is the
    /// address for every key that names one.
    #[must_use]
    pub fn throttle_subject(&self, key: &str) -> String {
        self.blind("throttle-subject", key.rsplit(':').next().unwrap_or(key))
    }
}

/// Where the keys come from: the keyring, unwrapping a data key on first use.
#[async_trait::async_trait]
pub trait Vault: Send + Sync {
    /// The row keys of `owner`.
    ///
    /// # Errors
    /// When the owner has no key (a purged tenant's was destroyed).
    async fn key(&self, owner: KeyOwner) -> StoreResult<Arc<RowKey>>;

    /// Every owner that has a key now: a dump or a restore opens and seals
    /// rows of any of them inside one database call.
    ///
    /// # Errors
    /// When the keyring cannot be read.
    async fn owners(&self) -> StoreResult<Vec<KeyOwner>>;
}

/// Keys fetched for one database call, moved into it.
#[derive(Debug, Clone, Default)]
pub struct Keys(HashMap<KeyOwner, Arc<RowKey>>);

impl Keys {
    /// [`Keys::get`], as a handle of its own (kept while the keys change).
    ///
    /// # Errors
    /// As [`Keys::get`].
    pub fn shared(&self, owner: KeyOwner) -> StoreResult<Arc<RowKey>> {
        self.0.get(&owner).cloned().ok_or_else(|| no_key(owner))
    }

    /// Those of `owners` whose keys are not here yet.
    #[must_use]
    pub fn missing(&self, owners: &[KeyOwner]) -> Vec<KeyOwner> {
        owners.iter().filter(|o| !self.0.contains_key(o)).copied().collect()
    }

    /// Adds the keys of `other`.
    pub fn extend(&mut self, other: Self) {
        self.0.extend(other.0);
    }

    /// The key of `owner`, fetched before the call.
    ///
    /// # Errors
    /// `Backend` when it is not here: missing from the keyring, or not
    /// fetched (a defect of the backend).
    pub fn get(&self, owner: KeyOwner) -> StoreResult<&RowKey> {
        self.0
            .get(&owner)
            .map(AsRef::as_ref)
            .ok_or_else(|| StoreError::Backend(format!("no key fetched for {owner:?}")))
    }
}

/// A key not at hand: the owner's data key is missing from the keyring (or
/// the backend did not fetch it, a defect).
fn no_key(owner: KeyOwner) -> StoreError {
    StoreError::Backend(format!(
        "no key for {}: its rows cannot be read or written (is its data key missing from the keyring?)",
        owner.label()
    ))
}

/// A row as stored: its owner, its key in its table and its sealed image.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub owner: KeyOwner,
    pub id: String,
    pub image: Vec<u8>,
}

/// The vault a backend seals with, set once the keyring is open.
#[derive(Clone, Default)]
pub struct VaultSlot(Arc<RwLock<Option<Arc<dyn Vault>>>>);

impl std::fmt::Debug for VaultSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VaultSlot")
    }
}

impl VaultSlot {
    /// Seals with `vault` from now on.
    pub fn set(&self, vault: Arc<dyn Vault>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(vault);
    }

    fn vault(&self) -> StoreResult<Arc<dyn Vault>> {
        self.0.read().unwrap_or_else(PoisonError::into_inner).clone().ok_or_else(|| {
            StoreError::Backend("the store has no keys to seal with: open the keyring first (seal_with)".into())
        })
    }

    /// The key of one owner.
    ///
    /// # Errors
    /// When there is no vault or no key.
    pub async fn key(&self, owner: KeyOwner) -> StoreResult<Arc<RowKey>> {
        self.vault()?.key(owner).await
    }

    /// The keys of every owner in `owners`.
    ///
    /// # Errors
    /// When there is no vault or some owner has no key.
    pub async fn keys(&self, owners: Vec<KeyOwner>) -> StoreResult<Keys> {
        let vault = self.vault()?;
        let mut keys = HashMap::new();
        for owner in owners {
            if let std::collections::hash_map::Entry::Vacant(e) = keys.entry(owner) {
                e.insert(vault.key(owner).await?);
            }
        }
        Ok(Keys(keys))
    }

    /// The keys of every owner that has one ([`Vault::owners`]).
    ///
    /// # Errors
    /// When there is no vault or the keyring cannot be read.
    pub async fn all_keys(&self) -> StoreResult<Keys> {
        let owners = self.vault()?.owners().await?;
        self.keys(owners).await
    }

    /// Opens and decodes rows of `table` read as they are stored.
    ///
    /// # Errors
    /// A row that does not open or decode (`Corrupt`); a missing key.
    pub async fn open<T: DeserializeOwned>(&self, table: Table, rows: Vec<Sealed>) -> StoreResult<Vec<T>> {
        let owners: Vec<KeyOwner> = rows.iter().map(|r| r.owner).collect();
        let keys = self.keys(owners).await?;
        rows.iter()
            .map(|r| {
                let plain = keys.get(r.owner)?.open_row(table, &r.id, &r.image)?;
                serde_json::from_slice(&plain)
                    .map_err(|e| StoreError::Corrupt(format!("a row of {} ({}): {e}", table.name(), r.id)))
            })
            .collect()
    }

    /// [`VaultSlot::open`] of at most one row.
    ///
    /// # Errors
    /// As [`VaultSlot::open`].
    pub async fn open_one<T: DeserializeOwned>(&self, table: Table, row: Option<Sealed>) -> StoreResult<Option<T>> {
        Ok(self.open(table, row.into_iter().collect()).await?.pop())
    }

    /// Opens the payloads of journal entries read as they are stored.
    ///
    /// # Errors
    /// A payload that does not open; a missing key.
    pub async fn open_entries(&self, mut entries: Vec<crate::JournalEntry>) -> StoreResult<Vec<crate::JournalEntry>> {
        let owners: Vec<KeyOwner> = entries
            .iter()
            .filter(|e| e.payload.is_some())
            .map(|e| KeyOwner::of_chain(&e.chain))
            .collect::<StoreResult<_>>()?;
        let keys = self.keys(owners).await?;
        for e in &mut entries {
            if let Some(p) = &e.payload {
                e.payload = Some(keys.get(KeyOwner::of_chain(&e.chain)?)?.open_payload(e.chain_seq, p)?);
            }
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(owner: KeyOwner) -> RowKey {
        RowKey::new(owner, &Key::from_bytes([7; 32]))
    }

    #[test]
    fn a_sealed_row_opens_only_in_its_place_and_hides_its_content() {
        let t = TenantId::new();
        let k = key(KeyOwner::Tenant(t));
        let sealed = k.seal_row(Table::Users, "u1", br#"{"name":"canary"}"#);
        assert!(!sealed.windows(6).any(|w| w == b"canary"), "the content is not readable");
        assert_eq!(k.open_row(Table::Users, "u1", &sealed).expect("opens"), br#"{"name":"canary"}"#);
        assert!(k.open_row(Table::Users, "u2", &sealed).is_err(), "moved to another row");
        assert!(k.open_row(Table::Records, "u1", &sealed).is_err(), "moved to another table");
        assert!(key(KeyOwner::Tenant(TenantId::new())).open_row(Table::Users, "u1", &sealed).is_err(), "other tenant");
        assert!(key(KeyOwner::Provider).open_row(Table::Users, "u1", &sealed).is_err(), "the provider");
    }

    #[test]
    fn a_payload_opens_only_at_its_position_and_plain_json_is_read_as_stored() {
        let k = key(KeyOwner::Provider);
        let sealed = k.seal_payload(3, b"{}");
        assert_eq!(k.open_payload(3, &sealed).expect("opens"), b"{}");
        assert!(k.open_payload(4, &sealed).is_err(), "moved along the chain");
        assert_eq!(k.open_payload(9, b"{\"rows\":[]}").expect("legacy"), b"{\"rows\":[]}");
    }

    #[test]
    fn blind_indexes_meet_for_equal_values_only_under_one_key() {
        let t = KeyOwner::Tenant(TenantId::new());
        let (a, b) = (key(t), RowKey::new(t, &Key::from_bytes([8; 32])));
        assert_eq!(a.blind("email", "a@b.se"), a.blind("email", "a@b.se"));
        assert_ne!(a.blind("email", "a@b.se"), a.blind("email", "b@b.se"));
        assert_ne!(a.blind("email", "a@b.se"), a.blind("phone", "a@b.se"), "indexes do not meet");
        assert_ne!(a.blind("email", "a@b.se"), b.blind("email", "a@b.se"), "keys do not meet");
    }
}
