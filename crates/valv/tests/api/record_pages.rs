//! The record and user pages over HTTP: another tenant's record or user
//! is not there, a refused field is named beside its input, a form made
//! from an older revision does not overwrite a newer one, and only
//! administrators manage accounts.

use reqwest::StatusCode;
use serde_json::json;

use crate::app;
use crate::pages::{browser, page_sign_in, token};

#[tokio::test]
async fn record_pages_keep_tenants_apart_name_refused_fields_and_refuse_stale_forms() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let (acme, other) = (app.tenant(&op, "acme").await, app.tenant(&op, "other").await);
    let fields = json!([{ "name": "name", "type": "text", "required": true }, { "name": "age", "type": "number" }]);
    for t in [&acme, &other] {
        let _ = api.create_collection(&t.owner, json!({ "name": "contacts", "fields": fields })).await.created();
    }
    let theirs = api.create_record(&other.owner, "contacts", json!({ "name": "Secret Person" })).await.created();
    let theirs = theirs["id"].as_str().unwrap();

    let c = browser();
    page_sign_in(&app, &c, "acme", &acme.owner_email).await;
    for path in [format!("/app/c/contacts/r/{theirs}"), format!("/app/c/contacts/r/{theirs}/delete")] {
        let r = c.get(app.at(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!r.text().await.unwrap().contains("Secret Person"), "{path} shows nothing of the other tenant");
    }
    let html = c.get(app.at("/app/c/contacts/new")).send().await.unwrap().text().await.unwrap();
    let csrf = token(&html);
    let post = |path: String, form: Vec<(&'static str, String)>| c.post(app.at(&path)).form(&form).send();
    let stolen = post(format!("/app/c/contacts/r/{theirs}"), vec![("csrf", csrf.clone()), ("f.name", "Mine".into())]);
    assert_eq!(stolen.await.unwrap().status(), StatusCode::NOT_FOUND, "nor can it be written");
    let other_view = api.record(&other.owner, "contacts", theirs).await.ok();
    assert_eq!(other_view["data"]["name"], "Secret Person", "unchanged");

    let refused = post("/app/c/contacts/new".into(), vec![("csrf", csrf.clone()), ("f.age", "old".into())]);
    let refused = refused.await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"field-name-error\"") && html.contains("id=\"field-age-error\""), "both named");
    assert!(html.contains("value=\"old\""), "what was typed stays");

    let made = post("/app/c/contacts/new".into(), vec![("csrf", csrf.clone()), ("f.name", "Ada".into())]);
    let made = made.await.unwrap();
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    let at = made.headers()["location"].to_str().unwrap().to_owned();
    let form = |name: &str, revision: &str| {
        vec![("csrf", csrf.clone()), ("f.name", name.into()), ("revision", revision.into())]
    };
    assert_eq!(post(at.clone(), form("Ada Lind", "1")).await.unwrap().status(), StatusCode::SEE_OTHER);
    let stale = post(at.clone(), form("Ada Stale", "1")).await.unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED, "a form from revision 1 after revision 2");
    let html = stale.text().await.unwrap();
    assert!(html.contains("Someone changed this record") && html.contains("value=\"Ada Stale\""), "told, typed kept");
    let id = at.rsplit('/').next().unwrap();
    assert_eq!(api.record(&acme.owner, "contacts", id).await.ok()["data"]["name"], "Ada Lind", "not overwritten");
}

#[tokio::test]
async fn user_pages_are_for_administrators_of_their_own_organisation() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let (acme, other) = (app.tenant(&op, "acme").await, app.tenant(&op, "other").await);
    let _ = app.member(&acme, "m@acme.example", "member").await;

    let c = browser();
    page_sign_in(&app, &c, "acme", &acme.owner_email).await;
    let theirs = format!("/app/users/{}", other.owner_id);
    let r = c.get(app.at(&theirs)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(!r.text().await.unwrap().contains(&other.owner_email), "nothing of the other tenant");
    let html = c.get(app.at("/app/users")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("m@acme.example") && !html.contains(&other.owner_email), "only their own people");
    let blocked = c.post(app.at(&format!("{theirs}/block"))).form(&[("csrf", token(&html))]).send().await.unwrap();
    assert_eq!(blocked.status(), StatusCode::NOT_FOUND);
    assert_eq!(api.me(&other.owner).await.ok()["status"], "active", "the other owner is not blocked");

    let member = browser();
    page_sign_in(&app, &member, "acme", "m@acme.example").await;
    let refused = member.get(app.at("/app/users")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "members do not manage accounts");
    assert!(!refused.text().await.unwrap().contains(&acme.owner_email));
}

#[tokio::test]
async fn the_operator_console_is_for_operators_and_shows_no_tenant_data() {
    let app = app();
    let op = app.operator().await;
    let acme = app.tenant(&op, "acme").await;
    let owner = browser();
    page_sign_in(&app, &owner, "acme", &acme.owner_email).await;
    for path in ["/operator", "/operator/backups", &format!("/operator/t/{}", acme.id)] {
        let r = owner.get(app.at(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}: a tenant's owner is no operator");
    }
    let anonymous = browser().get(app.at("/operator")).send().await.unwrap();
    assert_eq!(anonymous.headers()["location"], "/operator/sign-in", "not signed in: to the operator's sign-in");
}

#[tokio::test]
async fn the_journal_page_is_for_its_readers_and_verifies_their_chain() {
    let app = app();
    let op = app.operator().await;
    let acme = app.tenant(&op, "acme").await;
    let _ = app.member(&acme, "m@acme.example", "member").await;
    let owner = browser();
    page_sign_in(&app, &owner, "acme", &acme.owner_email).await;
    let all = owner.get(app.at("/app/journal")).send().await.unwrap().text().await.unwrap();
    assert!(all.contains("user.activated") && all.contains("user.invited"), "the organisation's entries: {all}");
    let html = owner.get(app.at("/app/journal?action=user.invited")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("user.invited") && !html.contains("user.activated"), "filtered by action");
    let verified = owner.post(app.at("/app/journal/verify")).form(&[("csrf", token(&html))]).send().await.unwrap();
    assert!(verified.text().await.unwrap().contains("The chain holds"), "the owner verifies their chain");

    let member = browser();
    page_sign_in(&app, &member, "acme", "m@acme.example").await;
    assert_eq!(member.get(app.at("/app/journal")).send().await.unwrap().status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn exports_are_for_administrators_and_their_own_organisation() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let (acme, other) = (app.tenant(&op, "acme").await, app.tenant(&op, "other").await);
    let _ = app.member(&acme, "m@acme.example", "member").await;
    let theirs = api.start_export(&other.owner).await.expect(202)["id"].as_str().unwrap().to_owned();
    let owner = browser();
    page_sign_in(&app, &owner, "acme", &acme.owner_email).await;
    for path in [format!("/app/export/{theirs}"), format!("/app/export/{theirs}/archive")] {
        assert_eq!(owner.get(app.at(&path)).send().await.unwrap().status(), StatusCode::NOT_FOUND, "{path}");
    }
    let member = browser();
    page_sign_in(&app, &member, "acme", "m@acme.example").await;
    assert_eq!(member.get(app.at("/app/export")).send().await.unwrap().status(), StatusCode::FORBIDDEN);
}
