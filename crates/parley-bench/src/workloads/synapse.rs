//! The Synapse comparison shape (performance.md): 20 users, 10 direct
//! pairs taking turns with one message in flight, then every pair sending
//! with 8 outstanding for 20 s, then 100 messages into one 20-member
//! group; 64-byte bodies; every ack after durable storage. Parley's figures
//! are printed beside Synapse 1.163's, recorded on this machine kind.

use super::deliveries::{Deliveries, drain};
use crate::clock::{now_us, stamped_body};
use crate::conn::{Conn, Endpoint, SourceAddrs};
use crate::fleet::{Want, connect_all};
use crate::procfs::CpuMeter;
use crate::progress::note;
use crate::report::Report;
use crate::server::Server;
use futures_util::{StreamExt as _, stream};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Synapse's recorded figures.
pub mod recorded {
    pub const ACKED_PER_S: f64 = 64.0;
    pub const P50_MS: f64 = 26.0;
    pub const P99_MS: f64 = 46.0;
    pub const GROUP_ALL_MS: f64 = 85.0;
    pub const CPU_S_PER_1K: f64 = 14.8;
    pub const RSS_MIB: f64 = 220.0;
}

#[derive(Debug, Clone)]
pub struct SynapseOpts {
    /// Turns per pair in the one-in-flight phase (two messages each).
    pub rounds: usize,
    pub seconds: u64,
    pub group_messages: usize,
}

impl Default for SynapseOpts {
    fn default() -> Self {
        SynapseOpts {
            rounds: 25,
            seconds: 20,
            group_messages: 100,
        }
    }
}

