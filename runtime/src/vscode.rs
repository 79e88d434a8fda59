//! VS Code and its flavours: where their user settings, the VS Code Server's machine settings and
//! their extensions live, and which version of an extension is installed.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::host::Os;

/// The setting through which the GitLab Workflow extension finds the engine.
pub const DOCKER_SOCKET_SETTING: &str = "gitlab.duoWorkflow.dockerSocket";

/// The GitLab Workflow extension's identifier.
pub const GITLAB_WORKFLOW_EXTENSION: &str = "gitlab.gitlab-workflow";

/// One VS Code flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flavour {
    /// The product's name, and the name of its directory under the OS's config directory.
    pub name: &'static str,
    /// Its extensions directory, relative to the home directory.
    pub extensions_dir: &'static str,
}

/// The flavours dw knows. Adding one is a row.
pub const FLAVOURS: &[Flavour] = &[
    Flavour {
        name: "Code",
        extensions_dir: ".vscode/extensions",
    },
    Flavour {
        name: "Code - Insiders",
        extensions_dir: ".vscode-insiders/extensions",
    },
    Flavour {
        name: "VSCodium",
        extensions_dir: ".vscode-oss/extensions",
    },
    Flavour {
        name: "Cursor",
        extensions_dir: ".cursor/extensions",
    },
    Flavour {
        name: "Code - OSS",
        extensions_dir: ".vscode-oss/extensions",
    },
];

/// The VS Code Server's machine settings files (remote development), relative to home.
pub const SERVER_MACHINE_SETTINGS: &[(&str, &str)] = &[
    (
        "VS Code Server",
        ".vscode-server/data/Machine/settings.json",
    ),
    (
        "VS Code Server (Insiders)",
        ".vscode-server-insiders/data/Machine/settings.json",
    ),
    ("Cursor Server", ".cursor-server/data/Machine/settings.json"),
];

/// The directories the OS conventions for settings hang off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDirs {
    /// The home directory.
    pub home: PathBuf,
    /// `XDG_CONFIG_HOME` on Linux.
    pub xdg_config_home: Option<PathBuf>,
    /// `APPDATA` on Windows.
    pub app_data: Option<PathBuf>,
}

impl UserDirs {
    /// Reads them from the process environment.
    pub fn from_process(home: PathBuf) -> Self {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        };
        Self {
            home,
            xdg_config_home: var("XDG_CONFIG_HOME"),
            app_data: var("APPDATA"),
        }
    }

    /// The directory that holds each flavour's directory on `os`.
    pub fn config_dir(&self, os: Os) -> PathBuf {
        match os {
            Os::Linux => self
                .xdg_config_home
                .clone()
                .unwrap_or_else(|| self.home.join(".config")),
            Os::MacOs => self.home.join("Library/Application Support"),
            Os::Windows => self
                .app_data
                .clone()
                .unwrap_or_else(|| self.home.join("AppData/Roaming")),
        }
    }
}

/// A settings file VS Code reads, whether it exists or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsFile {
    /// Whose file it is: a flavour's name or a server's.
    pub owner: &'static str,
    /// Where it is.
    pub path: PathBuf,
}

impl Flavour {
    /// This flavour's user `settings.json` on `os`.
    pub fn user_settings(&self, dirs: &UserDirs, os: Os) -> PathBuf {
        dirs.config_dir(os)
            .join(self.name)
            .join("User")
            .join("settings.json")
    }
}

/// Every settings file dw knows on `os`: each flavour's user settings, then the servers' machine
/// settings.
pub fn settings_files(dirs: &UserDirs, os: Os) -> Vec<SettingsFile> {
    FLAVOURS
        .iter()
        .map(|flavour| SettingsFile {
            owner: flavour.name,
            path: flavour.user_settings(dirs, os),
        })
        .chain(
            SERVER_MACHINE_SETTINGS
                .iter()
                .map(|(owner, relative)| SettingsFile {
                    owner,
                    path: dirs.home.join(relative),
                }),
        )
        .collect()
}

/// The settings files that exist.
pub fn existing_settings_files(dirs: &UserDirs, os: Os) -> Vec<SettingsFile> {
    settings_files(dirs, os)
        .into_iter()
        .filter(|file| file.path.exists())
        .collect()
}

/// An installed extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledExtension {
    /// The flavour it is installed in.
    pub flavour: &'static str,
    /// Its version.
    pub version: semver::Version,
    /// Its folder.
    pub path: PathBuf,
}

#[derive(Deserialize)]
struct ExtensionsJsonEntry {
    identifier: ExtensionIdentifier,
    version: String,
    #[serde(rename = "relativeLocation", default)]
    relative_location: Option<String>,
}

#[derive(Deserialize)]
struct ExtensionIdentifier {
    id: String,
}

