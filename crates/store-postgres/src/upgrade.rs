//! Sealing what an earlier release stored in clear (DESIGN.md, Sealed at
//! rest): rows whose image still holds JSON text and journal payloads still
//! holding plain JSON are rewritten sealed, table by table in key order, one
//! committed batch at a time. The cursor lives in memory: after a crash the
//! walk starts again from the first row and passes sealed ones quickly.
//!
//! Several instances may share the database, so a step reads its batch
//! first only to learn whose keys it needs, then seals under the write lock
//! what of that range is still plain, read again: a row another instance
//! changed in between (sealing it) is left as it is, and a payload erased
//! in between is not written back.

use std::sync::PoisonError;

use sqlx::PgConnection;
use valv_store::{KeyOwner, Row, StoreResult, Table};

use crate::entities::{self, Sealing};
use crate::{PgStore, backend, corrupt};

/// Whether the first byte of `image` is that of a JSON object: a value
/// stored before sealing (a sealed one starts with its format version).
const PLAIN: &str = "substring(image FROM 1 FOR 1) = '{'::BYTEA";

/// Where the walk stands: the table (an index into `Table::dumped`, then
/// the journal) and the key of the last row looked at: `(id, 0)`, a file
/// version's `(file_id, version)`, or `("", seq)` in the journal.
#[derive(Debug, Default, Clone)]
pub(crate) struct Cursor {
    table: usize,
    after: (String, i64),
}

/// The name the finished upgrade is recorded under in `schema_migrations`
/// (migration 0011 records it at once in a database with nothing to seal).
const DONE: &str = "0011_sealed_rows";

/// One step of `JournalStore::seal_stored`.
pub(crate) async fn seal_stored(store: &PgStore, batch: u32) -> StoreResult<Option<u64>> {
    let done: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)")
        .bind(DONE)
        .fetch_one(&store.pool)
        .await
        .map_err(backend)?;
    if done {
        return Ok(None);
    }
    let cursor = store.upgrade.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let tables: Vec<(Table, &str)> = Table::dumped().collect();
    let (seen, last) = match tables.get(cursor.table) {
        Some(&(table, order)) => seal_rows(store, (table, order), &cursor.after, batch).await?,
        None if cursor.table == tables.len() => seal_payloads(store, cursor.after.1, batch).await?,
        None => {
            sqlx::query("INSERT INTO schema_migrations (name) VALUES ($1) ON CONFLICT DO NOTHING")
                .bind(DONE)
                .execute(&store.pool)
                .await
                .map_err(backend)?;
            return Ok(None);
        }
    };
    let next = if seen < u64::from(batch) {
        Cursor { table: cursor.table + 1, after: (String::new(), 0) }
    } else {
        Cursor { after: last, ..cursor }
    };
    *store.upgrade.lock().unwrap_or_else(PoisonError::into_inner) = next;
    Ok(Some(seen))
}

/// How a table is walked: its key as a text and a number column, the
/// condition of a row after the key bound first, and of a row up to the
/// key bound next, each key bound as [`key_args`].
fn walk_of(table: Table) -> (&'static str, &'static str, &'static str) {
    match table {
        Table::FileVersions => {
            ("file_id, version", "(file_id, version) > ($1, $2::BIGINT)", "(file_id, version) <= ($3, $4::BIGINT)")
        }
        _ => ("id, 0::BIGINT", "id > $1", "id <= $2"),
    }
}

/// A row key of `table` as the arguments of [`walk_of`]'s conditions: the
/// id alone, or a file version's file and number.
fn key_args(table: Table, (text, number): &(String, i64)) -> Vec<String> {
    match table {
        Table::FileVersions => vec![text.clone(), number.to_string()],
        _ => vec![text.clone()],
    }
}

