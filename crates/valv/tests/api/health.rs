use crate::app;

#[tokio::test]
async fn health_and_readiness_answer_with_security_headers() {
    let app = app();
    let api = app.api();
    for (path, answer) in [("/healthz", api.health().await), ("/readyz", api.ready().await)] {
        assert_eq!(answer.status, 200, "{path}");
        let h = &answer.headers;
        assert!(h["strict-transport-security"].to_str().unwrap().contains("max-age="), "{path} HSTS");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{path} CSP");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h.contains_key("x-request-id"));
    }
}

#[tokio::test]
async fn openapi_document_lists_the_api() {
    let app = app();
    let v = app.api().openapi(&valv_testkit::client()).await.ok();
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/api/v1/auth/sign-in", "/api/v1/users/{id}", "/api/v1/journal", "/api/v1/tenants"] {
        assert!(v["paths"].get(path).is_some(), "{path} is documented");
    }
    // A collection's fields have their shapes: `{"fields":[{}]}` is not valid by the document.
    let plain = &v["components"]["schemas"]["PlainField"];
    let required: Vec<&str> = plain["required"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert!(required.contains(&"name") && required.contains(&"type"), "{plain}");
    assert_eq!(plain["additionalProperties"], false, "{plain}");
    // Each operation says what it needs: nothing, a session, or a session or a token.
    let needs = |path: &str, method: &str| {
        let s = &v["paths"][path][method]["security"];
        let all = s.as_array().cloned().unwrap_or_default();
        let mut names: Vec<String> = all.iter().flat_map(|r| r.as_object().unwrap().keys().cloned()).collect();
        names.sort();
        names
    };
    assert_eq!(needs("/api/v1/auth/sign-in", "post"), Vec::<String>::new());
    assert_eq!(needs("/metrics", "get"), ["bearer", "session"], "the scraper's token or an operator's session");
    assert_eq!(needs("/api/v1/tokens", "post"), ["session"], "a token makes no tokens");
    assert_eq!(needs("/api/v1/tenants", "post"), ["session"], "operators have sessions only");
    assert_eq!(needs("/api/v1/collections", "get"), ["bearer", "session"]);
    let anonymous = ["/healthz", "/readyz", "/api/v1/setup", "/api/v1/auth/sign-in", "/api/v1/operator/sign-in"];
    let anonymous = [&anonymous[..], &["/api/v1/auth/activate", "/api/v1/public/{slug}/requests"]].concat();
    for (path, item) in v["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let open = op["security"].as_array().is_none_or(Vec::is_empty);
            let public = anonymous.contains(&path.as_str()) || path == "/api/v1/public/requests/verify";
            assert_eq!(open, public, "{method} {path} says what it needs");
        }
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors_with_a_request_id() {
    let (app, c) = (app(), valv_testkit::client());
    let api = app.api();
    let missing = api.send(&c, reqwest::Method::GET, "/api/v1/nothing-here", None, &[]).await;
    let id = missing.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(missing.body["error"]["request_id"], id.as_str(), "the body quotes the request id");
    missing.error(404, "not_found");
    api.send(&c, reqwest::Method::DELETE, "/healthz", None, &[]).await.error(405, "method_not_allowed");
}

#[tokio::test]
async fn plain_http_needs_the_explicit_flag_and_warns() {
    let app = crate::app_with(&["--insecure-http"], &[]);
    assert!(app.url.starts_with("http://"), "{}", app.url);
    assert_eq!(app.api().health().await.status, 200);
    assert!(app.logs().contains("plain HTTP"), "a warning is logged");
    let https = crate::app();
    assert!(https.url.starts_with("https://"), "HTTPS by default");
}

#[tokio::test]
async fn operators_see_every_background_job_and_its_last_run() {
    let app = crate::app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    // The purge job runs as the server starts leading, then hourly.
    let mut jobs = serde_json::Value::Null;
    for _ in 0..100 {
        jobs = api.jobs(&op).await.ok();
        if jobs[1]["last_run"]["outcome"] == "ok" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let names: Vec<&str> = jobs.as_array().unwrap().iter().map(|j| j["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["shipping", "purge", "full-backup"], "{jobs}");
    assert_eq!(jobs[1]["cadence"], "every 1 h");
    assert_eq!(jobs[1]["last_run"]["outcome"], "ok", "{jobs}");
    assert_eq!(jobs[1]["last_run"]["detail"]["tenants_purged"], serde_json::json!([]));
    assert_eq!(jobs[2]["cadence"], "on the schedule 0 15 * * * (UTC)");

    let out = app.cli(&["jobs", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[1]["last_run"], jobs[1]["last_run"], "the command reads the same record");
    api.jobs(&t.owner).await.error(403, "forbidden");
}

/// Review L10: `/metrics` shows the journal's position and the backup
/// targets: an operator or the scraper with the metrics token reads it,
/// nobody else.
#[tokio::test]
async fn metrics_are_for_operators_and_the_scraper_only() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let api = app.api();
    let status = async |c: reqwest::Client| api.metrics(&c).await.status.as_u16();
    assert_eq!(status(valv_testkit::client()).await, 401, "anonymous");
    assert_eq!(status(valv_testkit::bearer("not-the-metrics-token-0123456789abcdef")).await, 401, "a wrong token");
    assert_eq!(status(t.owner.clone()).await, 403, "a tenant's owner");
    assert_eq!(status(op.clone()).await, 200, "an operator");
    assert_eq!(status(valv_testkit::bearer(valv_testkit::METRICS_TOKEN)).await, 200, "the scraper");
}
