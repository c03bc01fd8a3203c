//! Signing in: organisation, e-mail and password, then the second factor
//! when one is owed (an authenticator code, a recovery code, or a code by
//! e-mail), then signing out. The session cookie is the API's (see
//! `valv_http::session`); a refused step shows the form again with why.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use secrecy::SecretString;
use serde::Deserialize;
use valv_http::session::{expired_session_cookie, session_cookie};
use valv_http::{ClientAddr, SESSION_COOKIE, WebError};
use valv_service::{SecondFactor, ServiceError, SignIn, SignInStatus, Valv};

use crate::csrf::{FormToken, NoFields, Posted};
use crate::i18n::Tr;
use crate::page::{Frame, PageError, render};

pub(super) fn routes() -> Router<Valv> {
    Router::new()
        .route("/sign-in", get(form).post(sign_in))
        .route("/sign-in/second-factor", get(second_factor_form).post(second_factor))
        .route("/sign-in/send-code", post(send_code))
        .route("/sign-out", post(sign_out))
}

/// The sign-in form of tenant users, or of operators (no organisation).
#[derive(Template)]
#[template(path = "sign_in.html")]
pub(crate) struct SignInPage {
    f: Frame,
    operator: bool,
    tenant: String,
    pub(crate) email: String,
    pub(crate) error: Option<String>,
}

impl SignInPage {
    fn tenant(tr: Tr, csrf: String) -> Self {
        let f = Frame::new(tr, "sign-in-title", csrf);
        Self { f, operator: false, tenant: String::new(), email: String::new(), error: None }
    }

    pub(crate) fn operator(tr: Tr, csrf: String) -> Self {
        Self { operator: true, f: Frame::new(tr, "operator-sign-in-title", csrf), ..Self::tenant(tr, String::new()) }
    }
}

async fn form(tr: Tr, FormToken(csrf): FormToken) -> Result<Response, PageError> {
    Ok(render(&SignInPage::tenant(tr, csrf))?.into_response())
}

#[derive(Deserialize)]
struct Credentials {
    tenant: String,
    email: String,
    password: SecretString,
}

async fn sign_in(
    State(valv): State<Valv>,
    tr: Tr,
    ClientAddr(client): ClientAddr,
    FormToken(csrf): FormToken,
    Posted(c): Posted<Credentials>,
) -> Result<Response, PageError> {
    match valv.accounts().sign_in(c.tenant.trim(), c.email.trim(), c.password, client).await {
        Ok(s) => Ok(signed_in(&valv, &s, false)),
        Err(e @ ServiceError::Internal(_)) => Err(e.into()),
        Err(e) => {
            let error = Some(tr.error(e.code(), &e.to_string()));
            let page = SignInPage { tenant: c.tenant, email: c.email, error, ..SignInPage::tenant(tr, csrf) };
            Ok(WebError::from(e).answer_with(render(&page)?))
        }
    }
}

