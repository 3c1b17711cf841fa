//! `parley-bench`: runs one workload and prints a markdown table and a
//! JSON line per report. Exit status 1 if the run failed (any error or
//! lost message).

use clap::{Args, Parser, Subcommand};
use parley_bench::backend::Backend;
use parley_bench::ceiling::fanout::FanoutServer;
use parley_bench::report::{Report, ratio_note};
use parley_bench::server::{Server, ServerSpec};
use parley_bench::workloads::{
    cluster, group, idle, media, mix, push, reconnect, search, support, synapse,
};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "parley-bench",
    about = "Parley load generator (performance.md W1-W7)"
)]
struct Cli {
    #[command(subcommand)]
    workload: Workload,
}

/// The server under test: `--server-bin` starts one, `--url` targets one.
#[derive(Args, Debug, Clone)]
struct Target {
    /// Start this `parley` binary (fresh data dir, free port, rate limits off).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Or target a running server.
    #[arg(long)]
    url: Option<String>,
    /// The running server's pid, to read its CPU and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The running server's `--external-jwt-secret` (HS256): users then
    /// cost a signed token instead of an Argon2 registration.
    #[arg(long)]
    external_jwt_secret: Option<String>,
    /// Pin a started server to these CPUs (`taskset -c`), e.g. `0`.
    #[arg(long)]
    server_cpus: Option<String>,
    /// Extra flag for a started server (repeat), e.g. `--server-arg=--heartbeat-ms=5000`.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
}

impl Target {
    fn spec(&self) -> ServerSpec {
        ServerSpec {
            bin: self.server_bin.clone(),
            url: self.url.clone(),
            pid: self.server_pid,
            external_jwt_secret: self.external_jwt_secret.clone(),
            extra_args: self.server_args.clone(),
            cpus: self.server_cpus.clone(),
        }
    }
}

