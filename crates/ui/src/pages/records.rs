//! A collection's records: the list (filter, sort, pages), a new record,
//! one record with its fields, its edit form and its history (who changed
//! which fields when, any revision restorable), and deletion after a
//! confirmation. Writes carry the revision the form was made from, as the
//! API's `If-Match` does: a record changed meanwhile is not overwritten.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value};
use valv_domain::RecordId;
use valv_domain::schema::FieldDef;
use valv_http::WebError;
use valv_service::{Caller, ServiceError, Valv};

use super::Member;
use super::home::who;
use crate::csrf::{FormToken, Posted};
use crate::fields::{Input, cell, inputs, record};
use crate::i18n::Tr;
use crate::page::{FieldErrors, Frame, PageError, refusal, render};

pub(super) fn routes() -> Router<Valv> {
    Router::new()
        .route("/app/c/{name}", get(list))
        .route("/app/c/{name}/new", get(new_form).post(create))
        .route("/app/c/{name}/r/{id}", get(show).post(update))
        .route("/app/c/{name}/r/{id}/delete", get(confirm_delete).post(delete))
        .route("/app/c/{name}/r/{id}/restore", post(restore))
}

fn record_id(raw: &str) -> Result<RecordId, PageError> {
    RecordId::parse(raw).map_err(|_| PageError::from(ServiceError::NotFound))
}

fn href(collection: &str, id: &str) -> String {
    format!("/app/c/{collection}/r/{id}")
}

struct ListRow {
    href: String,
    cells: Vec<String>,
}

#[derive(Template)]
#[template(path = "records.html")]
struct ListPage {
    f: Frame,
    collection: String,
    columns: Vec<String>,
    rows: Vec<ListRow>,
    next: Option<String>,
    sort: String,
    filter_field: String,
    filter_op: String,
    filter_value: String,
    error: Option<String>,
}

/// What the list page's own form asks, turned into the API's list query.
fn list_query(p: &[(String, String)]) -> (Vec<(String, String)>, [String; 4]) {
    let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let (sort, field, op, value) = (get("sort"), get("field"), get("op"), get("value"));
    let mut q = vec![("limit".to_owned(), "25".to_owned())];
    if !sort.is_empty() {
        q.push(("sort".into(), sort.clone()));
    }
    if !field.is_empty() && !value.is_empty() {
        let op = if op.is_empty() { "eq".to_owned() } else { op.clone() };
        q.push((format!("{field}.{op}"), value.clone()));
    }
    let cursor = get("cursor");
    if !cursor.is_empty() {
        q.push(("cursor".into(), cursor));
    }
    (q, [sort, field, op, value])
}

async fn list(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    Path(name): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let who = who(&valv, &caller).await?;
    let c = valv.content().collection(&caller, &name).await?;
    let (q, [sort, filter_field, filter_op, filter_value]) = list_query(&params);
    let shown: Vec<&FieldDef> = c.fields.iter().take(6).collect();
    let (rows, next, error) = match valv.content().list_records(&caller, &name, &q).await {
        Ok(page) => {
            let rows = page
                .records
                .iter()
                .map(|r| ListRow {
                    href: href(&name, &r.id),
                    cells: shown.iter().map(|f| cell(tr, f, &r.data)).collect(),
                })
                .collect();
            let next = page.next_cursor.map(|cursor| {
                let keep = [("sort", &sort), ("field", &filter_field), ("op", &filter_op), ("value", &filter_value)];
                let mut pairs: Vec<(&str, &str)> = keep.iter().map(|(k, v)| (*k, v.as_str())).collect();
                pairs.push(("cursor", &cursor));
                format!("?{}", serde_urlencoded::to_string(pairs).unwrap_or_default())
            });
            (rows, next, None)
        }
        Err(e @ ServiceError::Validation(_)) => (Vec::new(), None, Some(tr.error(e.code(), &e.to_string()))),
        Err(e) => return Err(e.into()),
    };
    let page = ListPage {
        f: Frame::new(tr, "records-title", csrf).signed_in(who).titled(&c.name),
        collection: c.name.clone(),
        columns: shown.iter().map(|f| f.name.clone()).collect(),
        rows,
        next,
        sort,
        filter_field,
        filter_op,
        filter_value,
        error,
    };
    Ok(render(&page)?.into_response())
}

#[derive(Template)]
#[template(path = "record_new.html")]
struct NewPage {
    f: Frame,
    collection: String,
    inputs: Vec<Input>,
    error: Option<String>,
}

async fn new_form(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    let who = who(&valv, &caller).await?;
    let c = valv.content().collection(&caller, &name).await?;
    let inputs = inputs(&c.fields, &Map::new(), &FieldErrors::default());
    let f = Frame::new(tr, "record-new-title", csrf).signed_in(who);
    Ok(render(&NewPage { f, collection: c.name, inputs, error: None })?.into_response())
}

