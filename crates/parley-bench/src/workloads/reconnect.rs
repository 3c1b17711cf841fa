//! W5, reconnect storm: clients in groups drop their connections, the one
//! member of each group who stays online sends until every dropped client
//! is `behind` events behind, then all of them reconnect within a window
//! and `sync`. Measured: time until every client has caught up with no
//! gap, and REST history latency (a registered member reading the groups'
//! newest page) while the storm lasts.

use crate::clock::{now_us, stamped_body};
use crate::conn::{Conn, Endpoint, Gaps, Seqs, SourceAddrs};
use crate::fleet::{Want, connect_all};
use crate::procfs::CpuMeter;
use crate::progress::{Progress, note};
use crate::report::Report;
use crate::server::Server;
use crate::stats::Recorder;
use futures_util::{StreamExt as _, stream};
use rand::Rng as _;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ReconnectOpts {
    pub clients: usize,
    pub behind: usize,
    pub window_seconds: f64,
    pub group_size: usize,
    pub history_workers: usize,
    pub connect_concurrency: usize,
}

pub async fn run(server: &Server, o: &ReconnectOpts) -> anyhow::Result<Report> {
    let per_group = o.group_size.max(3) - 1;
    let groups = o.clients.div_ceil(per_group);
    let senders = server
        .identity
        .users(&server.http, "rs", groups, 64)
        .await?;
    let sleepers = server
        .identity
        .users(&server.http, "rz", o.clients, 64)
        .await?;
    // A registered reader for REST history: an external-JWT caller would
    // add a users-table write to every request.
    let reader = crate::ident::register(&server.http, "hist").await?;
    note(&format!("w5: creating {groups} groups"));
    let convs: Vec<(String, u64)> = stream::iter(0..groups)
        .map(|g| {
            let mut ids: Vec<String> = sleepers
                .iter()
                .skip(g * per_group)
                .take(per_group)
                .map(|u| u.id.clone())
                .collect();
            ids.push(reader.id.clone());
            let owner = senders[g].client.clone();
            async move {
                let c = owner.create_group("storm", &ids).await?;
                Ok::<_, anyhow::Error>((c.id, c.last_seq))
            }
        })
        .buffered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let group_of = |i: usize| i / per_group;
    let seqs_for = |g: usize| -> Seqs {
        Arc::new(Mutex::new(HashMap::from([(
            convs[g].0.clone(),
            convs[g].1,
        )])))
    };
    let endpoint = Endpoint::parley(&server.url)?;
    let sources = SourceAddrs::for_connections(groups + o.clients);
    let gaps = Arc::new(Gaps::default());
    let sleeper_seqs: Vec<Seqs> = (0..o.clients).map(|i| seqs_for(group_of(i))).collect();
    let mut wants: Vec<Want> = (0..groups)
        .map(|g| Want {
            token: senders[g].token.clone(),
            seqs: seqs_for(g),
        })
        .collect();
    wants.extend(sleepers.iter().zip(&sleeper_seqs).map(|(u, s)| Want {
        token: u.token.clone(),
        seqs: s.clone(),
    }));
    let fleet = connect_all(
        &endpoint,
        &sources,
        wants,
        gaps.clone(),
        o.connect_concurrency,
        "w5",
    )
    .await;
    let mut errors = fleet.errors;
    let mut conns = fleet.conns;
    // Everyone who sleeps drops the connection, without a close handshake.
    let sender_conns: Vec<Option<Conn>> = conns.drain(..groups).collect();
    drop(conns);
    tokio::time::sleep(Duration::from_millis(500)).await;
    note(&format!(
        "w5: {} clients offline; sending {} messages into each group",
        o.clients, o.behind
    ));
    let progress = Progress::new("w5 sending", groups as u64);
    let targets: Vec<AtomicU64> = convs.iter().map(|c| AtomicU64::new(c.1)).collect();
    let send_errors = AtomicU64::new(0);
    stream::iter(0..groups)
        .for_each_concurrent(64, |g| {
            let (conv, conn, targets, send_errors, progress) = (
                &convs[g].0,
                &sender_conns[g],
                &targets,
                &send_errors,
                &progress,
            );
            async move {
                let Some(conn) = conn else {
                    send_errors.fetch_add(o.behind as u64, Ordering::Relaxed);
                    return;
                };
                stream::iter(0..o.behind)
                    .for_each_concurrent(8, |i| async move {
                        match conn
                            .send_message(conv, format!("s{i}"), stamped_body(now_us(), 64))
                            .await
                        {
                            Ok(seq) => {
                                targets[g].fetch_max(seq, Ordering::Relaxed);
                            }
                            Err(_) => {
                                send_errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                    .await;
                progress.tick();
            }
        })
        .await;
    progress.done();
    errors += send_errors.load(Ordering::Relaxed);

    note(&format!(
        "w5: {} clients reconnect within {} s",
        o.clients, o.window_seconds
    ));
    let cpu = CpuMeter::start(server.pid);
    let storm_over = Arc::new(AtomicBool::new(false));
    let history = Arc::new(Recorder::default());
    let history_errors = Arc::new(AtomicU64::new(0));
    let conv_ids: Arc<Vec<String>> = Arc::new(convs.iter().map(|c| c.0.clone()).collect());
    let mut probes = tokio::task::JoinSet::new();
    for w in 0..o.history_workers {
        let (client, over, history, errs, ids) = (
            reader.client.clone(),
            storm_over.clone(),
            history.clone(),
            history_errors.clone(),
            conv_ids.clone(),
        );
        probes.spawn(async move {
            while !over.load(Ordering::Relaxed) {
                let g = rand::rng().random_range(0..ids.len());
                let t0 = now_us();
                match client.messages(&ids[g], None, None, Some(50)).await {
                    Ok(_) => history.push(w, now_us() - t0),
                    Err(_) => {
                        errs.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    let storm_start = now_us();
    let start = tokio::time::Instant::now();
    let reconnect = |i: usize| {
        let (endpoint, sources, gaps) = (&endpoint, &sources, gaps.clone());
        let (token, seqs) = (sleepers[i].token.clone(), sleeper_seqs[i].clone());
        let target = targets[group_of(i)].load(Ordering::Relaxed);
        let conv = convs[group_of(i)].0.clone();
        let at = start + Duration::from_secs_f64(o.window_seconds * i as f64 / o.clients as f64);
        async move {
            tokio::time::sleep_until(at).await;
            let t0 = now_us();
            let conn =
                Conn::connect(endpoint, sources.next(), &token, i, seqs.clone(), gaps).await?;
            let resync = conn.sync().await?;
            let done = now_us();
            let reached = seqs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&conv)
                .copied()
                .unwrap_or(0);
            anyhow::ensure!(resync.is_empty(), "told to resync {resync:?}");
            Ok::<_, anyhow::Error>((conn, t0, done, target.saturating_sub(reached)))
        }
    };
    let results: Vec<anyhow::Result<(Conn, u64, u64, u64)>> = stream::iter(0..o.clients)
        .map(reconnect)
        .buffer_unordered(o.connect_concurrency.max(1))
        .collect()
        .await;
    storm_over.store(true, Ordering::Relaxed);
    while probes.join_next().await.is_some() {}
    let mut r = Report::new(
        format!(
            "w5-reconnect ({} clients, {} events behind, {} s window, groups of {})",
            o.clients, o.behind, o.window_seconds, o.group_size
        ),
        "reconnect to caught up",
    );
    let mut last_done = storm_start;
    let mut first_error = None;
    let mut kept = Vec::new();
    for res in results {
        match res {
            Ok((conn, t0, done, missing)) => {
                r.latencies_us.push(done - t0);
                last_done = last_done.max(done);
                r.lost += missing;
                r.messages += 1;
                kept.push(conn);
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(format!("{e:#}"));
            }
        }
    }
    if let Some(e) = first_error {
        note(&format!("w5: reconnect failed: {e}"));
    }
    r.seconds = (last_done - storm_start) as f64 / 1e6;
    r.deliveries = r.messages * o.behind as u64;
    r.errors = errors + history_errors.load(Ordering::Relaxed);
    r.lost += gaps.0.load(Ordering::Relaxed);
    r.server_cpu_s = cpu.seconds();
    r.server_hwm_kib = server.hwm_kib();
    r.figure("all caught up after", r.seconds, "s");
    let mut h = history.take();
    h.sort_unstable();
    let pct = |p: f64| {
        h.get(((h.len() as f64 - 1.0) * p).round() as usize)
            .map(|v| *v as f64 / 1000.0)
            .unwrap_or(0.0)
    };
    r.figure("REST history requests during the storm", h.len() as f64, "");
    r.figure("REST history p50", pct(0.5), "ms");
    r.figure("REST history p99", pct(0.99), "ms");
    r.figure("REST history max", pct(1.0), "ms");
    drop(kept);
    drop(sender_conns);
    Ok(r.finish())
}
