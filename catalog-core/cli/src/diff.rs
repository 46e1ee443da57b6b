//! `codelake diff`: the catalog at two git revisions (or a revision and the
//! working tree) compared, each change classified for the data's readers.
//!
//! It reads `catalog.json` from each side with `git show`, so the old
//! revision is never built. The rules are `catalog_core::diff`'s; this module
//! only finds the two files and prints the report.

use std::path::{Path, PathBuf};
use std::process::Command;

use catalog_core::Manifest;
use catalog_core::diff::{Diff, Labels, Report};
use clap::{Args, ValueEnum};

use crate::error::{CliError, EXIT_FAILED, EXIT_USAGE};

/// Where `cargo xtask gen-catalog` writes the catalog, from the repository's root.
const DEFAULT_FILE: &str = "tables/catalog.json";

/// `codelake diff`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    codelake diff                            HEAD against the working tree\n  \
    codelake diff --merge-base origin/main   what this branch changes, as a pull request shows it\n  \
    codelake diff v1.2 v1.3 --format markdown\n  \
    codelake diff old/catalog.json new/catalog.json\n\n\
    Exit codes: 0 no breaking change left unacknowledged, 1 a breaking change is not acknowledged, \
    2 a catalog could not be read.\n\
    The rules and how to acknowledge a change: docs/how-to/review-catalog-changes.md.")]
pub struct DiffArgs {
    /// The catalog before: a git revision, or a catalog.json file.
    #[arg(default_value = "HEAD")]
    base: String,
    /// The catalog after: a git revision, or a catalog.json file [default: the working tree]
    head: Option<String>,
    /// Compare from the merge base of BASE and HEAD, as a pull request does,
    /// so changes made on BASE since are not shown reversed.
    #[arg(long)]
    merge_base: bool,
    /// Where catalog.json is in the repository, from its root.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_FILE)]
    file: PathBuf,
    /// `text` for a terminal, `markdown` for a pull-request comment, `json`
    /// for tools (schema: docs/reference/catalog-diff.schema.json).
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    format: DiffFormat,
    /// Acknowledge a breaking change no table can carry, e.g. a table retired
    /// with no successor: `KIND:DATABASE.TABLE[.TARGET]`. Repeatable.
    #[arg(long, value_name = "CHANGE")]
    allow: Vec<String>,
}

/// How the report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// Text for a terminal.
    Text,
    /// Markdown for a pull-request comment.
    Markdown,
    /// JSON, for tools.
    Json,
}

/// One side of the diff: where its catalog.json comes from.
enum Side {
    /// A catalog.json file on disk.
    File(PathBuf),
    /// The file at a git revision.
    Revision(String),
    /// The file at a merge base: its commit, and the words that found it.
    MergeBase(String, String),
    /// The file in the working tree.
    WorkingTree,
}

/// Runs `codelake diff`.
pub fn run(args: DiffArgs) -> Result<(), CliError> {
    let base = side(&args.base);
    let head = args.head.as_deref().map_or(Side::WorkingTree, side);
    let repository = match (&base, &head) {
        (Side::File(_), Side::File(_)) => None,
        _ => Some(Repository::find()?),
    };
    let head_revision = match &head {
        Side::Revision(head) => head.clone(),
        _ => "HEAD".to_owned(),
    };
    let base = match (args.merge_base, &base, repository.as_ref()) {
        // A revision is its own merge base.
        (true, Side::Revision(revision), Some(_)) if *revision == head_revision => base,
        (true, Side::Revision(revision), Some(repository)) => Side::MergeBase(
            repository.merge_base(revision, &head_revision)?,
            format!("the merge base of {revision} and {head_revision}"),
        ),
        (true, _, _) => {
            return Err(usage(
                "--merge-base needs BASE to be a git revision, not a file",
            ));
        }
        _ => base,
    };
    let (base_label, before) = read(&base, repository.as_ref(), &args.file)?;
    let (head_label, after) = read(&head, repository.as_ref(), &args.file)?;
    let mut diff = Diff::between(&before, &after);
    diff.allow(&args.allow).map_err(usage)?;
    let labels = Labels {
        base: base_label,
        head: head_label,
    };
    let report = Report::new(&diff, &labels);
    print!(
        "{}",
        match args.format {
            DiffFormat::Text => report.text(),
            DiffFormat::Markdown => report.markdown(),
            DiffFormat::Json => report.json(),
        }
    );
    match report.summary.unacknowledged {
        0 => Ok(()),
        n => Err(CliError::msg(
            EXIT_FAILED,
            format!(
                "{n} breaking change{} not acknowledged",
                if n == 1 { " is" } else { "s are" }
            ),
        )
        .hint(
            "acknowledge each in code as its hint says: raise `contract_version` on the table, add `allow_breaking = \"KIND:TARGET\"`, or for a removed table `replaces` on its successor (or `--allow table-removed:DB.TABLE`); docs/how-to/review-catalog-changes.md",
        )),
    }
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::msg(EXIT_USAGE, message)
}

