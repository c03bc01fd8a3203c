//! `/app`: a signed-in person's workspace, starting with the collections
//! of their organisation. Also the language choice, which any page posts.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use valv_service::Valv;

use super::Member;
use crate::csrf::{FormToken, Posted};
use crate::i18n::{LANG_COOKIE, Tr};
use crate::page::{Frame, PageError, Who, render};

pub(super) fn routes() -> Router<Valv> {
    Router::new().route("/app", get(home)).route("/language", post(language))
}

struct CollectionRow {
    name: String,
    fields: usize,
    data_subject: bool,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    f: Frame,
    collections: Vec<CollectionRow>,
}

async fn home(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
) -> Result<Response, PageError> {
    let who = who(&valv, &caller).await?;
    let collections = valv.content().collections(&caller).await?;
    let collections = collections
        .into_iter()
        .map(|c| CollectionRow { name: c.name, fields: c.fields.len(), data_subject: c.data_subject })
        .collect();
    let page = Home { f: Frame::new(tr, "home-title", csrf).signed_in(who), collections };
    Ok(render(&page)?.into_response())
}

/// The signed-in person and their organisation, for the header.
pub(crate) async fn who(valv: &Valv, caller: &valv_service::Caller) -> Result<Who, PageError> {
    let me = valv.accounts().me(caller).await?;
    let (tenant, _, _) = caller.member()?;
    let org = valv.accounts().tenant(caller, tenant).await?;
    Ok(Who {
        name: me.name,
        organisation: org.name,
        admin: caller.admin().is_ok(),
        operator: false,
        auditor: me.role.reads_journal(),
    })
}

#[derive(Deserialize)]
struct Choice {
    lang: String,
    #[serde(default)]
    back: String,
}

/// Keeps the chosen language for a year and goes back to the page the form
/// was on: a path of this site only, never another site's address.
async fn language(Posted(c): Posted<Choice>) -> Response {
    let lang = if c.lang == "sv" { "sv" } else { "en" };
    let local = c.back.starts_with('/') && !c.back.starts_with("//") && !c.back.contains(['\\', ':']);
    let mut res = Redirect::to(if local { &c.back } else { "/" }).into_response();
    let cookie = format!("{LANG_COOKIE}={lang}; Path=/; Secure; SameSite=Lax; Max-Age=31536000");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}
