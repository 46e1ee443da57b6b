//! The byte-range cache for remote objects, and the Parquet reader that uses it.
//!
//! Every byte range a host-executed Parquet scan reads is kept in memory, up
//! to a bounded size, least recently used out first, so a warm query reads
//! nothing twice. It is keyed by the store, the object's path, its size and
//! modification time (an object rewritten in place is a new key: S3's ETag
//! does not survive a plan's encoding, its time does), and the range. One
//! cache is shared by every table of every store in the process.
//!
//! Hits, misses and bytes are counted per scan, as metrics of the scan's
//! `DataSourceExec` (`EXPLAIN ANALYZE` shows them), and in total
//! ([`range_cache_stats`]). Its size is [`CACHE_VAR`] (default 512 MiB; `0`
//! or `off` turns it off).

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use bytes::Bytes;
use datafusion::common::Result;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::datasource::physical_plan::{ParquetFileMetrics, ParquetFileReaderFactory};
use datafusion::execution::cache::cache_manager::FileMetadataCache;
use datafusion::execution::cache::lru_queue::LruQueue;
use datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::ParquetMetaData;
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, MetricBuilder};
use futures::FutureExt;
use futures::future::BoxFuture;
use object_store::{ObjectMeta, ObjectStore};

/// The environment variable that sizes the byte-range cache: bytes, or a
/// size such as `512MiB` or `2GiB`; `0` or `off` turns it off.
pub const CACHE_VAR: &str = "CODELAKE_RANGE_CACHE";

/// The cache's size when [`CACHE_VAR`] is not set.
const DEFAULT_CAPACITY: u64 = 512 * 1024 * 1024;

/// What the byte-range cache has done since the process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RangeCacheStats {
    /// Ranges answered from memory.
    pub hits: u64,
    /// Ranges read from their store.
    pub misses: u64,
    /// Bytes answered from memory.
    pub hit_bytes: u64,
    /// Bytes read from their store.
    pub miss_bytes: u64,
    /// Bytes held now.
    pub resident_bytes: u64,
    /// The most it holds; 0 when it is off.
    pub capacity_bytes: u64,
}

/// The byte-range cache's counters, for metrics pages.
pub fn range_cache_stats() -> RangeCacheStats {
    match cache() {
        Some(cache) => cache.stats(),
        None => RangeCacheStats::default(),
    }
}

/// Which bytes: the store, the object and its version, the range.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    store: Arc<str>,
    path: Arc<str>,
    size: u64,
    modified_ns: i64,
    start: u64,
    end: u64,
}

struct Entries {
    lru: LruQueue<Key, Bytes>,
    resident: u64,
}

/// The process's byte-range cache.
pub(super) struct RangeCache {
    capacity: u64,
    entries: Mutex<Entries>,
    hits: AtomicU64,
    misses: AtomicU64,
    hit_bytes: AtomicU64,
    miss_bytes: AtomicU64,
}

/// The cache, sized by [`CACHE_VAR`] when first used; `None` when off.
fn cache() -> Option<&'static RangeCache> {
    static CACHE: OnceLock<Option<RangeCache>> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            let capacity = match std::env::var(CACHE_VAR) {
                Ok(value) => parse_size(&value).unwrap_or_else(|| {
                    eprintln!(
                        "warning: {CACHE_VAR}={value:?} is not a size (like 512MiB, or off); \
                         using the default, 512 MiB"
                    );
                    DEFAULT_CAPACITY
                }),
                Err(_) => DEFAULT_CAPACITY,
            };
            (capacity > 0).then(|| RangeCache::new(capacity))
        })
        .as_ref()
}

/// `512MiB`, `2GiB`, `1000000`, `off`: a size in bytes.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Some(0);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(scale)
}

