//! dw's configuration file: what a user may change about the sandbox (the agent's sandbox and
//! doctor's `project-secrets` check read the same mask rules).
//!
//! The file is `$DW_CONFIG` when set, else `config.toml` in dw's configuration directory
//! (`$XDG_CONFIG_HOME/dw/`, by default `~/.config/dw/`, on Linux; the platform's equivalent
//! elsewhere). It is optional; every setting has a documented default. Unknown keys are errors,
//! so a misspelt setting never silently does nothing:
//!
//! ```toml
//! [sandbox]
//! pids = 512          # processes and threads at most
//! memory_mib = 2048   # memory, MiB (no swap on top)
//! cpus = 2.0          # CPU time per wall-clock time
//! tmp_mib = 1024      # size of /tmp (counts against memory)
//! home_mib = 256      # size of the home directory (counts against memory)
//! mask = ["*.secret", "vault-token"]   # more names to hide (globs on the file or directory name)
//! unmask = [".npmrc"]                  # names never hidden, even when a built-in pattern matches
//!
//! [gitlab]            # for `dw run --duo`; GITLAB_URL and GITLAB_TOKEN take precedence
//! url = "https://gitlab.example.com"
//! token = "glpat-…"   # read only from a file no one else can read (chmod 600)
//! ```

use std::path::{Path, PathBuf};

use crate::sandbox::{Limits, secret_kind};
use globset::{GlobSet, GlobSetBuilder};
use serde::Deserialize;

/// Replaces the configuration file's path.
pub const CONFIG_ENV: &str = "DW_CONFIG";

/// What a configured mask pattern is called in masks and reports.
pub const CONFIGURED: &str = "configured pattern";

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read dw's configuration {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("dw's configuration {} is not valid: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line and column.
        message: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The sandbox.
    #[serde(default)]
    pub sandbox: SandboxConfig,
    /// The GitLab instance and token.
    #[serde(default)]
    pub gitlab: GitLabConfig,
    /// Where it was read from (`None`: no file, the defaults).
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// `[sandbox]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    /// Processes and threads at most.
    pub pids: Option<u32>,
    /// Memory in MiB.
    pub memory_mib: Option<u32>,
    /// CPUs (fractions allowed).
    pub cpus: Option<f64>,
    /// Size of `/tmp` in MiB.
    pub tmp_mib: Option<u32>,
    /// Size of the home directory in MiB.
    pub home_mib: Option<u32>,
    /// More names to mask: globs on the file or directory name.
    #[serde(default)]
    pub mask: Vec<String>,
    /// Names never masked: globs on the file or directory name.
    #[serde(default)]
    pub unmask: Vec<String>,
}

/// `[gitlab]`: the instance and token `dw run --duo` uses when the environment names none.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitLabConfig {
    /// The instance, e.g. `https://gitlab.com`.
    pub url: Option<String>,
    /// A personal access token.
    pub token: Option<String>,
}

impl std::fmt::Debug for GitLabConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("GitLabConfig")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Config {
    /// Where the configuration file is (whether or not it exists).
    pub fn default_path() -> Option<PathBuf> {
        if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|path| !path.is_empty()) {
            return Some(PathBuf::from(path));
        }
        directories::ProjectDirs::from("dev", "dw", "dw")
            .map(|dirs| dirs.config_dir().join("config.toml"))
    }

    /// The configuration at its default place; the defaults when there is no file.
    pub fn load() -> Result<Config, ConfigError> {
        match Config::default_path() {
            Some(path) => Config::load_from(&path),
            None => Ok(Config::default()),
        }
    }

    /// The configuration in `path`; the defaults when it does not exist.
    pub fn load_from(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config::default());
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let mut config: Config = toml::from_str(&text).map_err(|error| ConfigError::Invalid {
            path: path.to_owned(),
            message: error.to_string().trim().to_owned(),
        })?;
        config.path = Some(path.to_owned());
        // Check the values now, so that a bad one is reported before anything starts.
        config.sandbox.limits(path)?;
        config.sandbox.mask_rules(path)?;
        Ok(config)
    }

    /// The sandbox limits: the defaults, with what the file sets.
    pub fn limits(&self) -> Limits {
        self.sandbox
            .limits(self.path.as_deref().unwrap_or(Path::new("")))
            .unwrap_or_default()
    }

    /// The mask rules: the built-in patterns, with the file's additions and exceptions.
    pub fn mask_rules(&self) -> MaskRules {
        self.sandbox
            .mask_rules(self.path.as_deref().unwrap_or(Path::new("")))
            .unwrap_or_default()
    }
}

