//! `/app/users`: an administrator manages their organisation's accounts
//! (owners and admins; the service refuses a role above one's own): the
//! list, a new user (who gets an invitation), changing a user, blocking and
//! unblocking (a blocked user's sessions and tokens end at once), and a new
//! invitation for someone who has not set a password yet.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use valv_domain::{Role, UserId};
use valv_http::WebError;
use valv_service::{Caller, NewUser, ServiceError, UserPatch, UserView, Valv};

use super::Member;
use super::home::who;
use crate::csrf::{FormToken, NoFields, Posted};
use crate::i18n::Tr;
use crate::page::{FieldErrors, Frame, PageError, refusal, render};

pub(super) fn routes() -> Router<Valv> {
    Router::new()
        .route("/app/users", get(list).post(create))
        .route("/app/users/{id}", get(show).post(update))
        .route("/app/users/{id}/block", post(block))
        .route("/app/users/{id}/unblock", post(unblock))
        .route("/app/users/{id}/invite", post(invite))
}

/// The notices a redirect may ask the next page to show (nothing else is echoed).
const NOTICES: [&str; 5] = ["user-created", "user-saved", "user-blocked", "user-unblocked", "user-invited"];

#[derive(Deserialize)]
struct Shown {
    #[serde(default)]
    notice: String,
}

fn notice(tr: Tr, s: &Shown) -> Option<String> {
    NOTICES.contains(&s.notice.as_str()).then(|| tr.t(&format!("notice-{}", s.notice)))
}

struct Person {
    href: String,
    name: String,
    email: String,
    role: String,
    state: String,
    second_factor: String,
}

fn person(tr: Tr, u: &UserView) -> Person {
    let state = match (u.status.as_str(), u.activated) {
        ("blocked", _) => "user-state-blocked",
        (_, false) => "user-state-invited",
        _ => "user-state-active",
    };
    Person {
        href: format!("/app/users/{}", u.id),
        name: u.name.clone(),
        email: u.email.clone(),
        role: tr.t(&format!("role-{}", u.role.as_str())),
        state: tr.t(state),
        second_factor: tr.t(if u.totp_enabled { "yes" } else { "no" }),
    }
}

