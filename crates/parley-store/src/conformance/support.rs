//! Conformance: support inboxes. Every decision is atomic in storage: one
//! open conversation per customer and inbox under concurrent opens, nobody
//! above capacity, one winner of concurrent claims, chats of a departing
//! agent at the front of the queue in their earlier order, no reopen while
//! another conversation is open.

use super::*;
use crate::support::{Actor, InboxRow};
use crate::{StoreError, SupportStore};
use parley_domain::DomainError;
use parley_domain::support::{InboxFields, TransferTarget};
use parley_protocol::events::QueueReason;
use parley_protocol::support::{Routing, SupportState};

/// A store and its support area (the same database).
pub type SupportFactory = Arc<
    dyn Fn(
            Captured,
        ) -> Pin<Box<dyn Future<Output = (Arc<dyn Store>, Arc<dyn SupportStore>)> + Send>>
        + Send
        + Sync,
>;

struct SupportFixture {
    store: Arc<dyn Store>,
    support: Arc<dyn SupportStore>,
}

async fn fresh_support(factory: &SupportFactory) -> SupportFixture {
    let (store, support) = factory(Arc::new(Mutex::new(Vec::new()))).await;
    SupportFixture { store, support }
}

async fn staff(s: &Arc<dyn Store>, name: &str, role: Role) -> String {
    let mut u = user(name);
    u.role = role;
    s.create_user(u).await.expect("create staff").id
}

fn fields(routing: Routing, cap: u32) -> InboxFields {
    InboxFields {
        name: "Help".into(),
        timezone: "UTC".into(),
        hours: None,
        holidays: Vec::new(),
        offline_message: "closed".into(),
        routing,
        max_chats_per_agent: cap,
    }
}

async fn inbox(f: &SupportFixture, routing: Routing, cap: u32) -> InboxRow {
    f.support
        .create_inbox(&new_id(), fields(routing, cap), Timestamp::now())
        .await
        .expect("inbox")
}

/// The support row of a conversation the test made.
async fn support_row(f: &SupportFixture, conv: &str) -> parley_domain::support::SupportRow {
    f.support
        .support_row(conv)
        .await
        .expect("row")
        .expect("exists")
}

fn agent(id: &str) -> Actor {
    Actor {
        user_id: id.to_string(),
        is_admin: false,
    }
}

/// Every check of this area, each on a fresh store.
pub async fn run(factory: &SupportFactory) {
    one_open_conversation_per_customer_under_concurrent_opens(factory).await;
    routing_never_exceeds_capacity(factory).await;
    concurrent_claims_have_one_winner(factory).await;
    a_departing_agent_returns_chats_to_the_front(factory).await;
    reopen_refused_while_another_is_open(factory).await;
    an_agent_of_two_inboxes_stays_within_capacity(factory).await;
    decisions_racing_transfers_never_fail_as_unavailable(factory).await;
}

pub async fn one_open_conversation_per_customer_under_concurrent_opens(factory: &SupportFactory) {
    let f = fresh_support(factory).await;
    let customer = users(&f.store, &["sc1"]).await.remove(0);
    let inbox = inbox(&f, Routing::Manual, 5).await;
    let opens = (0..20).map(|_| {
        let s = f.support.clone();
        let (inbox, customer) = (inbox.id.clone(), customer.clone());
        async move {
            s.open_support(&new_id(), &inbox, &customer, None, Timestamp::now())
                .await
        }
    });
    let results = futures_join(opens).await;
    let created = results
        .iter()
        .filter(|r| matches!(r, Ok((_, true))))
        .count();
    assert_eq!(created, 1, "one conversation created: {results:?}");
    let ids: std::collections::HashSet<_> = results
        .iter()
        .map(|r| r.as_ref().expect("open").0.clone())
        .collect();
    assert_eq!(ids.len(), 1, "every open answers the same conversation");
}

