//! Wire timestamps: RFC 3339, UTC, milliseconds (`2026-11-22T16:30:53.123Z`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use time::{OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};

/// Milliseconds since the Unix epoch, written on the wire as RFC 3339 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the range RFC 3339
/// can write with a four-digit year.
const MIN_MS: i64 = -62_135_596_800_000;
const MAX_MS: i64 = 253_402_300_799_999;

impl Timestamp {
    /// The latest time the wire format can carry ("forever", for mutes).
    pub const MAX: Timestamp = Timestamp(MAX_MS);

    pub fn now() -> Self {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        Timestamp((nanos / 1_000_000) as i64)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    /// Parses RFC 3339; `None` if malformed or outside years 1-9999 in UTC.
    pub fn parse(s: &str) -> Option<Self> {
        let dt = OffsetDateTime::parse(s, &Rfc3339).ok()?;
        let ms = i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).ok()?;
        (MIN_MS..=MAX_MS).contains(&ms).then_some(Timestamp(ms))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fmt = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        // Clamped so that formatting cannot fail: serde_json panics when a
        // Display impl returns an error.
        let ms = self.0.clamp(MIN_MS, MAX_MS);
        match OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .ok()
            .and_then(|dt| dt.format(&fmt).ok())
        {
            Some(s) => f.write_str(&s),
            None => f.write_str("1970-01-01T00:00:00.000Z"),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s)
            .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp"))
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .examples(["2026-11-22T16:30:53.123Z"])
            .into()
    }
}
impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_milliseconds() {
        let t = Timestamp(1_795_000_253_123);
        let s = t.to_string();
        assert!(s.ends_with(".123Z"), "{s}");
        assert_eq!(Timestamp::parse(&s), Some(t));
    }

    #[test]
    fn refuses_years_outside_rfc3339_and_never_fails_to_print() {
        assert_eq!(Timestamp::parse("9999-12-31T23:59:59.999-23:59"), None);
        assert_eq!(Timestamp::parse("0000-01-01T00:00:00+23:59"), None);
        assert!(Timestamp::parse("9999-12-31T23:59:59.999Z").is_some());
        assert_eq!(Timestamp(i64::MAX).to_string(), "9999-12-31T23:59:59.999Z");
        assert_eq!(Timestamp(i64::MIN).to_string(), "0001-01-01T00:00:00.000Z");
    }

    #[test]
    fn parses_offsets_into_utc() {
        let a = Timestamp::parse("2026-11-22T17:30:53.123+01:00");
        let b = Timestamp::parse("2026-11-22T16:30:53.123Z");
        assert_eq!(a, b);
        assert!(a.is_some());
    }
}
