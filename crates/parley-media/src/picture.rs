//! Images: bomb checks from the header, decoding under limits, metadata
//! stripping (lossless where the orientation allows), thumbnails.

use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::Path;

use bytes::Bytes;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{
    ColorType, DynamicImage, ImageDecoder, ImageEncoder, ImageError, ImageFormat, ImageReader,
};
use img_parts::jpeg::{Jpeg, markers};
use img_parts::png::Png;
use img_parts::riff::{RiffChunk, RiffContent};
use img_parts::webp::{self, WebP};

use crate::gif;
use crate::inspect::{InspectError, Inspected, Served};
use parley_domain::media::{MAX_ANIMATION_PIXELS, MAX_IMAGE_SIDE, thumbnail_size};
use parley_protocol::MediaKind;

/// The most memory one decode may allocate.
pub const MAX_ALLOC: u64 = 512 * 1024 * 1024;
const JPEG_QUALITY: u8 = 90;
const THUMBNAIL_QUALITY: u8 = 80;

fn decode_limits() -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

fn image_error(e: ImageError) -> InspectError {
    match e {
        ImageError::Limits(_) => InspectError::TooLarge { limit_bytes: None },
        // A read past the end is a truncated image, not a failing disk.
        ImageError::IoError(e) if e.kind() != std::io::ErrorKind::UnexpectedEof => {
            InspectError::Io(e)
        }
        other => {
            tracing::debug!(error = %other, "image does not decode");
            InspectError::Undecodable
        }
    }
}

fn check_dimensions(w: u32, h: u32) -> Result<(), InspectError> {
    if w == 0 || h == 0 {
        return Err(InspectError::Undecodable);
    }
    parley_domain::media::check_image_dimensions(w, h)
        .map_err(|_| InspectError::TooLarge { limit_bytes: None })
}

/// Inspects an image whose signature sniffed as `mime`.
pub(crate) fn inspect_image(path: &Path, mime: &'static str) -> Result<Inspected, InspectError> {
    let format = match mime {
        "image/jpeg" => ImageFormat::Jpeg,
        "image/png" => ImageFormat::Png,
        "image/gif" => ImageFormat::Gif,
        "image/webp" => ImageFormat::WebP,
        _ => return Err(InspectError::Unsupported),
    };

    // 1. The header alone: refuse bombs before any pixel is decoded.
    let mut reader = ImageReader::with_format(BufReader::new(File::open(path)?), format);
    reader.limits(decode_limits());
    let (w, h) = reader.into_dimensions().map_err(image_error)?;
    check_dimensions(w, h)?;

    // The caller has checked the file against the image size limit.
    let original = std::fs::read(path)?;

    // 2. The container alone, still undecoded: the bytes without metadata
    // and the number of frames, which an animation bomb has too many of.
    let (stripped, frames) = match format {
        ImageFormat::Gif => {
            let walk = gif::walk(&original)?;
            (walk.stripped, walk.frames)
        }
        ImageFormat::Jpeg => (strip_jpeg(&original)?, 1),
        ImageFormat::Png => strip_png(&original)?,
        _ => strip_webp(&original)?,
    };
    if frames.saturating_mul(u64::from(w) * u64::from(h)) > MAX_ANIMATION_PIXELS {
        return Err(InspectError::TooLarge { limit_bytes: None });
    }
    tracing::debug!(frames, width = w, height = h, "image header within limits");

    // 3. Decode (the first frame of an animation) under limits.
    let mut reader = ImageReader::with_format(Cursor::new(&original[..]), format);
    reader.limits(decode_limits());
    let mut decoder = reader.into_decoder().map_err(image_error)?;
    let orientation = decoder.orientation().unwrap_or_else(|e| {
        // Broken EXIF: it is stripped below either way.
        tracing::debug!(error = %e, "unreadable EXIF orientation");
        Orientation::NoTransforms
    });
    let icc = decoder.icc_profile().ok().flatten();
    if decoder.total_bytes() > MAX_ALLOC {
        return Err(InspectError::TooLarge { limit_bytes: None });
    }
    let mut img = DynamicImage::from_decoder(decoder).map_err(image_error)?;

    // 4. The bytes to serve, without metadata.
    let (mime, served) = if orientation == Orientation::NoTransforms {
        let served = if stripped == original {
            Served::AsUploaded
        } else {
            Served::Rewritten(stripped)
        };
        (mime, served)
    } else {
        img.apply_orientation(orientation);
        let (bytes, mime) = match format {
            ImageFormat::Jpeg => (encode_jpeg(&img, JPEG_QUALITY, icc)?, "image/jpeg"),
            _ => (encode_png(&img, icc)?, "image/png"),
        };
        (mime, Served::Rewritten(bytes))
    };

    Ok(Inspected {
        mime,
        kind: MediaKind::Image,
        width: Some(img.width()),
        height: Some(img.height()),
        duration_ms: None,
        served,
        thumbnail: Some(thumbnail(&img)?),
    })
}

