//! An inbox's business-hours calendar (protocol.md §9): an IANA zone,
//! weekly wall-clock intervals (several a day, overnight ones), holidays,
//! and the questions routing asks of them: open now? when next open?
//!
//! Every wall-clock time is turned into an instant the same way: a time
//! the clocks skip means the first instant after the gap (the transition),
//! a time they repeat means its first occurrence.
//! That one rule, applied to opens, closes and the midnights that bound a
//! holiday, keeps the mapping monotone, so intervals that touch or overlap
//! on the wall clock still touch or overlap as instants, across any DST
//! change.

use crate::error::{DomainError, DomainResult};
use jiff::Span;
use jiff::civil::{Date, Time};
use jiff::tz::{AmbiguousOffset, Disambiguation, TimeZone};
use parley_protocol::Timestamp;
use parley_protocol::support::HoursInterval;
use std::collections::BTreeSet;

/// Longer than any IANA name; a bound so that a hostile name costs nothing.
const MAX_ZONE_NAME: usize = 64;
const MAX_INTERVALS: usize = 100;
const MAX_HOLIDAYS: usize = 1000;
const MINUTES_PER_DAY: u16 = 24 * 60;

/// Dates a scan covers after its first, short one: more than two weeks,
/// so a span of days in which nothing changes holds every weekday at least
/// twice, and the weekly pattern can be trusted to hold forever after
/// (a DST day can make one weekday's interval empty or seamless, but not
/// two occurrences of it in a row).
const SCAN_DAYS: i64 = 16;

/// One weekly interval, in minutes from the midnight that starts its day.
/// `close` past [`MINUTES_PER_DAY`] ends on the next day, so overnight
/// intervals and `24:00` need no special case when they are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Interval {
    open: u16,
    close: u16,
}

/// A validated calendar. Built once per read from the stored fields.
#[derive(Debug, Clone)]
pub struct BusinessHours {
    tz: TimeZone,
    /// Monday first; each day's intervals sorted and already merged where
    /// they touch or overlap, so a read resolves as few times as it can.
    week: [Vec<Interval>; 7],
    holidays: BTreeSet<Date>,
}

impl BusinessHours {
    /// Validates an inbox's `timezone`, `hours` (`None`: always open) and
    /// `holidays`; a bad field is `invalid_request` naming it.
    pub fn new(
        timezone: &str,
        hours: Option<&[HoursInterval]>,
        holidays: &[String],
    ) -> DomainResult<BusinessHours> {
        if timezone.is_empty() || timezone.len() > MAX_ZONE_NAME {
            return Err(DomainError::invalid("timezone", "unknown time zone"));
        }
        let tz = TimeZone::get(timezone)
            .map_err(|_| DomainError::invalid("timezone", "unknown time zone"))?;

        // "Always open" is every day from its midnight to the next: the
        // same instants that bound a holiday, so the two cut cleanly.
        let all_day = Interval {
            open: 0,
            close: MINUTES_PER_DAY,
        };
        let mut week: [Vec<Interval>; 7] = Default::default();
        match hours {
            None => week.iter_mut().for_each(|day| day.push(all_day)),
            Some(list) => {
                if list.len() > MAX_INTERVALS {
                    return Err(DomainError::invalid("hours", "at most 100 intervals"));
                }
                for item in list {
                    let (day, interval) = parse_interval(item)?;
                    week[day].push(interval);
                }
            }
        }
        week.iter_mut().for_each(merge_wall_clock);

        if holidays.len() > MAX_HOLIDAYS {
            return Err(DomainError::invalid("holidays", "at most 1000 holidays"));
        }
        let holidays = holidays
            .iter()
            .map(|s| {
                parse_date(s).ok_or_else(|| {
                    DomainError::invalid("holidays", "holidays must be YYYY-MM-DD dates")
                })
            })
            .collect::<DomainResult<BTreeSet<Date>>>()?;

        Ok(BusinessHours { tz, week, holidays })
    }

    /// Whether the inbox is open at `at`.
    pub fn is_open(&self, at: Timestamp) -> bool {
        let Some((ms, date)) = self.local(at) else {
            return false;
        };
        if self.never_open() {
            return false;
        }
        // An interval that could hold `at` began on its local date or the
        // day before; one more day each side covers folds across midnight.
        let (Some(lo), Some(hi)) = (shift(date, -2), shift(date, 1)) else {
            return false;
        };
        self.spans(lo, hi).iter().any(|&(s, e)| s <= ms && ms < e)
    }

