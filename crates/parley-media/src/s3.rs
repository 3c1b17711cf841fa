//! [`S3BlobStore`]: objects in an S3-compatible bucket (AWS S3, MinIO,
//! Ceph, Garage, R2, ...), through the `object_store` crate.
//!
//! An upload is still streamed into a local temporary file (inspection
//! reads it from disk); its commit sends that file to the bucket, as one
//! `PUT` when small and as a multipart upload of [`PART_SIZE`] parts
//! otherwise, never holding more than [`PARTS_IN_FLIGHT`] parts in memory.
//! Object `KEY` is `PREFIX/KEY` in the bucket, so one bucket can hold
//! several deployments.
//!
//! Every request has a timeout and a bounded number of retries, so a dead
//! endpoint fails an upload or a read in bounded time instead of holding
//! it. The endpoint is the operator's own configuration, so (unlike
//! outbound calls a user can aim) a private address is allowed: MinIO on
//! the local network is the usual set-up.

use std::io;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{
    ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
    WriteMultipart,
};
use tokio::io::AsyncReadExt;

use crate::blob::{
    BlobError, BlobStore, ByteStream, CHUNK_SIZE, Upload, clear_tmp_dir, validate_key,
};

/// The size of one part of a multipart upload: S3's smallest for every
/// part but the last, so a commit holds as little as it can (10,000 parts
/// make 50 GiB, far above any upload limit). Files up to this size go in
/// one `PUT`.
pub const PART_SIZE: usize = 5 * 1024 * 1024;

/// Parts of one upload sent at once: with [`PART_SIZE`], the most one
/// commit holds in memory is about `(PARTS_IN_FLIGHT + 1) * PART_SIZE`.
pub const PARTS_IN_FLIGHT: usize = 2;

/// Where and how to reach the bucket.
#[derive(Clone)]
pub struct S3Config {
    pub bucket: String,
    /// Folder inside the bucket (no leading or trailing `/`); may be empty.
    pub prefix: String,
    /// `http(s)://host:port` of an S3-compatible server; `None` for AWS.
    pub endpoint: Option<String>,
    pub region: String,
    /// Static credentials; without them the usual AWS sources (environment,
    /// instance metadata) are asked.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// The local folder uploads are streamed into before their commit.
    pub tmp_dir: PathBuf,
}

impl std::fmt::Debug for S3Config {
    /// Never prints the secret key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "***"),
            )
            .field("tmp_dir", &self.tmp_dir)
            .finish()
    }
}

impl S3Config {
    /// Parses `s3://BUCKET[/PREFIX]` into the bucket and prefix; the rest of
    /// the fields are defaults to be filled in.
    pub fn parse_url(url: &str) -> Result<(String, String), String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("expected s3://BUCKET[/PREFIX], not {url:?}"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'));
        if !bucket_ok {
            return Err(format!(
                "{bucket:?} is not a bucket name (3 to 63 of a-z 0-9 . -)"
            ));
        }
        let prefix = prefix.trim_matches('/');
        let prefix_ok = prefix.split('/').all(|segment| {
            prefix.is_empty() || (!segment.is_empty() && validate_key(segment).is_ok())
        });
        if !prefix_ok {
            return Err(format!(
                "{prefix:?} is not a prefix (segments of A-Z a-z 0-9 . _ -, not starting with .)"
            ));
        }
        Ok((bucket.to_string(), prefix.to_string()))
    }
}

/// A [`BlobStore`] in an S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    bucket: Arc<AmazonS3>,
    prefix: String,
    tmp: PathBuf,
}

fn backend(e: object_store::Error) -> BlobError {
    match e {
        object_store::Error::NotFound { .. } => BlobError::NotFound,
        other => BlobError::Io(io::Error::other(other)),
    }
}