/// A square avatar cut from the middle of `thumbnail` (a stored
/// thumbnail: small, made by us), at most `side` pixels a side: its bytes,
/// type (JPEG, or PNG with alpha) and side.
pub fn square_avatar(
    thumbnail: &[u8],
    side: u32,
) -> Result<(Vec<u8>, &'static str, u32), InspectError> {
    let mut reader = ImageReader::new(Cursor::new(thumbnail))
        .with_guessed_format()
        .map_err(InspectError::Io)?;
    reader.limits(decode_limits());
    let img = reader.decode().map_err(image_error)?;
    let (w, h) = (img.width(), img.height());
    check_dimensions(w, h)?;
    let cut = w.min(h);
    let square = img.crop_imm((w - cut) / 2, (h - cut) / 2, cut, cut);
    let out = side.min(cut).max(1);
    let square = if out == cut {
        square
    } else {
        square.resize_exact(out, out, FilterType::Triangle)
    };
    if square.color().has_alpha() {
        Ok((encode_png(&square, None)?, "image/png", out))
    } else {
        Ok((
            encode_jpeg(&square, THUMBNAIL_QUALITY, None)?,
            "image/jpeg",
            out,
        ))
    }
}

/// A JPEG thumbnail, or PNG for an image with an alpha channel.
fn thumbnail(img: &DynamicImage) -> Result<(Vec<u8>, &'static str), InspectError> {
    let (tw, th) = thumbnail_size(img.width(), img.height());
    let small = if (tw, th) == (img.width(), img.height()) {
        img.clone()
    } else {
        img.resize_exact(tw, th, FilterType::Triangle)
    };
    if small.color().has_alpha() {
        Ok((encode_png(&small, None)?, "image/png"))
    } else {
        Ok((encode_jpeg(&small, THUMBNAIL_QUALITY, None)?, "image/jpeg"))
    }
}

fn encode_jpeg(
    img: &DynamicImage,
    quality: u8,
    icc: Option<Vec<u8>>,
) -> Result<Vec<u8>, InspectError> {
    let mut out = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut out, quality);
    if let Some(icc) = icc {
        // Colour, not metadata: kept where the encoder can carry it.
        let _ = encoder.set_icc_profile(icc);
    }
    let rgb = match img.color() {
        ColorType::L8 | ColorType::Rgb8 => img.clone(),
        _ => DynamicImage::ImageRgb8(img.to_rgb8()),
    };
    rgb.write_with_encoder(encoder).map_err(image_error)?;
    Ok(out)
}

fn encode_png(img: &DynamicImage, icc: Option<Vec<u8>>) -> Result<Vec<u8>, InspectError> {
    let mut out = Vec::new();
    let mut encoder = PngEncoder::new(&mut out);
    if let Some(icc) = icc {
        let _ = encoder.set_icc_profile(icc);
    }
    let img = match img.color() {
        ColorType::L8
        | ColorType::La8
        | ColorType::Rgb8
        | ColorType::Rgba8
        | ColorType::L16
        | ColorType::La16
        | ColorType::Rgb16
        | ColorType::Rgba16 => img.clone(),
        _ => DynamicImage::ImageRgba8(img.to_rgba8()),
    };
    img.write_with_encoder(encoder).map_err(image_error)?;
    Ok(out)
}

/// Whether a JPEG marker segment is kept: everything but COM and the APPn
/// segments, of which only JFIF (APP0), the ICC profile (APP2) and Adobe's
/// colour transform (APP14) stay.
fn keep_jpeg_segment(marker: u8, contents: &[u8]) -> bool {
    match marker {
        markers::APP0 => contents.starts_with(b"JFIF\0"),
        markers::APP2 => contents.starts_with(b"ICC_PROFILE\0"),
        markers::APP14 => contents.starts_with(b"Adobe"),
        markers::APP1..=markers::APP15 | markers::COM => false,
        _ => true,
    }
}

/// The JPEG without metadata, losslessly: img-parts drops the segments
/// before the first scan; [`scrub_jpeg_scans`] the ones between scans (a
/// progressive JPEG) and whatever follows the end of the image.
pub(crate) fn strip_jpeg(original: &[u8]) -> Result<Vec<u8>, InspectError> {
    let mut jpeg = Jpeg::from_bytes(Bytes::copy_from_slice(original))
        .map_err(|_| InspectError::Undecodable)?;
    jpeg.segments_mut()
        .retain(|s| keep_jpeg_segment(s.marker(), s.contents()));
    // Where the first scan's entropy-coded data starts in the output: SOI
    // and every segment's encoding (which `len` counts without entropy).
    let headers = 2 + jpeg.segments().iter().map(|s| s.len()).sum::<usize>();
    let encoded = jpeg.encoder().bytes();
    let (head, scans) = encoded.split_at(headers.min(encoded.len()));
    let mut out = head.to_vec();
    scrub_jpeg_scans(scans, &mut out);
    Ok(out)
}

