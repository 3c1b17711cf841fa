//! W4, large group fan-out: one group, every member online; messages sent
//! one at a time, each timed from the send to its LAST recipient.

use super::deliveries::Deliveries;
use crate::backend::Backend;
use crate::clock::{now_us, stamped_body};
use crate::fleet::Want;
use crate::procfs::CpuMeter;
use crate::progress::note;
use crate::report::Report;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct GroupOpts {
    pub members: usize,
    pub messages: usize,
    /// Pause between messages, so each is measured on a quiet server.
    pub pause_ms: u64,
    pub bytes: usize,
    pub connect_concurrency: usize,
}

pub async fn run(backend: &Backend<'_>, o: &GroupOpts) -> anyhow::Result<Report> {
    anyhow::ensure!(o.members >= 3, "a group has at least 3 members");
    let people = backend.people("g", o.members).await?;
    let others: Vec<_> = people[1..].iter().collect();
    note(&format!("w4: creating a group of {}", people.len()));
    let (conv, last_seq) = backend.group(&people[0], &others).await?;
    let wants = people
        .iter()
        .map(|p| Want {
            token: p.token.clone(),
            seqs: Arc::new(Mutex::new(HashMap::from([(conv.clone(), last_seq)]))),
        })
        .collect();
    let sink = Arc::new(Deliveries::tracking_last());
    let fleet = backend
        .connect(wants, sink.clone(), o.connect_concurrency, "w4")
        .await?;
    let (conns, connect_errors) = (fleet.conns, fleet.errors);
    let recipients = (o.members - 1) as u64;
    let mut r = Report::new(
        format!(
            "w4-group {} ({} members, {} messages)",
            backend.name(),
            o.members,
            o.messages
        ),
        "send to last recipient",
    );
    r.errors = connect_errors;
    let Some(sender) = conns.first().and_then(|c| c.as_ref()) else {
        anyhow::bail!("the sender could not connect");
    };
    let cpu = CpuMeter::start(backend.pid());
    let started = std::time::Instant::now();
    let mut busy = 0.0;
    for i in 0..o.messages {
        let sent = now_us();
        if let Err(e) = sender
            .send_message(&conv, format!("g{i}"), stamped_body(sent, o.bytes))
            .await
        {
            note(&format!("w4: send failed: {e:#}"));
            r.errors += 1;
            continue;
        }
        r.messages += 1;
        // Until every recipient has it, or nothing new came for 10 s.
        let mut seen = 0;
        let mut quiet_since = std::time::Instant::now();
        loop {
            let (got, last_at) = sink.message(sent);
            if got >= recipients {
                r.latencies_us.push(last_at.saturating_sub(sent));
                busy += (last_at.saturating_sub(sent)) as f64 / 1e6;
                break;
            }
            if got != seen {
                seen = got;
                quiet_since = std::time::Instant::now();
            } else if quiet_since.elapsed() > Duration::from_secs(10) {
                r.lost += recipients - got;
                break;
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        tokio::time::sleep(Duration::from_millis(o.pause_ms)).await;
    }
    r.seconds = started.elapsed().as_secs_f64();
    r.server_cpu_s = cpu.seconds();
    r.server_hwm_kib = backend.pid().and_then(crate::procfs::hwm_kib);
    r.deliveries = sink.count();
    r.lost += sink.gaps();
    r.errors += conns.iter().flatten().filter(|c| c.is_closed()).count() as u64;
    let mut each = sink.latencies.take();
    each.sort_unstable();
    if !each.is_empty() {
        r.figure(
            "median recipient ms",
            each[each.len() / 2] as f64 / 1000.0,
            "ms",
        );
    }
    if busy > 0.0 {
        // The rate while a message was being fanned out.
        r.figure(
            "deliveries/s while fanning out",
            r.deliveries as f64 / busy,
            "/s",
        );
    }
    let r = r.finish();
    let p50 = r.percentile(0.5) as f64;
    let mut r = r;
    r.figure(
        "us per recipient (p50 last / recipients)",
        p50 / recipients as f64,
        "us",
    );
    Ok(r)
}
