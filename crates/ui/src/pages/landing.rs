//! `/`: the installation's front page, for anyone.

use askama::Template;
use axum::Router;
use axum::response::Html;
use axum::routing::get;
use valv_service::Valv;

use crate::csrf::FormToken;
use crate::i18n::Tr;
use crate::page::{Frame, PageError, render};

pub(super) fn routes() -> Router<Valv> {
    Router::new().route("/", get(landing))
}

#[derive(Template)]
#[template(path = "landing.html")]
struct Landing {
    f: Frame,
}

async fn landing(tr: Tr, FormToken(csrf): FormToken) -> Result<Html<String>, PageError> {
    render(&Landing { f: Frame::new(tr, "landing-title", csrf) })
}
