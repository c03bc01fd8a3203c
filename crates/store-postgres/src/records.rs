//! Record queries: filters and sorting on the `search` column (blind
//! indexes and clear ids, `valv_store::search`), keyset paging, and
//! expression indexes on the fields people are looked up by. What the
//! column does not answer is left to `valv_store::search::finish`, on the
//! opened rows.
//!
//! A filter's field is written into the SQL text as
//! `((search::json)->>'field') COLLATE "C"`, the very expression its index
//! is built on, so the planner can use the index; only names of `a-z`, `0-9`
//! and `_` are accepted, so no input reaches SQL as code. `json`, not
//! `jsonb`: it parses any text serde wrote (jsonb refuses `\u0000`) and keeps
//! a nested value's text as written.
//!
//! Comparisons follow SQLite's `json_extract` so both backends answer alike:
//! numbers and booleans (as 1 and 0) compare as numbers, strings bytewise,
//! every number sorts before every string, and a missing or null field
//! matches no filter (and sorts as `''`). One difference is left, as it would
//! cost the lookup index: a case-insensitive filter on a field held clear
//! (`EqNoCase`; on a blind index it arrives as `Eq`) compares the field's
//! JSON text, so a boolean reads `true` where SQLite reads `1`.

use sqlx::{PgConnection, PgPool};
use valv_domain::{CollectionId, RecordId, TenantId};
use valv_store::search::Split;
use valv_store::{Filter, Op, RecordQuery, Sealed, StoreError, StoreResult};

use crate::entities::{SealedQuery, many, rows};
use crate::{backend, corrupt};

/// JSON types SQLite's `json_extract` yields as numbers, and as text.
const NUMERIC: &str = "('number', 'boolean')";
const TEXTUAL: &str = "('string', 'array', 'object')";

/// Refuses anything but an identifier, before it is written into SQL.
fn checked(field: &str) -> StoreResult<&str> {
    let ok = !field.is_empty() && field.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok { Ok(field) } else { Err(StoreError::Corrupt(format!("not a field name: {field:?}"))) }
}

/// The field's text, bytewise-ordered: what filters compare and indexes hold.
fn text_expr(field: &str) -> String {
    format!("(((search::json)->>'{field}') COLLATE \"C\")")
}

/// The field's value as a number when it is a number or a boolean, else NULL.
fn number_expr(json: &str) -> String {
    format!(
        "(CASE json_typeof({json}) WHEN 'number' THEN ({json}::TEXT)::NUMERIC \
         WHEN 'boolean' THEN CASE WHEN {json}::TEXT = 'true' THEN 1 ELSE 0 END END)"
    )
}

/// A filter or cursor value as SQLite binds it: a number, text, or NULL.
enum Scalar {
    Number(String),
    Text(String),
}

fn scalar(v: &serde_json::Value) -> Option<Scalar> {
    use serde_json::Value as V;
    match v {
        V::Null => None,
        V::Bool(b) => Some(Scalar::Number(if *b { "1" } else { "0" }.to_owned())),
        V::Number(n) => Some(Scalar::Number(n.to_string())),
        V::String(s) => Some(Scalar::Text(s.clone())),
        other => Some(Scalar::Text(other.to_string())),
    }
}

/// The name of one field's index; hashed when the readable one would pass
/// PostgreSQL's 63-byte limit (truncated names could collide).
fn index_name(collection: CollectionId, field: &str, lower: bool) -> String {
    use sha2::Digest as _;
    let tag = collection.to_string().replace('-', "");
    let suffix = if lower { "_ci" } else { "" };
    let name = format!("records_{tag}_{field}{suffix}");
    if name.len() <= 63 {
        return name;
    }
    let hash = hex::encode(sha2::Sha256::digest(field.as_bytes()));
    format!("records_{tag}_{}{suffix}", &hash[..16])
}

