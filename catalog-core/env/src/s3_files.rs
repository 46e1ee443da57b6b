//! The local environment's S3 server: s3s-fs, with object reads in large chunks.
//!
//! s3s-fs 0.14 streams an object in 4 KiB reads of a `tokio::fs::File`, and each
//! one is a round trip through tokio's blocking pool. A profile of `cargo xtask
//! bench` showed the server spending most of its time in the scheduler, using
//! about twice the CPU of the query it served. Reading Parquet through it was 2× to 6×
//! slower than from disk. [`LocalS3`] keeps everything s3s-fs does (paths,
//! headers, ranges, checksums, uploads) and only replaces the body of
//! `GetObject` with reads of [`CHUNK`] bytes.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::Stream;
use hyper::body::Bytes;
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};
use s3s_fs::FileSystem;

/// Bytes read from disk at a time: one blocking-pool round trip each.
const CHUNK: u64 = 4 << 20;

/// s3s-fs over `root`, reading objects in chunks of [`CHUNK`] bytes.
pub(crate) struct LocalS3 {
    inner: FileSystem,
    root: PathBuf,
    gets: Arc<AtomicU64>,
}

impl LocalS3 {
    pub(crate) fn new(inner: FileSystem, root: PathBuf, gets: Arc<AtomicU64>) -> Self {
        Self { inner, root, gets }
    }

    async fn get_object_chunked(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        let path = self.root.join(&req.input.bucket).join(&req.input.key);
        // s3s-fs checks the path, the range and the conditions, and sets the headers.
        let mut response = self.inner.get_object(req).await?;
        let output = &mut response.output;
        let length = output
            .content_length
            .and_then(|length| u64::try_from(length).ok())
            .unwrap_or(0);
        let start = output
            .content_range
            .as_deref()
            .and_then(range_start)
            .unwrap_or(0);
        output.body = Some(StreamingBlob::wrap(read_range(path, start, length)));
        Ok(response)
    }
}

/// The first byte of a `Content-Range` value, `bytes START-END/TOTAL`.
fn range_start(content_range: &str) -> Option<u64> {
    content_range
        .strip_prefix("bytes ")?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// `length` bytes of the file at `path` from `start`, in chunks of [`CHUNK`].
fn read_range(
    path: PathBuf,
    start: u64,
    length: u64,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static {
    futures::stream::try_unfold(
        (path, start, length),
        |(path, offset, remaining)| async move {
            if remaining == 0 {
                return Ok(None);
            }
            let size = remaining.min(CHUNK);
            let (path, chunk) = tokio::task::spawn_blocking(move || {
                let mut file = std::fs::File::open(&path)?;
                file.seek(SeekFrom::Start(offset))?;
                // Read into spare capacity: `File` fills it without zeroing it first
                // (zeroing was 15% of the server's CPU time on TPC-H Q3).
                let mut buffer =
                    Vec::with_capacity(usize::try_from(size).map_err(std::io::Error::other)?);
                (&mut file).take(size).read_to_end(&mut buffer)?;
                if buffer.len() as u64 != size {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("{} ended before the range requested", path.display()),
                    ));
                }
                Ok::<_, std::io::Error>((path, Bytes::from(buffer)))
            })
            .await
            .map_err(std::io::Error::other)??;
            Ok(Some((chunk, (path, offset + size, remaining - size))))
        },
    )
}

/// Every other operation s3s-fs implements, unchanged.
macro_rules! forward {
    ($($method:ident($input:ident) -> $output:ident;)*) => {
        #[async_trait::async_trait]
        impl S3 for LocalS3 {
            async fn get_object(
                &self,
                req: S3Request<GetObjectInput>,
            ) -> S3Result<S3Response<GetObjectOutput>> {
                self.get_object_chunked(req).await
            }

            $(
                async fn $method(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    self.inner.$method(req).await
                }
            )*
        }
    };
}

forward! {
    abort_multipart_upload(AbortMultipartUploadInput) -> AbortMultipartUploadOutput;
    complete_multipart_upload(CompleteMultipartUploadInput) -> CompleteMultipartUploadOutput;
    copy_object(CopyObjectInput) -> CopyObjectOutput;
    create_bucket(CreateBucketInput) -> CreateBucketOutput;
    create_multipart_upload(CreateMultipartUploadInput) -> CreateMultipartUploadOutput;
    delete_bucket(DeleteBucketInput) -> DeleteBucketOutput;
    delete_object(DeleteObjectInput) -> DeleteObjectOutput;
    delete_objects(DeleteObjectsInput) -> DeleteObjectsOutput;
    get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
    head_bucket(HeadBucketInput) -> HeadBucketOutput;
    head_object(HeadObjectInput) -> HeadObjectOutput;
    list_buckets(ListBucketsInput) -> ListBucketsOutput;
    list_objects(ListObjectsInput) -> ListObjectsOutput;
    list_objects_v2(ListObjectsV2Input) -> ListObjectsV2Output;
    list_parts(ListPartsInput) -> ListPartsOutput;
    put_object(PutObjectInput) -> PutObjectOutput;
    upload_part(UploadPartInput) -> UploadPartOutput;
    upload_part_copy(UploadPartCopyInput) -> UploadPartCopyOutput;
}

#[cfg(test)]
mod tests {
    use super::range_start;

    #[test]
    fn content_range_start() {
        assert_eq!(range_start("bytes 4-1048579/9000000"), Some(4));
        assert_eq!(range_start("bytes 0-0/1"), Some(0));
        assert_eq!(range_start("items 1-2/3"), None);
    }
}
