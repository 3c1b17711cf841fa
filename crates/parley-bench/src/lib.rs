//! Parley's load generator. Each workload creates the users and
//! conversations it needs on the servers it is given, measures inside one
//! process (sender and receiver share a clock), and returns a [`Report`];
//! a run with any error or lost message is a failed run, whatever its speed.
//!
//! - [`latency`]: one message in flight, send on one server, receive on
//!   another (or the same): send-to-receive percentiles.
//! - [`throughput`]: many senders with several messages outstanding each,
//!   spread over the servers given: acknowledged messages per second.
//! - [`footprint`] (W7): binary size, time from start to ready, idle RSS.
#![forbid(unsafe_code)]

use parley_protocol::Event;
use parley_sdk::{Client, Gateway};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What a workload measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub workload: String,
    pub messages: u64,
    pub errors: u64,
    pub lost: u64,
    pub seconds: f64,
    /// Send-to-receive or send-to-ack latencies, microseconds, sorted.
    pub latencies_us: Vec<u64>,
}

impl Report {
    pub fn percentile(&self, p: f64) -> u64 {
        if self.latencies_us.is_empty() {
            return 0;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[i.min(self.latencies_us.len() - 1)]
    }

    pub fn ok(&self) -> bool {
        self.errors == 0 && self.lost == 0
    }

    pub fn per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.messages as f64 / self.seconds
        } else {
            0.0
        }
    }

    pub fn table(&self) -> String {
        let ms = |us: u64| us as f64 / 1000.0;
        format!(
            "| workload | messages | msgs/s | p50 ms | p90 ms | p99 ms | max ms | errors | lost | result |\n|---|---|---|---|---|---|---|---|---|---|\n| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} | {} |",
            self.workload,
            self.messages,
            self.per_second(),
            ms(self.percentile(0.5)),
            ms(self.percentile(0.9)),
            ms(self.percentile(0.99)),
            ms(self.latencies_us.last().copied().unwrap_or(0)),
            self.errors,
            self.lost,
            if self.ok() { "ok" } else { "FAILED" }
        )
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "workload": self.workload, "messages": self.messages, "per_second": self.per_second(),
            "p50_us": self.percentile(0.5), "p90_us": self.percentile(0.9), "p99_us": self.percentile(0.99),
            "max_us": self.latencies_us.last().copied().unwrap_or(0), "errors": self.errors, "lost": self.lost,
            "ok": self.ok(),
        })
    }
}

async fn user(base: &str, prefix: &str) -> anyhow::Result<(Client, String)> {
    let c = Client::new(base)?;
    let name = format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let auth = c.register(&name, "bench password 123", None).await?;
    Ok((c, auth.user.id))
}

async fn next_message_event(g: &Gateway, conv: &str, wait: Duration) -> parley_sdk::Result<Event> {
    loop {
        let e = g.next_event(wait).await?;
        if e.conversation_id == conv && e.kind == "message.created" {
            return Ok(e);
        }
    }
}

