//! Support inboxes (protocol.md §9): the business-hours calendar
//! ([`hours`]) and the rules of routing, claims, transfers, resolve and
//! reopen, as functions from facts to plans.

pub mod hours;
