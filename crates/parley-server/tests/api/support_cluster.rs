//! Support inboxes on two `parley serve` processes sharing one PostgreSQL
//! database and one Redis (protocol.md §9 in a cluster): a burst of
//! arrivals split over both processes, with agents connected to either,
//! never puts an agent above capacity nor assigns a chat twice; an
//! agent's grace, watched by both processes, fires once. Skipped without
//! PostgreSQL or Redis, except under `CI=true`.

use crate::cluster::services;
use crate::helpers::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use parley_protocol::Timestamp;
use parley_sdk::{Client, Gateway};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const SECRET: &str = "support-cluster-secret-support-cluster-0";

fn node_args(grace: &str) -> Vec<String> {
    [
        "--external-jwt-alg",
        "HS256",
        "--external-jwt-secret",
        SECRET,
        "--support-agent-grace",
        grace,
    ]
    .map(str::to_string)
    .to_vec()
}

/// A platform user with `role`, signed in on `node` through an external JWT
/// (no password hashing, so a hundred customers are quick to make).
async fn person(node: &ServerProcess, role: &str) -> (Client, String) {
    let sub = unique(role);
    let exp = Timestamp::now().millis() / 1000 + 600;
    let claims = json!({"sub": sub, "exp": exp, "roles": [role], "name": sub});
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign");
    let c = Client::new(&node.base_url)
        .expect("client")
        .with_token(&token);
    let me = c.me().await.expect("provisioned");
    (c, me.id)
}

async fn call(c: &Client, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let r = c.raw(method, path, body.as_deref()).await.expect("request");
    (r.status, r.json)
}

async fn gateway(c: &Client) -> Gateway {
    let g = Gateway::connect(c).await.expect("gateway");
    g.sync(Default::default()).await.expect("sync");
    g
}

async fn events(c: &Client, conv: &str) -> Vec<Value> {
    let (code, v) = call(
        c,
        "GET",
        &format!("/conversations/{conv}/events?after=0"),
        None,
    )
    .await;
    assert_eq!(code, 200, "{v}");
    v["events"].as_array().cloned().unwrap_or_default()
}

fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == t).collect()
}

async fn agents_of(admin: &Client, inbox: &str) -> Vec<Value> {
    let (code, v) = call(admin, "GET", &format!("/inboxes/{inbox}/agents"), None).await;
    assert_eq!(code, 200, "{v}");
    v["agents"].as_array().cloned().unwrap_or_default()
}

async fn queue_len(agent: &Client, inbox: &str) -> usize {
    let (mut n, mut cursor) = (0, None::<String>);
    loop {
        let path = match &cursor {
            Some(c) => format!("/inboxes/{inbox}/queue?limit=50&cursor={c}"),
            None => format!("/inboxes/{inbox}/queue?limit=50"),
        };
        let (code, v) = call(agent, "GET", &path, None).await;
        assert_eq!(code, 200, "{v}");
        n += v["conversations"].as_array().map_or(0, Vec::len);
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return n,
        }
    }
}

