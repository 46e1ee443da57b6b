//! Fixtures: a table's declared sample data, `<database>/<table>.csv`, read
//! with the table's declared schema and paired with its table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use catalog_core::{Environment, TableSpec, fixture};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use datafusion::arrow::error::ArrowError;

use super::{Origin, Target, generates, local_path, read_marker};
use crate::names::shown;

/// A fixture read with its table's declared schema.
pub(super) struct Fixture {
    pub(super) path: PathBuf,
    /// Of its bytes: a changed fixture is seeded again.
    pub(super) hash: String,
    pub(super) batch: RecordBatch,
}

/// What this seed writes, what it cannot, and which fixtures are wrong.
pub(super) struct Plan<'a> {
    /// Each seedable table that has sample data, and where it comes from.
    pub(super) targets: Vec<(&'a TableSpec, Origin)>,
    /// Seedable tables with neither a fixture nor a generator.
    pub(super) unseeded: Vec<&'a TableSpec>,
    /// Every fixture problem, `file: problem; fix`.
    pub(super) problems: Vec<String>,
}

/// Reads every fixture in `dir` (a missing directory holds none) and pairs each
/// seedable table with its fixture, or its generator.
pub(super) fn plan<'a>(dir: &Path, catalog: &'a [TableSpec]) -> Plan<'a> {
    let mut problems = Vec::new();
    let mut fixtures: BTreeMap<String, Fixture> = BTreeMap::new();
    let mut bad = std::collections::BTreeSet::new();
    let mut files = Vec::new();
    fixture_files(dir, dir, &mut files, &mut problems);
    files.sort();
    for path in files {
        let relative = path.strip_prefix(dir).unwrap_or(&path);
        let Some((database, name)) = fixture::table_of(relative) else {
            problems.push(format!(
                "{}: not a fixture; a fixture is {}/<database>/<table>.csv",
                shown(&path),
                shown(dir)
            ));
            continue;
        };
        let qualified = format!("{database}.{name}");
        let Some(spec) = catalog
            .iter()
            .find(|spec| spec.qualified_name() == qualified)
        else {
            let close = crate::names::close_names(&qualified);
            let hint = if close.is_empty() {
                String::new()
            } else {
                format!(" (did you mean {}?)", close.join(", "))
            };
            problems.push(format!(
                "{}: no table `{qualified}` is declared{hint}; name the file <database>/<table>.csv after a declared table (`codelake tables` lists them)",
                shown(&path)
            ));
            continue;
        };
        if !fixture::seedable(&spec.source) {
            problems.push(format!(
                "{}: table `{qualified}` reads source `{}`, which `codelake data seed` does not write; remove the fixture \
                 (only `s3-parquet`, `parquet`, `delta` and `csv` tables take sample data)",
                shown(&path),
                spec.source
            ));
            continue;
        }
        match read_fixture(spec, &path) {
            Ok(fixture) => {
                fixtures.insert(qualified, fixture);
            }
            Err(problem) => {
                problems.push(problem);
                bad.insert(qualified);
            }
        }
    }
    let mut targets = Vec::new();
    let mut unseeded = Vec::new();
    for spec in catalog {
        let name = spec.qualified_name();
        if !fixture::seedable(&spec.source) || bad.contains(&name) {
            continue;
        }
        // Declared sample data replaces generated data.
        if let Some(fixture) = fixtures.remove(&name) {
            targets.push((spec, Origin::Fixture(fixture)));
        } else if generates(spec) {
            targets.push((spec, Origin::Generator));
        } else {
            unseeded.push(spec);
        }
    }
    Plan {
        targets,
        unseeded,
        problems,
    }
}

/// Every file under `dir`, but hidden ones (`.gitkeep`).
pub(super) fn fixture_files(
    root: &Path,
    dir: &Path,
    files: &mut Vec<PathBuf>,
    problems: &mut Vec<String>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && dir == root => return,
        Err(error) => {
            problems.push(format!("{}: cannot read it: {error}", shown(dir)));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            fixture_files(root, &path, files, problems);
        } else {
            files.push(path);
        }
    }
}

/// Where `spec`'s fixture goes under `dir`.
pub(super) fn fixture_path(dir: &Path, spec: &TableSpec) -> PathBuf {
    dir.join(fixture::relative_path(&spec.database, &spec.name))
}

/// The fixture hint for a table without local sample data, if `spec` is one:
/// listed as unseeded by the last seed, or declared since, with no data file
/// and no generator. For `verify`'s `reachable` failure.
pub fn missing_sample_data(env: &Environment, spec: &TableSpec) -> Option<String> {
    if !fixture::seedable(&spec.source) {
        return None;
    }
    let marker = read_marker(&env.data_dir);
    let name = spec.qualified_name();
    let listed = marker
        .as_ref()
        .is_some_and(|marker| marker.unseeded.contains(&name));
    let undeclared_then = || {
        let Ok(target) = Target::of(env, spec) else {
            return false;
        };
        let location = target.location();
        !generates(spec)
            && !marker
                .as_ref()
                .is_some_and(|marker| marker.files.contains_key(&location))
            && local_path(&env.data_dir, &location).is_some_and(|path| !path.exists())
    };
    if !(listed || undeclared_then()) {
        return None;
    }
    let dir = marker.map_or_else(|| PathBuf::from(tables::FIXTURES_DIR), |m| m.fixtures);
    Some(format!(
        "`{name}` has no local sample data: add {} ({}) and run `codelake data seed`",
        shown(&fixture_path(&dir, spec)),
        fixture::FORMAT
    ))
}

