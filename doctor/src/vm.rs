//! The configuration of the VM a runtime runs the engine in, read from the file the runtime
//! keeps it in (Colima's `colima.yaml`, Lima's `lima.yaml`), and the host directories that VM
//! shares.
//!
//! Only what the files say is read here; what the VM really mounts is for a probe to establish.

use std::path::{Path, PathBuf};

use dw_runtime::endpoint::Endpoint;
use dw_runtime::kind::RuntimeKind;
use serde_norway::Value;

/// Which runtime wrote a configuration file, and so how its keys read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `~/.colima/<profile>/colima.yaml`.
    Colima,
    /// `~/.lima/<instance>/lima.yaml` (Lima itself, and Rancher Desktop's Lima VM).
    Lima,
}

/// Where Rancher Desktop keeps its Lima VM's configuration, relative to the home directory
/// (macOS, then Linux).
const RANCHER_DESKTOP_LIMA: &[&str] = &[
    "Library/Application Support/rancher-desktop/lima/0/lima.yaml",
    ".local/share/rancher-desktop/lima/0/lima.yaml",
];

/// A configuration file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum VmConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not YAML.
    #[error("{} is not valid YAML ({source}); fix it, or run `colima start --edit` / `limactl edit` to rewrite it", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_norway::Error,
    },
}

/// A VM configuration file, parsed.
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// Where it was read from.
    pub path: PathBuf,
    /// Which runtime wrote it.
    pub format: Format,
    document: Value,
}

/// One host directory the VM shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// The directory on the host, `~` expanded.
    pub location: PathBuf,
    /// Whether the VM (and so a container that mounts it) may write to it.
    pub writable: bool,
    /// Where the share comes from, when not written in the file ("Colima's default").
    pub implied_by: Option<&'static str>,
}

impl VmConfig {
    /// Parses `text` as read from `path`.
    pub fn parse(path: &Path, format: Format, text: &str) -> Result<Self, VmConfigError> {
        let document = serde_norway::from_str(text).map_err(|source| VmConfigError::Parse {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            path: path.to_owned(),
            format,
            document,
        })
    }

