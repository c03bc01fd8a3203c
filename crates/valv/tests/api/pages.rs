//! The web pages over HTTP as a browser sees them: their headers, the form
//! tokens against cross-site request forgery, sign-in and sign-out, and
//! the language. (`browser.rs` drives a real browser through the same.)

use reqwest::{Client, StatusCode, header};
use valv_testkit::{PASSWORD, TestApp};

use crate::app;

/// A browser-like client: keeps cookies, does not follow redirects.
pub(crate) fn browser() -> Client {
    let policy = reqwest::redirect::Policy::none();
    Client::builder().cookie_store(true).danger_accept_invalid_certs(true).redirect(policy).build().unwrap()
}

/// The form token in a page's HTML.
pub(crate) fn token(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

/// The sign-in page as `c` gets it, and its form token.
async fn sign_in_page(app: &TestApp, c: &Client) -> String {
    let html = c.get(app.at("/sign-in")).send().await.unwrap().text().await.unwrap();
    token(&html)
}

async fn post_sign_in(app: &TestApp, c: &Client, csrf: Option<&str>, email: &str) -> reqwest::Response {
    let mut form = vec![("tenant", "acme"), ("email", email), ("password", PASSWORD)];
    if let Some(t) = csrf {
        form.push(("csrf", t));
    }
    c.post(app.at("/sign-in")).form(&form).send().await.unwrap()
}

#[tokio::test]
async fn pages_have_a_strict_policy_are_not_kept_and_their_stylesheet_is() {
    let app = app();
    let c = browser();
    let page = c.get(app.at("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let h = page.headers().clone();
    assert!(h[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe-"), "{csp}");
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    let cookie = h[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("__Host-valv_form=") && cookie.contains("HttpOnly") && cookie.contains("Secure"));
    let html = page.text().await.unwrap();
    let at = html.find("/assets/style.").unwrap();
    let href = html[at..].split('"').next().unwrap();
    let css = c.get(app.at(href)).send().await.unwrap();
    assert_eq!(css.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert!(css.text().await.unwrap().contains(":focus-visible"), "the stylesheet");
    let other = c.get(app.at("/assets/style.0000.css")).send().await.unwrap();
    assert_eq!(other.status(), 404, "only the current stylesheet's name");
    let missing = c.get(app.at("/no/such/page")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("There is nothing at this address."), "an HTML page");
}

#[tokio::test]
async fn a_form_without_its_own_token_is_refused_and_signs_nobody_in() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let (mine, theirs) = (browser(), browser());
    let my_token = sign_in_page(&app, &mine).await;
    let their_token = sign_in_page(&app, &theirs).await;
    assert_ne!(my_token, their_token, "a token per browser");

    for (csrf, why) in [(None, "no token"), (Some(their_token.as_str()), "another browser's token")] {
        let r = post_sign_in(&app, &mine, csrf, &t.owner_email).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{why}");
        assert!(r.headers().get(header::SET_COOKIE).is_none(), "{why}: no session");
        assert!(r.text().await.unwrap().contains("This form has expired"), "{why}: the page says why");
    }
    let journal = app.journal(&t.owner).await;
    let failed = journal.iter().filter(|e| e["action"] == "auth.sign_in_failed").count();
    assert_eq!(failed, 0, "a refused form is not even a failed sign-in: nothing was read from it");

    let r = post_sign_in(&app, &mine, Some(&my_token), &t.owner_email).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[header::LOCATION], "/app");
    let home = mine.get(app.at("/app")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("Org acme"), "the header names the organisation");
}

#[tokio::test]
async fn a_wrong_password_shows_the_form_again_and_sign_out_ends_the_session() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let c = browser();
    let csrf = sign_in_page(&app, &c).await;
    let form = [("tenant", "acme"), ("email", t.owner_email.as_str()), ("password", "wrong"), ("csrf", &csrf)];
    let r = c.post(app.at("/sign-in")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let html = r.text().await.unwrap();
    assert!(html.contains("role=\"alert\"") && html.contains("is wrong"), "the reason, announced");
    assert!(html.contains(&format!("value=\"{}\"", t.owner_email)), "the e-mail is kept, the password not");
    let journal = app.journal(&t.owner).await;
    assert!(journal.iter().any(|e| e["action"] == "auth.sign_in_failed"), "a failed sign-in is journaled");

    assert_eq!(post_sign_in(&app, &c, Some(&csrf), &t.owner_email).await.status(), StatusCode::SEE_OTHER);
    let session = c.get(app.at("/api/v1/me")).send().await.unwrap();
    assert_eq!(session.status(), 200, "the page's session is the API's");
    let out = c.post(app.at("/sign-out")).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(out.headers()[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    let home = c.get(app.at("/app")).send().await.unwrap();
    assert_eq!(home.headers()[header::LOCATION], "/sign-in", "signed out: back to the sign-in page");
}

#[tokio::test]
async fn pages_speak_the_language_asked_for() {
    let app = app();
    let c = browser();
    let sv = c.get(app.at("/sign-in")).header(header::ACCEPT_LANGUAGE, "sv-SE,sv;q=0.9,en;q=0.8").send().await;
    let html = sv.unwrap().text().await.unwrap();
    assert!(html.contains("<html lang=\"sv\">") && html.contains("Lösenord"), "Swedish by Accept-Language");
    let csrf = token(&html);
    let chosen = c.post(app.at("/language")).form(&[("lang", "en"), ("back", "/sign-in"), ("csrf", &csrf)]).send();
    let chosen = chosen.await.unwrap();
    assert_eq!(chosen.headers()[header::LOCATION], "/sign-in", "back to the same page");
    let en = c.get(app.at("/sign-in")).header(header::ACCEPT_LANGUAGE, "sv").send().await.unwrap();
    assert!(en.text().await.unwrap().contains("Password"), "the person's choice wins over the browser's");
    let away = c.post(app.at("/language")).form(&[("lang", "sv"), ("back", "//evil.example/"), ("csrf", &csrf)]);
    assert_eq!(away.send().await.unwrap().headers()[header::LOCATION], "/", "never to another site");
}

/// Signs `c` in through the sign-in page as `email` of `slug`.
pub(crate) async fn page_sign_in(app: &TestApp, c: &Client, slug: &str, email: &str) {
    let csrf = sign_in_page(app, c).await;
    let form = [("tenant", slug), ("email", email), ("password", PASSWORD), ("csrf", &csrf)];
    let r = c.post(app.at("/sign-in")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{email} signs in");
}

#[tokio::test]
async fn the_request_form_reveals_no_organisation_and_says_what_is_wrong_by_field() {
    let app = app();
    let op = app.operator().await;
    let _ = app.tenant(&op, "acme").await;
    let c = browser();
    let without_token = |html: String| html.replace(&token(&html), "");
    let known = c.get(app.at("/t/acme/privacy/request")).send().await.unwrap().text().await.unwrap();
    let unknown = c.get(app.at("/t/nobody/privacy/request")).send().await.unwrap().text().await.unwrap();
    assert_eq!(without_token(known).replace("/t/acme/", "/t/nobody/"), without_token(unknown), "the same page");

    let csrf = sign_in_page(&app, &c).await;
    let bad = [("kind", "access"), ("email", "not an address"), ("message", ""), ("csrf", &csrf)];
    let r = c.post(app.at("/t/acme/privacy/request")).form(&bad).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"email-error\"") && html.contains("aria-invalid=\"true\""), "tied to its field");
    assert!(html.contains("value=\"not an address\""), "what was typed is kept");
}

#[tokio::test]
async fn an_administrator_sees_only_their_own_organisations_requests_and_members_none() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let (acme, other) = (app.tenant(&op, "acme").await, app.tenant(&op, "other").await);
    let _ = api.file_request("acme", "access", "maja@example.org").await.expect(202);
    let _ = app.member(&acme, "m@acme.example", "member").await;

    let owner = browser();
    page_sign_in(&app, &owner, "acme", &acme.owner_email).await;
    let mine = owner.get(app.at("/app/requests")).send().await.unwrap().text().await.unwrap();
    assert!(mine.contains("maja@example.org") && mine.contains("Address not yet confirmed"), "{mine}");

    let theirs = browser();
    page_sign_in(&app, &theirs, "other", &other.owner_email).await;
    let page = theirs.get(app.at("/app/requests")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("maja@example.org") && page.contains("No requests so far."), "another tenant's: none");

    let member = browser();
    page_sign_in(&app, &member, "acme", "m@acme.example").await;
    let refused = member.get(app.at("/app/requests")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "members do not see requests");
    assert!(!refused.text().await.unwrap().contains("maja@example.org"));
}
