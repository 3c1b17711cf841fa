//! The business-hours calendar against a brute-force reference written
//! apart from it: random calendars in zones with DST changes (including
//! Lord Howe's 30-minute one), 10,000 random instants of 2026 concentrated
//! around the transitions, and `is_open`, `next_open` and `next_change`
//! checked against what the reference says at and around the answers.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, Disambiguation, TimeZone};
use parley_domain::support::hours::BusinessHours;
use parley_protocol::Timestamp;
use parley_protocol::support::HoursInterval;
use proptest::prelude::*;

const ZONES: [&str; 6] = [
    "Europe/Paris",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Apia",
    "UTC",
];
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Instants DST changes happen near in 2026 (UTC millis), and plain days.
fn anchors() -> Vec<i64> {
    [
        "2026-03-08T07:00:00Z", // New York springs forward
        "2026-03-29T01:00:00Z", // Paris springs forward
        "2026-04-04T15:00:00Z", // Lord Howe falls back (30 min)
        "2026-10-03T15:30:00Z", // Lord Howe springs forward
        "2026-10-25T01:00:00Z", // Paris falls back
        "2026-11-01T06:00:00Z", // New York falls back
        "2026-06-15T12:00:00Z",
        "2026-12-24T12:00:00Z",
    ]
    .iter()
    .map(|s| Timestamp::parse(s).expect("anchor").millis())
    .collect()
}

#[derive(Debug, Clone)]
struct Calendar {
    zone: &'static str,
    hours: Vec<HoursInterval>,
    holidays: Vec<String>,
}

fn hhmm(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

fn calendar() -> impl Strategy<Value = Calendar> {
    // Half of the intervals sit on Sundays around 01:30-03:30 (and
    // Saturday evenings for Lord Howe's), where the clocks change.
    let dst = (prop::sample::select(vec![5usize, 6]), 3u16..8, 1u16..5)
        .prop_map(|(d, open, len)| (d, if d == 5 { open + 30 } else { open }, len));
    let any = (0usize..7, 0u16..48, 1u16..48);
    let interval = prop_oneof![dst, any].prop_map(|(d, open, len)| {
        // Half-hour steps so that opens land in gaps and folds often.
        let open = open * 30;
        let close = (open + len * 30) % (24 * 60);
        let close = if close == open {
            (open + 30) % (24 * 60)
        } else {
            close
        };
        HoursInterval {
            day: DAYS[d].to_string(),
            open: hhmm(open),
            close: if close == 0 {
                "24:00".to_string()
            } else {
                hhmm(close)
            },
        }
    });
    let holiday = (0i64..365).prop_map(|d| {
        Date::new(2026, 1, 1)
            .expect("date")
            .checked_add(jiff::Span::new().days(d))
            .expect("in 2026")
            .to_string()
    });
    (
        0usize..ZONES.len(),
        prop::collection::vec(interval, 1..6),
        prop::collection::vec(holiday, 0..4),
    )
        .prop_map(|(z, hours, holidays)| Calendar {
            zone: ZONES[z],
            hours,
            holidays,
        })
}

/// The reference: at `ms`, is some interval occurrence around it open, and
/// is its local date not a holiday?
fn reference(c: &Calendar, ms: i64) -> bool {
    let tz = TimeZone::get(c.zone).expect("zone");
    let ts = jiff::Timestamp::from_millisecond(ms).expect("ts");
    let local = tz.to_datetime(ts).date();
    if c.holidays.contains(&local.to_string()) {
        return false;
    }
    let resolve = |d: Date, minutes: u32| -> i64 {
        let day = d
            .checked_add(jiff::Span::new().days(i64::from(minutes / 1440)))
            .expect("day");
        let m = minutes % 1440;
        let dt = DateTime::from_parts(
            day,
            Time::new((m / 60) as i8, (m % 60) as i8, 0, 0).expect("time"),
        );
        // By definition: the first instant whose wall clock reads `dt` or
        // later (the first occurrence in a fold, the end of a gap), found
        // by walking minutes from well before it. A time that occurs once
        // is that one instant (nothing earlier reads later, or it would
        // occur twice).
        let ambiguous = tz.to_ambiguous_timestamp(dt);
        let guess = ambiguous
            .disambiguate(Disambiguation::Compatible)
            .expect("resolves")
            .as_millisecond();
        if matches!(ambiguous.offset(), AmbiguousOffset::Unambiguous { .. }) {
            return guess;
        }
        let mut t = guess - 3 * 3_600_000;
        loop {
            let local = tz.to_datetime(jiff::Timestamp::from_millisecond(t).expect("ts"));
            if local >= dt {
                return t;
            }
            t += 60_000;
        }
    };
    let minutes = |s: &str| -> u32 {
        let (h, m) = s.split_once(':').expect("HH:MM");
        h.parse::<u32>().expect("h") * 60 + m.parse::<u32>().expect("m")
    };
    for back in -2i64..=1 {
        let d = local
            .checked_add(jiff::Span::new().days(back))
            .expect("date");
        let weekday = DAYS[d.weekday().to_monday_zero_offset() as usize];
        for i in c.hours.iter().filter(|i| i.day == weekday) {
            let open = minutes(&i.open);
            let mut close = minutes(&i.close);
            if close <= open {
                close += 1440;
            }
            let (s, e) = (resolve(d, open), resolve(d, close));
            if s <= ms && ms < e {
                return true;
            }
        }
    }
    false
}

fn build(c: &Calendar) -> BusinessHours {
    BusinessHours::new(c.zone, Some(&c.hours), &c.holidays).expect("valid calendar")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// 1,000 calendars x 10 instants = 10,000 instants.
    #[test]
    fn the_calendar_agrees_with_the_brute_force_reference(
        c in calendar(),
        anchor in 0usize..8,
        offsets in prop::collection::vec(prop_oneof![
            -3i64 * 86_400_000..3 * 86_400_000,
            -6i64 * 3_600_000..6 * 3_600_000,
        ], 10),
        probes in prop::collection::vec(0.0f64..1.0, 12),
    ) {
        let hours = build(&c);
        let base = anchors()[anchor];
        for off in offsets {
            // Whole minutes, and sometimes exactly on a half hour, where
            // intervals begin and end.
            let at = base + off - off.rem_euclid(60_000);
            let open = reference(&c, at);
            prop_assert_eq!(hours.is_open(Timestamp(at)), open, "is_open at {}", Timestamp(at));
            if let Some(n) = hours.next_change(Timestamp(at)) {
                let n = n.millis();
                prop_assert!(n > at);
                prop_assert_eq!(reference(&c, n), !open, "changes at {}", Timestamp(n));
                prop_assert_eq!(reference(&c, n - 1), open, "not before {}", Timestamp(n));
                for p in &probes {
                    let between = at + ((n - at) as f64 * p) as i64;
                    if between < n {
                        prop_assert_eq!(reference(&c, between), open, "no change before {} (at {})", Timestamp(n), Timestamp(between));
                    }
                }
            }
            match hours.next_open(Timestamp(at)) {
                Some(n) => {
                    prop_assert!(!open, "next_open is None while open");
                    prop_assert!(reference(&c, n.millis()));
                }
                None if !open => {
                    // Never opening again: nothing within the next 9 days
                    // (holidays cover at most 4 dates here).
                    for h in 0..(9 * 24 / 3) {
                        let later = at + i64::from(h) * 3 * 3_600_000;
                        prop_assert!(!reference(&c, later), "open at {} but next_open is None", Timestamp(later));
                    }
                }
                None => {}
            }
        }
    }
}
