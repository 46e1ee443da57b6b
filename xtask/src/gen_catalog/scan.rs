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
use catalog_core::inspect::camel_case;

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
    walker.file(&layout.tables_src.join("lib.rs"), &[], true, None);
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
    problems.extend(name_clashes(&scan.tables));
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

/// Databases whose generated Rust names would collide in `catalog.rs`.
fn name_clashes(tables: &[Found]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut types: BTreeMap<String, &Found> = BTreeMap::new();
    for found in tables {
        let database = &*found.spec.database;
        // `Catalog::registry()` is taken.
        if database == "registry" {
            problems.push(format!(
                "{}: struct `{}`: database `registry` would clash with `Catalog::registry()` in the generated registry; \
                 choose another `database = \"…\"`",
                found.location, found.ident
            ));
        }
        let ty = camel_case(database);
        match types.get(&ty) {
            Some(other) if other.spec.database != found.spec.database => problems.push(format!(
                "{}: struct `{}`: databases `{}` and `{database}` (struct `{}` at {}) both become the type `databases::{ty}` \
                 in the generated registry; rename one of them",
                found.location, found.ident, other.spec.database, other.ident, other.location
            )),
            Some(_) => {}
            None => {
                types.insert(ty, found);
            }
        }
    }
    problems.dedup();
    problems
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
    /// Reads one module file. `owns_dir` is rustc's "mod-rs" notion: `lib.rs`,
    /// `mod.rs` and `#[path]` files keep their children beside them, `foo.rs` in
    /// `foo/`. `declared_at` says where its `mod` item is, for "missing file" errors.
    fn file(
        &mut self,
        path: &Path,
        module: &[String],
        owns_dir: bool,
        declared_at: Option<String>,
    ) {
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
        let parent = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let dir = match path.file_stem() {
            Some(stem) if !owns_dir => parent.join(stem),
            _ => parent,
        };
        self.items(path, &file.items, module, &dir, false);
    }

    /// Walks a module's items. `dir` is where its `mod foo;` children live;
    /// `inline` says whether these items are inside an inline `mod foo { .. }`.
    fn items(
        &mut self,
        path: &Path,
        items: &[syn::Item],
        module: &[String],
        dir: &Path,
        inline: bool,
    ) {
        for item in items {
            match item {
                syn::Item::Struct(item) => self.structure(path, item, module),
                syn::Item::Fn(item) => self.function_body(path, &item.sig.ident, &item.block.stmts),
                syn::Item::Mod(item) => match cfg(&item.attrs) {
                    // Test-only modules are not in the crate a non-test build compiles.
                    Some(Cfg::Test) => {}
                    Some(Cfg::Other(condition)) => {
                        let outer = self.conditional.replace(condition);
                        self.module(path, item, module, dir, inline);
                        self.conditional = outer;
                    }
                    None => self.module(path, item, module, dir, inline),
                },
                _ => {}
            }
        }
    }

    fn structure(&mut self, path: &Path, item: &syn::ItemStruct, module: &[String]) {
        // The compiled table would depend on build flags that gen-catalog cannot see.
        let fields = item.fields.iter().flat_map(|field| &field.attrs);
        if item
            .attrs
            .iter()
            .chain(fields)
            .any(conditional_catalog_attr)
        {
            self.problems.push(format!(
                "{}: struct `{}`: `#[cfg_attr(..)]` around `derive(Table)`, `table(..)` or `column(..)` makes the table \
                 depend on build flags that gen-catalog cannot see; write the attribute unconditionally",
                location(path, item.ident.span()),
                item.ident
            ));
            return;
        }
        if !catalog_derive_internals::derives_table(&item.attrs) {
            return;
        }
        match cfg(&item.attrs) {
            Some(Cfg::Test) => {}
            Some(Cfg::Other(condition)) => self.conditional_table(path, item, &condition),
            None => match self.conditional.clone() {
                Some(condition) => self.conditional_table(path, item, &condition),
                None => self.table(path, item, module),
            },
        }
    }

    /// A table declared inside a function compiles, but no path can name it.
    fn function_body(&mut self, path: &Path, function: &syn::Ident, stmts: &[syn::Stmt]) {
        for stmt in stmts {
            match stmt {
                syn::Stmt::Item(syn::Item::Struct(item))
                    if catalog_derive_internals::derives_table(&item.attrs) =>
                {
                    self.problems.push(format!(
                        "{}: struct `{}` is declared inside function `{function}`, where the generated registry cannot \
                         name it; move it to module level",
                        location(path, item.ident.span()),
                        item.ident
                    ));
                }
                syn::Stmt::Item(syn::Item::Fn(inner)) => {
                    self.function_body(path, &inner.sig.ident, &inner.block.stmts)
                }
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

    fn module(
        &mut self,
        path: &Path,
        item: &syn::ItemMod,
        module: &[String],
        dir: &Path,
        inline: bool,
    ) {
        let name = syn::ext::IdentExt::unraw(&item.ident).to_string();
        let child: Vec<String> = module
            .iter()
            .cloned()
            .chain([item.ident.to_string()])
            .collect();
        let explicit = path_attr(&item.attrs);
        if let Some((_, items)) = &item.content {
            let dir = match &explicit {
                Some(explicit) => dir.join(explicit),
                None => dir.join(&name),
            };
            self.items(path, items, &child, &dir, true);
            return;
        }
        let at = location(path, item.ident.span());
        // rustc: `#[path]` is relative to the file's directory, or, inside an inline
        // module, to the directory its children would live in; the file owns its directory.
        if let Some(explicit) = explicit {
            let base = if inline {
                dir.to_path_buf()
            } else {
                path.parent().unwrap_or(Path::new("")).to_path_buf()
            };
            self.file(&base.join(explicit), &child, true, Some(at));
            return;
        }
        let flat = dir.join(format!("{name}.rs"));
        if flat == self.layout.registry {
            return; // the generated registry: no tables in it
        }
        if self.root.join(&flat).exists() {
            self.file(&flat, &child, false, Some(at));
        } else {
            self.file(&dir.join(&name).join("mod.rs"), &child, true, Some(at));
        }
    }

    fn table(&mut self, path: &Path, item: &syn::ItemStruct, module: &[String]) {
        let input = syn::DeriveInput::from(item.clone());
        let at = location(path, item.ident.span());
        if matches!(item.vis, syn::Visibility::Inherited) {
            self.problems.push(format!(
                "{at}: struct `{}` is private, so the generated registry ({}) cannot name it; declare it `pub struct {}`",
                item.ident,
                self.layout.registry.display(),
                item.ident
            ));
        }
        let origin = catalog_derive_internals::Origin {
            file: Some(self.root.join(path)),
            root: self.root.to_path_buf(),
        };
        match catalog_derive_internals::table_def(&input, &origin) {
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

/// `#[cfg_attr(.., derive(Table))]`, `#[cfg_attr(.., table(..))]` or `#[cfg_attr(.., column(..))]`.
fn conditional_catalog_attr(attr: &syn::Attribute) -> bool {
    let syn::Meta::List(list) = &attr.meta else {
        return false;
    };
    if !attr.path().is_ident("cfg_attr") {
        return false;
    }
    list.tokens.clone().into_iter().any(|token| {
        matches!(&token, proc_macro2::TokenTree::Ident(ident) if ident == "table" || ident == "column")
            || matches!(&token, proc_macro2::TokenTree::Group(group) if group.stream().to_string().split(|c: char| !c.is_alphanumeric() && c != '_').any(|word| word == "Table"))
    })
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
