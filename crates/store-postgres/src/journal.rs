//! The journal tables: append inside the change's transaction, read with
//! filters, and read whole chains for verification. Appends run under the
//! write lock (see `conn`), so `MAX(seq) + 1` is never taken twice and a
//! `seq` becomes visible only after every smaller one.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use futures::TryStreamExt as _;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row as _};
use valv_domain::stamp;
use valv_store::journal::next_entry;
use valv_store::{ChainHead, Change, HistoryItem, JournalEntry, JournalQuery, KeyOwner, Keys, StoreResult};

use crate::PgStore;
use crate::{backend, int, uint};
use valv_domain::TenantId;
use valv_store::Chain;
use valv_store::JournalStore;

pub(crate) const COLUMNS: &str =
    "seq, chain, chain_seq, at, actor, action, entity, entity_id, payload, payload_hash, prev_hash, hash";

/// [`COLUMNS`] with `NULL` for the payload: [`entry`] reads it as `None`.
const LINK_COLUMNS: &str =
    "seq, chain, chain_seq, at, actor, action, entity, entity_id, NULL::BYTEA, payload_hash, prev_hash, hash";

/// Appends the entries of one write transaction. It reads the newest `seq`
/// and each chain's head once and keeps them, so a batch of changes costs
/// one statement per entry.
pub(crate) struct Appender {
    next_seq: u64,
    heads: HashMap<String, Option<ChainHead>>,
}

impl Appender {
    /// Must run after the write lock was taken.
    pub(crate) async fn new(c: &mut PgConnection) -> StoreResult<Self> {
        Ok(Self { next_seq: last_seq(c).await? + 1, heads: HashMap::new() })
    }

    pub(crate) async fn append(
        &mut self,
        c: &mut PgConnection,
        keys: &Keys,
        change: &Change,
    ) -> StoreResult<JournalEntry> {
        let head = match self.heads.entry(change.chain.key()) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => {
                let head = head(c, v.key()).await?;
                v.insert(head)
            }
        };
        let e = next_entry(change, head.as_ref(), self.next_seq);
        insert(c, keys, &e).await?;
        *head = Some(ChainHead { chain_seq: e.chain_seq, hash: e.hash.clone() });
        self.next_seq += 1;
        Ok(e)
    }
}

/// The newest `seq` (0 for an empty journal).
pub(crate) async fn last_seq(c: &mut PgConnection) -> StoreResult<u64> {
    let seq: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM journal").fetch_one(c).await.map_err(backend)?;
    uint(seq)
}

/// The payload of `e` sealed with its chain's key, as it is stored.
fn sealed_payload(keys: &Keys, e: &JournalEntry) -> StoreResult<Option<Vec<u8>>> {
    e.payload.as_deref().map(|p| Ok(keys.get(KeyOwner::of_chain(&e.chain)?)?.seal_payload(e.chain_seq, p))).transpose()
}

/// Writes an entry, its payload sealed with its chain's key, and moves its
/// chain's head to it, in one statement.
pub(crate) async fn insert(c: &mut PgConnection, keys: &Keys, e: &JournalEntry) -> StoreResult<()> {
    let payload = sealed_payload(keys, e)?;
    sqlx::query(&format!(
        "WITH entry AS (
           INSERT INTO journal ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         )
         INSERT INTO journal_heads (chain, chain_seq, hash) VALUES ($2, $3, $12)
         ON CONFLICT (chain) DO UPDATE SET chain_seq = excluded.chain_seq, hash = excluded.hash"
    ))
    .bind(int(e.seq))
    .bind(&e.chain)
    .bind(int(e.chain_seq))
    .bind(&e.at)
    .bind(&e.actor)
    .bind(&e.action)
    .bind(&e.entity)
    .bind(&e.entity_id)
    .bind(payload)
    .bind(&e.payload_hash)
    .bind(&e.prev_hash)
    .bind(&e.hash)
    .execute(c)
    .await
    .map_err(backend)?;
    Ok(())
}

