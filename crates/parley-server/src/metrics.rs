//! `/metrics` in the Prometheus text format (protocol.md §14). Plain
//! atomics: counting must never cost a lock on the delivery path. One set
//! per process (the numbers describe the process, not one `run`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    const fn new() -> Self {
        Histogram {
            counts: [const { AtomicU64::new(0) }; BUCKETS.len()],
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cumulative += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

pub struct Metrics {
    pub messages_sent: AtomicU64,
    pub frames_delivered: AtomicU64,
    pub slow_clients_closed: AtomicU64,
    pub rate_limited: AtomicU64,
    /// Commit to the frame leaving on a recipient's socket.
    pub delivery_latency: Histogram,
    /// One send's storage call (validation excluded, commit included).
    pub db_write: Histogram,
}

pub static METRICS: Metrics = Metrics {
    messages_sent: AtomicU64::new(0),
    frames_delivered: AtomicU64::new(0),
    slow_clients_closed: AtomicU64::new(0),
    rate_limited: AtomicU64::new(0),
    delivery_latency: Histogram::new(),
    db_write: Histogram::new(),
};

fn counter(out: &mut String, name: &str, help: &str, v: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
    );
}

fn gauge(out: &mut String, name: &str, help: &str, v: u64) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
}

/// The exposition text, with this process's live gauges.
pub fn render(connections: u64, queued_frames: u64) -> String {
    let m = &METRICS;
    let mut out = String::with_capacity(4096);
    gauge(
        &mut out,
        "parley_connections",
        "Live gateway connections.",
        connections,
    );
    gauge(
        &mut out,
        "parley_outbound_queued_frames",
        "Frames waiting in connections' outbound queues.",
        queued_frames,
    );
    counter(
        &mut out,
        "parley_messages_sent_total",
        "Messages created (REST and gateway).",
        m.messages_sent.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "parley_frames_delivered_total",
        "Event frames written to gateway sockets.",
        m.frames_delivered.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "parley_slow_clients_closed_total",
        "Connections closed with 4008.",
        m.slow_clients_closed.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "parley_rate_limited_total",
        "Requests refused with rate_limited.",
        m.rate_limited.load(Ordering::Relaxed),
    );
    m.delivery_latency.render(
        &mut out,
        "parley_delivery_latency_seconds",
        "From commit to the event frame leaving on a recipient's socket.",
    );
    m.db_write.render(
        &mut out,
        "parley_db_send_seconds",
        "Storage time of one send, commit included.",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let h = Histogram::new();
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(3));
        let mut out = String::new();
        h.render(&mut out, "x", "test");
        assert!(out.contains("x_bucket{le=\"0.0005\"} 1"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.005\"} 2"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 2"), "{out}");
        assert!(out.contains("x_count 2"), "{out}");
    }
}
