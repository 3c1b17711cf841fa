//! A minimal Matroska/WebM (EBML) reader: the duration and the first video
//! track's size.
//!
//! The path read: the EBML header (its DocType must be `webm` or
//! `matroska`), then the Segment's `Info` (`TimestampScale`, `Duration`)
//! and `Tracks/TrackEntry` (`TrackType`, `Video/PixelWidth`,
//! `Video/PixelHeight`), up to the first Cluster.
//!
//! Browser recordings (Chromium's MediaRecorder) state no `Duration` and
//! write the Segment and Clusters with an unknown size. For those the
//! duration is that of the last block: the last Cluster's `Timestamp` plus
//! the largest relative timecode (plus `BlockDuration`, when a BlockGroup
//! has one) of its blocks. The blocks are first walked from the first
//! Cluster to the end of the Segment, each block's header read and its
//! payload skipped, within the budget of [`MAX_ELEMENTS`] headers (a few
//! minutes of video and audio; Chromium writes one Cluster per keyframe
//! or 32 s, so its Clusters can be many MiB). If that does not reach the
//! end (a longer recording, or something broken on the way), the last
//! Cluster is looked for in the last [`TAIL_BYTES`] of the Segment, so the
//! cost does not grow with the file (a 100 MiB upload of audio has a
//! million blocks). A Cluster ID found there may be payload
//! bytes, so a candidate is only taken if a strict walk from it (only
//! Cluster children that a Cluster holds, blocks that parse, sizes that
//! fit) goes through Cluster after Cluster to the end of the Segment; the
//! first candidate (lowest offset) that does so wins, and its chain
//! steps over the blocks' payloads, so a Cluster ID inside a later
//! payload is never looked at. A file with too many blocks to walk whose
//! last Cluster starts before the tail, or that is cut in the middle of an
//! element, yields no duration.
//! This duration is the last block's start (or end, with a
//! `BlockDuration`): short by at most one frame, and what Chromium itself
//! reports for its recordings (`tests/webm_recorded.rs`).
//!
//! It never allocates by a declared size (reads go through one buffer of
//! [`CACHE_BYTES`]), reads at most [`VALUE_BYTES`] of a value, visits at
//! most [`MAX_ELEMENTS`] element headers and reads at most
//! [`MAX_READ_BYTES`], from the start and again in the tail. A malformed
//! file is not an error: it only yields less information.

use std::io::{self, Read, Seek, SeekFrom};

/// Element headers visited by the walk from the start (the headers, the
/// Clusters), and again by the search in the tail (every candidate's
/// walk): bounds the work on a hostile file.
pub(crate) const MAX_ELEMENTS: u32 = 100_000;
/// How much of the Segment's end is searched for the last Cluster.
pub(crate) const TAIL_BYTES: u64 = 2 * 1024 * 1024;
/// The read buffer.
const CACHE_BYTES: usize = 64 * 1024;
/// Bytes read into the buffer by the walk from the start, and again by
/// the search in the tail: more than [`MAX_ELEMENTS`] refills of
/// [`SMALL_FILL`] (one per header, blocks being far apart), but a hostile
/// tail could otherwise make each candidate's walk move the buffer away
/// from the scan and back without end.
pub(crate) const MAX_READ_BYTES: u64 = 64 * 1024 * 1024;
/// What a header or value read refills of the buffer (a few small blocks'
/// headers).
const SMALL_FILL: usize = 512;
/// The most read of a value (a DocType, a number, the start of a block).
const VALUE_BYTES: usize = 16;

const EBML: u32 = 0x1A45_DFA3;
const DOC_TYPE: u32 = 0x4282;
const SEGMENT: u32 = 0x1853_8067;
const INFO: u32 = 0x1549_A966;
const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
const DURATION: u32 = 0x4489;
const TRACKS: u32 = 0x1654_AE6B;
const TRACK_ENTRY: u32 = 0xAE;
const TRACK_TYPE: u32 = 0x83;
/// TrackType values.
const VIDEO_TRACK: u64 = 1;
const AUDIO_TRACK: u64 = 2;
const VIDEO: u32 = 0xE0;
const PIXEL_WIDTH: u32 = 0xB0;
const PIXEL_HEIGHT: u32 = 0xBA;
const CLUSTER: u32 = 0x1F43_B675;
const TIMESTAMP: u32 = 0xE7;
const SIMPLE_BLOCK: u32 = 0xA3;
const BLOCK_GROUP: u32 = 0xA0;
const BLOCK: u32 = 0xA1;
const BLOCK_DURATION: u32 = 0x9B;
const VOID: u32 = 0xEC;
const CRC32: u32 = 0xBF;
/// Cluster children other than the timestamp and blocks.
const CLUSTER_OTHER: [u32; 5] = [
    VOID, CRC32, 0xA7, /* Position */
    0xAB, /* PrevSize */
    0xAF, /* EncryptedBlock */
];
/// Segment children that may follow the last Cluster (or end an
/// unknown-size one).
const SEGMENT_CHILDREN: [u32; 7] = [
    0x114D_9B74, // SeekHead
    INFO,
    TRACKS,
    0x1C53_BB6B, // Cues
    0x1254_C367, // Tags
    0x1043_A770, // Chapters
    0x1941_A469, // Attachments
];

