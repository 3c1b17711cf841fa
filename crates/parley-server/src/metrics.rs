//! `/metrics` in the Prometheus text format (protocol.md §14), through the
//! `metrics` facade and its Prometheus exporter. One set per process (the
//! numbers describe the process, not one `run`).
//!
//! The handles are registered once and kept: counting on the delivery path
//! is an atomic add on a handle (no registry lookup, no lock); histogram
//! samples go to the exporter's lock-free buckets. A new metric is a new
//! handle in [`Handles`] and a function here.

use crate::ratelimit::Action;
use metrics::{Counter, Gauge, Histogram, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

struct Handles {
    exporter: PrometheusHandle,
    connections: Gauge,
    queued_frames: Gauge,
    messages_sent: Counter,
    frames_delivered: Counter,
    slow_clients_closed: Counter,
    /// One per [`Action`], labelled `action`.
    rate_limited: Vec<Counter>,
    delivery_latency: Histogram,
    db_send: Histogram,
    media_bytes_stored: Counter,
    /// One per [`MEDIA_REFUSALS`], labelled `reason`.
    media_refused: Vec<Counter>,
    outbox_pending: Gauge,
    outbox_oldest: Gauge,
    /// One per channel and result, [`OUTBOUND_RESULTS`] apart.
    outbound: Vec<Counter>,
}

/// Outbound channels and how an attempt ended (the labels of
/// `parley_outbound_deliveries_total`).
pub const OUTBOUND_CHANNELS: [&str; 3] = ["webhook", "webpush", "push_gateway"];
pub const OUTBOUND_RESULTS: [&str; 5] = ["delivered", "retry", "failed", "dropped", "unsubscribed"];

/// Why an upload was refused (the `reason` of `parley_media_refused_total`).
pub const MEDIA_REFUSALS: [&str; 5] = ["too_large", "bomb", "unsupported", "undecodable", "empty"];

static HANDLES: OnceLock<Handles> = OnceLock::new();

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!("parley_connections", "Live gateway connections.");
    describe_gauge!(
        "parley_outbound_queued_frames",
        "Frames waiting in connections' outbound queues."
    );
    describe_counter!(
        "parley_messages_sent_total",
        "Messages created (REST and gateway)."
    );
    describe_counter!(
        "parley_frames_delivered_total",
        "Event frames written to gateway sockets."
    );
    describe_counter!(
        "parley_slow_clients_closed_total",
        "Connections closed with 4008."
    );
    describe_counter!(
        "parley_rate_limited_total",
        "Requests refused with rate_limited, by action."
    );
    describe_counter!(
        "parley_media_bytes_stored_total",
        "Bytes of uploads stored (as served, thumbnails excluded)."
    );
    describe_counter!("parley_media_refused_total", "Uploads refused, by reason.");
    describe_gauge!(
        "parley_outbox_pending",
        "Outbound deliveries not yet delivered or failed."
    );
    describe_gauge!(
        "parley_outbox_oldest_pending_seconds",
        "Age of the oldest pending outbound delivery."
    );
    describe_counter!(
        "parley_outbound_deliveries_total",
        "Outbound delivery attempts, by channel and result."
    );
    describe_histogram!(
        "parley_delivery_latency_seconds",
        Unit::Seconds,
        "From commit to the event frame leaving on a recipient's socket."
    );
    describe_histogram!(
        "parley_db_send_seconds",
        Unit::Seconds,
        "Storage time of one send, commit included."
    );
}

