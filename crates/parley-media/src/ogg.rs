//! A minimal Ogg reader: the duration of the first logical stream, when it
//! is Vorbis or Opus.
//!
//! The first page (beginning of stream) holds the codec's identification
//! header: Vorbis states its sample rate; Opus always counts at 48 kHz
//! and states a pre-skip. The duration is the granule position (samples)
//! of the stream's last page. That page is searched for backwards in the
//! last [`TAIL_BYTES`] of the file (a page is at most 65,307 bytes, so the
//! last one starts in there), and a candidate `OggS` is only taken if it
//! parses as a whole page inside the file, belongs to the first page's
//! stream, states a granule position, and its CRC matches: `OggS` in
//! packet data is not taken for a page.
//!
//! Reads are bounded (a page header, 32 bytes of the first packet, one
//! buffer of at most [`TAIL_BYTES`]), so is the CRC work
//! ([`MAX_CRC_BYTES`]); nothing is allocated by a size the file declares. A malformed file is not an error: it only has no
//! duration.

use std::io::{self, Read, Seek, SeekFrom};

/// How much of the end of the file is searched for the last page.
pub(crate) const TAIL_BYTES: u64 = 128 * 1024;
const PAGE_HEADER: usize = 27;
/// Bytes whose CRC is computed in all: candidates in a hostile tail could
/// each claim a page of 64 KiB.
const MAX_CRC_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Vorbis { rate: u32 },
    Opus { pre_skip: u16 },
}

/// The duration in ms of the file `r` of `len` bytes, if it can be read.
pub(crate) fn probe<R: Read + Seek>(r: &mut R, len: u64) -> io::Result<Option<u64>> {
    // The first page: its header, its lacing values, its first packet's
    // start.
    let mut first = [0u8; PAGE_HEADER + 255 + 32];
    r.seek(SeekFrom::Start(0))?;
    let n = read_up_to(r, &mut first)?;
    let first = &first[..n];
    let Some((serial, codec)) = first_page(first) else {
        return Ok(None);
    };

    let start = len.saturating_sub(TAIL_BYTES);
    let Ok(tail_len) = usize::try_from(len - start) else {
        return Ok(None);
    };
    let mut tail = vec![0u8; tail_len];
    r.seek(SeekFrom::Start(start))?;
    let n = read_up_to(r, &mut tail)?;
    let tail = &tail[..n];

    let mut end = tail.len();
    let mut budget = MAX_CRC_BYTES;
    while let Some(at) = tail[..end].windows(4).rposition(|w| w == b"OggS") {
        if let Some(granule) = page_granule(&tail[at..], serial, &mut budget) {
            return Ok(duration_ms(granule, codec));
        }
        if budget == 0 {
            return Ok(None);
        }
        end = at + 3;
    }
    Ok(None)
}

/// The first page's stream serial and codec.
fn first_page(b: &[u8]) -> Option<(u32, Codec)> {
    // "OggS", version 0, beginning of stream.
    if b.get(..5)? != b"OggS\0" || b.get(5)? & 0x02 == 0 {
        return None;
    }
    let serial = le32(b, 14)?;
    let segments = usize::from(*b.get(26)?);
    let packet = b.get(PAGE_HEADER + segments..)?;
    let codec = if packet.get(..7)? == b"\x01vorbis" {
        let rate = le32(packet, 12)?;
        (rate > 0).then_some(Codec::Vorbis { rate })?
    } else if packet.get(..8)? == b"OpusHead" {
        let pre_skip = u16::from_le_bytes(packet.get(10..12)?.try_into().ok()?);
        Codec::Opus { pre_skip }
    } else {
        return None;
    };
    Some((serial, codec))
}

/// The granule position of the page at the start of `b`, if it is a whole
/// page of stream `serial` with a granule position and a matching CRC
/// (whose bytes are taken from `budget`).
fn page_granule(b: &[u8], serial: u32, budget: &mut usize) -> Option<u64> {
    if b.get(4)? != &0 || le32(b, 14)? != serial {
        return None;
    }
    let segments = usize::from(*b.get(26)?);
    let lacing = b.get(PAGE_HEADER..PAGE_HEADER + segments)?;
    let body: usize = lacing.iter().map(|&l| usize::from(l)).sum();
    let page = b.get(..PAGE_HEADER + segments + body)?;
    let stated = le32(page, 22)?;
    if page.len() > *budget {
        *budget = 0;
        return None;
    }
    *budget -= page.len();
    let crc = crc_update(crc_update(crc_update(0, &page[..22]), &[0; 4]), &page[26..]);
    if crc != stated {
        return None;
    }
    let granule = u64::from_le_bytes(page.get(6..14)?.try_into().ok()?);
    // -1: no packet ends on this page.
    (granule != u64::MAX).then_some(granule)
}