impl SandboxConfig {
    fn limits(&self, path: &Path) -> Result<Limits, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let mib = |value: u32| i64::from(value) << 20;
        let mut limits = Limits::default();
        if let Some(pids) = self.pids {
            if pids < 16 {
                return Err(invalid(format!(
                    "sandbox.pids = {pids} is too few for the executor and a command; use 16 or more"
                )));
            }
            limits.pids = i64::from(pids);
        }
        if let Some(memory) = self.memory_mib {
            if memory < 64 {
                return Err(invalid(format!(
                    "sandbox.memory_mib = {memory} is too little to run anything; use 64 or more"
                )));
            }
            limits.memory_bytes = mib(memory);
        }
        if let Some(cpus) = self.cpus {
            if !(cpus.is_finite() && cpus >= 0.01) {
                return Err(invalid(format!(
                    "sandbox.cpus = {cpus} is not a CPU count; use a number such as 1 or 2.5"
                )));
            }
            // Whole thousandths: what the CFS quota is computed from.
            #[allow(clippy::cast_possible_truncation, reason = "checked finite and small")]
            let millicpus = (cpus * 1000.0).round() as i64;
            limits.millicpus = millicpus;
        }
        if let Some(tmp) = self.tmp_mib {
            limits.tmp_bytes = mib(tmp);
        }
        if let Some(home) = self.home_mib {
            limits.home_bytes = mib(home);
        }
        Ok(limits)
    }

    fn mask_rules(&self, path: &Path) -> Result<MaskRules, ConfigError> {
        let set = |patterns: &[String], key: &str| -> Result<GlobSet, ConfigError> {
            let mut builder = GlobSetBuilder::new();
            for pattern in patterns {
                let glob = globset::GlobBuilder::new(pattern)
                    .case_insensitive(true)
                    .literal_separator(true)
                    .build()
                    .map_err(|error| ConfigError::Invalid {
                        path: path.to_owned(),
                        message: format!("sandbox.{key}: {error}"),
                    })?;
                builder.add(glob);
            }
            builder.build().map_err(|error| ConfigError::Invalid {
                path: path.to_owned(),
                message: format!("sandbox.{key}: {error}"),
            })
        };
        Ok(MaskRules {
            extra: set(&self.mask, "mask")?,
            unmask: set(&self.unmask, "unmask")?,
        })
    }
}

/// Which file and directory names the sandbox hides: the built-in credential patterns
/// ([`crate::sandbox::SECRET_FILE_PATTERNS`]), plus configured ones, minus configured
/// exceptions.
#[derive(Debug, Clone)]
pub struct MaskRules {
    extra: GlobSet,
    unmask: GlobSet,
}

impl Default for MaskRules {
    fn default() -> Self {
        MaskRules {
            extra: GlobSet::empty(),
            unmask: GlobSet::empty(),
        }
    }
}

impl MaskRules {
    /// What `name` looks like a credential of, if it is to be hidden.
    pub fn kind(&self, name: &str) -> Option<&'static str> {
        if self.unmask.is_match(name) {
            return None;
        }
        secret_kind(name).or_else(|| self.extra.is_match(name).then_some(CONFIGURED))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn config(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        Config::load_from(&path)
    }

    #[test]
    fn no_file_means_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load_from(&dir.path().join("missing.toml")).unwrap();
        assert_eq!(config.limits(), Limits::default());
        assert_eq!(config.mask_rules().kind(".env"), Some("environment file"));
    }

    #[test]
    fn limits_and_patterns_are_applied() {
        let config = config(
            "[sandbox]\npids = 64\nmemory_mib = 512\ncpus = 1.5\nmask = [\"*.secret\", \"Vault-Token\"]\nunmask = [\".npmrc\"]\n",
        )
        .unwrap();
        let limits = config.limits();
        assert_eq!(limits.pids, 64);
        assert_eq!(limits.memory_bytes, 512 << 20);
        assert_eq!(limits.millicpus, 1500);
        let rules = config.mask_rules();
        assert_eq!(rules.kind("db.secret"), Some(CONFIGURED));
        assert_eq!(rules.kind("vault-token"), Some(CONFIGURED));
        assert_eq!(rules.kind(".npmrc"), None);
        assert_eq!(rules.kind(".env"), Some("environment file"));
        assert_eq!(rules.kind("main.rs"), None);
    }

    #[test]
    fn the_gitlab_token_never_prints() {
        let config =
            config("[gitlab]\nurl = \"https://gitlab.example.com\"\ntoken = \"glpat-s3cret\"\n")
                .unwrap();
        assert_eq!(config.gitlab.token.as_deref(), Some("glpat-s3cret"));
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn mistakes_are_errors_that_name_the_setting() {
        let error = config("[sandbox]\npid = 64\n").unwrap_err().to_string();
        assert!(error.contains("unknown field `pid`"), "{error}");
        let error = config("[sandbox]\npids = 2\n").unwrap_err().to_string();
        assert!(error.contains("sandbox.pids = 2"), "{error}");
        let error = config("[sandbox]\nmask = [\"[\"]\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("sandbox.mask"), "{error}");
    }
}