/// Reads a fixture with `spec`'s declared schema, or says what is wrong and
/// on which line (`file:line: problem; fix`).
pub(super) fn read_fixture(spec: &TableSpec, path: &Path) -> Result<Fixture, String> {
    let file = shown(path);
    let bytes = std::fs::read(path).map_err(|error| format!("{file}: cannot read it: {error}"))?;
    let hash = format!("fnv1a64:{:016x}", fnv1a64(&bytes));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(fixture::DELIMITER)
        .from_reader(bytes.as_slice());
    let header: Vec<String> = reader
        .headers()
        .map_err(|error| format!("{file}: the header does not parse: {error}"))?
        .iter()
        .map(str::to_owned)
        .collect();
    let names: Vec<&str> = header.iter().map(String::as_str).collect();
    fixture::check_header(spec, &names).map_err(|problem| format!("{file}: {problem}"))?;
    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|error| match error.kind() {
            csv::ErrorKind::UnequalLengths {
                pos: Some(pos),
                len,
                ..
            } => format!(
                "{file}:{}: {} where the header has {}; write one field per column (an empty one for null)",
                pos.line(),
                crate::names::counted(*len as usize, "field"),
                header.len()
            ),
            _ => format!("{file}: {error}"),
        })?;
        let line = record.position().map_or(0, |pos| pos.line());
        records.push((line, record));
    }

    let declared = spec.arrow_schema();
    // The file's columns in its own order, each with its declared field.
    let fields: Vec<Field> = names
        .iter()
        .map(|name| {
            declared
                .field_with_name(name)
                .expect("the header names declared columns")
                .clone()
        })
        .collect();
    let as_written = Arc::new(Schema::new(fields));
    let read = |bytes: &[u8], header: bool, projection: Option<Vec<usize>>| {
        let mut builder = datafusion::arrow::csv::ReaderBuilder::new(Arc::clone(&as_written))
            .with_header(header)
            .with_delimiter(fixture::DELIMITER);
        if let Some(projection) = projection {
            builder = builder.with_projection(projection);
        }
        builder
            .build(std::io::Cursor::new(bytes))?
            .collect::<Result<Vec<_>, ArrowError>>()
    };
    let batches = match read(&bytes, true, None) {
        Ok(batches) => batches,
        // Arrow's errors count rows from 0 and some name no row: find the line and column here.
        Err(error) => {
            for (line, record) in &records {
                for (index, field) in as_written.fields().iter().enumerate() {
                    let value = record.get(index).unwrap_or_default();
                    if value.is_empty() && !field.is_nullable() {
                        return Err(format!(
                            "{file}:{line}: column `{}` is empty (null), but `{}` declares it non-null; \
                             write a value, or declare the field as an `Option`",
                            field.name(),
                            spec.qualified_name()
                        ));
                    }
                    let mut one = csv::Writer::from_writer(Vec::new());
                    let parsed = one
                        .write_record(record)
                        .ok()
                        .and_then(|()| one.into_inner().ok())
                        .map(|row| read(&row, false, Some(vec![index])));
                    if let Some(Err(_)) = parsed {
                        return Err(format!(
                            "{file}:{line}: `{value}` in column `{}` is not a {}; {}",
                            field.name(),
                            field.data_type(),
                            value_hint(field.data_type())
                        ));
                    }
                }
            }
            return Err(format!("{file}: {error}"));
        }
    };
    let batch = datafusion::arrow::compute::concat_batches(&as_written, batches.iter())
        .map_err(|error| format!("{file}: {error}"))?;
    // The declared order, as every writer expects it.
    let columns = declared
        .fields()
        .iter()
        .map(|field| {
            Arc::clone(
                batch
                    .column_by_name(field.name())
                    .expect("the header names every declared column"),
            )
        })
        .collect();
    let batch = RecordBatch::try_new(Arc::new(declared), columns)
        .map_err(|error| format!("{file}: {error}"))?;
    Ok(Fixture {
        path: path.to_owned(),
        hash,
        batch,
    })
}

/// How to write a value of `ty` in a fixture.
pub(super) fn value_hint(ty: &DataType) -> &'static str {
    match ty {
        DataType::Timestamp(..) => "write an instant in RFC 3339, e.g. `2026-11-30T09:15:00Z`",
        DataType::Date32 | DataType::Date64 => "write a date as `YYYY-MM-DD`",
        DataType::Boolean => "write `true` or `false`",
        DataType::Decimal128(..) | DataType::Decimal256(..) => {
            "write a decimal number with no more digits after the point than the column's scale"
        }
        ty if ty.is_integer() => "write a whole number in the type's range",
        ty if ty.is_floating() => "write a number, e.g. `12.5`",
        _ => "write a value of the declared type, or an empty field for null",
    }
}

/// FNV-1a, 64 bits: stable across builds and toolchains, to notice that a
/// fixture changed (not to resist anyone).
pub(super) fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