    /// Reads and parses `path`; `None` when it does not exist.
    pub fn read(path: &Path, format: Format) -> Result<Option<Self>, VmConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(path, format, &text).map(Some),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(VmConfigError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// The value at `keys` (`["network", "address"]`), if set.
    pub fn get(&self, keys: &[&str]) -> Option<&Value> {
        keys.iter()
            .try_fold(&self.document, |value, key| value.get(*key))
            .filter(|value| !value.is_null())
    }

    /// The value at `keys` as text (`true`, `vz`, `4`), if it is a scalar.
    pub fn text(&self, keys: &[&str]) -> Option<String> {
        match self.get(keys)? {
            Value::Bool(value) => Some(value.to_string()),
            Value::Number(value) => Some(value.to_string()),
            Value::String(value) => Some(value.clone()),
            _ => None,
        }
    }

    /// The host directories the VM shares. Colima mounts the home directory writable when its
    /// `mounts` list is empty (`environment/vm/lima/yaml.go` in Colima: `if len(conf.Mounts) == 0`
    /// → `Mount{Location: "~", Writable: true}`); Lima mounts exactly what its list says,
    /// read-only unless `writable: true`.
    pub fn shares(&self, home: &Path) -> Vec<Share> {
        let listed: Vec<Share> = self
            .get(&["mounts"])
            .and_then(Value::as_sequence)
            .map(|mounts| {
                mounts
                    .iter()
                    .filter_map(|mount| {
                        let location = mount.get("location")?.as_str()?;
                        Some(Share {
                            location: expand(location, home),
                            writable: mount
                                .get("writable")
                                .and_then(Value::as_bool)
                                .unwrap_or(false),
                            implied_by: None,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        if listed.is_empty() && self.format == Format::Colima {
            return vec![Share {
                location: home.to_owned(),
                writable: true,
                implied_by: Some("Colima's default when `mounts` is empty"),
            }];
        }
        listed
    }
}

/// `~`, `~/x` and `$HOME/x` made absolute.
fn expand(location: &str, home: &Path) -> PathBuf {
    let relative = location
        .strip_prefix("~")
        .or_else(|| location.strip_prefix("$HOME"))
        .or_else(|| location.strip_prefix("${HOME}"));
    match relative {
        Some(rest) => home.join(rest.trim_start_matches('/')),
        None => PathBuf::from(location),
    }
}

/// The configuration files that may describe the VM of a `kind` engine at `endpoint`, most
/// specific first. `colima_home` is `COLIMA_HOME` when set.
pub fn candidates(
    kind: RuntimeKind,
    endpoint: &Endpoint,
    home: &Path,
    colima_home: Option<&Path>,
) -> Vec<(PathBuf, Format)> {
    let socket = match endpoint {
        Endpoint::Unix(socket) => Some(socket.as_path()),
        Endpoint::Tcp(_) => None,
    };
    match kind {
        RuntimeKind::Colima => {
            // The socket lives in the profile's directory: `<colima home>/<profile>/docker.sock`.
            let profile_dir = socket.and_then(Path::parent);
            let profile = profile_dir
                .and_then(Path::file_name)
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|| "default".to_owned());
            let colima_home = colima_home.map_or_else(|| home.join(".colima"), Path::to_owned);
            let mut paths: Vec<PathBuf> = profile_dir
                .map(|dir| dir.join("colima.yaml"))
                .into_iter()
                .collect();
            paths.push(colima_home.join(&profile).join("colima.yaml"));
            paths.push(
                home.join(".config/colima")
                    .join(&profile)
                    .join("colima.yaml"),
            );
            deduplicated(paths, Format::Colima)
        }
        RuntimeKind::Lima => {
            // `~/.lima/<instance>/sock/docker.sock` → `~/.lima/<instance>/lima.yaml`.
            let instance = socket.and_then(Path::parent).and_then(Path::parent);
            deduplicated(
                instance
                    .map(|dir| dir.join("lima.yaml"))
                    .into_iter()
                    .collect(),
                Format::Lima,
            )
        }
        RuntimeKind::RancherDesktop => deduplicated(
            RANCHER_DESKTOP_LIMA
                .iter()
                .map(|path| home.join(path))
                .collect(),
            Format::Lima,
        ),
        _ => Vec::new(),
    }
}

fn deduplicated(paths: Vec<PathBuf>, format: Format) -> Vec<(PathBuf, Format)> {
    let mut unique: Vec<(PathBuf, Format)> = Vec::new();
    for path in paths {
        if !unique.iter().any(|(known, _)| *known == path) {
            unique.push((path, format));
        }
    }
    unique
}

/// The first of `candidates` that exists, parsed.
pub fn first_existing(candidates: &[(PathBuf, Format)]) -> Result<Option<VmConfig>, VmConfigError> {
    for (path, format) in candidates {
        if let Some(config) = VmConfig::read(path, *format)? {
            return Ok(Some(config));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn colima(text: &str) -> VmConfig {
        VmConfig::parse(
            Path::new("/h/.colima/default/colima.yaml"),
            Format::Colima,
            text,
        )
        .unwrap()
    }

    #[test]
    fn colima_shares_the_home_directory_writable_when_mounts_is_empty() {
        let home = Path::new("/Users/dev");
        let shares = colima("cpu: 2\nmounts: []\n").shares(home);
        assert_eq!(shares.len(), 1);
        assert_eq!(shares[0].location, home);
        assert!(shares[0].writable);
        assert!(shares[0].implied_by.is_some());

        let listed = colima(
            "mounts:\n  - location: ~/projects\n    writable: true\n  - location: /opt/data\n",
        )
        .shares(home);
        assert_eq!(
            listed,
            vec![
                Share {
                    location: PathBuf::from("/Users/dev/projects"),
                    writable: true,
                    implied_by: None
                },
                Share {
                    location: PathBuf::from("/opt/data"),
                    writable: false,
                    implied_by: None
                },
            ]
        );
    }

    #[test]
    fn lima_shares_exactly_its_list() {
        let lima = VmConfig::parse(
            Path::new("/h/.lima/docker/lima.yaml"),
            Format::Lima,
            "vmType: vz\nrosetta:\n  enabled: true\nmounts:\n- location: \"~\"\n- location: /tmp/lima\n  writable: true\n",
        )
        .unwrap();
        let shares = lima.shares(Path::new("/home/dev"));
        assert_eq!(shares[0].location, PathBuf::from("/home/dev"));
        assert!(!shares[0].writable);
        assert!(shares[1].writable);
        assert_eq!(lima.text(&["rosetta", "enabled"]).as_deref(), Some("true"));
        assert_eq!(lima.text(&["vmType"]).as_deref(), Some("vz"));
        assert_eq!(lima.text(&["network", "address"]), None);
        let empty = VmConfig::parse(Path::new("lima.yaml"), Format::Lima, "cpus: 2\n").unwrap();
        assert!(empty.shares(Path::new("/home/dev")).is_empty());
    }

    #[test]
    fn broken_yaml_is_an_error_that_names_the_file() {
        let error = VmConfig::parse(Path::new("/h/colima.yaml"), Format::Colima, "mounts: [\n")
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("/h/colima.yaml is not valid YAML")
        );
    }

    #[test]
    fn the_colima_profile_comes_from_the_socket() {
        let found = candidates(
            RuntimeKind::Colima,
            &Endpoint::Unix(PathBuf::from("/h/.colima/work/docker.sock")),
            Path::new("/h"),
            None,
        );
        let paths: Vec<&Path> = found.iter().map(|(path, _)| path.as_path()).collect();
        assert_eq!(
            paths,
            [
                Path::new("/h/.colima/work/colima.yaml"),
                Path::new("/h/.config/colima/work/colima.yaml")
            ]
        );
        let lima = candidates(
            RuntimeKind::Lima,
            &Endpoint::Unix(PathBuf::from("/h/.lima/docker/sock/docker.sock")),
            Path::new("/h"),
            None,
        );
        assert_eq!(lima[0].0, PathBuf::from("/h/.lima/docker/lima.yaml"));
    }
}