impl RangeCache {
    fn new(capacity: u64) -> Self {
        Self {
            capacity,
            entries: Mutex::new(Entries {
                lru: LruQueue::new(),
                resident: 0,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            hit_bytes: AtomicU64::new(0),
            miss_bytes: AtomicU64::new(0),
        }
    }

    fn stats(&self) -> RangeCacheStats {
        let resident = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .resident;
        RangeCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            hit_bytes: self.hit_bytes.load(Ordering::Relaxed),
            miss_bytes: self.miss_bytes.load(Ordering::Relaxed),
            resident_bytes: resident,
            capacity_bytes: self.capacity,
        }
    }

    fn get(&self, key: &Key) -> Option<Bytes> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .lru
            .get(key)
            .cloned()
    }

    /// Keeps `bytes`, dropping the least recently used ranges to make room. A
    /// range larger than an eighth of the cache is not kept: one scan of a
    /// huge column must not empty the cache.
    fn put(&self, key: Key, bytes: Bytes) {
        let size = bytes.len() as u64;
        if size > self.capacity / 8 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = entries.lru.put(key, bytes) {
            entries.resident -= old.len() as u64;
        }
        entries.resident += size;
        while entries.resident > self.capacity {
            match entries.lru.pop() {
                Some((_, evicted)) => entries.resident -= evicted.len() as u64,
                None => break,
            }
        }
    }
}

/// One scan's cache counters, shown by `EXPLAIN ANALYZE` on its `DataSourceExec`.
#[derive(Clone)]
struct ScanCounters {
    hits: Count,
    misses: Count,
    hit_bytes: Count,
}

/// Opens each Parquet file of a host-executed scan for reading through the
/// byte-range cache, with footers and page indexes from the runtime's file
/// metadata cache, as DataFusion's own reader does.
#[derive(Debug)]
pub(super) struct CachingReaderFactory {
    store: Arc<dyn ObjectStore>,
    store_url: Arc<str>,
    metadata_cache: Arc<FileMetadataCache>,
}

impl CachingReaderFactory {
    pub(super) fn new(
        store: Arc<dyn ObjectStore>,
        store_url: &str,
        metadata_cache: Arc<FileMetadataCache>,
    ) -> Self {
        Self {
            store,
            store_url: store_url.into(),
            metadata_cache,
        }
    }
}

impl ParquetFileReaderFactory for CachingReaderFactory {
    fn create_reader(
        &self,
        partition_index: usize,
        partitioned_file: PartitionedFile,
        metadata_size_hint: Option<usize>,
        metrics: &ExecutionPlanMetricsSet,
    ) -> Result<Box<dyn AsyncFileReader + Send>> {
        let meta = partitioned_file.object_meta.clone();
        let file_metrics =
            ParquetFileMetrics::new(partition_index, meta.location.as_ref(), metrics);
        let counters = ScanCounters {
            hits: MetricBuilder::new(metrics).counter("range_cache_hits", partition_index),
            misses: MetricBuilder::new(metrics).counter("range_cache_misses", partition_index),
            hit_bytes: MetricBuilder::new(metrics)
                .counter("range_cache_hit_bytes", partition_index),
        };
        Ok(Box::new(CachingReader {
            store: Arc::clone(&self.store),
            store_url: Arc::clone(&self.store_url),
            path: meta.location.as_ref().into(),
            meta,
            file_metrics,
            counters,
            metadata_cache: Arc::clone(&self.metadata_cache),
            metadata_size_hint,
        }))
    }
}

/// One Parquet file, read through the cache.
struct CachingReader {
    store: Arc<dyn ObjectStore>,
    store_url: Arc<str>,
    path: Arc<str>,
    meta: ObjectMeta,
    file_metrics: ParquetFileMetrics,
    counters: ScanCounters,
    metadata_cache: Arc<FileMetadataCache>,
    metadata_size_hint: Option<usize>,
}

impl CachingReader {
    fn key(&self, range: &Range<u64>) -> Key {
        Key {
            store: Arc::clone(&self.store_url),
            path: Arc::clone(&self.path),
            size: self.meta.size,
            modified_ns: self
                .meta
                .last_modified
                .timestamp_nanos_opt()
                .unwrap_or_default(),
            start: range.start,
            end: range.end,
        }
    }