pub async fn routing_never_exceeds_capacity(factory: &SupportFactory) {
    let f = fresh_support(factory).await;
    let inbox = inbox(&f, Routing::LeastBusy, 2).await;
    let mut agents = Vec::new();
    for i in 0..3 {
        let a = staff(&f.store, &format!("sa{i}"), Role::Agent).await;
        f.support
            .put_inbox_agent(&inbox.id, &a, None)
            .await
            .expect("agent");
        agents.push(a);
    }
    let customers = users(
        &f.store,
        &[
            "sb0", "sb1", "sb2", "sb3", "sb4", "sb5", "sb6", "sb7", "sb8", "sb9",
        ],
    )
    .await;
    for c in &customers {
        f.support
            .open_support(&new_id(), &inbox.id, c, None, Timestamp::now())
            .await
            .expect("open");
    }
    // Two routings at once: the second finds nothing more to give.
    let (r1, r2) = (
        f.support.route(&inbox.id, agents.clone(), Timestamp::now()),
        f.support.route(&inbox.id, agents.clone(), Timestamp::now()),
    );
    let (n1, n2) = futures_join2(r1, r2).await;
    assert_eq!(
        n1.expect("route") + n2.expect("route"),
        6,
        "3 agents x capacity 2"
    );
    for row in f.support.inbox_agents(&inbox.id).await.expect("agents") {
        assert_eq!(row.open_chats, 2, "{row:?}");
    }
    let queued = f.support.queue(&inbox.id, 0, 100).await.expect("queue");
    assert_eq!(queued.len(), 4);
    // Disconnected agents get nothing.
    let more = users(&f.store, &["sb10"]).await;
    f.support
        .open_support(&new_id(), &inbox.id, &more[0], None, Timestamp::now())
        .await
        .expect("open");
    f.support
        .put_inbox_agent(&inbox.id, &agents[0], Some(10))
        .await
        .expect("raise");
    assert_eq!(
        f.support
            .route(&inbox.id, Vec::new(), Timestamp::now())
            .await
            .expect("route"),
        0,
        "nobody connected"
    );
}

