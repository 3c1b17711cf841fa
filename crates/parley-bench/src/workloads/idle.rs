//! W1, idle density: N authenticated connections that only answer the
//! server's heartbeat pings; server RSS above idle per connection and the
//! server's CPU while they sit there.

use crate::conn::{Gaps, SourceAddrs};
use crate::fleet::{Want, connect_all};
use crate::procfs::{self, CpuMeter};
use crate::progress::note;
use crate::report::Report;
use crate::server::Server;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct IdleOpts {
    pub connections: usize,
    /// How long to hold them all open (cover at least one heartbeat).
    pub hold_seconds: u64,
    pub connect_concurrency: usize,
}

pub async fn run(server: &Server, o: &IdleOpts) -> anyhow::Result<Report> {
    let mut r = Report::new(
        format!(
            "w1-idle ({} connections, held {} s)",
            o.connections, o.hold_seconds
        ),
        "connect to ready + sync",
    );
    if let Some(w) = crate::limits::server_warning(server.pid, o.connections) {
        note(&w);
        r.notes.push(format!("warning: {w}"));
    }
    let before = match server.pid {
        Some(pid) => procfs::settled_rss_kib(pid, Duration::from_secs(5)).await,
        None => None,
    };
    // Credentials first, so that connecting is all that is timed.
    let tokens: Vec<String> = match (0..o.connections)
        .map(|i| server.identity.token("i", i))
        .collect::<Option<Vec<_>>>()
    {
        Some(t) => t,
        None => {
            let users = server
                .identity
                .users(&server.http, "idle", o.connections, 8)
                .await?;
            users.into_iter().map(|u| u.token).collect()
        }
    };
    let endpoint = crate::conn::Endpoint::parley(&server.url)?;
    let sources = SourceAddrs::for_connections(o.connections);
    note(&format!(
        "w1: opening {} connections from {} source addresses",
        o.connections,
        sources.count()
    ));
    let gaps = Arc::new(Gaps::default());
    let wants = tokens
        .into_iter()
        .map(|token| Want {
            token,
            seqs: Arc::default(),
        })
        .collect();
    let t0 = std::time::Instant::now();
    let fleet = connect_all(
        &endpoint,
        &sources,
        wants,
        gaps,
        o.connect_concurrency,
        "w1",
    )
    .await;
    let (conns, errors) = (fleet.conns, fleet.errors);
    r.latencies_us = fleet.connect_us;
    let connect_s = t0.elapsed().as_secs_f64();
    let open = conns.iter().flatten().count();
    let after = match server.pid {
        Some(pid) => procfs::settled_rss_kib(pid, Duration::from_secs(20)).await,
        None => None,
    };
    note(&format!("w1: {open} open; holding {} s", o.hold_seconds));
    let cpu = CpuMeter::start(server.pid);
    let hold = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(o.hold_seconds)).await;
    let held = hold.elapsed().as_secs_f64();
    let idle_cpu = cpu.seconds();
    let closed = conns.iter().flatten().filter(|c| c.is_closed()).count() as u64;
    r.messages = open as u64;
    r.errors = errors + closed;
    r.seconds = connect_s;
    r.server_cpu_s = idle_cpu;
    r.server_hwm_kib = server.hwm_kib();
    r.figure(
        "connections open at the end",
        (open as u64 - closed) as f64,
        "",
    );
    r.figure("connect rate", open as f64 / connect_s.max(1e-9), "/s");
    if let (Some(b), Some(a)) = (before, after) {
        r.figure("server RSS before", b as f64 / 1024.0, "MiB");
        r.figure("server RSS with all open", a as f64 / 1024.0, "MiB");
        r.figure(
            "server RSS per connection above idle",
            a.saturating_sub(b) as f64 / open.max(1) as f64,
            "KiB",
        );
    }
    if let Some(c) = idle_cpu {
        r.figure("server idle CPU", 100.0 * c / held, "% of one core");
    }
    if let Some(me) = procfs::rss_kib(std::process::id()) {
        r.figure("load generator RSS", me as f64 / 1024.0, "MiB");
    }
    drop(conns);
    Ok(r.finish())
}