fn duration_ms(granule: u64, codec: Codec) -> Option<u64> {
    let (samples, rate) = match codec {
        Codec::Vorbis { rate } => (granule, rate),
        Codec::Opus { pre_skip } => (granule.saturating_sub(u64::from(pre_skip)), 48_000),
    };
    let ms = u128::from(samples) * 1000 / u128::from(rate);
    u64::try_from(ms).ok().filter(|&ms| ms > 0)
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Ogg's CRC-32: polynomial 0x04C11DB7, not reflected, starting at 0,
/// nothing XORed at the end.
pub(crate) fn crc_update(mut crc: u32, data: &[u8]) -> u32 {
    for &byte in data {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Fills as much of `buf` as the file has.
fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::fixtures::{OGG_SERIAL, OggCodec, ogg};
    use std::io::Cursor;

    fn run(bytes: &[u8]) -> Option<u64> {
        probe(&mut Cursor::new(bytes), bytes.len() as u64).expect("probe")
    }

    #[test]
    fn crc_check_value() {
        // CRC-32/CKSUM's check value without its final XOR.
        assert_eq!(crc_update(0, b"123456789"), !0x765E_7680);
    }

    #[test]
    fn vorbis_and_opus_durations() {
        // 44.1 kHz, 3 s.
        assert_eq!(
            run(&ogg(OggCodec::Vorbis(44_100), 132_300, &[])),
            Some(3000)
        );
        // 48 kHz after a pre-skip of 312: 2.5 s.
        assert_eq!(run(&ogg(OggCodec::Opus(312), 120_312, &[])), Some(2500));
    }

    #[test]
    fn oggs_in_packet_data_is_not_a_page() {
        // The last packet holds a fake page header claiming 10 hours.
        let mut fake = b"OggS\0\0".to_vec();
        fake.extend_from_slice(&(48_000u64 * 36_000).to_le_bytes());
        fake.extend_from_slice(&OGG_SERIAL.to_le_bytes());
        fake.extend_from_slice(&[0; 10]);
        assert_eq!(run(&ogg(OggCodec::Opus(0), 96_000, &fake)), Some(2000));
    }

    #[test]
    fn cut_or_corrupted_or_other_streams_are_harmless() {
        let file = ogg(OggCodec::Vorbis(8_000), 16_000, b"some audio");
        assert_eq!(run(&file), Some(2000));
        for cut in 0..file.len() {
            let d = run(&file[..cut]);
            // The last page cut: an earlier page's granule, or none.
            assert!(d.is_none_or(|d| d <= 2000), "cut {cut}: {d:?}");
        }
        let mut bad = file.clone();
        for at in 0..bad.len() {
            let was = bad[at];
            bad[at] ^= 0x5A;
            assert!(
                run(&bad).is_none_or(|d| d <= 2000 || (40..44).contains(&at)),
                "at {at}"
            );
            bad[at] = was;
        }
        // A tail of fake page headers, each claiming a 64 KiB page: the
        // CRC budget ends the search.
        let mut hostile = ogg(OggCodec::Opus(0), 96_000, b"");
        let mut fake = b"OggS\0\0".to_vec();
        fake.extend_from_slice(&[0; 8]);
        fake.extend_from_slice(&OGG_SERIAL.to_le_bytes());
        fake.extend_from_slice(&[0; 8]);
        fake.push(255);
        fake.extend_from_slice(&[255; 255]);
        while hostile.len() < 200_000 {
            hostile.extend_from_slice(&fake);
        }
        let started = std::time::Instant::now();
        assert_eq!(run(&hostile), None);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));

        // Not Vorbis or Opus.
        let mut other = file.clone();
        other[28..35].copy_from_slice(b"\x80theora");
        assert_eq!(run(&other), None);
    }
}
