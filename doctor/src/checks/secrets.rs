//! `project-secrets` and `secrets-in-goals`.

use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;

use crate::check::{CheckError, CheckResult};
use crate::context::Context;
use crate::finding::Outcome;
use dw_runtime::config::{Config, MaskRules};

/// Credential kinds whose files are only a risk when they hold a credential: the name alone
/// (which dw's sandbox masks regardless) is not enough for doctor to warn.
const CONTENT_HINTS: &[(&str, &[&str])] = &[
    ("npm credentials", &["_authToken", "_auth", "_password"]),
    ("PyPI credentials", &["password", "token"]),
    ("netrc credentials", &["password"]),
];

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
        // The names dw's sandbox hides: the built-in patterns and the user's configuration.
        let (rules, config_problem) = match Config::load() {
            Ok(config) => (config.mask_rules(), None),
            Err(error) => (MaskRules::default(), Some(error.to_string())),
        };
        let found = tokio::task::spawn_blocking(move || scan(&workspace, &rules))
            .await
            .map_err(|error| CheckError::Http(format!("the workspace scan stopped: {error}")))??;
        let workspace = &context.settings.workspace;
        let outcome = judge(workspace, &found);
        Ok(match config_problem {
            Some(problem) => outcome.evidence(format!(
                "only the built-in patterns were used: {problem} (`dw run` refuses to start until it is fixed)"
            )),
            None => outcome,
        })
    })
}

fn judge(workspace: &Path, found: &Scan) -> Outcome {
    if found.files.is_empty() {
        return if found.truncated {
            Outcome::warn(format!(
                "no credential-looking files in the first {MAX_ENTRIES} entries of {}",
                workspace.display()
            ))
        } else {
            Outcome::pass(format!(
                "no credential-looking files in {}",
                workspace.display()
            ))
        };
    }
    let count = found.files.len();
    Outcome::warn(format!(
        "{count} credential-looking file{} in the workspace",
        if count == 1 { "" } else { "s" }
    ))
    .evidence_lines(
        found
            .files
            .iter()
            .map(|(path, what)| format!("{} ({what})", path.display())),
    )
    .evidence("dw's sandbox masks these files; the plain Duo Workflow container mounts them as they are, ignored by git or not")
    .fix("move credentials out of the project (a secrets manager, or files outside the workspace), or run workflows with dw's sandbox")
}

struct Scan {
    files: Vec<(PathBuf, &'static str)>,
    truncated: bool,
}

fn scan(workspace: &Path, rules: &MaskRules) -> Result<Scan, CheckError> {
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
                if let Some(what) = rules.kind(&name) {
                    // A credential directory (`.ssh`, `.aws`) is reported, and masked, as a whole.
                    let mut shown = path.strip_prefix(workspace).unwrap_or(&path).to_owned();
                    shown.push("");
                    files.push((shown, what));
                } else if !SKIPPED_DIRS.contains(&name.as_str()) {
                    pending.push(path);
                }
                continue;
            }
            if let Some(what) = classify(rules, &name, &path) {
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

fn classify(rules: &MaskRules, name: &str, path: &Path) -> Option<&'static str> {
    let what = rules.kind(name)?;
    let Some((_, needles)) = CONTENT_HINTS.iter().find(|(kind, _)| *kind == what) else {
        return Some(what);
    };
    let text = std::fs::read_to_string(path).ok()?;
    needles
        .iter()
        .any(|needle| text.contains(needle))
        .then_some(what)
}

/// `secrets-in-goals` (risk 10): what dw does about secrets in what the user types.
pub fn secrets_in_goals(_context: &Context) -> BoxFuture<'_, CheckResult> {
    Box::pin(std::future::ready(Ok(Outcome::pass(
        "dw run refuses goals, adjustments and answers that contain a secret, and redacts secrets from tool output before the model sees it",
    )
    .evidence("recognised: GitLab tokens (glpat- and the other documented prefixes), Anthropic, OpenAI and AWS keys, private key blocks, Authorization headers, and the values in the project's .env-like files")
    .evidence("dw keeps the model provider's key and the GitLab token on the host: never in the sandbox, the logs or the model's context")
    .evidence("a secret of another shape is not recognised: never paste credentials into a goal; refer to them by name"))))
}
