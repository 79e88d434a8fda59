//! Which VS Code settings files get `gitlab.duoWorkflow.dockerSocket`, the edit of each, and its
//! unified diff.

use std::path::{Path, PathBuf};

use dw_runtime::host::Os;
use dw_runtime::jsonc::{self, FileEdit, SettingsFileError};
use dw_runtime::vscode::{self, DOCKER_SOCKET_SETTING, FLAVOURS, UserDirs};

/// One settings file and the edit planned for it.
#[derive(Debug)]
pub struct SettingsTarget {
    /// Whose file it is: a flavour's or a server's name, or `--settings-file`.
    pub owner: String,
    /// The file.
    pub path: PathBuf,
    /// The edit, or why the file cannot be edited (it is then left untouched).
    pub edit: Result<FileEdit, SettingsFileError>,
}

impl SettingsTarget {
    /// The unified diff of the edit (empty when nothing changes or the edit is impossible).
    pub fn diff(&self) -> String {
        match &self.edit {
            Ok(edit) if edit.changed => unified_diff(edit),
            _ => String::new(),
        }
    }
}

/// The files to edit: `explicit` (`--settings-file`) when given, else every existing flavour's
/// user settings and VS Code Server machine settings, else Code's (to be created). The flag says
/// whether it is that last case.
pub fn targets(dirs: &UserDirs, os: Os, explicit: &[PathBuf]) -> (Vec<(String, PathBuf)>, bool) {
    if !explicit.is_empty() {
        let files = explicit
            .iter()
            .map(|path| ("--settings-file".to_owned(), path.clone()))
            .collect();
        return (files, false);
    }
    let existing: Vec<(String, PathBuf)> = vscode::existing_settings_files(dirs, os)
        .into_iter()
        .map(|file| (file.owner.to_owned(), file.path))
        .collect();
    if !existing.is_empty() {
        return (existing, false);
    }
    let code = FLAVOURS
        .iter()
        .take(1)
        .map(|flavour| (flavour.name.to_owned(), flavour.user_settings(dirs, os)))
        .collect();
    (code, true)
}

/// Plans setting [`DOCKER_SOCKET_SETTING`] to `socket` in each file (reads, writes nothing).
pub fn plan(files: Vec<(String, PathBuf)>, socket: &Path) -> Vec<SettingsTarget> {
    let value = serde_json::Value::String(socket.display().to_string());
    files
        .into_iter()
        .map(|(owner, path)| {
            let edit = jsonc::plan_in_file(&path, DOCKER_SOCKET_SETTING, &value);
            SettingsTarget { owner, path, edit }
        })
        .collect()
}

/// The unified diff of an edit, `--- /dev/null` for a file it creates.
pub fn unified_diff(edit: &FileEdit) -> String {
    let path = edit.path.display().to_string();
    let before = edit.before.as_deref().unwrap_or("");
    let old_name = if edit.before.is_some() {
        path.as_str()
    } else {
        "/dev/null"
    };
    similar::TextDiff::from_lines(before, edit.after.as_str())
        .unified_diff()
        .context_radius(3)
        .header(old_name, &path)
        .to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn existing_files_are_edited_and_a_bare_home_gets_codes() {
        let home = tempfile::tempdir().unwrap();
        let dirs = UserDirs {
            home: home.path().to_owned(),
            xdg_config_home: None,
            app_data: None,
        };
        let (files, create) = targets(&dirs, Os::Linux, &[]);
        assert!(create);
        assert_eq!(files.len(), 1);
        assert!(files[0].1.ends_with(".config/Code/User/settings.json"));

        let cursor = home.path().join(".config/Cursor/User/settings.json");
        std::fs::create_dir_all(cursor.parent().unwrap()).unwrap();
        std::fs::write(&cursor, "{\n    // mine\n    \"a\": 1\n}\n").unwrap();
        let (files, create) = targets(&dirs, Os::Linux, &[]);
        assert!(!create);
        assert_eq!(files, vec![("Cursor".to_owned(), cursor.clone())]);

        let planned = plan(files, Path::new("/s/docker.sock"));
        let diff = planned[0].diff();
        assert!(diff.starts_with(&format!(
            "--- {}\n+++ {}\n",
            cursor.display(),
            cursor.display()
        )));
        assert!(diff.contains("-    \"a\": 1\n+    \"a\": 1,\n+    \"gitlab.duoWorkflow.dockerSocket\": \"/s/docker.sock\"\n"), "{diff}");
        assert_eq!(
            std::fs::read_to_string(&cursor).unwrap(),
            "{\n    // mine\n    \"a\": 1\n}\n"
        );
    }
}
