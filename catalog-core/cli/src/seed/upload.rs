//! Sending a spooled Parquet file to S3 as one multipart upload, aborted on
//! any failure.

use std::path::Path;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

/// The size of each part of an upload: S3 takes at least 5 MiB but for the last.
const PART_SIZE: usize = 16 << 20;

/// Uploads the file at `file` to `path` as one multipart upload, a few parts in
/// flight: the object appears only once every part is in, and any failure
/// aborts the upload, so no part lingers (S3 keeps, and bills, the parts of an
/// upload that is neither completed nor aborted).
pub(crate) async fn upload(
    store: &dyn ObjectStore,
    path: &ObjectPath,
    file: &Path,
) -> anyhow::Result<()> {
    send(store.put_multipart(path).await?, file, PART_SIZE).await
}

/// Sends `file` through `upload` in parts of `part_size`, then completes it;
/// aborts it on any failure.
async fn send(
    mut upload: Box<dyn object_store::MultipartUpload>,
    file: &Path,
    part_size: usize,
) -> anyhow::Result<()> {
    use futures::StreamExt as _;
    use tokio::io::AsyncReadExt as _;
    let mut in_flight = futures::stream::FuturesUnordered::new();
    let sent = async {
        let mut reader = tokio::fs::File::open(file).await?;
        loop {
            let mut part = Vec::with_capacity(part_size);
            (&mut reader)
                .take(part_size as u64)
                .read_to_end(&mut part)
                .await?;
            if part.is_empty() {
                break;
            }
            in_flight.push(upload.put_part(object_store::PutPayload::from(part)));
            while in_flight.len() >= 4 {
                in_flight.next().await.transpose()?;
            }
        }
        while let Some(sent) = in_flight.next().await {
            sent?;
        }
        anyhow::Ok(())
    }
    .await;
    // Parts already sent finish (or fail) before the abort, so none lands after it.
    while in_flight.next().await.is_some() {}
    let completed = match sent {
        Ok(()) => upload
            .complete()
            .await
            .map(drop)
            .map_err(anyhow::Error::from),
        Err(error) => Err(error),
    };
    if let Err(error) = completed {
        if let Err(abort) = upload.abort().await {
            anyhow::bail!(
                "{error:#}; the upload could not be aborted either ({abort}), so its parts stay \
                 until the bucket's lifecycle rule removes them"
            );
        }
        return Err(error);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use object_store::{MultipartUpload, PutPayload, PutResult, UploadPart};

    use super::send;

    /// What an upload was asked to do.
    #[derive(Debug, Default, PartialEq)]
    struct Calls {
        parts: Vec<usize>,
        completed: bool,
        aborted: bool,
    }

    /// An upload that records its calls and fails the part or the completion it is told to.
    #[derive(Debug)]
    struct Recording {
        calls: Arc<Mutex<Calls>>,
        fail_part: Option<usize>,
        fail_complete: bool,
    }

    #[async_trait::async_trait]
    impl MultipartUpload for Recording {
        fn put_part(&mut self, data: PutPayload) -> UploadPart {
            let mut calls = self.calls.lock().unwrap();
            calls.parts.push(data.content_length());
            let fail = self.fail_part == Some(calls.parts.len());
            Box::pin(async move {
                if fail {
                    Err(object_store::Error::Generic {
                        store: "test",
                        source: "the connection was reset".into(),
                    })
                } else {
                    Ok(())
                }
            })
        }

        async fn complete(&mut self) -> object_store::Result<PutResult> {
            self.calls.lock().unwrap().completed = true;
            if self.fail_complete {
                return Err(object_store::Error::Generic {
                    store: "test",
                    source: "the completion was refused".into(),
                });
            }
            Ok(PutResult {
                e_tag: None,
                version: None,
            })
        }

        async fn abort(&mut self) -> object_store::Result<()> {
            self.calls.lock().unwrap().aborted = true;
            Ok(())
        }
    }

    async fn run(fail_part: Option<usize>, fail_complete: bool) -> (anyhow::Result<()>, Calls) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), vec![7u8; 25]).unwrap();
        let calls = Arc::new(Mutex::new(Calls::default()));
        let upload = Recording {
            calls: Arc::clone(&calls),
            fail_part,
            fail_complete,
        };
        let result = send(Box::new(upload), file.path(), 10).await;
        let calls = std::mem::take(&mut *calls.lock().unwrap());
        (result, calls)
    }

    #[tokio::test]
    async fn an_upload_is_completed_in_parts_or_aborted_on_any_failure() {
        let (result, calls) = run(None, false).await;
        result.unwrap();
        assert_eq!(
            calls,
            Calls {
                parts: vec![10, 10, 5],
                completed: true,
                aborted: false
            }
        );

        // A part that fails: never completed, aborted, and the cause said.
        let (result, calls) = run(Some(2), false).await;
        assert!(format!("{:#}", result.unwrap_err()).contains("the connection was reset"),);
        assert!(!calls.completed && calls.aborted, "{calls:?}");

        // A completion that fails: aborted too.
        let (result, calls) = run(None, true).await;
        assert!(format!("{:#}", result.unwrap_err()).contains("the completion was refused"),);
        assert!(calls.completed && calls.aborted, "{calls:?}");
    }
}
