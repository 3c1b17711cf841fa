//! Notification preferences (protocol.md §12): what a patch may say, how
//! it applies, and whether do not disturb holds at a moment.

use crate::error::{DomainError, DomainResult};
use jiff::tz::TimeZone;
use parley_protocol::Timestamp;
use parley_protocol::notifications::{NotificationPrefs, NotificationPrefsPatch, QuietHours};

/// The furthest ahead `dnd_until` may be.
pub const MAX_DND_MS: i64 = 366 * 24 * 3_600_000;

const BAD_DND: &str = "dnd_until must be a time within a year from now, or null";
const BAD_QUIET: &str = "quiet_hours must be {from, to, time_zone}: two different HH:MM times and an IANA time zone, or null";

/// `HH:MM` (24-hour) as minutes after midnight.
fn minutes(hhmm: &str) -> Option<u16> {
    let (h, m) = hhmm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// The patch a client sent, checked and normalised, at `now_ms`: a
/// `dnd_until` in the past clears it.
pub fn checked(
    mut patch: NotificationPrefsPatch,
    now_ms: i64,
) -> DomainResult<NotificationPrefsPatch> {
    if let Some(Some(until)) = patch.dnd_until {
        if until.millis() > now_ms.saturating_add(MAX_DND_MS) {
            return Err(DomainError::invalid("dnd_until", BAD_DND));
        }
        if until.millis() <= now_ms {
            patch.dnd_until = Some(None);
        }
    }
    if let Some(Some(q)) = &patch.quiet_hours {
        let bad = || DomainError::invalid("quiet_hours", BAD_QUIET);
        let (from, to) = (
            minutes(&q.from).ok_or_else(bad)?,
            minutes(&q.to).ok_or_else(bad)?,
        );
        if from == to || q.time_zone.len() > 64 || TimeZone::get(&q.time_zone).is_err() {
            return Err(bad());
        }
    }
    Ok(patch)
}

/// The preferences after `patch`: each field it names replaces the stored
/// one, the others stay.
pub fn apply(prefs: NotificationPrefs, patch: NotificationPrefsPatch) -> NotificationPrefs {
    NotificationPrefs {
        push: patch.push.unwrap_or(prefs.push),
        email: patch.email.unwrap_or(prefs.email),
        previews: patch.previews.unwrap_or(prefs.previews),
        dnd_until: patch.dnd_until.unwrap_or(prefs.dnd_until),
        quiet_hours: patch.quiet_hours.unwrap_or(prefs.quiet_hours),
    }
}

/// Whether `q` holds at `now_ms`. A zone that no longer resolves (the
/// time zone database changed) holds nothing.
fn in_quiet_hours(q: &QuietHours, now_ms: i64) -> bool {
    let (Some(from), Some(to)) = (minutes(&q.from), minutes(&q.to)) else {
        return false;
    };
    let Ok(tz) = TimeZone::get(&q.time_zone) else {
        return false;
    };
    let Ok(at) = jiff::Timestamp::from_millisecond(now_ms) else {
        return false;
    };
    let local = at.to_zoned(tz);
    let now = local.hour() as u16 * 60 + local.minute() as u16;
    if from < to {
        from <= now && now < to
    } else {
        now >= from || now < to
    }
}

/// Whether do not disturb holds for `prefs` at `now_ms`: paused until a
/// later time, or within the quiet hours.
pub fn do_not_disturb(prefs: &NotificationPrefs, now_ms: i64) -> bool {
    prefs
        .dnd_until
        .is_some_and(|until: Timestamp| until.millis() > now_ms)
        || prefs
            .quiet_hours
            .as_ref()
            .is_some_and(|q| in_quiet_hours(q, now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_protocol::notifications::{EmailPreference, PushPreference};

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let base = NotificationPrefs::default();
        let p = apply(
            base,
            NotificationPrefsPatch {
                push: Some(PushPreference::Mentions),
                ..Default::default()
            },
        );
        assert_eq!(p.push, PushPreference::Mentions);
        assert_eq!(p.email, EmailPreference::Digest);
        assert!(p.previews);
        let q = apply(
            p,
            NotificationPrefsPatch {
                previews: Some(false),
                email: Some(EmailPreference::Off),
                dnd_until: Some(Some(Timestamp(5))),
                ..Default::default()
            },
        );
        assert_eq!(
            q,
            NotificationPrefs {
                push: PushPreference::Mentions,
                email: EmailPreference::Off,
                previews: false,
                dnd_until: Some(Timestamp(5)),
                quiet_hours: None,
            }
        );
        assert_eq!(apply(q.clone(), NotificationPrefsPatch::default()), q);
        let cleared = apply(
            q,
            NotificationPrefsPatch {
                dnd_until: Some(None),
                ..Default::default()
            },
        );
        assert_eq!(cleared.dnd_until, None, "null clears");
    }

    fn quiet(from: &str, to: &str, tz: &str) -> QuietHours {
        QuietHours {
            from: from.into(),
            to: to.into(),
            time_zone: tz.into(),
        }
    }

    fn at(rfc3339: &str) -> i64 {
        Timestamp::parse(rfc3339).expect("a time").millis()
    }

    #[test]
    fn patches_are_checked() {
        let now = at("2026-12-05T12:00:00.000Z");
        let ok = |q: QuietHours| {
            checked(
                NotificationPrefsPatch {
                    quiet_hours: Some(Some(q)),
                    ..Default::default()
                },
                now,
            )
        };
        assert!(ok(quiet("22:00", "07:30", "Europe/Berlin")).is_ok());
        for bad in [
            quiet("22:00", "22:00", "UTC"),
            quiet("24:00", "07:00", "UTC"),
            quiet("7:00", "08:00", "UTC"),
            quiet("07:60", "08:00", "UTC"),
            quiet("22:00", "07:00", "Mars/Olympus"),
        ] {
            assert!(ok(bad.clone()).is_err(), "{bad:?}");
        }
        let dnd = |until: i64| {
            checked(
                NotificationPrefsPatch {
                    dnd_until: Some(Some(Timestamp(until))),
                    ..Default::default()
                },
                now,
            )
        };
        assert_eq!(
            dnd(now + 3_600_000).map(|p| p.dnd_until).ok(),
            Some(Some(Some(Timestamp(now + 3_600_000))))
        );
        assert_eq!(
            dnd(now - 1).map(|p| p.dnd_until).ok(),
            Some(Some(None)),
            "a time past clears it"
        );
        assert!(dnd(now + MAX_DND_MS + 1).is_err());
    }

    #[test]
    fn do_not_disturb_holds_while_paused_and_in_quiet_hours_across_midnight_and_dst() {
        let mut p = NotificationPrefs {
            dnd_until: Some(Timestamp(at("2026-12-05T13:00:00.000Z"))),
            ..Default::default()
        };
        assert!(do_not_disturb(&p, at("2026-12-05T12:59:59.000Z")));
        assert!(!do_not_disturb(&p, at("2026-12-05T13:00:00.000Z")));
        p.dnd_until = None;
        p.quiet_hours = Some(quiet("22:00", "07:00", "Europe/Berlin"));
        // Berlin is UTC+1 in December.
        assert!(!do_not_disturb(&p, at("2026-12-05T20:59:00.000Z")));
        assert!(do_not_disturb(&p, at("2026-12-05T21:00:00.000Z")));
        assert!(do_not_disturb(&p, at("2026-12-06T05:59:00.000Z")));
        assert!(!do_not_disturb(&p, at("2026-12-06T06:00:00.000Z")));
        // UTC+2 in July: the same local hours, an hour earlier in UTC.
        assert!(do_not_disturb(&p, at("2026-07-05T20:00:00.000Z")));
        assert!(!do_not_disturb(&p, at("2026-07-06T05:00:00.000Z")));
        p.quiet_hours = Some(quiet("12:00", "13:30", "UTC"));
        assert!(do_not_disturb(&p, at("2026-12-05T13:29:00.000Z")));
        assert!(!do_not_disturb(&p, at("2026-12-05T13:30:00.000Z")));
        assert!(!do_not_disturb(&p, at("2026-12-05T11:59:00.000Z")));
    }
}
