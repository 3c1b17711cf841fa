//! Support inboxes (protocol.md §9) through real sockets: inboxes and
//! their validation, the customer's one open conversation (also under 20
//! concurrent opens), routing on agent connect with capacity under a
//! burst of arrivals, claims racing, transfer, resolve and reopen, the
//! agent grace, closed hours, the queue pushes and who may see what.
//! Admins and agents are platform users whose external JWT carries the
//! role.

use crate::helpers::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use parley_protocol::{ServerFrame, Timestamp};
use parley_sdk::Client;
use parley_server::config::Settings;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const SECRET: &str = "support-test-secret-support-test-secret-0";

async fn app_with(backend: &Backend, grace: Option<u64>) -> TestApp {
    spawn_app_with(Settings {
        rate_limits: Some("off".into()),
        external_jwt_alg: Some("HS256".into()),
        external_jwt_secret: Some(SECRET.into()),
        support_agent_grace: grace,
        database_url: backend.database_url(),
        ..Default::default()
    })
    .await
}

async fn app(backend: &Backend) -> TestApp {
    app_with(backend, None).await
}

/// A platform user with `role` ("admin", "agent" or "user").
async fn staff(app: &TestApp, role: &str) -> (Client, String) {
    let sub = unique(role);
    let exp = Timestamp::now().millis() / 1000 + 600;
    let claims = json!({"sub": sub, "exp": exp, "roles": [role], "name": sub});
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign");
    let c = app.client().with_token(&token);
    let me = c.me().await.expect("provisioned");
    (c, me.id)
}

async fn call(c: &Client, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let r = c.raw(method, path, body.as_deref()).await.expect("request");
    (r.status, r.json)
}

async fn inbox(admin: &Client, body: Value) -> String {
    let (code, v) = call(admin, "POST", "/inboxes", Some(body)).await;
    assert_eq!(code, 201, "{v}");
    v["id"].as_str().expect("id").to_string()
}

async fn add_agent(admin: &Client, inbox: &str, agent: &str, max: Option<u32>) {
    let (code, v) = call(
        admin,
        "PUT",
        &format!("/inboxes/{inbox}/agents/{agent}"),
        Some(json!({"max_chats": max})),
    )
    .await;
    assert_eq!(code, 200, "{v}");
}

async fn open(c: &Client, inbox: &str, text: &str) -> (u16, Value) {
    call(
        c,
        "POST",
        &format!("/inboxes/{inbox}/conversations"),
        Some(json!({"text": text, "client_id": unique("k")})),
    )
    .await
}

async fn support_of(c: &Client, conv: &str) -> Value {
    let (code, v) = call(c, "GET", &format!("/conversations/{conv}"), None).await;
    assert_eq!(code, 200, "{v}");
    v["support"].clone()
}

