//! Search actions: `find_files` (by glob) and `grep` (by regex), over the workspace.
//!
//! Both walk with the `ignore` crate, as ripgrep does: `.gitignore` and `.ignore` files inside
//! the workspace are honoured, the `.git` directory is skipped, hidden files are included, and
//! symbolic links are never followed. The walk always starts at the root — so that the root's
//! `.gitignore` applies to a search of a subdirectory — and prunes everything that is not on
//! the way to, or under, the searched path. Ignore files outside the root (parent directories,
//! the user's global excludes, `.git/info/exclude`, which a worktree may place elsewhere) are
//! not read. Files are opened for `grep` through the confined [`Workspace`] handle, so their
//! content is never read from outside even if the tree changes during the walk.

use std::path::{Path, PathBuf};

use dw_protocol::request::{FindFiles, Grep};
use dw_protocol::result::{FindFilesResult, GrepMatch, GrepResult};
use dw_protocol::{ErrorKind, Failure};
use globset::{GlobBuilder, GlobMatcher};
use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use grep_searcher::{BinaryDetection, Searcher, SearcherBuilder, sinks};

use crate::output::floor_char_boundary;
use crate::running::{Cancellation, cancelled_failure};
use crate::workspace::Workspace;

/// The most paths `find_files` returns.
pub const MAX_FOUND_PATHS: usize = 10_000;

/// How many matches `grep` returns when the request sets no `max_matches`.
pub const DEFAULT_MAX_MATCHES: u64 = 1_000;

/// The longest line text `grep` returns, in bytes; longer lines (minified code) are cut.
pub const MAX_LINE_TEXT: usize = 2_000;

/// `find_files`: files and links under `path` whose name (or path, for a pattern with `/`)
/// matches the glob, relative to the root, sorted.
pub fn find_files(
    workspace: &Workspace,
    params: &FindFiles,
    cancellation: &Cancellation,
) -> Result<FindFilesResult, Failure> {
    let scope = Scope::resolve(workspace, params.path.as_deref())?;
    let pattern = FilePattern::new(&params.pattern)?;
    let mut paths = Vec::new();
    let mut truncated = false;
    for found in scope.walk(workspace, |file_type| !file_type.is_dir()) {
        if cancellation.is_cancelled() {
            return Err(cancelled_failure());
        }
        if !pattern.matches(&found, &scope) {
            continue;
        }
        if paths.len() == MAX_FOUND_PATHS {
            truncated = true;
            break;
        }
        paths.push(display(&found));
    }
    Ok(FindFilesResult { paths, truncated })
}

/// `grep`: lines matching the regex in the text files under `path`, in walk order.
pub fn grep(
    workspace: &Workspace,
    params: &Grep,
    cancellation: &Cancellation,
) -> Result<GrepResult, Failure> {
    let max_matches = params.max_matches.unwrap_or(DEFAULT_MAX_MATCHES);
    if max_matches == 0 {
        return Err(Failure::new(
            ErrorKind::InvalidRequest,
            "max_matches must be at least 1",
        ));
    }
    let matcher = RegexMatcherBuilder::new()
        .case_insensitive(params.case_insensitive)
        .line_terminator(Some(b'\n'))
        .build(&params.pattern)
        .map_err(|error| {
            Failure::new(
                ErrorKind::InvalidRequest,
                format!("`{}` is not a valid regex: {error}", params.pattern),
            )
        })?;
    let scope = Scope::resolve(workspace, params.path.as_deref())?;
    let mut searcher = SearcherBuilder::new()
        .line_number(true)
        .binary_detection(BinaryDetection::quit(b'\0'))
        .build();
    let mut collector = Collector {
        matches: Vec::new(),
        limit: usize::try_from(max_matches).unwrap_or(usize::MAX),
        truncated: false,
    };
    for found in scope.walk(workspace, |file_type| file_type.is_file()) {
        if cancellation.is_cancelled() {
            return Err(cancelled_failure());
        }
        collector.search(workspace, &mut searcher, &matcher, &found);
        if collector.truncated {
            break;
        }
    }
    Ok(GrepResult {
        matches: collector.matches,
        truncated: collector.truncated,
    })
}

/// The searched path, resolved inside the workspace.
struct Scope {
    /// Relative to the root, symbolic links resolved.
    relative: PathBuf,
    /// The same, absolute, for the walker.
    absolute: PathBuf,
    is_file: bool,
}

impl Scope {
    fn resolve(workspace: &Workspace, raw: Option<&str>) -> Result<Self, Failure> {
        let raw = raw.unwrap_or(".");
        let relative = workspace.resolve(raw)?;
        let metadata = workspace
            .dir()
            .metadata(&relative)
            .map_err(|error| workspace.io_failure(raw, error))?;
        let absolute = workspace.canonical_root().join(&relative);
        Ok(Self {
            relative,
            absolute,
            is_file: metadata.is_file(),
        })
    }

