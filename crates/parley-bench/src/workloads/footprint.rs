//! W7: binary size, time from start to ready, idle RSS of a `parley` binary.

use crate::server::Server;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Footprint {
    pub binary_bytes: u64,
    pub ready_ms: f64,
    pub idle_rss_kib: u64,
}

impl Footprint {
    pub fn table(&self) -> String {
        format!(
            "| binary MB | ready ms | idle RSS MB |\n|---|---|---|\n| {:.1} | {:.0} | {:.1} |",
            self.binary_bytes as f64 / 1e6,
            self.ready_ms,
            self.idle_rss_kib as f64 / 1024.0
        )
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({"workload": "w7-footprint", "binary_bytes": self.binary_bytes,
            "ready_ms": self.ready_ms, "idle_rss_kib": self.idle_rss_kib,
            "ok": self.idle_rss_kib > 0})
    }
}

/// Starts `binary serve` on a fresh data directory, times it to the first
/// 200 from `/readyz`, waits a moment and reads its RSS.
pub async fn footprint(binary: &std::path::Path) -> anyhow::Result<Footprint> {
    let binary_bytes = std::fs::metadata(binary)?.len();
    let server = Server::start(binary, &[], None).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let f = Footprint {
        binary_bytes,
        ready_ms: server.ready_ms.unwrap_or(0.0),
        idle_rss_kib: server.rss_kib().unwrap_or(0),
    };
    server.stop().await;
    Ok(f)
}
