//! `valv-bench subjects`: a tenant holding the document dataset plus a million
//! records — export against `tar` of the data dir (throughput and the export's
//! peak RSS), an access request for one subject among the million, and the
//! erasure of a subject with 1,000 records. Seeding and the two requests run
//! in-process through the service layer; the export runs as `valv export`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use base64::Engine as _;
use serde_json::json;
use valv_crypto::seal::Key;
use valv_domain::{FileId, RecordId, Role, SystemClock, TokenId};
use valv_service::keyring::Keyring;
use valv_service::privacy::SubjectQuery;
use valv_service::sender::FileOutbox;
use valv_service::{Caller, NewCollection, NewTenant, Settings, UploadTarget, Valv, Via};
use valv_store::{Chain, Change, RecordRow, Row, Store};
use valv_store_sqlite::{SqliteKeyStore, SqliteStore};

/// Opens the data dir the way `valv` does (key file, keyring, database, chunks).
async fn open(data: &Path) -> anyhow::Result<(Valv, Arc<dyn Store>)> {
    std::fs::create_dir_all(data)?;
    let key = Key::generate();
    let key_file = data.join("master.key");
    std::fs::write(&key_file, format!("{}\n", base64::engine::general_purpose::STANDARD.encode(key.expose())))?;
    std::fs::set_permissions(&key_file, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    let keyring = Keyring::open(Arc::new(SqliteKeyStore::open(&data.join("keyring.db"))?), key).await?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&data.join("valv.db")).await?);
    let blobs = valv_blob::ChunkStore::open(&data.join("blobs").display().to_string())?;
    let valv = Valv::new(
        store.clone(),
        Arc::new(keyring),
        Arc::new(SystemClock),
        Arc::new(FileOutbox::new(data.join("outbox"))),
        Settings::default(),
    )
    .with_blobs(blobs);
    Ok((valv, store))
}

fn contact(i: u64) -> serde_json::Value {
    json!({ "name": format!("Person {i}"), "email": format!("p{i}@bench.example"), "phone": format!("+4670{:07}", i % 10_000_000), "n": i })
}

