//! Closed-loop load: `clients` tasks each send one request after another for
//! a fixed time; every latency is recorded and summarised.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Latency summary of one scenario.
#[derive(Debug, Clone)]
pub struct Stats {
    pub requests: usize,
    pub errors: u64,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Stats {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    pub fn from_latencies(mut lat: Vec<Duration>, errors: u64, seconds: f64) -> Self {
        lat.sort_unstable();
        let pick = |q: f64| {
            if lat.is_empty() {
                return f64::NAN;
            }
            let i = ((lat.len() as f64 - 1.0) * q).round() as usize;
            lat[i].as_secs_f64() * 1e3
        };
        Self { requests: lat.len(), errors, seconds, p50_ms: pick(0.50), p99_ms: pick(0.99) }
    }
}

/// Runs `request(client_index, n)` from `clients` tasks for `duration`.
/// A request returns `true` when the answer was the expected one.
pub async fn closed_loop<F, Fut>(clients: usize, duration: Duration, request: F) -> Stats
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (request, errors) = (Arc::clone(&request), Arc::clone(&errors));
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut n = 0u64;
            while started.elapsed() < duration {
                let t = Instant::now();
                let ok = request(c, n).await;
                lat.push(t.elapsed());
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                n += 1;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    Stats::from_latencies(all, errors.load(Ordering::Relaxed), started.elapsed().as_secs_f64())
}

/// Measures `probe` every `every` while `stop` is false.
pub async fn probe_until<F, Fut>(stop: Arc<AtomicBool>, every: Duration, probe: F) -> Stats
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    let (mut lat, mut errors) = (Vec::new(), 0);
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        if !probe().await {
            errors += 1;
        }
        lat.push(t.elapsed());
        tokio::time::sleep(every).await;
    }
    Stats::from_latencies(lat, errors, started.elapsed().as_secs_f64())
}