    /// `ranges`, each from the cache or, all the missing ones in one call, from the store.
    async fn read(&self, ranges: Vec<Range<u64>>) -> Result<Vec<Bytes>, ParquetError> {
        let total: u64 = ranges.iter().map(|range| range.end - range.start).sum();
        self.file_metrics.bytes_scanned.add(total as usize);
        let Some(cache) = cache() else {
            return self
                .store
                .get_ranges(&self.meta.location, &ranges)
                .await
                .map_err(|error| ParquetError::External(Box::new(error)));
        };
        let mut found: Vec<Option<Bytes>> = ranges
            .iter()
            .map(|range| cache.get(&self.key(range)))
            .collect();
        let (mut hits, mut hit_bytes) = (0, 0);
        for bytes in found.iter().flatten() {
            hits += 1;
            hit_bytes += bytes.len();
        }
        let missing: Vec<Range<u64>> = ranges
            .iter()
            .zip(&found)
            .filter(|(_, found)| found.is_none())
            .map(|(range, _)| range.clone())
            .collect();
        self.counters.hits.add(hits);
        self.counters.hit_bytes.add(hit_bytes);
        cache.hits.fetch_add(hits as u64, Ordering::Relaxed);
        cache
            .hit_bytes
            .fetch_add(hit_bytes as u64, Ordering::Relaxed);
        if !missing.is_empty() {
            let read = self
                .store
                .get_ranges(&self.meta.location, &missing)
                .await
                .map_err(|error| ParquetError::External(Box::new(error)))?;
            let miss_bytes: usize = read.iter().map(Bytes::len).sum();
            self.counters.misses.add(missing.len());
            cache
                .misses
                .fetch_add(missing.len() as u64, Ordering::Relaxed);
            cache
                .miss_bytes
                .fetch_add(miss_bytes as u64, Ordering::Relaxed);
            let mut read = missing.iter().zip(read);
            for slot in found.iter_mut().filter(|slot| slot.is_none()) {
                let (range, bytes) = read.next().expect("one answer per missing range");
                cache.put(self.key(range), bytes.clone());
                *slot = Some(bytes);
            }
        }
        Ok(found.into_iter().map(Option::unwrap_or_default).collect())
    }
}

impl AsyncFileReader for CachingReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, Result<Bytes, ParquetError>> {
        async move {
            let mut read = self.read(vec![range]).await?;
            Ok(read.pop().unwrap_or_default())
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, Result<Vec<Bytes>, ParquetError>> {
        async move { self.read(ranges).await }.boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, Result<Arc<ParquetMetaData>, ParquetError>> {
        let page_index_policy = options.map(|options| options.column_index_policy());
        async move {
            DFParquetMetadata::new(self.store.as_ref(), &self.meta)
                .with_file_metadata_cache(Some(Arc::clone(&self.metadata_cache)))
                .with_metadata_size_hint(self.metadata_size_hint)
                .with_page_index_policy(page_index_policy)
                .fetch_metadata()
                .await
                .map_err(|error| {
                    ParquetError::General(format!(
                        "cannot read the footer of {}/{}: {error}",
                        self.store_url.trim_end_matches('/'),
                        self.meta.location
                    ))
                })
        }
        .boxed()
    }
}

impl Drop for CachingReader {
    fn drop(&mut self) {
        self.file_metrics
            .scan_efficiency_ratio
            .add_part(self.file_metrics.bytes_scanned.value());
        self.file_metrics
            .scan_efficiency_ratio
            .set_total(self.meta.size as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_with_binary_units_and_off() {
        assert_eq!(parse_size("512MiB"), Some(512 << 20));
        assert_eq!(parse_size("2 GiB"), Some(2 << 30));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("off"), Some(0));
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("5 parsecs"), None);
    }
}
