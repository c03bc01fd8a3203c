//! One module per screen. Each handler extracts who calls (a page
//! extractor below: session cookie only, never an API token), asks the
//! service for what the screen shows (and the header's person), and
//! renders its template.

mod account;
mod activate;
mod export;
mod files;
mod home;
mod journal;
mod landing;
mod operator;
mod privacy;
mod records;
mod requests;
pub(crate) mod sign_in;
mod users;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use valv_http::SESSION_COOKIE;
use valv_service::{Caller, ServiceError, Valv};

use crate::page::PageError;

pub(crate) fn routes() -> Router<Valv> {
    Router::new()
        .merge(activate::routes())
        .merge(landing::routes())
        .merge(sign_in::routes())
        .merge(home::routes())
        .merge(privacy::routes())
        .merge(requests::routes())
        .merge(records::routes())
        .merge(users::routes())
        .merge(operator::routes())
        .merge(files::routes())
        .merge(account::routes())
        .merge(journal::routes())
        .merge(export::routes())
}

/// A signed-in tenant user (any role), by session cookie. Anyone else is
/// sent to the sign-in page; a blocked account or organisation is told so.
pub(crate) struct Member(pub(crate) Caller);

/// Why a page extractor refused.
pub(crate) enum Refused {
    /// Not signed in: to this sign-in page.
    SignIn(&'static str),
    Page(PageError),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::SignIn(to) => Redirect::to(to).into_response(),
            Refused::Page(e) => e.into_response(),
        }
    }
}

impl FromRequestParts<Valv> for Member {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, valv: &Valv) -> Result<Self, Refused> {
        let cookie = valv_http::extract::cookie(&parts.headers, SESSION_COOKIE).ok_or(Refused::SignIn("/sign-in"))?;
        let caller = valv.accounts().resolve_session(cookie).await.map_err(|e| match e {
            ServiceError::Unauthenticated { .. } => Refused::SignIn("/sign-in"),
            other => Refused::Page(other.into()),
        })?;
        caller.member().map_err(|e| Refused::Page(e.into()))?;
        Ok(Member(caller))
    }
}
