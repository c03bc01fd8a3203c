//! Files: every version kept, downloads with ranges, encryption at rest,
//! dedup, integrity on read, bad names and limits.

use serde_json::Value;

use crate::{app, app_with, code};

fn content(n: usize, seed: u64) -> Vec<u8> {
    // xorshift: incompressible, distinct per seed, cheap.
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn blob_files(app: &valv_testkit::TestApp) -> Vec<std::path::PathBuf> {
    fn walk(d: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() { walk(&p, out) } else { out.push(p) }
        }
    }
    let mut out = Vec::new();
    walk(&app.data_dir().join("blobs"), &mut out);
    out
}

#[tokio::test]
async fn every_version_is_kept_and_served_with_ranges() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let v1 = content(3 << 20, 1);
    let r = t
        .owner
        .post(app.at("/api/v1/files?folder=/contracts&name=deal.pdf"))
        .header("content-type", "application/pdf")
        .body(v1.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let f: Value = r.json().await.unwrap();
    let id = f["id"].as_str().unwrap().to_owned();
    assert_eq!(f["versions"][0]["size"], v1.len());
    assert_eq!(f["versions"][0]["media_type"], "application/pdf");
    let mut v2 = v1.clone();
    v2[1000..1010].copy_from_slice(b"AMENDMENT!");
    let r = t.owner.put(app.at(&format!("/api/v1/files/{id}/content"))).body(v2.clone()).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["current_version"], 2);

    let get = |path: String| t.owner.get(app.at(&path)).send();
    assert_eq!(get(format!("/api/v1/files/{id}/content")).await.unwrap().bytes().await.unwrap().as_ref(), &v2[..]);
    let old = get(format!("/api/v1/files/{id}/versions/1/content")).await.unwrap();
    assert_eq!(old.headers()["content-disposition"], "attachment; filename*=UTF-8''deal.pdf");
    assert_eq!(old.bytes().await.unwrap().as_ref(), &v1[..], "version 1 is kept");

    let r = t
        .owner
        .get(app.at(&format!("/api/v1/files/{id}/content")))
        .header("range", "bytes=995-1014")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], format!("bytes 995-1014/{}", v2.len()).as_str());
    assert_eq!(r.bytes().await.unwrap().as_ref(), &v2[995..1015]);
    let r =
        t.owner.get(app.at(&format!("/api/v1/files/{id}/content"))).header("range", "bytes=-7").send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &v2[v2.len() - 7..]);
    let r = t
        .owner
        .get(app.at(&format!("/api/v1/files/{id}/content")))
        .header("range", "bytes=99999999-")
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await, (416, "range_not_satisfiable".into()));

    let list: Value =
        t.owner.get(app.at("/api/v1/files?folder=/contracts")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list[0]["versions"].as_array().unwrap().len(), 2);
    assert_eq!(t.owner.delete(app.at(&format!("/api/v1/files/{id}"))).send().await.unwrap().status(), 204);
    assert_eq!(get(format!("/api/v1/files/{id}")).await.unwrap().status(), 404);
}

#[tokio::test]
async fn content_is_encrypted_at_rest_deduplicated_and_verified_on_read() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let marker = b"VALV-PLAINTEXT-MARKER-".repeat(50_000);
    let up = |name: &str, body: Vec<u8>| t.owner.post(app.at(&format!("/api/v1/files?name={name}"))).body(body).send();
    let f: Value = up("a.txt", marker.clone()).await.unwrap().json().await.unwrap();
    let stored = blob_files(&app);
    assert!(!stored.is_empty());
    for p in &stored {
        let bytes = std::fs::read(p).unwrap();
        assert!(!bytes.windows(22).any(|w| w == b"VALV-PLAINTEXT-MARKER-"), "{} holds plaintext", p.display());
    }
    assert_eq!(up("b.txt", marker.clone()).await.unwrap().status(), 201);
    assert_eq!(blob_files(&app).len(), stored.len(), "the same content is stored once");

    let victim = &stored[0];
    let mut bytes = std::fs::read(victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(victim, bytes).unwrap();
    let id = f["id"].as_str().unwrap();
    let r = t.owner.get(app.at(&format!("/api/v1/files/{id}/content"))).send().await.unwrap();
    assert_eq!(code(r).await, (500, "content_damaged".into()), "damage is an error, never wrong bytes");
}

#[tokio::test]
async fn bad_names_are_refused_and_names_are_unique_after_normalisation() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let before = app.journal(&t.owner).await.len();
    for (q, want) in [
        ("name=..%2Fetc%2Fpasswd", "validation_failed"),
        ("name=a%00b", "validation_failed"),
        ("name=ok.txt&folder=%2Fa%2F..%2Fb", "validation_failed"),
        (&format!("name={}", "x".repeat(300)), "validation_failed"),
    ] {
        let r = t.owner.post(app.at(&format!("/api/v1/files?{q}"))).body("x").send().await.unwrap();
        assert_eq!(code(r).await, (422, want.to_owned()), "{q}");
    }
    let r = t.owner.post(app.at("/api/v1/files?name=caf%C3%A9.txt")).body("one").send().await.unwrap();
    assert_eq!(r.status(), 201);
    let r = t.owner.post(app.at("/api/v1/files?name=cafe%CC%81.txt")).body("two").send().await.unwrap();
    assert_eq!(code(r).await, (409, "file_exists".into()), "NFC and NFD spellings are one name");
    assert_eq!(app.journal(&t.owner).await.len(), before + 1, "only the one upload was journaled");
}

#[tokio::test]
async fn size_limits_answer_413_and_store_nothing() {
    let app = app_with(&[], &[("VALV_MAX_FILE_MIB", "1")]);
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let r = t.owner.post(app.at("/api/v1/files?name=big.bin")).body(content(2 << 20, 7)).send().await.unwrap();
    let (status, c) = code(r).await;
    assert_eq!((status, c.as_str()), (413, "file_too_large"));
    let list: Value = t.owner.get(app.at("/api/v1/files")).send().await.unwrap().json().await.unwrap();
    assert!(list.as_array().unwrap().is_empty(), "no file appeared");
}

#[tokio::test]
async fn an_upload_cut_short_leaves_no_version() {
    use tokio::io::AsyncWriteExt as _;
    let app = app_with(&["--insecure-http"], &[]);
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let tok: Value = t
        .owner
        .post(app.at("/api/v1/tokens"))
        .json(&serde_json::json!({ "name": "raw" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let addr = app.url.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/files?name=cut.bin HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Length: 100000\r\n\r\n",
        tok["secret"].as_str().unwrap()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&[7u8; 1000]).await.unwrap();
    drop(s); // the client goes away mid-upload
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let list: Value = t.owner.get(app.at("/api/v1/files")).send().await.unwrap().json().await.unwrap();
    assert!(list.as_array().unwrap().is_empty(), "no version appears");
}