    /// The next instant after `at` at which the inbox opens: `None` while
    /// it is open at `at`, or when it never opens again.
    pub fn next_open(&self, at: Timestamp) -> Option<Timestamp> {
        if self.is_open(at) {
            return None;
        }
        // Closed now, so the next change is an opening.
        self.next_change(at)
    }

    /// The next instant after `at` at which `is_open` changes (opens or
    /// closes); `None` when it never changes. Routing wakes then.
    pub fn next_change(&self, at: Timestamp) -> Option<Timestamp> {
        let (ms, date) = self.local(at)?;
        if self.never_open() {
            return None;
        }
        // Days are scanned in overlapping windows. A window's open spans are
        // exact from the midnight after its first date (older intervals have
        // ended by then) to the midnight after its last (later ones have
        // not begun); a boundary strictly inside is a real change. The first
        // window is short because the answer is usually within a day or two.
        let mut lo = shift(date, -2)?;
        let mut hi = shift(date, 2)?;
        let mut first = true;
        // Each window without a change holds a holiday (else the scan
        // ends), and a holiday lies in at most two windows: this bounds the
        // loop whatever the dates.
        for _ in 0..2 * self.holidays.len() + 4 {
            let from = self.midnight(shift(lo, 1)?)?;
            let until = self.midnight(shift(hi, 1)?)?;
            let spans = self.spans(lo, hi);
            // Spans are sorted, disjoint and never touch, so their edges in
            // order are the changes in order.
            let change = spans
                .iter()
                .flat_map(|&(s, e)| [s, e])
                .find(|&b| b > ms && b > from && b < until);
            if let Some(b) = change {
                return Some(Timestamp(b));
            }
            if !first {
                // Nothing changes over this whole window of `SCAN_DAYS`.
                let open = spans.iter().any(|&(s, e)| s < until && e > from);
                let after = shift(hi, 1)?;
                if open {
                    // Every weekday is open all day: only a holiday closes.
                    return self
                        .holidays
                        .range(after..)
                        .next()
                        .and_then(|&h| self.midnight(h))
                        .map(Timestamp);
                }
                // Closed on every weekday with no holiday to blame: never.
                self.holidays.range(shift(lo, 1)?..=hi).next()?;
                // Closed through holidays: skip the rest of their run. The
                // next window starts two days before the first working day
                // so that day's midnight (where an overnight tail from the
                // last holiday may open) lies strictly inside it.
                let mut working = after;
                while self.holidays.contains(&working) {
                    working = working.tomorrow().ok()?;
                }
                lo = shift(hi, -1)?.max(shift(working, -2)?);
            } else {
                lo = shift(hi, -1)?;
            }
            hi = shift(lo, SCAN_DAYS)?;
            first = false;
        }
        None
    }

    fn never_open(&self) -> bool {
        self.week.iter().all(Vec::is_empty)
    }

    /// `at` in milliseconds and its local date; `None` outside jiff's range.
    fn local(&self, at: Timestamp) -> Option<(i64, Date)> {
        let ts = jiff::Timestamp::from_millisecond(at.0).ok()?;
        Some((at.0, self.tz.to_datetime(ts).date()))
    }

    /// The instant of `minute` minutes after the start of `date` (possibly
    /// past its end), in milliseconds.
    fn instant(&self, date: Date, minute: u16) -> Option<i64> {
        let day = shift(date, i64::from(minute / MINUTES_PER_DAY))?;
        let m = minute % MINUTES_PER_DAY;
        let time = Time::new((m / 60) as i8, (m % 60) as i8, 0, 0).ok()?;
        let dt = day.to_datetime(time);
        let ambiguous = self.tz.to_ambiguous_timestamp(dt);
        if let AmbiguousOffset::Gap { after, .. } = ambiguous.offset() {
            // A time the clocks skip: the first instant after the gap, the
            // transition itself (§9). Read with the later offset, `dt` is
            // an instant just before the transition, which follows it.
            let before_transition = after.to_timestamp(dt).ok()?;
            if let Some(t) = self.tz.following(before_transition).next() {
                return Some(t.timestamp().as_millisecond());
            }
        }
        // Unambiguous, or a time that occurs twice: its first occurrence.
        ambiguous
            .disambiguate(Disambiguation::Earlier)
            .ok()
            .map(jiff::Timestamp::as_millisecond)
    }

