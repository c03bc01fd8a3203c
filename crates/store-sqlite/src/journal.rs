//! The journal tables: append inside the change's transaction, read with
//! filters, and read whole chains for verification. With a single writer the
//! rowid order is the commit order, so `seq` never skips a late commit.

use rusqlite::{Connection, OptionalExtension as _, Transaction, params};
use valv_domain::stamp;
use valv_store::journal::next_entry;
use valv_store::{ChainHead, Change, HistoryItem, JournalEntry, JournalQuery, KeyOwner, Keys, StoreResult};

use crate::SqliteStore;
use crate::backend;
use valv_domain::TenantId;
use valv_store::Chain;
use valv_store::JournalStore;

/// The journal's columns, as a literal so that statements are built at compile time.
macro_rules! columns {
    () => {
        "seq, chain, chain_seq, at, actor, action, entity, entity_id, payload, payload_hash, prev_hash, hash"
    };
}

pub(crate) const COLUMNS: &str = columns!();

pub(crate) fn append(tx: &Transaction<'_>, keys: &Keys, change: &Change) -> StoreResult<JournalEntry> {
    let key = change.chain.key();
    let head = head(tx, &key)?;
    let next_seq: u64 = tx
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM journal")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(backend)?;
    let e = next_entry(change, head.as_ref(), next_seq);
    insert(tx, keys, &e)?;
    set_head(tx, &e.chain, e.chain_seq, &e.hash)?;
    Ok(e)
}

/// Writes an entry, its payload sealed with its chain's key; its chain's
/// head is moved by the caller (`set_head`), once per chain for a batch.
pub(crate) fn insert(tx: &Transaction<'_>, keys: &Keys, e: &JournalEntry) -> StoreResult<()> {
    let payload = match &e.payload {
        Some(p) => Some(keys.get(KeyOwner::of_chain(&e.chain)?)?.seal_payload(e.chain_seq, p)),
        None => None,
    };
    crate::entities::run(
        tx,
        concat!("INSERT INTO journal (", columns!(), ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
        params![
            e.seq,
            e.chain,
            e.chain_seq,
            e.at,
            e.actor,
            e.action,
            e.entity,
            e.entity_id,
            payload,
            e.payload_hash,
            e.prev_hash,
            e.hash
        ],
    )
    .map_err(backend)?;
    Ok(())
}

/// Moves a chain's head to the entry at `chain_seq`.
pub(crate) fn set_head(c: &Connection, chain: &str, chain_seq: u64, hash: &str) -> StoreResult<()> {
    crate::entities::run(
        c,
        "INSERT OR REPLACE INTO journal_heads (chain, chain_seq, hash) VALUES (?1, ?2, ?3)",
        params![chain, chain_seq, hash],
    )
    .map_err(backend)
    .map(drop)
}

fn head(c: &Connection, key: &str) -> StoreResult<Option<ChainHead>> {
    c.prepare_cached("SELECT chain_seq, hash FROM journal_heads WHERE chain = ?1")
        .and_then(|mut s| s.query_row([key], |r| Ok(ChainHead { chain_seq: r.get(0)?, hash: r.get(1)? })).optional())
        .map_err(backend)
}

pub(crate) fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<JournalEntry> {
    Ok(JournalEntry {
        seq: r.get(0)?,
        chain: r.get(1)?,
        chain_seq: r.get(2)?,
        at: r.get(3)?,
        actor: r.get(4)?,
        action: r.get(5)?,
        entity: r.get(6)?,
        entity_id: r.get(7)?,
        payload: r.get(8)?,
        payload_hash: r.get(9)?,
        prev_hash: r.get(10)?,
        hash: r.get(11)?,
    })
}

pub(crate) fn query(c: &Connection, key: &str, q: &JournalQuery) -> StoreResult<Vec<JournalEntry>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM journal
         WHERE chain = ?1 AND (?2 IS NULL OR actor = ?2) AND (?3 IS NULL OR action = ?3)
           AND (?4 IS NULL OR at >= ?4) AND (?5 IS NULL OR at <= ?5) AND (?6 IS NULL OR chain_seq < ?6)
         ORDER BY chain_seq DESC LIMIT ?7"
    );
    let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
    let rows = stmt
        .query_map(params![key, q.actor, q.action, q.from.map(stamp), q.to.map(stamp), q.before, q.limit], entry)
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

/// [`COLUMNS`] with `NULL` for the payload: `entry` reads it as `None`.
const LINK_COLUMNS: &str =
    "seq, chain, chain_seq, at, actor, action, entity, entity_id, NULL, payload_hash, prev_hash, hash";

/// A page of a chain, with payloads or without.
pub(crate) fn chain_page(
    c: &Connection,
    key: &str,
    after: u64,
    limit: u32,
    payloads: bool,
) -> StoreResult<Vec<JournalEntry>> {
    let columns = if payloads { COLUMNS } else { LINK_COLUMNS };
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {columns} FROM journal WHERE chain = ?1 AND chain_seq > ?2 ORDER BY chain_seq LIMIT ?3"
        ))
        .map_err(backend)?;
    let rows = stmt.query_map(params![key, after, limit], entry).map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

