//! `project-secrets` and `secrets-in-goals`.

use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;

use crate::check::{CheckError, CheckResult};
use crate::context::Context;
use crate::finding::Outcome;

/// How a file name is matched.
#[derive(Debug, Clone, Copy)]
enum Match {
    /// The name starts with this.
    Prefix(&'static str),
    /// The name ends with this.
    Suffix(&'static str),
    /// The name is exactly this.
    Exact(&'static str),
    /// The name starts with the first and ends with the second.
    Both(&'static str, &'static str),
}

/// One kind of credential file.
#[derive(Debug, Clone, Copy)]
struct Pattern {
    name: Match,
    /// Only when the contents contain one of these (empty: always).
    contents: &'static [&'static str],
    /// What it is, for people.
    what: &'static str,
}

/// Files that look like credentials. Adding a kind is one row.
const PATTERNS: &[Pattern] = &[
    Pattern {
        name: Match::Prefix(".env"),
        contents: &[],
        what: "environment file",
    },
    Pattern {
        name: Match::Suffix(".pem"),
        contents: &[],
        what: "PEM key or certificate",
    },
    Pattern {
        name: Match::Suffix(".key"),
        contents: &[],
        what: "private key",
    },
    Pattern {
        name: Match::Prefix("id_rsa"),
        contents: &[],
        what: "SSH key",
    },
    Pattern {
        name: Match::Prefix("id_ed25519"),
        contents: &[],
        what: "SSH key",
    },
    Pattern {
        name: Match::Prefix("id_ecdsa"),
        contents: &[],
        what: "SSH key",
    },
    Pattern {
        name: Match::Exact(".npmrc"),
        contents: &["_authToken", "_auth", "_password"],
        what: "npm credentials",
    },
    Pattern {
        name: Match::Exact(".pypirc"),
        contents: &["password", "token"],
        what: "PyPI credentials",
    },
    Pattern {
        name: Match::Exact(".netrc"),
        contents: &["password"],
        what: "netrc credentials",
    },
    Pattern {
        name: Match::Both("credentials", ".json"),
        contents: &[],
        what: "credentials file",
    },
    Pattern {
        name: Match::Exact("kubeconfig"),
        contents: &[],
        what: "Kubernetes config",
    },
    Pattern {
        name: Match::Suffix(".kubeconfig"),
        contents: &[],
        what: "Kubernetes config",
    },
    Pattern {
        name: Match::Suffix(".tfvars"),
        contents: &[],
        what: "Terraform variables",
    },
    Pattern {
        name: Match::Suffix(".tfvars.json"),
        contents: &[],
        what: "Terraform variables",
    },
];

/// Names never reported even when a pattern matches: public halves and examples.
const HARMLESS_SUFFIXES: &[&str] = &[".pub", ".example", ".sample", ".template", ".dist"];

/// Directories not searched: dependencies and build output, which the agent does not write.
const SKIPPED_DIRS: &[&str] = &[
    ".git",
    "node_modules",
    "target",
    ".venv",
    "venv",
    "__pycache__",
    ".terraform",
];

/// At most this many directory entries are looked at, so a huge tree cannot stall doctor.
const MAX_ENTRIES: usize = 50_000;

/// `project-secrets`: credential-looking files in the workspace.
pub fn project_secrets(context: &Context) -> BoxFuture<'_, CheckResult> {
    let workspace = context.settings.workspace.clone();
    Box::pin(async move {
        let found = tokio::task::spawn_blocking(move || scan(&workspace))
            .await
            .map_err(|error| CheckError::Http(format!("the workspace scan stopped: {error}")))??;
        let workspace = &context.settings.workspace;
        if found.files.is_empty() {
            let mut outcome = Outcome::pass(format!(
                "no credential-looking files in {}",
                workspace.display()
            ));
            if found.truncated {
                outcome = Outcome::warn(format!(
                    "no credential-looking files in the first {MAX_ENTRIES} entries of {}",
                    workspace.display()
                ));
            }
            return Ok(outcome);
        }
        Ok(Outcome::warn(format!("{} credential-looking file{} in the workspace", found.files.len(), if found.files.len() == 1 { "" } else { "s" }))
            .evidence_lines(found.files.iter().map(|(path, what)| format!("{} ({what})", path.display())))
            .evidence("dw's sandbox masks these files; the plain Duo Workflow container mounts them as they are, ignored by git or not")
            .fix("move credentials out of the project (a secrets manager, or files outside the workspace), or run workflows with dw's sandbox"))
    })
}

struct Scan {
    files: Vec<(PathBuf, &'static str)>,
    truncated: bool,
}

fn scan(workspace: &Path) -> Result<Scan, CheckError> {
    let mut files = Vec::new();
    let mut pending = vec![workspace.to_owned()];
    let mut seen = 0usize;
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| CheckError::Io {
            action: "read",
            target: dir.clone(),
            source,
        })?;
        for entry in entries.filter_map(Result::ok) {
            seen += 1;
            if seen > MAX_ENTRIES {
                return Ok(Scan {
                    files,
                    truncated: true,
                });
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                if !SKIPPED_DIRS.contains(&name.as_str()) {
                    pending.push(path);
                }
                continue;
            }
            if let Some(what) = classify(&name, &path) {
                files.push((
                    path.strip_prefix(workspace).unwrap_or(&path).to_owned(),
                    what,
                ));
            }
        }
    }
    files.sort();
    Ok(Scan {
        files,
        truncated: false,
    })
}

fn classify(name: &str, path: &Path) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if HARMLESS_SUFFIXES
        .iter()
        .any(|suffix| lower.ends_with(suffix))
    {
        return None;
    }
    let pattern = PATTERNS.iter().find(|pattern| match pattern.name {
        Match::Prefix(prefix) => lower.starts_with(prefix),
        Match::Suffix(suffix) => lower.ends_with(suffix),
        Match::Exact(exact) => lower == exact,
        Match::Both(prefix, suffix) => lower.starts_with(prefix) && lower.ends_with(suffix),
    })?;
    if pattern.contents.is_empty() {
        return Some(pattern.what);
    }
    let text = std::fs::read_to_string(path).ok()?;
    pattern
        .contents
        .iter()
        .any(|needle| text.contains(needle))
        .then_some(pattern.what)
}

/// `secrets-in-goals`: informational.
pub fn secrets_in_goals(_context: &Context) -> BoxFuture<'_, CheckResult> {
    Box::pin(std::future::ready(Ok(Outcome::pass(
        "informational: goals and tool output are sent to the model; never paste credentials into a goal",
    )
    .evidence("dw keeps the LLM API key and the GitLab token on the host: they never enter a goal, a prompt or the container")
    .evidence("anything you type into a goal, and anything a command prints, can reach the model provider and the audit log"))))
}
