//! Sample data: each table's fixture (`tables/fixtures/<database>/<table>.csv`,
//! see [`catalog_core::fixture`]), or else the catalog's TPC-H tables generated
//! by `tpchgen`, written into the local environment in the table's own format —
//! Parquet through its S3 server, CSV into its data directory. Parquet is laid
//! out for pruning: fact tables sorted on the dates their queries filter by,
//! small row groups, page indexes (see `layout`).
//!
//! Seeding is idempotent and never clobbers data that is not its own: it
//! records what it wrote, with sizes and what wrote it (the generator's scale,
//! the fixture's hash), in `DATA_DIR/seed.json`, writes a table again only when
//! that changes, and leaves alone any file it did not write. Concurrent seeds
//! of one directory take turns on `DATA_DIR/seed.lock`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use catalog_core::{Environment, TableSpec};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::error::ArrowError;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

mod delta;
mod fixtures;
mod layout;
mod target;
mod upload;

use crate::names::shown;
pub use fixtures::missing_sample_data;
use fixtures::{Fixture, fixture_path, plan};
use layout::Layout;
use target::Target;
pub(crate) use upload::upload;

/// The scale factor seeded when none is given: instant (part has 2,000 rows).
pub const DEFAULT_SCALE: f64 = 0.01;

const MARKER: &str = "seed.json";
const LOCK: &str = "seed.lock";

/// A batch source for one table.
type Batches = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>;

/// Whether `data_dir` holds a complete seed, at any scale.
pub fn is_seeded(data_dir: &Path) -> bool {
    read_marker(data_dir).is_some_and(|marker| marker.complete(data_dir))
}

/// What one `data seed` did not do: fixtures it could not install, each
/// `file: problem; fix`. The rest of the sample data was written all the same.
#[derive(Debug, Default)]
pub struct Seeded {
    /// Every fixture problem, in file order.
    pub problems: Vec<String>,
}

