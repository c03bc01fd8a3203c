//! `valv-bench files`: storing a folder of documents, side by side in one run
//! on the same dataset and disk: valv's blob layer in-process, valv's HTTP API
//! (upload every file, then download every file), `restic backup`/`restore`
//! into a fresh local repository, and `tar` of the folder (the disk's floor).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};
use futures::StreamExt as _;
use serde_json::{Value, json};
use valv_blob::{ChunkStore, TenantKeys, read_range, write_stream};
use valv_crypto::seal::Key;

/// One measured step.
pub struct Step {
    pub tool: &'static str,
    pub what: &'static str,
    pub seconds: f64,
    pub bytes: u64,
    pub stored: Option<u64>,
}

pub fn files_of(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() { stack.push(p) } else { out.push(p) }
        }
    }
    out.sort();
    Ok(out)
}

/// Bytes of all files under `dir`.
pub fn du(dir: &Path) -> u64 {
    files_of(dir).unwrap_or_default().iter().filter_map(|p| p.metadata().ok()).map(|m| m.len()).sum()
}

fn timed(cmd: &mut Command) -> anyhow::Result<f64> {
    let t = Instant::now();
    let out = cmd.output().with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(t.elapsed().as_secs_f64())
}

/// `tar -cf` of the dataset.
pub fn tar(dataset: &Path, work: &Path, total: u64) -> anyhow::Result<Step> {
    let out = work.join("dataset.tar");
    let s = timed(Command::new("tar").arg("-cf").arg(&out).arg("-C").arg(dataset).arg("."))?;
    Ok(Step {
        tool: "tar",
        what: "write archive",
        seconds: s,
        bytes: total,
        stored: Some(std::fs::metadata(&out)?.len()),
    })
}

/// `restic backup` into a fresh repository, then `restic restore`.
pub fn restic(dataset: &Path, work: &Path, total: u64) -> anyhow::Result<Vec<Step>> {
    let repo = work.join("restic-repo");
    let run = |args: &[&str]| {
        let mut c = Command::new("restic");
        c.arg("--repo")
            .arg(&repo)
            .args(args)
            .env("RESTIC_PASSWORD", "valv-bench")
            .env("RESTIC_CACHE_DIR", work.join("restic-cache"));
        c
    };
    timed(&mut run(&["init"]))?;
    let backup = timed(run(&["backup", "--quiet"]).arg(dataset))?;
    let stored = du(&repo);
    let target = work.join("restic-restore");
    let restore = timed(run(&["restore", "latest", "--quiet", "--target"]).arg(&target))?;
    Ok(vec![
        Step { tool: "restic", what: "backup (ingest)", seconds: backup, bytes: total, stored: Some(stored) },
        Step { tool: "restic", what: "restore (read back)", seconds: restore, bytes: total, stored: None },
    ])
}

/// valv's blob layer in-process: chunk, compress, seal and store every file, then read every file back.
pub async fn blob_layer(dataset: &Path, work: &Path, total: u64) -> anyhow::Result<Vec<Step>> {
    let dir = work.join("valv-blobs");
    let store = ChunkStore::open(&dir.display().to_string())?;
    let keys = TenantKeys::new("bench", &Key::generate());
    let t = Instant::now();
    let mut manifests = Vec::new();
    for p in files_of(dataset)? {
        let f = tokio::fs::File::open(&p).await?;
        let stream = tokio_util_stream(f);
        manifests.push(write_stream(&store, &keys, i64::MIN, Box::pin(stream)).await?.0);
    }
    let ingest = t.elapsed().as_secs_f64();
    let stored = du(&dir);
    let t = Instant::now();
    let mut read = 0u64;
    for m in manifests {
        let size = m.size;
        let mut s = Box::pin(read_range(store.clone(), keys.clone(), m, 0..size));
        while let Some(b) = s.next().await {
            read += b?.len() as u64;
        }
    }
    if read != total {
        bail!("the blob layer read back {read} of {total} bytes");
    }
    Ok(vec![
        Step { tool: "valv blob layer", what: "ingest", seconds: ingest, bytes: total, stored: Some(stored) },
        Step {
            tool: "valv blob layer",
            what: "read back (verified)",
            seconds: t.elapsed().as_secs_f64(),
            bytes: total,
            stored: None,
        },
    ])
}

/// A file as a stream of 1 MiB pieces.
fn tokio_util_stream(f: tokio::fs::File) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> {
    futures::stream::try_unfold(f, |mut f| async move {
        use tokio::io::AsyncReadExt as _;
        let mut buf = vec![0u8; 1 << 20];
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((bytes::Bytes::from(buf), f)))
    })
}

/// valv's HTTP API over HTTPS: upload every file (4 at a time), then download every file.
pub async fn http_api(valv: &Path, dataset: &Path, total: u64) -> anyhow::Result<Vec<Step>> {
    let app = valv_testkit::spawn_with(valv, &[], &[]);
    let op = app.operator().await;
    let t = app.tenant(&op, "bench").await;
    let tok: Value =
        t.owner.post(app.at("/api/v1/tokens")).json(&json!({ "name": "bench" })).send().await?.json().await?;
    let token = tok["secret"].as_str().context("token")?.to_owned();
    let client = reqwest::Client::builder().danger_accept_invalid_certs(true).build()?;
    let files = files_of(dataset)?;
    let started = Instant::now();
    let uploads = futures::stream::iter(files.iter().enumerate().map(|(i, p)| {
        let (client, token, url) = (client.clone(), token.clone(), app.at(&format!("/api/v1/files?name=f{i}")));
        async move {
            let body = tokio::fs::read(p).await?;
            let r = client.post(url).bearer_auth(token).body(body).send().await?;
            let v: Value = r.json().await?;
            v["id"].as_str().map(str::to_owned).with_context(|| format!("upload answered {v}"))
        }
    }));
    let ids: Vec<String> = uploads
        .buffer_unordered(4)
        .collect::<Vec<anyhow::Result<String>>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let ingest = started.elapsed().as_secs_f64();
    let stored = du(&app.data_dir().join("blobs"));
    let started = Instant::now();
    let downloads = futures::stream::iter(ids.iter().map(|id| {
        let (client, token, url) = (client.clone(), token.clone(), app.at(&format!("/api/v1/files/{id}/content")));
        async move { anyhow::Ok(client.get(url).bearer_auth(token).send().await?.bytes().await?.len() as u64) }
    }));
    let read: u64 = downloads.buffer_unordered(4).collect::<Vec<_>>().await.into_iter().sum::<anyhow::Result<u64>>()?;
    if read != total {
        bail!("the API returned {read} of {total} bytes");
    }
    Ok(vec![
        Step { tool: "valv HTTP API", what: "upload every file", seconds: ingest, bytes: total, stored: Some(stored) },
        Step {
            tool: "valv HTTP API",
            what: "download every file",
            seconds: started.elapsed().as_secs_f64(),
            bytes: total,
            stored: None,
        },
    ])
}