/// Polls until the conversation's support state is `state`.
async fn wait_state(c: &Client, conv: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = support_of(c, conv).await;
        if s["state"] == state {
            return s;
        }
        assert!(Instant::now() < deadline, "never {state}: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn event_types(c: &Client, conv: &str) -> Vec<String> {
    let (code, v) = call(
        c,
        "GET",
        &format!("/conversations/{conv}/events?after=0"),
        None,
    )
    .await;
    assert_eq!(code, 200, "{v}");
    v["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn inboxes_are_validated_and_only_admins_manage_them(backend: Backend) {
    let app = app(&backend).await;
    let (admin, _) = staff(&app, "admin").await;
    let (agent, _) = staff(&app, "agent").await;
    let (user, _) = app.user("cust").await;
    let bad = [
        (json!({"timezone": "UTC"}), "name"),
        (json!({"name": "x"}), "timezone"),
        (json!({"name": "x", "timezone": "Mars/Olympus"}), "timezone"),
        (json!({"name": "", "timezone": "UTC"}), "name"),
        (
            json!({"name": "x", "timezone": "UTC", "routing": "random"}),
            "",
        ),
        (
            json!({"name": "x", "timezone": "UTC", "max_chats_per_agent": 0}),
            "max_chats_per_agent",
        ),
        (
            json!({"name": "x", "timezone": "UTC", "max_chats_per_agent": 1001}),
            "max_chats_per_agent",
        ),
        (
            json!({"name": "x", "timezone": "UTC", "hours": [{"day": "mon", "open": "9:00", "close": "12:00"}]}),
            "hours",
        ),
        (
            json!({"name": "x", "timezone": "UTC", "hours": [{"day": "mon", "open": "09:00", "close": "09:00"}]}),
            "hours",
        ),
        (
            json!({"name": "x", "timezone": "UTC", "holidays": ["2026-02-30"]}),
            "holidays",
        ),
    ];
    for (body, field) in bad {
        let (code, v) = call(&admin, "POST", "/inboxes", Some(body.clone())).await;
        assert_eq!(code, 400, "{body} -> {v}");
        assert_eq!(v["error"]["code"], "invalid_request");
        if !field.is_empty() {
            assert_eq!(v["error"]["details"]["field"], field, "{body} -> {v}");
        }
    }
    let body = json!({"name": "Billing", "timezone": "Europe/Paris"});
    for c in [&agent, &user] {
        let (code, v) = call(c, "POST", "/inboxes", Some(body.clone())).await;
        assert_eq!(code, 403, "{v}");
    }
    let (code, listed) = call(&admin, "GET", "/inboxes", None).await;
    assert_eq!(code, 200);
    assert_eq!(
        listed["inboxes"].as_array().map(Vec::len),
        Some(0),
        "nothing was created"
    );

    let id = inbox(&admin, body).await;
    let (code, v) = call(&user, "GET", &format!("/inboxes/{id}"), None).await;
    assert_eq!(code, 200, "any user reads the front door");
    assert_eq!(v["routing"], "least_busy");
    assert_eq!(v["max_chats_per_agent"], 5);
    assert_eq!(v["open_now"], true, "no hours: always open");
    assert_eq!(v["next_open_at"], Value::Null);
    let (code, _) = call(
        &user,
        "PATCH",
        &format!("/inboxes/{id}"),
        Some(json!({"name": "Mine"})),
    )
    .await;
    assert_eq!(code, 403);
    let (code, v) = call(
        &admin,
        "PATCH",
        &format!("/inboxes/{id}"),
        Some(json!({"hours": [], "routing": "manual"})),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["name"], "Billing", "unchanged fields stay");
    assert_eq!(v["open_now"], false, "[] is never open");
    assert_eq!(v["next_open_at"], Value::Null, "and never opens");
    let (code, _) = call(
        &user,
        "GET",
        "/inboxes/01890000-0000-7000-8000-000000000000",
        None,
    )
    .await;
    assert_eq!(code, 404);
    // The agent role is required to be an agent of an inbox.
    let (_, user_id) = (user.clone(), user.me().await.expect("me").id);
    let (code, v) = call(
        &admin,
        "PUT",
        &format!("/inboxes/{id}/agents/{user_id}"),
        Some(json!({})),
    )
    .await;
    assert_eq!(code, 400, "{v}");
    assert_eq!(v["error"]["details"]["field"], "user_id");
    // Agents list only their inboxes.
    let (code, v) = call(&agent, "GET", "/inboxes", None).await;
    assert_eq!(code, 200);
    assert_eq!(v["inboxes"].as_array().map(Vec::len), Some(0));
    app.stop().await;
}

async fn a_customer_is_routed_to_an_agent_who_connects_and_everyone_sees_only_their_part(
    backend: Backend,
) {
    let app = app(&backend).await;
    let (admin, _) = staff(&app, "admin").await;
    let (agent, agent_id) = staff(&app, "agent").await;
    let (other_agent, _) = staff(&app, "agent").await;
    let (customer, customer_id) = app.user("cust").await;
    let (stranger, _) = app.user("str").await;
    let id = inbox(&admin, json!({"name": "Help", "timezone": "UTC"})).await;
    add_agent(&admin, &id, &agent_id, None).await;

    let customer_gw = app.gateway(&customer).await;
    let (code, conv) = open(&customer, &id, "my card was charged twice").await;
    assert_eq!(code, 201, "{conv}");
    let conv_id = conv["id"].as_str().expect("id").to_string();
    assert_eq!(conv["kind"], "support");
    assert_eq!(conv["support"]["state"], "queued", "no agent is connected");
    assert_eq!(conv["support"]["customer_id"], customer_id.id.as_str());
    assert_eq!(conv["support"]["position"], 1);
    // A second open returns the same conversation.
    let (code, again) = open(&customer, &id, "hello?").await;
    assert_eq!(code, 200);
    assert_eq!(again["id"], conv_id.as_str());

    // The agent connects: assigned within 2 s.
    let agent_gw = app.gateway(&agent).await;
    let started = Instant::now();
    let s = wait_state(&customer, &conv_id, "assigned").await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(s["assignee_id"], agent_id.as_str());
    assert_eq!(s["position"], Value::Null);
    let added = loop {
        match agent_gw.next_push(WAIT).await.expect("push") {
            ServerFrame::ConversationAdded { conversation } => break conversation,
            _ => continue,
        }
    };
    assert_eq!(added.id, conv_id);
    assert_eq!(added.joined_seq, 1, "the assignee reads the whole log");
    let types = event_types(&agent, &conv_id).await;
    assert_eq!(
        types,
        [
            "conversation.created",
            "message.created",
            "support.queued",
            "message.created",
            "support.assigned",
            "message.created"
        ],
        "open, first message, queued, the second message, assigned, the notice"
    );
    let (_, msgs) = call(
        &customer,
        "GET",
        &format!("/conversations/{conv_id}/messages"),
        None,
    )
    .await;
    let last = msgs["messages"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .expect("a message");
    assert_eq!(last["kind"], "system");
    assert_eq!(last["system"]["type"], "support.assigned");
    assert_eq!(last["system"]["agent_id"], agent_id.as_str());

    // The agent and the customer write to each other.
    agent
        .send_text(&conv_id, "sorry about that, refunding")
        .await
        .expect("agent sends");
    loop {
        if let Ok(ev) = customer_gw.next_event(WAIT).await
            && ev.message().is_some_and(|m| m.sender_id == agent_id)
        {
            break;
        }
    }
    // Another agent of no inbox, and a stranger, see nothing.
    for c in [&stranger, &other_agent] {
        let (code, _) = call(c, "GET", &format!("/conversations/{conv_id}"), None).await;
        assert_eq!(code, 404);
        let (code, _) = call(
            c,
            "GET",
            &format!("/conversations/{conv_id}/messages"),
            None,
        )
        .await;
        assert_eq!(code, 404);
        let (code, _) = call(
            c,
            "POST",
            &format!("/conversations/{conv_id}/support/resolve"),
            None,
        )
        .await;
        assert_eq!(code, 404);
        let (code, _) = call(c, "GET", &format!("/inboxes/{id}/queue"), None).await;
        assert_eq!(code, 404);
    }
    // An admin reads it without being a member.
    let (code, v) = call(&admin, "GET", &format!("/conversations/{conv_id}"), None).await;
    assert_eq!(code, 200, "{v}");
    // The customer cannot resolve or claim.
    let (code, _) = call(
        &customer,
        "POST",
        &format!("/conversations/{conv_id}/support/resolve"),
        None,
    )
    .await;
    assert_eq!(code, 403);
    let (code, _) = call(
        &customer,
        "POST",
        &format!("/conversations/{conv_id}/support/claim"),
        None,
    )
    .await;
    assert_eq!(code, 403);
    // The agent's status and list.
    let (code, st) = call(&agent, "GET", "/agents/me/status", None).await;
    assert_eq!(code, 200);
    assert_eq!(
        st,
        json!({"status": "available", "connected": true, "open_chats": 1})
    );
    let (code, _) = call(&customer, "GET", "/agents/me/status", None).await;
    assert_eq!(code, 403);
    let (_, mine) = call(&agent, "GET", "/agents/me/conversations", None).await;
    assert_eq!(mine["conversations"][0]["id"], conv_id.as_str());

    // Resolve frees the agent; the customer writing again reopens, and
    // the agent (assignable) gets it back at once, without a queue.
    let (code, v) = call(
        &agent,
        "POST",
        &format!("/conversations/{conv_id}/support/resolve"),
        None,
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["support"]["state"], "resolved");
    let (code, _) = call(
        &agent,
        "POST",
        &format!("/conversations/{conv_id}/support/resolve"),
        None,
    )
    .await;
    assert_eq!(code, 409, "already resolved");
    let (_, st) = call(&agent, "GET", "/agents/me/status", None).await;
    assert_eq!(st["open_chats"], 0);
    let (_, resolved) = call(
        &agent,
        "GET",
        "/agents/me/conversations?state=resolved",
        None,
    )
    .await;
    assert_eq!(resolved["conversations"][0]["id"], conv_id.as_str());
    customer
        .send_text(&conv_id, "it happened again")
        .await
        .expect("customer writes");
    let s = wait_state(&customer, &conv_id, "assigned").await;
    assert_eq!(s["assignee_id"], agent_id.as_str());
    let types = event_types(&customer, &conv_id).await;
    assert!(
        types
            .windows(2)
            .any(|w| w == ["support.reopened", "support.assigned"]),
        "{types:?}"
    );
    // After resolving, opening again starts a new conversation.
    call(
        &agent,
        "POST",
        &format!("/conversations/{conv_id}/support/resolve"),
        None,
    )
    .await;
    let (code, fresh) = open(&customer, &id, "new question").await;
    assert_eq!(code, 201);
    assert_ne!(fresh["id"], conv_id.as_str());
    // Reopening the old one now: another open conversation exists.
    let (code, v) = call(
        &customer,
        "POST",
        &format!("/conversations/{conv_id}/support/reopen"),
        None,
    )
    .await;
    assert_eq!(code, 409, "{v}");
    drop(agent_gw);
    drop(customer_gw);
    app.stop().await;
}

async fn twenty_concurrent_opens_by_one_customer_make_one_conversation(backend: Backend) {
    let app = app(&backend).await;
    let (admin, _) = staff(&app, "admin").await;
    let (customer, _) = app.user("cust").await;
    let id = inbox(&admin, json!({"name": "Race", "timezone": "UTC"})).await;
    let opens = (0..20).map(|i| {
        let c = customer.clone();
        let id = id.clone();
        async move { open(&c, &id, &format!("hello {i}")).await }
    });
    let results = futures_util::future::join_all(opens).await;
    let created = results.iter().filter(|(c, _)| *c == 201).count();
    assert_eq!(created, 1, "{results:?}");
    assert!(results.iter().all(|(c, _)| *c == 201 || *c == 200));
    let ids: std::collections::HashSet<_> = results.iter().map(|(_, v)| v["id"].clone()).collect();
    assert_eq!(ids.len(), 1, "one conversation");
    let (_, list) = call(&customer, "GET", "/conversations", None).await;
    assert_eq!(list["conversations"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}

async fn a_burst_of_arrivals_never_puts_an_agent_above_capacity_and_queues_the_rest_in_order(
    backend: Backend,
) {
    let app = app(&backend).await;
    let (admin, _) = staff(&app, "admin").await;
    let id = inbox(
        &admin,
        json!({"name": "Burst", "timezone": "UTC", "max_chats_per_agent": 2}),
    )
    .await;
    let mut agents = Vec::new();
    for _ in 0..3 {
        let (c, uid) = staff(&app, "agent").await;
        add_agent(&admin, &id, &uid, None).await;
        let gw = app.gateway(&c).await;
        agents.push((c, uid, gw));
    }
    let customers = app.users(12).await;
    let opens = customers.iter().map(|(c, _)| {
        let c = c.clone();
        let id = id.clone();
        async move { open(&c, &id, "help").await }
    });
    let results = futures_util::future::join_all(opens).await;
    assert!(results.iter().all(|(c, _)| *c == 201), "{results:?}");
    // Routing settles: 6 assigned (3 x 2), 6 queued.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, q) = call(&admin, "GET", &format!("/inboxes/{id}/queue"), None).await;
        let queued = q["conversations"].as_array().map(Vec::len).unwrap_or(0);
        if queued == 6 {
            let positions: Vec<_> = q["conversations"]
                .as_array()
                .expect("list")
                .iter()
                .map(|c| c["support"]["position"].as_u64().unwrap_or(0))
                .collect();
            assert_eq!(positions, [1, 2, 3, 4, 5, 6]);
            let queued_at: Vec<_> = q["conversations"]
                .as_array()
                .expect("list")
                .iter()
                .map(|c| c["support"]["queued_at"].as_str().unwrap_or("").to_string())
                .collect();
            let mut sorted = queued_at.clone();
            sorted.sort();
            assert_eq!(queued_at, sorted, "oldest first");
            break;
        }
        assert!(Instant::now() < deadline, "queue never settled: {q}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, list) = call(&admin, "GET", &format!("/inboxes/{id}/agents"), None).await;
    for a in list["agents"].as_array().expect("agents") {
        assert_eq!(a["open_chats"], 2, "{a}");
        assert_eq!(a["connected"], true);
    }
    // Each assigned conversation has exactly one support.assigned.
    for (c, _) in &customers {
        let (_, l) = call(c, "GET", "/conversations", None).await;
        let conv = l["conversations"][0]["id"]
            .as_str()
            .expect("conv")
            .to_string();
        let assigned = event_types(c, &conv)
            .await
            .iter()
            .filter(|t| *t == "support.assigned")
            .count();
        assert!(assigned <= 1);
    }
    // Resolving one frees a place: the front of the queue gets it.
    let (agent, _, _) = &agents[0];
    let (_, mine) = call(agent, "GET", "/agents/me/conversations", None).await;
    let first = mine["conversations"][0]["id"]
        .as_str()
        .expect("a chat")
        .to_string();
    let (_, q) = call(&admin, "GET", &format!("/inboxes/{id}/queue"), None).await;
    let front = q["conversations"][0]["id"]
        .as_str()
        .expect("front")
        .to_string();
    call(
        agent,
        "POST",
        &format!("/conversations/{first}/support/resolve"),
        None,
    )
    .await;
    wait_state(&admin, &front, "assigned").await;
    app.stop().await;
}

async fn concurrent_claims_in_a_manual_inbox_have_one_winner(backend: Backend) {
    let app = app(&backend).await;
    let (admin, _) = staff(&app, "admin").await;
    let (a1, id1) = staff(&app, "agent").await;
    let (a2, id2) = staff(&app, "agent").await;
    let (outsider, _) = staff(&app, "agent").await;
    let (customer, _) = app.user("cust").await;
    let id = inbox(
        &admin,
        json!({"name": "Manual", "timezone": "UTC", "routing": "manual"}),
    )
    .await;
    add_agent(&admin, &id, &id1, None).await;
    add_agent(&admin, &id, &id2, Some(1)).await;
    let _g1 = app.gateway(&a1).await;
    let _g2 = app.gateway(&a2).await;
    let (_, conv) = open(&customer, &id, "anyone?").await;
    let conv = conv["id"].as_str().expect("id").to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        support_of(&customer, &conv).await["state"],
        "queued",
        "manual: nobody is assigned"
    );
    let (code, _) = call(
        &outsider,
        "POST",
        &format!("/conversations/{conv}/support/claim"),
        None,
    )
    .await;
    assert_eq!(code, 404, "an agent of another inbox");
    let path = format!("/conversations/{conv}/support/claim");
    let (r1, r2) = tokio::join!(
        call(&a1, "POST", &path, None),
        call(&a2, "POST", &path, None)
    );
    let mut codes = [r1.0, r2.0];
    codes.sort();
    assert_eq!(codes, [200, 409], "{r1:?} {r2:?}");
    let types = event_types(&customer, &conv).await;
    assert_eq!(types.iter().filter(|t| *t == "support.assigned").count(), 1);
    // a2 (capacity 1) claims a second chat; a third is over capacity.
    let (c2, _) = app.user("cust").await;
    let (c3, _) = app.user("cust").await;
    let (_, x) = open(&c2, &id, "x").await;
    let (_, y) = open(&c3, &id, "y").await;
    let x = x["id"].as_str().expect("x").to_string();
    let y = y["id"].as_str().expect("y").to_string();
    let (code, _) = call(
        &a2,
        "POST",
        &format!("/conversations/{x}/support/claim"),
        None,
    )
    .await;
    let a2_had = if r2.0 == 200 { 1 } else { 0 };
    if a2_had == 1 {
        assert_eq!(code, 409, "a2 is at capacity 1");
    } else {
        assert_eq!(code, 200);
        let (code, _) = call(
            &a2,
            "POST",
            &format!("/conversations/{y}/support/claim"),
            None,
        )
        .await;
        assert_eq!(code, 409, "a2 is at capacity 1");
    }
    app.stop().await;
}

async fn transfers_move_a_chat_to_an_agent_or_another_inbox(backend: Backend) {
    let app = app(&backend).await;
    let (admin, _) = staff(&app, "admin").await;
    let (a1, id1) = staff(&app, "agent").await;
    let (a2, id2) = staff(&app, "agent").await;
    let (customer, _) = app.user("cust").await;
    let sales = inbox(&admin, json!({"name": "Sales", "timezone": "UTC"})).await;
    let billing = inbox(
        &admin,
        json!({"name": "Billing", "timezone": "UTC", "routing": "manual"}),
    )
    .await;
    add_agent(&admin, &sales, &id1, None).await;
    add_agent(&admin, &sales, &id2, None).await;
    let g1 = app.gateway(&a1).await;
    let (_, conv) = open(&customer, &sales, "pricing?").await;
    let conv = conv["id"].as_str().expect("id").to_string();
    wait_state(&customer, &conv, "assigned").await;
    let path = format!("/conversations/{conv}/support/transfer");
    let (code, _) = call(
        &a1,
        "POST",
        &path,
        Some(json!({"agent_id": id2, "inbox_id": billing})),
    )
    .await;
    assert_eq!(code, 400, "exactly one target");
    let (code, _) = call(&a1, "POST", &path, Some(json!({"agent_id": id2}))).await;
    assert_eq!(code, 409, "a2 is not connected");
    let (code, _) = call(&a2, "POST", &path, Some(json!({"agent_id": id1}))).await;
    assert_eq!(code, 403, "only the assignee or an admin");
    let (code, _) = call(&customer, "POST", &path, Some(json!({"agent_id": id1}))).await;
    assert_eq!(code, 403);
    let _g2 = app.gateway(&a2).await;
    let (code, v) = call(&a1, "POST", &path, Some(json!({"agent_id": id2}))).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["support"]["assignee_id"], id2.as_str());
    let removed = loop {
        match g1.next_push(WAIT).await.expect("push") {
            ServerFrame::ConversationRemoved { conversation_id } => break conversation_id,
            _ => continue,
        }
    };
    assert_eq!(removed, conv);
    let (code, _) = call(&a1, "GET", &format!("/conversations/{conv}/messages"), None).await;
    assert_eq!(code, 200, "an agent of the inbox still reads it");
    let (code, _) = call(
        &a1,
        "POST",
        &format!("/conversations/{conv}/messages"),
        Some(json!({"client_id": "k1", "text": "x"})),
    )
    .await;
    assert!(
        code == 403 || code == 404,
        "{code}: only the assignee writes"
    );
    // To another inbox: it waits in its queue.
    let (code, v) = call(&a2, "POST", &path, Some(json!({"inbox_id": billing}))).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["support"]["state"], "queued");
    assert_eq!(v["support"]["inbox_id"], billing.as_str());
    let types = event_types(&customer, &conv).await;
    assert_eq!(
        types.iter().filter(|t| *t == "support.transferred").count(),
        2,
        "{types:?}"
    );
    assert_eq!(types.last().map(String::as_str), Some("support.queued"));
    app.stop().await;
}

async fn an_agent_gone_past_the_grace_loses_their_chats_to_the_front_of_the_queue(
    backend: Backend,
) {
    let app = app_with(&backend, Some(1)).await;
    let (admin, _) = staff(&app, "admin").await;
    let (agent, agent_id) = staff(&app, "agent").await;
    let id = inbox(
        &admin,
        json!({"name": "Grace", "timezone": "UTC", "routing": "manual"}),
    )
    .await;
    add_agent(&admin, &id, &agent_id, None).await;
    let gw = app.gateway(&agent).await;
    let (c1, _) = app.user("cust").await;
    let (c2, _) = app.user("cust").await;
    let (_, first) = open(&c1, &id, "one").await;
    let first = first["id"].as_str().expect("id").to_string();
    let (_, waiting) = open(&c2, &id, "two").await;
    let waiting = waiting["id"].as_str().expect("id").to_string();
    let (code, _) = call(
        &agent,
        "POST",
        &format!("/conversations/{first}/support/claim"),
        None,
    )
    .await;
    assert_eq!(code, 200);
    gw.close().await;
    let s = wait_state(&c1, &first, "queued").await;
    assert_eq!(
        s["position"], 1,
        "a returned chat goes ahead of the one waiting"
    );
    assert_eq!(support_of(&c2, &waiting).await["position"], 2);
    let types = event_types(&c1, &first).await;
    assert_eq!(types.last().map(String::as_str), Some("support.queued"));
    let (_, events) = call(
        &c1,
        "GET",
        &format!("/conversations/{first}/events?after=0"),
        None,
    )
    .await;
    let last = events["events"]
        .as_array()
        .and_then(|e| e.last())
        .cloned()
        .expect("event");
    assert_eq!(last["data"]["reason"], "agent_gone");
    app.stop().await;
}

async fn a_closed_inbox_says_so_once_and_waits_and_the_customer_hears_their_place(
    backend: Backend,
) {
    let app = app(&backend).await;
    let (admin, _) = staff(&app, "admin").await;
    let (agent, agent_id) = staff(&app, "agent").await;
    let id = inbox(
        &admin,
        json!({"name": "Closed", "timezone": "UTC", "hours": [], "offline_message": "We are closed for good."}),
    )
    .await;
    add_agent(&admin, &id, &agent_id, None).await;
    let _gw = app.gateway(&agent).await;
    let (first, _) = app.user("cust").await;
    let _ = open(&first, &id, "first").await;
    let (customer, _) = app.user("cust").await;
    let gw = app.gateway(&customer).await;
    let (_, conv) = open(&customer, &id, "are you there?").await;
    let conv = conv["id"].as_str().expect("id").to_string();
    let position = loop {
        match gw.next_push(WAIT).await.expect("push") {
            ServerFrame::SupportQueue {
                conversation_id,
                position,
            } if conversation_id == conv => {
                break position;
            }
            _ => continue,
        }
    };
    assert_eq!(position, 2);
    customer
        .send_text(&conv, "hello again")
        .await
        .expect("send");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        support_of(&customer, &conv).await["state"],
        "queued",
        "closed: no routing"
    );
    let (_, msgs) = call(
        &customer,
        "GET",
        &format!("/conversations/{conv}/messages"),
        None,
    )
    .await;
    let notices: Vec<_> = msgs["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["kind"] == "system")
        .cloned()
        .collect();
    assert_eq!(notices.len(), 1, "the offline notice once: {notices:?}");
    assert_eq!(notices[0]["text"], "We are closed for good.");
    assert_eq!(notices[0]["system"]["type"], "support.offline");
    assert_eq!(notices[0]["system"]["next_open_at"], Value::Null);
    // The front leaves (claimed even outside hours): the customer hears it.
    let (_, q) = call(&agent, "GET", &format!("/inboxes/{id}/queue"), None).await;
    let front = q["conversations"][0]["id"]
        .as_str()
        .expect("front")
        .to_string();
    let (code, _) = call(
        &agent,
        "POST",
        &format!("/conversations/{front}/support/claim"),
        None,
    )
    .await;
    assert_eq!(code, 200);
    let position = loop {
        match gw.next_push(WAIT).await.expect("push") {
            ServerFrame::SupportQueue {
                conversation_id,
                position,
            } if conversation_id == conv => {
                break position;
            }
            _ => continue,
        }
    };
    assert_eq!(position, 1);
    app.stop().await;
}

async fn a_removed_agent_returns_their_chats_and_an_away_agent_gets_no_new_ones(backend: Backend) {
    let app = app(&backend).await;
    let (admin, _) = staff(&app, "admin").await;
    let (agent, agent_id) = staff(&app, "agent").await;
    let id = inbox(&admin, json!({"name": "Away", "timezone": "UTC"})).await;
    add_agent(&admin, &id, &agent_id, None).await;
    let _gw = app.gateway(&agent).await;
    let (code, st) = call(
        &agent,
        "PUT",
        "/agents/me/status",
        Some(json!({"status": "away"})),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(st["status"], "away");
    let (customer, _) = app.user("cust").await;
    let (_, conv) = open(&customer, &id, "hi").await;
    let conv = conv["id"].as_str().expect("id").to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(support_of(&customer, &conv).await["state"], "queued");
    call(
        &agent,
        "PUT",
        "/agents/me/status",
        Some(json!({"status": "available"})),
    )
    .await;
    wait_state(&customer, &conv, "assigned").await;
    let (code, _) = call(
        &admin,
        "DELETE",
        &format!("/inboxes/{id}/agents/{agent_id}"),
        None,
    )
    .await;
    assert_eq!(code, 204);
    let s = wait_state(&customer, &conv, "queued").await;
    assert_eq!(s["position"], 1);
    let (_, events) = call(
        &customer,
        "GET",
        &format!("/conversations/{conv}/events?after=0"),
        None,
    )
    .await;
    let last = events["events"]
        .as_array()
        .and_then(|e| e.last())
        .cloned()
        .expect("event");
    assert_eq!(last["data"]["reason"], "agent_removed");
    let (code, _) = call(
        &admin,
        "DELETE",
        &format!("/inboxes/{id}/agents/{agent_id}"),
        None,
    )
    .await;
    assert_eq!(code, 404);
    app.stop().await;
}

/// §9 reopen: a customer's message in a resolved chat goes back to the
/// previous assignee if they are assignable (here a manual inbox, where
/// nothing else would assign it), with `support.reopened` then
/// `support.assigned`; with the assignee gone it waits in the queue.
/// Readers who are not the customer or the assignee may not write.
async fn a_message_reopens_to_the_previous_assignee_and_only_the_two_parties_write(
    backend: Backend,
) {
    let app = app(&backend).await;
    let (admin, _) = staff(&app, "admin").await;
    let (agent, agent_id) = staff(&app, "agent").await;
    let (colleague, colleague_id) = staff(&app, "agent").await;
    let id = inbox(
        &admin,
        json!({"name": "Manual", "timezone": "UTC", "routing": "manual"}),
    )
    .await;
    add_agent(&admin, &id, &agent_id, None).await;
    add_agent(&admin, &id, &colleague_id, None).await;
    let agent_gw = app.gateway(&agent).await;
    let (customer, _) = app.user("cust").await;
    let (_, conv) = open(&customer, &id, "hello").await;
    let conv = conv["id"].as_str().expect("id").to_string();
    let (code, v) = call(
        &agent,
        "POST",
        &format!("/conversations/{conv}/support/claim"),
        None,
    )
    .await;
    assert_eq!(code, 200, "{v}");

    // The colleague and the admin read it, but writing is forbidden.
    for c in [&colleague, &admin] {
        let (code, _) = call(c, "GET", &format!("/conversations/{conv}/messages"), None).await;
        assert_eq!(code, 200);
        let (code, v) = call(
            c,
            "POST",
            &format!("/conversations/{conv}/messages"),
            Some(json!({"text": "butting in", "client_id": unique("k")})),
        )
        .await;
        assert_eq!(code, 403, "{v}");
        assert_eq!(v["error"]["code"], "forbidden", "{v}");
    }

    let (code, _) = call(
        &agent,
        "POST",
        &format!("/conversations/{conv}/support/resolve"),
        None,
    )
    .await;
    assert_eq!(code, 200);
    // Resolved: the last assignee still reads it but no longer writes.
    let (code, v) = call(
        &agent,
        "POST",
        &format!("/conversations/{conv}/messages"),
        Some(json!({"text": "anything else?", "client_id": unique("k")})),
    )
    .await;
    assert_eq!(code, 403, "{v}");
    customer
        .send_text(&conv, "one more thing")
        .await
        .expect("customer writes");
    let s = wait_state(&customer, &conv, "assigned").await;
    assert_eq!(s["assignee_id"], agent_id.as_str());
    let types = event_types(&customer, &conv).await;
    let at = types
        .iter()
        .rposition(|t| t == "support.reopened")
        .expect("reopened");
    assert_eq!(
        types[at..]
            .iter()
            .filter(|t| t.starts_with("support."))
            .collect::<Vec<_>>(),
        ["support.reopened", "support.assigned"],
        "{types:?}"
    );

    // Resolved again, and the assignee gone: the next message queues it.
    call(
        &agent,
        "POST",
        &format!("/conversations/{conv}/support/resolve"),
        None,
    )
    .await;
    agent_gw.close().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, st) = call(&admin, "GET", &format!("/inboxes/{id}/agents"), None).await;
        if st["agents"][0]["connected"] == false {
            break;
        }
        assert!(Instant::now() < deadline, "{st}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    customer
        .send_text(&conv, "hello again")
        .await
        .expect("customer writes");
    let s = wait_state(&customer, &conv, "queued").await;
    assert_eq!(s["position"], 1);
    let types = event_types(&customer, &conv).await;
    assert_eq!(
        types
            .iter()
            .rfind(|t| t.starts_with("support."))
            .map(String::as_str),
        Some("support.queued")
    );
    app.stop().await;
}

/// An integration's API key (made with `parley admin create-api-key`)
/// posts a `system` note into a support conversation: everyone there sees
/// it live, a retry with the same client_id posts nothing, the support
/// state does not move; agents and customers may not post notes, and an
/// id that is no support conversation is `not_found`.
async fn an_api_key_posts_a_system_note_into_a_support_conversation(backend: Backend) {
    let app = app(&backend).await;
    // The server is up (and migrated) before the CLI opens its database.
    let (admin, _) = staff(&app, "admin").await;
    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_parley"));
    cli.args([
        "admin",
        "create-api-key",
        "--name",
        "Order Bot",
        "--data-dir",
    ])
    .arg(app.dir.path());
    if let Backend::Postgres(url) = &backend {
        cli.args(["--database-url", url]);
    }
    let out = cli.output().expect("cli");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string();
    let bot = app.client().with_token(&key);
    let bot_id = bot.me().await.expect("the key works").id;

    let (agent, agent_id) = staff(&app, "agent").await;
    let id = inbox(&admin, json!({"name": "Orders", "timezone": "UTC"})).await;
    add_agent(&admin, &id, &agent_id, None).await;
    let _agent_gw = app.gateway(&agent).await;
    let (customer, _) = app.user("cust").await;
    let customer_gw = app.gateway(&customer).await;
    let (_, conv) = open(&customer, &id, "where is my order?").await;
    let conv = conv["id"].as_str().expect("id").to_string();
    let before = wait_state(&customer, &conv, "assigned").await;

    let note = json!({"client_id": "order-1234-shipped", "text": "Order #1234 shipped today"});
    let path = format!("/conversations/{conv}/support/notes");
    let (code, first) = call(&bot, "POST", &path, Some(note.clone())).await;
    assert_eq!(code, 201, "{first}");
    assert_eq!(first["kind"], "system");
    assert_eq!(first["sender_id"], bot_id.as_str());
    assert_eq!(first["system"]["type"], "support.note");
    assert_eq!(first["system"]["author_id"], bot_id.as_str());
    let live = loop {
        let ev = customer_gw.next_event(WAIT).await.expect("event");
        if let Some(m) = ev.message()
            && m.kind == parley_protocol::MessageKind::System
            && m.sender_id == bot_id
        {
            break m.clone();
        }
    };
    assert_eq!(live.text.as_deref(), Some("Order #1234 shipped today"));
    let (code, again) = call(&bot, "POST", &path, Some(note)).await;
    assert_eq!(code, 200, "{again}");
    assert_eq!(again["id"], first["id"]);
    let types = event_types(&agent, &conv).await;
    assert_eq!(
        types.iter().filter(|t| *t == "message.created").count(),
        3,
        "the first message, the assignment notice, one note: {types:?}"
    );
    assert_eq!(
        support_of(&customer, &conv).await,
        before,
        "no state change"
    );

    let body = json!({"client_id": unique("k"), "text": "hi"});
    for c in [&agent, &customer] {
        let (code, v) = call(c, "POST", &path, Some(body.clone())).await;
        assert_eq!(code, 403, "{v}");
    }
    for bad in [
        json!({"client_id": unique("k"), "text": "  "}),
        json!({"text": "no id"}),
    ] {
        let (code, v) = call(&bot, "POST", &path, Some(bad)).await;
        assert_eq!(code, 400, "{v}");
    }
    let (code, v) = call(
        &bot,
        "POST",
        "/conversations/0123456789abcdef0123456789abcdef/support/notes",
        Some(body),
    )
    .await;
    assert_eq!(code, 404, "{v}");
    app.stop().await;
}

on_both_backends!(
    inboxes_are_validated_and_only_admins_manage_them,
    a_customer_is_routed_to_an_agent_who_connects_and_everyone_sees_only_their_part,
    twenty_concurrent_opens_by_one_customer_make_one_conversation,
    a_burst_of_arrivals_never_puts_an_agent_above_capacity_and_queues_the_rest_in_order,
    concurrent_claims_in_a_manual_inbox_have_one_winner,
    transfers_move_a_chat_to_an_agent_or_another_inbox,
    an_agent_gone_past_the_grace_loses_their_chats_to_the_front_of_the_queue,
    a_closed_inbox_says_so_once_and_waits_and_the_customer_hears_their_place,
    a_removed_agent_returns_their_chats_and_an_away_agent_gets_no_new_ones,
    a_message_reopens_to_the_previous_assignee_and_only_the_two_parties_write,
    an_api_key_posts_a_system_note_into_a_support_conversation,
);
