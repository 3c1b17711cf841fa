//! W6, two server processes: cross-process vs same-process latency (one in
//! flight), and throughput on one process vs spread over both.

use super::latency::latency;
use super::throughput::throughput;
use crate::report::Report;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ClusterOpts {
    pub a: String,
    pub b: String,
    pub pids: Vec<u32>,
    pub n: u64,
    pub senders: usize,
    pub outstanding: usize,
    pub seconds: u64,
    pub bytes: usize,
}

/// The four runs, the last one carrying the comparison figures.
pub async fn run(o: &ClusterOpts) -> anyhow::Result<Vec<Report>> {
    let pid_a = o.pids.first().copied();
    let pid_b = o.pids.get(1).copied().or(pid_a);
    let mut same = latency(&o.a, &o.a, o.n, o.bytes, pid_a).await?;
    same.workload = format!("w6 same-process latency ({})", same.workload);
    let mut cross = latency(&o.a, &o.b, o.n, o.bytes, pid_b).await?;
    cross.workload = format!("w6 cross-process latency ({})", cross.workload);
    let d = Duration::from_secs(o.seconds);
    let one_pids: Vec<u32> = pid_a.into_iter().collect();
    let mut one = throughput(
        std::slice::from_ref(&o.a),
        o.senders,
        o.outstanding,
        d,
        o.bytes,
        &one_pids,
    )
    .await?;
    one.workload = format!("w6 one process: {}", one.workload);
    let both = [o.a.clone(), o.b.clone()];
    let mut two = throughput(&both, o.senders, o.outstanding, d, o.bytes, &o.pids).await?;
    two.workload = format!("w6 two processes: {}", two.workload);
    let diff_ms = (cross.percentile(0.5) as f64 - same.percentile(0.5) as f64) / 1000.0;
    let scale = if one.per_second() > 0.0 {
        two.per_second() / one.per_second()
    } else {
        0.0
    };
    two.figure("cross minus same p50", diff_ms, "ms");
    two.figure("throughput two / one", scale, "x");
    two.notes.push(format!(
        "W6 goals: cross-process p50 within 1 ms of same-process: {diff_ms:.2} ms ({}); \
         two processes >= 1.6x one: {scale:.2}x ({})",
        if diff_ms <= 1.0 { "met" } else { "not met" },
        if scale >= 1.6 { "met" } else { "not met" },
    ));
    Ok(vec![same, cross, one, two])
}
