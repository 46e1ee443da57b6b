//! `cargo xtask new-plugin NAME`: a new source kind, and the plugin crate that
//! serves it, wired into the workspace.
//!
//! The generator is one pure function, [`scaffold`]: the files of the crate
//! (`plugins/NAME/`, from the templates in `template/`) and the lines it adds
//! to files that list every kind, each before a marker line (`// new-plugin:
//! sources` and so on). Applying it writes them; `--check` compares them with
//! an existing scaffold, so a generator change that is not
//! regenerated fails `cargo xtask test`, as gen-catalog's outputs do. The
//! committed example is `plugins/jsonl`, made by `cargo xtask new-plugin jsonl`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};

/// Arguments of `cargo xtask new-plugin`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The new source kind, as tables will write it in `source = "…"`: lowercase
    /// letters, digits and single hyphens, starting with a letter (e.g. `arrow-ipc`).
    pub name: String,
    /// Write nothing: fail if the crate and the lines already made for NAME
    /// differ from what the generator writes today.
    #[arg(long, conflicts_with = "refresh")]
    pub check: bool,
    /// Rewrite the crate's files of an existing plugin made by this command
    /// (for the committed example after a change to the templates).
    #[arg(long)]
    pub refresh: bool,
}

/// Runs `cargo xtask new-plugin`.
pub fn run(root: &Path, args: &Args) -> Result<()> {
    let names = Names::new(&args.name)?;
    let scaffold = scaffold(&names);
    if args.check {
        let stale = check(root, &scaffold);
        ensure!(
            stale.is_empty(),
            "the plugin made by `cargo xtask new-plugin {kind}` is stale:\n{}\n\
             rewrite its files with `cargo xtask new-plugin {kind} --refresh`, and copy the lines shown above into place",
            stale.join("\n"),
            kind = names.kind,
        );
        println!(
            "plugins/{} is what `cargo xtask new-plugin` writes",
            names.kind
        );
        return Ok(());
    }
    if args.refresh {
        let manifest = root.join(&scaffold.dir).join("Cargo.toml");
        let Ok(manifest) = std::fs::read_to_string(&manifest) else {
            bail!(
                "{} does not exist: make it with `cargo xtask new-plugin {}`",
                scaffold.dir.display(),
                names.kind
            );
        };
        // Only a crate this command made, and whose description still says so:
        // never another plugin's files.
        ensure!(
            manifest.contains(&format!(
                "(made by `cargo xtask new-plugin {}`)",
                names.kind
            )),
            "{} was not made by `cargo xtask new-plugin {}` (its Cargo.toml's description does not say so), \
             so --refresh leaves it alone",
            scaffold.dir.display(),
            names.kind
        );
        write_files(root, &scaffold)?;
        println!("rewrote the files of {}", scaffold.dir.display());
        return Ok(());
    }
    create(root, &names, &scaffold)?;
    // The templates are formatted for `jsonl`; a longer name may wrap differently.
    let formatted = crate::cargo_command()
        .current_dir(root)
        .args(["fmt", "--all"])
        .status();
    if !formatted.is_ok_and(|status| status.success()) {
        eprintln!("warning: `cargo fmt --all` failed; run it before you commit");
    }
    println!(
        "made source kind `{kind}` and its plugin {dir}, wired into the workspace:\n\
         - plugins/{kind}/src/lib.rs reads newline-delimited JSON files; change `build` and `LocalFile::inspect` for your format\n\
         - catalog-core/model/src/source/: the kind in `SOURCES` (mod.rs) and its options, `{name}Options` (options.rs)\n\
         - tests/e2e/conformance.rs: `{snake}_conforms` runs the conformance suite on it\n\
         next: `cargo xtask gen-catalog` (the source options reference), then `cargo xtask test`;\n\
         the rest of the way is docs/how-to/add-a-source-plugin.md",
        kind = names.kind,
        dir = scaffold.dir.display(),
        name = names.name,
        snake = names.snake,
    );
    Ok(())
}

/// A kind's name in each of the forms the scaffold writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// As in `source = "…"` and the crate's directory: `arrow-ipc`.
    pub kind: String,
    /// Rust type names: `ArrowIpc` (`ArrowIpcOptions`, `ArrowIpcError`).
    pub name: String,
    /// Rust item names: `arrow_ipc`.
    pub snake: String,
}

