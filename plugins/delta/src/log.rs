//! The Delta log, replayed: which Parquet files make up a version of the
//! table, with their partition values and statistics, its schema, and when
//! each commit was made.
//!
//! A version is the newest checkpoint at or before it (Parquet, one part or
//! several), then every JSON commit after it, in order: an `add` makes a file
//! live, a `remove` ends it, the last `metaData` is the schema and the last
//! `protocol` the features a reader needs. Only what a reader of Parquet data
//! files needs is kept. A table that needs a reader feature this replay does
//! not implement (deletion vectors in use, column mapping) is refused with
//! the feature's name, never read wrong.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use serde::Deserialize;

use crate::DeltaError;

/// The reader features whose tables this replay reads right: the others are
/// refused by name. `deletionVectors` and `columnMapping` are checked further
/// (a table may enable them and use neither).
const READER_FEATURES: &[&str] = &[
    "timestampNtz",
    "vacuumProtocolCheck",
    "typeWidening",
    "typeWidening-preview",
    "deletionVectors",
    "columnMapping",
];

/// One version of a table, replayed from its log.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    /// The commit version.
    pub(crate) version: u64,
    /// The table's schema, as the log's `metaData` says.
    pub(crate) schema: Vec<DeltaField>,
    /// The partition columns, outermost first.
    pub(crate) partition_columns: Vec<String>,
    /// The live files, by path relative to the table's root (decoded).
    pub(crate) files: BTreeMap<String, AddFile>,
    /// Every schema the log has had up to this version: the version that set it, and it.
    pub(crate) schemas: Vec<(u64, Vec<DeltaField>)>,
    /// When this version was committed, in milliseconds since the Unix epoch.
    pub(crate) committed_at: i64,
    /// The commit file of this version (for messages).
    pub(crate) commit_file: String,
    /// The protocol's reader version and features.
    protocol: Protocol,
    /// The table's configuration (`delta.columnMapping.mode`, …).
    configuration: HashMap<String, String>,
}

/// A live data file.
#[derive(Debug, Clone)]
pub(crate) struct AddFile {
    /// Its size in bytes.
    pub(crate) size: u64,
    /// When it was written, in milliseconds since the Unix epoch.
    pub(crate) modified: i64,
    /// Partition column → value as text; `None` for a null value.
    pub(crate) partition_values: HashMap<String, Option<String>>,
    /// Its statistics, as the writer recorded them.
    pub(crate) stats: Option<Stats>,
    /// Whether rows of it are deleted by a deletion vector.
    pub(crate) deletion_vector: bool,
}

/// A file's statistics: row count, and per top-level column its min, max and nulls.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Stats {
    pub(crate) num_records: Option<u64>,
    #[serde(default)]
    pub(crate) min_values: HashMap<String, serde_json::Value>,
    #[serde(default)]
    pub(crate) max_values: HashMap<String, serde_json::Value>,
    #[serde(default)]
    pub(crate) null_count: HashMap<String, serde_json::Value>,
}

