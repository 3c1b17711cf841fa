//! One clock for the whole process, and message bodies that carry their
//! send time. The receiving side of every measurement lives in the same
//! process as the sender, so reading the stamp back out of the body gives
//! send-to-receive latency without comparing clocks across processes and
//! without a shared map of in-flight messages.

use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Microseconds since the first call in this process.
pub fn now_us() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// A body of `len` bytes (at least the stamp) that starts with `t<micros>;`.
pub fn stamped_body(sent_us: u64, len: usize) -> String {
    let mut s = format!("t{sent_us};");
    while s.len() < len {
        s.push('x');
    }
    s
}

/// The send time carried by a body made by [`stamped_body`].
pub fn stamp_of(text: &str) -> Option<u64> {
    let rest = text.strip_prefix('t')?;
    let end = rest.find(';')?;
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_pad() {
        let b = stamped_body(12345, 64);
        assert_eq!(b.len(), 64);
        assert_eq!(stamp_of(&b), Some(12345));
        assert_eq!(stamp_of("hello"), None);
        assert_eq!(stamp_of("tx;"), None);
    }
}
