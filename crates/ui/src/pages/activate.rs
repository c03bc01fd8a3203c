//! `/activate`: an invited person sets their password with the code from
//! the invitation. The strength check is the service's (zxcvbn, no part of
//! the person's name, e-mail or organisation); a refusal shows its warning
//! and suggestions, so the person knows what to change.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use secrecy::SecretString;
use serde::Deserialize;
use valv_http::WebError;
use valv_service::{ServiceError, Valv};

use crate::csrf::{FormToken, Posted};
use crate::i18n::Tr;
use crate::page::{Frame, PageError, render};

pub(super) fn routes() -> Router<Valv> {
    Router::new().route("/activate", get(form).post(activate))
}

#[derive(Template)]
#[template(path = "activate.html")]
struct ActivatePage {
    f: Frame,
    code: String,
    error: Option<String>,
    warning: Option<String>,
    suggestions: Vec<String>,
    done: bool,
}

impl ActivatePage {
    fn new(tr: Tr, csrf: String, code: String) -> Self {
        let f = Frame::new(tr, "activate-title", csrf);
        Self { f, code, error: None, warning: None, suggestions: Vec::new(), done: false }
    }
}

#[derive(Deserialize)]
struct Code {
    #[serde(default)]
    code: String,
}

/// The invitation's link leads here with the code filled in.
async fn form(tr: Tr, FormToken(csrf): FormToken, Query(c): Query<Code>) -> Result<Response, PageError> {
    Ok(render(&ActivatePage::new(tr, csrf, c.code))?.into_response())
}

#[derive(Deserialize)]
struct NewPassword {
    code: String,
    password: SecretString,
}

async fn activate(
    State(valv): State<Valv>,
    tr: Tr,
    FormToken(csrf): FormToken,
    Posted(p): Posted<NewPassword>,
) -> Result<Response, PageError> {
    let mut page = ActivatePage::new(tr, csrf, p.code.trim().to_owned());
    match valv.accounts().activate(p.code.trim(), p.password).await {
        Ok(_) => {
            page.done = true;
            page.code.clear();
            Ok(render(&page)?.into_response())
        }
        Err(e @ ServiceError::Internal(_)) => Err(e.into()),
        Err(e) => {
            page.error = Some(tr.error(e.code(), &e.to_string()));
            // The meter's own words are English; the refusal above is in the page's language.
            if let ServiceError::PasswordRefused { feedback, .. } = &e {
                page.warning.clone_from(&feedback.warning);
                page.suggestions.clone_from(&feedback.suggestions);
            }
            Ok(WebError::from(e).answer_with(render(&page)?))
        }
    }
}