    /// The paths (relative to the root) of the entries in scope whose type `wanted` accepts.
    ///
    /// A file given explicitly is searched even if `.gitignore` ignores it, as ripgrep does.
    /// Entries the walker cannot read are skipped.
    fn walk<'a>(
        &self,
        workspace: &'a Workspace,
        wanted: impl Fn(std::fs::FileType) -> bool + 'a,
    ) -> Box<dyn Iterator<Item = PathBuf> + 'a> {
        if self.is_file {
            return Box::new(std::iter::once(self.relative.clone()));
        }
        let root = workspace.canonical_root();
        let base = self.absolute.clone();
        let walk = ignore::WalkBuilder::new(root)
            .hidden(false)
            .parents(false)
            .git_global(false)
            .git_exclude(false)
            .require_git(false)
            .follow_links(false)
            .sort_by_file_name(|left, right| left.cmp(right))
            .filter_entry(move |entry| {
                entry.file_name() != ".git"
                    && (base.starts_with(entry.path()) || entry.path().starts_with(&base))
            })
            .build();
        Box::new(walk.filter_map(Result::ok).filter_map(move |entry| {
            let file_type = entry.file_type()?;
            if entry.depth() == 0 || !wanted(file_type) {
                return None;
            }
            entry.path().strip_prefix(root).ok().map(Path::to_owned)
        }))
    }
}

/// A glob as `find_files` applies it.
struct FilePattern {
    glob: GlobMatcher,
    /// Without a `/`, the glob is matched against file names at any depth.
    names_only: bool,
}

impl FilePattern {
    fn new(pattern: &str) -> Result<Self, Failure> {
        let pattern = pattern.strip_prefix("./").unwrap_or(pattern);
        let glob = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|error| {
                Failure::new(
                    ErrorKind::InvalidRequest,
                    format!("`{pattern}` is not a valid glob: {error}"),
                )
            })?
            .compile_matcher();
        Ok(Self {
            glob,
            names_only: !pattern.contains('/'),
        })
    }

    fn matches(&self, found: &Path, scope: &Scope) -> bool {
        let candidate = if self.names_only {
            found.file_name().map(Path::new)
        } else if scope.relative == Path::new(".") {
            Some(found)
        } else {
            found.strip_prefix(&scope.relative).ok()
        };
        candidate.is_some_and(|candidate| self.glob.is_match(candidate))
    }
}

/// Collects matches across files, up to the limit.
struct Collector {
    matches: Vec<GrepMatch>,
    limit: usize,
    truncated: bool,
}

impl Collector {
    /// Searches one file, opened through the confined handle; a file that cannot be opened or
    /// read (gone, replaced by a link out, unreadable) is skipped.
    fn search(
        &mut self,
        workspace: &Workspace,
        searcher: &mut Searcher,
        matcher: &RegexMatcher,
        relative: &Path,
    ) {
        let Ok(file) = workspace.open_for_reading(relative) else {
            return;
        };
        let is_file = file.metadata().is_ok_and(|metadata| metadata.is_file());
        if !is_file {
            return;
        }
        let path = display(relative);
        let sink = sinks::Lossy(|line, text: &str| {
            if self.matches.len() == self.limit {
                self.truncated = true;
                return Ok(false);
            }
            self.matches.push(GrepMatch {
                path: path.clone(),
                line,
                text: line_text(text),
            });
            Ok(true)
        });
        // A read error part-way through keeps the matches found before it.
        let _ = searcher.search_file(matcher, &file.into_std(), sink);
    }
}

/// A matched line without its line break, cut to [`MAX_LINE_TEXT`].
fn line_text(line: &str) -> String {
    let line = line.trim_end_matches(['\n', '\r']);
    line[..floor_char_boundary(line, MAX_LINE_TEXT)].to_owned()
}