/// One message in flight: send over the gateway on `send_url`, receive on
/// `recv_url`, `n` times.
pub async fn latency(
    send_url: &str,
    recv_url: &str,
    n: u64,
    body_bytes: usize,
) -> anyhow::Result<Report> {
    let (a, _) = user(send_url, "lat_a").await?;
    let (b, b_id) = user(recv_url, "lat_b").await?;
    let conv = a.create_direct(&b_id).await?.0;
    let sender = Gateway::connect(&a).await?;
    sender.sync(Default::default()).await?;
    let receiver = Gateway::connect(&b).await?;
    receiver.sync(Default::default()).await?;
    let body = "x".repeat(body_bytes.max(1));
    let mut report = Report {
        workload: format!("latency {send_url} -> {recv_url}"),
        ..Report::default()
    };
    let started = Instant::now();
    for i in 0..n {
        let t0 = Instant::now();
        if sender
            .send_message(&conv.id, &format!("lat-{i}"), &body)
            .await
            .is_err()
        {
            report.errors += 1;
            continue;
        }
        match next_message_event(&receiver, &conv.id, Duration::from_secs(5)).await {
            Ok(_) => report.latencies_us.push(t0.elapsed().as_micros() as u64),
            Err(_) => report.lost += 1,
        }
        report.messages += 1;
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.latencies_us.sort_unstable();
    Ok(report)
}

/// `senders` users, spread over `urls`, each with its own direct
/// conversation and `outstanding` sends in flight over REST, for `duration`.
/// Every acknowledged message must then be in the receiver's history.
pub async fn throughput(
    urls: &[String],
    senders: usize,
    outstanding: usize,
    duration: Duration,
    body_bytes: usize,
) -> anyhow::Result<Report> {
    anyhow::ensure!(!urls.is_empty(), "at least one server URL");
    let body = Arc::new("x".repeat(body_bytes.max(1)));
    let mut pairs = Vec::new();
    for i in 0..senders {
        let url = &urls[i % urls.len()];
        let (a, _) = user(url, "tp_a").await?;
        let (b, b_id) = user(&urls[(i + 1) % urls.len()], "tp_b").await?;
        let conv = a.create_direct(&b_id).await?.0;
        pairs.push((a, b, conv.id));
    }
    let acked = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (a, _, conv) in &pairs {
        for lane in 0..outstanding.max(1) {
            let (a, conv, body, acked, errors) = (
                a.clone(),
                conv.clone(),
                body.clone(),
                acked.clone(),
                errors.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    let req = parley_protocol::SendMessageRequest {
                        client_id: format!("{lane}-{i}"),
                        text: Some(body.to_string()),
                        attachments: None,
                        reply_to: None,
                    };
                    match a.send_message(&conv, &req).await {
                        Ok(_) => {
                            acked.fetch_add(1, Ordering::Relaxed);
                            lat.push(t0.elapsed().as_micros() as u64);
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    i += 1;
                }
                lat
            }));
        }
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await?);
    }
    let seconds = started.elapsed().as_secs_f64();
    // Nothing acknowledged may be missing.
    let mut stored = 0u64;
    for (_, b, conv) in &pairs {
        let mut after = 0u64;
        loop {
            let page = b.events(conv, Some(after), Some(200)).await?;
            stored += page
                .events
                .iter()
                .filter(|e| e.kind == "message.created")
                .count() as u64;
            after = page.events.last().map(|e| e.seq).unwrap_or(after);
            if !page.has_more {
                break;
            }
        }
    }
    let messages = acked.load(Ordering::Relaxed);
    latencies.sort_unstable();
    Ok(Report {
        workload: format!(
            "throughput {} server(s), {senders} senders x {outstanding} in flight",
            urls.len()
        ),
        messages,
        errors: errors.load(Ordering::Relaxed),
        lost: messages.saturating_sub(stored),
        seconds,
        latencies_us: latencies,
    })
}

/// W7 figures for one `parley` binary.
#[derive(Debug, Clone)]
pub struct Footprint {
    pub binary_bytes: u64,
    pub ready_ms: f64,
    pub idle_rss_kib: u64,
}

impl Footprint {
    pub fn table(&self) -> String {
        format!(
            "| binary MB | ready ms | idle RSS MB |\n|---|---|---|\n| {:.1} | {:.0} | {:.1} |",
            self.binary_bytes as f64 / 1e6,
            self.ready_ms,
            self.idle_rss_kib as f64 / 1024.0
        )
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Starts `binary serve` on a fresh data directory, times it to the first
/// 200 from `/readyz`, waits a moment and reads its RSS.
pub async fn footprint(binary: &std::path::Path) -> anyhow::Result<Footprint> {
    use std::io::BufRead as _;
    let binary_bytes = std::fs::metadata(binary)?.len();
    let dir = std::env::temp_dir().join(format!(
        "parley-footprint-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let started = Instant::now();
    let mut child = std::process::Command::new(binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let result = async {
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string();
        let http = Client::new(&url)?;
        loop {
            let r = http.raw("GET", "/../../readyz", None).await;
            if matches!(&r, Ok(r) if r.status == 200) {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(30),
                "not ready after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let ready_ms = started.elapsed().as_secs_f64() * 1000.0;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let idle_rss_kib = rss_kib(child.id()).unwrap_or(0);
        Ok(Footprint {
            binary_bytes,
            ready_ms,
            idle_rss_kib,
        })
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