/// Where a sign-in step leads: the workspace (or the operator's console),
/// or the second factor with the methods this person has (not secret:
/// which kinds they set up).
pub(crate) fn signed_in(valv: &Valv, s: &SignIn, operator: bool) -> Response {
    let next = match (s.status, operator) {
        (SignInStatus::SignedIn, false) => "/app".to_owned(),
        (SignInStatus::SignedIn, true) => "/operator".to_owned(),
        (SignInStatus::SecondFactorRequired, _) => {
            let who = if operator { "&operator=1" } else { "" };
            format!("/sign-in/second-factor?methods={}{who}", s.methods.join(","))
        }
    };
    let mut res = Redirect::to(&next).into_response();
    if let Some(v) = session_cookie(valv, s) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

#[derive(Template)]
#[template(path = "second_factor.html")]
struct SecondFactorPage {
    f: Frame,
    methods: String,
    /// `1` for an operator, whose console comes next.
    operator: String,
    choices: Vec<Choice>,
    can_send: bool,
    error: Option<String>,
    notice: Option<String>,
}

struct Choice {
    value: &'static str,
    label: String,
}

#[derive(Deserialize)]
struct Methods {
    #[serde(default)]
    methods: String,
    #[serde(default)]
    operator: String,
}

impl SecondFactorPage {
    fn new(tr: Tr, csrf: String, methods: &str, operator: &str) -> Self {
        let has = |m: &str| methods.split(',').any(|x| x == m);
        let mut choices = Vec::new();
        for (value, key, offered) in [
            ("totp", "second-factor-totp", has("totp")),
            ("code", "second-factor-code", has("email")),
            ("recovery_code", "second-factor-recovery", has("recovery_code")),
        ] {
            if offered {
                choices.push(Choice { value, label: tr.t(key) });
            }
        }
        Self {
            f: Frame::new(tr, "second-factor-title", csrf),
            methods: methods.to_owned(),
            operator: if operator == "1" { "1".into() } else { String::new() },
            choices,
            can_send: has("email"),
            error: None,
            notice: None,
        }
    }
}

async fn second_factor_form(
    tr: Tr,
    FormToken(csrf): FormToken,
    Query(m): Query<Methods>,
) -> Result<Response, PageError> {
    Ok(render(&SecondFactorPage::new(tr, csrf, &m.methods, &m.operator))?.into_response())
}

#[derive(Deserialize)]
struct Factor {
    #[serde(default)]
    methods: String,
    #[serde(default)]
    operator: String,
    method: String,
    code: String,
}

fn session(headers: &HeaderMap) -> String {
    valv_http::extract::cookie(headers, SESSION_COOKIE).unwrap_or_default().to_owned()
}

async fn second_factor(
    State(valv): State<Valv>,
    tr: Tr,
    ClientAddr(client): ClientAddr,
    FormToken(csrf): FormToken,
    headers: HeaderMap,
    Posted(f): Posted<Factor>,
) -> Result<Response, PageError> {
    let code = f.code.trim().to_owned();
    let factor = match f.method.as_str() {
        "totp" => SecondFactor::Totp(code),
        "recovery_code" => SecondFactor::RecoveryCode(code),
        _ => SecondFactor::SentCode(code),
    };
    match valv.accounts().second_factor(&session(&headers), factor, client).await {
        Ok(s) => Ok(signed_in(&valv, &s, f.operator == "1")),
        Err(e @ ServiceError::Internal(_)) => Err(e.into()),
        Err(e) => {
            let mut page = SecondFactorPage::new(tr, csrf, &f.methods, &f.operator);
            page.error = Some(tr.error(e.code(), &e.to_string()));
            Ok(WebError::from(e).answer_with(render(&page)?))
        }
    }
}

async fn send_code(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    headers: HeaderMap,
    Posted(m): Posted<Methods>,
) -> Result<Response, PageError> {
    let mut page = SecondFactorPage::new(tr, csrf, &m.methods, &m.operator);
    let status = match valv.accounts().send_code(&session(&headers), "email").await {
        Ok(()) => {
            page.notice = Some(tr.t("second-factor-sent"));
            StatusCode::OK
        }
        Err(e @ ServiceError::Internal(_)) => return Err(e.into()),
        Err(e) => {
            page.error = Some(tr.error(e.code(), &e.to_string()));
            WebError::from(e).status()
        }
    };
    Ok((status, render(&page)?).into_response())
}

/// Ends the session on the server (anyone signed in: a tenant's user or an
/// operator) and makes the browser forget it; without a live session there
/// is nothing to end, and the browser forgets the cookie all the same.
async fn sign_out(
    State(valv): State<Valv>,
    headers: HeaderMap,
    Posted(_): Posted<NoFields>,
) -> Result<Response, PageError> {
    if let Ok(caller) = valv.accounts().resolve_session(&session(&headers)).await {
        valv.accounts().sign_out(&caller).await?;
    }
    let mut res = Redirect::to("/").into_response();
    res.headers_mut().insert(header::SET_COOKIE, expired_session_cookie());
    Ok(res)
}
