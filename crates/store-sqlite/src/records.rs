//! Record queries: filters and sorting on the `search` column (blind
//! indexes and clear ids, `valv_store::search`), keyset paging, and
//! expression indexes on the fields people are looked up by. A field's
//! JSON path is written into the SQL text (so the indexes on the same
//! expression are used); only names of `a-z`, `0-9` and `_` are accepted, so
//! no input can reach SQL as code.

use rusqlite::{Connection, ToSql};
use valv_domain::{CollectionId, RecordId, TenantId};
use valv_store::search::Split;
use valv_store::{RecordQuery, Sealed, StoreResult};

use crate::entities::many;
use crate::{backend, corrupt};

fn path(field: &str) -> String {
    format!("$.\"{field}\"")
}

/// `json_extract` of a field, for SQL text; refuses anything but an identifier.
fn expr(field: &str) -> StoreResult<String> {
    let ok = !field.is_empty() && field.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(valv_store::StoreError::Corrupt(format!("not a field name: {field:?}")));
    }
    Ok(format!("json_extract(search, '$.\"{field}\"')"))
}

/// The statements indexing `fields` of one collection; `true` indexes the lower-cased value.
pub(crate) fn index(collection: CollectionId, fields: &[(String, bool)]) -> StoreResult<Vec<String>> {
    let tag = collection.to_string().replace('-', "");
    let statement = |(field, lower): &(String, bool)| {
        let e = expr(field)?;
        let (name, e) = if *lower {
            (format!("records_{tag}_{field}_ci"), format!("LOWER({e})"))
        } else {
            (format!("records_{tag}_{field}"), e)
        };
        Ok(format!("CREATE INDEX IF NOT EXISTS \"{name}\" ON records (collection_id, {e})"))
    };
    fields.iter().map(statement).collect()
}

/// Records of one collection matching `q` as far as `split` answers it:
/// the page itself when it is exact, else every candidate, by id.
pub(crate) fn query(
    c: &Connection,
    tenant: TenantId,
    collection: CollectionId,
    q: &RecordQuery,
    split: &Split,
) -> StoreResult<Vec<Sealed>> {
    let (sql, args) = build(tenant, collection, q, split)?;
    let refs: Vec<&dyn ToSql> = args.iter().map(AsRef::as_ref).collect();
    many(c, &sql, &refs)
}

/// Ids of a collection's records after `after`, in order, read from the
/// `(tenant_id, collection_id, id)` index without touching the rows.
pub(crate) fn ids(
    c: &Connection,
    tenant: TenantId,
    collection: CollectionId,
    after: Option<RecordId>,
    limit: u32,
) -> StoreResult<Vec<RecordId>> {
    let (t, col) = (tenant.to_string(), collection.to_string());
    let select = "SELECT id FROM records WHERE tenant_id = ?1 AND collection_id = ?2";
    let after = after.map(|id| id.to_string());
    let (sql, args): (String, Vec<&dyn ToSql>) = match &after {
        Some(id) => (format!("{select} AND id > ?3 ORDER BY id LIMIT ?4"), vec![&t, &col, id, &limit]),
        None => (format!("{select} ORDER BY id LIMIT ?3"), vec![&t, &col, &limit]),
    };
    let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
    let mut rows = stmt.query(args.as_slice()).map_err(backend)?;
    let mut out = Vec::with_capacity(limit as usize);
    while let Some(r) = rows.next().map_err(backend)? {
        let id = r.get_ref(0).and_then(|v| v.as_str().map_err(Into::into)).map_err(backend)?;
        out.push(RecordId::parse(id).map_err(corrupt)?);
    }
    Ok(out)
}

