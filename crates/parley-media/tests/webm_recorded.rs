//! `inspect` on WebM files recorded by Chromium's MediaRecorder (a canvas
//! at 30 fps, an oscillator; `tests/data/`, made with playwright-core).
//! They state no Duration and have an unknown-size Segment and Clusters,
//! and Chromium writes BlockGroups (with BlockAdditions) for VP8 and VP9.
//! Chromium itself (a `<video>` seeked to the end, its duration being
//! Infinity before) gives them 1,967 ms, 1,979 ms and 1,398 ms, the same as
//! the last block's timestamp read here.

use std::path::PathBuf;

use parley_domain::media::MediaLimits;
use parley_media::inspect;
use parley_protocol::MediaKind;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A file, Chromium's duration, its width and height, its served type.
type Recorded = (&'static str, u64, Option<(u32, u32)>, &'static str);

const RECORDED: [Recorded; 3] = [
    (
        "chromium-vp8-160x120.webm",
        1967,
        Some((160, 120)),
        "video/webm",
    ),
    (
        "chromium-vp9-160x120.webm",
        1979,
        Some((160, 120)),
        "video/webm",
    ),
    // A voice note: only an audio track.
    ("chromium-opus.webm", 1398, None, "audio/webm"),
];

#[test]
fn chromium_recordings() {
    for (name, browser_ms, size, mime) in RECORDED {
        let i = inspect(&data(name), &MediaLimits::default()).expect("inspect");
        assert_eq!(i.mime, mime, "{name}");
        let kind = if size.is_some() {
            MediaKind::Video
        } else {
            MediaKind::Audio
        };
        assert_eq!(i.kind, kind, "{name}");
        assert_eq!(i.width.zip(i.height), size, "{name}");
        assert_eq!(i.duration_ms, Some(browser_ms), "{name}");
    }
}
