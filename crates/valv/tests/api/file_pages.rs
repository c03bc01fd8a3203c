//! The file pages over HTTP: an upload form's token is checked before any
//! content is read, malware is refused on the page with its name, and
//! another tenant's file is not there.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

use crate::pages::{browser, page_sign_in, token};
use crate::services::{EICAR, clamd};
use crate::{app, app_with};

/// An upload form: the token first, as the page's form sends it.
fn upload_form(csrf: Option<&str>, name: &str, bytes: &[u8]) -> Form {
    let form = Form::new();
    let form = match csrf {
        Some(t) => form.text("csrf", t.to_owned()),
        None => form,
    };
    form.text("folder", "/").part("file", Part::bytes(bytes.to_vec()).file_name(name.to_owned()))
}

#[tokio::test]
async fn an_upload_without_its_token_stores_nothing_and_malware_is_named_on_the_page() {
    let (_clamd, port) = clamd().await;
    let app = app_with(&[], &[("VALV_CLAMD", &format!("127.0.0.1:{port}"))]);
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let c = browser();
    page_sign_in(&app, &c, "acme", &t.owner_email).await;
    let csrf = token(&c.get(app.at("/app/files")).send().await.unwrap().text().await.unwrap());

    let refused = c.post(app.at("/app/files")).multipart(upload_form(None, "a.txt", b"hello")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "no token");
    let other = upload_form(Some("0123"), "a.txt", b"hello");
    assert_eq!(c.post(app.at("/app/files")).multipart(other).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert!(api.files(&t.owner, None).await.ok().as_array().unwrap().is_empty(), "nothing stored");

    let infected = upload_form(Some(&csrf), "eicar.com", EICAR.as_bytes());
    let r = c.post(app.at("/app/files")).multipart(infected).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("role=\"alert\"") && html.contains("Eicar-Test-Signature"), "named on the page");
    assert!(api.files(&t.owner, None).await.ok().as_array().unwrap().is_empty(), "and not stored");

    let clean = c.post(app.at("/app/files")).multipart(upload_form(Some(&csrf), "a.txt", b"hello")).send().await;
    assert_eq!(clean.unwrap().status(), StatusCode::SEE_OTHER, "a clean file with its token is stored");
}

#[tokio::test]
async fn another_tenants_file_is_not_there() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let (acme, other) = (app.tenant(&op, "acme").await, app.tenant(&op, "other").await);
    let theirs = api.upload(&other.owner, "/", "secret.txt", b"their secret".to_vec()).await.created();
    let id = theirs["id"].as_str().unwrap();
    let c = browser();
    page_sign_in(&app, &c, "acme", &acme.owner_email).await;
    for path in [format!("/app/files/{id}"), format!("/app/files/{id}/v/1")] {
        let r = c.get(app.at(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        let body = r.text().await.unwrap();
        assert!(!body.contains("their secret") && !body.contains("secret.txt"), "{path} shows nothing of it");
    }
}
