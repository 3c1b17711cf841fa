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

/// An EBML element: `id` (its bytes as written, marker included), the
/// size as the shortest VINT, then `data`.
pub fn ebml(id: u32, data: &[u8]) -> Vec<u8> {
    let mut v = ebml_id(id);
    v.extend(ebml_size(data.len() as u64));
    v.extend_from_slice(data);
    v
}

/// The header of an element of unknown size (an 8-byte all-ones size),
/// as live recorders write a Segment or a Cluster.
pub fn ebml_unknown(id: u32) -> Vec<u8> {
    let mut v = ebml_id(id);
    v.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    v
}

pub fn ebml_id(id: u32) -> Vec<u8> {
    let b = id.to_be_bytes();
    let skip = b.iter().take_while(|&&x| x == 0).count().min(3);
    b[skip..].to_vec()
}

/// `size` as the shortest EBML VINT that is not all ones.
pub fn ebml_size(size: u64) -> Vec<u8> {
    let len = (1..=8u32)
        .find(|&n| size < (1u64 << (7 * n)) - 1)
        .expect("size under 2^56 - 1");
    let marked = size | (1u64 << (7 * len));
    marked.to_be_bytes()[8 - len as usize..].to_vec()
}

/// An unsigned integer element, in the fewest bytes.
pub fn ebml_uint(id: u32, v: u64) -> Vec<u8> {
    let b = v.to_be_bytes();
    let skip = b.iter().take_while(|&&x| x == 0).count().min(7);
    ebml(id, &b[skip..])
}

/// How a WebM fixture states its duration in `Info`.
#[derive(Debug, Clone, Copy)]
pub enum WebmDuration {
    None,
    F32(f32),
    F64(f64),
}

/// What [`webm`] writes.
#[derive(Debug, Clone)]
pub struct WebmSpec {
    pub doc_type: &'static str,
    /// The Segment's size written (else unknown, as MediaRecorder does).
    pub segment_sized: bool,
    /// The Clusters' sizes written (else unknown).
    pub clusters_sized: bool,
    /// `None`: no TimestampScale element (the default, 1 ms).
    pub timestamp_scale: Option<u64>,
    pub duration: WebmDuration,
    /// A video track of this pixel size (after an audio track, if any).
    pub video: Option<(u32, u32)>,
    pub audio: bool,
    /// Clusters: their Timestamp and their SimpleBlocks' relative
    /// timecodes.
    pub clusters: Vec<(u64, Vec<i16>)>,
    /// Every block's payload (after the track number, timecode, flags).
    pub payload: Vec<u8>,
}

impl Default for WebmSpec {
    fn default() -> Self {
        WebmSpec {
            doc_type: "webm",
            segment_sized: true,
            clusters_sized: true,
            timestamp_scale: None,
            duration: WebmDuration::None,
            video: Some((640, 360)),
            audio: true,
            clusters: vec![(0, vec![0, 33, 66]), (100, vec![0, 33, 66])],
            payload: vec![0x9D, 0x01, 0x2A, 0x55, 0xAA, 0x10],
        }
    }
}

/// A WebM (or Matroska) file as [`WebmSpec`] says.
pub fn webm(spec: &WebmSpec) -> Vec<u8> {
    let mut header = ebml_uint(0x4286, 1); // EBMLVersion
    header.extend(ebml_uint(0x42F7, 1)); // EBMLReadVersion
    header.extend(ebml(0x4282, spec.doc_type.as_bytes()));
    header.extend(ebml_uint(0x4287, 4)); // DocTypeVersion
    let mut file = ebml(0x1A45_DFA3, &header);

    let mut segment = ebml(0xEC, &[0; 20]); // a Void, as muxers reserve
    let mut info = Vec::new();
    if let Some(scale) = spec.timestamp_scale {
        info.extend(ebml_uint(0x2A_D7B1, scale));
    }
    info.extend(ebml(0x4D80, b"parley-fixtures")); // MuxingApp
    match spec.duration {
        WebmDuration::None => {}
        WebmDuration::F32(d) => info.extend(ebml(0x4489, &d.to_be_bytes())),
        WebmDuration::F64(d) => info.extend(ebml(0x4489, &d.to_be_bytes())),
    }
    segment.extend(ebml(0x1549_A966, &info));

    let mut tracks = Vec::new();
    if spec.audio {
        let mut entry = ebml_uint(0xD7, 1); // TrackNumber
        entry.extend(ebml_uint(0x83, 2)); // TrackType: audio
        entry.extend(ebml(0x86, b"A_OPUS"));
        let mut audio = ebml(0xB5, &48_000f32.to_be_bytes()); // SamplingFrequency
        audio.extend(ebml_uint(0x9F, 1)); // Channels
        entry.extend(ebml(0xE1, &audio));
        tracks.extend(ebml(0xAE, &entry));
    }
    if let Some((w, h)) = spec.video {
        let mut entry = ebml_uint(0xD7, 2);
        entry.extend(ebml_uint(0x83, 1)); // TrackType: video
        entry.extend(ebml(0x86, b"V_VP8"));
        let mut video = ebml_uint(0xB0, u64::from(w));
        video.extend(ebml_uint(0xBA, u64::from(h)));
        // A display size that differs: the pixel size is the one read.
        video.extend(ebml_uint(0x54B0, u64::from(w) * 2));
        video.extend(ebml_uint(0x54BA, u64::from(h) * 2));
        entry.extend(ebml(0xE0, &video));
        tracks.extend(ebml(0xAE, &entry));
    }
    segment.extend(ebml(0x1654_AE6B, &tracks));

    for (timestamp, blocks) in &spec.clusters {
        let mut body = ebml_uint(0xE7, *timestamp);
        for code in blocks {
            let mut block = vec![0x81];
            block.extend_from_slice(&code.to_be_bytes());
            block.push(0x80); // keyframe
            block.extend_from_slice(&spec.payload);
            body.extend(ebml(0xA3, &block));
        }
        if spec.clusters_sized {
            segment.extend(ebml(0x1F43_B675, &body));
        } else {
            segment.extend(ebml_unknown(0x1F43_B675));
            segment.extend(body);
        }
    }

    if spec.segment_sized {
        file.extend(ebml(0x1853_8067, &segment));
    } else {
        file.extend(ebml_unknown(0x1853_8067));
        file.extend(segment);
    }
    file
}

