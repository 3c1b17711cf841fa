//! What a workload measured, as a markdown table and one JSON line.
//! A run with any error or lost message is a failed run, whatever its speed.

use serde_json::{Value, json};

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub workload: String,
    /// Messages sent and acknowledged (or, for W1, connections opened).
    pub messages: u64,
    /// Messages received by recipients other than the sender.
    pub deliveries: u64,
    pub errors: u64,
    /// Acknowledged but never received or never stored, plus seq gaps.
    pub lost: u64,
    /// Wall-clock seconds of the measured phase.
    pub seconds: f64,
    /// The latencies the table's percentiles are over, microseconds,
    /// sorted; [`Report::latency`] says which.
    pub latencies_us: Vec<u64>,
    pub latency: &'static str,
    /// Server CPU seconds during the measured phase (if its pid is known).
    pub server_cpu_s: Option<f64>,
    /// Server peak RSS (VmHWM), KiB.
    pub server_hwm_kib: Option<u64>,
    /// Further figures: name, value, unit (kept in order).
    pub figures: Vec<(String, f64, &'static str)>,
    /// Notes printed under the table (ceilings, warnings).
    pub notes: Vec<String>,
}

impl Report {
    pub fn new(workload: impl Into<String>, latency: &'static str) -> Report {
        Report {
            workload: workload.into(),
            latency,
            ..Report::default()
        }
    }

    pub fn percentile(&self, p: f64) -> u64 {
        if self.latencies_us.is_empty() {
            return 0;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[i.min(self.latencies_us.len() - 1)]
    }

    pub fn max_us(&self) -> u64 {
        self.latencies_us.last().copied().unwrap_or(0)
    }

    pub fn ok(&self) -> bool {
        self.errors == 0 && self.lost == 0
    }

    pub fn per_second(&self) -> f64 {
        rate(self.messages, self.seconds)
    }

    pub fn deliveries_per_second(&self) -> f64 {
        rate(self.deliveries, self.seconds)
    }

    /// Server CPU seconds per 1000 deliveries (or per 1000 messages when
    /// a workload has no deliveries, such as W3).
    pub fn cpu_per_1k(&self) -> Option<f64> {
        let n = if self.deliveries > 0 {
            self.deliveries
        } else {
            self.messages
        };
        let cpu = self.server_cpu_s?;
        (n > 0).then(|| cpu * 1000.0 / n as f64)
    }

    pub fn figure(&mut self, name: impl Into<String>, value: f64, unit: &'static str) {
        self.figures.push((name.into(), value, unit));
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.figures
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, _)| *v)
    }

    /// Sorts the latencies (workloads push them unsorted).
    pub fn finish(mut self) -> Report {
        self.latencies_us.sort_unstable();
        self
    }

    pub fn table(&self) -> String {
        let ms = |us: u64| us as f64 / 1000.0;
        let opt = |v: Option<f64>, digits: usize| match v {
            Some(v) => format!("{v:.digits$}"),
            None => "n/a".into(),
        };
        let mut out = format!(
            "| workload | messages | deliveries | msgs/s | deliveries/s | latency | p50 ms | p90 ms | p99 ms | max ms | server CPU s / 1k | server peak RSS MiB | errors | lost | result |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n\
             | {} | {} | {} | {:.0} | {:.0} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {} |",
            self.workload,
            self.messages,
            self.deliveries,
            self.per_second(),
            self.deliveries_per_second(),
            self.latency,
            ms(self.percentile(0.5)),
            ms(self.percentile(0.9)),
            ms(self.percentile(0.99)),
            ms(self.max_us()),
            opt(self.cpu_per_1k(), 3),
            opt(self.server_hwm_kib.map(|k| k as f64 / 1024.0), 1),
            self.errors,
            self.lost,
            if self.ok() { "ok" } else { "FAILED" }
        );
        if !self.figures.is_empty() {
            out.push_str("\n\n| figure | value |\n|---|---|");
            for (name, value, unit) in &self.figures {
                out.push_str(&format!("\n| {name} | {} {unit} |", pretty(*value)));
            }
        }
        for note in &self.notes {
            out.push_str(&format!("\n\n{note}"));
        }
        out
    }

    pub fn json(&self) -> Value {
        let figures: serde_json::Map<String, Value> = self
            .figures
            .iter()
            .map(|(n, v, _)| (n.clone(), json!(v)))
            .collect();
        json!({
            "workload": self.workload, "messages": self.messages, "deliveries": self.deliveries,
            "seconds": self.seconds, "per_second": self.per_second(),
            "deliveries_per_second": self.deliveries_per_second(), "latency": self.latency,
            "p50_us": self.percentile(0.5), "p90_us": self.percentile(0.9),
            "p99_us": self.percentile(0.99), "max_us": self.max_us(),
            "server_cpu_s": self.server_cpu_s, "server_cpu_s_per_1k": self.cpu_per_1k(),
            "server_peak_rss_kib": self.server_hwm_kib, "errors": self.errors, "lost": self.lost,
            "figures": figures, "ok": self.ok(),
        })
    }
}

fn rate(n: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        n as f64 / seconds
    } else {
        0.0
    }
}

fn pretty(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// A ratio line: `measured / reference`, with what "better" means.
pub fn ratio_note(what: &str, measured: f64, reference: f64, unit: &str) -> (String, f64) {
    let r = if reference > 0.0 {
        measured / reference
    } else {
        0.0
    };
    (
        format!(
            "{what}: {} {unit} vs ceiling {} {unit}: ratio {r:.2}",
            pretty(measured),
            pretty(reference)
        ),
        r,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_runs_say_so_and_json_is_one_line() {
        let mut r = Report::new("x", "send to receive");
        r.messages = 10;
        r.latencies_us = vec![3, 1, 2];
        r.lost = 1;
        r.figure("per connection", 1.5, "KiB");
        let r = r.finish();
        assert_eq!(r.percentile(0.5), 2);
        assert!(r.table().contains("FAILED"));
        assert!(!r.json().to_string().contains('\n'));
    }
}
