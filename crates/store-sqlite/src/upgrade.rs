//! Sealing what an earlier release stored in clear (DESIGN.md, Sealed at
//! rest): rows still holding JSON text and journal payloads still holding
//! plain JSON are rewritten sealed, table by table in rowid order, one
//! committed batch at a time. The cursor lives in memory: after a crash the
//! walk starts again from the first row and passes sealed ones quickly.

use rusqlite::params;
use valv_store::{KeyOwner, Row, StoreResult, Table};

use crate::{SqliteStore, backend, entities};

/// Where the walk stands: the table (an index into `Table::dumped`, then
/// the journal) and the last rowid or seq looked at.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Cursor {
    table: usize,
    after: i64,
}

/// The name the finished upgrade is recorded under in `schema_migrations`
/// (migration 0011 records it at once in a database with nothing to seal).
const DONE: &str = "0011_sealed_rows";

/// One step of `JournalStore::seal_stored`.
pub(crate) async fn seal_stored(store: &SqliteStore, batch: u32) -> StoreResult<Option<u64>> {
    let done = store.read(|c| {
        c.query_row("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = ?1)", [DONE], |r| r.get::<_, bool>(0))
            .map_err(backend)
    });
    if done.await? {
        return Ok(None);
    }
    let cursor = *store.upgrade.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let tables: Vec<Table> = Table::dumped().map(|(t, _)| t).collect();
    let (seen, last) = match tables.get(cursor.table) {
        Some(&table) => seal_rows(store, table, cursor.after, batch).await?,
        None if cursor.table == tables.len() => seal_payloads(store, cursor.after, batch).await?,
        None => {
            // The rows in clear are gone from the file (secure_delete); the
            // WAL's older page images go with the checkpoint.
            store
                .write(|c| {
                    c.execute("INSERT OR IGNORE INTO schema_migrations (name) VALUES (?1)", [DONE]).map_err(backend)?;
                    crate::conn::truncate_wal(c)
                })
                .await?;
            return Ok(None);
        }
    };
    let next = if seen < u64::from(batch) {
        Cursor { table: cursor.table + 1, after: 0 }
    } else {
        Cursor { after: last, ..cursor }
    };
    *store.upgrade.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = next;
    Ok(Some(seen))
}

/// Seals the rows of `table` after rowid `after` that hold JSON text: how
/// many rows it looked at, and the rowid of the last. The batch is read
/// first only to learn whose keys it needs; what of it is still plain is
/// read again inside the writer's transaction, so a row another process
/// wrote in between (sealed) is left as it is.
async fn seal_rows(store: &SqliteStore, table: Table, after: i64, batch: u32) -> StoreResult<(u64, i64)> {
    let sql = format!(
        "SELECT rowid, {}, typeof(image) = 'text' FROM {} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
        table.tenant_sql(),
        table.name()
    );
    let page: Vec<(i64, Option<String>, bool)> = store
        .read(move |c| {
            let mut q = c.prepare(&sql).map_err(backend)?;
            let rows = q.query_map(params![after, batch], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)));
            rows.map_err(backend)?.collect::<Result<_, _>>().map_err(backend)
        })
        .await?;
    let (seen, last) = (page.len() as u64, page.last().map_or(after, |r| r.0));
    let owners =
        page.iter().filter(|r| r.2).map(|r| KeyOwner::of_column(r.1.as_deref())).collect::<StoreResult<Vec<_>>>()?;
    if owners.is_empty() {
        return Ok((seen, last));
    }
    let keys = store.vault.keys(owners).await?;
    store
        .write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(backend)?;
            let sql = format!(
                "SELECT rowid, image FROM {} WHERE rowid > ?1 AND rowid <= ?2 AND typeof(image) = 'text'",
                table.name()
            );
            let plain: Vec<(i64, String)> = {
                let mut q = tx.prepare(&sql).map_err(backend)?;
                let rows = q.query_map(params![after, last], |r| Ok((r.get(0)?, r.get(1)?))).map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)?
            };
            let mut sealing = entities::Sealing::new(keys.clone());
            for (rowid, json) in &plain {
                let row = table.decode(json)?;
                if let Row::FileVersion(_) = row {
                    // Versions are written once (a plain insert): the clear one goes first.
                    tx.execute("DELETE FROM file_versions WHERE rowid = ?1", [rowid]).map_err(backend)?;
                }
                entities::upsert(&tx, &mut sealing, &row)?;
            }
            tx.commit().map_err(backend)
        })
        .await?;
    Ok((seen, last))
}

