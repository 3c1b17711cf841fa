//! The server under test: either one the bench starts (`parley serve` on a
//! free port, a fresh data directory, rate limits off, a made-up external
//! JWT secret) or one already running (`--url`, optionally `--server-pid`
//! so that its CPU and memory can be read).

use crate::ident::Identity;
use crate::procfs;
use anyhow::{Context as _, bail};
use parley_sdk::Client;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt as _;

/// How to reach (or start) the server.
#[derive(Debug, Clone, Default)]
pub struct ServerSpec {
    /// Start this `parley` binary.
    pub bin: Option<PathBuf>,
    /// Or target a running server.
    pub url: Option<String>,
    pub pid: Option<u32>,
    /// The running server's external JWT secret (HS256), if it has one.
    pub external_jwt_secret: Option<String>,
    /// Extra `parley serve` flags for a server the bench starts.
    pub extra_args: Vec<String>,
    /// Pin a server the bench starts to these CPUs (`taskset -c`).
    pub cpus: Option<String>,
}

pub struct Server {
    pub url: String,
    pub pid: Option<u32>,
    pub identity: Identity,
    /// One REST connection pool for every user of this server.
    pub http: Client,
    /// Milliseconds from spawn to the first 200 from `/readyz`.
    pub ready_ms: Option<f64>,
    child: Option<tokio::process::Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// The data directory of a server the bench started.
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self._dir.as_ref().map(|d| d.path())
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("url", &self.url)
            .field("pid", &self.pid)
            .finish()
    }
}

impl Server {
    pub async fn open(spec: &ServerSpec) -> anyhow::Result<Server> {
        match (&spec.bin, &spec.url) {
            (Some(bin), None) => Server::start(bin, &spec.extra_args, spec.cpus.as_deref()).await,
            (None, Some(url)) => {
                let identity = match &spec.external_jwt_secret {
                    Some(s) => Identity::external(s),
                    None => Identity::Register,
                };
                Ok(Server {
                    url: url.trim_end_matches('/').to_owned(),
                    pid: spec.pid,
                    identity,
                    http: Client::new(url)?,
                    ready_ms: None,
                    child: None,
                    _dir: None,
                })
            }
            _ => bail!("give exactly one of --server-bin PATH or --url URL"),
        }
    }

    /// Starts `bin serve` on 127.0.0.1:0 with a fresh data directory and
    /// waits until `/readyz` answers 200.
    pub async fn start(
        bin: &Path,
        extra_args: &[String],
        cpus: Option<&str>,
    ) -> anyhow::Result<Server> {
        let dir = tempfile::Builder::new().prefix("parley-bench-").tempdir()?;
        let secret = uuid::Uuid::new_v4().simple().to_string();
        let log = std::fs::File::create(dir.path().join("server.log"))?;
        let started = Instant::now();
        // taskset execs the server, so the pid is the server's.
        let mut command = match cpus {
            Some(c) => {
                let mut t = tokio::process::Command::new("taskset");
                t.arg("-c").arg(c).arg(bin);
                t
            }
            None => tokio::process::Command::new(bin),
        };
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--rate-limits", "off"])
            .arg("--data-dir")
            .arg(dir.path())
            .args([
                "--external-jwt-alg",
                "HS256",
                "--external-jwt-secret",
                &secret,
            ])
            // Large groups are a workload (W4); the default cap is 1024.
            .args(["--group-max-members", "1000000"])
            // Every simulated client connects from 127.0.0.1: the per-address
            // TCP cap (default 256) is for the open internet, not for a
            // load generator. Environment, not flags, so that binaries from
            // before the cap (baselines) start too.
            .env("PARLEY_MAX_CONNECTIONS_PER_IP", "10000000")
            .env("PARLEY_MAX_CONNECTIONS_PER_USER", "10000000")
            .args(extra_args)
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("no URL printed within 30 s")??
            .context("the server exited before printing its URL")?;
        // "Parley is running at http://127.0.0.1:PORT/"
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_owned();
        let http = Client::new(&url)?;
        loop {
            let r = http.raw("GET", "/../../readyz", None).await;
            if matches!(&r, Ok(r) if r.status == 200) {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("{url} not ready after 30 s");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let ready_ms = started.elapsed().as_secs_f64() * 1000.0;
        // Nothing else is printed on stdout; keep the pipe drained anyway.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server {
            url,
            pid: child.id(),
            identity: Identity::external(&secret),
            http,
            ready_ms: Some(ready_ms),
            child: Some(child),
            _dir: Some(dir),
        })
    }

    pub fn hwm_kib(&self) -> Option<u64> {
        procfs::hwm_kib(self.pid?)
    }

    pub fn rss_kib(&self) -> Option<u64> {
        procfs::rss_kib(self.pid?)
    }

    /// Stops a server the bench started (SIGKILL; its data is thrown away).
    pub async fn stop(mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }
}
