//! The catalog site: a static website generated from `catalog.json`.
//!
//! [`Site::build`] turns a [`Manifest`] (lineage included) and, optionally, a
//! `codelake verify --format json` report into a set of files: an index with
//! client-side search, one page per table and view, and a lineage graph laid
//! out here and drawn as inline SVG, so the graph needs no JavaScript. The
//! pages link to each other by relative paths and load nothing from the
//! network, so the same files work opened from `file://`, hosted as static
//! files, or served in memory by `codelake serve` at `/`.
//!
//! This crate must not know query execution (it never depends on DataFusion),
//! configuration, servers or any particular catalog: it reads the catalog as
//! data. `cargo xtask site` links it without building the engine.

mod graph;
mod pages;
mod report;
mod search;
mod text;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use catalog_core::Manifest;

pub use report::{CheckStatus, VerifyReport};

/// The list of files a written site holds, in its folder: what the next
/// [`Site::write`] may remove.
pub const MARKER: &str = ".catalog-site";

/// What can go wrong building or writing the site.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The verify report could not be read.
    #[error("the verify report {path}: {message}")]
    Report {
        /// The report's file.
        path: String,
        /// What is wrong with it, and the fix.
        message: String,
    },
    /// A page failed to render (a bug in a template).
    #[error("rendering {page}: {error}")]
    Render {
        /// The page's path in the site.
        page: String,
        /// The template engine's error.
        error: askama::Error,
    },
    /// The output folder holds other files and no catalog site.
    #[error(
        "{} is a file, or a folder that holds other files and no catalog site (no {MARKER} file listing one): \
         write the site into a new or empty folder, or into the folder an earlier site was written to (--out DIR)",
        dir.display()
    )]
    NotASite {
        /// The folder.
        dir: PathBuf,
    },
    /// A file could not be written.
    #[error("writing {}: {error}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
}

/// The site's files, by path relative to its root (`index.html`,
/// `tables/tpch/part.html`, ...), in memory until [`Site::write`].
#[derive(Debug, Clone, Default)]
pub struct Site {
    files: BTreeMap<String, Vec<u8>>,
}

impl Site {
    /// Every page of `manifest`, with the statuses of `report` when one is given.
    pub fn build(manifest: &Manifest, report: Option<&VerifyReport>) -> Result<Self, Error> {
        let mut files = BTreeMap::new();
        pages::render(manifest, report, &mut |path: String, bytes: Vec<u8>| {
            files.insert(path, bytes);
        })?;
        Ok(Self { files })
    }

    /// Writes every file under `dir`, creating it, and removes the files an
    /// earlier site wrote there that this one does not have (a table since
    /// dropped), so that a published folder never links to stale pages.
    ///
    /// The files written are listed in `dir/.catalog-site`; only files listed
    /// there are ever removed, so other files in `dir` are left alone. A
    /// folder that is neither empty nor a catalog site (no such list) is
    /// refused rather than written into.
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        if dir.exists() && !dir.is_dir() {
            return Err(Error::NotASite {
                dir: dir.to_path_buf(),
            });
        }
        let marker = dir.join(MARKER);
        let previous = match std::fs::read_to_string(&marker) {
            Ok(list) => list,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let occupied = std::fs::read_dir(dir)
                    .map(|mut entries| entries.next().is_some())
                    .unwrap_or(false);
                if occupied {
                    return Err(Error::NotASite {
                        dir: dir.to_path_buf(),
                    });
                }
                String::new()
            }
            Err(error) => {
                return Err(Error::Write {
                    path: marker,
                    error,
                });
            }
        };
        let mut made = std::collections::HashSet::new();
        for (path, bytes) in &self.files {
            let path = dir.join(path);
            let write = |path: &Path, made: &mut std::collections::HashSet<PathBuf>| {
                if let Some(parent) = path.parent()
                    && !made.contains(parent)
                {
                    std::fs::create_dir_all(parent)?;
                    made.insert(parent.to_path_buf());
                }
                std::fs::write(path, bytes)
            };
            write(&path, &mut made).map_err(|error| Error::Write { path, error })?;
        }
        let mut list = String::new();
        for path in self.files.keys() {
            list.push_str(path);
            list.push('\n');
        }
        std::fs::write(&marker, list).map_err(|error| Error::Write {
            path: marker.clone(),
            error,
        })?;
        // Only plain relative paths of the site's own shape, never `..` or absolute.
        let stale = previous.lines().filter(|path| {
            !self.files.contains_key(*path)
                && !path.is_empty()
                && Path::new(path)
                    .components()
                    .all(|part| matches!(part, std::path::Component::Normal(_)))
        });
        for path in stale {
            let path = dir.join(path);
            let is_file = std::fs::symlink_metadata(&path).is_ok_and(|meta| meta.is_file());
            if is_file {
                std::fs::remove_file(&path).map_err(|error| Error::Write {
                    path: path.clone(),
                    error,
                })?;
                // A database folder left empty goes too; a folder with anything else stays.
                if let Some(parent) = path.parent()
                    && parent != dir
                {
                    let _ = std::fs::remove_dir(parent);
                }
            }
        }
        Ok(())
    }

    /// One file by its path in the site (`index.html`, `tables/tpch/part.html`),
    /// with its content type, as a server answers it.
    pub fn file(&self, path: &str) -> Option<(&[u8], &'static str)> {
        let bytes = self.files.get(path)?;
        Some((bytes, content_type(path)))
    }

    /// The paths of every file, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// How many files the site has.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the site has no file (never true for a built site).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The total size of the files, in bytes.
    pub fn bytes(&self) -> usize {
        self.files.values().map(Vec::len).sum()
    }
}

/// The content type of a site file, by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// The page of a table, `database.name`, relative to the site's root.
pub fn table_page(qualified_name: &str) -> String {
    let (database, name) = qualified_name
        .split_once('.')
        .unwrap_or(("", qualified_name));
    format!("tables/{}/{}.html", file_name(database), file_name(name))
}

/// A name as a file name: table and database names are SQL identifiers, but
/// a catalog read from JSON is not checked, so anything else is escaped.
fn file_name(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '-' => c.to_string(),
            other => format!("_x{:X}_", u32::from(other)),
        })
        .collect()
}
