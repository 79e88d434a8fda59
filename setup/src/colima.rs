//! Colima: the VM's limits, its shared folders, and the `colima start` command line.

use std::path::{Path, PathBuf};

use dw_runtime::host::HostFacts;

/// The Colima profile dw sets up.
pub const PROFILE: &str = "default";

/// The VM's disk when `--disk` is not given, in GiB.
pub const DEFAULT_DISK_GIB: u32 = 60;

const GIB: u64 = 1 << 30;

/// The resources the Colima VM gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Virtual CPUs.
    pub cpus: u32,
    /// Memory, GiB.
    pub memory_gib: u32,
    /// Disk, GiB.
    pub disk_gib: u32,
}

impl Limits {
    /// The defaults for this host: half its CPUs (at least 2), a quarter of its memory (at least
    /// 2 GiB, at most 8), [`DEFAULT_DISK_GIB`] of disk.
    pub fn defaults(host: &HostFacts) -> Self {
        let cpus = u32::try_from(host.cpus / 2).unwrap_or(u32::MAX).max(2);
        let memory_gib = u32::try_from((host.memory_bytes / 4 / GIB).clamp(2, 8)).unwrap_or(8);
        Self {
            cpus,
            memory_gib,
            disk_gib: DEFAULT_DISK_GIB,
        }
    }

    /// The defaults with the user's `--cpus`, `--memory` and `--disk` applied.
    pub fn with_overrides(
        self,
        cpus: Option<u32>,
        memory_gib: Option<u32>,
        disk_gib: Option<u32>,
    ) -> Self {
        Self {
            cpus: cpus.unwrap_or(self.cpus),
            memory_gib: memory_gib.unwrap_or(self.memory_gib),
            disk_gib: disk_gib.unwrap_or(self.disk_gib),
        }
    }
}

/// A directory shared with the VM (`--mount DIR` or `--mount DIR:w`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The directory, absolute.
    pub dir: PathBuf,
    /// Whether the VM may write to it.
    pub writable: bool,
}

/// A `--mount` value dw cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountError {
    /// The directory does not exist.
    #[error(
        "--mount {given}: {} is not a directory; give an existing directory to share with the \
         Colima VM (`DIR`, or `DIR:w` to let the VM write to it)",
        dir.display()
    )]
    NotADirectory {
        /// The value as given.
        given: String,
        /// The directory it names, absolute.
        dir: PathBuf,
    },
    /// The current directory is needed for a relative path and cannot be read.
    #[error("--mount {given}: cannot resolve a relative path ({reason}); give an absolute path")]
    Relative {
        /// The value as given.
        given: String,
        /// Why the current directory is unknown.
        reason: String,
    },
}

impl Mount {
    /// Parses `DIR` or `DIR:w`; a relative `DIR` is taken from `current_dir`.
    pub fn parse(given: &str, current_dir: Result<&Path, String>) -> Result<Self, MountError> {
        let (dir, writable) = match given.strip_suffix(":w") {
            Some(dir) => (dir, true),
            None => (given, false),
        };
        let dir = Path::new(dir);
        let dir = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            current_dir
                .map_err(|reason| MountError::Relative {
                    given: given.to_owned(),
                    reason,
                })?
                .join(dir)
        };
        // `.` and `dir/.` name the same directory; Colima should see it once, plainly.
        let dir: PathBuf = dir.components().collect();
        if !dir.is_dir() {
            return Err(MountError::NotADirectory {
                given: given.to_owned(),
                dir,
            });
        }
        Ok(Self { dir, writable })
    }

    /// The value of Colima's `--mount` flag.
    pub fn flag_value(&self) -> String {
        let suffix = if self.writable { ":w" } else { "" };
        format!("{}{suffix}", self.dir.display())
    }
}

/// `colima start --cpu N --memory N --disk N [--mount DIR[:w]]…`.
pub fn start_command(limits: &Limits, mounts: &[Mount]) -> Vec<String> {
    let mut argv: Vec<String> = [
        "colima".to_owned(),
        "start".to_owned(),
        "--cpu".to_owned(),
        limits.cpus.to_string(),
        "--memory".to_owned(),
        limits.memory_gib.to_string(),
        "--disk".to_owned(),
        limits.disk_gib.to_string(),
    ]
    .into();
    for mount in mounts {
        argv.push("--mount".to_owned());
        argv.push(mount.flag_value());
    }
    argv
}

/// The socket of Colima's default profile: `<COLIMA_HOME or ~/.colima>/default/docker.sock`.
pub fn socket_path(home: &Path, colima_home: Option<&Path>) -> PathBuf {
    colima_home
        .map(Path::to_path_buf)
        .unwrap_or_else(|| home.join(".colima"))
        .join(PROFILE)
        .join("docker.sock")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use dw_runtime::host::Os;

    fn host(cpus: u64, memory_gib: u64) -> HostFacts {
        HostFacts {
            os: Os::MacOs,
            os_name: String::new(),
            os_version: String::new(),
            architecture: String::new(),
            kernel_release: String::new(),
            hostname: String::new(),
            cpus,
            memory_bytes: memory_gib * GIB,
        }
    }

    #[test]
    fn defaults_take_half_the_cpus_and_a_bounded_quarter_of_the_memory() {
        let cases = [
            ((1, 4), (2, 2)),
            ((2, 8), (2, 2)),
            ((8, 16), (4, 4)),
            ((10, 24), (5, 6)),
            ((16, 64), (8, 8)),
        ];
        for ((cpus, memory), (want_cpus, want_memory)) in cases {
            let limits = Limits::defaults(&host(cpus, memory));
            assert_eq!(
                (limits.cpus, limits.memory_gib, limits.disk_gib),
                (want_cpus, want_memory, 60),
                "{cpus} CPUs, {memory} GiB"
            );
        }
        let overridden = Limits::defaults(&host(8, 16)).with_overrides(Some(3), None, Some(100));
        assert_eq!(
            (overridden.cpus, overridden.memory_gib, overridden.disk_gib),
            (3, 4, 100)
        );
    }

    #[test]
    fn mounts_become_colima_flags() {
        let dir = tempfile::tempdir().unwrap();
        let writable = Mount::parse(&format!("{}:w", dir.path().display()), Err(String::new()));
        let writable = writable.unwrap();
        assert!(writable.writable);
        let readable = Mount::parse(".", Ok(dir.path())).unwrap();
        assert_eq!(
            (readable.dir.as_path(), readable.writable),
            (dir.path(), false)
        );
        let missing = Mount::parse("nowhere", Ok(dir.path())).unwrap_err();
        assert!(
            missing.to_string().contains("is not a directory"),
            "{missing}"
        );

        let limits = Limits {
            cpus: 2,
            memory_gib: 4,
            disk_gib: 60,
        };
        let argv = start_command(&limits, &[writable, readable]);
        let shown = dir.path().display();
        assert_eq!(
            argv.join(" "),
            format!("colima start --cpu 2 --memory 4 --disk 60 --mount {shown}:w --mount {shown}")
        );
    }
}
