//! What every page shares: the frame around its content (language, title,
//! the signed-in person, the sign-out form), rendering, and errors as pages.
//! An error page says what happened in the page's language and quotes the
//! request id; a failure on valv's side carries its cause to the request
//! log, as the API's errors do.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use valv_http::WebError;
use valv_service::ServiceError;

use crate::i18n::{Lang, Tr};

tokio::task_local! {
    /// The language and path of the page being answered, for error pages
    /// made where the request is no longer at hand (extractors' refusals)
    /// and for the language form, which comes back to the same page.
    static PAGE: (Lang, String);
}

/// The signed-in person, named in the header.
#[derive(Debug, Clone)]
pub(crate) struct Who {
    pub(crate) name: String,
    pub(crate) organisation: String,
    /// An owner or admin: the navigation offers the administrator's pages.
    pub(crate) admin: bool,
    /// A provider operator: the navigation offers the operator's console.
    pub(crate) operator: bool,
    /// A reader of the journal (owner, admin, auditor).
    pub(crate) auditor: bool,
}

/// What the frame of every page shows.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub(crate) tr: Tr,
    pub(crate) title: String,
    pub(crate) who: Option<Who>,
    /// The form token, for the sign-out form and the page's own forms.
    pub(crate) csrf: String,
    /// This page's path, where the language form comes back to.
    pub(crate) path: String,
}

impl Frame {
    pub(crate) fn new(tr: Tr, title_key: &str, csrf: String) -> Self {
        let path = PAGE.try_with(|(_, p)| p.clone()).unwrap_or_else(|_| "/".to_owned());
        Self { tr, title: tr.t(title_key), who: None, csrf, path }
    }

    #[must_use]
    pub(crate) fn signed_in(mut self, who: Who) -> Self {
        self.who = Some(who);
        self
    }

    /// Puts `subject` (a collection's name) before the title.
    #[must_use]
    pub(crate) fn titled(mut self, subject: &str) -> Self {
        self.title = format!("{subject} · {}", self.title);
        self
    }

    /// The message `key` in the page's language (templates call this).
    pub(crate) fn t(&self, key: &str) -> String {
        self.tr.t(key)
    }

    pub(crate) fn lang(&self) -> &'static str {
        self.tr.0.code()
    }

    pub(crate) fn style(&self) -> &'static str {
        crate::assets::style_href()
    }
}

/// The refusals of a form's fields, in the page's language, by field name.
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    pub(crate) fn of(tr: Tr, e: &ServiceError) -> Self {
        match e {
            ServiceError::Validation(fields) => {
                Self(fields.iter().map(|f| (f.field.clone(), tr.error(&f.code, &f.message))).collect())
            }
            _ => Self::default(),
        }
    }

    /// The refusal of field `name`, if any (templates call this).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(f, _)| f == name).map(|(_, m)| m.as_str())
    }
}

/// A refusal to show beside a form: its sentence and the refused fields,
/// in the page's language. A failure on valv's side is an error page.
pub(crate) fn refusal(tr: Tr, e: &ServiceError) -> Result<(Option<String>, FieldErrors), PageError> {
    match e {
        ServiceError::Internal(_) => Err(PageError::internal(e)),
        _ => Ok((Some(tr.error(e.code(), &e.to_string())), FieldErrors::of(tr, e))),
    }
}

/// A rendered page.
pub(crate) fn render(page: &impl Template) -> Result<Html<String>, PageError> {
    page.render().map(Html).map_err(PageError::internal)
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    f: Frame,
    message: String,
    request_id: String,
}

/// A refusal or failure, answered as a page.
#[derive(Debug)]
pub(crate) struct PageError {
    status: StatusCode,
    /// A catalogue key, or the service's error.
    what: What,
    /// The service's error, boxed: it is large and only errors carry it.
    web: Option<Box<WebError>>,
}

#[derive(Debug)]
enum What {
    Key(&'static str),
    Service { code: &'static str, message: String },
}

impl PageError {
    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        Self::from(ServiceError::internal_msg(e.to_string()))
    }

    /// A form whose token is missing or not this browser's.
    pub(crate) fn form_expired() -> Self {
        Self { status: StatusCode::FORBIDDEN, what: What::Key("error-form-expired"), web: None }
    }

    /// A form body that is not one.
    pub(crate) fn bad_form() -> Self {
        Self { status: StatusCode::BAD_REQUEST, what: What::Key("error-bad-form"), web: None }
    }
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        Self::from(WebError::from(e))
    }
}

impl From<WebError> for PageError {
    fn from(web: WebError) -> Self {
        let what = What::Service { code: web.code(), message: web.message().to_owned() };
        Self { status: web.status(), what, web: Some(Box::new(web)) }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let tr = Tr(PAGE.try_with(|(l, _)| *l).unwrap_or(Lang::En));
        let message = match &self.what {
            What::Key(key) => tr.t(key),
            What::Service { code, message } => tr.error(code, message),
        };
        let request_id = valv_http::error::REQUEST_ID.try_with(Clone::clone).unwrap_or_default();
        let page = ErrorPage { f: Frame::new(tr, "error-title", String::new()), message, request_id };
        let html = page.render().unwrap_or_else(|_| "error".to_owned());
        match self.web {
            Some(web) => web.answer_with((self.status, Html(html))),
            None => (self.status, Html(html)).into_response(),
        }
    }
}

/// The page for an address that leads nowhere.
pub(crate) async fn not_found() -> PageError {
    PageError { status: StatusCode::NOT_FOUND, what: What::Key("error-not-found"), web: None }
}

/// The answer when a page panicked: a plain page, nothing of the panic.
pub(crate) fn internal_error() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, Html("<!doctype html><title>Error</title><p>Something went wrong."))
        .into_response()
}

/// Middleware: the page's language and path (see `PAGE`).
pub(crate) async fn in_page(tr: Tr, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path().to_owned();
    PAGE.scope((tr.0, path), next.run(req)).await
}
