//! The operator's console (`/operator`): sign-in (password, then always an
//! authenticator code), the tenants with their state and export window,
//! a new tenant (its contact gets the owner's invitation), a tenant's page
//! to block, unblock or end its agreement, and the backups: each target's
//! lag and the last full backups and drills. Operators never see a
//! tenant's records, files, users or data subjects here either: the
//! service refuses them, as it does through the API.

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use valv_domain::TenantId;
use valv_http::{ClientAddr, SESSION_COOKIE, WebError};
use valv_service::{Caller, NewTenant, ServiceError, TenantView, Valv};

use super::Refused;
use super::sign_in::{SignInPage, signed_in};
use crate::csrf::{FormToken, NoFields, Posted};
use crate::i18n::Tr;
use crate::page::{FieldErrors, Frame, PageError, Who, render};

pub(super) fn routes() -> Router<Valv> {
    Router::new()
        .route("/operator/sign-in", get(sign_in_form).post(sign_in))
        .route("/operator", get(tenants).post(create))
        .route("/operator/t/{id}", get(tenant))
        .route("/operator/t/{id}/{action}", post(act))
        .route("/operator/backups", get(backups))
}

/// A signed-in provider operator, by session cookie; anyone else is sent
/// to the operator's sign-in.
pub(crate) struct Operator(Caller);

impl FromRequestParts<Valv> for Operator {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, valv: &Valv) -> Result<Self, Refused> {
        let to_sign_in = || Refused::SignIn("/operator/sign-in");
        let cookie = valv_http::extract::cookie(&parts.headers, SESSION_COOKIE).ok_or_else(to_sign_in)?;
        match valv.accounts().resolve_session(cookie).await {
            Ok(c @ Caller::Operator { .. }) => Ok(Operator(c)),
            Ok(_) => Err(Refused::Page(ServiceError::Forbidden("this needs a provider operator").into())),
            Err(ServiceError::Unauthenticated { .. }) => Err(to_sign_in()),
            Err(e) => Err(Refused::Page(e.into())),
        }
    }
}

async fn frame(valv: &Valv, tr: Tr, key: &str, csrf: String, caller: &Caller) -> Result<Frame, PageError> {
    let me = valv.accounts().operator_me(caller).await?;
    let who = Who { name: me.name, organisation: tr.t("operator-label"), admin: false, operator: true, auditor: false };
    Ok(Frame::new(tr, key, csrf).signed_in(who))
}

async fn sign_in_form(tr: Tr, FormToken(csrf): FormToken) -> Result<Response, PageError> {
    Ok(render(&SignInPage::operator(tr, csrf))?.into_response())
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: secrecy::SecretString,
}

async fn sign_in(
    State(valv): State<Valv>,
    tr: Tr,
    ClientAddr(client): ClientAddr,
    FormToken(csrf): FormToken,
    Posted(c): Posted<Credentials>,
) -> Result<Response, PageError> {
    match valv.accounts().operator_sign_in(c.email.trim(), c.password, client).await {
        Ok(s) => Ok(signed_in(&valv, &s, true)),
        Err(e @ ServiceError::Internal(_)) => Err(e.into()),
        Err(e) => {
            let mut page = SignInPage::operator(tr, csrf);
            (page.email, page.error) = (c.email, Some(tr.error(e.code(), &e.to_string())));
            Ok(WebError::from(e).answer_with(render(&page)?))
        }
    }
}

struct TenantRow {
    href: String,
    name: String,
    slug: String,
    state: String,
    export_until: String,
}

fn state(tr: Tr, t: &TenantView) -> String {
    let key = match (t.purged_at.is_some(), t.terminated_at.is_some(), t.status.as_str()) {
        (true, _, _) => "tenant-state-purged",
        (_, true, _) => "tenant-state-terminated",
        (_, _, "blocked") => "tenant-state-blocked",
        _ => "tenant-state-active",
    };
    tr.t(key)
}

/// The last day a terminated tenant's administrators may export (the export window).
fn export_until(valv: &Valv, tr: Tr, t: &TenantView) -> String {
    match (t.terminated_at, t.purged_at) {
        (Some(end), None) => tr.date(end + valv.context().settings.export_window),
        _ => String::new(),
    }
}

#[derive(Default, Deserialize)]
struct NewTenantForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    contact_name: String,
    #[serde(default)]
    contact_email: String,
    #[serde(default)]
    contact_phone: String,
}

#[derive(Template)]
#[template(path = "operator_tenants.html")]
struct TenantsPage {
    f: Frame,
    rows: Vec<TenantRow>,
    new: NewTenantForm,
    error: Option<String>,
    fields: FieldErrors,
    created: bool,
}

#[derive(Deserialize)]
struct Shown {
    #[serde(default)]
    notice: String,
}