impl Names {
    /// The names for `kind`, or why it cannot be a kind.
    pub fn new(kind: &str) -> Result<Self> {
        let valid = kind.len() <= 32
            && kind.starts_with(|c: char| c.is_ascii_lowercase())
            && kind.split('-').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        ensure!(
            valid,
            "`{kind}` cannot name a source kind: use lowercase letters, digits and single hyphens, \
             starting with a letter and at most 32 characters (e.g. `jsonl`, `arrow-ipc`)"
        );
        ensure!(
            !matches!(kind, "abi" | "sdk" | "testing"),
            "`{kind}` is taken by plugins/{kind}, which is not a plugin: choose another name"
        );
        let name: String = kind
            .split('-')
            .map(|part| {
                let mut chars = part.chars();
                chars
                    .next()
                    .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect();
        // The plugin's types must not take a name the template or the model uses.
        let taken = |ident: &str| {
            let template = ["{{kind}}", "{{Name}}", "{{snake}}"]
                .iter()
                .fold(LIB_RS.to_owned(), |text, placeholder| {
                    text.replace(placeholder, " ")
                });
            MODEL_NAMES.contains(&ident)
                || template
                    .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .any(|token| token == ident)
        };
        for ident in [
            name.clone(),
            format!("{name}Options"),
            format!("{name}Error"),
        ] {
            ensure!(
                !taken(&ident),
                "`{kind}` would name a type `{ident}`, which the plugin template or the model \
                 already uses: choose another name"
            );
        }
        Ok(Self {
            kind: kind.to_owned(),
            name,
            snake: kind.replace('-', "_"),
        })
    }

    fn fill(&self, template: &str) -> String {
        template
            .replace("{{kind}}", &self.kind)
            .replace("{{Name}}", &self.name)
            .replace("{{snake}}", &self.snake)
    }
}

/// What `new-plugin` writes for one kind.
#[derive(Debug)]
pub struct Scaffold {
    /// The crate's directory, relative to the root.
    pub dir: PathBuf,
    /// The crate's files, relative to the root, and their text.
    pub files: Vec<(PathBuf, String)>,
    /// Lines added to files that list every kind.
    pub inserts: Vec<Insert>,
}

/// Lines added to a file, just before its marker line.
#[derive(Debug)]
pub struct Insert {
    /// The file, relative to the root.
    pub path: &'static str,
    /// The marker line, trimmed; the lines go before each line that is exactly it.
    pub marker: &'static str,
    /// The lines, each ending in a newline, indented as they will stand.
    pub text: String,
}

const CARGO_TOML: &str = include_str!("template/Cargo.toml.tmpl");
const BUILD_RS: &str = include_str!("template/build.rs.tmpl");
const LIB_RS: &str = include_str!("template/lib.rs.tmpl");

const OPTIONS_RS: &str = "catalog-core/model/src/source/options.rs";

/// Public names of the model's `source` module, which a kind's options struct
/// joins (`pub use options::*`).
const MODEL_NAMES: &[&str] = &[
    "SourceOptions",
    "SourceDef",
    "OptionDef",
    "OptionValue",
    "OptionProblem",
    "ProblemKind",
    "DeltaVersion",
    "Pagination",
    "HttpAuth",
    "SOURCES",
];
const SOURCES_RS: &str = "catalog-core/model/src/source/mod.rs";

/// The trybuild expectations that list every kind in their error message.
const KIND_LISTS: [&str; 2] = [
    "catalog-core/model/tests/ui/fail/unknown_source.stderr",
    "catalog-core/model/tests/ui/fail/missing_source.stderr",
];

/// Everything `new-plugin` writes for `names`: a pure function of the name.
pub fn scaffold(names: &Names) -> Scaffold {
    let dir = PathBuf::from("plugins").join(&names.kind);
    let files = [
        ("Cargo.toml", CARGO_TOML),
        ("build.rs", BUILD_RS),
        ("src/lib.rs", LIB_RS),
    ]
    .into_iter()
    .map(|(file, template)| (dir.join(file), names.fill(template)))
    .collect();
    let insert = |path, marker, template: &str| Insert {
        path,
        marker,
        text: names.fill(template),
    };
    let inserts = vec![
        insert(
            "Cargo.toml",
            "# new-plugin: members",
            "    \"plugins/{{kind}}\",\n",
        ),
        insert(
            SOURCES_RS,
            "// new-plugin: sources",
            r#"    SourceDef {
        kind: "{{kind}}",
        plugin: "{{kind}}",
        target: "location",
        unreachable: Some("check `location` and the environment's data directory"),
        doc: "Newline-delimited JSON files, one object per line, read with the declared columns.",
        options: &[required(
            "location",
            OptionValue::FilePath,
            "The file: relative to the environment's data directory, absolute, or a `file://` URL.",
        )],
    },
"#,
        ),
        insert(
            OPTIONS_RS,
            "// new-plugin: options",
            r#"/// The options of a `{{kind}}` table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct {{Name}}Options {
    /// The file: relative to the environment's data directory, absolute, or `file://`.
    pub location: String,
}

"#,
        ),
        insert(
            OPTIONS_RS,
            "// new-plugin: variants",
            "    /// `source = \"{{kind}}\"`.\n    {{Name}}({{Name}}Options),\n",
        ),
        insert(
            OPTIONS_RS,
            "// new-plugin: parse",
            r#"            "{{kind}}" => Self::{{Name}}({{Name}}Options {
                location: values.text("location"),
            }),
"#,
        ),
        insert(
            OPTIONS_RS,
            "// new-plugin: kind",
            "            Self::{{Name}}(_) => \"{{kind}}\",\n",
        ),
        insert(
            OPTIONS_RS,
            "// new-plugin: location",
            "            Self::{{Name}}(options) => Some(&options.location),\n",
        ),
        insert(
            OPTIONS_RS,
            "// new-plugin: kind_options",
            "    {{Name}}({{Name}}Options),\n",
        ),
        insert(
            "tests/e2e/conformance.rs",
            "// new-plugin: conformance",
            r#"/// `{{kind}}` as `cargo xtask new-plugin {{kind}}` made it: newline-delimited JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn {{snake}}_conforms() {
    conforms(Kind::JsonLines("{{kind}}")).await;
}

