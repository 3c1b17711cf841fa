//! [`LocalBlobStore`]: objects as files in a local directory.
//!
//! Layout under the root:
//!
//! - `objects/<first two characters of the key>/<key>`: the objects;
//! - `tmp/`: uploads in progress and `put`s being written. The same
//!   filesystem as `objects/`, so a commit is one atomic rename. Emptied
//!   when the store is opened: whatever is there was abandoned by a crash.

use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::blob::{
    BlobError, BlobStore, ByteStream, CHUNK_SIZE, Upload, clear_tmp_dir, validate_key,
};

/// A [`BlobStore`] in a local directory.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    objects: PathBuf,
    tmp: PathBuf,
}

impl LocalBlobStore {
    /// Opens (creating as needed) the store rooted at `root` and removes
    /// leftover temporary files. Synchronous: it runs once, at start-up.
    pub fn new(root: PathBuf) -> Result<LocalBlobStore, BlobError> {
        let objects = root.join("objects");
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&objects)?;
        clear_tmp_dir(&tmp)?;
        Ok(LocalBlobStore { objects, tmp })
    }

    /// The folder of temporary files (for tests and diagnostics).
    pub fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    fn object_path(&self, key: &str) -> Result<PathBuf, BlobError> {
        validate_key(key)?;
        // Keys are ASCII (validated), so slicing by bytes is by characters.
        let shard = key.get(..2).unwrap_or(key);
        Ok(self.objects.join(shard).join(key))
    }

    /// Moves `from` to `to` (creating `to`'s folder); across filesystems
    /// (an upload begun by another store) copies and removes instead.
    async fn install(from: &Path, to: &Path) -> io::Result<()> {
        if let Some(parent) = to.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        match tokio::fs::rename(from, to).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
                let partial = to.with_extension("partial-copy");
                tokio::fs::copy(from, &partial).await?;
                tokio::fs::rename(&partial, to).await?;
                tokio::fs::remove_file(from).await
            }
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn begin(&self) -> Result<Upload, BlobError> {
        Ok(Upload::create_in(&self.tmp).await?)
    }

    async fn commit(&self, mut upload: Upload, key: &str) -> Result<(), BlobError> {
        let dest = self.object_path(key)?;
        upload.sync().await?;
        // On failure `upload` is dropped and its file removed.
        Self::install(upload.path(), &dest).await?;
        upload.keep();
        Ok(())
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), BlobError> {
        let dest = self.object_path(key)?;
        let mut upload = Upload::create_in(&self.tmp).await?;
        upload.write(&bytes).await?;
        upload.sync().await?;
        Self::install(upload.path(), &dest).await?;
        upload.keep();
        Ok(())
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        let path = self.object_path(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn read_range(&self, key: &str, start: u64, end: u64) -> Result<ByteStream, BlobError> {
        let path = self.object_path(key)?;
        if start > end {
            return Err(BlobError::InvalidRange { start, end });
        }
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(BlobError::NotFound),
            Err(e) => return Err(e.into()),
        };
        let size = file.metadata().await?.len();
        let end = end.min(size);
        let start = start.min(end);
        file.seek(SeekFrom::Start(start)).await?;
        let reader = file.take(end - start);
        Ok(Box::pin(ReaderStream::with_capacity(reader, CHUNK_SIZE)))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = self.object_path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