/// The stream serial of [`ogg`]'s files.
pub const OGG_SERIAL: u32 = 0x1234_5678;

/// The codec of an [`ogg`] file: Vorbis at a rate, or Opus with a
/// pre-skip.
#[derive(Debug, Clone, Copy)]
pub enum OggCodec {
    Vorbis(u32),
    Opus(u16),
}

/// One Ogg page of [`OGG_SERIAL`] holding `packet` (under 255 * 255
/// bytes), with its CRC.
pub fn ogg_page(flags: u8, granule: u64, seq: u32, packet: &[u8]) -> Vec<u8> {
    let mut lacing = vec![255u8; packet.len() / 255];
    lacing.push((packet.len() % 255) as u8);
    let mut page = b"OggS\0".to_vec();
    page.push(flags);
    page.extend_from_slice(&granule.to_le_bytes());
    page.extend_from_slice(&OGG_SERIAL.to_le_bytes());
    page.extend_from_slice(&seq.to_le_bytes());
    page.extend_from_slice(&[0; 4]);
    page.push(lacing.len() as u8);
    page.extend_from_slice(&lacing);
    page.extend_from_slice(packet);
    let crc = crate::ogg::crc_update(0, &page);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    page
}

/// An Ogg file: the identification header's page, a page of audio at
/// half of `granule`, and the last page at `granule` whose packet ends
/// with `last`.
pub fn ogg(codec: OggCodec, granule: u64, last: &[u8]) -> Vec<u8> {
    let id = match codec {
        OggCodec::Vorbis(rate) => {
            let mut p = b"\x01vorbis".to_vec();
            p.extend_from_slice(&0u32.to_le_bytes()); // version
            p.push(2); // channels
            p.extend_from_slice(&rate.to_le_bytes());
            p.extend_from_slice(&[0; 12]); // bitrates
            p.extend_from_slice(&[0xB8, 0x01]); // block sizes, framing
            p
        }
        OggCodec::Opus(pre_skip) => {
            let mut p = b"OpusHead\x01\x02".to_vec();
            p.extend_from_slice(&pre_skip.to_le_bytes());
            p.extend_from_slice(&48_000u32.to_le_bytes()); // input rate
            p.extend_from_slice(&[0, 0, 0]); // gain, mapping family
            p
        }
    };
    let mut file = ogg_page(0x02, 0, 0, &id);
    file.extend(ogg_page(0, granule / 2, 1, &[0x55; 300]));
    let mut packet = vec![0xAA; 40];
    packet.extend_from_slice(last);
    file.extend(ogg_page(0x04, granule, 2, &packet));
    file
}

/// The S3 test server (`PARLEY_TEST_S3_ENDPOINT`, the moto server
/// `.ci/run` starts) and a fresh bucket made on it, or `None` to skip;
/// under `CI` (env set) a missing server fails instead.
pub async fn s3_test_bucket() -> Option<(String, String)> {
    let Ok(endpoint) = std::env::var("PARLEY_TEST_S3_ENDPOINT") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "PARLEY_TEST_S3_ENDPOINT is required under CI"
        );
        eprintln!("skipped: PARLEY_TEST_S3_ENDPOINT is not set");
        return None;
    };
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let bucket = format!("parley-test-{}-{nanos:x}-{n}", std::process::id());
    // The test server (moto) takes an unsigned bucket creation.
    parley_outbound::install_crypto_provider();
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .expect("the S3 test server answers");
    assert!(
        created.status().is_success(),
        "creating bucket {bucket}: {}",
        created.status()
    );
    Some((endpoint, bucket))
}