/// Seeds `env` (whose S3 and data directory are the local environment's): each
/// table from its fixture in `fixtures` if it has one, else from tpchgen at
/// `scale` if given, else at the scale of the data already there, else at
/// [`DEFAULT_SCALE`]. A table whose data is already what its fixture or the
/// generator would write is left alone, unless `refresh`.
///
/// A bad fixture does not stop the rest: it is reported in [`Seeded::problems`].
/// `catalog` is the tables to seed: the built-in catalog, or a `--catalog` file's.
pub async fn seed(
    env: &Environment,
    scale: Option<f64>,
    refresh: bool,
    fixtures: &Path,
    catalog: &[TableSpec],
) -> anyhow::Result<Seeded> {
    let data_dir = env.data_dir.clone();
    std::fs::create_dir_all(&data_dir)
        .map_err(|error| anyhow::anyhow!("cannot create {}: {error}", data_dir.display()))?;
    // Take turns with other seeds of this directory; the lock is released when the file closes.
    let lock_path = data_dir.join(LOCK);
    let lock = tokio::task::spawn_blocking(move || -> anyhow::Result<std::fs::File> {
        let file = std::fs::File::create(&lock_path)
            .map_err(|error| anyhow::anyhow!("cannot create {}: {error}", lock_path.display()))?;
        file.lock()
            .map_err(|error| anyhow::anyhow!("cannot lock {}: {error}", lock_path.display()))?;
        Ok(file)
    })
    .await??;
    // Spool files, and sort spill folders, of a seed that was killed before
    // it could remove them.
    for entry in std::fs::read_dir(&data_dir).into_iter().flatten().flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(SPOOL_PREFIX)
        {
            let path = entry.path();
            let _ = match entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                true => std::fs::remove_dir_all(path),
                false => std::fs::remove_file(path),
            };
        }
    }

    // Decided under the lock: another seed may have finished while this one waited.
    let marker = read_marker(&data_dir);
    // Without `--scale`, the data keeps its scale (and an interrupted seed is finished at it).
    let scale = scale
        .or(marker.as_ref().map(|marker| marker.scale))
        .unwrap_or(DEFAULT_SCALE);
    let plan = plan(fixtures, catalog);
    // Files an earlier (maybe interrupted) seed wrote are ours to overwrite.
    let (mut files, mut origins) = marker
        .map(|marker| (marker.files, marker.origins))
        .unwrap_or_default();
    let unseeded: Vec<String> = plan
        .unseeded
        .iter()
        .map(|spec| spec.qualified_name())
        .collect();
    let record =
        |files: &BTreeMap<String, u64>, origins: &BTreeMap<String, String>, finished: bool| {
            write_marker(
                &data_dir,
                &Marker {
                    scale,
                    finished,
                    files: files.clone(),
                    origins: origins.clone(),
                    unseeded: unseeded.clone(),
                    fixtures: fixtures.to_owned(),
                },
            )
        };

    let total_rows: u64 = plan
        .targets
        .iter()
        .map(|(spec, origin)| match origin {
            Origin::Fixture(fixture) => fixture.batch.num_rows() as u64,
            Origin::Generator => expected_rows(spec.name.as_ref(), scale),
        })
        .sum();
    let progress = if scale >= 0.1 {
        ProgressBar::with_draw_target(Some(total_rows), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    progress.set_style(
        ProgressStyle::with_template(
            "{spinner} seeding TPC-H: [{bar:30}] {human_pos}/{human_len} rows ({eta}) {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );

    let started = Instant::now();
    let (mut generated, mut from_fixtures, mut rows) = (0, 0, 0);
    for (spec, origin) in &plan.targets {
        let target = Target::of(env, spec)?;
        let location = target.location();
        let layout = Layout::of(spec, matches!(origin, Origin::Generator));
        let made_by = if target.is_parquet() {
            format!("{}; {}", origin.describe(scale), layout.describe())
        } else {
            origin.describe(scale)
        };
        let size = target.size().await?;
        if let Some(size) = size
            && files.get(&location) != Some(&size)
        {
            progress.suspend(|| {
                eprintln!(
                    "warning: kept {}: it was not written by `codelake data seed`; remove it to let seed write `{}`",
                    target.describe(),
                    spec.qualified_name()
                );
            });
            continue;
        }
        if !refresh && size.is_some() && origins.get(&location) == Some(&made_by) {
            progress.inc(match origin {
                Origin::Fixture(fixture) => fixture.batch.num_rows() as u64,
                Origin::Generator => expected_rows(spec.name.as_ref(), scale),
            });
            continue;
        }
        progress.set_message(spec.qualified_name());
        // Claimed before it is written: an interrupted seed leaves it ours, not foreign.
        files.insert(location.clone(), 0);
        origins.remove(&location);
        record(&files, &origins, false)?;
        let batches: Batches = match origin {
            Origin::Fixture(fixture) => {
                from_fixtures += 1;
                Box::new(std::iter::once(Ok(fixture.batch.clone())))
            }
            Origin::Generator => {
                generated += 1;
                generator(spec.name.as_ref(), scale).expect("planned with a generator")
            }
        };
        rows += target.write(spec, batches, &layout, &progress).await?;
        let size = target.size().await?.unwrap_or_default();
        files.insert(location.clone(), size);
        origins.insert(location, made_by);
        record(&files, &origins, false)?;
    }
    progress.finish_and_clear();
    record(&files, &origins, true)?;
    drop(lock);
    if generated + from_fixtures == 0 {
        eprintln!("Sample data present (TPC-H scale {scale}): nothing to generate.");
    } else {
        let mut from = Vec::new();
        if generated > 0 {
            from.push(format!("TPC-H scale {scale}"));
        }
        if from_fixtures > 0 {
            from.push(crate::names::counted(from_fixtures, "fixture"));
        }
        eprintln!(
            "Seeded {} ({}, {}) in {:.1?}.",
            crate::names::counted(generated + from_fixtures, "table"),
            crate::names::counted(rows, "row"),
            from.join(" and "),
            started.elapsed()
        );
    }
    if !plan.unseeded.is_empty() {
        let names: Vec<String> = plan
            .unseeded
            .iter()
            .map(|spec| format!("`{}`", spec.qualified_name()))
            .collect();
        let paths: Vec<String> = plan
            .unseeded
            .iter()
            .map(|spec| shown(&fixture_path(fixtures, spec)))
            .collect();
        eprintln!(
            "warning: no sample data for {} (no fixture, and no generator): add {}, then run `codelake data seed` again",
            names.join(", "),
            paths.join(" and ")
        );
    }
    Ok(Seeded {
        problems: plan.problems,
    })
}

/// What writes one table's sample data.
enum Origin {
    /// tpchgen, at the seed's scale.
    Generator,
    /// A fixture, read and checked.
    Fixture(Fixture),
}

impl Origin {
    /// How the marker records it: written again when this changes.
    fn describe(&self, scale: f64) -> String {
        match self {
            Self::Generator => format!("tpchgen at scale {scale}"),
            Self::Fixture(fixture) => {
                format!("fixture {} {}", fixture.path.display(), fixture.hash)
            }
        }
    }
}

/// Whether tpchgen writes `spec`'s data: a TPC-H table of database `tpch`
/// (another database's `orders` is not TPC-H's).
fn generates(spec: &TableSpec) -> bool {
    spec.database == "tpch" && generator(spec.name.as_ref(), DEFAULT_SCALE).is_some()
}

/// The name of the files a seed writes Parquet into before uploading it.
pub(super) const SPOOL_PREFIX: &str = ".seed-spool-";

/// The generator of TPC-H table `name`, if there is one.
fn generator(name: &str, scale: f64) -> Option<Batches> {
    use tpchgen::generators as g;
    use tpchgen_arrow as a;
    Some(match name {
        "part" => Box::new(a::PartArrow::new(g::PartGenerator::new(scale, 1, 1))),
        "supplier" => Box::new(a::SupplierArrow::new(g::SupplierGenerator::new(
            scale, 1, 1,
        ))),
        "partsupp" => Box::new(a::PartSuppArrow::new(g::PartSuppGenerator::new(
            scale, 1, 1,
        ))),
        "customer" => Box::new(a::CustomerArrow::new(g::CustomerGenerator::new(
            scale, 1, 1,
        ))),
        "orders" | "orders_delta" => {
            Box::new(a::OrderArrow::new(g::OrderGenerator::new(scale, 1, 1)))
        }
        "lineitem" => Box::new(a::LineItemArrow::new(g::LineItemGenerator::new(
            scale, 1, 1,
        ))),
        "nation" => Box::new(a::NationArrow::new(g::NationGenerator::new(scale, 1, 1))),
        "region" => Box::new(a::RegionArrow::new(g::RegionGenerator::new(scale, 1, 1))),
        _ => return None,
    })
}

/// About how many rows TPC-H has in table `name` at `scale`, for the progress bar.
fn expected_rows(name: &str, scale: f64) -> u64 {
    let base: f64 = match name {
        "part" => 200_000.0,
        "supplier" => 10_000.0,
        "partsupp" => 800_000.0,
        "customer" => 150_000.0,
        "orders" | "orders_delta" => 1_500_000.0,
        "lineitem" => 6_000_000.0,
        "nation" => return 25,
        "region" => return 5,
        _ => 0.0,
    };
    (base * scale) as u64
}

/// `DATA_DIR/seed.json`: what the last seed wrote.
struct Marker {
    /// The TPC-H scale of the generated tables.
    scale: f64,
    /// Whether that seed finished.
    finished: bool,
    /// Declared location → size in bytes.
    files: BTreeMap<String, u64>,
    /// Declared location → what wrote it (the generator and its scale, or a
    /// fixture and its hash): written again when that changes.
    origins: BTreeMap<String, String>,
    /// Seedable tables with neither a fixture nor a generator.
    unseeded: Vec<String>,
    /// The fixtures directory it read.
    fixtures: PathBuf,
}

impl Marker {
    /// Whether every file it lists is still there, at its size.
    fn complete(&self, data_dir: &Path) -> bool {
        self.finished
            && !self.files.is_empty()
            && self.files.iter().all(|(location, size)| {
                local_path(data_dir, location)
                    .and_then(|path| std::fs::metadata(path).ok())
                    .is_some_and(|meta| meta.len() == *size)
            })
    }
}

/// Where a declared location lives on the local environment's disk
/// (s3s-fs keeps bucket `b`'s key `k` at `DATA_DIR/s3/b/k`).
fn local_path(data_dir: &Path, location: &str) -> Option<PathBuf> {
    match location.strip_prefix("s3://") {
        Some(rest) => Some(catalog_env::local::s3_root(data_dir).join(rest)),
        None => Some(data_dir.join(location)),
    }
}

fn read_marker(data_dir: &Path) -> Option<Marker> {
    let text = std::fs::read_to_string(data_dir.join(MARKER)).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let files = value["files"]
        .as_object()?
        .iter()
        .filter_map(|(location, size)| Some((location.clone(), size.as_u64()?)))
        .collect();
    // A marker from before origins were recorded: every file is written again, once.
    let origins = value["origins"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(location, origin)| Some((location.clone(), origin.as_str()?.to_owned())))
        .collect();
    let unseeded = value["unseeded"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|name| name.as_str().map(str::to_owned))
        .collect();
    Some(Marker {
        scale: value["scale"].as_f64()?,
        finished: value["finished"].as_bool().unwrap_or(false),
        files,
        origins,
        unseeded,
        fixtures: value["fixtures"]
            .as_str()
            .map_or_else(|| PathBuf::from(tables::FIXTURES_DIR), PathBuf::from),
    })
}

fn write_marker(data_dir: &Path, marker: &Marker) -> anyhow::Result<()> {
    let path = data_dir.join(MARKER);
    let text = serde_json::to_string_pretty(&json!({
        "written_by": "codelake data seed",
        "generator": "tpchgen 4",
        "scale": marker.scale,
        "finished": marker.finished,
        "files": marker.files,
        "origins": marker.origins,
        "fixtures": marker.fixtures,
        "unseeded": marker.unseeded,
    }))
    .expect("the marker serialises");
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|error| anyhow::anyhow!("cannot write {}: {error}", path.display()))
}