/// Indexes `fields` of one collection; `true` indexes the lower-cased value
/// (ASCII only under "C", as SQLite's `LOWER`). Runs under the write lock, so
/// two instances never build the same index at once.
pub(crate) async fn index(
    c: &mut PgConnection,
    collection: CollectionId,
    fields: &[(String, bool)],
) -> StoreResult<()> {
    for (field, lower) in fields {
        let text = text_expr(checked(field)?);
        let name = index_name(collection, field, *lower);
        let e = if *lower { format!("lower({text})") } else { text };
        // Looked up first: `IF NOT EXISTS` would log a notice at every collection update.
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(&name)
            .fetch_one(&mut *c)
            .await
            .map_err(backend)?;
        if !exists {
            let sql = format!("CREATE INDEX \"{name}\" ON records (collection_id, ({e}))");
            sqlx::query(&sql).persistent(false).execute(&mut *c).await.map_err(backend)?;
        }
    }
    Ok(())
}

/// Ids of a collection's records after `after`, in order, read from the
/// `(tenant_id, collection_id, id)` index.
pub(crate) async fn ids(
    pool: &PgPool,
    tenant: TenantId,
    collection: CollectionId,
    after: Option<RecordId>,
    limit: u32,
) -> StoreResult<Vec<RecordId>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM records WHERE tenant_id = $1 AND collection_id = $2 AND ($3::TEXT IS NULL OR id > $3)
         ORDER BY id LIMIT $4",
    )
    .bind(tenant.to_string())
    .bind(collection.to_string())
    .bind(after.map(|id| id.to_string()))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    ids.iter().map(|id| RecordId::parse(id).map_err(corrupt)).collect()
}

/// Records of one collection matching `q` as far as `split` answers it:
/// the page itself when it is exact, else every candidate, by id.
pub(crate) async fn query(
    pool: &PgPool,
    tenant: TenantId,
    collection: CollectionId,
    q: &RecordQuery,
    split: &Split,
) -> StoreResult<Vec<Sealed>> {
    let sql = build(tenant, collection, q, split)?;
    many(pool, sql.query()).await
}

/// SQL text with its arguments, all bound as text (numbers are cast in the SQL).
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub(crate) text: String,
    args: Vec<String>,
}

impl Sql {
    /// Adds an argument; returns its placeholder.
    fn arg(&mut self, value: String) -> String {
        self.args.push(value);
        format!("${}", self.args.len())
    }

    /// The query of rows as stored (`tenant_id, id, image`).
    pub(crate) fn query(&self) -> SealedQuery<'_> {
        self.args.iter().fold(rows(&self.text), |q, a| q.bind(a))
    }
}

/// The SQL of a record query: filtered by `split`, and when the split is
/// exact sorted, paged and limited too; else every candidate by id.
pub(crate) fn build(tenant: TenantId, collection: CollectionId, q: &RecordQuery, split: &Split) -> StoreResult<Sql> {
    let mut s = Sql::default();
    let (t, c) = (s.arg(tenant.to_string()), s.arg(collection.to_string()));
    s.text = format!("SELECT tenant_id, id, image FROM records WHERE tenant_id = {t} AND collection_id = {c}");
    if !q.include_deleted {
        s.text.push_str(" AND NOT deleted");
    }
    for f in &split.filters {
        let cond = filter(&mut s, f)?;
        s.text.push_str(&format!(" AND {cond}"));
    }
    if !split.exact {
        s.text.push_str(" ORDER BY id");
        return Ok(s);
    }
    let (cmp, dir) = match &q.sort {
        Some((_, true)) => ("<", "DESC"),
        _ => (">", "ASC"),
    };
    match &q.sort {
        Some((field, _)) => {
            let (rank, number, text) = sort_key(&mut s, field);
            if let Some((value, id)) = &q.after {
                let cond = match scalar(value) {
                    // SQLite compares with NULL: nothing comes after it.
                    None => "FALSE".to_owned(),
                    Some(v) => {
                        let (r, n, t) = match v {
                            Scalar::Number(n) => ("1", n, String::new()),
                            Scalar::Text(t) => ("2", "0".to_owned(), t),
                        };
                        let (n, t, id) = (s.arg(n), s.arg(t), s.arg(id.to_string()));
                        format!("({rank}, {number}, {text}, id) {cmp} ({r}, {n}::NUMERIC, {t}::TEXT, {id}::TEXT)")
                    }
                };
                s.text.push_str(&format!(" AND {cond}"));
            }
            s.text.push_str(&format!(" ORDER BY {rank} {dir}, {number} {dir}, {text} {dir}, id {dir}"));
        }
        None => {
            if let Some((_, id)) = &q.after {
                let id = s.arg(id.to_string());
                s.text.push_str(&format!(" AND id {cmp} {id}"));
            }
            s.text.push_str(&format!(" ORDER BY id {dir}"));
        }
    }
    let limit = s.arg(q.limit.to_string());
    s.text.push_str(&format!(" LIMIT {limit}::BIGINT"));
    Ok(s)
}

