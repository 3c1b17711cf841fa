//! A GIF block walker: counts frames, refuses animation bombs from the
//! block structure alone (no frame is decoded), and rewrites the file
//! without comments, unknown extensions and anything after the trailer.

use crate::inspect::InspectError;

/// The result of a walk.
#[derive(Debug)]
pub(crate) struct GifWalk {
    /// The GIF without comment extensions, application extensions other
    /// than `NETSCAPE2.0` / `ANIMEXTS1.0` (looping), unknown extensions, or
    /// bytes after the trailer.
    pub stripped: Vec<u8>,
    pub frames: u64,
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], InspectError> {
        let end = self.pos.checked_add(n).ok_or(InspectError::Undecodable)?;
        let s = self.b.get(self.pos..end).ok_or(InspectError::Undecodable)?;
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, InspectError> {
        Ok(self.take(1)?[0])
    }

    /// Skips a run of data sub-blocks up to and including the terminator;
    /// returns the bytes skipped.
    fn sub_blocks(&mut self) -> Result<&'a [u8], InspectError> {
        let start = self.pos;
        loop {
            let len = self.byte()?;
            if len == 0 {
                return Ok(&self.b[start..self.pos]);
            }
            self.take(usize::from(len))?;
        }
    }
}

fn color_table_len(packed: u8) -> usize {
    if packed & 0x80 != 0 {
        3 << ((packed & 0x07) + 1)
    } else {
        0
    }
}

/// Walks the GIF `b`.
pub(crate) fn walk(b: &[u8]) -> Result<GifWalk, InspectError> {
    let mut r = Reader { b, pos: 0 };
    let signature = r.take(6)?;
    if signature != b"GIF87a" && signature != b"GIF89a" {
        return Err(InspectError::Undecodable);
    }
    let screen = r.take(7)?;
    let screen_w = u64::from(u16::from_le_bytes([screen[0], screen[1]]));
    let screen_h = u64::from(u16::from_le_bytes([screen[2], screen[3]]));
    r.take(color_table_len(screen[4]))?;
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&b[..r.pos]);

    let mut frames = 0u64;
    let mut pixels = 0u64;
    loop {
        let start = r.pos;
        let introducer = match r.byte() {
            Ok(x) => x,
            // Many GIFs in the wild lack the trailer: fine after a frame.
            Err(_) if frames > 0 => {
                out.push(0x3B);
                break;
            }
            Err(e) => return Err(e),
        };
        match introducer {
            0x2C => {
                let desc = r.take(9)?;
                let w = u64::from(u16::from_le_bytes([desc[4], desc[5]]));
                let h = u64::from(u16::from_le_bytes([desc[6], desc[7]]));
                r.take(color_table_len(desc[8]))?;
                r.byte()?; // LZW minimum code size
                r.sub_blocks()?;
                frames += 1;
                pixels = pixels.saturating_add((w * h).max(screen_w * screen_h));
                if pixels > parley_domain::media::MAX_ANIMATION_PIXELS {
                    return Err(InspectError::TooLarge { limit_bytes: None });
                }
                out.extend_from_slice(&b[start..r.pos]);
            }
            0x21 => {
                let label = r.byte()?;
                let keep = match label {
                    // Graphic control (timing, transparency), plain text.
                    0xF9 | 0x01 => true,
                    0xFF => {
                        let body = &b[r.pos..];
                        body.first() == Some(&11)
                            && matches!(body.get(1..12), Some(b"NETSCAPE2.0" | b"ANIMEXTS1.0"))
                    }
                    // 0xFE comments, and extensions we do not know.
                    _ => false,
                };
                r.sub_blocks()?;
                if keep {
                    out.extend_from_slice(&b[start..r.pos]);
                }
            }
            0x3B => {
                out.push(0x3B);
                break;
            }
            _ => return Err(InspectError::Undecodable),
        }
    }
    if frames == 0 {
        return Err(InspectError::Undecodable);
    }
    Ok(GifWalk {
        stripped: out,
        frames,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gif(frames: usize, trailer: bool) -> Vec<u8> {
        let mut g = b"GIF89a\x02\x00\x02\x00\x00\x00\x00".to_vec();
        for _ in 0..frames {
            g.extend_from_slice(b"\x21\xFE\x03abc\x00"); // a comment
            g.extend_from_slice(b"\x2C\0\0\0\0\x02\x00\x02\x00\x00\x02\x02\x44\x01\x00");
        }
        if trailer {
            g.push(0x3B);
        }
        g.extend_from_slice(b"appended");
        g
    }

    #[test]
    fn counts_frames_and_drops_comments_and_the_tail() {
        let walk = walk(&gif(3, true)).expect("walk");
        assert_eq!(walk.frames, 3);
        assert!(!walk.stripped.windows(3).any(|w| w == b"abc"));
        assert!(walk.stripped.ends_with(b"\x01\x00\x3B"));
    }

    #[test]
    fn a_missing_trailer_is_added() {
        let mut g = gif(2, false);
        g.truncate(g.len() - b"appended".len());
        let walk = walk(&g).expect("walk");
        assert_eq!(walk.frames, 2);
        assert_eq!(walk.stripped.last(), Some(&0x3B));
    }

    #[test]
    fn broken_structure_is_undecodable() {
        assert!(matches!(walk(b"GIF89a"), Err(InspectError::Undecodable)));
        assert!(matches!(
            walk(&gif(0, true)),
            Err(InspectError::Undecodable)
        ));
        let mut g = gif(1, true);
        g.truncate(20); // inside the first frame
        assert!(matches!(walk(&g), Err(InspectError::Undecodable)));
    }
}