#[derive(Subcommand)]
enum Workload {
    /// W1: N authenticated idle connections; server RSS per connection, idle CPU.
    W1Idle {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        #[arg(long, default_value_t = 30)]
        hold_seconds: u64,
        #[arg(long, default_value_t = 256)]
        connect_concurrency: usize,
    },
    /// W2: users in direct chats and groups, Poisson sends; deliveries/s, latency.
    W2Mix {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        mix: MixArgs,
        /// Skip the same run against the in-process fan-out ceiling.
        #[arg(long)]
        no_ceiling: bool,
    },
    /// W3 (alias `throughput`): durable REST sends; acked msgs/s, ack latency.
    #[command(alias = "throughput")]
    W3Throughput {
        #[command(flatten)]
        target: Target,
        /// Servers to spread senders over (instead of --server-bin/--url).
        #[arg(long, value_delimiter = ',')]
        urls: Vec<String>,
        #[arg(long, default_value_t = 16)]
        senders: usize,
        #[arg(long, default_value_t = 4)]
        outstanding: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 64)]
        bytes: usize,
        /// Skip the SQLite ceiling run.
        #[arg(long)]
        no_ceiling: bool,
    },
    /// W4: one large group, all online; send to LAST recipient per message.
    W4Group {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        group: GroupArgs,
        #[arg(long)]
        no_ceiling: bool,
    },
    /// W5: clients drop, fall behind, reconnect within a window and sync.
    W5Reconnect {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 50)]
        behind: usize,
        #[arg(long, default_value_t = 10.0)]
        window_seconds: f64,
        #[arg(long, default_value_t = 10)]
        group_size: usize,
        #[arg(long, default_value_t = 4)]
        history_workers: usize,
        #[arg(long, default_value_t = 256)]
        connect_concurrency: usize,
    },
    /// W6: two processes: cross vs same latency, one vs two throughput.
    W6Cluster {
        #[arg(long)]
        a: String,
        #[arg(long)]
        b: String,
        /// Server pids (a,b) for CPU and memory.
        #[arg(long, value_delimiter = ',')]
        pids: Vec<u32>,
        #[arg(long, default_value_t = 1000)]
        n: u64,
        #[arg(long, default_value_t = 16)]
        senders: usize,
        #[arg(long, default_value_t = 4)]
        outstanding: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 64)]
        bytes: usize,
    },
    /// W7 (alias `footprint`): binary size, cold start to ready, idle RSS.
    #[command(alias = "footprint")]
    W7Footprint {
        #[arg(long)]
        binary: PathBuf,
    },
    /// One message in flight; send on --send, receive on --recv.
    Latency {
        #[arg(long)]
        send: String,
        #[arg(long)]
        recv: String,
        #[arg(long, default_value_t = 1000)]
        n: u64,
        #[arg(long, default_value_t = 64)]
        bytes: usize,
        #[arg(long)]
        server_pid: Option<u32>,
    },
    /// Delivery ceiling: the W2 and W4 shapes against a minimal in-process
    /// WebSocket fan-out server (no storage, no auth).
    CeilingFanout {
        #[command(flatten)]
        mix: MixArgs,
        #[command(flatten)]
        group: GroupArgs,
    },
    /// Storage ceiling: raw batched inserts into SQLite (WAL, synchronous=FULL).
    CeilingSqlite {
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Sends per commit (the server's group commit takes up to 512).
        #[arg(long, default_value_t = 512)]
        batch: usize,
        #[arg(long, default_value_t = 1000)]
        conversations: usize,
        #[arg(long, default_value_t = 64)]
        bytes: usize,
    },
    /// Media: a large upload against `cp`, concurrent photos, bomb refusals.
    /// A server the bench starts gets `--media-other-bytes` for the file.
    Media {
        #[command(flatten)]
        target: Target,
        /// Size of the large upload, MiB.
        #[arg(long, default_value_t = 1024)]
        big_mib: u64,
        /// Interleaved cp/upload pairs.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        #[arg(long, default_value_t = 100)]
        images: usize,
        #[arg(long, default_value_t = 1024)]
        image_kib: usize,
        #[arg(long, default_value_t = 20)]
        bombs: usize,
    },
    /// Support routing: customers arriving at a least_busy inbox worked by
    /// connected agents; arrival-to-assignment latency, no double
    /// assignment, the spread of chats per agent.
    Support {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 1000)]
        customers: usize,
        #[arg(long, default_value_t = 50)]
        agents: usize,
        /// Arrivals are spread evenly over this many seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// A second process of the same cluster (with `--url` and
        /// `--external-jwt-secret`): agents and customers alternate.
        #[arg(long)]
        second_url: Option<String>,
        /// The second process's pid, to read its CPU.
        #[arg(long)]
        second_pid: Option<u32>,
    },
    /// Push fan-out: a group message to offline members who all have a Web
    /// Push subscription (a push service on 127.0.0.1); send to the last
    /// push handed over, and send latency without and with subscriptions.
    /// A started server needs `--server-arg=--outbound-allow-hosts=127.0.0.1`.
    PushFanout {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 10_000)]
        recipients: usize,
        /// Sends timed without, then with, subscriptions.
        #[arg(long, default_value_t = 50)]
        sends: usize,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// Message search (§13): seeded messages, then search p50/p99 per
    /// query kind and the index's share of the database.
    Search {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 100_000)]
        messages: usize,
        #[arg(long, default_value_t = 20)]
        groups: usize,
        /// Searches timed per query kind.
        #[arg(long, default_value_t = 200)]
        queries: usize,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// The server's PostgreSQL URL (read with `psql`: `ANALYZE` before the
        /// timed queries, then the index size).
        #[arg(long)]
        postgres_url: Option<String>,
    },
    /// The Synapse comparison shape, with Synapse's recorded figures beside.
    PeerSynapseShape {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 25)]
        rounds: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value_t = 100)]
        group_messages: usize,
    },
}

#[derive(Args, Debug, Clone)]
struct MixArgs {
    #[arg(long, default_value_t = 1000)]
    users: usize,
    #[arg(long, default_value_t = 5)]
    directs: usize,
    #[arg(long, default_value_t = 2)]
    groups: usize,
    #[arg(long, default_value_t = 10)]
    group_size: usize,
    /// Messages per second offered, over all users.
    #[arg(long, default_value_t = 500.0)]
    rate: f64,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long, default_value_t = 64)]
    bytes: usize,
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
}

impl MixArgs {
    fn opts(&self) -> mix::MixOpts {
        mix::MixOpts {
            users: self.users,
            directs: self.directs,
            groups: self.groups,
            group_size: self.group_size,
            rate: self.rate,
            seconds: self.seconds,
            bytes: self.bytes,
            connect_concurrency: self.connect_concurrency,
        }
    }
}

#[derive(Args, Debug, Clone)]
struct GroupArgs {
    #[arg(long, default_value_t = 1000)]
    members: usize,
    #[arg(long, default_value_t = 20)]
    messages: usize,
    #[arg(long, default_value_t = 50)]
    pause_ms: u64,
    #[arg(long = "group-bytes", default_value_t = 64)]
    group_bytes: usize,
    #[arg(long = "group-connect-concurrency", default_value_t = 256)]
    group_connect_concurrency: usize,
}

impl GroupArgs {
    fn opts(&self) -> group::GroupOpts {
        group::GroupOpts {
            members: self.members,
            messages: self.messages,
            pause_ms: self.pause_ms,
            bytes: self.group_bytes,
            connect_concurrency: self.group_connect_concurrency,
        }
    }
}

fn print(r: &Report) {
    println!("{}\n", r.table());
    println!("{}\n", r.json());
}

