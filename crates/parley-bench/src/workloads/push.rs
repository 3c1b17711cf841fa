//! Push fan-out (protocol.md §12, issue 15's figures): one group of
//! `--recipients` offline members (no gateway connection), each with a Web
//! Push subscription pointing at a push service the bench runs on
//! 127.0.0.1 (it answers `201` and counts; decrypting is the API tests'
//! job). Measured: the time from one send until the LAST push is handed
//! to the push service, and the sender's REST send latency with no
//! subscriptions against the same with every recipient subscribed (each
//! send then writes one pending push per subscription in its own
//! transaction).
//!
//! The server must let outbound calls reach 127.0.0.1: a server the bench
//! starts gets `--outbound-allow-hosts 127.0.0.1` from the caller
//! (`--server-arg=--outbound-allow-hosts=127.0.0.1`).

use crate::backend::Backend;
use crate::procfs::CpuMeter;
use crate::progress::note;
use crate::report::Report;
use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::{StreamExt as _, stream};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct PushOpts {
    pub recipients: usize,
    /// Sends timed in each phase (without, then with subscriptions).
    pub sends: usize,
    pub concurrency: usize,
}

/// The push service: counts requests and keeps the last one's arrival.
struct PushService {
    url: String,
    count: Arc<AtomicU64>,
    /// Microseconds since `epoch` of the latest request.
    last_us: Arc<AtomicU64>,
    epoch: Instant,
    _task: tokio::task::JoinHandle<()>,
}

impl PushService {
    async fn start() -> anyhow::Result<PushService> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let count = Arc::new(AtomicU64::new(0));
        let last_us = Arc::new(AtomicU64::new(0));
        let epoch = Instant::now();
        let (c, l) = (count.clone(), last_us.clone());
        let app = axum::Router::new().fallback(move || {
            let (c, l) = (c.clone(), l.clone());
            async move {
                l.fetch_max(epoch.elapsed().as_micros() as u64, Ordering::Relaxed);
                c.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::CREATED
            }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(PushService {
            url,
            count,
            last_us,
            epoch,
            _task: task,
        })
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Waits until `n` requests have come (or none for `quiet`); returns
    /// the last one's arrival.
    async fn wait_for(&self, n: u64, quiet: Duration) -> Instant {
        let (mut seen, mut since) = (self.count(), Instant::now());
        while self.count() < n {
            let now = self.count();
            if now != seen {
                (seen, since) = (now, Instant::now());
            } else if since.elapsed() > quiet {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        self.epoch + Duration::from_micros(self.last_us.load(Ordering::Relaxed))
    }
}

/// REST send latencies (µs) of `n` sends, one at a time.
async fn timed_sends(
    client: &parley_sdk::Client,
    conv: &str,
    n: usize,
    tag: &str,
    r: &mut Report,
) -> Vec<u64> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t0 = Instant::now();
        match client.send_text(conv, &format!("{tag} {i}")).await {
            Ok(_) => {
                out.push(t0.elapsed().as_micros() as u64);
                r.messages += 1;
            }
            Err(e) => {
                note(&format!("push: send failed: {e:#}"));
                r.errors += 1;
            }
        }
    }
    out
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

pub async fn run(backend: &Backend<'_>, o: &PushOpts) -> anyhow::Result<Report> {
    anyhow::ensure!(o.recipients >= 2, "a group needs at least 2 recipients");
    let Backend::Parley(server) = backend else {
        bail!("the push workload needs a Parley server");
    };
    let people = backend.people("push", o.recipients + 1).await?;
    let others: Vec<_> = people[1..].iter().collect();
    note(&format!("push: creating a group of {}", people.len()));
    let (conv, _) = backend.group(&people[0], &others).await?;
    let sender = server.http.with_token(&people[0].token);
    let mut r = Report::new(
        format!(
            "push-fanout {} ({} offline recipients subscribed)",
            backend.name(),
            o.recipients
        ),
        "send to last push handed to the push service",
    );

    note("push: sends without subscriptions");
    let mut without = timed_sends(&sender, &conv, o.sends, "plain", &mut r).await;
    without.sort_unstable();

    let service = PushService::start().await?;
    // One key pair for every subscription: the server checks the point,
    // and the bench never decrypts.
    let secret = loop {
        let seed: [u8; 32] = rand::random();
        if let Ok(k) = p256::SecretKey::from_slice(&seed) {
            break k;
        }
    };
    let p256dh = URL_SAFE_NO_PAD.encode(secret.public_key().to_encoded_point(false).as_bytes());
    let auth = URL_SAFE_NO_PAD.encode([7u8; 16]);
    note(&format!("push: subscribing {} recipients", o.recipients));
    let failures = stream::iter(people[1..].iter().enumerate())
        .map(|(i, p)| {
            let c = server.http.with_token(&p.token);
            let body = json!({
                "endpoint": format!("{}/push/{i}", service.url),
                "keys": {"p256dh": p256dh, "auth": auth},
            })
            .to_string();
            async move {
                match c.raw("POST", "/push/subscriptions", Some(&body)).await {
                    Ok(a) if a.status == 201 || a.status == 200 => 0u64,
                    Ok(a) => {
                        note(&format!("push: subscribe {} {}", a.status, a.json));
                        1
                    }
                    Err(e) => {
                        note(&format!("push: subscribe failed: {e:#}"));
                        1
                    }
                }
            }
        })
        .buffer_unordered(o.concurrency.max(1))
        .fold(0u64, |n, f| async move { n + f })
        .await;
    if failures > 0 {
        bail!("{failures} subscriptions failed (is 127.0.0.1 allowed for outbound calls?)");
    }

    note("push: one message to every subscriber");
    let cpu = CpuMeter::start(backend.pid());
    let started = Instant::now();
    let t0 = Instant::now();
    sender
        .send_text(&conv, "to everyone")
        .await
        .context("the measured send")?;
    let want = o.recipients as u64;
    let last = service.wait_for(want, Duration::from_secs(30)).await;
    let got = service.count();
    let to_last_us = last.saturating_duration_since(t0).as_micros() as u64;
    r.latencies_us.push(to_last_us);
    r.deliveries = got;
    r.lost = want.saturating_sub(got);
    r.figure("pushes handed over", got as f64, "");
    r.figure(
        "pushes/s to the last",
        got as f64 / (to_last_us.max(1) as f64 / 1e6),
        "/s",
    );

    note("push: sends with every recipient subscribed");
    let before = service.count();
    let mut with = timed_sends(&sender, &conv, o.sends, "subscribed", &mut r).await;
    with.sort_unstable();
    // Their pushes merge per subscription while pending: at least one per
    // subscriber follows.
    service
        .wait_for(before + want, Duration::from_secs(30))
        .await;
    r.seconds = started.elapsed().as_secs_f64();
    r.server_cpu_s = cpu.seconds();
    r.server_hwm_kib = backend.pid().and_then(crate::procfs::hwm_kib);
    for (name, v) in [
        ("send p50 ms, no subscriptions", percentile(&without, 0.5)),
        ("send p99 ms, no subscriptions", percentile(&without, 0.99)),
        ("send p50 ms, all subscribed", percentile(&with, 0.5)),
        ("send p99 ms, all subscribed", percentile(&with, 0.99)),
    ] {
        r.figure(name, v, "ms");
    }
    r.figure(
        "pushes after the timed sends",
        (service.count() - before) as f64,
        "",
    );
    Ok(r.finish())
}