"#,
        ),
        insert(
            "docs/explanation/architecture.md",
            "<!-- new-plugin: code map -->",
            "- `plugins/{{kind}}` (`codelake-plugin-{{kind}}`): `{{kind}}` tables, newline-delimited JSON \
             files read by DataFusion's listing table with the declared columns, matched by key; \
             made by `cargo xtask new-plugin {{kind}}` and checked against it.\n",
        ),
    ];
    Scaffold {
        dir,
        files,
        inserts,
    }
}

/// How `scaffold` differs from what is committed: one line per stale file or
/// missing lines (with the lines), none when it is current.
pub fn check(root: &Path, scaffold: &Scaffold) -> Vec<String> {
    let mut stale = Vec::new();
    for (path, text) in &scaffold.files {
        match std::fs::read_to_string(root.join(path)) {
            Ok(found) if found == *text => {}
            Ok(_) => stale.push(format!("- {} differs from the template", path.display())),
            Err(error) => stale.push(format!("- {} cannot be read: {error}", path.display())),
        }
    }
    for insert in &scaffold.inserts {
        let found = std::fs::read_to_string(root.join(insert.path)).unwrap_or_default();
        if found.matches(&insert.text).count() < markers(insert.path) {
            stale.push(format!(
                "- {} lacks these lines (before `{}`):\n{}",
                insert.path, insert.marker, insert.text
            ));
        }
    }
    stale
}

