//! The public pages of data subjects (GDPR Art. 12 and 15–20): the request
//! form of an organisation, its receipt with the date the answer is due,
//! and the confirmation of the subject's address. The form looks the same
//! for every address under `/t/`: an unknown organisation is not revealed
//! (review L9), and the service limits how often anyone may send it.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use valv_domain::deadline::RequestDeadline;
use valv_http::{ClientAddr, WebError};
use valv_service::{ServiceError, Valv};

use crate::csrf::{FormToken, Posted};
use crate::i18n::Tr;
use crate::page::{FieldErrors, Frame, PageError, render};

pub(super) fn routes() -> Router<Valv> {
    Router::new()
        .route("/t/{slug}/privacy/request", get(form).post(file))
        .route("/privacy/verify", get(verify_form).post(verify))
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    f: Frame,
    slug: String,
    kind: String,
    email: String,
    message: String,
    error: Option<String>,
    fields: FieldErrors,
}

#[derive(Template)]
#[template(path = "request_sent.html")]
struct RequestSent {
    f: Frame,
    due: String,
}

async fn form(tr: Tr, FormToken(csrf): FormToken, Path(slug): Path<String>) -> Result<Response, PageError> {
    let page = RequestPage {
        f: Frame::new(tr, "request-title", csrf),
        slug,
        kind: "access".into(),
        email: String::new(),
        message: String::new(),
        error: None,
        fields: FieldErrors::default(),
    };
    Ok(render(&page)?.into_response())
}

#[derive(Deserialize)]
struct Filed {
    kind: String,
    email: String,
    #[serde(default)]
    message: String,
}

async fn file(
    State(valv): State<Valv>,
    tr: Tr,
    ClientAddr(client): ClientAddr,
    FormToken(csrf): FormToken,
    Path(slug): Path<String>,
    Posted(r): Posted<Filed>,
) -> Result<Response, PageError> {
    let new = valv_service::privacy::NewRequest {
        kind: r.kind.clone(),
        email: r.email.trim().to_owned(),
        message: Some(r.message.clone()).filter(|m| !m.trim().is_empty()),
    };
    match valv.privacy().file_request(&slug, new, client).await {
        Ok(_) => {
            // The period runs from receipt (GDPR Art. 12(3)); the organisation sees the same date.
            let due =
                tr.t_with("request-sent-due", &[("due", tr.date(RequestDeadline::new(valv.context().now()).due()))]);
            Ok(render(&RequestSent { f: Frame::new(tr, "request-sent-title", csrf), due })?.into_response())
        }
        Err(e @ ServiceError::Internal(_)) => Err(e.into()),
        Err(e) => {
            let (error, fields) = (Some(tr.error(e.code(), &e.to_string())), FieldErrors::of(tr, &e));
            let f = Frame::new(tr, "request-title", csrf);
            let page = RequestPage { f, slug, kind: r.kind, email: r.email, message: r.message, error, fields };
            Ok(WebError::from(e).answer_with(render(&page)?))
        }
    }
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    f: Frame,
    code: String,
    error: Option<String>,
    done: bool,
}

#[derive(Deserialize)]
struct Code {
    #[serde(default)]
    code: String,
}

/// The link in the message leads here with the code filled in; only the
/// button confirms, so a mail scanner that follows links confirms nothing.
async fn verify_form(tr: Tr, FormToken(csrf): FormToken, Query(c): Query<Code>) -> Result<Response, PageError> {
    let page = VerifyPage { f: Frame::new(tr, "verify-title", csrf), code: c.code, error: None, done: false };
    Ok(render(&page)?.into_response())
}

async fn verify(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Posted(c): Posted<Code>,
) -> Result<Response, PageError> {
    let mut page =
        VerifyPage { f: Frame::new(tr, "verify-title", csrf), code: c.code.clone(), error: None, done: false };
    match valv.privacy().verify_request(&c.code).await {
        Ok(()) => {
            page.done = true;
            page.code.clear();
            Ok((StatusCode::OK, render(&page)?).into_response())
        }
        Err(e @ ServiceError::Internal(_)) => Err(e.into()),
        Err(e) => {
            page.error = Some(tr.error(e.code(), &e.to_string()));
            Ok(WebError::from(e).answer_with(render(&page)?))
        }
    }
}