/// The condition of one filter.
fn filter(s: &mut Sql, f: &Filter) -> StoreResult<String> {
    let field = checked(&f.field)?;
    let (json, text) = (format!("((search::json)->'{field}')"), text_expr(field));
    let Some(value) = scalar(&f.value) else {
        // SQLite compares with NULL, which matches nothing.
        return Ok("FALSE".to_owned());
    };
    let op = match f.op {
        Op::Eq => "=",
        Op::Ne => "<>",
        Op::Lt => "<",
        Op::Lte => "<=",
        Op::Gt => ">",
        Op::Gte => ">=",
        Op::EqNoCase => {
            let v = s.arg(match value {
                Scalar::Number(n) => n,
                Scalar::Text(t) => t,
            });
            // Both sides under "C": ASCII-only, as SQLite's `LOWER`.
            return Ok(format!("lower({text}) = lower({v}::TEXT COLLATE \"C\")"));
        }
    };
    // Which side of the value a field of the other kind is on: numbers sort before text.
    let other_is_less = matches!(f.op, Op::Ne | Op::Lt | Op::Lte);
    let other_is_more = matches!(f.op, Op::Ne | Op::Gt | Op::Gte);
    Ok(match value {
        Scalar::Text(t) => {
            let v = s.arg(t);
            let same = format!("json_typeof({json}) IN {TEXTUAL} AND {text} {op} {v}::TEXT");
            if other_is_less { format!("(({same}) OR json_typeof({json}) IN {NUMERIC})") } else { format!("({same})") }
        }
        Scalar::Number(n) => {
            let v = s.arg(n);
            let same = format!("{} {op} {v}::NUMERIC", number_expr(&json));
            if other_is_more { format!("({same} OR json_typeof({json}) IN {TEXTUAL})") } else { same }
        }
    })
}

/// The sort key of a field as three columns that order like SQLite's
/// `IFNULL(json_extract(...), '')`: kind (numbers first), number, text.
fn sort_key(s: &mut Sql, field: &str) -> (String, String, String) {
    let name = s.arg(field.to_owned());
    let json = format!("((search::json)->{name}::TEXT)");
    let rank = format!("(CASE WHEN json_typeof({json}) IN {NUMERIC} THEN 1 ELSE 2 END)");
    let number = format!("COALESCE({}, 0)", number_expr(&json));
    let text = format!(
        "((CASE WHEN json_typeof({json}) IN {TEXTUAL} THEN (search::json)->>{name}::TEXT ELSE '' END) \
         COLLATE \"C\")"
    );
    (rank, number, text)
}

#[cfg(test)]
mod tests {
    use valv_store::prelude::*;
    use valv_store::search::Plan;
    use valv_store::{CollectionRow, Filter, KeyOwner, Op, RecordQuery};

    use super::*;

    /// The plan PostgreSQL picks for `q` as the store runs it (split by the collection's plan).
    async fn plan(store: &crate::PgStore, q: &RecordQuery, c: &CollectionRow) -> String {
        let key = store.vault.key(KeyOwner::Tenant(c.tenant_id)).await.expect("key");
        let split = Plan::of(&c.fields).split(q, &key);
        assert!(split.exact, "the search column answers {q:?}");
        let sql = build(c.tenant_id, c.id, q, &split).expect("sql");
        let explain = format!("EXPLAIN {}", sql.text);
        let explain = sql.args.iter().fold(sqlx::query_scalar::<_, String>(&explain), |q, a| q.bind(a));
        explain.fetch_all(&store.pool).await.expect("explain").join("; ")
    }