/// Copies entropy-coded data and the segments between scans to `out`,
/// dropping metadata segments and everything after EOI.
fn scrub_jpeg_scans(e: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < e.len() {
        if e[i] != 0xFF {
            out.push(e[i]);
            i += 1;
            continue;
        }
        // Fill bytes: any number of 0xFF before a marker.
        let mut j = i + 1;
        while j < e.len() && e[j] == 0xFF {
            j += 1;
        }
        let Some(&marker) = e.get(j) else { return };
        match marker {
            // A stuffed 0xFF data byte, a restart marker.
            0x00 | markers::RST0..=markers::RST7 => {
                out.extend_from_slice(&[0xFF, marker]);
                i = j + 1;
            }
            markers::EOI => {
                out.extend_from_slice(&[0xFF, markers::EOI]);
                return;
            }
            _ => {
                let Some(len) = e.get(j + 1..j + 3) else {
                    return;
                };
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                let end = j + 1 + len;
                if len < 2 || end > e.len() {
                    return; // truncated: the decoder has already coped
                }
                if keep_jpeg_segment(marker, &e[j + 3..end]) {
                    out.push(0xFF);
                    out.extend_from_slice(&e[j..end]);
                }
                i = end;
            }
        }
    }
}

/// PNG chunks that are kept: the critical ones, colour and layout, and
/// APNG's. Everything else (tEXt, zTXt, iTXt, eXIf, tIME, private chunks)
/// is dropped.
const PNG_KEEP: [&[u8; 4]; 20] = [
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB",
    b"cICP", b"mDCV", b"cLLI", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"acTL", b"fcTL", b"fdAT",
];

/// The PNG without metadata, and its frame count (APNG's `acTL`, else 1).
pub(crate) fn strip_png(original: &[u8]) -> Result<(Vec<u8>, u64), InspectError> {
    let mut png =
        Png::from_bytes(Bytes::copy_from_slice(original)).map_err(|_| InspectError::Undecodable)?;
    let frames = png
        .chunk_by_type(*b"acTL")
        .and_then(|c| c.contents().get(..4).map(|n| [n[0], n[1], n[2], n[3]]))
        .map_or(1, |n| u64::from(u32::from_be_bytes(n)).max(1));
    png.chunks_mut()
        .retain(|c| PNG_KEEP.iter().any(|k| **k == c.kind()));
    Ok((png.encoder().bytes().to_vec(), frames))
}

/// WebP chunks that are kept: the image data, alpha, animation and the
/// ICC profile. EXIF, XMP and unknown chunks are dropped.
const WEBP_KEEP: [[u8; 4]; 7] = [
    webp::CHUNK_VP8,
    webp::CHUNK_VP8L,
    webp::CHUNK_VP8X,
    webp::CHUNK_ALPH,
    webp::CHUNK_ANIM,
    webp::CHUNK_ANMF,
    webp::CHUNK_ICCP,
];

/// The WebP without metadata, and its frame count (`ANMF` chunks, else 1).
pub(crate) fn strip_webp(original: &[u8]) -> Result<(Vec<u8>, u64), InspectError> {
    let mut webp = WebP::from_bytes(Bytes::copy_from_slice(original))
        .map_err(|_| InspectError::Undecodable)?;
    let frames = (webp.chunks_by_id(webp::CHUNK_ANMF).count() as u64).max(1);
    webp.chunks_mut().retain(|c| WEBP_KEEP.contains(&c.id()));
    // The extended header's flags still announce EXIF (0x08) and XMP
    // (0x04): clear them.
    for chunk in webp.chunks_mut() {
        if chunk.id() != webp::CHUNK_VP8X {
            continue;
        }
        if let Some(data) = chunk.content().data()
            && let Some(&flags) = data.first()
        {
            let mut fixed = data.to_vec();
            fixed[0] = flags & !0x0C;
            *chunk = RiffChunk::new(webp::CHUNK_VP8X, RiffContent::Data(Bytes::from(fixed)));
        }
    }
    Ok((webp.encoder().bytes().to_vec(), frames))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnail_sizes() {
        assert_eq!(thumbnail_size(1000, 500), (320, 160));
        assert_eq!(thumbnail_size(500, 1000), (160, 320));
        assert_eq!(thumbnail_size(100, 50), (100, 50));
        assert_eq!(thumbnail_size(320, 320), (320, 320));
        assert_eq!(thumbnail_size(16_384, 1), (320, 1));
        assert_eq!(thumbnail_size(1001, 333), (320, 106));
    }

    #[test]
    fn scans_lose_comments_and_trailing_bytes() {
        // Entropy data with a stuffed byte, a restart, a COM segment
        // between scans, a DHT kept, EOI, then appended bytes.
        let e = [
            0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, //
            0xFF, 0xFE, 0x00, 0x05, b'h', b'i', b'!', //
            0xFF, 0xC4, 0x00, 0x03, 0x07, //
            0x78, 0xFF, 0xD9, b'P', b'K',
        ];
        let mut out = Vec::new();
        scrub_jpeg_scans(&e, &mut out);
        assert_eq!(
            out,
            [
                0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xC4, 0x00, 0x03, 0x07, 0x78, 0xFF,
                0xD9
            ]
        );
    }
}