/// Waits until the message stamped `stamp` reached `n` recipients (10 s).
async fn reached(d: &Deliveries, stamp: u64, n: u64) -> Option<u64> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (got, last) = d.message(stamp);
        if got >= n {
            return Some(last - stamp);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

pub async fn run(server: &Server, o: &SynapseOpts) -> anyhow::Result<Report> {
    const BYTES: usize = 64;
    let users = server.identity.users(&server.http, "syn", 20, 20).await?;
    let mut convs = Vec::new();
    for p in 0..10 {
        let (c, _) = users[2 * p]
            .client
            .create_direct(&users[2 * p + 1].id)
            .await?;
        convs.push((c.id, c.last_seq));
    }
    let ids: Vec<String> = users[1..].iter().map(|u| u.id.clone()).collect();
    let group = users[0].client.create_group("synapse shape", &ids).await?;
    let wants = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let mut seqs = HashMap::from([(group.id.clone(), group.last_seq)]);
            seqs.insert(convs[i / 2].0.clone(), convs[i / 2].1);
            Want {
                token: u.token.clone(),
                seqs: Arc::new(Mutex::new(seqs)),
            }
        })
        .collect();
    let sink = Arc::new(Deliveries::tracking_last());
    let endpoint = Endpoint::parley(&server.url)?;
    let fleet = connect_all(
        &endpoint,
        &SourceAddrs::new(1),
        wants,
        sink.clone(),
        20,
        "synapse",
    )
    .await;
    anyhow::ensure!(fleet.errors == 0, "connecting: {:?}", fleet.first_error);
    let conns: Vec<Conn> = fleet.conns.into_iter().flatten().collect();
    let mut r = Report::new(
        "peer-synapse-shape (Parley)",
        "send to receive, one in flight",
    );
    let cpu = CpuMeter::start(server.pid);

    note("synapse shape: pairs taking turns, one message in flight");
    let mut n = 0u64;
    for _ in 0..o.rounds {
        for (p, (conv, _)) in convs.iter().enumerate() {
            for from in [2 * p, 2 * p + 1] {
                let sent = now_us();
                n += 1;
                match conns[from]
                    .send_message(conv, format!("t{n}"), stamped_body(sent, BYTES))
                    .await
                {
                    Ok(_) => match reached(&sink, sent, 1).await {
                        Some(us) => r.latencies_us.push(us),
                        None => r.lost += 1,
                    },
                    Err(_) => r.errors += 1,
                }
            }
        }
    }
    let turns = r.latencies_us.len() as u64;

    note(&format!(
        "synapse shape: 10 pairs x 8 outstanding for {} s",
        o.seconds
    ));
    let before = sink.count();
    let acked = AtomicU64::new(0);
    let errors = AtomicU64::new(0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(o.seconds);
    let started = tokio::time::Instant::now();
    stream::iter(0..80usize)
        .for_each_concurrent(80, |lane| {
            let (conn, conv, acked, errors) = (
                &conns[2 * (lane % 10)],
                &convs[lane % 10].0,
                &acked,
                &errors,
            );
            async move {
                let mut i = 0;
                while tokio::time::Instant::now() < deadline {
                    i += 1;
                    match conn
                        .send_message(conv, format!("b{lane}-{i}"), stamped_body(now_us(), BYTES))
                        .await
                    {
                        Ok(_) => acked.fetch_add(1, Ordering::Relaxed),
                        Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }
        })
        .await;
    let burst_s = started.elapsed().as_secs_f64();
    let burst = acked.load(Ordering::Relaxed);
    drain(&sink, before + burst, Duration::from_secs(10)).await;
    r.lost += (before + burst).saturating_sub(sink.count());
    r.errors += errors.load(Ordering::Relaxed);

    note(&format!(
        "synapse shape: {} messages into the 20-member group",
        o.group_messages
    ));
    let mut group_ms = Vec::new();
    for i in 0..o.group_messages {
        let sent = now_us();
        match conns[i % 20]
            .send_message(&group.id, format!("g{i}"), stamped_body(sent, BYTES))
            .await
        {
            Ok(_) => match reached(&sink, sent, 19).await {
                Some(us) => group_ms.push(us as f64 / 1000.0),
                None => r.lost += 19,
            },
            Err(_) => r.errors += 1,
        }
    }
    group_ms.sort_by(f64::total_cmp);
    let group_p50 = group_ms.get(group_ms.len() / 2).copied().unwrap_or(0.0);

    r.messages = burst;
    r.seconds = burst_s;
    r.deliveries = sink.count();
    r.lost += sink.gaps();
    r.server_cpu_s = cpu.seconds();
    r.server_hwm_kib = server.hwm_kib();
    let r = {
        let mut r = r.finish();
        r.figure("one-in-flight messages", turns as f64, "");
        r
    };
    let p50 = r.percentile(0.5) as f64 / 1000.0;
    let p99 = r.percentile(0.99) as f64 / 1000.0;
    let per_s = r.per_second();
    let cpu1k = r.cpu_per_1k();
    let rss = r.server_hwm_kib.map(|k| k as f64 / 1024.0);
    let mut r = r;
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let line = |what: &str, syn: f64, ours: Option<f64>, better: f64, goal: &str| match ours {
        Some(v) => format!("| {what} | {syn} | {v:.3} | {better:.1}x | {goal} |"),
        None => format!("| {what} | {syn} | n/a | n/a | {goal} |"),
    };
    let mut table = String::from(
        "| figure | Synapse 1.163 | Parley | Parley better by | goal |\n|---|---|---|---|---|",
    );
    for l in [
        line(
            "acked msgs/s (10 pairs x 8 outstanding)",
            recorded::ACKED_PER_S,
            Some(per_s),
            ratio(per_s, recorded::ACKED_PER_S),
            ">= 200x",
        ),
        line(
            "send-to-receive p50 ms, one in flight",
            recorded::P50_MS,
            Some(p50),
            ratio(recorded::P50_MS, p50),
            ">= 20x",
        ),
        line(
            "send-to-receive p99 ms, one in flight",
            recorded::P99_MS,
            Some(p99),
            ratio(recorded::P99_MS, p99),
            ">= 20x",
        ),
        line(
            "all 19 group members have it, p50 ms",
            recorded::GROUP_ALL_MS,
            Some(group_p50),
            ratio(recorded::GROUP_ALL_MS, group_p50),
            "",
        ),
        line(
            "server CPU-s per 1k deliveries",
            recorded::CPU_S_PER_1K,
            cpu1k,
            cpu1k
                .map(|c| ratio(recorded::CPU_S_PER_1K, c))
                .unwrap_or(0.0),
            ">= 100x",
        ),
        line(
            "server RSS MiB",
            recorded::RSS_MIB,
            rss,
            rss.map(|m| ratio(recorded::RSS_MIB, m)).unwrap_or(0.0),
            "",
        ),
    ] {
        table.push('\n');
        table.push_str(&l);
    }
    r.figure("group all-19 p50", group_p50, "ms");
    r.figure(
        "acked/s vs Synapse",
        ratio(per_s, recorded::ACKED_PER_S),
        "x",
    );
    r.figure("p50 vs Synapse", ratio(recorded::P50_MS, p50), "x");
    if let Some(c) = cpu1k {
        r.figure(
            "CPU per delivery vs Synapse",
            ratio(recorded::CPU_S_PER_1K, c),
            "x",
        );
    }
    r.notes.push(table);
    Ok(r)
}