/// What the new-user and edit forms hold.
#[derive(Default, Deserialize)]
struct Details {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    role: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    f: Frame,
    people: Vec<Person>,
    roles: Vec<(&'static str, String)>,
    new: Details,
    error: Option<String>,
    fields: FieldErrors,
    notice: Option<String>,
}

fn roles(tr: Tr) -> Vec<(&'static str, String)> {
    Role::ALL.iter().map(|r| (r.as_str(), tr.t(&format!("role-{}", r.as_str())))).collect()
}

async fn users_page(valv: &Valv, tr: Tr, csrf: String, caller: &Caller) -> Result<UsersPage, PageError> {
    let people = valv.accounts().users(caller).await?.iter().map(|u| person(tr, u)).collect();
    Ok(UsersPage {
        f: Frame::new(tr, "users-title", csrf).signed_in(who(valv, caller).await?),
        people,
        roles: roles(tr),
        new: Details { role: "member".into(), ..Details::default() },
        error: None,
        fields: FieldErrors::default(),
        notice: None,
    })
}

async fn list(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    Query(shown): Query<Shown>,
) -> Result<Response, PageError> {
    let mut page = users_page(&valv, tr, csrf, &caller).await?;
    page.notice = notice(tr, &shown);
    Ok(render(&page)?.into_response())
}

async fn create(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    Posted(d): Posted<Details>,
) -> Result<Response, PageError> {
    let new = NewUser { name: d.name.clone(), email: d.email.clone(), phone: d.phone.clone(), role: d.role.clone() };
    match valv.accounts().create_user(&caller, new).await {
        Ok(_) => Ok(Redirect::to("/app/users?notice=user-created").into_response()),
        Err(e) => {
            let (error, fields) = refusal(tr, &e)?;
            let mut page = users_page(&valv, tr, csrf, &caller).await?;
            (page.new, page.error, page.fields) = (d, error, fields);
            Ok(WebError::from(e).answer_with(render(&page)?))
        }
    }
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    f: Frame,
    id: String,
    person: Person,
    details: Details,
    roles: Vec<(&'static str, String)>,
    blocked: bool,
    activated: bool,
    error: Option<String>,
    fields: FieldErrors,
    notice: Option<String>,
}

fn user_id(raw: &str) -> Result<UserId, PageError> {
    UserId::parse(raw).map_err(|_| PageError::from(ServiceError::NotFound))
}

async fn user_page(valv: &Valv, tr: Tr, csrf: String, caller: &Caller, id: UserId) -> Result<UserPage, PageError> {
    let u = valv.accounts().user(caller, id).await?;
    let details =
        Details { name: u.name.clone(), email: u.email.clone(), phone: u.phone.clone(), role: u.role.as_str().into() };
    Ok(UserPage {
        f: Frame::new(tr, "user-title", csrf).signed_in(who(valv, caller).await?).titled(&u.name),
        id: u.id.clone(),
        person: person(tr, &u),
        details,
        roles: roles(tr),
        blocked: u.status.as_str() == "blocked",
        activated: u.activated,
        error: None,
        fields: FieldErrors::default(),
        notice: None,
    })
}

async fn show(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    Path(id): Path<String>,
    Query(shown): Query<Shown>,
) -> Result<Response, PageError> {
    let mut page = user_page(&valv, tr, csrf, &caller, user_id(&id)?).await?;
    page.notice = notice(tr, &shown);
    Ok(render(&page)?.into_response())
}

async fn update(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    Path(id): Path<String>,
    Posted(d): Posted<Details>,
) -> Result<Response, PageError> {
    let id = user_id(&id)?;
    let patch = UserPatch {
        name: Some(d.name.clone()),
        email: Some(d.email.clone()),
        phone: Some(d.phone.clone()),
        role: Some(d.role.clone()),
    };
    match valv.accounts().update_user(&caller, id, patch).await {
        Ok(u) => Ok(Redirect::to(&format!("/app/users/{}?notice=user-saved", u.id)).into_response()),
        Err(e) => {
            let (error, fields) = refusal(tr, &e)?;
            let mut page = user_page(&valv, tr, csrf, &caller, id).await?;
            (page.details, page.error, page.fields) = (d, error, fields);
            Ok(WebError::from(e).answer_with(render(&page)?))
        }
    }
}

async fn set_blocked(valv: &Valv, caller: &Caller, id: &str, blocked: bool) -> Result<Response, PageError> {
    let u = valv.accounts().set_user_blocked(caller, user_id(id)?, blocked).await?;
    let notice = if blocked { "user-blocked" } else { "user-unblocked" };
    Ok(Redirect::to(&format!("/app/users/{}?notice={notice}", u.id)).into_response())
}

async fn block(
    State(valv): State<Valv>,
    Member(c): Member,
    Path(id): Path<String>,
    Posted(_): Posted<NoFields>,
) -> Result<Response, PageError> {
    set_blocked(&valv, &c, &id, true).await
}

async fn unblock(
    State(valv): State<Valv>,
    Member(c): Member,
    Path(id): Path<String>,
    Posted(_): Posted<NoFields>,
) -> Result<Response, PageError> {
    set_blocked(&valv, &c, &id, false).await
}

async fn invite(
    State(valv): State<Valv>,
    Member(c): Member,
    Path(id): Path<String>,
    Posted(_): Posted<NoFields>,
) -> Result<Response, PageError> {
    let u = valv.accounts().reinvite(&c, user_id(&id)?).await?;
    Ok(Redirect::to(&format!("/app/users/{}?notice=user-invited", u.id)).into_response())
}
