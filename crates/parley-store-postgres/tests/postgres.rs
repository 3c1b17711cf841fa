//! The storage conformance suite on PostgreSQL, one test per area, plus
//! what the suite cannot show: several processes (here, several stores
//! with pools of their own) writing to one database at once, the global
//! event id, and what a corrupt stored value does.
//!
//! Every store the suite asks for gets a database of its own
//! (`parley_t_<random hex>`, created through the server's maintenance
//! database), so runs, and checks within a run, never see each other's
//! data; they are dropped at the end. The server is
//! `PARLEY_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Without a reachable
//! server the tests are skipped with a message, so `cargo test` passes on a
//! machine with only Rust, except under CI (env `CI` set), where they fail.

use futures_util::FutureExt;
use parley_protocol::{MessageKind, Role, Timestamp};
use parley_store::conformance::{self, Captured, Factory};
use parley_store::ids::new_id;
use parley_store::{Delivery, NewMessage, NewUser, Store, StoreError};
use parley_store_postgres::PostgresStore;
use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_postgres::NoTls;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The test server: its URL and a connection to its maintenance database.
struct Server {
    base: String,
    admin: tokio_postgres::Client,
    created: Mutex<Vec<String>>,
}

impl Server {
    /// `None` (after saying so) when PostgreSQL is not reachable, unless
    /// `CI` is set: then the test fails.
    async fn get() -> Option<Arc<Server>> {
        let base = std::env::var("PARLEY_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.into());
        let connected = tokio::time::timeout(
            Duration::from_secs(5),
            tokio_postgres::connect(&base, NoTls),
        )
        .await
        .map_err(|_| "timed out".to_string())
        .and_then(|r| {
            r.map_err(|e| match std::error::Error::source(&e) {
                Some(cause) => format!("{e}: {cause}"),
                None => e.to_string(),
            })
        });
        match connected {
            Ok((admin, connection)) => {
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                Some(Arc::new(Server {
                    base,
                    admin,
                    created: Mutex::new(Vec::new()),
                }))
            }
            Err(e) if std::env::var_os("CI").is_some() => {
                panic!("PostgreSQL not reachable at {base} (CI is set, so this fails): {e}")
            }
            Err(e) => {
                eprintln!("skipping: PostgreSQL not reachable at {base}: {e}");
                None
            }
        }
    }

    /// A new, empty database; returns its URL.
    async fn fresh_database(&self) -> String {
        let name = format!("parley_t_{:016x}", rand::random::<u64>());
        self.admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        self.created.lock().expect("lock").push(name.clone());
        let mut url = url::Url::parse(&self.base).expect("PARLEY_TEST_POSTGRES_URL is a URL");
        url.set_path(&format!("/{name}"));
        url.to_string()
    }

    /// Runs `test`, drops the databases it created (FORCE ends connections
    /// of stores still closing), then reports its failure if any.
    async fn run(&self, test: impl Future<Output = ()>) {
        let outcome = AssertUnwindSafe(test).catch_unwind().await;
        let names = std::mem::take(&mut *self.created.lock().expect("lock"));
        for name in names {
            if let Err(e) = self
                .admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
            {
                eprintln!("could not drop {name}: {e}");
            }
        }
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}

async fn store(url: &str, captured: Captured) -> Arc<dyn Store> {
    let sink = Arc::new(move |d| captured.lock().expect("lock").extend(d));
    Arc::new(PostgresStore::connect(url, sink).await.expect("connect"))
}

/// A store whose sink dawdles before recording, as a descheduled task
/// would: deliveries the store does not keep in commit order show up out of
/// order here. (Without the stripe lock of `postgres/commit.rs` this test
/// fails within a run or two; shorter pauses hide the race, because a
/// successor needs a dozen round trips after the row lock before its own
/// commit.)
async fn dawdling_store(url: &str, captured: Captured) -> Arc<dyn Store> {
    let sink = Arc::new(move |d| {
        std::thread::sleep(Duration::from_micros(rand::random_range(0..30_000)));
        captured.lock().expect("lock").extend(d)
    });
    Arc::new(PostgresStore::connect(url, sink).await.expect("connect"))
}

/// Runs one area of the conformance suite, each store on a fresh database.
async fn conforms(area: impl AsyncFnOnce(&Factory)) {
    let Some(server) = Server::get().await else {
        return;
    };
    let factory: Factory = {
        let server = server.clone();
        Arc::new(move |captured: Captured| {
            let server = server.clone();
            Box::pin(async move { store(&server.fresh_database().await, captured).await })
        })
    };
    server.run(area(&factory)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users() {
    conforms(async |f: &Factory| conformance::users::run(f).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations() {
    conforms(async |f: &Factory| conformance::conversations::run(f).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages() {
    conforms(async |f: &Factory| conformance::messages::run(f).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts() {
    conforms(async |f: &Factory| conformance::receipts::run(f).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks() {
    conforms(async |f: &Factory| conformance::blocks::run(f).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_state() {
    conforms(async |f: &Factory| conformance::chat_state::run(f).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_marks() {
    conforms(async |f: &Factory| conformance::message_marks::run(f).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactors() {
    conforms(async |f: &Factory| conformance::reactors::run(f).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderation() {
    conforms(async |f: &Factory| conformance::moderation::run(f).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media() {
    conforms(async |f: &Factory| conformance::media::run(f).await).await;
}

/// Webhooks: claims with FOR UPDATE SKIP LOCKED (four at once), the
/// disable decided once under concurrent failures, the creation limit
/// under an advisory lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks() {
    conforms(async |f: &Factory| conformance::webhooks::run(f).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications() {
    conforms(async |f: &Factory| conformance::notifications::run(f).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push() {
    conforms(async |f: &Factory| conformance::push::run(f).await).await;
}

/// Digests: racing enqueues under the per-user advisory lock, claims with
/// FOR UPDATE SKIP LOCKED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests() {
    conforms(async |f: &Factory| conformance::digests::run(f).await).await;
}

/// Support inboxes: every decision under row locks, one open conversation
/// per customer and inbox by the unique index (the suite races opens,
/// routings and claims on one store's pool of 16 connections).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support() {
    let Some(server) = Server::get().await else {
        return;
    };
    let factory: conformance::support::SupportFactory = {
        let server = server.clone();
        Arc::new(move |captured: Captured| {
            let server = server.clone();
            Box::pin(async move {
                let url = server.fresh_database().await;
                let sink = Arc::new(move |d| captured.lock().expect("lock").extend(d));
                let store = Arc::new(PostgresStore::connect(&url, sink).await.expect("connect"));
                (
                    store.clone() as Arc<dyn Store>,
                    store as Arc<dyn parley_store::SupportStore>,
                )
            })
        })
    };
    server.run(conformance::support::run(&factory)).await;
}

/// Every event has a global id, increasing in the order events of one
/// conversation are stored (what an outbox or indexer will tail), on
/// PostgreSQL as on SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_carry_a_global_ordered_id() {
    let Some(server) = Server::get().await else {
        return;
    };
    let s = server.clone();
    server
        .run(async move {
            let url = s.fresh_database().await;
            let store = store(&url, Arc::default()).await;
            let a = store
                .create_user(new_user("ids_a", None))
                .await
                .expect("user");
            let b = store
                .create_user(new_user("ids_b", None))
                .await
                .expect("user");
            let (conv, _) = store
                .get_or_create_direct(&new_id(), &a.id, &b.id, Timestamp::now())
                .await
                .expect("direct");
            for i in 0..5 {
                store
                    .send_message(text(&conv, &a.id, &format!("ids-{i}")), None)
                    .await
                    .expect("send");
            }
            let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
            tokio::spawn(connection);
            let rows = client
                .query(
                    "SELECT id, seq FROM events WHERE conversation_id = $1 ORDER BY seq",
                    &[&conv],
                )
                .await
                .expect("events");
            let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
            assert_eq!(ids.len(), 6, "conversation.created and five messages");
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "ids follow the seqs: {ids:?}"
            );
        })
        .await;
}

/// A value the server cannot have written (an unknown role) is an
/// internal error when read, never quietly taken for a default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_stored_value_is_an_internal_error() {
    let Some(server) = Server::get().await else {
        return;
    };
    let s = server.clone();
    server
        .run(async move {
            let url = s.fresh_database().await;
            let store = store(&url, Arc::default()).await;
            let a = store
                .create_user(new_user("corrupt_a", None))
                .await
                .expect("user");
            let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
            tokio::spawn(connection);
            client
                .execute("UPDATE users SET role = 'emperor' WHERE id = $1", &[&a.id])
                .await
                .expect("corrupt the role");
            match store.user_by_id(&a.id).await {
                Err(StoreError::Internal(e)) => assert!(e.contains("emperor"), "{e}"),
                other => panic!("a corrupt role must be an internal error, got {other:?}"),
            }
        })
        .await;
}

fn new_user(name: &str, sub: Option<&str>) -> NewUser {
    NewUser {
        id: new_id(),
        username: name.to_string(),
        display_name: name.to_string(),
        role: Role::User,
        password_hash: None,
        external_sub: sub.map(str::to_string),
        avatar_url: None,
        is_bot: false,
        created_at: Timestamp::now(),
    }
}

fn text(conv: &str, sender: &str, client_id: &str) -> NewMessage {
    NewMessage {
        id: new_id(),
        conversation_id: conv.to_string(),
        sender_id: sender.to_string(),
        client_id: Some(client_id.to_string()),
        kind: MessageKind::Text,
        text: Some(client_id.to_string()),
        reply_to: None,
        mentions: vec![],
        attachments: vec![],
        at: Timestamp::now(),
    }
}

/// Four "processes" (stores with their own pools) on one database, racing
/// on the same conversation, the same client_ids, the same direct pair, the
/// same reaction and the same external subject.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn several_processes_share_one_database() {
    let Some(server) = Server::get().await else {
        return;
    };
    let s = server.clone();
    server
        .run(async move {
            let url = s.fresh_database().await;
            // Connecting at once also races the migrations on an empty
            // database (the advisory lock in `migrate.rs` queues them).
            let captures: Vec<Captured> = (0..4).map(|_| Captured::default()).collect();
            let stores: Vec<Arc<dyn Store>> = futures_util::future::join_all(
                captures.iter().map(|c| dawdling_store(&url, c.clone())),
            )
            .await;
            let mut u = Vec::new();
            for name in ["pa", "pb", "pc", "reader"] {
                u.push(
                    stores[0]
                        .create_user(new_user(name, None))
                        .await
                        .expect("user")
                        .id,
                );
            }
            let g = new_id();
            stores[0]
                .create_group(&g, &u[0], "race", &u[1..], Timestamp::now())
                .await
                .expect("group");

            // 40 messages, each sent 3 times through 3 different stores.
            let mut tasks = Vec::new();
            for r in 0..3 {
                for k in 0..40usize {
                    let st = stores[(k + r) % 4].clone();
                    let (g, sender) = (g.clone(), u[k % 3].clone());
                    tasks.push(tokio::spawn(async move {
                        let (m, created) = st
                            .send_message(text(&g, &sender, &format!("m{k}")), None)
                            .await
                            .expect("send");
                        (k, m, created)
                    }));
                }
            }
            // Meanwhile: the same direct pair from both sides, everywhere.
            let mut directs = Vec::new();
            for i in 0..8 {
                let st = stores[i % 4].clone();
                let (a, b) = if i % 2 == 0 {
                    (u[0].clone(), u[1].clone())
                } else {
                    (u[1].clone(), u[0].clone())
                };
                directs.push(tokio::spawn(async move {
                    st.get_or_create_direct(&new_id(), &a, &b, Timestamp::now())
                        .await
                        .expect("direct")
                }));
            }
            // And the same external subject signing in everywhere.
            let mut externals = Vec::new();
            for st in &stores {
                let st = st.clone();
                externals.push(tokio::spawn(async move {
                    st.upsert_external_user(new_user("ext", Some("sub-1")))
                        .await
                        .expect("upsert")
                        .id
                }));
            }

            let mut by_k: HashMap<usize, HashSet<String>> = HashMap::new();
            let mut created_seqs = Vec::new();
            for t in tasks {
                let (k, m, created) = t.await.expect("join");
                by_k.entry(k).or_default().insert(m.id.clone());
                if created {
                    created_seqs.push(m.seq);
                }
            }
            assert!(
                by_k.values().all(|ids| ids.len() == 1),
                "every retry returns the one message"
            );
            created_seqs.sort_unstable();
            assert_eq!(
                created_seqs,
                (2..=41).collect::<Vec<u64>>(),
                "one message per client_id, consecutive seqs"
            );
            let log = stores[3].events(&u[1], &g, 0, 500).await.expect("events");
            assert_eq!(
                log.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
                (1..=41).collect::<Vec<u64>>(),
                "the log has every seq once"
            );

            let mut direct_ids = HashSet::new();
            let mut direct_created = 0;
            for t in directs {
                let (id, created) = t.await.expect("join");
                direct_ids.insert(id);
                direct_created += usize::from(created);
            }
            assert_eq!(
                (direct_ids.len(), direct_created),
                (1, 1),
                "one direct conversation per pair"
            );

            let mut external_ids = HashSet::new();
            for t in externals {
                external_ids.insert(t.await.expect("join"));
            }
            assert_eq!(external_ids.len(), 1, "one user per external subject");

            // The same reaction from everywhere: recorded once.
            let target = log.events[1]
                .message()
                .map(|m| m.id.clone())
                .expect("a message");
            let mut reacts = Vec::new();
            for st in &stores {
                let (st, target, who) = (st.clone(), target.clone(), u[2].clone());
                reacts.push(tokio::spawn(async move {
                    st.react(&who, &target, "👍", true, Timestamp::now())
                        .await
                        .expect("react")
                }));
            }
            for t in reacts {
                let r = t.await.expect("join");
                assert_eq!(r.len(), 1);
                assert_eq!(r[0].count, 1);
            }
            // Read watermarks from everywhere (by the member who never
            // sends, so only these move them): the highest wins.
            let mut reads = Vec::new();
            for (i, st) in stores.iter().enumerate() {
                let (st, g, who) = (st.clone(), g.clone(), u[3].clone());
                reads.push(tokio::spawn(async move {
                    st.mark_read(&who, &g, 10 + i as u64 * 5, Timestamp::now())
                        .await
                        .expect("read")
                }));
            }
            for t in reads {
                t.await.expect("join");
            }
            let view = stores[0].conversation(&u[3], &g).await.expect("view");
            assert_eq!(view.read_seq, 25, "watermarks never move back");
            let added = stores[0].events(&u[0], &g, 41, 100).await.expect("events");
            assert_eq!(
                added
                    .events
                    .iter()
                    .filter(|e| e.kind() == "reaction.added")
                    .count(),
                1
            );

            // Each process hands its own events to its sink in seq order.
            for (i, captured) in captures.iter().enumerate() {
                let seqs: Vec<u64> = captured
                    .lock()
                    .expect("lock")
                    .iter()
                    .filter_map(|d| match d {
                        Delivery::Event {
                            conversation_id,
                            seq,
                            ..
                        } if **conversation_id == *g => Some(*seq),
                        _ => None,
                    })
                    .collect();
                assert!(
                    seqs.windows(2).all(|w| w[0] < w[1]),
                    "store {i} delivered out of order: {seqs:?}"
                );
            }
        })
        .await;
}

/// User search is the one read whose SQL differs in kind between the
/// backends (LIKE vs ILIKE); ask both the same questions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_matches_sqlite() {
    let Some(server) = Server::get().await else {
        return;
    };
    let s = server.clone();
    server
        .run(async move {
            let pg = store(&s.fresh_database().await, Captured::default()).await;
            let dir = tempfile::tempdir().expect("tempdir");
            let lite: Arc<dyn Store> = Arc::new(
                parley_store_sqlite::SqliteStore::open(&dir.path().join("t.db"), Arc::new(|_| {}))
                    .expect("open sqlite"),
            );
            let people = [
                ("alice", "Alice Zoë", false, None),
                ("bob", "Ödön Bob", false, None),
                ("carol_x", "100% Carol", false, None),
                ("dave", "DAVE the bot", true, None),
                ("erin", "Érin", false, Some("sub-e")),
            ];
            for st in [&pg, &lite] {
                for (name, display, bot, sub) in people {
                    let mut u = new_user(name, sub);
                    u.display_name = display.to_string();
                    u.is_bot = bot;
                    st.create_user(u).await.expect("user");
                }
                let bob = st.user_by_username("bob").await.expect("get").expect("bob");
                st.update_user(
                    &bob.id,
                    parley_store::UserPatch {
                        display_name: Some("Robert Ödön".into()),
                        ..Default::default()
                    },
                )
                .await
                .expect("rename");
                let mut ext = new_user("erin", Some("sub-e"));
                ext.display_name = "Erin Ångström".into();
                st.upsert_external_user(ext).await.expect("refresh");
            }
            for prefix in [
                "", "a", "A", "zo", "ZO", "zoë", "ZOË", "ö", "Ö", "rob", "bob", "%", "100%", "_",
                "carol_", "c_rol", "\\", "the", "dave", "é", "É", "ång", "ÅNG", "erin", " ",
                "alice z",
            ] {
                for after in [None, Some("alice".to_string())] {
                    let names = |v: Vec<parley_store::UserRow>| {
                        v.into_iter().map(|u| u.username).collect::<Vec<_>>()
                    };
                    let a = names(
                        pg.search_users(prefix, after.clone(), 10)
                            .await
                            .expect("pg"),
                    );
                    let b = names(
                        lite.search_users(prefix, after.clone(), 10)
                            .await
                            .expect("lite"),
                    );
                    assert_eq!(a, b, "search {prefix:?} after {after:?}");
                }
            }
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search() {
    conforms(async |f: &Factory| conformance::search::run(f).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention() {
    conforms(async |f: &Factory| conformance::retention::run(f).await).await;
}