/// W2 beside the ceiling: same shape, same offered rate.
/// Runs a delivery workload on Parley, then (unless skipped) the same on
/// the bare fan-out ceiling, and notes the ratio between them.
async fn with_fanout_ceiling(
    target: &Target,
    no_ceiling: bool,
    ratio: fn(&mut Report, &Report),
    run: impl AsyncFn(&Backend<'_>) -> anyhow::Result<Report>,
) -> anyhow::Result<Vec<Report>> {
    let mut r = on_server(target, async |s| run(&Backend::parley(s)).await).await?;
    if no_ceiling {
        return Ok(vec![r]);
    }
    let fan = FanoutServer::start().await?;
    let c = run(&Backend::fanout(&fan)).await?;
    ratio(&mut r, &c);
    Ok(vec![r, c])
}

/// Runs one workload on the target server (started for it, and stopped
/// afterwards whether the run succeeded or not).
async fn on_server(
    target: &Target,
    run: impl AsyncFn(&Server) -> anyhow::Result<Report>,
) -> anyhow::Result<Report> {
    let server = Server::open(&target.spec()).await?;
    let r = run(&server).await;
    server.stop().await;
    r
}

fn mix_ratio(w: &mut Report, c: &Report) {
    let (a, _) = ratio_note(
        "deliveries/s, Parley vs fan-out ceiling",
        w.deliveries_per_second(),
        c.deliveries_per_second(),
        "/s",
    );
    let p99 = w.percentile(0.99) as f64 / 1000.0;
    let cp99 = c.percentile(0.99) as f64 / 1000.0;
    let (b, r) = ratio_note(
        "send-to-receive p99, Parley vs fan-out ceiling",
        p99,
        cp99,
        "ms",
    );
    w.notes.push(a);
    w.notes.push(format!(
        "{b} (goal: within 2x: {})",
        if r <= 2.0 { "met" } else { "not met" }
    ));
}

fn group_ratio(w: &mut Report, c: &Report) {
    let p50 = w.percentile(0.5) as f64 / 1000.0;
    let cp50 = c.percentile(0.5) as f64 / 1000.0;
    let (line, r) = ratio_note(
        "send to last recipient p50, Parley vs fan-out ceiling",
        p50,
        cp50,
        "ms",
    );
    w.notes.push(format!(
        "{line} (goal: within 2x: {})",
        if r <= 2.0 { "met" } else { "not met" }
    ));
    w.figure("ratio to fan-out ceiling (last recipient p50)", r, "x");
}

async fn sqlite_ceiling(
    seconds: u64,
    batch: usize,
    conversations: usize,
    bytes: usize,
) -> anyhow::Result<Report> {
    tokio::task::spawn_blocking(move || {
        parley_bench::ceiling::sqlite::run(
            Duration::from_secs(seconds),
            batch,
            conversations,
            bytes,
        )
    })
    .await?
}

async fn run(workload: Workload) -> anyhow::Result<Vec<Report>> {
    Ok(match workload {
        Workload::W1Idle {
            target,
            connections,
            hold_seconds,
            connect_concurrency,
        } => {
            let opts = idle::IdleOpts {
                connections,
                hold_seconds,
                connect_concurrency,
            };
            vec![on_server(&target, async |s| idle::run(s, &opts).await).await?]
        }
        Workload::W2Mix {
            target,
            mix,
            no_ceiling,
        } => {
            let opts = mix.opts();
            with_fanout_ceiling(&target, no_ceiling, mix_ratio, async |b| {
                mix::run(b, &opts).await
            })
            .await?
        }
        Workload::W3Throughput {
            target,
            urls,
            senders,
            outstanding,
            seconds,
            bytes,
            no_ceiling,
        } => {
            let d = Duration::from_secs(seconds);
            let mut r = if urls.is_empty() {
                on_server(&target, async |s| {
                    let (url, pids) = (std::slice::from_ref(&s.url), Vec::from_iter(s.pid));
                    parley_bench::throughput(url, senders, outstanding, d, bytes, &pids).await
                })
                .await?
            } else {
                let pids: Vec<u32> = target.server_pid.into_iter().collect();
                parley_bench::throughput(&urls, senders, outstanding, d, bytes, &pids).await?
            };
            if no_ceiling {
                vec![r]
            } else {
                let batch = (senders * outstanding).clamp(1, 512);
                let c = sqlite_ceiling(5.min(seconds.max(1)), batch, senders.max(1), bytes).await?;
                let (line, ratio) = ratio_note(
                    "acked msgs/s, Parley vs SQLite ceiling",
                    r.per_second(),
                    c.per_second(),
                    "/s",
                );
                r.notes.push(format!(
                    "{line} (ceiling at {batch} sends per commit, the most this run can have in flight; goal: within 2x: {})",
                    if ratio >= 0.5 { "met" } else { "not met" }
                ));
                r.figure("ratio to SQLite ceiling", ratio, "x");
                vec![r, c]
            }
        }
        Workload::W4Group {
            target,
            group,
            no_ceiling,
        } => {
            let opts = group.opts();
            with_fanout_ceiling(&target, no_ceiling, group_ratio, async |b| {
                group::run(b, &opts).await
            })
            .await?
        }
        Workload::W5Reconnect {
            target,
            clients,
            behind,
            window_seconds,
            group_size,
            history_workers,
            connect_concurrency,
        } => {
            let opts = reconnect::ReconnectOpts {
                clients,
                behind,
                window_seconds,
                group_size,
                history_workers,
                connect_concurrency,
            };
            vec![on_server(&target, async |s| reconnect::run(s, &opts).await).await?]
        }
        Workload::W6Cluster {
            a,
            b,
            pids,
            n,
            senders,
            outstanding,
            seconds,
            bytes,
        } => {
            let opts = cluster::ClusterOpts {
                a,
                b,
                pids,
                n,
                senders,
                outstanding,
                seconds,
                bytes,
            };
            cluster::run(&opts).await?
        }
        Workload::W7Footprint { binary } => {
            let f = parley_bench::footprint(&binary).await?;
            println!("{}\n", f.table());
            println!("{}", f.json());
            vec![]
        }
        Workload::Latency {
            send,
            recv,
            n,
            bytes,
            server_pid,
        } => vec![parley_bench::latency(&send, &recv, n, bytes, server_pid).await?],
        Workload::CeilingFanout { mix, group } => {
            let fan = FanoutServer::start().await?;
            let m = mix::run(&Backend::fanout(&fan), &mix.opts()).await?;
            let g = group::run(&Backend::fanout(&fan), &group.opts()).await?;
            vec![m, g]
        }
        Workload::CeilingSqlite {
            seconds,
            batch,
            conversations,
            bytes,
        } => vec![sqlite_ceiling(seconds, batch, conversations, bytes).await?],
        Workload::Media {
            mut target,
            big_mib,
            rounds,
            images,
            image_kib,
            bombs,
        } => {
            let opts = media::MediaOpts {
                big_mib,
                rounds,
                images,
                image_kib,
                bombs,
            };
            target
                .server_args
                .push(format!("--media-other-bytes={}", opts.other_bytes_limit()));
            let server = Server::open(&target.spec()).await?;
            let reports = media::run(&server, &opts).await;
            server.stop().await;
            reports?
        }
        Workload::PushFanout {
            target,
            recipients,
            sends,
            concurrency,
        } => {
            let opts = push::PushOpts {
                recipients,
                sends,
                concurrency,
            };
            vec![
                on_server(&target, async |s| {
                    push::run(&parley_bench::backend::Backend::parley(s), &opts).await
                })
                .await?,
            ]
        }
        Workload::Search {
            target,
            messages,
            groups,
            queries,
            concurrency,
            postgres_url,
        } => {
            let opts = search::SearchOpts {
                messages,
                groups,
                queries,
                concurrency,
                postgres_url,
            };
            vec![
                on_server(&target, async |s| {
                    search::run(&parley_bench::backend::Backend::parley(s), &opts).await
                })
                .await?,
            ]
        }
        Workload::Support {
            target,
            customers,
            agents,
            seconds,
            second_url,
            second_pid,
        } => {
            let opts = support::SupportOpts {
                customers,
                agents,
                seconds,
            };
            match second_url {
                None => vec![on_server(&target, async |s| support::run(&[s], &opts).await).await?],
                Some(url) => {
                    let first = Server::open(&target.spec()).await?;
                    let second = Server::open(&ServerSpec {
                        bin: None,
                        url: Some(url),
                        pid: second_pid,
                        ..target.spec()
                    })
                    .await?;
                    vec![support::run(&[&first, &second], &opts).await?]
                }
            }
        }
        Workload::PeerSynapseShape {
            target,
            rounds,
            seconds,
            group_messages,
        } => {
            let opts = synapse::SynapseOpts {
                rounds,
                seconds,
                group_messages,
            };
            vec![on_server(&target, async |s| synapse::run(s, &opts).await).await?]
        }
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Every connection is a descriptor on both ends of loopback; a server
    // the bench starts inherits this limit.
    let nofile = parley_bench::limits::raise_nofile(1 << 20);
    parley_bench::progress::note(&format!("open-files limit: {nofile}"));
    let reports = run(Cli::parse().workload).await?;
    for r in &reports {
        print(r);
    }
    if reports.iter().any(|r| !r.ok()) {
        std::process::exit(1);
    }
    Ok(())
}