/// A video track's width and height, in pixels.
type Size = (u32, u32);

/// What the container states.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WebmInfo {
    pub duration_ms: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Tracks were read and every one is audio (TrackType 2): a voice
    /// note, which sniffing cannot tell from a video.
    pub audio_only: bool,
}

/// Reads what it can from the file `r` of `len` bytes.
pub(crate) fn probe<R: Read + Seek>(r: &mut R, len: u64) -> io::Result<WebmInfo> {
    let mut src = Source {
        r,
        len,
        // No more than the file (many uploads are small).
        cache: vec![0u8; usize::try_from(len).map_or(CACHE_BYTES, |l| l.min(CACHE_BYTES))],
        cache_at: 0,
        cache_len: 0,
        elements: 0,
        read: 0,
    };
    src.probe()
}

/// An element header: its ID (marker kept), where its data starts, and
/// its size (`None`: unknown).
#[derive(Debug, Clone, Copy)]
struct Header {
    id: u32,
    data: u64,
    size: Option<u64>,
}

impl Header {
    /// The end of its data, if its size is known and it fits before `end`.
    fn end_within(&self, end: u64) -> Option<u64> {
        let e = self.data.checked_add(self.size?)?;
        (e <= end).then_some(e)
    }
}

struct Source<'a, R> {
    r: &'a mut R,
    len: u64,
    cache: Vec<u8>,
    cache_at: u64,
    cache_len: usize,
    elements: u32,
    /// Bytes read into the cache so far.
    read: u64,
}