/// Writes `n` records in transactions of 5,000, each journaled like any change.
async fn seed(
    store: &Arc<dyn Store>,
    owner: &Caller,
    tenant: valv_domain::TenantId,
    collection: valv_domain::CollectionId,
    rows: impl Iterator<Item = serde_json::Value>,
) -> anyhow::Result<u64> {
    let now = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    let mut batch = Vec::new();
    let mut n = 0;
    for data in rows {
        let r = RecordRow {
            id: RecordId::new(),
            tenant_id: tenant,
            collection_id: collection,
            revision: 1,
            data,
            deleted_at: None,
            created_at: now,
            created_by: owner.actor().to_string(),
            updated_at: now,
            updated_by: owner.actor().to_string(),
        };
        batch.push(
            Change::new(Chain::Tenant(tenant), now, owner.actor(), valv_store::Action::RecordCreated)
                .about("record", r.id)
                .row(Row::Record(r)),
        );
        n += 1;
        if batch.len() == 5_000 {
            store.commit_all(std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        store.commit_all(batch).await?;
    }
    Ok(n)
}

/// A tenant `bench` in a new data dir, and its owner.
async fn bench_tenant(data: &Path) -> anyhow::Result<(Valv, Arc<dyn Store>, valv_service::TenantView, Caller)> {
    let (valv, store) = open(data).await?;
    let new = NewTenant {
        name: "Bench".into(),
        slug: Some("bench".into()),
        contact_name: "Ada Owner".into(),
        contact_email: "owner@bench.example".into(),
        contact_phone: "+46701234567".into(),
    };
    let (tenant, owner) = valv.accounts().create_tenant(&Caller::Cli, new).await?;
    let tenant_id = valv_domain::TenantId::parse(&tenant.id).map_err(|e| anyhow::anyhow!("{e}"))?;
    let owner = Caller::User {
        tenant: tenant_id,
        user: valv_domain::UserId::parse(&owner.id).map_err(|e| anyhow::anyhow!("{e}"))?,
        role: Role::Owner,
        via: Via::Token(TokenId::new()),
        export_only: false,
    };
    Ok((valv, store, tenant, owner))
}

/// Uploads every file of `dataset`; returns which file id each path got.
async fn upload_dataset(valv: &Valv, owner: &Caller, dataset: &Path) -> anyhow::Result<HashMap<PathBuf, FileId>> {
    let mut ids = HashMap::new();
    for (i, p) in crate::files::files_of(dataset)?.into_iter().enumerate() {
        let f = tokio::fs::File::open(&p).await?;
        let target = UploadTarget::New { folder: "/".into(), name: format!("f{i}") };
        let view = valv
            .content()
            .upload(owner, target, "application/octet-stream", Box::pin(valv_service::export::file_stream(f)))
            .await?;
        ids.insert(p, FileId::parse(&view.id).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    Ok(ids)
}

/// The dataset stored in a new data dir (for `valv-bench backup`).
pub async fn tenant_with_files(
    data: &Path,
    dataset: &Path,
) -> anyhow::Result<(Valv, Caller, HashMap<PathBuf, FileId>)> {
    let (valv, _, _, owner) = bench_tenant(data).await?;
    let ids = upload_dataset(&valv, &owner, dataset).await?;
    Ok((valv, owner, ids))
}

/// Uploads `changed` files as new versions (new files for paths not seen before).
pub async fn upload_versions(
    valv: &Valv,
    owner: &Caller,
    ids: &HashMap<PathBuf, FileId>,
    changed: &[&PathBuf],
) -> anyhow::Result<()> {
    for (i, p) in changed.iter().enumerate() {
        let f = tokio::fs::File::open(p).await?;
        let target = match ids.get(*p) {
            Some(id) => UploadTarget::Version(*id),
            None => UploadTarget::New { folder: "/new".into(), name: format!("n{i}") },
        };
        valv.content()
            .upload(owner, target, "application/octet-stream", Box::pin(valv_service::export::file_stream(f)))
            .await?;
    }
    Ok(())
}

pub async fn run(valv_bin: &Path, dataset: &Path, work: &Path, records: u64, export: bool) -> anyhow::Result<()> {
    let data = work.join("data");
    let (valv, store, tenant, owner) = bench_tenant(&data).await?;
    let Caller::User { tenant: tenant_id, .. } = owner else { anyhow::bail!("the owner is a user") };
    let fields = |v| serde_json::from_value(v).context("fields");
    let contacts = valv.content().create_collection(&owner, NewCollection { name: "contacts".into(), data_subject: true, processing: Default::default(), fields: fields(json!([
        { "name": "name", "type": "text", "personal": "identity" }, { "name": "email", "type": "email", "personal": "contact" },
        { "name": "phone", "type": "phone", "personal": "contact" }, { "name": "n", "type": "number" }]))? }).await?;
    let events = valv
        .content()
        .create_collection(
            &owner,
            NewCollection {
                name: "events".into(),
                data_subject: false,
                processing: Default::default(),
                fields: fields(json!([
        { "name": "email", "type": "email", "personal": "contact" }, { "name": "what", "type": "text" }]))?,
            },
        )
        .await?;
    let cid =
        |v: &valv_service::CollectionView| valv_domain::CollectionId::parse(&v.id).map_err(|e| anyhow::anyhow!("{e}"));

    let t = Instant::now();
    let n = seed(&store, &owner, tenant_id, cid(&contacts)?, (0..records).map(contact)).await?;
    seed(
        &store,
        &owner,
        tenant_id,
        cid(&contacts)?,
        std::iter::once(json!({ "name": "Erin", "email": "erin@bench.example" })),
    )
    .await?;
    seed(
        &store,
        &owner,
        tenant_id,
        cid(&events)?,
        (0..1_000).map(|i| json!({ "email": "erin@bench.example", "what": format!("event {i}") })),
    )
    .await?;
    println!("seeded {n} contacts + 1,001 records in {:.1} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    upload_dataset(&valv, &owner, dataset).await?;
    println!("uploaded the dataset in {:.1} s\n", t.elapsed().as_secs_f64());

    let mut lat = Vec::new();
    for i in 0..21u64 {
        let q = SubjectQuery {
            email: Some(format!("p{}@bench.example", (i * 47_123) % records)),
            ..SubjectQuery::default()
        };
        let t = Instant::now();
        let r = valv.privacy().access_report(&owner, &q).await?;
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(r.records.len() == 1, "one record per person");
    }
    lat.sort_by(f64::total_cmp);
    let t = Instant::now();
    let receipt = valv
        .privacy()
        .erase_subject(&owner, &SubjectQuery { email: Some("erin@bench.example".into()), ..SubjectQuery::default() })
        .await?;
    let erase_s = t.elapsed().as_secs_f64();
    anyhow::ensure!(receipt.erased.len() == 1_001, "erased {} records", receipt.erased.len());
    valv.accounts().terminate_tenant(&Caller::Cli, tenant_id).await?;
    drop(valv);
    drop(store);
    println!("| measure | valv | reference | ratio / target |");
    println!("|---|---:|---:|---|");
    println!(
        "| access request among {records} records (p50 / p90 of 21) | {:.1} / {:.1} ms | | target p50 < 50 ms |",
        lat[10], lat[18]
    );
    println!("| erasure of a subject with 1,000 related records | {erase_s:.2} s | | target < 1 s |");
    if !export {
        return Ok(());
    }

    let e = export_vs_tar(valv_bin, &data, work, &tenant.id)?;
    let mib = |b: u64| b as f64 / 1048576.0;
    println!("| measure | valv | reference | ratio / target |");
    println!("|---|---:|---:|---|");
    println!(
        "| export of the tenant vs `tar` + `sync` of its data dir ({:.0} MiB), median of {ROUNDS} each | {:.1} s, {:.0} MiB/s of the data dir | {:.1} s, {:.0} MiB/s | {:.2}× tar's throughput (target ≥ 0.8×) |",
        mib(e.data),
        e.export_s,
        mib(e.data) / e.export_s,
        e.tar_s,
        mib(e.data) / e.tar_s,
        e.tar_s / e.export_s
    );
    println!(
        "| the same, counted in bytes written: archive {:.0} MiB vs tar's {:.0} MiB | {:.0} MiB/s | {:.0} MiB/s | {:.2}× |",
        mib(e.archive),
        mib(e.tar),
        mib(e.archive) / e.export_s,
        mib(e.tar) / e.tar_s,
        (mib(e.archive) / e.export_s) / (mib(e.tar) / e.tar_s)
    );
    println!("| export peak RSS (largest of {ROUNDS}) | {:.0} MiB | | target < 200 MiB |", e.rss_kib / 1024.0);
    println!(
        "| access request among {records} records (p50 / p90 of 21) | {:.1} / {:.1} ms | | target p50 < 50 ms |",
        lat[10], lat[18]
    );
    println!("| erasure of a subject with 1,000 related records | {:.2} s | | target < 1 s |", erase_s);
    Ok(())
}

/// Export and `tar` runs alternated (the machine's speed drifts), each timed.
const ROUNDS: usize = 3;

/// Medians of [`ROUNDS`] exports and `tar` runs of the same data dir.
struct ExportRun {
    /// Bytes of the data dir, archives' bytes.
    data: u64,
    archive: u64,
    tar: u64,
    export_s: f64,
    tar_s: f64,
    rss_kib: f64,
}

/// `valv export` of `tenant` against `tar -cf` of the data dir followed by a
/// `sync` of tar's archive (valv syncs its archive before it reports
/// success, so both end with the archive on disk); `sync` also runs, untimed,
/// before each.
fn export_vs_tar(valv_bin: &Path, data: &Path, work: &Path, tenant: &str) -> anyhow::Result<ExportRun> {
    let (archive, tarball) = (work.join("export.tar"), work.join("data.tar"));
    let measure = "import resource, subprocess, sys, time; t = time.time(); r = subprocess.run(sys.argv[1:]); \
                   print(time.time() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)";
    let (mut export_s, mut tar_s, mut rss_kib) = (Vec::new(), Vec::new(), 0f64);
    let data_size = crate::files::du(data);
    for _ in 0..ROUNDS {
        for f in [&archive, &tarball] {
            let _ = std::fs::remove_file(f);
        }
        timed(&mut Command::new("sync"))?;
        let mut tar = Command::new("sh");
        tar.args(["-c", r#"tar -cf "$1" -C "$2" . && sync "$1""#, "sh"]).arg(&tarball).arg(data);
        tar_s.push(timed(&mut tar)?.0);
        timed(&mut Command::new("sync"))?;
        let (_, out) = timed(
            Command::new("python3")
                .args(["-c", measure])
                .arg(valv_bin)
                .arg("--data-dir")
                .arg(data)
                .args(["export", "--tenant", tenant, "--json", "--out"])
                .arg(&archive),
        )?;
        let last = out.lines().last().unwrap_or_default().to_owned();
        let mut it = last.split_whitespace();
        export_s.push(it.next().unwrap_or("0").parse()?);
        rss_kib = rss_kib.max(it.next().unwrap_or("0").parse()?);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok(ExportRun {
        data: data_size,
        archive: std::fs::metadata(&archive)?.len(),
        tar: std::fs::metadata(&tarball)?.len(),
        export_s: median(export_s),
        tar_s: median(tar_s),
        rss_kib,
    })
}

fn timed(cmd: &mut Command) -> anyhow::Result<(f64, String)> {
    let t = Instant::now();
    let out = cmd.output().with_context(|| format!("cannot run {cmd:?}"))?;
    anyhow::ensure!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok((t.elapsed().as_secs_f64(), String::from_utf8_lossy(&out.stdout).into_owned()))
}
