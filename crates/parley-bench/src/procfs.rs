//! What the kernel says about a server process: CPU time from
//! `/proc/<pid>/stat` (utime + stime) and memory from `/proc/<pid>/status`
//! (VmRSS now, VmHWM the peak), plus its open-files limit.

use std::time::Duration;

/// Clock ticks per second for `/proc/<pid>/stat`. Linux has reported 100
/// on every mainstream architecture for decades; reading `sysconf` would
/// need `unsafe`, which the workspace forbids.
const CLK_TCK: f64 = 100.0;

/// User + system CPU seconds the process has used so far.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields resume after ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are 11, 12.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / CLK_TCK)
}

fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Resident memory now, KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

/// Peak resident memory, KiB.
pub fn hwm_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmHWM:")
}

/// The soft "Max open files" limit of a process.
pub fn nofile_limit(pid: u32) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// CPU used by a process over a stretch of time.
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    pid: Option<u32>,
    start: Option<f64>,
}

impl CpuMeter {
    pub fn start(pid: Option<u32>) -> CpuMeter {
        CpuMeter {
            pid,
            start: pid.and_then(cpu_seconds),
        }
    }

    /// CPU seconds since [`CpuMeter::start`], if the process is known.
    pub fn seconds(&self) -> Option<f64> {
        Some(cpu_seconds(self.pid?)? - self.start?)
    }
}

/// Waits until the process's RSS stops moving (less than 1% over 500 ms),
/// at most `max`: freshly closed or opened connections settle a little late.
pub async fn settled_rss_kib(pid: u32, max: Duration) -> Option<u64> {
    let deadline = tokio::time::Instant::now() + max;
    let mut last = rss_kib(pid)?;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = rss_kib(pid)?;
        if now.abs_diff(last) * 100 <= last || tokio::time::Instant::now() >= deadline {
            return Some(now);
        }
        last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_process() {
        let me = std::process::id();
        assert!(cpu_seconds(me).is_some());
        let rss = rss_kib(me).unwrap_or(0);
        assert!(rss > 0);
        // Read after the RSS: other tests in this process allocate
        // meanwhile, and only a later high-water mark is sure to cover it,
        // up to the kernel's per-thread RSS batching (64 pages a thread;
        // seen failing by a few hundred KiB with tests running alongside).
        assert!(hwm_kib(me).unwrap_or(0) + 4096 >= rss);
        assert!(nofile_limit(me).unwrap_or(0) > 0);
    }
}