/// One column of a Delta schema.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct DeltaField {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) data_type: serde_json::Value,
    #[serde(default = "yes")]
    pub(crate) nullable: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Protocol {
    min_reader_version: u32,
    #[serde(default)]
    reader_features: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetaData {
    schema_string: String,
    #[serde(default)]
    partition_columns: Vec<String>,
    #[serde(default)]
    configuration: Option<HashMap<String, Option<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Add {
    path: String,
    #[serde(default)]
    partition_values: HashMap<String, Option<String>>,
    size: u64,
    #[serde(default)]
    modification_time: i64,
    #[serde(default)]
    stats: Option<String>,
    #[serde(default)]
    deletion_vector: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Remove {
    path: String,
}

#[derive(Debug, Deserialize)]
struct SchemaString {
    fields: Vec<DeltaField>,
}

/// One line of a commit, or one row of a checkpoint: the actions a reader needs.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Action {
    #[serde(default)]
    protocol: Option<Protocol>,
    #[serde(default)]
    meta_data: Option<MetaData>,
    #[serde(default)]
    add: Option<Add>,
    #[serde(default)]
    remove: Option<Remove>,
}

/// The log of one table: where it is, and how to read it.
pub(crate) struct Log {
    pub(crate) store: Arc<dyn ObjectStore>,
    /// The table's root in the store (no trailing `/`).
    pub(crate) root: ObjectPath,
    /// The table's root as declared, in this environment (for messages).
    pub(crate) location: String,
}

/// What the log's listing says: commits and checkpoints, by version.
#[derive(Debug, Default)]
struct Listing {
    /// Version → the commit file.
    commits: BTreeMap<u64, ObjectMeta>,
    /// Version → the checkpoint's parts, complete.
    checkpoints: BTreeMap<u64, Vec<ObjectMeta>>,
}

impl Log {
    fn log_dir(&self) -> ObjectPath {
        self.root.clone().join("_delta_log")
    }

    /// The name of `object` for messages: `s3://bucket/table/_delta_log/…`.
    pub(crate) fn name(&self, object: &ObjectPath) -> String {
        let relative = object
            .as_ref()
            .strip_prefix(self.root.as_ref())
            .unwrap_or(object.as_ref())
            .trim_start_matches('/');
        format!("{}/{relative}", self.location.trim_end_matches('/'))
    }

    /// Lists the log, from `after` on when given (a snapshot catching up).
    async fn list(&self, after: Option<u64>) -> Result<Listing, DeltaError> {
        let dir = self.log_dir();
        let objects: Vec<ObjectMeta> = match after {
            Some(version) => {
                let offset = dir.clone().join(format!("{version:020}.json").as_str());
                self.store
                    .list_with_offset(Some(&dir), &offset)
                    .try_collect()
                    .await
            }
            None => self.store.list(Some(&dir)).try_collect().await,
        }
        .map_err(|error| self.list_error(error))?;
        let mut listing = Listing::default();
        let mut parts: BTreeMap<(u64, u32), Vec<(u32, ObjectMeta)>> = BTreeMap::new();
        for object in objects {
            let Some(file) = object.location.filename() else {
                continue;
            };
            let Some((digits, rest)) = file.split_once('.') else {
                continue;
            };
            let Ok(version) = digits.parse::<u64>() else {
                continue;
            };
            if digits.len() != 20 {
                continue;
            }
            match rest {
                "json" => {
                    listing.commits.insert(version, object);
                }
                "checkpoint.parquet" => {
                    listing.checkpoints.insert(version, vec![object]);
                }
                _ => {
                    // `checkpoint.0000000001.0000000003.parquet`: one of several parts.
                    let mut fields = rest.split('.');
                    if let (Some("checkpoint"), Some(part), Some(total), Some("parquet"), None) = (
                        fields.next(),
                        fields.next(),
                        fields.next(),
                        fields.next(),
                        fields.next(),
                    ) && let (Ok(part), Ok(total)) = (part.parse::<u32>(), total.parse::<u32>())
                    {
                        parts
                            .entry((version, total))
                            .or_default()
                            .push((part, object));
                    }
                }
            }
        }
        // A checkpoint in parts counts only when every part, 1 to N, is there.
        for ((version, total), mut objects) in parts {
            objects.sort_by_key(|(part, _)| *part);
            let numbers: Vec<u32> = objects.iter().map(|(part, _)| *part).collect();
            if numbers == (1..=total).collect::<Vec<_>>() {
                let objects = objects.into_iter().map(|(_, object)| object).collect();
                listing.checkpoints.entry(version).or_insert(objects);
            }
        }
        Ok(listing)
    }

    /// The newest version, or the one `wanted` pins.
    pub(crate) async fn snapshot(&self, wanted: &Wanted) -> Result<Snapshot, DeltaError> {
        let listing = self.list(None).await?;
        let Some((&latest, _)) = listing.commits.last_key_value() else {
            if listing.checkpoints.is_empty() {
                return Err(self.no_log().await);
            }
            return Err(DeltaError::Log {
                location: self.location.clone(),
                message: "the log has checkpoints but no commits; it is not a readable Delta table"
                    .into(),
            });
        };
        let version = match wanted {
            Wanted::Latest => latest,
            Wanted::Version(version) => {
                if *version > latest {
                    return Err(DeltaError::NoSuchVersion {
                        location: self.location.clone(),
                        wanted: format!("version {version}"),
                        latest,
                    });
                }
                *version
            }
            Wanted::AsOf { millis, text } => listing
                .commits
                .iter()
                .rev()
                .find(|(_, object)| object.last_modified.timestamp_millis() <= *millis)
                .map(|(version, _)| *version)
                .ok_or_else(|| DeltaError::NoSuchVersion {
                    location: self.location.clone(),
                    wanted: format!(
                        "commit at or before {text} (its first commit is {})",
                        listing
                            .commits
                            .values()
                            .next()
                            .map(|first| first.last_modified.to_rfc3339_opts(
                                codelake_plugin_sdk::catalog_core::chrono::SecondsFormat::Millis,
                                true
                            ))
                            .unwrap_or_default()
                    ),
                    latest,
                })?,
        };
        let checkpoint = listing
            .checkpoints
            .range(..=version)
            .next_back()
            .map(|(version, parts)| (*version, parts.clone()));
        let mut snapshot = Snapshot::empty();
        let first = match checkpoint {
            Some((at, parts)) => {
                for part in &parts {
                    // A checkpoint's `remove` rows are tombstones of files
                    // already gone, never of the files it lists as added.
                    let actions =
                        self.read_checkpoint(part)
                            .await?
                            .into_iter()
                            .map(|action| Action {
                                remove: None,
                                ..action
                            });
                    snapshot.apply_all(actions, at, &self.name(&part.location))?;
                }
                snapshot.version = at;
                snapshot.committed_at = parts
                    .iter()
                    .map(|part| part.last_modified.timestamp_millis())
                    .max()
                    .unwrap_or_default();
                snapshot.commit_file = self.name(&parts[0].location);
                at + 1
            }
            None => 0,
        };
        for at in first..=version {
            let Some(commit) = listing.commits.get(&at) else {
                return Err(DeltaError::Log {
                    location: self.location.clone(),
                    message: format!(
                        "commit {at} is missing from the log (between {first} and {version}); the log was cleaned up past a checkpoint, or is incomplete"
                    ),
                });
            };
            self.apply_commit(&mut snapshot, at, commit).await?;
        }
        if let Some(commit) = listing.commits.get(&version) {
            snapshot.committed_at = commit.last_modified.timestamp_millis();
            snapshot.commit_file = self.name(&commit.location);
        }
        snapshot.check(&self.location)?;
        Ok(snapshot)
    }

    /// `snapshot`, brought up to the newest version: only the commits after it are read.
    /// `None` when there is nothing new.
    pub(crate) async fn catch_up(
        &self,
        snapshot: &Snapshot,
    ) -> Result<Option<Snapshot>, DeltaError> {
        let listing = self.list(Some(snapshot.version)).await?;
        if listing
            .commits
            .range(snapshot.version + 1..)
            .next()
            .is_none()
        {
            return Ok(None);
        }
        let mut next = snapshot.clone();
        for (at, commit) in listing.commits.range(snapshot.version + 1..) {
            if *at != next.version + 1 {
                // A gap: the log was cleaned past this snapshot; read it whole.
                return self.snapshot(&Wanted::Latest).await.map(Some);
            }
            self.apply_commit(&mut next, *at, commit).await?;
        }
        next.check(&self.location)?;
        Ok(Some(next))
    }

    async fn apply_commit(
        &self,
        snapshot: &mut Snapshot,
        version: u64,
        commit: &ObjectMeta,
    ) -> Result<(), DeltaError> {
        let name = self.name(&commit.location);
        let bytes = self
            .store
            .get(&commit.location)
            .await
            .map_err(|error| self.store_error(error))?
            .bytes()
            .await
            .map_err(|error| self.store_error(error))?;
        let text = std::str::from_utf8(&bytes).map_err(|_| DeltaError::Log {
            location: self.location.clone(),
            message: format!("{name} is not UTF-8 text"),
        })?;
        let mut actions = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let action: Action = serde_json::from_str(line).map_err(|error| DeltaError::Log {
                location: self.location.clone(),
                message: format!("{name}, line {}: not a Delta action ({error})", index + 1),
            })?;
            actions.push(action);
        }
        snapshot.apply_all(actions, version, &name)?;
        snapshot.version = version;
        snapshot.committed_at = commit.last_modified.timestamp_millis();
        snapshot.commit_file = name;
        Ok(())
    }

    /// A checkpoint part's rows, as actions: read as Parquet, written out as
    /// JSON objects (a map as an object, a null struct left out), read back
    /// with the same types as a commit's lines.
    async fn read_checkpoint(&self, part: &ObjectMeta) -> Result<Vec<Action>, DeltaError> {
        let name = self.name(&part.location);
        let bytes = self
            .store
            .get(&part.location)
            .await
            .map_err(|error| self.store_error(error))?
            .bytes()
            .await
            .map_err(|error| self.store_error(error))?;
        let corrupt = |error: &dyn std::fmt::Display| DeltaError::Log {
            location: self.location.clone(),
            message: format!("checkpoint {name} cannot be read: {error}"),
        };
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
            .and_then(|builder| builder.build())
            .map_err(|error| corrupt(&error))?;
        let mut actions = Vec::new();
        for batch in reader {
            let batch = batch.map_err(|error| corrupt(&error))?;
            let mut writer = arrow_json::ArrayWriter::new(Vec::new());
            writer.write(&batch).map_err(|error| corrupt(&error))?;
            writer.finish().map_err(|error| corrupt(&error))?;
            let rows: Vec<Action> =
                serde_json::from_slice(&writer.into_inner()).map_err(|error| corrupt(&error))?;
            actions.extend(rows);
        }
        Ok(actions)
    }

    /// The error for a root with no log: the bucket, the table or only its log missing.
    async fn no_log(&self) -> DeltaError {
        let data = match self.store.list(Some(&self.root)).try_next().await {
            Ok(data) => data,
            Err(error) => return self.list_error(error),
        };
        let message = match data {
            Some(_) => format!(
                "{} holds files but no `_delta_log/`: it is not a Delta table (Parquet files alone are `source = \"s3-parquet\"` or `\"parquet\"`)",
                self.location
            ),
            None => format!(
                "no Delta table at {}: `_delta_log/` does not exist; write the table or fix `location`",
                self.location
            ),
        };
        DeltaError::NotFound {
            message,
            bucket_missing: false,
        }
    }

    /// A listing's error: a missing bucket said as such, else the store's error.
    fn list_error(&self, error: object_store::Error) -> DeltaError {
        if !(self.location.starts_with("s3://") && catalog_s3::bucket_missing(&error)) {
            return self.store_error(error);
        }
        let bucket = self.location["s3://".len()..]
            .split('/')
            .next()
            .unwrap_or_default();
        DeltaError::NotFound {
            message: format!(
                "bucket `{bucket}` does not exist (reading {}); create it, or fix the bucket of `location` or the environment's (CODELAKE_S3_BUCKET)",
                self.location
            ),
            bucket_missing: true,
        }
    }

    pub(crate) fn store_error(&self, error: object_store::Error) -> DeltaError {
        DeltaError::Store {
            location: self.location.clone(),
            error,
        }
    }
}

/// Which version a snapshot is of.
#[derive(Debug, Clone)]
pub(crate) enum Wanted {
    Latest,
    Version(u64),
    AsOf { millis: i64, text: String },
}

impl Snapshot {
    fn empty() -> Self {
        Self {
            version: 0,
            schema: Vec::new(),
            partition_columns: Vec::new(),
            files: BTreeMap::new(),
            schemas: Vec::new(),
            committed_at: 0,
            commit_file: String::new(),
            protocol: Protocol::default(),
            configuration: HashMap::new(),
        }
    }

    /// Applies one commit's (or checkpoint's) actions: its removes first,
    /// then the rest, so a file removed and added again in one commit (a
    /// deletion vector replaced) stays live.
    fn apply_all(
        &mut self,
        actions: impl IntoIterator<Item = Action>,
        version: u64,
        at: &str,
    ) -> Result<(), DeltaError> {
        let mut rest = Vec::new();
        for mut action in actions {
            if let Some(remove) = action.remove.take() {
                self.files.remove(&relative(&remove.path, at)?);
            }
            rest.push(action);
        }
        for action in rest {
            self.apply(action, version, at)?;
        }
        Ok(())
    }

    fn apply(&mut self, action: Action, version: u64, at: &str) -> Result<(), DeltaError> {
        if let Some(protocol) = action.protocol {
            self.protocol = protocol;
        }
        if let Some(meta) = action.meta_data {
            let schema: SchemaString =
                serde_json::from_str(&meta.schema_string).map_err(|error| DeltaError::Log {
                    location: at.to_owned(),
                    message: format!("its schema does not parse: {error}"),
                })?;
            if self
                .schemas
                .last()
                .is_none_or(|(_, last)| *last != schema.fields)
            {
                self.schemas.push((version, schema.fields.clone()));
            }
            self.schema = schema.fields;
            self.partition_columns = meta.partition_columns;
            self.configuration = meta
                .configuration
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(key, value)| Some((key, value?)))
                .collect();
        }
        if let Some(add) = action.add {
            let stats = add
                .stats
                .as_deref()
                .and_then(|stats| serde_json::from_str(stats).ok());
            // An empty partition value is a null one, for every type.
            let partition_values = add
                .partition_values
                .into_iter()
                .map(|(column, value)| (column, value.filter(|value| !value.is_empty())))
                .collect();
            self.files.insert(
                relative(&add.path, at)?,
                AddFile {
                    size: add.size,
                    modified: add.modification_time,
                    partition_values,
                    stats,
                    deletion_vector: add.deletion_vector.is_some_and(|vector| !vector.is_null()),
                },
            );
        }
        if let Some(remove) = action.remove {
            self.files.remove(&relative(&remove.path, at)?);
        }
        Ok(())
    }

    /// Refuses a version this replay would read wrong.
    fn check(&self, location: &str) -> Result<(), DeltaError> {
        let unsupported = |feature: &str, why: String| DeltaError::Unsupported {
            location: location.to_owned(),
            version: self.version,
            feature: feature.to_owned(),
            why,
        };
        if self.schema.is_empty() && self.schemas.is_empty() {
            return Err(DeltaError::Log {
                location: location.to_owned(),
                message: format!(
                    "no `metaData` action up to version {}: the log has no schema",
                    self.version
                ),
            });
        }
        match self.protocol.min_reader_version {
            0..=2 => {}
            3 => {
                for feature in self.protocol.reader_features.iter().flatten() {
                    if !READER_FEATURES.contains(&feature.as_str()) {
                        return Err(unsupported(
                            feature,
                            "codelake's Delta reader does not implement this reader feature".into(),
                        ));
                    }
                }
            }
            other => {
                return Err(unsupported(
                    &format!("reader version {other}"),
                    "codelake's Delta reader implements reader versions 1 to 3".into(),
                ));
            }
        }
        let mapping = self
            .configuration
            .get("delta.columnMapping.mode")
            .map_or("none", String::as_str);
        if mapping != "none" {
            return Err(unsupported(
                "columnMapping",
                format!(
                    "`delta.columnMapping.mode` is `{mapping}`, and codelake reads columns by their Parquet names only"
                ),
            ));
        }
        if let Some(path) = self.files.keys().find(|path| has_scheme(path)) {
            return Err(unsupported(
                "absolute file paths",
                format!(
                    "{path} is outside the table's root (a shallow clone?), and codelake reads files under the root only"
                ),
            ));
        }
        if let Some((path, _)) = self.files.iter().find(|(_, file)| file.deletion_vector) {
            return Err(unsupported(
                "deletionVectors",
                format!(
                    "{path} has deleted rows in a deletion vector, which codelake does not apply yet; run `OPTIMIZE` or `REORG TABLE … APPLY (PURGE)` to rewrite the files without them"
                ),
            ));
        }
        Ok(())
    }
}

/// A file's path as the log writes it (a URI reference, percent-encoded)
/// → its path under the table's root, as the store names it. A path with a
/// scheme (`s3://…`, `file:/…`) is kept as written, for [`Snapshot::check`]
/// to refuse.
fn relative(path: &str, at: &str) -> Result<String, DeltaError> {
    if has_scheme(path) {
        return Ok(path.to_owned());
    }
    ObjectPath::from_url_path(path)
        .map(|path| path.to_string())
        .map_err(|error| DeltaError::Log {
            location: at.to_owned(),
            message: format!("file path `{path}` is not a valid path: {error}"),
        })
}

/// Whether `path` starts with a URI scheme (`s3:`, `file:`, `abfss:`).
fn has_scheme(path: &str) -> bool {
    path.split_once(':').is_some_and(|(scheme, _)| {
        scheme.len() > 1
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
            && !scheme.contains('/')
    })
}