/// A file when the argument is a path ending in `.json`, else a revision.
fn side(argument: &str) -> Side {
    if argument.ends_with(".json") {
        Side::File(PathBuf::from(argument))
    } else {
        Side::Revision(argument.to_owned())
    }
}

/// The catalog of one side, and its label for the report.
fn read(
    side: &Side,
    repository: Option<&Repository>,
    file: &Path,
) -> Result<(String, Manifest), CliError> {
    let (label, text) = match (side, repository) {
        (Side::File(path), _) => {
            let text = std::fs::read_to_string(path).map_err(|error| {
                usage(format!("cannot read {}: {error}", path.display())).hint(
                    "an argument ending in `.json` is a catalog file; give a git revision otherwise",
                )
            })?;
            (path.display().to_string(), text)
        }
        (Side::WorkingTree, Some(repository)) => {
            let path = repository.root.join(file);
            let text = std::fs::read_to_string(&path).map_err(|error| {
                usage(format!(
                    "cannot read {} in the working tree: {error}",
                    path.display()
                ))
                .hint("generate it with `cargo xtask gen-catalog`, or name it with --file PATH")
            })?;
            ("the working tree".to_owned(), text)
        }
        (Side::Revision(revision), Some(repository)) => repository.show(revision, file, None)?,
        (Side::MergeBase(commit, words), Some(repository)) => {
            repository.show(commit, file, Some(words))?
        }
        (_, None) => unreachable!("a repository is found for every side that is not a file"),
    };
    let manifest = Manifest::from_json(&text)
        .map_err(|error| usage(format!("the catalog of {label}: {error}")))?;
    Ok((label, manifest))
}

/// The git repository around the current directory.
struct Repository {
    root: PathBuf,
}

impl Repository {
    fn find() -> Result<Self, CliError> {
        let root = git(None, &["rev-parse", "--show-toplevel"]).map_err(|error| {
            usage(format!("codelake diff reads catalog.json from git: {error}")).hint(
                "run it inside the repository, or compare two files: `codelake diff old.json new.json`",
            )
        })?;
        Ok(Self {
            root: PathBuf::from(root.trim()),
        })
    }

    /// The commit `revision` names, or an error saying it names none.
    fn commit(&self, revision: &str) -> Result<String, CliError> {
        git(
            Some(&self.root),
            &["rev-parse", "--verify", "--quiet", &format!("{revision}^{{commit}}")],
        )
        .map(|commit| commit.trim().to_owned())
        .map_err(|_| {
            usage(format!("`{revision}` names no commit of {}", self.root.display())).hint(
                "give a branch, tag or commit (`git log --oneline` lists them), or a catalog.json file",
            )
        })
    }

    fn merge_base(&self, base: &str, head: &str) -> Result<String, CliError> {
        let (base_commit, head_commit) = (self.commit(base)?, self.commit(head)?);
        git(Some(&self.root), &["merge-base", &base_commit, &head_commit])
            .map(|commit| commit.trim().to_owned())
            .map_err(|_| {
                usage(format!("{base} and {head} have no common commit in this clone")).hint(
                    "a shallow clone lacks the history: fetch it (`git fetch --unshallow`, or `fetch-depth: 0` in actions/checkout), or compare without --merge-base",
                )
            })
    }

    /// `file` at `revision`, and a label naming both (`words`, when given,
    /// say how the revision was found).
    fn show(
        &self,
        revision: &str,
        file: &Path,
        words: Option<&str>,
    ) -> Result<(String, String), CliError> {
        let commit = self.commit(revision)?;
        let short = &commit[..commit.len().min(10)];
        let label = match words {
            Some(words) => format!("{words} ({short})"),
            None if revision.starts_with(short) || short.starts_with(revision) => short.to_owned(),
            None => format!("{revision} ({short})"),
        };
        let path = file.to_string_lossy().replace('\\', "/");
        let text = git(Some(&self.root), &["show", &format!("{commit}:{path}")]).map_err(|_| {
            usage(format!("{label} has no {path}")).hint(
                "name the catalog's path in the repository with --file PATH, or compare from a later revision",
            )
        })?;
        Ok((label, text))
    }
}

/// Runs git and returns its standard output; an error holds what it printed.
fn git(dir: Option<&Path>, args: &[&str]) -> Result<String, String> {
    let mut command = Command::new("git");
    if let Some(dir) = dir {
        command.arg("-C").arg(dir);
    }
    let output = command.args(args).output().map_err(|error| {
        format!("cannot run git ({error}); install it, e.g. `sudo apt-get install git`")
    })?;
    if output.status.success() {
        String::from_utf8(output.stdout).map_err(|error| error.to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}
