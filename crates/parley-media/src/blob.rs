//! Where media bytes live: the [`BlobStore`] trait, the [`Upload`] a request
//! streams into, and the rules every key follows.
//!
//! An upload is streamed into a temporary file ([`BlobStore::begin`]),
//! inspected there, and only then made a stored object
//! ([`BlobStore::commit`]). An upload that is dropped before its commit
//! removes its file, so a refused or abandoned upload leaves nothing behind.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use tokio::io::AsyncWriteExt;

/// The bytes of an object, in chunks of at most [`CHUNK_SIZE`].
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// The size of the chunks [`BlobStore::read_range`] yields.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// The longest key a store accepts.
pub const MAX_KEY_LEN: usize = 128;

/// What a store refuses or fails at.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The key is empty, longer than [`MAX_KEY_LEN`], starts with `.`, or
    /// has a character other than `A-Z a-z 0-9 . _ -`.
    #[error("invalid blob key")]
    InvalidKey,
    /// No object has this key.
    #[error("no such blob")]
    NotFound,
    /// `start` is after `end`.
    #[error("invalid range {start}..{end}")]
    InvalidRange { start: u64, end: u64 },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Checks a key: 1 to [`MAX_KEY_LEN`] characters of `A-Z a-z 0-9 . _ -`,
/// not starting with `.` (so neither `.` nor `..` nor a hidden file name can
/// be a key, and a key is always one plain file name).
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && !key.starts_with('.')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(BlobError::InvalidKey)
    }
}

/// Creates `dir` if needed and empties it: at start-up, whatever a store's
/// temporary folder holds was abandoned by a crash. Synchronous: it runs
/// once, when a store is opened.
pub fn clear_tmp_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut removed = 0u64;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let result = if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match result {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    if removed > 0 {
        tracing::info!(removed, "removed abandoned temporary media files");
    }
    Ok(())
}

/// A storage backend for media objects.
///
/// Keys are checked with [`validate_key`]; a bad key is
/// [`BlobError::InvalidKey`] from every method.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// A new temporary file to stream an upload into (removed on drop unless
    /// committed).
    async fn begin(&self) -> Result<Upload, BlobError>;

    /// Makes the upload the stored object `key` (e.g. `"ID"` or
    /// `"ID.thumb"`), replacing any object of that key.
    async fn commit(&self, upload: Upload, key: &str) -> Result<(), BlobError>;

    /// Stores `bytes` as the object `key`, replacing any object of that key.
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), BlobError>;

    /// The object's size in bytes, or `None` if there is no such object.
    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError>;

    /// Bytes `[start, end)` of `key` as a stream of chunks of at most
    /// [`CHUNK_SIZE`]. `end` past the object's end is clamped to it (so is
    /// `start`: the stream is then empty). `start > end` is
    /// [`BlobError::InvalidRange`]; a missing object [`BlobError::NotFound`].
    async fn read_range(&self, key: &str, start: u64, end: u64) -> Result<ByteStream, BlobError>;

    /// Removes the object. A missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
}

/// Bytes an upload gathers before they go to its file: a network chunk is
/// often a few KiB, and each trip to the file is a hop to a blocking
/// thread.
const WRITE_BUFFER: usize = 256 * 1024;

/// An upload in progress: a temporary file on the local disk and its handle.
///
/// Writes are buffered: after [`flush`](Upload::flush) (or
/// [`sync`](Upload::sync)) every byte written is in the file at
/// [`path`](Upload::path), for `inspect` to read. Dropping an upload that no
/// store has taken over removes its file.
#[derive(Debug)]
pub struct Upload {
    file: tokio::io::BufWriter<tokio::fs::File>,
    path: PathBuf,
    len: u64,
    /// Set once a store has moved the file away (or decided to keep it), so
    /// that drop does not remove what is now a stored object.
    kept: bool,
}

impl Upload {
    /// Creates a new, uniquely named, empty file in `dir`. For backends: a
    /// store's [`BlobStore::begin`] calls this with its own temporary folder.
    pub async fn create_in(dir: &Path) -> io::Result<Upload> {
        // Unique without a random-number dependency: process id, a
        // per-process counter and the clock; `create_new` refuses a clash
        // (a leftover of another process), and we try the next name.
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for _ in 0..16 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("up-{}-{nanos:x}-{n}.part", std::process::id()));
            match tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .await
            {
                Ok(file) => {
                    return Ok(Upload {
                        file: tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file),
                        path,
                        len: 0,
                        kept: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free temporary file name",
        ))
    }

    /// Appends `chunk` (buffered: see [`flush`](Upload::flush)).
    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.file.write_all(chunk).await?;
        self.len += chunk.len() as u64;
        Ok(())
    }

    /// Puts every byte written so far into the file, so that a reader of
    /// [`path`](Upload::path) sees them. (tokio's File hands writes to a
    /// blocking thread; its flush waits for them.)
    pub async fn flush(&mut self) -> io::Result<()> {
        self.file.flush().await
    }

    /// The bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The temporary file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes and syncs the file to disk. Stores call this before commit.
    pub async fn sync(&mut self) -> io::Result<()> {
        self.file.flush().await?;
        self.file.get_ref().sync_all().await
    }

    /// Hands the file over to a store: from now on drop leaves it alone.
    /// Returns its path. For backends, once the file has been moved (or
    /// copied and removed).
    pub fn keep(mut self) -> PathBuf {
        self.kept = true;
        std::mem::take(&mut self.path)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.kept {
            // A single unlink: cheap enough to do in place even on an async
            // worker. A failure only leaves a file that the store removes
            // from its temporary folder at the next start.
            if let Err(e) = std::fs::remove_file(&self.path)
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(path = %self.path.display(), error = %e, "could not remove an abandoned upload");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for good in [
            "a",
            "ID",
            "0123456789abcdef.thumb",
            "a-b_c.d",
            &"x".repeat(128),
        ] {
            assert!(validate_key(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "a\\b",
            "a b",
            "é",
            "a\0",
            &"x".repeat(129),
        ] {
            assert!(
                matches!(validate_key(bad), Err(BlobError::InvalidKey)),
                "{bad:?}"
            );
        }
    }
}