/// Makes a new kind: refuses a kind or a crate that exists, and checks every
/// marker before it writes anything.
fn create(root: &Path, names: &Names, scaffold: &Scaffold) -> Result<()> {
    ensure!(
        catalog_core::source::source(&names.kind).is_none(),
        "source kind `{}` exists already (catalog-core/model/src/source/mod.rs); choose another name",
        names.kind
    );
    ensure!(
        !root.join(&scaffold.dir).exists(),
        "{} exists already; choose another name, or remove it first",
        scaffold.dir.display()
    );
    // Every edit is prepared in memory first: a missing marker writes nothing.
    let mut edited: Vec<(PathBuf, String)> = Vec::new();
    for insert in &scaffold.inserts {
        let path = root.join(insert.path);
        let text = match edited.iter_mut().find(|(edited, _)| *edited == path) {
            Some((_, text)) => text,
            None => {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                edited.push((path.clone(), text));
                &mut edited.last_mut().expect("just pushed").1
            }
        };
        *text = match insert_before(text, insert) {
            Ok(text) => text,
            Err(found) => {
                let times = if markers(insert.path) == 2 {
                    "twice"
                } else {
                    "once"
                };
                let holds = match found {
                    0 => format!("has no line `{}`", insert.marker),
                    found => format!("holds the line `{}` {found} times", insert.marker),
                };
                bail!(
                    "{} {holds} (it must hold it {times}: it marks where new kinds are added); restore it from git",
                    insert.path
                );
            }
        };
    }
    // The trybuild expectations list every kind, in `SOURCES` order: the new one is last.
    let kinds = catalog_core::source::kinds();
    for list in KIND_LISTS {
        let path = root.join(list);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if !text.contains(&kinds) {
            bail!(
                "{list} does not list the kinds this xtask knows ({kinds}): rebuild xtask from this checkout"
            );
        }
        edited.push((
            path,
            text.replace(&kinds, &format!("{kinds}, \"{}\"", names.kind)),
        ));
    }
    // The shared files first, each put back as it was if a later one fails;
    // then the crate, removed if it cannot be written whole.
    let mut written: Vec<(&Path, String)> = Vec::new();
    for (path, text) in &edited {
        let before = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if let Err(error) = std::fs::write(path, text) {
            for (path, before) in written.into_iter().rev() {
                let _ = std::fs::write(path, before);
            }
            return Err(error).with_context(|| format!("cannot write {}", path.display()));
        }
        written.push((path, before));
    }
    if let Err(error) = write_files(root, scaffold) {
        let _ = std::fs::remove_dir_all(root.join(&scaffold.dir));
        for (path, before) in written.into_iter().rev() {
            let _ = std::fs::write(path, before);
        }
        return Err(error);
    }
    Ok(())
}

