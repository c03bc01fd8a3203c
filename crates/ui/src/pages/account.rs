//! `/app/account`: a person's own account, starting with the second
//! factor. Setting up an authenticator app shows its secret as a QR code
//! (drawn on the server as SVG, RFC 6238's `otpauth://` URL) and as text;
//! a code from the app confirms it, and the recovery codes are shown that
//! once, never again (the service keeps only their keyed digests).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde::Deserialize;
use valv_http::WebError;
use valv_service::{Caller, ServiceError, Valv};

use super::Member;
use super::home::who;
use crate::csrf::{FormToken, NoFields, Posted};
use crate::i18n::Tr;
use crate::page::{Frame, PageError, render};

pub(super) fn routes() -> Router<Valv> {
    Router::new()
        .route("/app/account", get(account))
        .route("/app/account/totp", post(begin))
        .route("/app/account/totp/confirm", post(confirm))
}

/// What the account page shows of the second factor.
enum Factor {
    /// Set up; this many recovery codes left.
    On(usize),
    Off,
    /// Enrolment begun: the QR code (a data URL) and the secret as text.
    Enrolling {
        qr: String,
        secret: String,
    },
    /// Just confirmed: the recovery codes, shown this once.
    Confirmed(Vec<String>),
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    f: Frame,
    email: String,
    factor: Factor,
    error: Option<String>,
}

async fn page(
    valv: &Valv,
    tr: Tr,
    csrf: String,
    caller: &Caller,
    factor: Option<Factor>,
) -> Result<AccountPage, PageError> {
    let me = valv.accounts().me(caller).await?;
    let factor = factor.unwrap_or(if me.totp_enabled { Factor::On(me.recovery_codes_left) } else { Factor::Off });
    let f = Frame::new(tr, "account-title", csrf).signed_in(who(valv, caller).await?);
    Ok(AccountPage { f, email: me.email, factor, error: None })
}

async fn account(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
) -> Result<Response, PageError> {
    Ok(render(&page(&valv, tr, csrf, &caller, None).await?)?.into_response())
}

/// The `otpauth://` URL as an SVG QR code in a data URL (the page's policy
/// allows images from data URLs, nothing inline that runs).
fn qr(url: &str) -> Result<String, PageError> {
    let code = qrcode::QrCode::new(url.as_bytes()).map_err(PageError::internal)?;
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(220, 220).quiet_zone(true).build();
    Ok(format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(svg)))
}

async fn begin(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    Posted(_): Posted<NoFields>,
) -> Result<Response, PageError> {
    let e = valv.accounts().begin_totp(&caller).await?;
    let factor = Factor::Enrolling { qr: qr(&e.otpauth_url)?, secret: e.secret };
    Ok(render(&page(&valv, tr, csrf, &caller, Some(factor)).await?)?.into_response())
}

#[derive(Deserialize)]
struct Code {
    code: String,
}

async fn confirm(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Member(caller): Member,
    Posted(c): Posted<Code>,
) -> Result<Response, PageError> {
    match valv.accounts().confirm_totp(&caller, c.code.trim()).await {
        Ok(codes) => {
            Ok(render(&page(&valv, tr, csrf, &caller, Some(Factor::Confirmed(codes))).await?)?.into_response())
        }
        Err(e @ ServiceError::Internal(_)) => Err(e.into()),
        Err(e) => {
            // The enrolment stays begun: a new QR code would need a new secret, so the person starts again.
            let mut p = page(&valv, tr, csrf, &caller, Some(Factor::Off)).await?;
            p.error = Some(tr.error(e.code(), &e.to_string()));
            Ok(WebError::from(e).answer_with(render(&p)?))
        }
    }
}