/// The highest installed version of extension `id` (e.g. `gitlab.gitlab-workflow`) in each
/// flavour that has it.
///
/// A flavour's `extensions.json` is the record VS Code keeps; where it is missing or unreadable,
/// the `<publisher>.<name>-<version>[-<platform>]` folder names are read instead. Two flavours
/// that share an extensions directory (VSCodium and Code - OSS) are reported once.
pub fn installed_extension(home: &Path, id: &str) -> Vec<InstalledExtension> {
    let mut found: Vec<InstalledExtension> = Vec::new();
    for flavour in FLAVOURS {
        let dir = home.join(flavour.extensions_dir);
        if found.iter().any(|earlier| earlier.path.starts_with(&dir)) {
            continue;
        }
        let versions = from_extensions_json(&dir, id).unwrap_or_else(|| from_folders(&dir, id));
        if let Some((version, path)) = versions.into_iter().max_by(|a, b| a.0.cmp(&b.0)) {
            found.push(InstalledExtension {
                flavour: flavour.name,
                version,
                path,
            });
        }
    }
    found
}

fn from_extensions_json(dir: &Path, id: &str) -> Option<Vec<(semver::Version, PathBuf)>> {
    let text = std::fs::read_to_string(dir.join("extensions.json")).ok()?;
    let entries: Vec<ExtensionsJsonEntry> = serde_json::from_str(&text).ok()?;
    Some(
        entries
            .into_iter()
            .filter(|entry| entry.identifier.id.eq_ignore_ascii_case(id))
            .filter_map(|entry| {
                let version = semver::Version::parse(&entry.version).ok()?;
                let folder = entry
                    .relative_location
                    .unwrap_or_else(|| format!("{id}-{}", entry.version));
                Some((version, dir.join(folder)))
            })
            .collect(),
    )
}

fn from_folders(dir: &Path, id: &str) -> Vec<(semver::Version, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let prefix = format!("{}-", id.to_ascii_lowercase());
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let rest = name.to_ascii_lowercase().strip_prefix(&prefix)?.to_owned();
            // `1.2.3` or `1.2.3-darwin-arm64`: the version is the first three dotted numbers.
            let version_text: String = rest.split('-').next()?.to_owned();
            let version = semver::Version::parse(&version_text).ok()?;
            Some((version, entry.path()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn dirs(home: &Path) -> UserDirs {
        UserDirs {
            home: home.to_owned(),
            xdg_config_home: None,
            app_data: None,
        }
    }

    #[test]
    fn settings_paths_follow_each_os_convention() {
        let home = Path::new("/home/u");
        let code = FLAVOURS[0];
        assert_eq!(
            code.user_settings(&dirs(home), Os::Linux),
            Path::new("/home/u/.config/Code/User/settings.json")
        );
        assert_eq!(
            code.user_settings(&dirs(home), Os::MacOs),
            Path::new("/home/u/Library/Application Support/Code/User/settings.json")
        );
        let windows = UserDirs {
            app_data: Some(PathBuf::from("C:/Users/u/AppData/Roaming")),
            ..dirs(home)
        };
        assert_eq!(
            FLAVOURS[2].user_settings(&windows, Os::Windows),
            Path::new("C:/Users/u/AppData/Roaming/VSCodium/User/settings.json")
        );
        let xdg = UserDirs {
            xdg_config_home: Some(PathBuf::from("/xdg")),
            ..dirs(home)
        };
        assert_eq!(
            FLAVOURS[3].user_settings(&xdg, Os::Linux),
            Path::new("/xdg/Cursor/User/settings.json")
        );
        let all = settings_files(&dirs(home), Os::Linux);
        assert_eq!(all.len(), FLAVOURS.len() + SERVER_MACHINE_SETTINGS.len());
        assert!(all.iter().any(
            |file| file.path == Path::new("/home/u/.vscode-server/data/Machine/settings.json")
        ));
    }

    #[test]
    fn extension_versions_come_from_extensions_json_or_folder_names() {
        let home = tempfile::tempdir().unwrap();
        let code = home.path().join(".vscode/extensions");
        std::fs::create_dir_all(code.join("gitlab.gitlab-workflow-5.15.0")).unwrap();
        std::fs::write(
            code.join("extensions.json"),
            r#"[{"identifier":{"id":"gitlab.gitlab-workflow"},"version":"6.2.1",
                 "relativeLocation":"gitlab.gitlab-workflow-6.2.1"},
                {"identifier":{"id":"other.ext"},"version":"9.9.9"}]"#,
        )
        .unwrap();
        let cursor = home.path().join(".cursor/extensions");
        std::fs::create_dir_all(cursor.join("gitlab.gitlab-workflow-5.16.0-darwin-arm64")).unwrap();
        std::fs::create_dir_all(cursor.join("gitlab.gitlab-workflow-5.9.0")).unwrap();
        std::fs::create_dir_all(cursor.join("gitlab.gitlab-workflowx-9.0.0")).unwrap();

        let found = installed_extension(home.path(), GITLAB_WORKFLOW_EXTENSION);
        let summary: Vec<(&str, String)> = found
            .iter()
            .map(|extension| (extension.flavour, extension.version.to_string()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("Code", "6.2.1".to_owned()),
                ("Cursor", "5.16.0".to_owned())
            ]
        );
    }
}
