//! A temporary home directory, built like a user's.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// Environment variables that would let the machine's own configuration leak into a test.
pub const ISOLATED_VARIABLES: &[&str] = &[
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "COLIMA_HOME",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "XDG_STATE_HOME",
    "APPDATA",
    "NO_COLOR",
    "CLICOLOR_FORCE",
    "DW_ENGINE_TIMEOUT",
];

/// A home directory in a temp dir, removed on drop.
pub struct TempHome {
    dir: tempfile::TempDir,
}

impl Default for TempHome {
    fn default() -> Self {
        Self::new()
    }
}

impl TempHome {
    /// An empty home. It lives under `/tmp` so that socket paths stay short (108 bytes at most).
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("dw-home-")
            .tempdir_in("/tmp")
            .expect("cannot create a temp home");
        Self { dir }
    }

    /// The home directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the home (not created).
    pub fn join(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Creates a directory (and its parents) inside the home.
    pub fn dir(&self, relative: impl AsRef<Path>) -> PathBuf {
        let path = self.join(relative);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
        path
    }

    /// Writes a file (creating its parents) inside the home.
    pub fn file(&self, relative: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, contents)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
        path
    }

    /// A symlink inside the home pointing at `target` (a runtime's socket link, say).
    pub fn symlink(&self, relative: impl AsRef<Path>, target: impl AsRef<Path>) -> PathBuf {
        let path = self.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::os::unix::fs::symlink(target.as_ref(), &path)
            .unwrap_or_else(|error| panic!("cannot link {}: {error}", path.display()));
        path
    }

    /// Makes `name` the current Docker CLI context, with its engine at `host`, the way
    /// `docker context create` and `docker context use` record it.
    pub fn docker_context(&self, name: &str, host: &str) -> &Self {
        let digest: String = Sha256::digest(name.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let meta = serde_json::json!({
            "Name": name,
            "Metadata": {},
            "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": false}},
        });
        self.file(
            format!(".docker/contexts/meta/{digest}/meta.json"),
            meta.to_string(),
        );
        self.file(
            ".docker/config.json",
            serde_json::json!({"auths": {}, "currentContext": name}).to_string(),
        );
        self
    }

    /// Writes a VS Code flavour's user settings (`Code`, `Cursor` …) where Linux keeps them.
    pub fn vscode_settings(&self, flavour: &str, contents: &str) -> PathBuf {
        self.file(format!(".config/{flavour}/User/settings.json"), contents)
    }

    /// A command whose environment sees this home and none of the machine's engine settings.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        for variable in ISOLATED_VARIABLES {
            command.env_remove(variable);
        }
        command.env("HOME", self.path());
        command
    }
}
