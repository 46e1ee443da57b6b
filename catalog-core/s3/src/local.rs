//! The local file system, as every codelake reader opens it.
//!
//! object_store's [`LocalFileSystem`] hands a byte range back as the open
//! file, and its readers (DataFusion's CSV byte-range scan, object_store's own
//! chunked stream) count the bytes still to read from the range they asked
//! for. When the file shrinks between the listing that sized the range and
//! the read (a CSV rewritten in place while a query scans it), a read returns
//! no bytes and that count never reaches zero: DataFusion's reader loops for
//! ever without yielding, holding a worker thread at full CPU, and the query
//! cannot even be cancelled. [`LocalFiles`] reads each range itself and ends
//! it with an error naming the file instead.

use std::fmt;
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::ops::Range;
use std::path::PathBuf;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt as _};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// Bytes read from a file at a time: a Parquet column chunk or a CSV byte
/// range of up to this size is one read and one buffer, with no copy.
const CHUNK: u64 = 8 * 1024 * 1024;

/// [`LocalFileSystem`], but a range that the file no longer holds, whole, is
/// an error naming the file ("it changed while being read"), never a read
/// that waits for bytes that will not come.
#[derive(Debug, Default)]
pub struct LocalFiles {
    inner: LocalFileSystem,
}

impl LocalFiles {
    /// The whole local file system, as `file://` URLs name it.
    pub fn new() -> Self {
        Self::default()
    }
}

impl fmt::Display for LocalFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalFiles({})", self.inner)
    }
}

/// The error a read ends with when `path` holds fewer bytes than asked for.
fn changed(path: &std::path::Path, wanted: u64, found: u64) -> object_store::Error {
    object_store::Error::Generic {
        store: "local",
        source: format!(
            "{} changed while it was being read: {wanted} bytes were expected from it and \
             only {found} are there now; run the query again",
            path.display()
        )
        .into(),
    }
}

/// `range` of `file`, in chunks, ending with an error if the file ends first.
fn chunks(file: File, path: PathBuf, range: Range<u64>) -> BoxStream<'static, Result<Bytes>> {
    let wanted = range.end - range.start;
    stream::try_unfold(
        (Some(file), range.start, 0_u64),
        move |(file, start, done)| {
            let path = path.clone();
            async move {
                let Some(mut file) = file else {
                    return Ok(None);
                };
                if done == wanted {
                    return Ok(None);
                }
                let io = |source: std::io::Error| object_store::Error::Generic {
                    store: "local",
                    source: format!("cannot read {}: {source}", path.display()).into(),
                };
                if done == 0 {
                    file.seek(SeekFrom::Start(start)).map_err(io)?;
                }
                let take = (wanted - done).min(CHUNK);
                let mut buffer = Vec::with_capacity(usize::try_from(take).unwrap_or(0));
                let read = (&mut file)
                    .take(take)
                    .read_to_end(&mut buffer)
                    .map_err(io)? as u64;
                if read == 0 {
                    return Err(changed(&path, wanted, done));
                }
                Ok(Some((
                    Bytes::from(buffer),
                    (Some(file), start, done + read),
                )))
            }
        },
    )
    .boxed()
}

#[async_trait::async_trait]
impl ObjectStore for LocalFiles {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let asked = match &options.range {
            Some(GetRange::Bounded(range)) => Some(range.clone()),
            _ => None,
        };
        let result = match self.inner.get_opts(location, options).await {
            Ok(result) => result,
            Err(error) => {
                // A range that starts past the end: the file shrank since it was listed.
                if let Some(asked) = asked
                    && let Ok(path) = self.inner.path_to_filesystem(location)
                    && std::fs::metadata(&path).is_ok_and(|meta| meta.len() <= asked.start)
                {
                    return Err(changed(&path, asked.end - asked.start, 0));
                }
                return Err(error);
            }
        };
        let GetResult {
            payload,
            meta,
            range,
            attributes,
        } = result;
        let payload = match payload {
            GetResultPayload::File(file, path) => {
                // object_store shortens a range past the end to the file's size.
                if let Some(asked) = asked
                    && asked.end > range.end
                {
                    return Err(changed(
                        &path,
                        asked.end - asked.start,
                        range.end.saturating_sub(asked.start),
                    ));
                }
                GetResultPayload::Stream(chunks(file, path, range.clone()))
            }
            stream => stream,
        };
        Ok(GetResult {
            payload,
            meta,
            range,
            attributes,
        })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt as _;
    use object_store::ObjectStoreExt as _;

    /// A range the file held when it was listed, and no longer does, is an
    /// error naming the file: asked for at once, or shrinking mid-read.
    #[tokio::test]
    async fn a_file_that_shrinks_is_an_error_naming_it_never_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nation.csv");
        std::fs::write(&file, vec![b'x'; 200_000]).unwrap();
        let store = LocalFiles::new();
        let location = Path::from_absolute_path(&file).unwrap();

        let whole = store.get_range(&location, 10..150_000).await.unwrap();
        assert_eq!(whole.len(), 149_990);

        // Opened while whole, shortened before the read.
        let opened = store
            .get_opts(
                &location,
                GetOptions {
                    range: Some(GetRange::Bounded(0..200_000)),
                    ..GetOptions::default()
                },
            )
            .await
            .unwrap();
        std::fs::write(&file, vec![b'x'; 100_000]).unwrap();
        let error = opened
            .into_stream()
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains(&format!(
                "{} changed while it was being read: 200000 bytes were expected from it and only",
                file.display()
            )),
            "{error}"
        );

        // Starting past the end now.
        let error = store
            .get_range(&location, 150_000..160_000)
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains(&format!(
                "{} changed while it was being read: 10000 bytes were expected from it and only 0",
                file.display()
            )),
            "{error}"
        );

        // Asked for after it shrank.
        let error = store
            .get_range(&location, 50_000..150_000)
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("100000 bytes were expected from it and only 50000"),
            "{error}"
        );
    }
}