/// Seals the rows of `table` after `after` that still hold JSON text:
/// how many rows it looked at, and the key of the last.
async fn seal_rows(
    store: &PgStore,
    (table, order): (Table, &str),
    after: &(String, i64),
    batch: u32,
) -> StoreResult<(u64, (String, i64))> {
    let (key, after_sql, upto_sql) = walk_of(table);
    let sql = format!(
        "SELECT {}, {key}, {PLAIN} FROM {} WHERE {after_sql} ORDER BY {order} LIMIT {batch}",
        table.tenant_sql(),
        table.name()
    );
    let q = key_args(table, after).into_iter().fold(sqlx::query_as(&sql), |q, a| q.bind(a));
    let page: Vec<(Option<String>, String, i64, bool)> = q.fetch_all(&store.pool).await.map_err(backend)?;
    let seen = page.len() as u64;
    let Some((_, text, number, _)) = page.last() else { return Ok((0, after.clone())) };
    let last = (text.clone(), *number);
    let owners: Vec<KeyOwner> =
        page.iter().filter(|r| r.3).map(|r| KeyOwner::of_column(r.0.as_deref())).collect::<StoreResult<_>>()?;
    if owners.is_empty() {
        return Ok((seen, last));
    }
    let keys = store.vault.keys(owners).await?;
    let mut tx = store.write_tx().await?;
    let sql =
        format!("SELECT image FROM {} WHERE {after_sql} AND {upto_sql} AND {PLAIN} ORDER BY {order}", table.name());
    let args = key_args(table, after).into_iter().chain(key_args(table, &last));
    let plain: Vec<Vec<u8>> =
        args.fold(sqlx::query_scalar(&sql), |q, a| q.bind(a)).fetch_all(&mut *tx).await.map_err(backend)?;
    let mut sealing = Sealing::new(keys.clone());
    for json in plain {
        let row = table.decode(std::str::from_utf8(&json).map_err(corrupt)?)?;
        if let Row::FileVersion(v) = &row {
            // Versions are written once (a plain insert): the clear one goes first.
            delete_version(&mut tx, &v.file_id.to_string(), v.version).await?;
        }
        entities::upsert(&mut tx, &mut sealing, &row).await?;
    }
    tx.commit().await.map_err(backend)?;
    Ok((seen, last))
}

async fn delete_version(c: &mut PgConnection, file: &str, version: u32) -> StoreResult<()> {
    sqlx::query("DELETE FROM file_versions WHERE file_id = $1 AND version = $2")
        .bind(file)
        .bind(i64::from(version))
        .execute(c)
        .await
        .map_err(backend)
        .map(drop)
}

