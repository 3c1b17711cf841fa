//! A minimal ISO-BMFF (MP4, M4A) reader: the duration from `moov/mvhd` and
//! the first video track's size from `moov/trak/tkhd`.
//!
//! It reads box headers and seeks over bodies; it never allocates by a
//! box's declared size (at most [`BODY_BYTES`] of a header box are read,
//! into a buffer on the stack), descends at most [`MAX_DEPTH`] levels and
//! visits at most [`MAX_BOXES`] boxes. A malformed file is not an error:
//! it only yields less information.

use std::io::{self, Read, Seek, SeekFrom};

pub(crate) const MAX_DEPTH: u32 = 8;
pub(crate) const MAX_BOXES: u32 = 10_000;
/// Enough for a version-1 `tkhd` (96 bytes) or `mvhd` (32 needed).
const BODY_BYTES: usize = 96;

/// What the container states.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mp4Info {
    pub duration_ms: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// Reads what it can from the file `r` of `len` bytes.
pub(crate) fn probe<R: Read + Seek>(r: &mut R, len: u64) -> io::Result<Mp4Info> {
    let mut walker = Walker {
        r,
        boxes: 0,
        info: Mp4Info::default(),
    };
    walker.walk(0, len, 0, *b"\0\0\0\0")?;
    Ok(walker.info)
}

struct Walker<'a, R> {
    r: &'a mut R,
    boxes: u32,
    info: Mp4Info,
}

impl<R: Read + Seek> Walker<'_, R> {
    /// Walks the boxes in `[start, end)`, children of a box of type
    /// `parent` (zeros at the top level), at `depth`.
    fn walk(&mut self, start: u64, end: u64, depth: u32, parent: [u8; 4]) -> io::Result<()> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        let mut pos = start;
        while pos.saturating_add(8) <= end {
            if self.boxes >= MAX_BOXES {
                return Ok(());
            }
            self.boxes += 1;
            self.r.seek(SeekFrom::Start(pos))?;
            let mut header = [0u8; 8];
            if !read_full(self.r, &mut header)? {
                return Ok(());
            }
            let size32 = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
            let kind = [header[4], header[5], header[6], header[7]];
            let (size, header_len) = match size32 {
                // Extends to the end of the enclosing box (or file).
                0 => (end - pos, 8),
                1 => {
                    let mut large = [0u8; 8];
                    if !read_full(self.r, &mut large)? {
                        return Ok(());
                    }
                    (u64::from_be_bytes(large), 16)
                }
                n => (u64::from(n), 8),
            };
            if size < header_len || size > end - pos {
                // Malformed: stop here, keep what was found.
                return Ok(());
            }
            let body = pos + header_len;
            let body_end = pos + size;
            match (&parent, &kind) {
                (b"\0\0\0\0", b"moov") => {
                    self.walk(body, body_end, depth + 1, kind)?;
                    // One movie box is all there is to read.
                    return Ok(());
                }
                (b"moov", b"trak") => self.walk(body, body_end, depth + 1, kind)?,
                (b"moov", b"mvhd") => {
                    let (buf, n) = self.read_body(body, body_end)?;
                    if self.info.duration_ms.is_none() {
                        self.info.duration_ms = parse_mvhd(&buf[..n]);
                    }
                }
                (b"trak", b"tkhd") => {
                    let (buf, n) = self.read_body(body, body_end)?;
                    if self.info.width.is_none()
                        && let Some((w, h)) = parse_tkhd(&buf[..n])
                    {
                        self.info.width = Some(w);
                        self.info.height = Some(h);
                    }
                }
                _ => {}
            }
            pos = body_end;
        }
        Ok(())
    }

    /// Up to [`BODY_BYTES`] of a box body.
    fn read_body(&mut self, body: u64, body_end: u64) -> io::Result<([u8; BODY_BYTES], usize)> {
        let mut buf = [0u8; BODY_BYTES];
        let want = usize::try_from(body_end - body)
            .unwrap_or(BODY_BYTES)
            .min(BODY_BYTES);
        self.r.seek(SeekFrom::Start(body))?;
        let mut got = 0;
        while got < want {
            match self.r.read(&mut buf[got..want]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((buf, got))
    }
}

/// Fills `buf`; `false` at the end of the file.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<bool> {
    match r.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// `mvhd` (a full box): version 0 has 32-bit times, version 1 64-bit.
fn parse_mvhd(b: &[u8]) -> Option<u64> {
    let (timescale, duration) = match b.first()? {
        0 => {
            let d = be32(b, 16)?;
            (be32(b, 12)?, (d != u32::MAX).then_some(u64::from(d))?)
        }
        1 => {
            let d = be64(b, 24)?;
            (be32(b, 20)?, (d != u64::MAX).then_some(d)?)
        }
        _ => return None,
    };
    if timescale == 0 {
        return None;
    }
    u64::try_from(u128::from(duration) * 1000 / u128::from(timescale)).ok()
}

/// `tkhd`: width and height as 16.16 fixed point, at the end of the box;
/// `None` for a track without a picture (audio: zeros).
fn parse_tkhd(b: &[u8]) -> Option<(u32, u32)> {
    let at = match b.first()? {
        0 => 76,
        1 => 88,
        _ => return None,
    };
    let w = be32(b, at)? >> 16;
    let h = be32(b, at + 4)? >> 16;
    (w > 0 && h > 0).then_some((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn nested_too_deep_and_lying_sizes_are_harmless() {
        // A box claiming 4 GiB inside a 20-byte file.
        let mut lying = 0xFFFF_FFF0u32.to_be_bytes().to_vec();
        lying.extend_from_slice(b"moov");
        lying.extend_from_slice(&[0; 12]);
        let info = probe(&mut Cursor::new(&lying), lying.len() as u64).expect("probe");
        assert_eq!(info, Mp4Info::default());

        // A 64-bit size of u64::MAX.
        let mut large = 1u32.to_be_bytes().to_vec();
        large.extend_from_slice(b"moov");
        large.extend_from_slice(&u64::MAX.to_be_bytes());
        let info = probe(&mut Cursor::new(&large), large.len() as u64).expect("probe");
        assert_eq!(info, Mp4Info::default());

        // Many empty boxes: bounded by MAX_BOXES.
        let many: Vec<u8> = (0..20_000).flat_map(|_| bx(b"free", &[])).collect();
        let info = probe(&mut Cursor::new(&many), many.len() as u64).expect("probe");
        assert_eq!(info, Mp4Info::default());
    }

    #[test]
    fn mvhd_versions() {
        let mut v0 = vec![0u8; 100];
        v0[12..16].copy_from_slice(&600u32.to_be_bytes());
        v0[16..20].copy_from_slice(&1500u32.to_be_bytes());
        assert_eq!(parse_mvhd(&v0), Some(2500));
        let mut v1 = vec![0u8; 108];
        v1[0] = 1;
        v1[20..24].copy_from_slice(&1000u32.to_be_bytes());
        v1[24..32].copy_from_slice(&7_000u64.to_be_bytes());
        assert_eq!(parse_mvhd(&v1), Some(7000));
        v1[24..32].copy_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(parse_mvhd(&v1), None, "unknown duration");
        assert_eq!(parse_mvhd(&[0u8; 10]), None, "short");
    }
}
