//! `spawn_app()`: the real server on a random port with a fresh data
//! directory, and typed helpers from the SDK.

use parley_protocol::{Conversation, User};
use parley_sdk::{Client, Gateway};
use parley_server::config::{Config, Settings};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::oneshot;

pub const WAIT: Duration = Duration::from_secs(10);
pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub addr: SocketAddr,
    pub base_url: String,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

static NEXT_USER: AtomicUsize = AtomicUsize::new(0);

/// A username no other test uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", NEXT_USER.fetch_add(1, Ordering::Relaxed))
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Settings {
        rate_limits: Some("off".into()),
        ..Settings::default()
    })
    .await
}

pub async fn spawn_app_with(settings: Settings) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        parley_server::telemetry::init(false);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = Settings {
        data_dir: Some(dir.path().to_path_buf()),
        ..settings
    };
    let config = Config::from_settings(settings).expect("config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(parley_server::run(listener, config, async move {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
        base_url: format!("http://{addr}"),
        dir,
        stop: Some(stop),
        task: Some(task),
    }
}

impl TestApp {
    pub fn client(&self) -> Client {
        Client::new(&self.base_url).expect("client")
    }

    /// Registers a fresh user; the client carries their token.
    pub async fn user(&self, prefix: &str) -> (Client, User) {
        let c = self.client();
        let auth = c
            .register(&unique(prefix), PASSWORD, None)
            .await
            .expect("register");
        (c, auth.user)
    }

    pub async fn users(&self, n: usize) -> Vec<(Client, User)> {
        let mut out = Vec::new();
        for i in 0..n {
            out.push(self.user(&format!("u{i}_")).await);
        }
        out
    }

    pub async fn gateway(&self, c: &Client) -> Gateway {
        let g = Gateway::connect(c).await.expect("gateway");
        // Sync at once so that live events are not held for a first sync.
        g.sync(Default::default()).await.expect("initial sync");
        g
    }

    /// Drains pushes until `conversation.added` etc. settle; returns events.
    pub async fn direct(&self, a: &Client, b: &User) -> Conversation {
        a.create_direct(&b.id).await.expect("direct").0
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}

/// The server binary as a child process (for kill -9 and CLI tests).
pub struct ServerProcess {
    pub child: std::process::Child,
    pub base_url: String,
}

impl ServerProcess {
    pub fn start(data_dir: &std::path::Path, extra: &[&str]) -> ServerProcess {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
            .arg("serve")
            .args([
                "--listen",
                "127.0.0.1:0",
                "--rate-limits",
                "off",
                "--data-dir",
            ])
            .arg(data_dir)
            .args(extra)
            .stdout(std::process::Stdio::piped())
            // TEST_LOG=1 shows the servers' logs.
            .stderr(if std::env::var("TEST_LOG").is_ok() {
                std::process::Stdio::inherit()
            } else {
                std::process::Stdio::null()
            })
            .spawn()
            .expect("spawn parley");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read url");
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .expect("url")
            .trim_end_matches('/')
            .to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "unexpected first line: {line:?}"
        );
        ServerProcess {
            child,
            base_url: url,
        }
    }

    pub fn kill9(mut self) {
        // std's kill() is SIGKILL on Unix: no shutdown path runs.
        self.child.kill().expect("kill");
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts an SDK result is the protocol error `code`.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(r: Result<T, parley_sdk::Error>, code: &str) {
    match r {
        Err(parley_sdk::Error::Api { error, .. }) => {
            assert_eq!(error.code.as_str(), code, "message: {}", error.message)
        }
        other => panic!("expected {code}, got {other:?}"),
    }
}

/// A server on `backend`, rate limits off (the tests that run on both).
pub async fn spawn_on(backend: Backend) -> TestApp {
    spawn_app_with(Settings {
        rate_limits: Some("off".into()),
        database_url: backend.database_url(),
        ..Settings::default()
    })
    .await
}

/// The next push on `g` that `pick` takes, other pushes skipped; `None`
/// after three quiet seconds.
pub async fn next_push_of<T>(
    g: &parley_sdk::Gateway,
    pick: impl Fn(parley_protocol::ServerFrame) -> Option<T>,
) -> Option<T> {
    loop {
        match g.next_push(std::time::Duration::from_secs(3)).await {
            Ok(frame) => {
                if let Some(t) = pick(frame) {
                    return Some(t);
                }
            }
            Err(_) => return None,
        }
    }
}

/// Where a test's server keeps its data, for tests that run on both.
pub enum Backend {
    Sqlite,
    /// A fresh database of the PostgreSQL test server.
    Postgres(String),
}

impl Backend {
    /// The `database_url` setting for it.
    pub fn database_url(&self) -> Option<String> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres(url) => Some(url.clone()),
        }
    }
}

/// Each named `async fn(Backend)`, once on the embedded SQLite store and
/// once on PostgreSQL (one process; the cluster suites run two), as
/// `name::sqlite` and `name::postgres`. Without PostgreSQL the second is
/// skipped, except under `CI=true`, where it fails.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(s) = $crate::cluster::services().await {
                    super::$name($crate::helpers::Backend::Postgres(s.database_url)).await;
                }
            }
        }
    )*};
}
pub(crate) use on_both_backends;

/// `s` percent-encoded for a query string.
pub fn query_escape(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A platform JWT (HS256 with `secret`) for `sub` with one role, valid for
/// ten minutes: how tests act as an admin or an agent.
pub fn platform_token(secret: &str, sub: &str, role: &str) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let exp = parley_protocol::Timestamp::now().millis() / 1000 + 600;
    let claims = serde_json::json!({"sub": sub, "exp": exp, "roles": [role]});
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}
