//! Finding every `#[derive(Table)]` struct of the catalog crate, the way rustc would.
//!
//! The walk starts at `lib.rs` and follows `mod` declarations (inline, `foo.rs`,
//! `foo/mod.rs`, `#[path]`), so a file that is not part of the crate is not
//! part of the catalog either.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use catalog_core::TableSpec;

use super::{COMMAND, Layout};

/// A table found in the catalog crate.
#[derive(Debug, Clone)]
pub struct Found {
    /// Its spec, with `rust_type` the full path (`tables::tpch::Part`).
    pub spec: TableSpec,
    /// Module path within the crate (`tpch`), empty for the crate root.
    pub module: String,
    /// The declaring struct's name.
    pub ident: String,
    /// `tables/src/tpch.rs:12:12`, for messages.
    pub location: String,
}

/// What a scan found: tables sorted by database and name, and module docs.
#[derive(Debug, Default)]
pub struct Scan {
    /// Every table, sorted by database, then name.
    pub tables: Vec<Found>,
    /// The `//!` doc of each module, by module path.
    pub module_docs: BTreeMap<String, String>,
}

/// Scans the catalog crate; every problem is reported at once, each with its file and line.
pub fn scan(root: &Path, layout: &Layout) -> anyhow::Result<Scan> {
    let crate_name = layout
        .tables_src
        .parent()
        .and_then(Path::file_name)
        .map_or_else(
            || "tables".to_owned(),
            |name| name.to_string_lossy().replace('-', "_"),
        );
    let mut walker = Walker {
        root,
        layout,
        crate_name,
        scan: Scan::default(),
        problems: Vec::new(),
        conditional: None,
    };
    walker.file(&layout.tables_src.join("lib.rs"), &[], None);
    let Walker {
        mut scan,
        mut problems,
        ..
    } = walker;

    scan.tables
        .sort_by(|a, b| (&a.spec.database, &a.spec.name).cmp(&(&b.spec.database, &b.spec.name)));
    for pair in scan.tables.windows(2) {
        let [first, second] = pair else { continue };
        if first.spec.database == second.spec.database && first.spec.name == second.spec.name {
            problems.push(format!(
                "{}: struct `{}` declares table `{}.{}`, which struct `{}` at {} declares too; \
                 give one of them another `name = \"…\"` or `database = \"…\"` in `#[table(..)]`",
                second.location,
                second.ident,
                second.spec.database,
                second.spec.name,
                first.ident,
                first.location
            ));
        }
    }
    if scan.tables.is_empty() && problems.is_empty() {
        problems.push(format!(
            "{}: no `#[derive(Table)]` struct found; declare a table (see docs/tutorials/declare-your-first-table.md)",
            layout.tables_src.display()
        ));
    }
    if !problems.is_empty() {
        let mut message = String::new();
        for problem in &problems {
            writeln!(message, "{problem}")?;
        }
        anyhow::bail!(
            "{} problem{} in the catalog; fix {} and run `{COMMAND}` again:\n{}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            if problems.len() == 1 { "it" } else { "them" },
            message.trim_end()
        );
    }
    Ok(scan)
}

struct Walker<'a> {
    root: &'a Path,
    layout: &'a Layout,
    crate_name: String,
    scan: Scan,
    problems: Vec<String>,
    /// The `#[cfg(..)]` of an enclosing module, if any.
    conditional: Option<String>,
}

