//! W2, chat mix: users each in some direct chats and some groups, all
//! online, sending at a Poisson rate into one of their conversations at
//! random; deliveries per second, send-to-receive percentiles, server CPU
//! per 1k deliveries.

use super::deliveries::{Deliveries, drain};
use crate::backend::Backend;
use crate::clock::{now_us, stamped_body};
use crate::conn::Conn;
use crate::fleet::Want;
use crate::procfs::CpuMeter;
use crate::progress::note;
use crate::report::Report;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct MixOpts {
    pub users: usize,
    pub directs: usize,
    pub groups: usize,
    pub group_size: usize,
    /// Messages per second over all users.
    pub rate: f64,
    pub seconds: u64,
    pub bytes: usize,
    pub connect_concurrency: usize,
}

/// Direct pairs and groups (as index lists into the users).
fn plan(o: &MixOpts) -> Vec<Vec<usize>> {
    let u = o.users;
    let mut specs = Vec::new();
    // k = 1..D/2 gives everyone 2 chats per k; an odd D adds the user
    // opposite on the ring (a perfect matching when U is even).
    for k in 1..=(o.directs / 2).min(u.saturating_sub(1) / 2) {
        for i in 0..u {
            specs.push(vec![i, (i + k) % u]);
        }
    }
    if !o.directs.is_multiple_of(2) && u.is_multiple_of(2) && u / 2 > o.directs / 2 {
        for i in 0..u / 2 {
            specs.push(vec![i, i + u / 2]);
        }
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..o.groups {
        let mut order: Vec<usize> = (0..u).collect();
        order.shuffle(&mut rng);
        for chunk in order.chunks(o.group_size.max(3)) {
            if chunk.len() >= 3 {
                specs.push(chunk.to_vec());
            }
        }
    }
    specs
}

pub async fn run(backend: &Backend<'_>, o: &MixOpts) -> anyhow::Result<Report> {
    let people = backend.people("m", o.users).await?;
    let specs = plan(o);
    note(&format!(
        "w2: {} users, creating {} conversations",
        people.len(),
        specs.len()
    ));
    let convs = backend.conversations(&people, &specs, 32).await?;
    let mut mine: Vec<Vec<usize>> = vec![Vec::new(); people.len()];
    for (c, spec) in specs.iter().enumerate() {
        for &p in spec {
            mine[p].push(c);
        }
    }
    let wants = people
        .iter()
        .enumerate()
        .map(|(p, person)| Want {
            token: person.token.clone(),
            seqs: Arc::new(Mutex::new(
                mine[p]
                    .iter()
                    .map(|&c| (convs[c].0.clone(), convs[c].1))
                    .collect::<HashMap<_, _>>(),
            )),
        })
        .collect();
    let sink = Arc::new(Deliveries::default());
    let fleet = backend
        .connect(wants, sink.clone(), o.connect_concurrency, "w2")
        .await?;
    let (conns, connect_errors) = (fleet.conns, fleet.errors);
    let conns: Arc<Vec<Option<Conn>>> = Arc::new(conns);
    let conv_ids: Arc<Vec<String>> = Arc::new(convs.iter().map(|c| c.0.clone()).collect());
    let sizes: Arc<Vec<u64>> = Arc::new(specs.iter().map(|s| s.len() as u64).collect());
    let mine = Arc::new(mine);
    let (acked, expected, errors) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let cpu = CpuMeter::start(backend.pid());
    note(&format!(
        "w2: sending {:.0} msgs/s for {} s",
        o.rate, o.seconds
    ));
    let started = tokio::time::Instant::now();
    let end = started + Duration::from_secs(o.seconds);
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut next = started;
    let mut tasks = tokio::task::JoinSet::new();
    let mut n = 0u64;
    while next < end {
        tokio::time::sleep_until(next).await;
        let now = tokio::time::Instant::now();
        // Every send whose Poisson arrival time has come.
        while next <= now && next < end {
            let gap: f64 = rng.random::<f64>().max(1e-12);
            next += Duration::from_secs_f64(-gap.ln() / o.rate.max(0.001));
            let p = rng.random_range(0..people.len());
            if mine[p].is_empty() {
                continue;
            }
            let c = mine[p][rng.random_range(0..mine[p].len())];
            n += 1;
            let (conns, conv_ids, sizes) = (conns.clone(), conv_ids.clone(), sizes.clone());
            let (acked, expected, errors) = (acked.clone(), expected.clone(), errors.clone());
            let bytes = o.bytes;
            tasks.spawn(async move {
                let Some(conn) = conns[p].as_ref() else {
                    errors.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let body = stamped_body(now_us(), bytes);
                // Counted before the send: a delivery may beat the ack.
                expected.fetch_add(sizes[c] - 1, Ordering::Relaxed);
                match conn.send_message(&conv_ids[c], format!("m{n}"), body).await {
                    Ok(_) => {
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        expected.fetch_sub(sizes[c] - 1, Ordering::Relaxed);
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let expected = expected.load(Ordering::Relaxed);
    drain(&sink, expected, Duration::from_secs(10)).await;
    let seconds = started.elapsed().as_secs_f64();
    let closed = conns.iter().flatten().filter(|c| c.is_closed()).count() as u64;
    let mut r = Report::new(
        format!(
            "w2-mix {} ({} users, {} direct + {} groups of {} each, {:.0} msgs/s offered)",
            backend.name(),
            o.users,
            o.directs,
            o.groups,
            o.group_size,
            o.rate
        ),
        "send to receive",
    );
    r.messages = acked.load(Ordering::Relaxed);
    r.deliveries = sink.count();
    r.lost = expected.saturating_sub(sink.count()) + sink.gaps();
    r.errors = errors.load(Ordering::Relaxed) + connect_errors + closed;
    r.seconds = seconds;
    r.server_cpu_s = cpu.seconds();
    r.server_hwm_kib = backend.pid().and_then(crate::procfs::hwm_kib);
    r.latencies_us = sink.latencies.take();
    r.figure("conversations", specs.len() as f64, "");
    if let Some(cpu) = r.server_cpu_s.filter(|c| *c > 0.0) {
        r.figure(
            "deliveries per server CPU-second",
            r.deliveries as f64 / cpu,
            "/s",
        );
    }
    drop(conns);
    Ok(r.finish())
}