async fn create(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    Path(name): Path<String>,
    Posted(form): Posted<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let c = valv.content().collection(&caller, &name).await?;
    let data = record(&c.fields, &form);
    let sent: Map<String, Value> =
        data.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect();
    match valv.content().create_record(&caller, &name, Value::Object(sent)).await {
        Ok(r) => Ok(Redirect::to(&href(&name, &r.id)).into_response()),
        Err(e) => {
            let (error, fields) = refusal(tr, &e)?;
            let f = Frame::new(tr, "record-new-title", csrf).signed_in(who(&valv, &caller).await?);
            let page = NewPage { f, collection: c.name, inputs: inputs(&c.fields, &data, &fields), error };
            Ok(WebError::from(e).answer_with(render(&page)?))
        }
    }
}

struct Revision {
    number: u64,
    at: String,
    by: String,
    action: String,
    changed: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    f: Frame,
    collection: String,
    id: String,
    revision: u64,
    inputs: Vec<Input>,
    history: Vec<Revision>,
    error: Option<String>,
}

impl RecordPage {
    fn href(&self) -> String {
        href(&self.collection, &self.id)
    }
}

/// The record page, with `typed` in the form (after a refusal) or the record's own values.
async fn record_page(
    valv: &Valv,
    tr: Tr,
    csrf: String,
    caller: &Caller,
    (name, id): (&str, RecordId),
    typed: Option<(Map<String, Value>, Option<String>, FieldErrors)>,
) -> Result<RecordPage, PageError> {
    let c = valv.content().collection(caller, name).await?;
    let r = valv.content().record(caller, name, id).await?;
    let revisions = valv.content().record_revisions(caller, name, id).await?;
    let data = r.data.as_object().cloned().unwrap_or_default();
    let (form, error, errors) = typed.unwrap_or((data, None, FieldErrors::default()));
    let history = revisions
        .iter()
        .rev()
        .map(|v| Revision {
            number: v.revision,
            at: valv_domain::parse_stamp(&v.at).map(|t| tr.date_time(t)).unwrap_or_else(|_| v.at.clone()),
            by: v.actor.clone(),
            action: tr.t(&format!("action-{}", v.action.replace('.', "-"))),
            changed: v.changed.join(", "),
            current: v.revision == r.revision,
        })
        .collect();
    Ok(RecordPage {
        f: Frame::new(tr, "record-title", csrf).signed_in(who(valv, caller).await?).titled(&c.name),
        collection: c.name,
        id: r.id,
        revision: r.revision,
        inputs: inputs(&c.fields, &form, &errors),
        history,
        error,
    })
}

async fn show(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let page = record_page(&valv, tr, csrf, &caller, (&name, record_id(&id)?), None).await?;
    Ok(render(&page)?.into_response())
}

/// The revision a form was made from, as an `If-Match` value.
fn if_match(form: &[(String, String)]) -> Option<String> {
    form.iter().find(|(k, _)| k == "revision").map(|(_, v)| format!("\"r{}\"", v.trim()))
}

async fn update(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    Path((name, id)): Path<(String, String)>,
    Posted(form): Posted<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let id = record_id(&id)?;
    let c = valv.content().collection(&caller, &name).await?;
    let data = record(&c.fields, &form);
    match valv.content().update_record(&caller, &name, id, data.clone(), if_match(&form).as_deref()).await {
        Ok(r) => Ok(Redirect::to(&href(&name, &r.id)).into_response()),
        Err(e) => {
            let (error, fields) = refusal(tr, &e)?;
            let page = record_page(&valv, tr, csrf, &caller, (&name, id), Some((data, error, fields))).await?;
            Ok(WebError::from(e).answer_with(render(&page)?))
        }
    }
}

async fn restore(
    State(valv): State<Valv>,
    Member(caller): Member,
    Path((name, id)): Path<(String, String)>,
    Posted(form): Posted<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let id = record_id(&id)?;
    let number =
        form.iter().find(|(k, _)| k == "restore").and_then(|(_, v)| v.parse().ok()).ok_or_else(PageError::bad_form)?;
    let r = valv.content().restore_revision(&caller, &name, id, number, if_match(&form).as_deref()).await?;
    Ok(Redirect::to(&href(&name, &r.id)).into_response())
}

#[derive(Template)]
#[template(path = "record_delete.html")]
struct ConfirmPage {
    f: Frame,
    href: String,
    revision: u64,
}

async fn confirm_delete(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let r = valv.content().record(&caller, &name, record_id(&id)?).await?;
    let f = Frame::new(tr, "record-delete-title", csrf).signed_in(who(&valv, &caller).await?);
    Ok(render(&ConfirmPage { f, href: href(&name, &r.id), revision: r.revision })?.into_response())
}

async fn delete(
    State(valv): State<Valv>,
    Member(caller): Member,
    Path((name, id)): Path<(String, String)>,
    Posted(form): Posted<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    valv.content().delete_record(&caller, &name, record_id(&id)?, if_match(&form).as_deref()).await?;
    Ok(Redirect::to(&format!("/app/c/{name}")).into_response())
}