pub(crate) fn heads(c: &Connection) -> StoreResult<Vec<(String, ChainHead)>> {
    let mut stmt =
        c.prepare_cached("SELECT chain, chain_seq, hash FROM journal_heads ORDER BY chain").map_err(backend)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, ChainHead { chain_seq: r.get(1)?, hash: r.get(2)? })))
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

pub(crate) fn keys(c: &Connection) -> StoreResult<Vec<String>> {
    let mut stmt = c
        .prepare_cached("SELECT chain FROM journal UNION SELECT chain FROM journal_heads ORDER BY 1")
        .map_err(backend)?;
    let rows = stmt.query_map([], |r| r.get(0)).map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

pub(crate) fn history(c: &Connection, chain: &str, entity: &str, id: &str) -> StoreResult<Vec<JournalEntry>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM journal WHERE chain = ?1 AND entity = ?2 AND entity_id = ?3 ORDER BY seq"
        ))
        .map_err(backend)?;
    let rows = stmt.query_map([chain, entity, id], entry).map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

/// Histories of many entities: one range scan over the entity index from the
/// smallest to the largest id, keeping the asked ones. The export asks for a
/// page of consecutive ids, so the range holds little else; one scan reads
/// each index page once where a lookup per id descended the tree every time.
pub(crate) fn histories(c: &Connection, chain: &str, entity: &str, ids: &[String]) -> StoreResult<Vec<HistoryItem>> {
    let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    let (Some(first), Some(last)) = (wanted.iter().min(), wanted.iter().max()) else { return Ok(Vec::new()) };
    let mut stmt = c
        .prepare_cached(
            "SELECT entity_id, chain_seq, payload FROM journal \
             WHERE chain = ?1 AND entity = ?2 AND entity_id BETWEEN ?3 AND ?4 ORDER BY entity_id, seq",
        )
        .map_err(backend)?;
    let mut rows = stmt.query(params![chain, entity, first, last]).map_err(backend)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(backend)? {
        // Compared before anything is copied: the range holds ids not asked for.
        let id = r.get_ref(0).and_then(|v| v.as_str().map_err(Into::into)).map_err(backend)?;
        if wanted.contains(id) {
            let item = HistoryItem {
                entity_id: id.to_owned(),
                chain_seq: r.get(1).map_err(backend)?,
                payload: r.get(2).map_err(backend)?,
            };
            out.push(item);
        }
    }
    Ok(out)
}

#[async_trait::async_trait]
impl JournalStore for SqliteStore {
    async fn commit_all(&self, changes: Vec<Change>) -> StoreResult<Vec<JournalEntry>> {
        self.apply(changes).await
    }

    async fn commit_from(&self, source: valv_store::ChangeSource) -> StoreResult<u64> {
        self.apply_from(source).await
    }

    fn seal_with(&self, vault: std::sync::Arc<dyn valv_store::Vault>) {
        self.vault.set(vault);
    }

    async fn seal_stored(&self, batch: u32) -> StoreResult<Option<u64>> {
        crate::upgrade::seal_stored(self, batch).await
    }

    async fn journal(&self, chain: Chain, query: &JournalQuery) -> StoreResult<Vec<JournalEntry>> {
        let q = query.clone();
        let entries = self.read(move |c| self::query(c, &chain.key(), &q)).await?;
        self.vault.open_entries(entries).await
    }

    async fn chain_heads(&self) -> StoreResult<Vec<(String, ChainHead)>> {
        self.read(heads).await
    }

    async fn chain_page(&self, key: &str, after: u64, limit: u32) -> StoreResult<Vec<JournalEntry>> {
        let key = key.to_owned();
        let entries = self.read(move |c| chain_page(c, &key, after, limit, true)).await?;
        self.vault.open_entries(entries).await
    }

    async fn chain_links(&self, key: &str, after: u64, limit: u32) -> StoreResult<Vec<JournalEntry>> {
        let key = key.to_owned();
        self.read(move |c| chain_page(c, &key, after, limit, false)).await
    }

    async fn chain_keys(&self) -> StoreResult<Vec<String>> {
        self.read(keys).await
    }

    async fn history(&self, tenant: TenantId, entity: &str, entity_id: &str) -> StoreResult<Vec<JournalEntry>> {
        let (entity, id) = (entity.to_owned(), entity_id.to_owned());
        let entries = self.read(move |c| history(c, &tenant.to_string(), &entity, &id)).await?;
        self.vault.open_entries(entries).await
    }

    async fn histories(&self, tenant: TenantId, entity: &str, ids: Vec<String>) -> StoreResult<Vec<HistoryItem>> {
        let entity = entity.to_owned();
        let key = self.vault.key(KeyOwner::Tenant(tenant)).await?;
        let mut items = self.read(move |c| histories(c, &tenant.to_string(), &entity, &ids)).await?;
        for item in &mut items {
            if let Some(p) = &item.payload {
                item.payload = Some(key.open_payload(item.chain_seq, p)?);
            }
        }
        Ok(items)
    }
}
