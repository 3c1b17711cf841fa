//! Parley's media: where upload bytes are kept and what they are. The
//! rules (the allow-list, limits, bomb bounds, thumbnail size) are
//! `parley_domain::media`'s; this crate applies them to bytes.
//!
//! A pure library (no HTTP). The server streams an upload into a temporary
//! file from a [`BlobStore`] ([`BlobStore::begin`], [`Upload::write`]),
//! calls [`inspect()`] on that file (on a blocking thread), and then either
//! commits the file as the object ([`Served::AsUploaded`]) or stores the
//! rewritten bytes ([`Served::Rewritten`]) with [`BlobStore::put`], and the
//! thumbnail under its own key.
//!
//! # Map
//!
//! - [`blob`]: the [`BlobStore`] trait, [`Upload`], key rules.
//! - [`local`]: [`LocalBlobStore`], objects in a local directory.
//! - [`s3`]: [`S3BlobStore`], objects in an S3-compatible bucket.
//! - `conformance` (feature `conformance`): the suite every store passes.
//! - [`inspect`](mod@inspect): sniffing against the allow-list, size limits, the
//!   text check; [`Inspected`], [`InspectError`].
//! - `picture`: images: bomb checks, decoding under limits, metadata
//!   stripping, orientation, thumbnails.
//! - `gif`: the GIF block walker (frames, animation bombs, comments).
//! - `mp4`: the ISO-BMFF box walker (duration, video size).
//! - `webm`: the Matroska/WebM (EBML) element walker (duration, from
//!   `Info` or else the last Cluster; video size).
//! - `ogg`: the Ogg page reader (Vorbis and Opus duration).
//!
//! # Invariants
//!
//! - No image is decoded before its header's dimensions (and an
//!   animation's frame count) have passed the bomb limits; every decode runs under
//!   [`image::Limits`].
//! - A served image carries no EXIF, XMP, IPTC or comments.
//! - No parser allocates by a size the file declares.
//! - A key is one plain file name ([`validate_key`]), never a path.

#![forbid(unsafe_code)]

pub mod blob;
#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "fixtures")]
pub mod fixtures;
mod gif;
pub mod inspect;
pub mod local;
mod mp4;
mod ogg;
mod picture;
pub mod s3;
mod webm;

pub use blob::{BlobError, BlobStore, ByteStream, Upload, validate_key};
pub use inspect::{InspectError, Inspected, Served, inspect};
pub use local::LocalBlobStore;
pub use picture::square_avatar;
pub use s3::{S3BlobStore, S3Config};
