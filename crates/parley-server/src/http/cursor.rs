//! Opaque pagination cursors (protocol.md §1): URL-safe base64 of a keyset
//! position, so clients never parse them and the server can change them.

use crate::error::{AppError, AppResult};
use base64::Engine as _;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn bad() -> AppError {
    AppError::invalid("cursor", "invalid cursor")
}

/// A position after a single key (a username, a user id).
pub fn encode_key(key: &str) -> String {
    B64.encode(key)
}

pub fn decode_key(raw: Option<&str>) -> AppResult<Option<String>> {
    match raw.filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => B64
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(bad),
    }
}

/// A position in a list ordered by (time, id).
pub fn encode_keyset(ms: i64, id: &str) -> String {
    B64.encode(format!("{ms}|{id}"))
}

pub fn decode_keyset(raw: Option<&str>) -> AppResult<Option<(i64, String)>> {
    let Some(text) = decode_key(raw)? else {
        return Ok(None);
    };
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    Ok(Some((at.parse().map_err(|_| bad())?, id.to_string())))
}

/// A position in a per-conversation list: a message's seq and a position
/// within the message.
pub fn encode_position(seq: u64, position: u32) -> String {
    B64.encode(format!("{seq}.{position}"))
}

pub fn decode_position(raw: Option<&str>) -> AppResult<Option<(u64, u32)>> {
    let Some(text) = decode_key(raw)? else {
        return Ok(None);
    };
    let (seq, position) = text.split_once('.').ok_or_else(bad)?;
    Ok(Some((
        seq.parse().map_err(|_| bad())?,
        position.parse().map_err(|_| bad())?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip() {
        let c = encode_position(7, 3);
        assert_eq!(decode_position(Some(&c)).ok().flatten(), Some((7, 3)));
        assert!(decode_position(Some(&encode_key("7"))).is_err());
        assert!(decode_position(Some(&encode_key("x.1"))).is_err());
        assert!(decode_position(Some(&encode_key("1.-1"))).is_err());
    }

    #[test]
    fn round_trips_and_refuses_garbage() {
        let c = encode_keyset(42, "abc");
        assert_eq!(
            decode_keyset(Some(&c)).ok().flatten(),
            Some((42, "abc".to_string()))
        );
        assert!(decode_keyset(Some("%%%")).is_err());
        assert!(decode_keyset(Some(&encode_key("no-separator"))).is_err());
        assert_eq!(decode_key(None).ok().flatten(), None);
    }
}

/// Arbitrary cursors never panic and are refused in the protocol's shape;
/// every cursor we hand out reads back as the position it encodes.
#[cfg(test)]
mod props {
    use super::*;
    use parley_protocol::ErrorCode;
    use proptest::prelude::*;

    fn refused_as_cursor(e: &AppError) -> bool {
        matches!(e, AppError::Invalid { field: Some(f), .. } if f == "cursor")
            && e.to_api().code == ErrorCode::InvalidRequest
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_cursors_are_refused_cleanly(raw in any::<String>()) {
            if let Err(e) = decode_key(Some(&raw)) {
                prop_assert!(refused_as_cursor(&e));
            }
            if let Err(e) = decode_keyset(Some(&raw)) {
                prop_assert!(refused_as_cursor(&e));
            }
        }

        #[test]
        fn cursors_round_trip(ms in any::<i64>(), id in any::<String>()) {
            // An empty key encodes to the empty cursor: the first page.
            let expected = (!id.is_empty()).then(|| id.clone());
            prop_assert_eq!(decode_key(Some(&encode_key(&id))).ok().flatten(), expected);
            prop_assert_eq!(decode_keyset(Some(&encode_keyset(ms, &id))).ok().flatten(), Some((ms, id)));
        }
    }
}