impl<R: Read + Seek> Source<'_, R> {
    fn probe(&mut self) -> io::Result<WebmInfo> {
        let mut info = WebmInfo::default();
        let Some(ebml) = self.header(0, self.len)? else {
            return Ok(info);
        };
        let Some(ebml_end) = ebml.end_within(self.len).filter(|_| ebml.id == EBML) else {
            return Ok(info);
        };
        if !self.doc_type_ok(ebml.data, ebml_end)? {
            return Ok(info);
        }
        let Some(segment) = self.header(ebml_end, self.len)? else {
            return Ok(info);
        };
        if segment.id != SEGMENT {
            return Ok(info);
        }
        // Unknown size (live recorders), or more than the file (cut): the
        // file's end.
        let seg_end = segment
            .data
            .checked_add(segment.size.unwrap_or(u64::MAX))
            .map_or(self.len, |e| e.min(self.len));

        let mut scale: u64 = 1_000_000;
        let mut duration: Option<f64> = None;
        let mut pos = segment.data;
        let mut first_cluster = None;
        while let Some(h) = self.header(pos, seg_end)? {
            if h.id == CLUSTER {
                first_cluster = Some(pos);
                break;
            }
            // Only a Segment and a Cluster may have an unknown size.
            let Some(end) = h.end_within(seg_end) else {
                break;
            };
            match h.id {
                INFO => {
                    let (s, d) = self.read_info(h.data, end)?;
                    scale = s;
                    duration = d;
                }
                TRACKS => {
                    let (size, audio_only) = self.read_tracks(h.data, end)?;
                    if info.width.is_none()
                        && let Some((w, hh)) = size
                    {
                        info.width = Some(w);
                        info.height = Some(hh);
                    }
                    info.audio_only = audio_only;
                }
                _ => {}
            }
            pos = end;
        }
        if scale == 0 {
            return Ok(info);
        }
        // A Duration that is no use (zero, negative, not finite) is as
        // none.
        info.duration_ms = match duration.and_then(|d| ticks_f64_to_ms(d, scale)) {
            Some(ms) => Some(ms),
            None => {
                // From the first Cluster (certain, but bounded by the
                // element budget: enough for a few minutes of video), else
                // from the tail (any length, if the last Cluster starts in
                // it). Each has the whole budget.
                let mut ticks = None;
                if let Some(first) = first_cluster {
                    ticks = self.chain(first, seg_end)?;
                }
                if ticks.is_none() {
                    self.elements = 0;
                    self.read = 0;
                    ticks = self.last_block_ticks(segment.data, seg_end)?;
                }
                ticks.and_then(|t| ticks_to_ms(t, scale))
            }
        };
        Ok(info)
    }

    /// Whether the EBML header's DocType is `webm` or `matroska`.
    fn doc_type_ok(&mut self, start: u64, end: u64) -> io::Result<bool> {
        let mut pos = start;
        while let Some(h) = self.header(pos, end)? {
            let Some(e) = h.end_within(end) else {
                return Ok(false);
            };
            if h.id == DOC_TYPE {
                let (buf, n) = self.value(h.data, e)?;
                let name = buf[..n].split(|&b| b == 0).next().unwrap_or(&[]);
                return Ok(name == b"webm" || name == b"matroska");
            }
            pos = e;
        }
        Ok(false)
    }

    /// `Info`: the TimestampScale (default 1 ms) and the Duration.
    fn read_info(&mut self, start: u64, end: u64) -> io::Result<(u64, Option<f64>)> {
        let mut scale = 1_000_000;
        let mut duration = None;
        let mut pos = start;
        while let Some(h) = self.header(pos, end)? {
            let Some(e) = h.end_within(end) else {
                break;
            };
            match h.id {
                TIMESTAMP_SCALE => {
                    if let Some(s) = self.uint(h.data, e)? {
                        scale = s;
                    }
                }
                DURATION => duration = self.float(h.data, e)?,
                _ => {}
            }
            pos = e;
        }
        Ok((scale, duration))
    }

    /// `Tracks`: the pixel size of the first video track that states one.
    /// The first video track's size, and whether there were tracks and
    /// all were audio.
    fn read_tracks(&mut self, start: u64, end: u64) -> io::Result<(Option<Size>, bool)> {
        let mut pos = start;
        let (mut size, mut tracks, mut audio) = (None, 0u32, 0u32);
        while let Some(h) = self.header(pos, end)? {
            let Some(e) = h.end_within(end) else {
                break;
            };
            if h.id == TRACK_ENTRY {
                let (kind, video) = self.read_track_entry(h.data, e)?;
                tracks += 1;
                if kind == Some(AUDIO_TRACK) {
                    audio += 1;
                }
                if size.is_none() {
                    size = video;
                }
            }
            pos = e;
        }
        Ok((size, tracks > 0 && audio == tracks))
    }

    /// The track's TrackType, and its size if it is a video track.
    fn read_track_entry(
        &mut self,
        start: u64,
        end: u64,
    ) -> io::Result<(Option<u64>, Option<Size>)> {
        let mut kind = None;
        let mut size = None;
        let mut pos = start;
        while let Some(h) = self.header(pos, end)? {
            let Some(e) = h.end_within(end) else {
                break;
            };
            match h.id {
                TRACK_TYPE => kind = self.uint(h.data, e)?,
                VIDEO => size = self.read_video(h.data, e)?,
                _ => {}
            }
            pos = e;
        }
        Ok((kind, size.filter(|_| kind == Some(VIDEO_TRACK))))
    }

    fn read_video(&mut self, start: u64, end: u64) -> io::Result<Option<(u32, u32)>> {
        let (mut w, mut h) = (None, None);
        let mut pos = start;
        while let Some(hd) = self.header(pos, end)? {
            let Some(e) = hd.end_within(end) else {
                break;
            };
            match hd.id {
                PIXEL_WIDTH => w = self.uint(hd.data, e)?,
                PIXEL_HEIGHT => h = self.uint(hd.data, e)?,
                _ => {}
            }
            pos = e;
        }
        let w = w.and_then(|v| u32::try_from(v).ok()).filter(|&v| v > 0);
        let h = h.and_then(|v| u32::try_from(v).ok()).filter(|&v| v > 0);
        Ok(w.zip(h))
    }

    /// The end of the last block, in TimestampScale units, from the chain
    /// of Clusters that starts at the first verifying Cluster ID in the
    /// Segment's last [`TAIL_BYTES`] (see the module's doc).
    fn last_block_ticks(&mut self, seg_data: u64, seg_end: u64) -> io::Result<Option<u64>> {
        let mut pos = seg_end.saturating_sub(TAIL_BYTES).max(seg_data);
        let id = CLUSTER.to_be_bytes();
        while pos.saturating_add(4) <= seg_end && self.elements < MAX_ELEMENTS {
            let (found, scanned) = {
                let window = self.window(pos)?;
                if window.len() < 4 {
                    return Ok(None);
                }
                // The ID may straddle the window's end: its last three
                // bytes are scanned again.
                (window.windows(4).position(|w| w == id), window.len() - 3)
            };
            let Some(i) = found else {
                pos += scanned as u64;
                continue;
            };
            let candidate = pos + i as u64;
            if candidate.saturating_add(4) > seg_end {
                return Ok(None);
            }
            if let Some(ticks) = self.chain(candidate, seg_end)? {
                return Ok(Some(ticks));
            }
            pos = candidate + 1;
        }
        Ok(None)
    }

    /// Walks Clusters (and the Segment's other children) from `start`
    /// exactly to `seg_end`; the latest block end. `None` if anything does
    /// not parse, a Cluster has no block (none written so is known), or
    /// the element budget runs out.
    fn chain(&mut self, start: u64, seg_end: u64) -> io::Result<Option<u64>> {
        let mut last = None;
        let mut pos = start;
        while pos < seg_end {
            let Some(h) = self.header(pos, seg_end)? else {
                return Ok(None);
            };
            if h.id == CLUSTER {
                let Some((end, ticks)) = self.cluster(h, seg_end)? else {
                    return Ok(None);
                };
                // The latest block of any Cluster in the chain (the last
                // Cluster's, unless the file is out of order).
                last = Some(last.map_or(ticks, |l: u64| l.max(ticks)));
                pos = end;
            } else if h.id == VOID || SEGMENT_CHILDREN.contains(&h.id) {
                let Some(e) = h.end_within(seg_end) else {
                    return Ok(None);
                };
                pos = e;
            } else {
                return Ok(None);
            }
        }
        Ok(last)
    }

    /// A Cluster, strictly: one Timestamp before any block, blocks, and
    /// only the other children a Cluster may hold; at least one block. An unknown-size Cluster
    /// ends where a Cluster or another Segment child starts, or at
    /// `seg_end`. Its end and its last block's end in ticks.
    fn cluster(&mut self, cluster: Header, seg_end: u64) -> io::Result<Option<(u64, u64)>> {
        let end = match cluster.size {
            Some(_) => match cluster.end_within(seg_end) {
                Some(e) => e,
                None => return Ok(None),
            },
            None => seg_end,
        };
        let mut timestamp: Option<u64> = None;
        let mut latest: Option<i128> = None;
        let mut pos = cluster.data;
        while pos < end {
            let Some(h) = self.header(pos, end)? else {
                return Ok(None);
            };
            if cluster.size.is_none() && (h.id == CLUSTER || SEGMENT_CHILDREN.contains(&h.id)) {
                break;
            }
            let Some(e) = h.end_within(end) else {
                return Ok(None);
            };
            match h.id {
                TIMESTAMP if timestamp.is_none() && latest.is_none() => {
                    let Some(t) = self.uint(h.data, e)? else {
                        return Ok(None);
                    };
                    timestamp = Some(t);
                }
                SIMPLE_BLOCK | BLOCK_GROUP => {
                    let Some(t) = timestamp else {
                        return Ok(None);
                    };
                    let rel = if h.id == SIMPLE_BLOCK {
                        self.block_timecode(h.data, e)?.map(|c| (c, 0))
                    } else {
                        self.block_group(h.data, e)?
                    };
                    let Some((code, dur)) = rel else {
                        return Ok(None);
                    };
                    let at = i128::from(t) + i128::from(code) + i128::from(dur);
                    latest = Some(latest.map_or(at, |l| l.max(at)));
                }
                id if CLUSTER_OTHER.contains(&id) => {}
                _ => return Ok(None),
            }
            pos = e;
        }
        let Some(latest) = latest else {
            return Ok(None);
        };
        Ok(u64::try_from(latest.max(0)).ok().map(|t| (pos, t)))
    }

    /// A BlockGroup: its Block's relative timecode and its BlockDuration
    /// (0 without one).
    fn block_group(&mut self, start: u64, end: u64) -> io::Result<Option<(i16, u64)>> {
        let mut code = None;
        let mut duration = 0;
        let mut pos = start;
        while pos < end {
            let Some(h) = self.header(pos, end)? else {
                return Ok(None);
            };
            let Some(e) = h.end_within(end) else {
                return Ok(None);
            };
            match h.id {
                BLOCK => code = self.block_timecode(h.data, e)?,
                BLOCK_DURATION => duration = self.uint(h.data, e)?.unwrap_or(0),
                _ => {}
            }
            pos = e;
        }
        Ok(code.map(|c| (c, duration)))
    }

    /// A (Simple)Block's timecode: a signed 16-bit number after the track
    /// number (a VINT); then a flags byte.
    fn block_timecode(&mut self, start: u64, end: u64) -> io::Result<Option<i16>> {
        let (buf, n) = self.value(start, end)?;
        let b = &buf[..n];
        let Some(&first) = b.first() else {
            return Ok(None);
        };
        let track_len = first.leading_zeros() as usize + 1;
        if track_len > 8 {
            return Ok(None);
        }
        Ok(b.get(track_len..track_len + 3)
            .map(|c| i16::from_be_bytes([c[0], c[1]])))
    }

    /// An unsigned integer value (0 to 8 bytes).
    fn uint(&mut self, start: u64, end: u64) -> io::Result<Option<u64>> {
        if end - start > 8 {
            return Ok(None);
        }
        let (buf, n) = self.value(start, end)?;
        if n as u64 != end - start {
            return Ok(None);
        }
        Ok(Some(
            buf[..n].iter().fold(0u64, |v, &b| (v << 8) | u64::from(b)),
        ))
    }

    /// A float value (4 or 8 bytes; 0 bytes is 0.0).
    fn float(&mut self, start: u64, end: u64) -> io::Result<Option<f64>> {
        let (buf, n) = self.value(start, end)?;
        if n as u64 != end - start {
            return Ok(None);
        }
        Ok(match n {
            0 => Some(0.0),
            4 => Some(f64::from(f32::from_be_bytes([
                buf[0], buf[1], buf[2], buf[3],
            ]))),
            8 => Some(f64::from_be_bytes([
                buf[0], buf[1], buf[2], buf[3], buf[4], buf[5], buf[6], buf[7],
            ])),
            _ => None,
        })
    }

    /// Up to [`VALUE_BYTES`] of the data in `[start, end)`.
    fn value(&mut self, start: u64, end: u64) -> io::Result<([u8; VALUE_BYTES], usize)> {
        let mut buf = [0u8; VALUE_BYTES];
        let want = usize::try_from(end.saturating_sub(start))
            .unwrap_or(VALUE_BYTES)
            .min(VALUE_BYTES);
        let n = self.read_at(start, &mut buf[..want])?;
        Ok((buf, n))
    }

    /// The element header at `pos`, if one is there before `end` and the
    /// budget allows.
    fn header(&mut self, pos: u64, end: u64) -> io::Result<Option<Header>> {
        if pos >= end || self.elements >= MAX_ELEMENTS {
            return Ok(None);
        }
        self.elements += 1;
        let mut buf = [0u8; 12];
        let want = usize::try_from(end - pos).unwrap_or(12).min(12);
        let n = self.read_at(pos, &mut buf[..want])?;
        let b = &buf[..n];
        let Some((id, id_len)) = vint(b, 4) else {
            return Ok(None);
        };
        // IDs keep their marker bit.
        let id = id | (1u64 << (7 * id_len));
        let Some((size, size_len)) = b.get(id_len..).and_then(|s| vint(s, 8)) else {
            return Ok(None);
        };
        let all_ones = (1u64 << (7 * size_len)) - 1;
        Ok(Some(Header {
            id: u32::try_from(id).unwrap_or(0),
            data: pos + (id_len + size_len) as u64,
            size: (size != all_ones).then_some(size),
        }))
    }

    /// The cached bytes from `pos` (refilled there, the whole buffer, if
    /// `pos` is not in the cache or too near its end); empty at the end of
    /// the file.
    fn window(&mut self, pos: u64) -> io::Result<&[u8]> {
        self.window_fill(pos, self.cache.len())
    }

    /// [`Self::window`], refilling only `fill` bytes.
    fn window_fill(&mut self, pos: u64, fill: usize) -> io::Result<&[u8]> {
        let in_cache = pos >= self.cache_at
            && pos - self.cache_at + VALUE_BYTES as u64 <= self.cache_len as u64;
        let at_eof = self.cache_at + self.cache_len as u64 >= self.len;
        if !(in_cache || (at_eof && pos >= self.cache_at)) {
            if self.read >= MAX_READ_BYTES {
                // Out of budget: as if at the end of the file.
                self.cache_at = self.len;
                self.cache_len = 0;
                return Ok(&[]);
            }
            self.r.seek(SeekFrom::Start(pos))?;
            let fill = fill.min(self.cache.len());
            let mut got = 0;
            while got < fill {
                match self.r.read(&mut self.cache[got..fill]) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            self.cache_at = pos;
            self.cache_len = got;
            self.read += got as u64;
        }
        let skip = usize::try_from(pos - self.cache_at).unwrap_or(usize::MAX);
        Ok(self.cache.get(skip..self.cache_len).unwrap_or(&[]))
    }

    /// Reads up to `out.len()` (at most [`VALUE_BYTES`]) bytes at `pos`.
    fn read_at(&mut self, pos: u64, out: &mut [u8]) -> io::Result<usize> {
        // Headers are read one block apart when walking Clusters, whose
        // payloads are skipped: refill a little, not the whole buffer.
        let w = self.window_fill(pos, SMALL_FILL)?;
        let n = out.len().min(w.len());
        out[..n].copy_from_slice(&w[..n]);
        Ok(n)
    }
}