/// Writes entries, payloads sealed with their chains' keys, a thousand per
/// statement (restores); chain heads are set apart ([`set_head`]).
pub(crate) async fn insert_all(c: &mut PgConnection, keys: &Keys, entries: &[JournalEntry]) -> StoreResult<()> {
    for batch in entries.chunks(1_000) {
        let payloads = batch.iter().map(|e| sealed_payload(keys, e)).collect::<StoreResult<Vec<_>>>()?;
        let text = |f: fn(&JournalEntry) -> &str| batch.iter().map(|e| f(e).to_owned()).collect::<Vec<String>>();
        let ints = |f: fn(&JournalEntry) -> u64| batch.iter().map(|e| int(f(e))).collect::<Vec<i64>>();
        sqlx::query(&format!(
            "INSERT INTO journal ({COLUMNS}) SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::BIGINT[],
               $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::BYTEA[], $10::TEXT[], $11::TEXT[],
               $12::TEXT[])"
        ))
        .bind(ints(|e| e.seq))
        .bind(text(|e| &e.chain))
        .bind(ints(|e| e.chain_seq))
        .bind(text(|e| &e.at))
        .bind(text(|e| &e.actor))
        .bind(text(|e| &e.action))
        .bind(text(|e| &e.entity))
        .bind(text(|e| &e.entity_id))
        .bind(payloads)
        .bind(text(|e| &e.payload_hash))
        .bind(text(|e| &e.prev_hash))
        .bind(text(|e| &e.hash))
        .persistent(false)
        .execute(&mut *c)
        .await
        .map_err(backend)?;
    }
    Ok(())
}

/// Moves a chain's head.
pub(crate) async fn set_head(c: &mut PgConnection, chain: &str, chain_seq: u64, hash: &str) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO journal_heads (chain, chain_seq, hash) VALUES ($1, $2, $3)
         ON CONFLICT (chain) DO UPDATE SET chain_seq = excluded.chain_seq, hash = excluded.hash",
    )
    .bind(chain)
    .bind(int(chain_seq))
    .bind(hash)
    .execute(c)
    .await
    .map_err(backend)?;
    Ok(())
}

async fn head(c: &mut PgConnection, key: &str) -> StoreResult<Option<ChainHead>> {
    let row: Option<(i64, String)> = sqlx::query_as("SELECT chain_seq, hash FROM journal_heads WHERE chain = $1")
        .bind(key)
        .fetch_optional(c)
        .await
        .map_err(backend)?;
    row.map(|(chain_seq, hash)| Ok(ChainHead { chain_seq: uint(chain_seq)?, hash })).transpose()
}

/// An entry from a row of [`COLUMNS`].
pub(crate) fn entry(r: &PgRow) -> StoreResult<JournalEntry> {
    let get = |e| backend(e);
    Ok(JournalEntry {
        seq: uint(r.try_get(0).map_err(get)?)?,
        chain: r.try_get(1).map_err(get)?,
        chain_seq: uint(r.try_get(2).map_err(get)?)?,
        at: r.try_get(3).map_err(get)?,
        actor: r.try_get(4).map_err(get)?,
        action: r.try_get(5).map_err(get)?,
        entity: r.try_get(6).map_err(get)?,
        entity_id: r.try_get(7).map_err(get)?,
        payload: r.try_get(8).map_err(get)?,
        payload_hash: r.try_get(9).map_err(get)?,
        prev_hash: r.try_get(10).map_err(get)?,
        hash: r.try_get(11).map_err(get)?,
    })
}

/// Every entry of a query returning [`COLUMNS`].
pub(crate) fn entries(rows: &[PgRow]) -> StoreResult<Vec<JournalEntry>> {
    rows.iter().map(entry).collect()
}

pub(crate) async fn query(pool: &PgPool, key: &str, q: &JournalQuery) -> StoreResult<Vec<JournalEntry>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM journal
         WHERE chain = $1 AND ($2::TEXT IS NULL OR actor = $2) AND ($3::TEXT IS NULL OR action = $3)
           AND ($4::TEXT IS NULL OR at >= $4) AND ($5::TEXT IS NULL OR at <= $5)
           AND ($6::BIGINT IS NULL OR chain_seq < $6)
         ORDER BY chain_seq DESC LIMIT $7"
    );
    let rows = sqlx::query(&sql)
        .bind(key)
        .bind(q.actor.as_deref())
        .bind(q.action.as_deref())
        .bind(q.from.map(stamp))
        .bind(q.to.map(stamp))
        .bind(q.before.map(int))
        .bind(i64::from(q.limit))
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    entries(&rows)
}

/// A page of a chain, with payloads or without.
pub(crate) async fn chain_page(
    pool: &PgPool,
    key: &str,
    after: u64,
    limit: u32,
    payloads: bool,
) -> StoreResult<Vec<JournalEntry>> {
    let columns = if payloads { COLUMNS } else { LINK_COLUMNS };
    let sql = format!("SELECT {columns} FROM journal WHERE chain = $1 AND chain_seq > $2 ORDER BY chain_seq LIMIT $3");
    let rows =
        sqlx::query(&sql).bind(key).bind(int(after)).bind(i64::from(limit)).fetch_all(pool).await.map_err(backend)?;
    entries(&rows)
}

