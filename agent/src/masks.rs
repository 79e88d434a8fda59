//! The credential-looking files and directories of a project, found before a sandbox starts.
//!
//! The walk sees everything: hidden files, and files that `.gitignore` ignores — an ignored
//! `.env` is exactly the kind of file to hide. It does not descend into `.git` (git's internals
//! are not credentials by name), into a directory that is itself masked, or through symbolic
//! links (a link's target is either outside the project, and so invisible in the sandbox, or
//! inside it, and then found where it is). Which names count is
//! [`dw_runtime::sandbox::SECRET_FILE_PATTERNS`], with the additions and exceptions of dw's
//! configuration ([`MaskRules`]).

use std::path::{Path, PathBuf};

use dw_runtime::sandbox::{Mask, MaskKind};

use crate::config::MaskRules;

/// Why the project could not be searched for credential-looking files.
#[derive(Debug, thiserror::Error)]
#[error("cannot search {} for credential-looking files to hide from the sandbox: {source}; check the directory's permissions", workspace.display())]
pub struct MaskError {
    /// The project directory.
    pub workspace: PathBuf,
    /// What failed.
    #[source]
    pub source: ignore::Error,
}

/// Every credential-looking entry under `workspace` by the built-in patterns, sorted by path.
pub fn find(workspace: &Path) -> Result<Vec<Mask>, MaskError> {
    find_with(workspace, &MaskRules::default())
}

/// Every entry under `workspace` that `rules` hide, sorted by path.
pub fn find_with(workspace: &Path, rules: &MaskRules) -> Result<Vec<Mask>, MaskError> {
    let filter_rules = rules.clone();
    let walker = ignore::WalkBuilder::new(workspace)
        .standard_filters(false)
        .follow_links(false)
        .filter_entry(move |entry| {
            let is_git =
                entry.file_name() == ".git" && entry.file_type().is_some_and(|kind| kind.is_dir());
            // A masked directory is listed, its contents are not: they are hidden as a whole.
            let in_masked = entry.depth() >= 2
                && entry
                    .path()
                    .parent()
                    .and_then(Path::file_name)
                    .is_some_and(|name| filter_rules.kind(&name.to_string_lossy()).is_some());
            !is_git && !in_masked
        })
        .build();
    let mut masks = Vec::new();
    for entry in walker {
        let entry = entry.map_err(|source| MaskError {
            workspace: workspace.to_owned(),
            source,
        })?;
        masks.extend(classify(workspace, &entry, rules));
    }
    masks.sort_by(|left, right| left.path.cmp(&right.path));
    Ok(masks)
}

fn classify(workspace: &Path, entry: &ignore::DirEntry, rules: &MaskRules) -> Option<Mask> {
    let kind = match entry.file_type()? {
        file if file.is_file() => MaskKind::File,
        dir if dir.is_dir() => MaskKind::Directory,
        _ => return None,
    };
    if entry.depth() == 0 {
        return None;
    }
    let what = rules.kind(&entry.file_name().to_string_lossy())?;
    Some(Mask {
        path: entry.path().strip_prefix(workspace).ok()?.to_owned(),
        kind,
        what,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn finds_ignored_and_nested_secrets_but_not_git_internals_or_examples() {
        let workspace = tempfile::tempdir().unwrap();
        let root = workspace.path();
        for (path, content) in [
            (".gitignore", ".env\n"),
            (".env", "TOKEN=1"),
            (".env.example", "TOKEN="),
            ("src/main.rs", ""),
            ("deploy/prod.pem", "key"),
            ("deploy/.ssh/id_rsa", "key"),
            (".git/config", ""),
            (".git/hooks/id_rsa", ""),
        ] {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        std::os::unix::fs::symlink("/etc/hostname", root.join("link.key")).unwrap();
        let found: Vec<(String, MaskKind)> = find(root)
            .unwrap()
            .into_iter()
            .map(|mask| (mask.path.to_string_lossy().into_owned(), mask.kind))
            .collect();
        assert_eq!(
            found,
            vec![
                (".env".to_owned(), MaskKind::File),
                ("deploy/.ssh".to_owned(), MaskKind::Directory),
                ("deploy/prod.pem".to_owned(), MaskKind::File),
            ]
        );
    }
}
