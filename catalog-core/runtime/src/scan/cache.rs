//! The byte-range cache for remote objects, and the Parquet reader that uses it.
//!
//! Every byte range a host-executed Parquet scan reads is kept in memory, up
//! to a bounded size, least recently used out first, so a warm query reads
//! nothing twice. It is keyed by the store (its URL and client), the object's
//! path, its version (its ETag, which the plugin sends beside the plan, and
//! its size and modification time) and the range: an object rewritten in
//! place is a new key. A range is copied out of the response it came in, so
//! the cache holds exactly the bytes it counts. One cache is shared by every
//! table of every store in the process.
//!
//! Hits, misses and bytes are counted per scan, as metrics of the scan's
//! `DataSourceExec` (`EXPLAIN ANALYZE` shows them), and in total
//! ([`range_cache_stats`]). Its size is [`CACHE_VAR`] (default 512 MiB; `0`
//! or `off` turns it off).

use std::collections::HashMap;
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
    e_tag: Option<Arc<str>>,
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
pub(crate) fn parse_size(text: &str) -> Option<u64> {
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

    /// Each key's bytes, if held: one lock for all of them.
    fn get_all(&self, keys: &[Key]) -> Vec<Option<Bytes>> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        keys.iter()
            .map(|key| entries.lru.get(key).cloned())
            .collect()
    }

    /// Keeps each range, copied out of the response it came in (a slice would
    /// keep the whole response alive), dropping the least recently used ranges
    /// to make room. A range larger than an eighth of the cache is not kept:
    /// one scan of a huge column must not empty the cache.
    fn put_all(&self, ranges: impl IntoIterator<Item = (Key, Bytes)>) {
        let kept: Vec<(Key, Bytes)> = ranges
            .into_iter()
            .filter(|(_, bytes)| bytes.len() as u64 <= self.capacity / 8)
            .map(|(key, bytes)| (key, Bytes::copy_from_slice(&bytes)))
            .collect();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, bytes) in kept {
            let size = bytes.len() as u64;
            if let Some(old) = entries.lru.put(key, bytes) {
                entries.resident -= old.len() as u64;
            }
            entries.resident += size;
        }
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
    /// The store's URL and its client's identity: two clients for one URL
    /// (two environments, two endpoints) never share entries.
    store_key: Arc<str>,
    metadata_cache: Arc<FileMetadataCache>,
    /// Each object's ETag, by path, as the plugin listed it.
    versions: Arc<HashMap<String, String>>,
    table: Arc<str>,
}

impl CachingReaderFactory {
    pub(super) fn new(
        store: Arc<dyn ObjectStore>,
        store_url: &str,
        metadata_cache: Arc<FileMetadataCache>,
        versions: Arc<HashMap<String, String>>,
        table: &str,
    ) -> Self {
        // The shared clients live as long as the process, so their address is theirs.
        let client = Arc::as_ptr(&store).cast::<()>() as usize;
        Self {
            store_key: format!("{store_url}@{client:x}").into(),
            store,
            store_url: store_url.into(),
            metadata_cache,
            versions,
            table: table.into(),
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
        // Only when the cache is on: zeros would say it missed.
        let counters = cache().map(|_| ScanCounters {
            hits: MetricBuilder::new(metrics).counter("range_cache_hits", partition_index),
            misses: MetricBuilder::new(metrics).counter("range_cache_misses", partition_index),
            hit_bytes: MetricBuilder::new(metrics)
                .counter("range_cache_hit_bytes", partition_index),
        });
        let path: Arc<str> = meta.location.as_ref().into();
        Ok(Box::new(CachingReader {
            store: Arc::clone(&self.store),
            store_url: Arc::clone(&self.store_url),
            store_key: Arc::clone(&self.store_key),
            e_tag: self.versions.get(&*path).map(|e_tag| e_tag.as_str().into()),
            path,
            table: Arc::clone(&self.table),
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
    store_key: Arc<str>,
    path: Arc<str>,
    e_tag: Option<Arc<str>>,
    table: Arc<str>,
    meta: ObjectMeta,
    file_metrics: ParquetFileMetrics,
    counters: Option<ScanCounters>,
    metadata_cache: Arc<FileMetadataCache>,
    metadata_size_hint: Option<usize>,
}

impl CachingReader {
    fn key(&self, range: &Range<u64>) -> Key {
        Key {
            store: Arc::clone(&self.store_key),
            path: Arc::clone(&self.path),
            e_tag: self.e_tag.clone(),
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

    /// The object, for messages: `s3://bucket/key`.
    fn object(&self) -> String {
        format!(
            "{}/{}",
            self.store_url.trim_end_matches('/'),
            self.meta.location
        )
    }

    /// A read error, naming the table and the object.
    fn read_error(&self, error: object_store::Error) -> ParquetError {
        ParquetError::External(
            format!("table `{}`: reading {}: {error}", self.table, self.object()).into(),
        )
    }

    /// `ranges`, each from the cache or, all the missing ones in one call, from the store.
    async fn read(&self, ranges: Vec<Range<u64>>) -> Result<Vec<Bytes>, ParquetError> {
        let total: u64 = ranges.iter().map(|range| range.end - range.start).sum();
        self.file_metrics.bytes_scanned.add(total as usize);
        let (Some(cache), Some(counters)) = (cache(), &self.counters) else {
            return self
                .store
                .get_ranges(&self.meta.location, &ranges)
                .await
                .map_err(|error| self.read_error(error));
        };
        let keys: Vec<Key> = ranges.iter().map(|range| self.key(range)).collect();
        let mut found = cache.get_all(&keys);
        let hits = found.iter().flatten().count();
        let hit_bytes: usize = found.iter().flatten().map(Bytes::len).sum();
        counters.hits.add(hits);
        counters.hit_bytes.add(hit_bytes);
        cache.hits.fetch_add(hits as u64, Ordering::Relaxed);
        cache
            .hit_bytes
            .fetch_add(hit_bytes as u64, Ordering::Relaxed);
        // Each missing range once, even if asked for twice.
        let mut missing: Vec<Range<u64>> = Vec::new();
        for (range, slot) in ranges.iter().zip(&found) {
            if slot.is_none() && !missing.contains(range) {
                missing.push(range.clone());
            }
        }
        if missing.is_empty() {
            return Ok(found.into_iter().map(Option::unwrap_or_default).collect());
        }
        let read = self
            .store
            .get_ranges(&self.meta.location, &missing)
            .await
            .map_err(|error| self.read_error(error))?;
        if read.len() != missing.len() {
            return Err(ParquetError::General(format!(
                "table `{}`: reading {}: {} ranges asked for, {} answered",
                self.table,
                self.object(),
                missing.len(),
                read.len()
            )));
        }
        let miss_bytes: usize = read.iter().map(Bytes::len).sum();
        counters.misses.add(missing.len());
        cache
            .misses
            .fetch_add(missing.len() as u64, Ordering::Relaxed);
        cache
            .miss_bytes
            .fetch_add(miss_bytes as u64, Ordering::Relaxed);
        for (range, slot) in ranges.iter().zip(found.iter_mut()) {
            if slot.is_none() {
                let at = missing.iter().position(|missed| missed == range);
                *slot = at.map(|at| read[at].clone());
            }
        }
        cache.put_all(
            missing
                .iter()
                .map(|range| self.key(range))
                .zip(read.iter().cloned()),
        );
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
                        "table `{}`: cannot read the footer of {}: {error}",
                        self.table,
                        self.object()
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