async fn setup_inbox(admin: &Client, body: Value, agents: &[&str], cap: u32) -> String {
    let (code, v) = call(admin, "POST", "/inboxes", Some(body)).await;
    assert_eq!(code, 201, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    for a in agents {
        let (code, v) = call(
            admin,
            "PUT",
            &format!("/inboxes/{id}/agents/{a}"),
            Some(json!({"max_chats": cap})),
        )
        .await;
        assert_eq!(code, 200, "{v}");
    }
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrivals_on_two_processes_fill_agents_to_capacity_and_queue_the_rest() {
    let Some(svc) = services().await else {
        return;
    };
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let args = node_args("120");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = svc.node_with_args(da.path(), &svc.redis_url, &args);
    let b = svc.node_with_args(db.path(), &svc.redis_url, &args);

    let (admin, _) = person(&a, "admin").await;
    let mut agents = Vec::new();
    for node in [&a, &b, &b] {
        agents.push(person(node, "agent").await);
    }
    let ids: Vec<&str> = agents.iter().map(|(_, id)| id.as_str()).collect();
    let inbox = setup_inbox(
        &admin,
        json!({"name": "Billing", "timezone": "UTC", "routing": "least_busy"}),
        &ids,
        5,
    )
    .await;
    // Agents connect first (one to each process, a third to the second).
    let mut gateways = Vec::new();
    for (c, _) in &agents {
        gateways.push(gateway(c).await);
    }

    // 100 customers, half on each process, open at once.
    let mut customers = Vec::new();
    for i in 0..100 {
        let node = if i % 2 == 0 { &a } else { &b };
        customers.push(person(node, "user").await.0);
    }
    let opens = customers.iter().map(|c| {
        let (c, inbox) = (c.clone(), inbox.clone());
        tokio::spawn(async move {
            let (code, v) = call(
                &c,
                "POST",
                &format!("/inboxes/{inbox}/conversations"),
                Some(json!({"text": "help", "client_id": unique("k")})),
            )
            .await;
            assert_eq!(code, 201, "{v}");
            v["id"].as_str().expect("id").to_string()
        })
    });
    let mut convs = Vec::new();
    for h in opens.collect::<Vec<_>>() {
        convs.push(h.await.expect("open"));
    }

    // Routing settles: 3 agents x 5, the other 85 queued.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = agents_of(&admin, &inbox).await;
        let open: Vec<u64> = rows
            .iter()
            .map(|r| r["open_chats"].as_u64().unwrap_or(0))
            .collect();
        if open.iter().sum::<u64>() == 15 {
            assert!(open.iter().all(|n| *n == 5), "{rows:?}");
            break;
        }
        assert!(open.iter().all(|n| *n <= 5), "above capacity: {rows:?}");
        assert!(Instant::now() < deadline, "never settled: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(queue_len(&agents[0].0, &inbox).await, 85);
    // Each chat has at most one assignment, and every assignee is one of
    // the inbox's agents; the counts agree with the events.
    let mut per_agent: HashMap<String, u32> = HashMap::new();
    for (conv, customer) in convs.iter().zip(&customers) {
        let evs = events(customer, conv).await;
        let assigned = of_type(&evs, "support.assigned");
        assert!(assigned.len() <= 1, "{conv} assigned twice: {assigned:?}");
        assert_eq!(of_type(&evs, "support.queued").len(), 1, "{evs:?}");
        if let Some(e) = assigned.first() {
            let who = e["data"]["agent_id"].as_str().expect("agent").to_string();
            assert!(ids.contains(&who.as_str()), "{who}");
            *per_agent.entry(who).or_default() += 1;
        }
    }
    assert_eq!(per_agent.len(), 3, "{per_agent:?}");
    assert!(per_agent.values().all(|n| *n == 5), "{per_agent:?}");
    drop(gateways);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_grace_fires_once_and_their_chats_go_to_an_agent_on_the_other_process() {
    let Some(svc) = services().await else {
        return;
    };
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let args = node_args("1");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = svc.node_with_args(da.path(), &svc.redis_url, &args);
    let b = svc.node_with_args(db.path(), &svc.redis_url, &args);

    let (admin, _) = person(&a, "admin").await;
    let (leaving, leaving_id) = person(&a, "agent").await;
    let (staying, staying_id) = person(&b, "agent").await;
    let inbox = setup_inbox(
        &admin,
        json!({"name": "Grace", "timezone": "UTC", "routing": "least_busy"}),
        &[&leaving_id, &staying_id],
        5,
    )
    .await;
    // Only the leaving agent is connected while the chats arrive.
    let leaving_gw = gateway(&leaving).await;
    let mut chats = Vec::new();
    for i in 0..3 {
        let node = if i % 2 == 0 { &a } else { &b };
        let (c, _) = person(node, "user").await;
        let (code, v) = call(
            &c,
            "POST",
            &format!("/inboxes/{inbox}/conversations"),
            Some(json!({"text": "hi", "client_id": unique("k")})),
        )
        .await;
        assert_eq!(code, 201, "{v}");
        chats.push((c, v["id"].as_str().expect("id").to_string()));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while agents_of(&admin, &inbox).await[0]["open_chats"] != 3 {
        assert!(Instant::now() < deadline, "never assigned");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The other agent connects on the other process (nothing to route),
    // then the first one leaves: after the grace, once, their chats go to
    // the front and on to the agent still here.
    let _staying_gw = gateway(&staying).await;
    leaving_gw.close().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = agents_of(&admin, &inbox).await;
        if rows[1]["open_chats"] == 3 {
            assert_eq!(rows[0]["open_chats"], 0, "{rows:?}");
            break;
        }
        assert!(Instant::now() < deadline, "never handed over: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Both processes watched the agent; give a second firing time to show.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for (customer, conv) in &chats {
        let evs = events(customer, conv).await;
        let gone: Vec<_> = of_type(&evs, "support.queued")
            .into_iter()
            .filter(|e| e["data"]["reason"] == "agent_gone")
            .collect();
        assert_eq!(gone.len(), 1, "the grace fired once: {evs:?}");
        let assigned: Vec<_> = of_type(&evs, "support.assigned")
            .into_iter()
            .map(|e| e["data"]["agent_id"].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(assigned, [leaving_id.clone(), staying_id.clone()]);
    }
}

/// A customer's message on one process reopens a chat whose assignee is
/// connected to the other: it goes straight back to them (a manual inbox,
/// so nothing else would assign it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_on_one_process_reopens_to_the_assignee_on_the_other() {
    let Some(svc) = services().await else {
        return;
    };
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let args = node_args("120");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = svc.node_with_args(da.path(), &svc.redis_url, &args);
    let b = svc.node_with_args(db.path(), &svc.redis_url, &args);
    let (admin, _) = person(&a, "admin").await;
    let (agent, agent_id) = person(&b, "agent").await;
    let inbox = setup_inbox(
        &admin,
        json!({"name": "Manual", "timezone": "UTC", "routing": "manual"}),
        &[&agent_id],
        5,
    )
    .await;
    let _gw = gateway(&agent).await;
    let (customer, _) = person(&a, "user").await;
    let (code, v) = call(
        &customer,
        "POST",
        &format!("/inboxes/{inbox}/conversations"),
        Some(json!({"text": "hi", "client_id": unique("k")})),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    let conv = v["id"].as_str().expect("id").to_string();
    for step in ["claim", "resolve"] {
        let (code, v) = call(
            &agent,
            "POST",
            &format!("/conversations/{conv}/support/{step}"),
            None,
        )
        .await;
        assert_eq!(code, 200, "{step}: {v}");
    }
    customer.send_text(&conv, "again").await.expect("send");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, v) = call(&customer, "GET", &format!("/conversations/{conv}"), None).await;
        if v["support"]["state"] == "assigned" {
            assert_eq!(v["support"]["assignee_id"], agent_id.as_str());
            break;
        }
        assert!(Instant::now() < deadline, "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let evs = events(&customer, &conv).await;
    let support: Vec<&str> = evs
        .iter()
        .filter_map(|e| e["type"].as_str())
        .filter(|t| t.starts_with("support."))
        .collect();
    assert_eq!(
        support,
        [
            "support.queued",
            "support.assigned",
            "support.resolved",
            "support.reopened",
            "support.assigned"
        ]
    );
}
