//! schemathesis (property-based API fuzzing from the served OpenAPI document)
//! against a running server with a signed-in owner's token: no 5xx answer, and
//! no answer that contradicts the document.

use crate::app;

/// The folder with the Python test tools, installed by `scripts/test`.
/// Where `scripts/test` puts them, unless `VALV_TEST_TOOLS` says otherwise.
pub fn tools() -> std::path::PathBuf {
    let default = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools/venv/bin");
    let dir = std::env::var_os("VALV_TEST_TOOLS").map_or(default, std::path::PathBuf::from);
    assert!(
        dir.join("schemathesis").exists(),
        "no test tools in {}: run scripts/test, which installs them",
        dir.display()
    );
    dir
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_contradiction_of_the_openapi_document() {
    let bin = tools().join("schemathesis");
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "fuzz").await;
    let token = app.token(&t.owner).await;
    let report = app.root.path().join("schemathesis");
    // Which checks run, and where one does not hold by design.
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/schemathesis.toml");
    let out = tokio::process::Command::new(bin)
        .arg("--config-file")
        .arg(config)
        .arg("run")
        .arg(app.at("/api/v1/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--tls-verify", "false", "--max-examples", "25", "--seed", "1", "--workers", "2"])
        // A request refused before its body is read ends its connection early;
        // the client may see that as a transport error. Retry those (only those).
        .args(["--request-retries", "2"])
        .args(["--generation-database", "none", "--no-color", "--report-dir"])
        .arg(&report)
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "schemathesis found problems:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("passed"), "schemathesis ran operations:\n{text}");
}