/// A VINT of at most `max` bytes at the start of `b`: its value with the
/// marker bit removed, and its length.
fn vint(b: &[u8], max: usize) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > max || len > b.len() {
        return None;
    }
    let mut v = u64::from(first) & (0xFF >> len);
    for &byte in &b[1..len] {
        v = (v << 8) | u64::from(byte);
    }
    Some((v, len))
}

/// Ticks of `scale` ns to whole milliseconds.
fn ticks_to_ms(ticks: u64, scale: u64) -> Option<u64> {
    u64::try_from(u128::from(ticks) * u128::from(scale) / 1_000_000).ok()
}

/// A float Duration (in ticks of `scale` ns) to milliseconds, rounded;
/// `None` unless positive and under 2^53 ms.
fn ticks_f64_to_ms(ticks: f64, scale: u64) -> Option<u64> {
    #[allow(clippy::cast_precision_loss)]
    let ms = ticks * (scale as f64) / 1_000_000.0;
    if !(ms.is_finite() && ms > 0.0 && ms < 9_007_199_254_740_992.0) {
        return None;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(ms.round() as u64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::fixtures::{WebmDuration, WebmSpec, ebml, ebml_uint, ebml_unknown, webm};
    use std::io::Cursor;
    use std::time::{Duration, Instant};

    fn run(bytes: &[u8]) -> WebmInfo {
        probe(&mut Cursor::new(bytes), bytes.len() as u64).expect("probe")
    }

    /// As Chromium's MediaRecorder writes: no Duration, unknown sizes.
    fn recorded() -> WebmSpec {
        WebmSpec {
            segment_sized: false,
            clusters_sized: false,
            ..WebmSpec::default()
        }
    }

    #[test]
    fn duration_from_info_f64_and_pixel_size() {
        let file = webm(&WebmSpec {
            duration: WebmDuration::F64(5000.0),
            ..WebmSpec::default()
        });
        let info = run(&file);
        assert_eq!(info.duration_ms, Some(5000));
        assert_eq!((info.width, info.height), (Some(640), Some(360)));
    }

    #[test]
    fn duration_from_info_f32_with_a_timestamp_scale() {
        // Ticks of 0.1 ms: 12,340 ticks are 1,234 ms.
        let file = webm(&WebmSpec {
            timestamp_scale: Some(100_000),
            duration: WebmDuration::F32(12_340.0),
            ..WebmSpec::default()
        });
        assert_eq!(run(&file).duration_ms, Some(1234));
        // Microseconds, rounded to the nearest ms.
        let file = webm(&WebmSpec {
            timestamp_scale: Some(1_000),
            duration: WebmDuration::F64(2_500_600.0),
            ..recorded()
        });
        assert_eq!(run(&file).duration_ms, Some(2501));
    }

    #[test]
    fn stated_duration_wins_over_the_clusters() {
        let file = webm(&WebmSpec {
            duration: WebmDuration::F64(9000.0),
            ..recorded()
        });
        assert_eq!(run(&file).duration_ms, Some(9000));
    }

    #[test]
    fn unusable_stated_durations_fall_back_to_the_clusters() {
        for d in [0.0, -5.0, f64::NAN, f64::INFINITY, 1e300] {
            let file = webm(&WebmSpec {
                duration: WebmDuration::F64(d),
                ..recorded()
            });
            assert_eq!(run(&file).duration_ms, Some(166), "{d}");
        }
    }

    #[test]
    fn duration_from_the_last_cluster_as_recorded() {
        // Cluster at 100 ms, its last block at +66.
        let info = run(&webm(&recorded()));
        assert_eq!(info.duration_ms, Some(166));
        assert_eq!((info.width, info.height), (Some(640), Some(360)));
        // Known sizes, no Duration (a muxer that did not seek back).
        assert_eq!(run(&webm(&WebmSpec::default())).duration_ms, Some(166));
        // Blocks out of order, one before the cluster's timestamp.
        let file = webm(&WebmSpec {
            clusters: vec![(0, vec![0, 20]), (1000, vec![40, -10, 30])],
            ..recorded()
        });
        assert_eq!(run(&file).duration_ms, Some(1040));
        // Ticks of 0.1 ms.
        let file = webm(&WebmSpec {
            timestamp_scale: Some(100_000),
            clusters: vec![(0, vec![0]), (1000, vec![0, 500])],
            ..recorded()
        });
        assert_eq!(run(&file).duration_ms, Some(150));
    }

    #[test]
    fn block_group_with_a_duration() {
        let mut file = webm(&WebmSpec {
            clusters: vec![(0, vec![0])],
            ..recorded()
        });
        let mut cluster = ebml_unknown(CLUSTER);
        cluster.extend(ebml_uint(TIMESTAMP, 2000));
        let mut group = ebml(BLOCK, &[0x81, 0, 50, 0, 1, 2, 3]);
        group.extend(ebml_uint(BLOCK_DURATION, 20));
        cluster.extend(ebml(BLOCK_GROUP, &group));
        cluster.extend(ebml(SIMPLE_BLOCK, &[0x82, 0, 10, 0x80, 9]));
        file.extend(cluster);
        assert_eq!(run(&file).duration_ms, Some(2070));
    }

    #[test]
    fn audio_only_and_matroska_and_other_doc_types() {
        let info = run(&webm(&WebmSpec {
            video: None,
            ..recorded()
        }));
        assert_eq!(info.duration_ms, Some(166));
        assert_eq!((info.width, info.height), (None, None));
        assert!(info.audio_only);
        assert!(!run(&webm(&recorded())).audio_only, "audio and video");
        assert!(
            !run(&webm(&WebmSpec {
                audio: false,
                ..recorded()
            }))
            .audio_only,
            "video only"
        );

        let info = run(&webm(&WebmSpec {
            doc_type: "matroska",
            duration: WebmDuration::F64(10.0),
            ..WebmSpec::default()
        }));
        assert_eq!(info.duration_ms, Some(10));

        let info = run(&webm(&WebmSpec {
            doc_type: "webmx",
            duration: WebmDuration::F64(10.0),
            ..WebmSpec::default()
        }));
        assert_eq!(info, WebmInfo::default());
    }

    /// Every prefix: no panic, and either the right answer or none (for
    /// the cluster-derived duration of a file cut between clusters, that
    /// of the clusters kept).
    #[test]
    fn every_prefix_is_harmless() {
        for spec in [
            WebmSpec {
                duration: WebmDuration::F64(5000.0),
                ..WebmSpec::default()
            },
            WebmSpec {
                duration: WebmDuration::F32(5000.0),
                ..recorded()
            },
            recorded(),
            WebmSpec::default(),
        ] {
            let file = webm(&spec);
            let full = run(&file);
            assert!(full.duration_ms.is_some() && full.width.is_some());
            let mut seen_shorter = false;
            for cut in 0..file.len() {
                let info = run(&file[..cut]);
                assert!(
                    info.width.is_none() || (info.width, info.height) == (full.width, full.height),
                    "cut {cut}: {info:?}"
                );
                match (spec.duration, info.duration_ms) {
                    (_, None) => {}
                    (WebmDuration::None, Some(d)) => {
                        assert!(d <= full.duration_ms.unwrap(), "cut {cut}: {d}");
                        seen_shorter |= d < full.duration_ms.unwrap();
                    }
                    (_, d) => assert_eq!(d, full.duration_ms, "cut {cut}"),
                }
            }
            if let WebmDuration::None = spec.duration {
                // Cut after the first cluster: the first cluster's end.
                assert!(seen_shorter || spec.segment_sized);
            }
        }
    }

    #[test]
    fn huge_declared_sizes_are_harmless() {
        // An 8-byte size of 2^56 - 2 (the largest that is not "unknown").
        let huge = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE];
        let mut file = ebml(EBML, &ebml(DOC_TYPE, b"webm"));
        file.extend(ebml_unknown(SEGMENT));
        file.extend_from_slice(&INFO.to_be_bytes());
        file.extend_from_slice(&huge);
        file.extend(ebml(DURATION, &1000f64.to_be_bytes()));
        assert_eq!(run(&file), WebmInfo::default());

        // A Segment of that size (cut short): read to the end of the file.
        let mut file = ebml(EBML, &ebml(DOC_TYPE, b"webm"));
        file.extend_from_slice(&SEGMENT.to_be_bytes());
        file.extend_from_slice(&huge);
        file.extend(ebml(INFO, &ebml(DURATION, &1000f64.to_be_bytes())));
        assert_eq!(run(&file).duration_ms, Some(1000));

        // The EBML header, a block and a value.
        let mut file = EBML.to_be_bytes().to_vec();
        file.extend_from_slice(&huge);
        assert_eq!(run(&file), WebmInfo::default());
        let mut file = webm(&recorded());
        file.extend(ebml_unknown(CLUSTER));
        file.extend(ebml_uint(TIMESTAMP, 5000));
        file.push(SIMPLE_BLOCK as u8);
        file.extend_from_slice(&huge);
        file.extend_from_slice(&[0x81, 0, 1, 0x80]);
        assert_eq!(run(&file).duration_ms, None);
        let mut file = webm(&recorded());
        file.extend(ebml_unknown(CLUSTER));
        file.push(TIMESTAMP as u8);
        file.extend_from_slice(&huge);
        assert_eq!(run(&file).duration_ms, None);
    }

    #[test]
    fn nested_unknown_sizes_are_harmless() {
        // Info and Tracks of unknown size: not read.
        let mut file = ebml(EBML, &ebml(DOC_TYPE, b"webm"));
        file.extend(ebml_unknown(SEGMENT));
        file.extend(ebml_unknown(INFO));
        file.extend(ebml(DURATION, &1000f64.to_be_bytes()));
        file.extend(ebml_unknown(TRACKS));
        file.extend(ebml_unknown(TRACK_ENTRY));
        file.extend(ebml_unknown(VIDEO));
        file.extend(ebml_uint(PIXEL_WIDTH, 10));
        assert_eq!(run(&file), WebmInfo::default());

        // A Cluster inside a Cluster, a block of unknown size.
        let mut file = webm(&WebmSpec {
            clusters: vec![],
            ..recorded()
        });
        for _ in 0..1000 {
            file.extend(ebml_unknown(CLUSTER));
        }
        assert_eq!(run(&file).duration_ms, None);
        let mut file = webm(&WebmSpec {
            clusters: vec![],
            ..recorded()
        });
        file.extend(ebml_unknown(CLUSTER));
        file.extend(ebml_uint(TIMESTAMP, 5));
        file.extend(ebml_unknown(SIMPLE_BLOCK));
        file.extend_from_slice(&[0x81, 0, 1, 0x80]);
        assert_eq!(run(&file).duration_ms, None);
    }

    #[test]
    fn many_elements_are_bounded() {
        let mut file = ebml(EBML, &ebml(DOC_TYPE, b"webm"));
        file.extend(ebml_unknown(SEGMENT));
        for _ in 0..(MAX_ELEMENTS + 10) {
            file.extend(ebml(VOID, &[]));
        }
        file.extend(ebml(INFO, &ebml(DURATION, &1000f64.to_be_bytes())));
        let started = Instant::now();
        assert_eq!(run(&file), WebmInfo::default());
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    /// A fake Cluster (its ID, an unknown size, a Timestamp, a block) in
    /// every block's payload: the chain from the real first Cluster steps
    /// over the payloads.
    #[test]
    fn cluster_ids_in_payloads_are_not_taken() {
        let mut fake = ebml_unknown(CLUSTER);
        fake.extend(ebml_uint(TIMESTAMP, 90_000));
        fake.extend(ebml(SIMPLE_BLOCK, &[0x81, 0, 7, 0x80]));
        let file = webm(&WebmSpec {
            payload: fake.clone(),
            ..recorded()
        });
        assert_eq!(run(&file).duration_ms, Some(166));

        // Payloads of nothing but Cluster IDs.
        let file = webm(&WebmSpec {
            payload: CLUSTER.to_be_bytes().repeat(16 * 1024),
            ..recorded()
        });
        assert_eq!(run(&file).duration_ms, Some(166));

        // The tail starts inside a payload (blocks of 700 KiB, about 2.8
        // MiB in all), which holds Cluster IDs followed by zeros (which
        // do not parse) and a fake Cluster that breaks off.
        let mut payload = vec![0u8; 700 * 1024];
        for at in (0..payload.len() - 64).step_by(50 * 1024) {
            payload[at..at + 4].copy_from_slice(&CLUSTER.to_be_bytes());
        }
        let at = 600 * 1024;
        payload[at..at + fake.len() - 4].copy_from_slice(&fake[..fake.len() - 4]);
        let file = webm(&WebmSpec {
            clusters: vec![(0, vec![0, 20]), (1000, vec![0, 40])],
            payload,
            ..recorded()
        });
        assert!(file.len() as u64 > TAIL_BYTES + 512 * 1024);
        assert_eq!(run(&file).duration_ms, Some(1040));
    }

    /// 2 MiB of empty unknown-size Clusters (no blocks): every one a
    /// candidate that fails; the element budget ends it.
    #[test]
    fn a_tail_of_candidates_is_bounded() {
        let mut file = webm(&WebmSpec {
            clusters: vec![],
            ..recorded()
        });
        let mut empty = ebml_unknown(CLUSTER);
        empty.extend(ebml_uint(TIMESTAMP, 0));
        while (file.len() as u64) < 3 * TAIL_BYTES / 2 {
            file.extend_from_slice(&empty);
        }
        let started = Instant::now();
        let info = run(&file);
        assert_eq!(info.duration_ms, None);
        assert_eq!(info.width, Some(640));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_last_cluster_before_the_tail_is_walked_to() {
        // One Cluster whose start is more than TAIL_BYTES from the end
        // (as Chromium writes 32 s of video).
        let file = webm(&WebmSpec {
            clusters: vec![(0, vec![0, 20, 40, 60])],
            payload: vec![0u8; 700 * 1024],
            ..recorded()
        });
        assert_eq!(run(&file).duration_ms, Some(60));
    }

    #[test]
    fn too_many_blocks_to_walk_fall_back_to_the_tail() {
        let blocks: Vec<i16> = (0..i16::MAX).collect();
        let file = webm(&WebmSpec {
            clusters: (0..5).map(|c| (c * 40_000, blocks.clone())).collect(),
            payload: vec![0u8; 16],
            ..recorded()
        });
        let started = Instant::now();
        let info = run(&file);
        assert!(started.elapsed() < Duration::from_secs(5));
        // 160k blocks: over the budget from the start; in the tail, the
        // last Cluster (at 160 s, 720 KiB long) is found.
        assert_eq!(info.duration_ms, Some(160_000 + i16::MAX as u64 - 1));

        // Clusters of 2.8 MiB: the last one starts before the tail, and
        // 131k blocks are over the budget. No duration, quickly.
        let file = webm(&WebmSpec {
            clusters: (0..4).map(|c| (c * 40_000, blocks.clone())).collect(),
            payload: vec![0u8; 80],
            ..recorded()
        });
        let started = Instant::now();
        let info = run(&file);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(info.duration_ms, None);
        assert_eq!(info.width, Some(640));
    }

    /// Chromium's recordings (see `tests/webm_recorded.rs`): every prefix
    /// and every byte overwritten is harmless.
    #[test]
    fn recorded_files_cut_and_corrupted() {
        for (file, ms) in [
            (
                &include_bytes!("../tests/data/chromium-vp8-160x120.webm")[..],
                1967,
            ),
            (
                &include_bytes!("../tests/data/chromium-opus.webm")[..],
                1398,
            ),
        ] {
            assert_eq!(run(file).duration_ms, Some(ms));
            // Every cut in the headers (the first 512 bytes), every 5th
            // after, and every byte overwritten likewise with a few values
            // (a debug build is slow; `every_prefix_is_harmless` does every
            // cut of smaller files).
            let sample = |at: &usize| *at < 512 || at.is_multiple_of(5);
            for cut in (0..file.len()).filter(sample) {
                let d = run(&file[..cut]).duration_ms;
                assert!(d.is_none_or(|d| d <= ms), "cut {cut}: {d:?}");
            }
            let mut bad = file.to_vec();
            for at in (0..bad.len()).filter(sample) {
                let was = bad[at];
                for b in [0x00, 0x01, 0xFF] {
                    bad[at] = b;
                    let _ = run(&bad);
                }
                bad[at] = was;
            }
        }
    }
}
