//! Which agent takes the front of a queue (protocol.md §9 "Queue and
//! routing"). Storage reads the agents of the inbox under its lock, asks
//! [`pick`], applies the assignment and asks again until the queue is
//! empty or nobody can take more: the capacity check and the assignment
//! are one transaction, so nobody is ever above capacity.

use parley_protocol::support::{AgentStatus, Routing};

/// One agent of the inbox, as the routing transaction read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentFacts {
    pub user_id: String,
    pub status: AgentStatus,
    /// At least one live gateway connection (combined across processes).
    pub connected: bool,
    /// Assigned support conversations now, in any inbox.
    pub open_chats: u32,
    /// Their capacity in this inbox.
    pub capacity: u32,
    /// Their last assignment in any inbox, as (millis, counter) so that
    /// two in one millisecond still order; `None`: never assigned.
    pub last_assigned: Option<(i64, i64)>,
}

impl AgentFacts {
    /// Available, connected, below capacity.
    pub fn assignable(&self) -> bool {
        self.status == AgentStatus::Available && self.connected && self.open_chats < self.capacity
    }
}

/// The agent to assign next, from the inbox's agents in the order they
/// were added; `last_agent` is the one this inbox assigned last
/// (round_robin's place). `None`: nobody is assignable, or `manual`.
pub fn pick<'a>(
    routing: Routing,
    agents: &'a [AgentFacts],
    last_agent: Option<&str>,
) -> Option<&'a AgentFacts> {
    match routing {
        Routing::Manual => None,
        Routing::LeastBusy => agents
            .iter()
            .enumerate()
            .filter(|(_, a)| a.assignable())
            // Fewest open chats, then longest since the last assignment
            // (never counts as longest ago), then added first.
            .min_by_key(|(i, a)| (a.open_chats, a.last_assigned.unwrap_or((i64::MIN, 0)), *i))
            .map(|(_, a)| a),
        Routing::RoundRobin => {
            let start = last_agent
                .and_then(|last| agents.iter().position(|a| a.user_id == last))
                .map_or(0, |i| i + 1);
            (0..agents.len())
                .map(|k| &agents[(start + k) % agents.len()])
                .find(|a| a.assignable())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn agent(id: &str, open: u32, last: Option<i64>) -> AgentFacts {
        AgentFacts {
            user_id: id.into(),
            status: AgentStatus::Available,
            connected: true,
            open_chats: open,
            capacity: 5,
            last_assigned: last.map(|t| (t, 0)),
        }
    }

    #[test]
    fn least_busy_takes_fewest_then_longest_idle_then_first_added() {
        let agents = [
            agent("a", 2, Some(10)),
            agent("b", 1, Some(50)),
            agent("c", 1, Some(20)),
        ];
        assert_eq!(
            pick(Routing::LeastBusy, &agents, None).map(|a| a.user_id.as_str()),
            Some("c")
        );
        let agents = [
            agent("a", 1, Some(10)),
            agent("b", 1, None),
            agent("c", 1, None),
        ];
        assert_eq!(
            pick(Routing::LeastBusy, &agents, None).map(|a| a.user_id.as_str()),
            Some("b")
        );
    }

    #[test]
    fn nobody_unavailable_disconnected_or_full() {
        let mut away = agent("a", 0, None);
        away.status = AgentStatus::Away;
        let mut gone = agent("b", 0, None);
        gone.connected = false;
        let full = agent("c", 5, None);
        let agents = [away, gone, full];
        for r in [Routing::LeastBusy, Routing::RoundRobin, Routing::Manual] {
            assert_eq!(pick(r, &agents, None), None);
        }
    }

    #[test]
    fn round_robin_goes_on_after_the_last_and_skips_the_full() {
        let agents = [
            agent("a", 0, None),
            agent("b", 5, None),
            agent("c", 0, None),
        ];
        let next = |last| pick(Routing::RoundRobin, &agents, last).map(|a| a.user_id.clone());
        assert_eq!(next(None).as_deref(), Some("a"));
        assert_eq!(next(Some("a")).as_deref(), Some("c"));
        assert_eq!(next(Some("c")).as_deref(), Some("a"));
        assert_eq!(next(Some("gone")).as_deref(), Some("a"));
    }

    #[test]
    fn manual_assigns_nothing() {
        assert_eq!(pick(Routing::Manual, &[agent("a", 0, None)], None), None);
    }

    proptest! {
        /// Routing a queue one chat at a time, as storage does, never puts
        /// anyone above capacity and, under least_busy with equal
        /// capacities, keeps the spread (max - min open chats) at most 1.
        #[test]
        fn never_above_capacity_and_spread_at_most_one(
            n in 1usize..8, cap in 1u32..6, arrivals in 0usize..60,
        ) {
            let mut agents: Vec<AgentFacts> = (0..n)
                .map(|i| AgentFacts { capacity: cap, ..agent(&format!("a{i}"), 0, None) })
                .collect();
            let mut clock = 0;
            for _ in 0..arrivals {
                let Some(who) = pick(Routing::LeastBusy, &agents, None).map(|a| a.user_id.clone()) else {
                    prop_assert!(agents.iter().all(|a| a.open_chats == cap));
                    continue;
                };
                clock += 1;
                let a = agents.iter_mut().find(|a| a.user_id == who).expect("picked");
                a.open_chats += 1;
                a.last_assigned = Some((clock, 0));
                prop_assert!(agents.iter().all(|a| a.open_chats <= cap));
                let max = agents.iter().map(|a| a.open_chats).max().unwrap_or(0);
                let min = agents.iter().map(|a| a.open_chats).min().unwrap_or(0);
                prop_assert!(max - min <= 1);
            }
        }
    }
}
