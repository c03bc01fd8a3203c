//! Tenant isolation, proved over every route of the API: a user of tenant A
//! calling each route with ids that belong to tenant B gets 404 (403 on
//! operator routes), nothing of B appears in any answer, and B is unchanged.
//! The provider's operator, walking every tenant route the same way, is
//! refused and sees none of B's content.

use serde_json::{Value, json};
use valv_testkit::bearer;

use crate::app;

#[tokio::test]
async fn every_route_refuses_other_tenants_ids_and_leaks_nothing() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let a = app.tenant(&op, "tenant-a").await;
    let b = app.tenant(&op, "tenant-b").await;
    let (b_user, _) = app.member(&b, "bea@tenant-b.example", "member").await;
    let b_secret = app.token(&b.owner).await;
    let b_token = b_secret.trim_start_matches("valv_").split('.').next().unwrap().to_owned();
    let notes = json!({ "name": "notes", "fields": [{ "name": "text", "type": "text" }] });
    for t in [&a, &b] {
        let _ = api.create_collection(&t.owner, notes.clone()).await.created();
    }
    let id = |v: Value| v["id"].as_str().unwrap().to_owned();
    let b_record = id(api.create_record(&b.owner, "notes", json!({ "text": "b-private-note" })).await.created());
    let b_file = id(api.upload(&b.owner, "/", "b-secret-file.txt", b"b-file-content".to_vec()).await.created());
    let b_job = id(api.start_export(&b.owner).await.expect(202));
    let b_request = id(api.file_request("tenant-b", "access", "subject@tenant-b.example").await.expect(202));
    let b_secrets = [
        b_request.as_str(),
        b_job.as_str(),
        b_file.as_str(),
        "b-secret-file",
        "b-file-content",
        b.id.as_str(),
        b.owner_id.as_str(),
        b_user.as_str(),
        b_token.as_str(),
        b_record.as_str(),
        "b-private-note",
        "bea@tenant-b",
        "owner@tenant-b",
        "tenant-b",
    ];

    let doc = api.openapi(&a.owner).await.ok();
    let ids = Ids {
        request: &b_request,
        job: &b_job,
        file: &b_file,
        record: &b_record,
        token: &b_token,
        tenant: &b.id,
        user: &b_user,
    };
    let mut checked = 0;
    for (path, method, spec) in routes(&doc) {
        let operator_only = spec["tags"].as_array().is_some_and(|t| t.iter().any(|x| x == "operator"));
        let (status, body) = call(&app, &a.owner, path, method, spec, &ids).await;
        for s in b_secrets {
            assert!(!body.contains(s), "{method} {path} leaked {s}: {body}");
        }
        if path.contains("{id}") && !path.ends_with("/collections/{name}") {
            let want = if operator_only { 403 } else { 404 };
            assert_eq!(status, want, "{method} {path} with tenant B's id answered {status}: {body}");
        } else if operator_only {
            assert_eq!(status, 403, "{method} {path} is for operators only");
        }
        checked += 1;
    }
    assert!(checked >= 25, "every route was called ({checked})");

    // Review: the walk again as the provider's operator, on every tenant route. An operator
    // manages tenants and never reads their data: refused, and nothing of B's content shown.
    let content = [&b_request, &b_job, &b_file, &b_record, &b_token, &b_user];
    let content: Vec<&str> = content
        .iter()
        .map(|s| s.as_str())
        .chain(["b-secret-file", "b-file-content", "b-private-note", "bea@tenant-b"])
        .collect();
    for (path, method, spec) in routes(&doc) {
        let operator_route = spec["tags"].as_array().is_some_and(|t| t.iter().any(|x| x == "operator"));
        let public = spec["security"].as_array().is_none_or(Vec::is_empty);
        if operator_route || public || path == "/api/v1/auth/second-factor" || path == "/api/v1/auth/send-code" {
            continue;
        }
        let (status, body) = call(&app, &op, path, method, spec, &ids).await;
        for s in &content {
            assert!(!body.contains(s), "the operator's {method} {path} leaked {s}: {body}");
        }
        if path != "/api/v1/journal" && path != "/metrics" {
            assert!(status == 403 || status == 404, "the operator's {method} {path} answered {status}: {body}");
        }
    }

    // B is untouched: its owner still works, its member is active, its token lives.
    assert_eq!(api.me(&b.owner).await.ok()["name"], "Ada Owner");
    let bea = api.user(&b.owner, &b_user).await.ok();
    assert_eq!((bea["status"].as_str(), bea["name"].as_str()), (Some("active"), Some("Bo Member")));
    assert_eq!(api.me(&bearer(&b_secret)).await.status, 200);
    let file = api.download(&b.owner, &b_file, None, None).await;
    assert_eq!(file.bytes, b"b-file-content", "B's file is intact");
    let note = api.record(&b.owner, "notes", &b_record).await.ok();
    assert_eq!((note["revision"].as_u64(), note["data"]["text"].as_str()), (Some(1), Some("b-private-note")));
    let b_journal = app.journal(&b.owner).await;
    assert!(
        b_journal.iter().all(|e| !e["actor"].as_str().unwrap().contains(&a.owner_id)),
        "A wrote nothing into B's journal"
    );
}

/// Ids of tenant B's things, to put into the paths of the routes.
struct Ids<'a> {
    request: &'a str,
    job: &'a str,
    file: &'a str,
    record: &'a str,
    token: &'a str,
    tenant: &'a str,
    user: &'a str,
}

/// Every operation of the OpenAPI document but sign-out (which would end the caller's own session).
fn routes(doc: &Value) -> Vec<(&str, &str, &Value)> {
    let mut out = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, spec) in ops.as_object().unwrap() {
            if !path.ends_with("/sign-out") {
                out.push((path.as_str(), method.as_str(), spec));
            }
        }
    }
    out
}

/// Calls `method path` as `who` with B's ids in the path and a body the route would accept.
/// Raw, not the typed client: the leak check reads every answer as text, JSON or not
/// (file content, archives, metrics, HTML).
async fn call(
    app: &valv_testkit::TestApp,
    who: &reqwest::Client,
    path: &str,
    method: &str,
    spec: &Value,
    ids: &Ids<'_>,
) -> (u16, String) {
    let id = if path.contains("/requests/") {
        ids.request
    } else if path.contains("/exports/") {
        ids.job
    } else if path.contains("/files/") {
        ids.file
    } else if path.contains("/records/") {
        ids.record
    } else if path.contains("/tokens/") {
        ids.token
    } else if path.contains("/tenants/") {
        ids.tenant
    } else {
        ids.user
    };
    let url = app.at(&path
        .replace("{id}", id)
        .replace("{name}", "notes")
        .replace("{rev}", "1")
        .replace("{version}", "1")
        .replace("{slug}", "tenant-a"));
    let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut req = who.request(m, &url);
    if spec.get("requestBody").is_some() {
        // A valid body for the route, so that only the foreign id can refuse it.
        let body = if path.ends_with("/extend") {
            json!({ "months": 1, "reason": "mallory" })
        } else if path.contains("/records") {
            json!({ "text": "mallory" })
        } else {
            json!({ "name": "Mallory", "role": "member", "email": "m@x.example", "phone": "+46701234500" })
        };
        req = req.json(&body);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}
