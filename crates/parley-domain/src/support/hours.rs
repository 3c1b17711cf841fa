//! An inbox's business-hours calendar (protocol.md §9): an IANA zone,
//! weekly wall-clock intervals (several a day, overnight ones), holidays,
//! and the questions routing asks of them: open now? when next open?

use crate::error::DomainResult;
use parley_protocol::Timestamp;
use parley_protocol::support::HoursInterval;

/// A validated calendar. Built once per read from the stored fields.
#[derive(Debug, Clone)]
pub struct BusinessHours {
    _todo: (),
}

impl BusinessHours {
    /// Validates an inbox's `timezone`, `hours` (`None`: always open) and
    /// `holidays`; a bad field is `invalid_request` naming it.
    pub fn new(
        _timezone: &str,
        _hours: Option<&[HoursInterval]>,
        _holidays: &[String],
    ) -> DomainResult<BusinessHours> {
        todo!()
    }

    /// Whether the inbox is open at `at`.
    pub fn is_open(&self, _at: Timestamp) -> bool {
        todo!()
    }

    /// The next instant after `at` at which the inbox opens: `None` while
    /// it is open at `at`, or when it never opens again.
    pub fn next_open(&self, _at: Timestamp) -> Option<Timestamp> {
        todo!()
    }

    /// The next instant after `at` at which `is_open` changes (opens or
    /// closes); `None` when it never changes. Routing wakes then.
    pub fn next_change(&self, _at: Timestamp) -> Option<Timestamp> {
        todo!()
    }
}