/// Seals journal payloads after `after` (a seq) that hold plain JSON.
async fn seal_payloads(store: &PgStore, after: i64, batch: u32) -> StoreResult<(u64, (String, i64))> {
    let plain = PLAIN.replace("image", "payload");
    let sql = format!("SELECT seq, chain, COALESCE({plain}, FALSE) FROM journal WHERE seq > $1 ORDER BY seq LIMIT $2");
    let page: Vec<(i64, String, bool)> =
        sqlx::query_as(&sql).bind(after).bind(i64::from(batch)).fetch_all(&store.pool).await.map_err(backend)?;
    let seen = page.len() as u64;
    let last = page.last().map_or(after, |r| r.0);
    let owners: Vec<KeyOwner> =
        page.iter().filter(|r| r.2).map(|r| KeyOwner::of_chain(&r.1)).collect::<StoreResult<_>>()?;
    if owners.is_empty() {
        return Ok((seen, (String::new(), last)));
    }
    let keys = store.vault.keys(owners).await?;
    let mut tx = store.write_tx().await?;
    let sql = format!("SELECT seq, chain, chain_seq, payload FROM journal WHERE seq > $1 AND seq <= $2 AND {plain}");
    let rows: Vec<(i64, String, i64, Vec<u8>)> =
        sqlx::query_as(&sql).bind(after).bind(last).fetch_all(&mut *tx).await.map_err(backend)?;
    let (mut seqs, mut sealed) = (Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()));
    for (seq, chain, chain_seq, payload) in rows {
        let key = keys.get(KeyOwner::of_chain(&chain)?)?;
        sealed.push(key.seal_payload(crate::uint(chain_seq)?, &payload));
        seqs.push(seq);
    }
    sqlx::query(
        "UPDATE journal j SET payload = u.payload FROM UNNEST($1::BIGINT[], $2::BYTEA[]) AS u (seq, payload)
         WHERE j.seq = u.seq",
    )
    .bind(seqs)
    .bind(sealed)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok((seen, (String::new(), last)))
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;
    use valv_domain::{Email, RecordId};
    use valv_store::prelude::*;
    use valv_store::{Filter, KeyOwner, Op, RecordQuery, RecordRow, Row, RowImage, RowKeys, Table};

    use crate::PgStore;

    /// Writes `row` as a release before sealing did: its JSON text in
    /// `row_json`, every column in clear.
    async fn put_clear(pool: &PgPool, row: &Row) {
        let image = RowImage::new(row).expect("image");
        let (into, values, mut args) = match image.keys.clone() {
            RowKeys::Tenant { id, slug } => ("tenants (id, slug", "$1, $2", vec![id, slug]),
            RowKeys::User { id, tenant_id, email_norm } => {
                ("users (id, tenant_id, email_norm", "$1, $2, $3", vec![id, tenant_id, email_norm])
            }
            RowKeys::Collection { id, tenant_id, name } => {
                ("collections (id, tenant_id, name", "$1, $2, $3", vec![id, tenant_id, name])
            }
            RowKeys::Record { id, tenant_id, collection_id, deleted } => (
                "records (id, tenant_id, collection_id, deleted",
                "$1, $2, $3, $4::BOOLEAN",
                vec![id, tenant_id, collection_id, deleted.to_string()],
            ),
            RowKeys::File { id, tenant_id, folder, name, deleted } => (
                "files (id, tenant_id, folder, name, deleted",
                "$1, $2, $3, $4, $5::BOOLEAN",
                vec![id, tenant_id, folder, name, deleted.to_string()],
            ),
            RowKeys::FileVersion { file_id, version, tenant_id, size } => (
                "file_versions (file_id, version, tenant_id, size",
                "$1, $2::BIGINT, $3, $4::BIGINT",
                vec![file_id, version.to_string(), tenant_id, size.to_string()],
            ),
            other => panic!("not written here: {other:?}"),
        };
        let n = args.len() + 1;
        args.push(image.json);
        let sql = format!("INSERT INTO {into}, row_json) VALUES ({values}, ${n})");
        args.into_iter().fold(sqlx::query(&sql), |q, a| q.bind(a)).execute(pool).await.expect("clear row");
    }

    fn record(tenant: &valv_store::TenantRow, collection: &valv_store::CollectionRow, email: &str) -> Row {
        Row::Record(RecordRow {
            id: RecordId::new(),
            tenant_id: tenant.id,
            collection_id: collection.id,
            revision: 1,
            data: serde_json::json!({ "email": email, "n": 1 }),
            deleted_at: None,
            created_at: tenant.created_at,
            created_by: "cli".into(),
            updated_at: tenant.created_at,
            updated_by: "cli".into(),
        })
    }

    /// How many values of `column` in `table` still hold plain JSON.
    async fn plain(pool: &PgPool, table: &str, column: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE substring({column} FROM 1 FOR 1) = '{{'::BYTEA");
        sqlx::query_scalar(&sql).fetch_one(pool).await.expect("count")
    }

    #[tokio::test]
    async fn rows_and_payloads_of_an_earlier_release_are_sealed_in_steps_without_changing_the_state() {
        let url = valv_testkit::postgres();
        let pool = crate::conn::pool(&url, 2).await.expect("pool");
        crate::migrate::apply(&pool, &crate::migrate::MIGRATIONS[..10]).await.expect("an earlier release's schema");
        let t = valv_store::contract::tenant("sealed-later");
        let user = valv_store::contract::user(t.id, "Ann@Example.se");
        let fields = serde_json::from_value(serde_json::json!([
            { "name": "email", "type": "email", "personal": "contact" },
            { "name": "n", "type": "number" }
        ]))
        .expect("fields");
        let c = valv_store::CollectionRow { fields, ..valv_store::contract::collection(t.id, "contacts") };
        let file = valv_store::contract::file(t.id, "/docs", "a.txt");
        let mut rows = vec![Row::Tenant(t.clone()), Row::User(user.clone()), Row::Collection(c.clone())];
        rows.extend(["a@x.se", "b@x.se", "c@x.se"].map(|e| record(&t, &c, e)));
        rows.push(Row::File(file.clone()));
        rows.extend([1, 2, 3].map(|v| Row::FileVersion(valv_store::contract::version(&file, v, &["k1"]))));
        for row in &rows {
            put_clear(&pool, row).await;
        }
        let tag = c.id.to_string().replace('-', "");
        let old_index = format!("records_{tag}_email_ci");
        sqlx::query(&format!(
            "CREATE INDEX \"{old_index}\" ON records (collection_id, (lower(((row_json::json)->'data'->>'email') COLLATE \"C\")))"
        ))
        .execute(&pool)
        .await
        .expect("a field index of the earlier release");
        sqlx::query(
            "INSERT INTO journal (seq, chain, chain_seq, at, actor, action, entity, entity_id, payload, payload_hash,
               prev_hash, hash) VALUES (1, $1, 1, 'at', 'cli', 'record_created', 'record', 'r', $2, 'h', 'p', 'x')",
        )
        .bind(t.id.to_string())
        .bind(br#"{"rows":[],"detail":null}"#.as_slice())
        .execute(&pool)
        .await
        .expect("a payload in clear");

        let store = PgStore::connect(&url).await.expect("migrates to sealed rows");
        store.seal_with(valv_store::contract::vault());
        let gone: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NULL")
            .bind(&old_index)
            .fetch_one(&pool)
            .await
            .expect("index");
        assert!(gone, "the index on a field in clear is dropped");
        assert_eq!(store.tenant(t.id).await.expect("tenant"), Some(t.clone()), "a clear row reads as it is");
        assert_eq!(store.user(t.id, user.id).await.expect("user"), Some(user.clone()));
        let before = store.state_digest().await.expect("digest before");

        let mut steps = 0;
        while let Some(seen) = store.seal_stored(2).await.expect("a step") {
            assert!(seen <= 2, "a step looks at a batch at most");
            steps += 1;
            assert!(steps < 100, "the walk ends");
        }
        assert_eq!(store.seal_stored(2).await.expect("done"), None, "and stays done");
        for (table, _) in Table::dumped() {
            assert_eq!(plain(&pool, table.name(), "image").await, 0, "{} is sealed", table.name());
        }
        assert_eq!(plain(&pool, "journal", "payload").await, 0, "the payload is sealed");
        assert_eq!(store.state_digest().await.expect("digest after").digest, before.digest, "no content changed");

        let email = Email::parse("ann@example.se").expect("email");
        assert_eq!(
            store.user_by_email(t.id, &email).await.expect("by email"),
            Some(user.clone()),
            "by its blind index"
        );
        assert_eq!(store.collection_by_name(t.id, "contacts").await.expect("by name").map(|c| c.id), Some(c.id));
        let q = RecordQuery {
            filters: vec![Filter { field: "email".into(), op: Op::EqNoCase, value: "B@X.se".into() }],
            limit: 10,
            ..RecordQuery::default()
        };
        let found = store.records(t.id, c.id, &q).await.expect("records");
        assert_eq!(found.len(), 1, "a record is found by its search column");
        assert_eq!(store.file_versions(t.id, file.id).await.expect("versions").len(), 3);
        let key = store.vault.key(KeyOwner::Tenant(t.id)).await.expect("key");
        let stored: String = sqlx::query_scalar("SELECT email_norm FROM users WHERE id = $1")
            .bind(user.id.to_string())
            .fetch_one(&pool)
            .await
            .expect("column");
        assert_eq!(stored, key.blind("email", "ann@example.se"), "the address is stored blind");
    }
}