pub async fn concurrent_claims_have_one_winner(factory: &SupportFactory) {
    let f = fresh_support(factory).await;
    let inbox = inbox(&f, Routing::Manual, 5).await;
    let a1 = staff(&f.store, "sd1", Role::Agent).await;
    let a2 = staff(&f.store, "sd2", Role::Agent).await;
    for a in [&a1, &a2] {
        f.support
            .put_inbox_agent(&inbox.id, a, None)
            .await
            .expect("agent");
    }
    let customer = users(&f.store, &["sd3"]).await.remove(0);
    let (conv, _) = f
        .support
        .open_support(&new_id(), &inbox.id, &customer, None, Timestamp::now())
        .await
        .expect("open");
    let (x, y) = (agent(&a1), agent(&a2));
    let (r1, r2) = futures_join2(
        f.support.claim(&conv, &x, Timestamp::now()),
        f.support.claim(&conv, &y, Timestamp::now()),
    )
    .await;
    assert_eq!(
        [r1.is_ok(), r2.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "{r1:?} {r2:?}"
    );
    let loser = if r1.is_ok() { r2 } else { r1 };
    assert!(
        matches!(loser, Err(StoreError::Domain(DomainError::Conflict(_)))),
        "{loser:?}"
    );
    let row = support_row(&f, &conv).await;
    assert_eq!(row.state, SupportState::Assigned);
    // The customer cannot claim; a stranger does not see it.
    let stranger = users(&f.store, &["sd4"]).await.remove(0);
    assert!(matches!(
        f.support
            .claim(&conv, &agent(&stranger), Timestamp::now())
            .await,
        Err(StoreError::Domain(DomainError::NotFound(_)))
    ));
}

pub async fn a_departing_agent_returns_chats_to_the_front(factory: &SupportFactory) {
    let f = fresh_support(factory).await;
    let inbox = inbox(&f, Routing::Manual, 5).await;
    let a = staff(&f.store, "se1", Role::Agent).await;
    f.support
        .put_inbox_agent(&inbox.id, &a, None)
        .await
        .expect("agent");
    let cs = users(&f.store, &["se2", "se3", "se4"]).await;
    let mut convs = Vec::new();
    for c in &cs {
        let (conv, _) = f
            .support
            .open_support(&new_id(), &inbox.id, c, None, Timestamp::now())
            .await
            .expect("open");
        convs.push(conv);
    }
    for conv in &convs[..2] {
        f.support
            .claim(conv, &agent(&a), Timestamp::now())
            .await
            .expect("claim");
    }
    let touched = f
        .support
        .requeue_agent(&a, QueueReason::AgentGone, Timestamp::now())
        .await
        .expect("requeue");
    assert_eq!(touched, vec![inbox.id.clone()]);
    let queue = f.support.queue(&inbox.id, 0, 10).await.expect("queue");
    assert_eq!(
        queue,
        vec![convs[0].clone(), convs[1].clone(), convs[2].clone()],
        "returned chats first, in their earlier order"
    );
    assert_eq!(f.support.agent_status(&a).await.expect("status").1, 0);
}

pub async fn reopen_refused_while_another_is_open(factory: &SupportFactory) {
    let f = fresh_support(factory).await;
    let inbox = inbox(&f, Routing::Manual, 5).await;
    let a = staff(&f.store, "sf1", Role::Agent).await;
    f.support
        .put_inbox_agent(&inbox.id, &a, None)
        .await
        .expect("agent");
    let customer = users(&f.store, &["sf2"]).await.remove(0);
    let (first, _) = f
        .support
        .open_support(&new_id(), &inbox.id, &customer, None, Timestamp::now())
        .await
        .expect("open");
    f.support
        .resolve(&first, &agent(&a), Timestamp::now())
        .await
        .expect("resolve");
    assert!(matches!(
        f.support
            .resolve(&first, &agent(&a), Timestamp::now())
            .await,
        Err(StoreError::Domain(DomainError::Conflict(_)))
    ));
    let (second, created) = f
        .support
        .open_support(&new_id(), &inbox.id, &customer, None, Timestamp::now())
        .await
        .expect("open again");
    assert!(
        created && second != first,
        "a new conversation after resolve"
    );
    let customer_actor = agent(&customer);
    assert!(matches!(
        f.support
            .reopen(&first, &customer_actor, false, Timestamp::now())
            .await,
        Err(StoreError::Domain(DomainError::Conflict(_)))
    ));
    // A transfer needs a target that can take it.
    assert!(
        f.support
            .transfer(
                &second,
                &Actor {
                    user_id: a.clone(),
                    is_admin: true
                },
                TransferTarget::Agent(a.clone()),
                false,
                Timestamp::now()
            )
            .await
            .is_err()
    );
}

/// A routing (how many it assigned) or a claim (1).
type Step = Pin<Box<dyn Future<Output = Result<u32, StoreError>> + Send>>;

/// Capacity counts an agent's chats in every inbox: routings of two
/// inboxes that share agents, racing each other and claims, never give
/// an agent more than their capacity (on PostgreSQL this is the agents'
/// row locks; a lock on the inbox alone would not do).
pub async fn an_agent_of_two_inboxes_stays_within_capacity(factory: &SupportFactory) {
    let f = fresh_support(factory).await;
    let x = inbox(&f, Routing::LeastBusy, 1).await;
    let y = inbox(&f, Routing::RoundRobin, 1).await;
    let mut agents = Vec::new();
    for i in 0..4 {
        let a = staff(&f.store, &format!("sx{i}"), Role::Agent).await;
        for ib in [&x, &y] {
            f.support
                .put_inbox_agent(&ib.id, &a, None)
                .await
                .expect("agent");
        }
        agents.push(a);
    }
    let names: Vec<String> = (0..16).map(|i| format!("sy{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let customers = users(&f.store, &names).await;
    let mut convs = Vec::new();
    for (i, c) in customers.iter().enumerate() {
        let ib = if i % 2 == 0 { &x } else { &y };
        let (conv, _) = f
            .support
            .open_support(&new_id(), &ib.id, c, None, Timestamp::now())
            .await
            .expect("open");
        convs.push(conv);
    }
    // Routings of both inboxes and claims of every chat, all at once.
    let mut tasks: Vec<Step> = Vec::new();
    for round in 0..3 {
        for ib in [&x, &y] {
            let (s, id, connected) = (f.support.clone(), ib.id.clone(), agents.clone());
            tasks.push(Box::pin(async move {
                // PostgreSQL may end a lock cycle between the two inboxes'
                // routings by failing one side as `unavailable`, which a
                // caller retries (the server's sweep does); capacity is
                // what is checked.
                let mut tries = 0;
                loop {
                    match s.route(&id, connected.clone(), Timestamp::now()).await {
                        Err(StoreError::Unavailable(_)) if tries < 3 => tries += 1,
                        other => break other,
                    }
                }
            }));
        }
        for (i, conv) in convs.iter().enumerate() {
            let (s, conv) = (f.support.clone(), conv.clone());
            let who = agent(&agents[(i + round) % agents.len()]);
            tasks.push(Box::pin(async move {
                let mut tries = 0;
                loop {
                    match s.claim(&conv, &who, Timestamp::now()).await {
                        Err(StoreError::Unavailable(_)) if tries < 3 => tries += 1,
                        other => break other.map(|()| 1),
                    }
                }
            }));
        }
    }
    let results = futures_join(tasks.into_iter()).await;
    for r in &results {
        assert!(
            matches!(r, Ok(_) | Err(StoreError::Domain(DomainError::Conflict(_)))),
            "{r:?}"
        );
    }
    let assigned: u32 = results.iter().filter_map(|r| r.as_ref().ok()).sum();
    assert_eq!(assigned, 4, "4 agents x capacity 1 over both inboxes");
    for a in &agents {
        let (_, open) = f.support.agent_status(a).await.expect("status");
        assert_eq!(open, 1, "{a} holds exactly one chat");
    }
}

/// A claim or a transfer.
type Decision = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>;

/// A chat moved between three inboxes and four agents while it is
/// claimed: every decision ends in its answer or a domain refusal, never
/// in `unavailable` (on PostgreSQL a decision that finds the chat moved
/// takes its locks again in order instead of locking out of order, which
/// could end in a deadlock).
pub async fn decisions_racing_transfers_never_fail_as_unavailable(factory: &SupportFactory) {
    let f = fresh_support(factory).await;
    let inboxes = [
        inbox(&f, Routing::Manual, 10).await,
        inbox(&f, Routing::Manual, 10).await,
        inbox(&f, Routing::Manual, 10).await,
    ];
    let mut agents = Vec::new();
    for i in 0..4 {
        let a = staff(&f.store, &format!("sr{i}"), Role::Agent).await;
        for ib in &inboxes {
            f.support
                .put_inbox_agent(&ib.id, &a, None)
                .await
                .expect("agent");
        }
        agents.push(a);
    }
    let admin = Actor {
        user_id: staff(&f.store, "sradmin", Role::Admin).await,
        is_admin: true,
    };
    let customer = users(&f.store, &["src"]).await.remove(0);
    let (conv, _) = f
        .support
        .open_support(&new_id(), &inboxes[0].id, &customer, None, Timestamp::now())
        .await
        .expect("open");
    let mut tasks: Vec<Decision> = Vec::new();
    for round in 0..8 {
        let (s, c, who) = (f.support.clone(), conv.clone(), admin.clone());
        let to = TransferTarget::Inbox(inboxes[(round + 1) % 3].id.clone());
        tasks.push(Box::pin(async move {
            s.transfer(&c, &who, to, false, Timestamp::now()).await
        }));
        let (s, c, who) = (f.support.clone(), conv.clone(), admin.clone());
        let to = TransferTarget::Agent(agents[round % 4].clone());
        tasks.push(Box::pin(async move {
            s.transfer(&c, &who, to, true, Timestamp::now()).await
        }));
        let (s, c, who) = (
            f.support.clone(),
            conv.clone(),
            agent(&agents[(round + 2) % 4]),
        );
        tasks.push(Box::pin(async move {
            s.claim(&c, &who, Timestamp::now()).await
        }));
    }
    for r in futures_join(tasks.into_iter()).await {
        assert!(matches!(r, Ok(()) | Err(StoreError::Domain(_))), "{r:?}");
    }
    let row = support_row(&f, &conv).await;
    assert!(inboxes.iter().any(|ib| ib.id == row.inbox_id));
}

async fn futures_join<F>(fs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

async fn futures_join2<A, B>(a: A, b: B) -> (A::Output, B::Output)
where
    A: Future,
    B: Future,
{
    tokio::join!(a, b)
}