/// Seals journal payloads after `after` (a seq) that hold plain JSON, read
/// again in the writer's transaction as rows are.
async fn seal_payloads(store: &SqliteStore, after: i64, batch: u32) -> StoreResult<(u64, i64)> {
    const PLAIN: &str = "payload IS NOT NULL AND substr(payload, 1, 1) = CAST('{' AS BLOB)";
    let page: Vec<(i64, String, bool)> = store
        .read(move |c| {
            let sql =
                format!("SELECT seq, chain, COALESCE({PLAIN}, 0) FROM journal WHERE seq > ?1 ORDER BY seq LIMIT ?2");
            let mut q = c.prepare(&sql).map_err(backend)?;
            let rows =
                q.query_map(params![after, batch], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await?;
    let (seen, last) = (page.len() as u64, page.last().map_or(after, |r| r.0));
    let owners = page.iter().filter(|r| r.2).map(|r| KeyOwner::of_chain(&r.1)).collect::<StoreResult<Vec<_>>>()?;
    if owners.is_empty() {
        return Ok((seen, last));
    }
    let keys = store.vault.keys(owners).await?;
    store
        .write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(backend)?;
            let sql =
                format!("SELECT seq, chain, chain_seq, payload FROM journal WHERE seq > ?1 AND seq <= ?2 AND {PLAIN}");
            let plain: Vec<(i64, String, u64, Vec<u8>)> = {
                let mut q = tx.prepare(&sql).map_err(backend)?;
                let rows = q.query_map(params![after, last], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)));
                rows.map_err(backend)?.collect::<Result<_, _>>().map_err(backend)?
            };
            for (seq, chain, chain_seq, payload) in &plain {
                let sealed = keys.get(KeyOwner::of_chain(chain)?)?.seal_payload(*chain_seq, payload);
                tx.execute("UPDATE journal SET payload = ?1 WHERE seq = ?2", params![sealed, seq]).map_err(backend)?;
            }
            tx.commit().map_err(backend)
        })
        .await?;
    Ok((seen, last))
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;
    use valv_domain::{Email, RecordId};
    use valv_store::prelude::*;
    use valv_store::{Filter, Op, RecordQuery, RecordRow, Row, RowImage, RowKeys, Table};

    use crate::SqliteStore;

    /// Writes `row` as a release before sealing did: its JSON text in
    /// `row_json`, every column in clear.
    fn put_clear(c: &Connection, row: &Row) {
        let image = RowImage::new(row).expect("image");
        let (into, mut args): (&str, Vec<String>) = match image.keys.clone() {
            RowKeys::Tenant { id, slug } => ("tenants (id, slug", vec![id, slug]),
            RowKeys::User { id, tenant_id, email_norm } => {
                ("users (id, tenant_id, email_norm", vec![id, tenant_id, email_norm])
            }
            RowKeys::Collection { id, tenant_id, name } => {
                ("collections (id, tenant_id, name", vec![id, tenant_id, name])
            }
            RowKeys::Record { id, tenant_id, collection_id, deleted } => (
                "records (id, tenant_id, collection_id, deleted",
                vec![id, tenant_id, collection_id, u8::from(deleted).to_string()],
            ),
            RowKeys::File { id, tenant_id, folder, name, deleted } => (
                "files (id, tenant_id, folder, name, deleted",
                vec![id, tenant_id, folder, name, u8::from(deleted).to_string()],
            ),
            RowKeys::FileVersion { file_id, version, tenant_id, size } => (
                "file_versions (file_id, version, tenant_id, size",
                vec![file_id, version.to_string(), tenant_id, size.to_string()],
            ),
            other => panic!("not written here: {other:?}"),
        };
        args.push(image.json);
        let marks = vec!["?"; args.len()].join(", ");
        c.execute(&format!("INSERT INTO {into}, row_json) VALUES ({marks})"), rusqlite::params_from_iter(args))
            .expect("clear row");
    }

    fn record(t: &valv_store::TenantRow, c: &valv_store::CollectionRow, email: &str) -> Row {
        Row::Record(RecordRow {
            id: RecordId::new(),
            tenant_id: t.id,
            collection_id: c.id,
            revision: 1,
            data: serde_json::json!({ "email": email, "n": 1 }),
            deleted_at: None,
            created_at: t.created_at,
            created_by: "cli".into(),
            updated_at: t.created_at,
            updated_by: "cli".into(),
        })
    }

    #[tokio::test]
    async fn rows_and_payloads_of_an_earlier_release_are_sealed_in_steps_without_changing_the_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("valv.db");
        let t = valv_store::contract::tenant("sealed-later");
        let user = valv_store::contract::user(t.id, "Ann.Canary@Example.se");
        let fields = serde_json::from_value(serde_json::json!([
            { "name": "email", "type": "email", "personal": "contact" },
            { "name": "n", "type": "number" }
        ]))
        .expect("fields");
        let coll = valv_store::CollectionRow { fields, ..valv_store::contract::collection(t.id, "contacts") };
        let file = valv_store::contract::file(t.id, "/docs", "a.txt");
        {
            let mut c = Connection::open(&path).expect("db");
            crate::migrate::apply(&mut c, &crate::migrate::MIGRATIONS[..10]).expect("an earlier release's schema");
            let mut rows = vec![Row::Tenant(t.clone()), Row::User(user.clone()), Row::Collection(coll.clone())];
            rows.extend(["a@x.se", "b.canary@x.se", "c@x.se"].map(|e| record(&t, &coll, e)));
            rows.push(Row::File(file.clone()));
            rows.extend([1, 2, 3].map(|v| Row::FileVersion(valv_store::contract::version(&file, v, &["k1"]))));
            rows.iter().for_each(|r| put_clear(&c, r));
            let tag = coll.id.to_string().replace('-', "");
            c.execute_batch(&format!(
                "CREATE INDEX \"records_{tag}_email_ci\" ON records (collection_id, LOWER(json_extract(row_json, '$.data.\"email\"')))"
            ))
            .expect("a field index of the earlier release");
            c.execute(
                "INSERT INTO journal (seq, chain, chain_seq, at, actor, action, entity, entity_id, payload, payload_hash,
                   prev_hash, hash) VALUES (1, ?1, 1, 'at', 'cli', 'record_created', 'record', 'r', ?2, 'h', 'p', 'x')",
                rusqlite::params![t.id.to_string(), br#"{"rows":[],"detail":"journal canary"}"#.as_slice()],
            )
            .expect("a payload in clear");
        }

        let store = valv_store::contract::sealed(SqliteStore::open(&path).await.expect("migrates to sealed rows"));
        assert_eq!(store.tenant(t.id).await.expect("tenant"), Some(t.clone()), "a clear row reads as it is");
        let before = store.state_digest().await.expect("digest before");
        let mut steps = 0;
        while let Some(seen) = store.seal_stored(2).await.expect("a step") {
            assert!(seen <= 2, "a step looks at a batch at most");
            steps += 1;
            assert!(steps < 100, "the walk ends");
        }
        assert_eq!(store.seal_stored(2).await.expect("done"), None, "and stays done");
        let c = Connection::open(&path).expect("db");
        for (table, _) in Table::dumped() {
            let sql = format!("SELECT COUNT(*) FROM {} WHERE typeof(image) = 'text'", table.name());
            assert_eq!(c.query_row(&sql, [], |r| r.get::<_, i64>(0)).expect("count"), 0, "{} is sealed", table.name());
        }
        assert_eq!(store.state_digest().await.expect("digest after").digest, before.digest, "no content changed");
        let bytes =
            [std::fs::read(&path).expect("file"), std::fs::read(dir.path().join("valv.db-wal")).unwrap_or_default()]
                .concat();
        for marker in ["canary", "Canary"] {
            let at = bytes.windows(marker.len()).position(|w| w == marker.as_bytes());
            let around = at
                .map(|i| String::from_utf8_lossy(&bytes[i.saturating_sub(80)..(i + 40).min(bytes.len())]).into_owned());
            assert!(at.is_none(), "no {marker} left in the files: {around:?} at {at:?} of {}", bytes.len());
        }

        let email = Email::parse("ann.canary@example.se").expect("email");
        assert_eq!(store.user_by_email(t.id, &email).await.expect("by email"), Some(user), "by its blind index");
        assert_eq!(store.collection_by_name(t.id, "contacts").await.expect("by name").map(|c| c.id), Some(coll.id));
        let q = RecordQuery {
            filters: vec![Filter { field: "email".into(), op: Op::EqNoCase, value: "B.canary@X.se".into() }],
            limit: 10,
            ..RecordQuery::default()
        };
        assert_eq!(store.records(t.id, coll.id, &q).await.expect("records").len(), 1, "found by its search column");
        assert_eq!(store.files(t.id, Some("/docs")).await.expect("files").len(), 1, "by its folder's blind index");
        assert_eq!(store.file_versions(t.id, file.id).await.expect("versions").len(), 3);
    }
}
