//! [`QueryStream`]: a running query's batches, under its deadline, counted
//! and traced when it ends.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::SendableRecordBatchStream;
use futures::Stream;
use tokio::sync::OwnedSemaphorePermit;

use crate::{ErrorCode, Metrics, ServeError};

/// A running query's slot, released (and counted) when the query ends, or
/// by its watchdog at the query's deadline.
pub(crate) struct Running {
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) _permit: Arc<std::sync::Mutex<Option<OwnedSemaphorePermit>>>,
    pub(crate) watchdog: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.watchdog.abort();
        self.metrics.running(-1);
    }
}

/// A query's batches as they come, ended by the server's timeout, counted in
/// its metrics and traced when dropped.
pub struct QueryStream {
    pub(crate) schema: SchemaRef,
    pub(crate) inner: SendableRecordBatchStream,
    pub(crate) deadline: Pin<Box<tokio::time::Sleep>>,
    pub(crate) timeout: ServeError,
    pub(crate) front_end: &'static str,
    pub(crate) started: Instant,
    pub(crate) id: u64,
    pub(crate) span: tracing::Span,
    pub(crate) rows: usize,
    pub(crate) error: Option<ErrorCode>,
    pub(crate) done: bool,
    pub(crate) _running: Running,
}

impl std::fmt::Debug for QueryStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryStream")
            .field("id", &self.id)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl QueryStream {
    /// The result's schema, known before the first batch.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// The query's id, as traced.
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Stream for QueryStream {
    type Item = Result<RecordBatch, ServeError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.done = true;
            this.error = Some(ErrorCode::Timeout);
            return Poll::Ready(Some(Err(this.timeout.clone())));
        }
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(batch))) => {
                this.rows += batch.num_rows();
                Poll::Ready(Some(Ok(batch)))
            }
            Poll::Ready(Some(Err(error))) => {
                let error = ServeError::from_datafusion(&error);
                this.done = true;
                this.error = Some(error.code);
                Poll::Ready(Some(Err(error)))
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for QueryStream {
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        // Dropped before its end: the client went away, or the front end gave up.
        if !self.done && self.error.is_none() {
            self.error = Some(ErrorCode::Cancelled);
        }
        self._running
            .metrics
            .query(self.front_end, elapsed, self.error);
        self.span.in_scope(|| {
            tracing::info!(
                rows = self.rows,
                elapsed_ms = elapsed.as_millis() as u64,
                complete = self.done && self.error.is_none(),
                error = self.error.map(ErrorCode::as_str),
                "query finished"
            );
        });
    }
}
