//! One message in flight: send over the gateway on one server, receive on
//! another (or the same): send-to-receive percentiles. W6 compares the two.

use crate::procfs::CpuMeter;
use crate::report::Report;
use parley_protocol::Event;
use parley_sdk::{Client, Gateway};
use std::time::{Duration, Instant};

pub(crate) async fn user(base: &str, prefix: &str) -> anyhow::Result<(Client, String)> {
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
        if e.conversation_id == conv && e.kind() == "message.created" {
            return Ok(e);
        }
    }
}

/// `n` messages, one at a time, from `send_url` to `recv_url`. `pid` is the
/// receiving server's, for its CPU and memory.
pub async fn latency(
    send_url: &str,
    recv_url: &str,
    n: u64,
    body_bytes: usize,
    pid: Option<u32>,
) -> anyhow::Result<Report> {
    let (a, _) = user(send_url, "lat_a").await?;
    let (b, b_id) = user(recv_url, "lat_b").await?;
    let conv = a.create_direct(&b_id).await?.0;
    let sender = Gateway::connect(&a).await?;
    sender.sync(Default::default()).await?;
    let receiver = Gateway::connect(&b).await?;
    receiver.sync(Default::default()).await?;
    let body = "x".repeat(body_bytes.max(1));
    let mut report = Report::new(
        format!("latency {send_url} -> {recv_url}"),
        "send to receive",
    );
    let cpu = CpuMeter::start(pid);
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
            Ok(_) => {
                report.latencies_us.push(t0.elapsed().as_micros() as u64);
                report.deliveries += 1;
            }
            Err(_) => report.lost += 1,
        }
        report.messages += 1;
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.server_cpu_s = cpu.seconds();
    report.server_hwm_kib = pid.and_then(crate::procfs::hwm_kib);
    Ok(report.finish())
}