impl S3BlobStore {
    /// Builds the client and empties the temporary folder. Nothing is sent
    /// yet: [`check`](S3BlobStore::check) does that.
    pub fn new(config: S3Config) -> Result<S3BlobStore, BlobError> {
        clear_tmp_dir(&config.tmp_dir)?;
        parley_outbound::install_crypto_provider();
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    // Long enough for one part on a slow link, short enough
                    // that a hung endpoint frees the request.
                    .with_timeout(Duration::from_secs(60))
                    .with_allow_http(
                        config
                            .endpoint
                            .as_deref()
                            .is_some_and(|e| e.starts_with("http://")),
                    ),
            )
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(60),
                ..RetryConfig::default()
            });
        if let Some(endpoint) = &config.endpoint {
            // Path-style (`endpoint/bucket/key`): what MinIO and most
            // self-hosted servers expect without wildcard DNS.
            builder = builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false);
        }
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
        }
        let bucket = builder
            .build()
            .map_err(|e| BlobError::Io(io::Error::other(e)))?;
        Ok(S3BlobStore {
            bucket: Arc::new(bucket),
            prefix: config.prefix,
            tmp: config.tmp_dir,
        })
    }

    /// One request to the bucket (a `HEAD` of a key that need not exist),
    /// so that a wrong endpoint, bucket or key pair fails at start-up, not
    /// at the first upload.
    pub async fn check(&self) -> Result<(), BlobError> {
        self.size("parley-start-check").await.map(|_| ())
    }

    /// The folder of temporary files (for tests and diagnostics).
    pub fn tmp_dir(&self) -> &FsPath {
        &self.tmp
    }

    fn path(&self, key: &str) -> Result<Path, BlobError> {
        validate_key(key)?;
        Ok(if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        })
    }

    /// Sends the file at `from` (of `len` bytes) to `to`.
    async fn send_file(&self, from: &FsPath, len: u64, to: &Path) -> Result<(), BlobError> {
        let mut file = tokio::fs::File::open(from).await?;
        if len <= PART_SIZE as u64 {
            let mut bytes = Vec::with_capacity(len as usize);
            file.read_to_end(&mut bytes).await?;
            self.bucket
                .put(to, PutPayload::from(bytes))
                .await
                .map_err(backend)?;
            return Ok(());
        }
        let upload = self.bucket.put_multipart(to).await.map_err(backend)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut buf = vec![0u8; CHUNK_SIZE];
        let sent: Result<(), BlobError> = async {
            loop {
                let n = file.read(&mut buf).await?;
                if n == 0 {
                    return Ok(());
                }
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(backend)?;
                writer.write(&buf[..n]);
            }
        }
        .await;
        match sent {
            Ok(()) => {
                writer.finish().await.map_err(backend)?;
                Ok(())
            }
            Err(e) => {
                // Frees the parts already stored; a failure here only
                // leaves what the bucket's lifecycle rule for incomplete
                // uploads removes.
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(error = %abort, "could not abort a multipart upload");
                }
                Err(e)
            }
        }
    }
}

/// Cuts each chunk of `body` into pieces of at most [`CHUNK_SIZE`] (the
/// trait's promise; the HTTP client's chunks can be larger).
fn rechunk(
    body: futures_util::stream::BoxStream<'static, object_store::Result<Bytes>>,
) -> ByteStream {
    Box::pin(body.flat_map(|item| {
        let pieces: Vec<io::Result<Bytes>> = match item {
            Ok(mut bytes) => {
                let mut pieces = Vec::with_capacity(bytes.len().div_ceil(CHUNK_SIZE));
                while bytes.len() > CHUNK_SIZE {
                    pieces.push(Ok(bytes.split_to(CHUNK_SIZE)));
                }
                if !bytes.is_empty() {
                    pieces.push(Ok(bytes));
                }
                pieces
            }
            Err(e) => vec![Err(io::Error::other(e))],
        };
        stream::iter(pieces)
    }))
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn begin(&self) -> Result<Upload, BlobError> {
        Ok(Upload::create_in(&self.tmp).await?)
    }

    async fn commit(&self, mut upload: Upload, key: &str) -> Result<(), BlobError> {
        let to = self.path(key)?;
        upload.sync().await?;
        // On failure `upload` is dropped and its file removed.
        self.send_file(upload.path(), upload.len(), &to).await
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), BlobError> {
        let to = self.path(key)?;
        self.bucket
            .put(&to, PutPayload::from(bytes))
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        let path = self.path(key)?;
        match self.bucket.head(&path).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    async fn read_range(&self, key: &str, start: u64, end: u64) -> Result<ByteStream, BlobError> {
        let path = self.path(key)?;
        if start > end {
            return Err(BlobError::InvalidRange { start, end });
        }
        // One ranged GET: S3 (and object_store) clamp an end past the
        // object. Only what a range cannot say needs the size: an empty
        // range, or a start at or past the end (which S3 answers with 416);
        // a HEAD then tells an empty read from a missing object.
        if start < end {
            let options = GetOptions {
                range: Some(GetRange::Bounded(start..end)),
                ..GetOptions::default()
            };
            match self.bucket.get_opts(&path, options).await {
                Ok(got) => return Ok(rechunk(got.into_stream())),
                Err(e @ object_store::Error::NotFound { .. }) => return Err(backend(e)),
                Err(e) => {
                    if self.size(key).await?.is_some_and(|size| start < size) {
                        return Err(backend(e));
                    }
                }
            }
        }
        match self.size(key).await? {
            Some(_) => Ok(Box::pin(stream::empty())),
            None => Err(BlobError::NotFound),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = self.path(key)?;
        match self.bucket.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            S3Config::parse_url("s3://media-bucket"),
            Ok(("media-bucket".into(), String::new()))
        );
        assert_eq!(
            S3Config::parse_url("s3://media-bucket/prod/parley/"),
            Ok(("media-bucket".into(), "prod/parley".into()))
        );
        for bad in [
            "media-bucket",
            "s3://",
            "s3://ab",
            "s3://Upper",
            "s3://b_ucket",
            "s3://bucket/../x",
            "s3://bucket/a//b",
            "s3://bucket/a b",
            "s3://bucket/.hidden",
        ] {
            assert!(S3Config::parse_url(bad).is_err(), "{bad}");
        }
    }
}