/// Every chain head, by chain key.
pub(crate) async fn heads(c: &mut PgConnection) -> StoreResult<Vec<(String, ChainHead)>> {
    let rows: Vec<(String, i64, String)> =
        sqlx::query_as("SELECT chain, chain_seq, hash FROM journal_heads ORDER BY chain")
            .fetch_all(c)
            .await
            .map_err(backend)?;
    rows.into_iter().map(|(chain, seq, hash)| Ok((chain, ChainHead { chain_seq: uint(seq)?, hash }))).collect()
}

pub(crate) async fn keys(pool: &PgPool) -> StoreResult<Vec<String>> {
    sqlx::query_scalar("SELECT chain FROM journal UNION SELECT chain FROM journal_heads ORDER BY 1")
        .fetch_all(pool)
        .await
        .map_err(backend)
}

pub(crate) async fn history(pool: &PgPool, chain: &str, entity: &str, id: &str) -> StoreResult<Vec<JournalEntry>> {
    let sql = format!("SELECT {COLUMNS} FROM journal WHERE chain = $1 AND entity = $2 AND entity_id = $3 ORDER BY seq");
    let rows = sqlx::query(&sql).bind(chain).bind(entity).bind(id).fetch_all(pool).await.map_err(backend)?;
    entries(&rows)
}

/// Histories of many entities: one range scan over the entity index from the
/// smallest to the largest id, keeping the asked ones (the export asks for a
/// page of consecutive ids, so the range holds little else).
pub(crate) async fn histories(
    pool: &PgPool,
    chain: &str,
    entity: &str,
    ids: &[String],
) -> StoreResult<Vec<HistoryItem>> {
    let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    let (Some(first), Some(last)) = (wanted.iter().min(), wanted.iter().max()) else { return Ok(Vec::new()) };
    let mut rows = sqlx::query(
        "SELECT entity_id, chain_seq, payload FROM journal
         WHERE chain = $1 AND entity = $2 AND entity_id BETWEEN $3 AND $4 ORDER BY entity_id, seq",
    )
    .bind(chain)
    .bind(entity)
    .bind(*first)
    .bind(*last)
    .fetch(pool);
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await.map_err(backend)? {
        // Compared before anything is copied: the range holds ids not asked for.
        let id: &str = r.try_get(0).map_err(backend)?;
        if wanted.contains(id) {
            let item = HistoryItem {
                entity_id: id.to_owned(),
                chain_seq: uint(r.try_get(1).map_err(backend)?)?,
                payload: r.try_get(2).map_err(backend)?,
            };
            out.push(item);
        }
    }
    Ok(out)
}

#[async_trait::async_trait]
impl JournalStore for PgStore {
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
        let entries = self::query(&self.pool, &chain.key(), query).await?;
        self.vault.open_entries(entries).await
    }

    async fn chain_heads(&self) -> StoreResult<Vec<(String, ChainHead)>> {
        let mut c = self.pool.acquire().await.map_err(backend)?;
        heads(&mut c).await
    }

    async fn chain_page(&self, key: &str, after: u64, limit: u32) -> StoreResult<Vec<JournalEntry>> {
        let entries = chain_page(&self.pool, key, after, limit, true).await?;
        self.vault.open_entries(entries).await
    }

    async fn chain_links(&self, key: &str, after: u64, limit: u32) -> StoreResult<Vec<JournalEntry>> {
        chain_page(&self.pool, key, after, limit, false).await
    }

    async fn chain_keys(&self) -> StoreResult<Vec<String>> {
        keys(&self.pool).await
    }

    async fn history(&self, tenant: TenantId, entity: &str, entity_id: &str) -> StoreResult<Vec<JournalEntry>> {
        let entries = history(&self.pool, &tenant.to_string(), entity, entity_id).await?;
        self.vault.open_entries(entries).await
    }

    async fn histories(&self, tenant: TenantId, entity: &str, ids: Vec<String>) -> StoreResult<Vec<HistoryItem>> {
        let key = self.vault.key(KeyOwner::Tenant(tenant)).await?;
        let mut items = histories(&self.pool, &tenant.to_string(), entity, &ids).await?;
        for item in &mut items {
            if let Some(p) = &item.payload {
                item.payload = Some(key.open_payload(item.chain_seq, p)?);
            }
        }
        Ok(items)
    }
}
