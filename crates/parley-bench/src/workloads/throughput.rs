//! W3, durable send throughput: `senders` users spread over the servers
//! given, each with its own direct conversation and `outstanding` REST
//! sends in flight (each acknowledged only once durable). Afterwards every
//! acknowledged message must be in the receiver's history.

use super::latency::user;
use crate::procfs::CpuMeter;
use crate::progress::note;
use crate::report::Report;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub async fn throughput(
    urls: &[String],
    senders: usize,
    outstanding: usize,
    duration: Duration,
    body_bytes: usize,
    pids: &[u32],
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
    if duration >= Duration::from_secs(5) {
        note(&format!(
            "w3: {senders} senders x {outstanding} for {} s",
            duration.as_secs()
        ));
    }
    let meters: Vec<CpuMeter> = pids.iter().map(|p| CpuMeter::start(Some(*p))).collect();
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (a, _, conv) in &pairs {
        for _ in 0..outstanding.max(1) {
            let (a, conv, body, acked, errors) = (
                a.clone(),
                conv.clone(),
                body.clone(),
                acked.clone(),
                errors.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    let req = parley_protocol::SendMessageRequest {
                        // Random, as real clients make them (UUIDv4): an
                        // ordered id would flatter the idempotency key.
                        client_id: uuid::Uuid::new_v4().to_string(),
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
    let cpu: Option<f64> = meters.iter().map(|m| m.seconds()).sum();
    // Nothing acknowledged may be missing.
    let mut stored = 0u64;
    for (_, b, conv) in &pairs {
        let mut after = 0u64;
        loop {
            let page = b.events(conv, Some(after), Some(200)).await?;
            stored += page
                .events
                .iter()
                .filter(|e| e.kind() == "message.created")
                .count() as u64;
            after = page.events.last().map(|e| e.seq).unwrap_or(after);
            if !page.has_more {
                break;
            }
        }
    }
    let messages = acked.load(Ordering::Relaxed);
    let mut r = Report::new(
        format!(
            "throughput {} server(s), {senders} senders x {outstanding} in flight",
            urls.len()
        ),
        "send to ack",
    );
    r.messages = messages;
    r.errors = errors.load(Ordering::Relaxed);
    r.lost = messages.saturating_sub(stored);
    r.seconds = seconds;
    r.latencies_us = latencies;
    r.server_cpu_s = if pids.is_empty() { None } else { cpu };
    r.server_hwm_kib = pids.iter().filter_map(|p| crate::procfs::hwm_kib(*p)).max();
    Ok(r.finish())
}