impl Walker<'_> {
    /// Reads one module file. `declared_at` says where its `mod` item is, for "missing file" errors.
    fn file(&mut self, path: &Path, module: &[String], declared_at: Option<String>) {
        let text = match fs::read_to_string(self.root.join(path)) {
            Ok(text) => text,
            Err(error) => {
                let at = declared_at.unwrap_or_else(|| path.display().to_string());
                self.problems
                    .push(format!("{at}: cannot read {}: {error}", path.display()));
                return;
            }
        };
        let file = match syn::parse_file(&text) {
            Ok(file) => file,
            Err(error) => {
                let start = error.span().start();
                self.problems.push(format!(
                    "{}:{}:{}: does not parse: {error}; fix the syntax (`cargo build -p tables` shows the same error)",
                    path.display(),
                    start.line,
                    start.column + 1
                ));
                return;
            }
        };
        self.scan.module_docs.insert(
            module.join("::"),
            catalog_derive_internals::ast::doc_comment(&file.attrs),
        );
        // Children of `lib.rs` and `mod.rs` live beside them; children of `foo.rs` in `foo/`.
        let stem = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parent = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let dir = if module.is_empty() || stem == "mod" {
            parent
        } else {
            parent.join(&stem)
        };
        self.items(path, &file.items, module, &dir);
    }

    fn items(&mut self, path: &Path, items: &[syn::Item], module: &[String], dir: &Path) {
        for item in items {
            match item {
                syn::Item::Struct(item) if catalog_derive_internals::derives_table(&item.attrs) => {
                    match cfg(&item.attrs) {
                        Some(Cfg::Test) => {}
                        Some(Cfg::Other(condition)) => {
                            self.conditional_table(path, item, &condition)
                        }
                        None => match self.conditional.clone() {
                            Some(condition) => self.conditional_table(path, item, &condition),
                            None => self.table(path, item, module),
                        },
                    }
                }
                syn::Item::Mod(item) => match cfg(&item.attrs) {
                    // Test-only modules are not in the crate a non-test build compiles.
                    Some(Cfg::Test) => {}
                    Some(Cfg::Other(condition)) => {
                        let outer = self.conditional.replace(condition);
                        self.module(path, item, module, dir);
                        self.conditional = outer;
                    }
                    None => self.module(path, item, module, dir),
                },
                _ => {}
            }
        }
    }

    /// The registry names every table unconditionally, so a table that may not be compiled cannot be in it.
    fn conditional_table(&mut self, path: &Path, item: &syn::ItemStruct, condition: &str) {
        self.problems.push(format!(
            "{}: struct `{}` is only compiled under `#[cfg({condition})]`, but the generated registry names every table; \
             remove the `cfg`, or move the table out of the conditional module",
            location(path, item.ident.span()),
            item.ident
        ));
    }

    fn module(&mut self, path: &Path, item: &syn::ItemMod, module: &[String], dir: &Path) {
        let name = item.ident.to_string();
        let child: Vec<String> = module.iter().cloned().chain([name.clone()]).collect();
        if let Some((_, items)) = &item.content {
            self.items(path, items, &child, &dir.join(&name));
            return;
        }
        let file = if let Some(explicit) = path_attr(&item.attrs) {
            path.parent().unwrap_or(Path::new("")).join(explicit)
        } else if dir.join(format!("{name}.rs")) == self.layout.registry {
            return; // the generated registry: no tables in it
        } else if self.root.join(dir.join(format!("{name}.rs"))).exists() {
            dir.join(format!("{name}.rs"))
        } else {
            dir.join(&name).join("mod.rs")
        };
        let at = location(path, item.ident.span());
        self.file(&file, &child, Some(at));
    }

    fn table(&mut self, path: &Path, item: &syn::ItemStruct, module: &[String]) {
        let input = syn::DeriveInput::from(item.clone());
        let at = location(path, item.ident.span());
        match catalog_derive_internals::table_def(&input) {
            Ok(def) => {
                let mut spec = def.spec;
                let rust_path: Vec<&str> = [self.crate_name.as_str()]
                    .into_iter()
                    .chain(module.iter().map(String::as_str))
                    .collect();
                spec.rust_type = Cow::Owned(format!("{}::{}", rust_path.join("::"), item.ident));
                self.scan.tables.push(Found {
                    spec,
                    module: module.join("::"),
                    ident: item.ident.to_string(),
                    location: at,
                });
            }
            Err(errors) => {
                for error in errors {
                    let start = error.span().start();
                    // Errors spanned at the call site have no line: point at the struct instead.
                    let here = if start.line == 0 {
                        at.clone()
                    } else {
                        location(path, error.span())
                    };
                    self.problems
                        .push(format!("{here}: struct `{}`: {error}", item.ident));
                }
            }
        }
    }
}

fn location(path: &Path, span: proc_macro2::Span) -> String {
    let start = span.start();
    format!("{}:{}:{}", path.display(), start.line, start.column + 1)
}

enum Cfg {
    /// `#[cfg(test)]`.
    Test,
    /// Any other condition, as written.
    Other(String),
}

/// The item's `#[cfg(..)]` condition, if it has one.
fn cfg(attrs: &[syn::Attribute]) -> Option<Cfg> {
    let attr = attrs.iter().find(|attr| attr.path().is_ident("cfg"))?;
    let condition = match &attr.meta {
        syn::Meta::List(list) => list.tokens.to_string(),
        _ => String::new(),
    };
    Some(if condition == "test" {
        Cfg::Test
    } else {
        Cfg::Other(condition)
    })
}

/// `#[path = "…"]` on a `mod` item.
fn path_attr(attrs: &[syn::Attribute]) -> Option<PathBuf> {
    let attr = attrs.iter().find(|attr| attr.path().is_ident("path"))?;
    catalog_derive_internals::ast::string_value(attr).map(PathBuf::from)
}