/// The SQL text and arguments of a record query.
fn build(
    tenant: TenantId,
    collection: CollectionId,
    q: &RecordQuery,
    split: &Split,
) -> StoreResult<(String, Vec<Box<dyn ToSql>>)> {
    let mut sql = String::from("SELECT tenant_id, id, image FROM records WHERE tenant_id = ? AND collection_id = ?");
    let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(tenant.to_string()), Box::new(collection.to_string())];
    if !q.include_deleted {
        sql.push_str(" AND deleted = 0");
    }
    for f in &split.filters {
        let e = expr(&f.field)?;
        // `= LOWER` compares the lower-cased value to the lower-cased argument.
        let lhs = if f.op == valv_store::Op::EqNoCase { format!("LOWER({e})") } else { e };
        sql.push_str(&format!(" AND {lhs} {} (?)", f.op.sql()));
        args.push(Box::new(sql_value(&f.value)));
    }
    if !split.exact {
        sql.push_str(" ORDER BY +id");
        return Ok((sql, args));
    }
    let (key, desc) = match &q.sort {
        Some((field, desc)) => (Some(path(field)), *desc),
        None => (None, false),
    };
    let (cmp, dir) = if desc { ("<", "DESC") } else { (">", "ASC") };
    // The sort key: the field's value (missing values as '') or nothing; ties broken by id.
    let key_sql = "IFNULL(json_extract(search, ?), '')";
    if let Some((value, id)) = &q.after {
        match &key {
            Some(p) => {
                sql.push_str(&format!(" AND ({key_sql} {cmp} ? OR ({key_sql} = ? AND id {cmp} ?))"));
                args.extend([boxed(p), Box::new(sql_value(value)), boxed(p), Box::new(sql_value(value))]);
            }
            None => sql.push_str(&format!(" AND id {cmp} ?")),
        }
        args.push(Box::new(id.to_string()));
    }
    match &key {
        Some(p) => {
            sql.push_str(&format!(" ORDER BY {key_sql} {dir}, id {dir}"));
            args.push(boxed(p));
        }
        // With filters, `+id` keeps the planner on the filtered field's index:
        // otherwise it may walk the whole collection in id order to skip a sort.
        None if !split.filters.is_empty() => sql.push_str(&format!(" ORDER BY +id {dir}")),
        None => sql.push_str(&format!(" ORDER BY id {dir}")),
    }
    sql.push_str(" LIMIT ?");
    args.push(Box::new(q.limit));
    Ok((sql, args))
}

fn boxed(p: &str) -> Box<dyn ToSql> {
    Box::new(p.to_owned())
}

/// A JSON scalar as the value SQLite's `json_extract` yields for it.
fn sql_value(v: &serde_json::Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        serde_json::Value::Null => V::Null,
        serde_json::Value::Bool(b) => V::Integer(i64::from(*b)),
        serde_json::Value::Number(n) => n.as_i64().map_or_else(|| V::Real(n.as_f64().unwrap_or_default()), V::Integer),
        serde_json::Value::String(s) => V::Text(s.clone()),
        other => V::Text(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use valv_store::{Filter, Op};

    use super::*;

    /// The plan SQLite picks for the query `build` makes.
    fn plan(c: &Connection, q: &RecordQuery, collection: CollectionId) -> String {
        let split = Split { filters: q.filters.clone(), exact: true };
        let (sql, args) = build(TenantId::new(), collection, q, &split).expect("sql");
        let refs: Vec<&dyn ToSql> = args.iter().map(AsRef::as_ref).collect();
        let mut st = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("plan");
        let rows = st.query_map(refs.as_slice(), |r| r.get::<_, String>(3)).expect("rows");
        rows.map(|r| r.expect("row")).collect::<Vec<_>>().join("; ")
    }

    #[test]
    fn lookups_use_their_field_index_and_paging_needs_no_sort() {
        let mut c = Connection::open_in_memory().expect("db");
        crate::migrate::run(&mut c).expect("migrate");
        let collection = CollectionId::new();
        c.execute_batch(&index(collection, &[("email".into(), false)]).expect("index").join(";")).expect("create");
        // As `Plan::split` makes it: the blind index of the address.
        let filter = Filter { field: "email".into(), op: Op::Eq, value: "9f2c".into() };
        let lookup = RecordQuery { filters: vec![filter], limit: 100, ..RecordQuery::default() };
        let p = plan(&c, &lookup, collection);
        assert!(p.contains("_email"), "an e-mail lookup uses its index: {p}");
        let all = RecordQuery {
            after: Some((serde_json::Value::Null, valv_domain::RecordId::new())),
            include_deleted: true,
            limit: 500,
            ..RecordQuery::default()
        };
        let p = plan(&c, &all, collection);
        assert!(p.contains("records_tenant_collection_id_idx") && !p.contains("TEMP B-TREE"), "paging: {p}");
        let live = RecordQuery { limit: 500, ..RecordQuery::default() };
        let p = plan(&c, &live, collection);
        assert!(p.contains("records_tenant_collection_id_idx") && !p.contains("TEMP B-TREE"), "live records: {p}");
        let count = "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM records WHERE tenant_id = ?1 AND collection_id = ?2 AND (?3 OR deleted = 0)";
        let p: String = c.query_row(count, rusqlite::params!["t", "c", false], |r| r.get(3)).expect("plan");
        assert!(p.contains("COVERING INDEX records_tenant_collection_id_idx"), "the count reads the index only: {p}");
    }
}