    /// A tenant with one collection of `n` records, analysed, and its lookup indexes.
    async fn collection(store: &crate::PgStore, n: usize) -> CollectionRow {
        use valv_store::{Actor, Chain, Change, RecordRow, Row};
        let t = valv_store::contract::tenant("plans");
        let at = t.created_at;
        let fields = serde_json::from_value(serde_json::json!([
            { "name": "email", "type": "email", "personal": "contact" },
            { "name": "customer", "type": "reference", "collection": "customers" },
            { "name": "a_very_long_field_name_here", "type": "reference", "collection": "customers" }
        ]))
        .expect("fields");
        let c = CollectionRow { data_subject: true, fields, ..valv_store::contract::collection(t.id, "contacts") };
        let mut change = Change::new(Chain::Tenant(t.id), at, Actor::Cli, valv_store::Action::RecordImported)
            .row(Row::Collection(c.clone()));
        for i in 0..n {
            let data = serde_json::json!({ "email": format!("P{i}@example.se"), "customer": format!("c-{i}"),
                "a_very_long_field_name_here": i.to_string() });
            change = change.row(Row::Record(RecordRow {
                id: RecordId::new(),
                tenant_id: t.id,
                collection_id: c.id,
                revision: 1,
                data,
                deleted_at: None,
                created_at: at,
                created_by: "cli".into(),
                updated_at: at,
                updated_by: "cli".into(),
            }));
        }
        let tenant =
            Change::new(Chain::Provider, at, Actor::Cli, valv_store::Action::TenantCreated).row(Row::Tenant(t.clone()));
        store.commit_all(vec![tenant, change]).await.expect("records");
        let fields =
            vec![("email".into(), false), ("customer".into(), false), ("a_very_long_field_name_here".into(), false)];
        store.index_fields(c.id, fields.clone()).await.expect("index");
        store.index_fields(c.id, fields).await.expect("indexing again changes nothing");
        sqlx::query("ANALYZE records").execute(&store.pool).await.expect("analyze");
        c
    }

    #[tokio::test]
    async fn lookups_use_their_field_index() {
        let store = crate::PgStore::connect(&valv_testkit::postgres()).await.expect("connect");
        store.seal_with(valv_store::contract::vault());
        let c = collection(&store, 3000).await;
        let lookup = |field: &str, op, value: &str| RecordQuery {
            filters: vec![Filter { field: field.into(), op, value: value.into() }],
            limit: 100,
            include_deleted: true,
            ..RecordQuery::default()
        };
        let q = lookup("email", Op::EqNoCase, "p17@EXAMPLE.se");
        let p = plan(&store, &q, &c).await;
        assert!(p.contains("_email"), "an e-mail lookup uses the index of its blind value: {p}");
        let found = store.records(c.tenant_id, c.id, &q).await.expect("query");
        assert_eq!(found.len(), 1, "the lookup finds the record");
        assert_eq!(found[0].data["email"], "P17@example.se", "and opens it");
        let p = plan(&store, &lookup("customer", Op::Eq, "c-1"), &c).await;
        assert!(p.contains("_customer"), "a reference lookup uses its index: {p}");
        let long = index_name(c.id, "a_very_long_field_name_here", false);
        assert!(long.len() <= 63, "names fit PostgreSQL's limit: {long}");
        let p = plan(&store, &lookup("a_very_long_field_name_here", Op::Eq, "7"), &c).await;
        assert!(p.contains(&long), "a long field's index is found by its hashed name: {p}");
    }

    #[test]
    fn field_names_are_identifiers_or_refused() {
        for bad in ["", "Email", "a'b", "a\"b", "a b", "a-b", "ä"] {
            assert!(checked(bad).is_err(), "{bad:?} is refused");
        }
        assert_eq!(checked("email_2").ok(), Some("email_2"));
    }
}