fn display(relative: &Path) -> String {
    relative.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn fixture(files: &[(&str, &str)]) -> (tempfile::TempDir, Workspace) {
        let temp = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let path = temp.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        let workspace = Workspace::open(temp.path()).unwrap();
        (temp, workspace)
    }

    fn find(workspace: &Workspace, pattern: &str, path: Option<&str>) -> Vec<String> {
        let params = FindFiles {
            pattern: pattern.into(),
            path: path.map(Into::into),
        };
        find_files(workspace, &params, &Cancellation::never())
            .unwrap()
            .paths
    }

    #[test]
    fn globs_without_a_slash_match_names_at_any_depth() {
        let (_temp, workspace) = fixture(&[
            ("a.rs", ""),
            ("src/b.rs", ""),
            ("src/deep/c.rs", ""),
            ("src/d.txt", ""),
        ]);
        assert_eq!(
            find(&workspace, "*.rs", None),
            ["a.rs", "src/b.rs", "src/deep/c.rs"]
        );
        assert_eq!(find(&workspace, "src/*.rs", None), ["src/b.rs"]);
        assert_eq!(
            find(&workspace, "src/**/*.rs", None),
            ["src/b.rs", "src/deep/c.rs"]
        );
        assert_eq!(
            find(&workspace, "*.rs", Some("src/deep")),
            ["src/deep/c.rs"]
        );
        assert_eq!(find(&workspace, "deep/*", Some("src")), ["src/deep/c.rs"]);
    }

    #[test]
    fn the_roots_gitignore_applies_to_a_subdirectory_search() {
        let (_temp, workspace) = fixture(&[
            (".gitignore", "target/\n*.log\n"),
            ("src/main.rs", "fn main() {}"),
            ("src/debug.log", "fn main() {}"),
            ("target/out.rs", "fn main() {}"),
            (".git/config", "fn main() {}"),
            (".github/ci.yml", "fn main() {}"),
        ]);
        assert_eq!(
            find(&workspace, "*", None),
            [".github/ci.yml", ".gitignore", "src/main.rs"]
        );
        assert_eq!(find(&workspace, "*", Some("src")), ["src/main.rs"]);
        let params = Grep {
            pattern: "fn main".into(),
            ..Grep::default()
        };
        let found = grep(&workspace, &params, &Cancellation::never()).unwrap();
        let paths: Vec<_> = found.matches.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, [".github/ci.yml", "src/main.rs"]);
    }

    #[test]
    fn grep_reports_lines_and_stops_at_the_limit() {
        let (_temp, workspace) = fixture(&[
            ("a.txt", "one\nTwo\nthree two\r\n"),
            ("b.bin", "two\0two\n"),
            ("c.txt", "two"),
        ]);
        let params = Grep {
            pattern: "two".into(),
            case_insensitive: true,
            ..Grep::default()
        };
        let found = grep(&workspace, &params, &Cancellation::never()).unwrap();
        let lines: Vec<_> = found
            .matches
            .iter()
            .map(|m| (m.path.as_str(), m.line, m.text.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                ("a.txt", 2, "Two"),
                ("a.txt", 3, "three two"),
                ("c.txt", 1, "two")
            ]
        );
        assert!(!found.truncated);
        let limited = Grep {
            max_matches: Some(2),
            ..params
        };
        let found = grep(&workspace, &limited, &Cancellation::never()).unwrap();
        assert_eq!((found.matches.len(), found.truncated), (2, true));
    }

    #[test]
    fn a_file_given_explicitly_is_searched_even_if_ignored() {
        let (_temp, workspace) = fixture(&[(".gitignore", "*.log\n"), ("x.log", "needle\n")]);
        let params = Grep {
            pattern: "needle".into(),
            path: Some("x.log".into()),
            ..Grep::default()
        };
        let found = grep(&workspace, &params, &Cancellation::never()).unwrap();
        assert_eq!(found.matches.len(), 1);
    }

    #[test]
    fn bad_patterns_are_invalid_requests() {
        let (_temp, workspace) = fixture(&[]);
        let params = Grep {
            pattern: "(".into(),
            ..Grep::default()
        };
        let failure = grep(&workspace, &params, &Cancellation::never()).unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidRequest);
        let params = FindFiles {
            pattern: "[".into(),
            path: None,
        };
        let failure = find_files(&workspace, &params, &Cancellation::never()).unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidRequest);
    }

    #[test]
    fn a_cancelled_search_stops_with_cancelled() {
        let (_temp, workspace) = fixture(&[("a.txt", "x"), ("b.txt", "x")]);
        let running = crate::running::Running::default();
        let registration = running.register(1).unwrap();
        assert!(running.cancel(1));
        let cancellation = registration.cancellation();
        let params = FindFiles {
            pattern: "*".into(),
            path: None,
        };
        let failure = find_files(&workspace, &params, &cancellation).unwrap_err();
        assert_eq!(failure.kind, ErrorKind::Cancelled);
        let params = Grep {
            pattern: "x".into(),
            ..Grep::default()
        };
        let failure = grep(&workspace, &params, &cancellation).unwrap_err();
        assert_eq!(failure.kind, ErrorKind::Cancelled);
    }

    #[test]
    fn long_lines_are_cut_on_a_character_boundary() {
        let line = "é".repeat(MAX_LINE_TEXT);
        let text = line_text(&line);
        assert!(text.len() <= MAX_LINE_TEXT && text.len() >= MAX_LINE_TEXT - 1);
    }
}
