//! Support routing (protocol.md §9, issue 14's figures): `--customers`
//! customers arrive over `--seconds` at a least_busy inbox worked by
//! `--agents` connected agents. Each customer has a gateway connection
//! open before arriving; the latency is from sending
//! `POST /inboxes/{id}/conversations` to the customer's `support.assigned`
//! event. Then: every conversation assigned exactly once, nobody above
//! capacity, and the spread (max - min open chats per agent), which
//! least_busy keeps at most 1. With several servers (processes of one
//! cluster), agent i and customer i use server i mod n.

use crate::ident::BenchUser;
use crate::procfs::CpuMeter;
use crate::report::Report;
use crate::server::Server;
use anyhow::{Context as _, bail};
use futures_util::{StreamExt as _, TryStreamExt as _, stream};
use parley_protocol::events::EventData;
use parley_sdk::Gateway;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct SupportOpts {
    pub customers: usize,
    pub agents: usize,
    pub seconds: u64,
}

async fn staff(server: &Server, prefix: &str, i: usize, role: &str) -> anyhow::Result<BenchUser> {
    let token = server
        .identity
        .token_with_roles(prefix, i, &[role])
        .context("support needs a server with external identity (one the bench starts)")?;
    let client = server.http.with_token(&token);
    let me = client.me().await.context("provisioning staff")?;
    Ok(BenchUser {
        id: me.id,
        token,
        client,
    })
}

pub async fn run(servers: &[&Server], opts: &SupportOpts) -> anyhow::Result<Report> {
    let server = *servers.first().context("no server")?;
    let on = |i: usize| servers[i % servers.len()];
    let admin = staff(server, "sadm", 0, "admin").await?;
    let capacity = opts.customers.div_ceil(opts.agents.max(1)) + 5;
    let r = admin
        .client
        .raw(
            "POST",
            "/inboxes",
            Some(
                &json!({"name": "Bench", "timezone": "UTC", "routing": "least_busy",
                        "max_chats_per_agent": capacity.min(1000)})
                .to_string(),
            ),
        )
        .await?;
    if r.status != 201 {
        bail!("creating the inbox: {} {}", r.status, r.json);
    }
    let inbox = r.json["id"].as_str().context("inbox id")?.to_string();
    let mut agents = Vec::new();
    let mut agent_gateways = Vec::new();
    for i in 0..opts.agents {
        let a = staff(on(i), "sagt", i, "agent").await?;
        let r = admin
            .client
            .raw(
                "PUT",
                &format!("/inboxes/{inbox}/agents/{}", a.id),
                Some("{}"),
            )
            .await?;
        if r.status != 200 {
            bail!("adding an agent: {} {}", r.status, r.json);
        }
        let g = Gateway::connect_with_bearer(&on(i).url, &a.token).await?;
        g.sync(Default::default()).await?;
        agent_gateways.push(g);
        agents.push(a);
    }
    let customers = server
        .identity
        .users(&server.http, "scus", opts.customers, 64)
        .await?;
    let gateways: Vec<Gateway> = stream::iter(customers.iter().enumerate())
        .map(|(i, c)| async move {
            let g = Gateway::connect_with_bearer(&on(i).url, &c.token).await?;
            g.sync(Default::default()).await?;
            anyhow::Ok(g)
        })
        .buffered(32)
        .try_collect()
        .await?;
    // Agents' connections are seen by routing once presence says so.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let cpus: Vec<CpuMeter> = servers.iter().map(|s| CpuMeter::start(s.pid)).collect();
    let gap = Duration::from_secs_f64(opts.seconds as f64 / opts.customers.max(1) as f64);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, (c, g)) in customers.iter().zip(gateways).enumerate() {
        let at = started + gap * i as u32;
        let client = on(i).http.with_token(&c.token);
        let inbox = inbox.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let sent = Instant::now();
            let r = client
                .raw(
                    "POST",
                    &format!("/inboxes/{inbox}/conversations"),
                    Some("{}"),
                )
                .await?;
            if r.status != 201 {
                bail!("open: {} {}", r.status, r.json);
            }
            let conv = r.json["id"]
                .as_str()
                .context("conversation id")?
                .to_string();
            if r.json["support"]["state"] == "assigned" {
                return Ok((conv, sent.elapsed()));
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let ev = g
                    .next_event(left)
                    .await
                    .context("support.assigned never came")?;
                if ev.conversation_id == conv && matches!(ev.data, EventData::SupportAssigned(_)) {
                    return anyhow::Ok((conv, sent.elapsed()));
                }
            }
        }));
    }
    let mut report = Report::new("support-routing", "arrival to support.assigned");
    let mut convs = Vec::new();
    for t in tasks {
        match t.await? {
            Ok((conv, took)) => {
                report.latencies_us.push(took.as_micros() as u64);
                convs.push(conv);
            }
            Err(e) => {
                crate::progress::note(&format!("support: {e:#}"));
                report.errors += 1;
            }
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    // Every process's CPU, or none if one is unknown.
    report.server_cpu_s = cpus.iter().map(CpuMeter::seconds).sum::<Option<f64>>();
    report.messages = convs.len() as u64;
    // Exactly one support.assigned per conversation.
    let mut doubles = 0;
    for conv in &convs {
        let r = admin
            .client
            .raw(
                "GET",
                &format!("/conversations/{conv}/events?after=0&limit=200"),
                None,
            )
            .await?;
        let n = r.json["events"]
            .as_array()
            .map(|e| e.iter().filter(|e| e["type"] == "support.assigned").count())
            .unwrap_or(0);
        if n != 1 {
            doubles += 1;
        }
    }
    report.lost += doubles;
    let r = admin
        .client
        .raw("GET", &format!("/inboxes/{inbox}/agents"), None)
        .await?;
    let open: HashMap<String, u64> = r.json["agents"]
        .as_array()
        .context("agents")?
        .iter()
        .map(|a| {
            (
                a["user_id"].as_str().unwrap_or("").to_string(),
                a["open_chats"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let max = open.values().copied().max().unwrap_or(0);
    let min = open.values().copied().min().unwrap_or(0);
    if max > capacity as u64 {
        report.lost += 1;
    }
    report.latencies_us.sort_unstable();
    report.figure("customers", opts.customers as f64, "");
    report.figure("agents", opts.agents as f64, "");
    report.figure("server processes", servers.len() as f64, "");
    report.figure("assigned more or less than once", doubles as f64, "");
    report.figure("open chats, max per agent", max as f64, "");
    report.figure("open chats, min per agent", min as f64, "");
    report.figure("spread (max - min)", (max - min) as f64, "");
    if max - min > 1 {
        report
            .notes
            .push(format!("least_busy spread {} > 1", max - min));
        report.errors += 1;
    }
    drop(agent_gateways);
    Ok(report.finish())
}
