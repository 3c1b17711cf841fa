//! Property tests of the input validators: arbitrary strings never panic,
//! every refusal is the protocol's shape (a field and a message, or a
//! length refusal), and whatever passes meets the rule it passed.

use parley_domain::{DomainError, input};
use proptest::prelude::*;

/// Any string, biased to the characters validators care about: controls,
/// white space, invisible and bidi characters, emoji, multi-byte letters.
fn text() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '\u{0}',
        '\t',
        '\n',
        '\r',
        ' ',
        '\u{7f}',
        '\u{85}',
        '\u{a0}',
        '\u{200b}',
        '\u{200d}',
        '\u{202e}',
        '\u{2066}',
        '\u{feff}',
        '\u{fe0f}',
        '\u{1f600}',
        '\u{1f1eb}',
        '\u{1f44d}',
        '\u{1f3fd}',
        'é',
        'ß',
        'İ',
        'a',
        'Z',
        '0',
        '_',
        '.',
        '-',
        '%',
        '\\',
    ]);
    prop_oneof![
        any::<String>(),
        prop::collection::vec(special, 0..80).prop_map(|v| v.into_iter().collect()),
    ]
}

#[track_caller]
fn shaped(e: &DomainError, field: &str) {
    match e {
        DomainError::Invalid { field: f, message } => {
            assert_eq!(f, field);
            assert!(!message.is_empty());
        }
        DomainError::TooLarge(m) => assert!(!m.is_empty()),
        other => panic!("a validator refused with {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn usernames(raw in text()) {
        match input::username(&raw) {
            Ok(u) => {
                prop_assert!((3..=32).contains(&u.chars().count()));
                prop_assert!(u.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'));
                prop_assert_eq!(u, raw.to_lowercase());
            }
            Err(e) => shaped(&e, "username"),
        }
    }

    #[test]
    fn passwords(raw in text()) {
        match input::password(&raw) {
            Ok(()) => prop_assert!((8..=256).contains(&raw.chars().count())),
            Err(e) => shaped(&e, "password"),
        }
    }

    #[test]
    fn labels_and_free_text(raw in text(), max in 1usize..120) {
        match input::label("title", &raw, max) {
            Ok(l) => {
                prop_assert!(!l.is_empty() && l.chars().count() <= max);
                prop_assert!(!l.chars().any(|c| c.is_control()));
            }
            Err(e) => shaped(&e, "title"),
        }
        match input::free_text("about", &raw, max) {
            Ok(t) => prop_assert!(t.chars().count() <= max),
            Err(e) => shaped(&e, "about"),
        }
    }

    #[test]
    fn message_texts(raw in text(), max in 1usize..100) {
        match input::message_text(&raw, max) {
            Ok(()) => {
                prop_assert!(!raw.trim().is_empty());
                prop_assert!(raw.trim().chars().count() <= max);
            }
            Err(e) => shaped(&e, "text"),
        }
    }

    #[test]
    fn client_ids_and_ids(raw in text()) {
        match input::client_id(&raw) {
            Ok(()) => prop_assert!((1..=128).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic())),
            Err(e) => shaped(&e, "client_id"),
        }
        if input::id_like(&raw) {
            prop_assert!((1..=64).contains(&raw.len()));
        }
    }

    #[test]
    fn emoji(raw in text()) {
        if let Err(e) = input::emoji(&raw) {
            shaped(&e, "emoji");
        }
    }

    #[test]
    fn urls(raw in text()) {
        match input::url("avatar_url", &raw) {
            Ok(u) => {
                let u = u.to_ascii_lowercase();
                prop_assert!(u.is_empty() || u.starts_with("https://") || u.starts_with("http://") || u.starts_with('/'));
            }
            Err(e) => shaped(&e, "avatar_url"),
        }
    }
}
