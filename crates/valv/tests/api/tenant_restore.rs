//! Restoring one tenant from a backup target: in place, with every change
//! journaled; copied into a data dir of its own; and copied beside itself
//! under a new slug with fresh ids. Other tenants are never touched.

use std::time::Duration;

use serde_json::json;
use valv_testkit::{PASSWORD, TestApp};

use crate::backup::{bin, caught_up, ok, targets, valv};

#[tokio::test]
async fn one_tenant_is_restored_in_place_with_every_change_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let list = targets(&[("one", dir.path().join("one").display().to_string())]);
    let env = [("VALV_BACKUP_TARGETS", list.as_str())];
    let app = crate::app_with(&[], &env);
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let other = app.tenant(&op, "other").await;
    let col = json!({ "name": "notes", "fields": [{ "name": "text", "type": "text" }] });
    let _ = api.create_collection(&t.owner, col.clone()).await.created();
    let _ = api.create_collection(&other.owner, col).await.created();
    let note = async |owner: &reqwest::Client, text: &str| {
        api.create_record(owner, "notes", json!({ "text": text })).await.created()
    };
    let r1 = note(&t.owner, "as it was").await;
    let r1 = r1["id"].as_str().unwrap();
    let f = api.upload(&t.owner, "/", "a.bin", vec![1u8; 50_000]).await.created();
    let f = f["id"].as_str().unwrap();
    caught_up(&app, &["one"]).await;
    let instant = app.journal(&t.owner).await[0]["at"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let _ = api.update_record(&t.owner, "notes", r1, json!({ "text": "overwritten by mistake" }), None).await.ok();
    let r2 = note(&t.owner, "made later").await;
    let _ = api.upload_version(&t.owner, f, vec![2u8; 10]).await.ok();
    let kept = note(&other.owner, "other tenant").await;
    caught_up(&app, &["one"]).await;

    copy_beside(&app, &instant, (&t, &other), (r1, f)).await;

    let refused = app.cli(&["restore", "--at", &instant, "--from", "one", "--tenant", &t.id]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("--yes"), "asks first");
    let args = ["restore", "--at", &instant, "--from", "one", "--tenant", &t.id, "--yes", "--json"];
    let report = ok(&app.cli(&args));
    assert_eq!(
        (report["records_restored"].as_u64(), report["records_deleted"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );
    assert_eq!(report["files_restored"], 1);

    let r = api.record(&t.owner, "notes", r1).await.ok();
    let state = (r["data"]["text"].as_str(), r["revision"].as_u64());
    assert_eq!(state, (Some("as it was"), Some(3)), "a new revision: {r}");
    let later = api.record(&t.owner, "notes", r2["id"].as_str().unwrap()).await;
    assert_eq!(later.status, 404, "made after the instant: deleted");
    let bytes = api.download(&t.owner, f, None, None).await.bytes;
    assert_eq!(bytes, vec![1u8; 50_000], "the content it had then, as a new version");
    let kept = api.record(&other.owner, "notes", kept["id"].as_str().unwrap()).await;
    assert_eq!(kept.status, 200, "other tenants are untouched");
    let journal = app.journal(&t.owner).await;
    assert!(journal.iter().any(|e| e["action"] == "tenant.restored"), "the replacement is journaled");
    assert!(journal.iter().any(|e| e["action"] == "record.restored"));
}

/// `restore --tenant --to`: the tenant alone, as it was at `instant`, in a new
/// data dir that a server of its own then serves; the live installation is
/// not touched. `(record, file)` are the ids of a note and a file of `t`.
async fn copy_beside(
    app: &TestApp,
    instant: &str,
    (t, other): (&valv_testkit::Tenant, &valv_testkit::Tenant),
    (record, file): (&str, &str),
) {
    let root = tempfile::tempdir().unwrap();
    let to = root.path().join("data");
    let unknown =
        ["restore", "--at", instant, "--from", "one", "--tenant", UNKNOWN_TENANT, "--to", to.to_str().unwrap()];
    let o = app.cli(&unknown);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("did not exist"), "{o:?}");
    assert!(!to.exists(), "a refused copy leaves nothing behind");

    let args = ["restore", "--at", instant, "--from", "one", "--tenant", &t.id, "--to", to.to_str().unwrap(), "--json"];
    let copy = ok(&app.cli(&args));
    assert_eq!(copy["tenants_left_out"], 1, "{copy}");
    let o = valv(&to, &[], &["audit", "verify", "--json"]);
    assert!(o.status.success(), "the copy's journal verifies: {}", String::from_utf8_lossy(&o.stdout));

    let served = valv_testkit::spawn_at(bin(), root, &[], &[]);
    let there = served.api();
    let (owner, status, _) = served.sign_in("acme", &t.owner_email, PASSWORD).await;
    assert_eq!(status, 200, "the tenant's accounts are in the copy");
    let r = there.record(&owner, "notes", record).await.ok();
    assert_eq!((r["data"]["text"].as_str(), r["revision"].as_u64()), (Some("as it was"), Some(1)), "{r}");
    let bytes = there.download(&owner, file, None, None).await.bytes;
    assert_eq!(bytes, vec![1u8; 50_000], "the file as it was");
    let (_, status, _) = served.sign_in("other", &other.owner_email, PASSWORD).await;
    assert_ne!(status, 200, "other tenants are left out of the copy");

    let live = app.api().record(&t.owner, "notes", record).await.ok();
    assert_eq!(live["data"]["text"], "overwritten by mistake", "the live tenant is not touched");
}

#[tokio::test]
async fn one_tenant_is_copied_beside_itself_with_fresh_ids() {
    let dir = tempfile::tempdir().unwrap();
    let list = targets(&[("one", dir.path().join("one").display().to_string())]);
    let env = [("VALV_BACKUP_TARGETS", list.as_str())];
    let app = crate::app_with(&[], &env);
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let customers = json!({ "name": "customers", "fields": [{ "name": "name", "type": "text" }] });
    let _ = api.create_collection(&t.owner, customers).await.created();
    let orders = json!({ "name": "orders", "fields": [
        { "name": "customer", "type": "reference", "collection": "customers" }, { "name": "contract", "type": "file" }] });
    let _ = api.create_collection(&t.owner, orders).await.created();
    let file = api.upload(&t.owner, "/", "c.bin", vec![7u8; 40_000]).await.created();
    let customer = api.create_record(&t.owner, "customers", json!({ "name": "Ada" })).await.created();
    let order = json!({ "customer": customer["id"], "contract": file["id"] });
    let order = api.create_record(&t.owner, "orders", order).await.created();
    caught_up(&app, &["one"]).await;
    let instant = app.journal(&t.owner).await[0]["at"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let customer_id = customer["id"].as_str().unwrap();
    let changed = json!({ "name": "changed later" });
    let _ = api.update_record(&t.owner, "customers", customer_id, changed, None).await.ok();
    caught_up(&app, &["one"]).await;

    let restore = |slug: &str| {
        let args = ["restore", "--at", &instant, "--from", "one", "--tenant", &t.id, "--as", slug, "--json"];
        app.cli(&args)
    };
    let taken = restore("acme");
    assert!(!taken.status.success() && String::from_utf8_lossy(&taken.stderr).contains("slug"), "{taken:?}");
    let report = ok(&restore("acme-then"));
    assert_eq!((report["records"].as_u64(), report["file_versions"].as_u64()), (Some(2), Some(1)), "{report}");
    let copy_id = report["tenant_id"].as_str().unwrap();
    assert_ne!(copy_id, t.id);
    assert!(
        !app.data_dir().read_dir().unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("restore-scratch"))
    );

    // The copy's accounts are there but not invited; the operator invites whom it is for.
    let users = ok(&app.cli(&["user", "list", "--tenant", copy_id, "--json"]));
    let owner = users.as_array().unwrap().iter().find(|u| u["email"] == t.owner_email.as_str()).unwrap();
    assert_ne!(owner["id"], t.owner_id.as_str(), "fresh ids");
    ok(&app.cli(&["user", "invite", "--tenant", copy_id, owner["id"].as_str().unwrap(), "--json"]));
    app.activate(&t.owner_email).await;
    let (copy, status, _) = app.sign_in("acme-then", &t.owner_email, PASSWORD).await;
    assert_eq!(status, 200);

    let list = async |c: &str| api.records(&copy, c, "").await.ok()["records"][0].clone();
    let (was_customer, was_order) = (list("customers").await, list("orders").await);
    assert_eq!(was_customer["data"]["name"], "Ada", "as it was at the instant");
    assert_ne!(was_customer["id"], customer["id"]);
    assert_ne!(was_order["id"], order["id"]);
    assert_eq!(was_order["data"]["customer"], was_customer["id"], "references point inside the copy");
    let contract = was_order["data"]["contract"].as_str().unwrap();
    assert_eq!(api.download(&copy, contract, None, None).await.bytes, vec![7u8; 40_000]);

    let live = api.record(&t.owner, "customers", customer_id).await.ok();
    assert_eq!(live["data"]["name"], "changed later", "the original is not touched");
    let stranger = api.download(&t.owner, contract, None, None).await;
    assert_eq!(stranger.status, 404, "the copy is a tenant of its own");
    let o = app.cli(&["audit", "verify", "--json"]);
    assert!(o.status.success(), "every chain verifies: {}", String::from_utf8_lossy(&o.stdout));
}

/// A tenant id no installation in these tests holds.
const UNKNOWN_TENANT: &str = "0190c2a4-5f6e-7a8b-9c0d-1e2f3a4b5c6d";