/// Installs the process's recorder (once) and registers every handle.
fn handles() -> &'static Handles {
    HANDLES.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let exporter = recorder.handle();
        // Another recorder may already be installed (a program embedding
        // the server): then ours still renders, it just sees nothing the
        // others record through the macros. The handles below are ours.
        let handles = |r: &dyn metrics::Recorder| {
            metrics::with_local_recorder(r, || {
                describe();
                Handles {
                    exporter: exporter.clone(),
                    connections: metrics::gauge!("parley_connections"),
                    queued_frames: metrics::gauge!("parley_outbound_queued_frames"),
                    messages_sent: metrics::counter!("parley_messages_sent_total"),
                    frames_delivered: metrics::counter!("parley_frames_delivered_total"),
                    slow_clients_closed: metrics::counter!("parley_slow_clients_closed_total"),
                    rate_limited: Action::ALL
                        .iter()
                        .map(|a| metrics::counter!("parley_rate_limited_total", "action" => a.name()))
                        .collect(),
                    delivery_latency: metrics::histogram!("parley_delivery_latency_seconds"),
                    db_send: metrics::histogram!("parley_db_send_seconds"),
                    media_bytes_stored: metrics::counter!("parley_media_bytes_stored_total"),
                    media_refused: MEDIA_REFUSALS
                        .iter()
                        .map(|r| metrics::counter!("parley_media_refused_total", "reason" => *r))
                        .collect(),
                    outbox_pending: metrics::gauge!("parley_outbox_pending"),
                    outbox_oldest: metrics::gauge!("parley_outbox_oldest_pending_seconds"),
                    outbound: OUTBOUND_CHANNELS
                        .iter()
                        .flat_map(|c| OUTBOUND_RESULTS.iter().map(move |r| (*c, *r)))
                        .map(|(c, r)| {
                            metrics::counter!("parley_outbound_deliveries_total", "channel" => c, "result" => r)
                        })
                        .collect(),
                }
            })
        };
        let h = handles(&recorder);
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::debug!("a metrics recorder was already installed");
        }
        h
    })
}

pub fn message_sent() {
    handles().messages_sent.increment(1);
}

pub fn frame_delivered(latency: Duration) {
    let h = handles();
    h.frames_delivered.increment(1);
    h.delivery_latency.record(latency.as_secs_f64());
}

pub fn slow_client_closed() {
    handles().slow_clients_closed.increment(1);
}

pub fn rate_limited(action: Action) {
    if let Some(c) = handles().rate_limited.get(action as usize) {
        c.increment(1);
    }
}

pub fn media_stored(bytes: u64) {
    handles().media_bytes_stored.increment(bytes);
}

/// `reason` is one of [`MEDIA_REFUSALS`].
pub fn media_refused(reason: &str) {
    if let Some(i) = MEDIA_REFUSALS.iter().position(|r| *r == reason)
        && let Some(c) = handles().media_refused.get(i)
    {
        c.increment(1);
    }
}

/// The outbox's depth, refreshed by each process's worker.
pub fn outbox_depth(pending: u64, oldest_age_secs: f64) {
    let h = handles();
    h.outbox_pending.set(pending as f64);
    h.outbox_oldest.set(oldest_age_secs);
}

/// One outbound attempt; `channel` of [`OUTBOUND_CHANNELS`], `result` of
/// [`OUTBOUND_RESULTS`].
pub fn outbound_delivery(channel: &'static str, result: &'static str) {
    let c = OUTBOUND_CHANNELS.iter().position(|c| *c == channel);
    let r = OUTBOUND_RESULTS.iter().position(|r| *r == result);
    if let (Some(c), Some(r)) = (c, r)
        && let Some(counter) = handles().outbound.get(c * OUTBOUND_RESULTS.len() + r)
    {
        counter.increment(1);
    }
}

/// One send's storage call (validation excluded, commit included).
pub fn db_write(d: Duration) {
    handles().db_send.record(d.as_secs_f64());
}

/// The exposition text, with this process's live gauges.
pub fn render(connections: u64, queued_frames: u64) -> String {
    let h = handles();
    h.connections.set(connections as f64);
    h.queued_frames.set(queued_frames as f64);
    h.exporter.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_counters_keep_their_names() {
        db_write(Duration::from_micros(300));
        db_write(Duration::from_millis(3));
        message_sent();
        let out = render(2, 0);
        assert!(
            out.contains("# TYPE parley_db_send_seconds histogram"),
            "{out}"
        );
        assert!(
            out.contains("parley_db_send_seconds_bucket{le=\"0.0005\"} 1"),
            "{out}"
        );
        assert!(
            out.contains("parley_db_send_seconds_bucket{le=\"0.005\"} 2"),
            "{out}"
        );
        assert!(
            out.contains("parley_db_send_seconds_bucket{le=\"+Inf\"} 2"),
            "{out}"
        );
        assert!(out.contains("parley_db_send_seconds_count 2"), "{out}");
        assert!(out.contains("parley_messages_sent_total 1"), "{out}");
        assert!(out.contains("parley_connections 2"), "{out}");
        assert!(
            out.contains("# HELP parley_frames_delivered_total"),
            "{out}"
        );
    }
}