async fn tenants_page(valv: &Valv, tr: Tr, csrf: String, caller: &Caller) -> Result<TenantsPage, PageError> {
    let all = valv.accounts().tenants(caller).await?;
    let rows = all
        .iter()
        .map(|t| TenantRow {
            href: format!("/operator/t/{}", t.id),
            name: t.name.clone(),
            slug: t.slug.clone(),
            state: state(tr, t),
            export_until: export_until(valv, tr, t),
        })
        .collect();
    let f = frame(valv, tr, "operator-tenants-title", csrf, caller).await?;
    Ok(TenantsPage {
        f,
        rows,
        new: NewTenantForm::default(),
        error: None,
        fields: FieldErrors::default(),
        created: false,
    })
}

async fn tenants(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Operator(caller): Operator,
    Query(shown): Query<Shown>,
) -> Result<Response, PageError> {
    let mut page = tenants_page(&valv, tr, csrf, &caller).await?;
    page.created = shown.notice == "tenant-created";
    Ok(render(&page)?.into_response())
}

async fn create(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Operator(caller): Operator,
    Posted(n): Posted<NewTenantForm>,
) -> Result<Response, PageError> {
    let new = NewTenant {
        name: n.name.clone(),
        slug: Some(n.slug.trim().to_owned()).filter(|s| !s.is_empty()),
        contact_name: n.contact_name.clone(),
        contact_email: n.contact_email.clone(),
        contact_phone: n.contact_phone.clone(),
    };
    match valv.accounts().create_tenant(&caller, new).await {
        Ok(_) => Ok(Redirect::to("/operator?notice=tenant-created").into_response()),
        Err(e @ ServiceError::Internal(_)) => Err(e.into()),
        Err(e) => {
            let mut page = tenants_page(&valv, tr, csrf, &caller).await?;
            (page.error, page.fields) = (Some(tr.error(e.code(), &e.to_string())), FieldErrors::of(tr, &e));
            page.new = n;
            Ok(WebError::from(e).answer_with(render(&page)?))
        }
    }
}

#[derive(Template)]
#[template(path = "operator_tenant.html")]
struct TenantPage {
    f: Frame,
    t: TenantView,
    state: String,
    export_until: String,
}

fn tenant_id(raw: &str) -> Result<TenantId, PageError> {
    TenantId::parse(raw).map_err(|_| PageError::from(ServiceError::NotFound))
}

async fn tenant(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Operator(caller): Operator,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let t = valv.accounts().tenant(&caller, tenant_id(&id)?).await?;
    let f = frame(&valv, tr, "operator-tenant-title", csrf, &caller).await?.titled(&t.name);
    let page = TenantPage { state: state(tr, &t), export_until: export_until(&valv, tr, &t), f, t };
    Ok(render(&page)?.into_response())
}

async fn act(
    State(valv): State<Valv>,
    Operator(caller): Operator,
    Path((id, action)): Path<(String, String)>,
    Posted(_): Posted<NoFields>,
) -> Result<Response, PageError> {
    let id = tenant_id(&id)?;
    let accounts = valv.accounts();
    let t = match action.as_str() {
        "block" => accounts.set_tenant_blocked(&caller, id, true).await?,
        "unblock" => accounts.set_tenant_blocked(&caller, id, false).await?,
        "terminate" => accounts.terminate_tenant(&caller, id).await?,
        _ => return Err(ServiceError::NotFound.into()),
    };
    Ok(Redirect::to(&format!("/operator/t/{}", t.id)).into_response())
}

struct TargetRow {
    name: String,
    location: String,
    lag: String,
    last_success: String,
    error: Option<String>,
}

struct RunRow {
    kind: String,
    at: String,
    outcome: String,
    ok: bool,
    seconds: String,
}

#[derive(Template)]
#[template(path = "operator_backups.html")]
struct BackupsPage {
    f: Frame,
    journal_seq: u64,
    targets: Vec<TargetRow>,
    runs: Vec<RunRow>,
}

async fn backups(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Operator(caller): Operator,
) -> Result<Response, PageError> {
    let status = valv.backups().backup_status(&caller).await?;
    let runs = valv.backups().backup_runs(&caller, 20).await?;
    let when = |s: &str| valv_domain::parse_stamp(s).map(|t| tr.date_time(t)).unwrap_or_else(|_| s.to_owned());
    let targets = status
        .targets
        .iter()
        .map(|t| TargetRow {
            name: t.name.clone(),
            location: t.location.clone(),
            lag: format!("{:.1} s", t.lag_seconds),
            last_success: t.last_success.as_deref().map(when).unwrap_or_default(),
            error: t.last_error.clone(),
        })
        .collect();
    let runs = runs
        .iter()
        .map(|r| RunRow {
            kind: tr.t(&format!("backup-kind-{}", r.kind)),
            at: when(&r.started_at),
            outcome: tr.t(&format!("backup-outcome-{}", r.outcome)),
            ok: r.outcome == "ok",
            seconds: format!("{:.1} s", r.duration_ms as f64 / 1000.0),
        })
        .collect();
    let f = frame(&valv, tr, "operator-backups-title", csrf, &caller).await?;
    Ok(render(&BackupsPage { f, journal_seq: status.journal_seq, targets, runs })?.into_response())
}