fn write_files(root: &Path, scaffold: &Scaffold) -> Result<()> {
    for (path, text) in &scaffold.files {
        let path = root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// `text` with `insert`'s lines before each of its marker lines, or how many
/// markers it holds when that is not as many as the file should hold.
fn insert_before(text: &str, insert: &Insert) -> Result<String, usize> {
    let mut out = String::with_capacity(text.len() + insert.text.len());
    let mut found = 0;
    for line in text.split_inclusive('\n') {
        if line.trim() == insert.marker {
            out.push_str(&insert.text);
            found += 1;
        }
        out.push_str(line);
    }
    if found == markers(insert.path) {
        Ok(out)
    } else {
        Err(found)
    }
}

/// How many times `path` holds each of its markers: twice in `Cargo.toml`
/// (`members` and `default-members`), once elsewhere.
fn markers(path: &str) -> usize {
    if path == "Cargo.toml" { 2 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed example: `plugins/jsonl`, made by `cargo xtask new-plugin jsonl`.
    const EXAMPLE: &str = "jsonl";

    /// The committed example is what the generator writes today: a template
    /// changed without `--refresh` fails here, as stale generated docs do.
    #[test]
    fn the_committed_example_plugin_is_what_the_generator_writes() {
        let root = crate::project_root();
        let stale = check(&root, &scaffold(&Names::new(EXAMPLE).unwrap()));
        assert!(
            stale.is_empty(),
            "run `cargo xtask new-plugin {EXAMPLE} --refresh`:\n{}",
            stale.join("\n")
        );
    }

    /// A stale copy is caught, naming the file; a current one passes.
    #[test]
    fn a_stale_example_is_named() {
        let root = tempfile::tempdir().unwrap();
        let scaffold = scaffold(&Names::new("events").unwrap());
        write_files(root.path(), &scaffold).unwrap();
        for insert in &scaffold.inserts {
            let path = root.path().join(insert.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let mut text = std::fs::read_to_string(&path).unwrap_or_default();
            text.push_str(&insert.text.repeat(markers(insert.path)));
            std::fs::write(&path, text).unwrap();
        }
        assert_eq!(check(root.path(), &scaffold), Vec::<String>::new());

        // The crate in one of the two member lists only: `cargo build` would skip it.
        let cargo = root.path().join("Cargo.toml");
        std::fs::write(&cargo, "    \"plugins/events\",\n").unwrap();
        let stale = check(root.path(), &scaffold);
        assert!(
            stale.len() == 1 && stale[0].contains("Cargo.toml"),
            "{stale:?}"
        );
        std::fs::write(&cargo, "    \"plugins/events\",\n".repeat(2)).unwrap();

        let lib = root.path().join("plugins/events/src/lib.rs");
        let edited = std::fs::read_to_string(&lib)
            .unwrap()
            .replace("by key", "by position");
        std::fs::write(&lib, edited).unwrap();
        let stale = check(root.path(), &scaffold);
        assert_eq!(stale.len(), 1, "{stale:?}");
        assert!(stale[0].contains("plugins/events/src/lib.rs"), "{stale:?}");
    }

    /// Applied to a copy of the real files, every line lands before its
    /// marker, the marker stays for the next kind, and the kind is refused twice.
    #[test]
    fn a_new_kind_is_wired_in_before_every_marker() {
        let real = crate::project_root();
        let root = tempfile::tempdir().unwrap();
        let names = Names::new("arrow-ipc").unwrap();
        let scaffold = scaffold(&names);
        let touched = scaffold
            .inserts
            .iter()
            .map(|insert| insert.path)
            .chain(KIND_LISTS);
        for path in touched {
            let to = root.path().join(path);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(real.join(path), to).unwrap();
        }
        create(root.path(), &names, &scaffold).unwrap();

        assert_eq!(check(root.path(), &scaffold), Vec::<String>::new());
        let cargo = std::fs::read_to_string(root.path().join("Cargo.toml")).unwrap();
        assert_eq!(
            cargo
                .matches("\"plugins/arrow-ipc\",\n    # new-plugin: members")
                .count(),
            2,
            "members and default-members"
        );
        let options = std::fs::read_to_string(root.path().join(OPTIONS_RS)).unwrap();
        assert!(
            options
                .contains("Self::ArrowIpc(_) => \"arrow-ipc\",\n            // new-plugin: kind\n")
        );
        let listed = std::fs::read_to_string(root.path().join(KIND_LISTS[0])).unwrap();
        assert!(listed.contains("\"arrow-ipc\""), "{listed}");
        let lib =
            std::fs::read_to_string(root.path().join("plugins/arrow-ipc/src/lib.rs")).unwrap();
        assert!(lib.contains("pub struct ArrowIpc;") && lib.contains("ArrowIpcOptions"));

        let again = create(root.path(), &names, &scaffold).unwrap_err();
        assert!(
            again
                .to_string()
                .contains("plugins/arrow-ipc exists already"),
            "{again}"
        );
    }

    /// Names that cannot be a kind are refused with the rule; others get every form.
    #[test]
    fn names_are_checked_and_converted() {
        let names = Names::new("arrow-ipc2").unwrap();
        assert_eq!(
            (names.name.as_str(), names.snake.as_str()),
            ("ArrowIpc2", "arrow_ipc2")
        );
        for bad in [
            "",
            "Jsonl",
            "2json",
            "json--lines",
            "json-",
            "json_lines",
            "sdk",
            "source",
            "arrow",
            "local-file",
            "schema",
        ] {
            let error = Names::new(bad).unwrap_err().to_string();
            assert!(error.contains(&format!("`{bad}`")), "{bad}: {error}");
        }
    }

    /// `Cargo.toml` that lost one of its two markers is refused: the crate
    /// would be a member but not a default one, and `cargo build` would skip it.
    #[test]
    fn a_lost_members_marker_is_refused() {
        let names = Names::new("events").unwrap();
        let scaffold = scaffold(&names);
        let insert = &scaffold.inserts[0];
        assert_eq!(insert.path, "Cargo.toml");
        let once = "members = [\n    # new-plugin: members\n]\n";
        assert_eq!(insert_before(once, insert), Err(1));
        let twice = format!("{once}default-{once}");
        let both = insert_before(&twice, insert).unwrap();
        assert_eq!(
            both.matches("\"plugins/events\",\n    # new-plugin: members")
                .count(),
            2
        );
    }

    /// A file without its marker is named, and nothing is written.
    #[test]
    fn a_missing_marker_writes_nothing() {
        let root = tempfile::tempdir().unwrap();
        let names = Names::new("events").unwrap();
        let scaffold = scaffold(&names);
        for insert in &scaffold.inserts {
            let path = root.path().join(insert.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "no markers here\n").unwrap();
        }
        let error = format!("{:#}", create(root.path(), &names, &scaffold).unwrap_err());
        assert!(
            error.contains("Cargo.toml has no line `# new-plugin: members`"),
            "{error}"
        );
        assert!(!root.path().join("plugins/events").exists());
    }
}
