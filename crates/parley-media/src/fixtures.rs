//! Files made in code for tests (feature `fixtures`): images with
//! metadata, bombs that are only a header, many-frame GIFs. The crate's
//! own tests and the server's API tests build their hostile files here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{DynamicImage, ImageEncoder, Rgb, RgbImage};
use img_parts::ImageEXIF;
use img_parts::jpeg::{Jpeg, JpegSegment, markers};

pub fn gradient(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8])
    })
}

pub fn jpeg_of(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encode jpeg");
    out
}

pub fn png_of(img: &DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_with_encoder(PngEncoder::new(&mut out))
        .expect("encode png");
    out
}

/// A big-endian TIFF with IFD0 holding an optional orientation and a GPS
/// IFD pointer (0x8825); the GPS IFD has GPSMapDatum = "GPSMARKER".
pub fn tiff_with_gps(orientation: Option<u16>) -> Vec<u8> {
    let n: u16 = if orientation.is_some() { 2 } else { 1 };
    let gps_ifd = 8 + 2 + 12 * u32::from(n) + 4;
    let string_at = gps_ifd + 2 + 12 + 4;
    let mut t = b"MM\0\x2a\0\0\0\x08".to_vec();
    t.extend_from_slice(&n.to_be_bytes());
    if let Some(o) = orientation {
        t.extend_from_slice(&0x0112u16.to_be_bytes());
        t.extend_from_slice(&3u16.to_be_bytes()); // SHORT
        t.extend_from_slice(&1u32.to_be_bytes());
        t.extend_from_slice(&o.to_be_bytes());
        t.extend_from_slice(&[0, 0]);
    }
    t.extend_from_slice(&0x8825u16.to_be_bytes());
    t.extend_from_slice(&4u16.to_be_bytes()); // LONG
    t.extend_from_slice(&1u32.to_be_bytes());
    t.extend_from_slice(&gps_ifd.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    assert_eq!(t.len() as u32, gps_ifd);
    t.extend_from_slice(&1u16.to_be_bytes());
    t.extend_from_slice(&0x0012u16.to_be_bytes());
    t.extend_from_slice(&2u16.to_be_bytes()); // ASCII
    t.extend_from_slice(&10u32.to_be_bytes());
    t.extend_from_slice(&string_at.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    assert_eq!(t.len() as u32, string_at);
    t.extend_from_slice(b"GPSMARKER\0");
    t
}

/// A JPEG of `img` with an EXIF APP1 (GPS, optional orientation), an XMP
/// APP1, an IPTC APP13 and a comment.
pub fn jpeg_with_metadata(img: &RgbImage, orientation: Option<u16>) -> Vec<u8> {
    let mut jpeg = Jpeg::from_bytes(Bytes::from(jpeg_of(img))).expect("parse jpeg");
    jpeg.set_exif(Some(Bytes::from(tiff_with_gps(orientation))));
    let segments = jpeg.segments_mut();
    segments.insert(
        1,
        JpegSegment::new_with_contents(
            markers::APP1,
            Bytes::from_static(b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>XMPMARKER</x:xmpmeta>"),
        ),
    );
    segments.insert(
        1,
        JpegSegment::new_with_contents(
            markers::APP13,
            Bytes::from_static(b"Photoshop 3.0\0IPTCMARKER"),
        ),
    );
    segments.insert(
        1,
        JpegSegment::new_with_contents(markers::COM, Bytes::from_static(b"COMMENTMARKER")),
    );
    let mut out = jpeg.encoder().bytes().to_vec();
    // And something appended after the end of the image.
    out.extend_from_slice(b"TRAILERMARKER");
    out
}

/// A PNG whose IHDR says `w` x `h` (8-bit RGB), followed by an IDAT of
/// garbage: only the header is valid.
pub fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32fast::hash(&ihdr).to_be_bytes());
    let mut idat = b"IDAT".to_vec();
    idat.extend((0..4096u32).map(|i| (i * 7 + 3) as u8));
    png.extend_from_slice(&4096u32.to_be_bytes());
    png.extend_from_slice(&idat);
    png.extend_from_slice(&crc32fast::hash(&idat).to_be_bytes());
    png
}

/// A GIF of `frames` frames on a `w` x `h` screen, each frame a full-screen
/// image descriptor with minimal LZW data (never decoded).
pub fn gif_frames(w: u16, h: u16, frames: usize) -> Vec<u8> {
    let mut g = b"GIF89a".to_vec();
    g.extend_from_slice(&w.to_le_bytes());
    g.extend_from_slice(&h.to_le_bytes());
    g.extend_from_slice(&[0x80, 0, 0]); // a global table of 2 colours
    g.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    g.extend_from_slice(b"\x21\xFF\x0bNETSCAPE2.0\x03\x01\x00\x00\x00");
    for _ in 0..frames {
        g.extend_from_slice(&[0x21, 0xF9, 4, 0, 1, 0, 0, 0]);
        g.push(0x2C);
        g.extend_from_slice(&[0, 0, 0, 0]);
        g.extend_from_slice(&w.to_le_bytes());
        g.extend_from_slice(&h.to_le_bytes());
        g.push(0);
        g.extend_from_slice(&[2, 2, 0x44, 0x01, 0]);
    }
    g.push(0x3B);
    g
}
