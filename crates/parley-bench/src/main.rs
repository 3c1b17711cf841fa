//! `parley-bench`: runs one workload against running servers and prints a
//! markdown table and a JSON line. Exit status 1 if the run failed (any
//! error or lost message).

use clap::{Parser, Subcommand};
use std::time::Duration;

#[derive(Parser)]
#[command(name = "parley-bench", about = "Parley load generator")]
struct Cli {
    #[command(subcommand)]
    workload: Workload,
}

#[derive(Subcommand)]
enum Workload {
    /// One message in flight; send on --send, receive on --recv (the same
    /// URL twice measures same-process latency).
    Latency {
        #[arg(long)]
        send: String,
        #[arg(long)]
        recv: String,
        #[arg(long, default_value_t = 1000)]
        n: u64,
        #[arg(long, default_value_t = 64)]
        bytes: usize,
    },
    /// W7: binary size, cold start to ready, idle RSS of a `parley` binary.
    Footprint {
        #[arg(long)]
        binary: std::path::PathBuf,
    },
    /// Durable send throughput over REST, spread over the given servers.
    Throughput {
        #[arg(long, value_delimiter = ',', required = true)]
        urls: Vec<String>,
        #[arg(long, default_value_t = 16)]
        senders: usize,
        #[arg(long, default_value_t = 4)]
        outstanding: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 64)]
        bytes: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let workload = Cli::parse().workload;
    if let Workload::Footprint { binary } = &workload {
        let f = parley_bench::footprint(binary).await?;
        println!("{}", f.table());
        return Ok(());
    }
    let report = match workload {
        Workload::Footprint { .. } => unreachable!("handled above"),
        Workload::Latency {
            send,
            recv,
            n,
            bytes,
        } => parley_bench::latency(&send, &recv, n, bytes).await?,
        Workload::Throughput {
            urls,
            senders,
            outstanding,
            seconds,
            bytes,
        } => {
            parley_bench::throughput(
                &urls,
                senders,
                outstanding,
                Duration::from_secs(seconds),
                bytes,
            )
            .await?
        }
    };
    println!("{}", report.table());
    println!("{}", report.json());
    if !report.ok() {
        std::process::exit(1);
    }
    Ok(())
}