    fn midnight(&self, date: Date) -> Option<i64> {
        self.instant(date, 0)
    }

    /// The open spans `[start, end)` of the intervals of dates `lo..=hi`,
    /// holidays cut out, merged where they touch: sorted, disjoint and
    /// separated by closed time.
    fn spans(&self, lo: Date, hi: Date) -> Vec<(i64, i64)> {
        let mut raw = Vec::new();
        let mut date = lo;
        while date <= hi {
            let day = &self.week[date.weekday().to_monday_zero_offset() as usize];
            for interval in day {
                let start = self.instant(date, interval.open);
                let end = self.instant(date, interval.close);
                if let (Some(s), Some(e)) = (start, end)
                    && s < e
                {
                    raw.push((s, e));
                }
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        raw.sort_unstable();
        let merged = merge_touching(raw);

        // Holidays that can clip those spans: an interval ends at most a
        // day after its date.
        let cuts: Vec<(i64, i64)> = match shift(hi, 1) {
            Some(last) => self
                .holidays
                .range(lo..=last)
                .filter_map(|&h| Some((self.midnight(h)?, self.midnight(h.tomorrow().ok()?)?)))
                .collect(),
            None => Vec::new(),
        };
        if cuts.is_empty() {
            return merged;
        }
        let mut out = Vec::with_capacity(merged.len());
        for (s, e) in merged {
            let mut cur = s;
            for &(cs, ce) in &cuts {
                if ce <= cur || cs >= e {
                    continue;
                }
                if cs > cur {
                    out.push((cur, cs));
                }
                cur = cur.max(ce);
                if cur >= e {
                    break;
                }
            }
            if cur < e {
                out.push((cur, e));
            }
        }
        out
    }
}

/// Merges sorted `[start, end)` pairs that overlap or touch: a join between
/// two intervals is not a change.
fn merge_touching(sorted: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(sorted.len());
    for (s, e) in sorted {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Merging on the wall clock gives the same instants as merging after
/// resolving (resolution is monotone), and it is done once, in `new`.
fn merge_wall_clock(day: &mut Vec<Interval>) {
    day.sort_unstable();
    let mut merged: Vec<Interval> = Vec::with_capacity(day.len());
    for &interval in day.iter() {
        match merged.last_mut() {
            Some(last) if interval.open <= last.close => {
                last.close = last.close.max(interval.close);
            }
            _ => merged.push(interval),
        }
    }
    *day = merged;
}

fn parse_interval(item: &HoursInterval) -> DomainResult<(usize, Interval)> {
    let day = match item.day.as_str() {
        "mon" => 0,
        "tue" => 1,
        "wed" => 2,
        "thu" => 3,
        "fri" => 4,
        "sat" => 5,
        "sun" => 6,
        _ => {
            return Err(DomainError::invalid(
                "hours",
                "day must be mon, tue, wed, thu, fri, sat or sun",
            ));
        }
    };
    let open = parse_hhmm(&item.open)
        .filter(|&m| m < MINUTES_PER_DAY)
        .ok_or_else(|| DomainError::invalid("hours", "open must be HH:MM, 00:00 to 23:59"))?;
    let close = parse_hhmm(&item.close)
        .ok_or_else(|| DomainError::invalid("hours", "close must be HH:MM, 00:00 to 24:00"))?;
    if open == close {
        return Err(DomainError::invalid("hours", "open and close must differ"));
    }
    // A close before the open is on the next day.
    let close = if close < open {
        close + MINUTES_PER_DAY
    } else {
        close
    };
    Ok((day, Interval { open, close }))
}

/// `HH:MM` exactly (two digits each), `00:00` to `24:00`, in minutes.
fn parse_hhmm(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return None;
    }
    let hour = two_digits(b[0], b[1])?;
    let minute = two_digits(b[3], b[4])?;
    let ok = (hour < 24 && minute < 60) || (hour == 24 && minute == 0);
    ok.then_some(hour * 60 + minute)
}

/// `YYYY-MM-DD` exactly, a real calendar date, years 1 to 9999 (what the
/// wire's timestamps can carry).
fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = two_digits(b[0], b[1])? * 100 + two_digits(b[2], b[3])?;
    let month = two_digits(b[5], b[6])?;
    let day = two_digits(b[8], b[9])?;
    if year == 0 {
        return None;
    }
    Date::new(year as i16, month as i8, day as i8).ok()
}

fn two_digits(a: u8, b: u8) -> Option<u16> {
    (a.is_ascii_digit() && b.is_ascii_digit())
        .then(|| u16::from(a - b'0') * 10 + u16::from(b - b'0'))
}

/// `date` moved by `days`; `None` past jiff's range.
fn shift(date: Date, days: i64) -> Option<Date> {
    date.checked_add(Span::new().try_days(days).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(day: &str, open: &str, close: &str) -> HoursInterval {
        HoursInterval {
            day: day.into(),
            open: open.into(),
            close: close.into(),
        }
    }

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).expect("timestamp")
    }

    fn field_of(r: DomainResult<BusinessHours>) -> String {
        match r {
            Err(DomainError::Invalid { field, .. }) => field.into_owned(),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn refuses_every_malformed_field() {
        let h = |i: HoursInterval| BusinessHours::new("UTC", Some(&[i]), &[]);
        for bad in [
            iv("monday", "09:00", "10:00"),
            iv("mon", "9:00", "10:00"),
            iv("mon", "24:00", "10:00"),
            iv("mon", "25:00", "10:00"),
            iv("mon", "12:60", "13:00"),
            iv("mon", "09:00", "09:00"),
            iv("mon", "09:00", "24:01"),
            iv("mon", "09-00", "10:00"),
        ] {
            assert_eq!(field_of(h(bad.clone())), "hours", "{bad:?}");
        }
        assert_eq!(
            field_of(BusinessHours::new("Mars/Olympus", None, &[])),
            "timezone"
        );
        assert_eq!(field_of(BusinessHours::new("", None, &[])), "timezone");
        assert_eq!(
            field_of(BusinessHours::new(&"A".repeat(65), None, &[])),
            "timezone"
        );
        for bad in [
            "2026-02-30",
            "2026-2-01",
            "26-12-25",
            "0000-01-01",
            "2026-12-25T00",
        ] {
            assert_eq!(
                field_of(BusinessHours::new("UTC", None, &[bad.to_string()])),
                "holidays",
                "{bad}"
            );
        }
        let many = vec![iv("mon", "09:00", "10:00"); 101];
        assert_eq!(
            field_of(BusinessHours::new("UTC", Some(&many), &[])),
            "hours"
        );
        let days = vec!["2026-12-25".to_string(); 1001];
        assert_eq!(field_of(BusinessHours::new("UTC", None, &days)), "holidays");
        assert!(h(iv("mon", "09:00", "24:00")).is_ok());
    }

    #[test]
    fn several_intervals_a_day_and_their_gaps() {
        let h = BusinessHours::new(
            "Europe/Paris",
            Some(&[iv("mon", "09:00", "12:30"), iv("mon", "14:00", "18:00")]),
            &[],
        )
        .expect("valid");
        // 2026-12-07 is a Monday; Paris is UTC+1 in winter.
        assert!(h.is_open(at("2026-12-07T08:00:00Z")));
        assert!(!h.is_open(at("2026-12-07T11:30:00Z")));
        assert_eq!(
            h.next_open(at("2026-12-07T11:30:00Z")),
            Some(at("2026-12-07T13:00:00Z"))
        );
        assert_eq!(
            h.next_change(at("2026-12-07T08:00:00Z")),
            Some(at("2026-12-07T11:30:00Z"))
        );
        // After Monday's close: next Monday.
        assert_eq!(
            h.next_open(at("2026-12-07T17:00:00Z")),
            Some(at("2026-12-14T08:00:00Z"))
        );
        assert_eq!(h.next_open(at("2026-12-07T08:00:00Z")), None, "open now");
    }

    #[test]
    fn overnight_intervals_end_the_next_day_and_holidays_cut_them_at_midnight() {
        let fri = [iv("fri", "22:00", "02:00")];
        let h = BusinessHours::new("UTC", Some(&fri), &[]).expect("valid");
        // 2026-12-04 is a Friday.
        assert!(h.is_open(at("2026-12-04T23:00:00Z")));
        assert!(h.is_open(at("2026-12-05T01:00:00Z")), "Saturday 01:00");
        assert!(!h.is_open(at("2026-12-05T02:00:00Z")), "closed at 02:00");
        let h = BusinessHours::new("UTC", Some(&fri), &["2026-12-05".into()]).expect("valid");
        assert!(h.is_open(at("2026-12-04T23:59:00Z")));
        assert!(
            !h.is_open(at("2026-12-05T00:00:00Z")),
            "the holiday starts at midnight"
        );
        let h = BusinessHours::new("UTC", Some(&fri), &["2026-12-04".into()]).expect("valid");
        assert!(!h.is_open(at("2026-12-04T23:00:00Z")));
        assert!(
            h.is_open(at("2026-12-05T01:00:00Z")),
            "the tail after the holiday"
        );
        assert_eq!(
            h.next_open(at("2026-12-04T12:00:00Z")),
            Some(at("2026-12-05T00:00:00Z"))
        );
    }

    #[test]
    fn never_and_always() {
        let never = BusinessHours::new("UTC", Some(&[]), &[]).expect("valid");
        assert!(!never.is_open(at("2026-12-07T08:00:00Z")));
        assert_eq!(never.next_open(at("2026-12-07T08:00:00Z")), None);
        assert_eq!(never.next_change(at("2026-12-07T08:00:00Z")), None);
        let always = BusinessHours::new("UTC", None, &[]).expect("valid");
        assert!(always.is_open(at("2026-12-07T08:00:00Z")));
        assert_eq!(always.next_change(at("2026-12-07T08:00:00Z")), None);
        let christmas =
            BusinessHours::new("America/New_York", None, &["2026-12-25".into()]).expect("valid");
        assert!(!christmas.is_open(at("2026-12-25T12:00:00Z")));
        assert_eq!(
            christmas.next_open(at("2026-12-25T12:00:00Z")),
            Some(at("2026-12-26T05:00:00Z")),
            "the next local midnight"
        );
        assert_eq!(
            christmas.next_change(at("2026-12-20T12:00:00Z")),
            Some(at("2026-12-25T05:00:00Z"))
        );
    }

    #[test]
    fn a_skipped_open_opens_after_the_gap_and_a_repeated_one_at_its_first_occurrence() {
        let sun = [iv("sun", "02:30", "04:00")];
        let paris = BusinessHours::new("Europe/Paris", Some(&sun), &[]).expect("valid");
        // 2026-03-29: 02:00 -> 03:00 (01:00Z). 02:30 does not exist.
        assert_eq!(
            paris.next_open(at("2026-03-28T12:00:00Z")),
            Some(at("2026-03-29T01:00:00Z"))
        );
        assert!(paris.is_open(at("2026-03-29T01:00:00Z")));
        assert!(!paris.is_open(at("2026-03-29T02:00:00Z")), "04:00 CEST");
        // 2026-10-25: 03:00 -> 02:00 (01:00Z). 02:30 happens twice.
        assert_eq!(
            paris.next_open(at("2026-10-24T12:00:00Z")),
            Some(at("2026-10-25T00:30:00Z"))
        );
        assert!(
            paris.is_open(at("2026-10-25T02:30:00Z")),
            "still open at the second 02:30"
        );
        assert!(!paris.is_open(at("2026-10-25T03:00:00Z")), "04:00 CET");
        let ny = BusinessHours::new("America/New_York", Some(&sun), &[]).expect("valid");
        // 2026-03-08: 02:00 -> 03:00 (07:00Z).
        assert_eq!(
            ny.next_open(at("2026-03-07T12:00:00Z")),
            Some(at("2026-03-08T07:00:00Z"))
        );
        // 2026-11-01: 02:00 -> 01:00 (06:00Z); 02:30 is once, EST.
        assert_eq!(
            ny.next_open(at("2026-10-31T12:00:00Z")),
            Some(at("2026-11-01T07:30:00Z"))
        );
    }
}
