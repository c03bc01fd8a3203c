//! A file much larger than the server may hold in memory streams through:
//! 2 GiB by default (`VALV_TEST_BIG_MIB` to change), with the server's peak
//! resident memory (VmHWM from /proc) staying under 300 MiB.

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::app_with;

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_file_far_larger_than_memory_streams_in_and_out_with_flat_memory() {
    let mib: u64 = std::env::var("VALV_TEST_BIG_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(2048);
    let total = mib << 20;
    let app = app_with(&["--insecure-http"], &[]);
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let (addr, head) = app.raw_upload_head(&app.token(&t.owner).await, "big.bin", total);
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf = vec![0u8; 1 << 20];
    for sent in 0..mib {
        for w in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w.copy_from_slice(&x.to_le_bytes());
        }
        if let Err(e) = s.write_all(&buf).await {
            let mut said = String::new();
            let _ = s.read_to_string(&mut said).await;
            panic!("upload cut after {sent} MiB ({e}); the server said: {said}");
        }
    }
    let mut reply = String::new();
    s.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 201"), "upload answered: {}", &reply[..reply.len().min(300)]);
    let body = &reply[reply.find("\r\n\r\n").unwrap() + 4..];
    let f: Value = serde_json::from_str(body).unwrap();
    assert_eq!(f["versions"][0]["size"], total);

    let mut r =
        t.owner.get(app.at(&format!("/api/v1/files/{}/content", f["id"].as_str().unwrap()))).send().await.unwrap();
    let mut received = 0u64;
    while let Some(chunk) = r.chunk().await.unwrap() {
        received += chunk.len() as u64;
    }
    assert_eq!(received, total, "downloaded whole");
    let peak = peak_rss_kib(app.pid());
    eprintln!("{mib} MiB up and down; server peak RSS {} MiB", peak / 1024);
    assert!(peak < 300 * 1024, "server peak RSS {} MiB", peak / 1024);
}
