//! The workspace root, and the confinement of every request path beneath it.
//!
//! Confinement is by construction, not by comparing strings: the root is opened once as a
//! [`cap_std::fs::Dir`], and every file action goes through that handle. cap-std resolves a path
//! beneath the handle with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)` where the kernel
//! has it, and with its own component-by-component resolution where it does not; either way a
//! `..` past the root, an absolute symbolic link, a symbolic link whose target leads out, or a
//! magic link such as `/proc/self/root` fails with an "escape attempt" error before anything
//! outside is opened. Symbolic links that stay inside are followed.
//!
//! Before that, [`Workspace::relative`] turns the request's text into a relative path without
//! touching the file system: absolute paths must lie lexically under the root (and are made
//! relative to it), a `..` that climbs above the root is refused outright, and NUL bytes are
//! refused, so that the clearest error comes first.

use std::io;
use std::path::{Component, Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, File, OpenOptions, OpenOptionsExt};
use dw_protocol::{ErrorKind, Failure};

/// The directory every request path is resolved beneath.
#[derive(Debug)]
pub struct Workspace {
    /// The root as the executor was given it, for messages and `hello`.
    given: PathBuf,
    /// The root with symbolic links resolved, once, at start; where child processes and the
    /// search walker start.
    canonical: PathBuf,
    /// The capability through which every file action goes.
    dir: Dir,
}

/// The workspace root could not be opened.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot open the workspace root `{}`: {source}; pass an existing directory with --root",
    root.display()
)]
pub struct OpenError {
    root: PathBuf,
    source: io::Error,
}

impl Workspace {
    /// Opens `root`, which must be an existing directory.
    pub fn open(root: &Path) -> Result<Self, OpenError> {
        let fail = |source| OpenError {
            root: root.to_owned(),
            source,
        };
        let canonical = std::fs::canonicalize(root).map_err(fail)?;
        let dir = Dir::open_ambient_dir(&canonical, ambient_authority()).map_err(fail)?;
        Ok(Self {
            given: root.to_owned(),
            canonical,
            dir,
        })
    }

    /// The root as given to [`Workspace::open`].
    pub fn root(&self) -> &Path {
        &self.given
    }

    /// The root with symbolic links resolved: the absolute form of every resolved path.
    pub fn canonical_root(&self) -> &Path {
        &self.canonical
    }

    /// The confined handle on the root; every path passed to it must come from
    /// [`Workspace::relative`] or [`Workspace::resolve`].
    pub fn dir(&self) -> &Dir {
        &self.dir
    }

    /// Turns a request path into a path relative to the root, without touching the file system.
    ///
    /// Refuses (`invalid_request`) an empty path or one with a NUL byte, and
    /// (`outside_workspace`) an absolute path not under the root or a `..` that climbs above
    /// it. The result is `.` for the root itself. Symbolic links are not looked at here: that
    /// is the confined [`Dir`]'s job. Never panics, whatever the input.
    pub fn relative(&self, raw: &str) -> Result<PathBuf, Failure> {
        if raw.is_empty() {
            return Err(Failure::new(
                ErrorKind::InvalidRequest,
                "the path is empty; use `.` for the workspace root",
            ));
        }
        if raw.contains('\0') {
            return Err(Failure::new(
                ErrorKind::InvalidRequest,
                format!("the path {raw:?} contains a NUL byte"),
            ));
        }
        let path = Path::new(raw);
        let inside = if path.is_absolute() {
            self.strip_root(path)
                .ok_or_else(|| self.outside(raw, "is not under the workspace root"))?
        } else {
            path
        };
        let mut relative = PathBuf::new();
        let mut depth = 0_usize;
        for component in inside.components() {
            match component {
                Component::Normal(name) => {
                    relative.push(name);
                    depth += 1;
                }
                Component::CurDir => {}
                // `..` stays in the path so that the confined resolution applies it to what is
                // really there (a symbolic link's target, not the link's lexical parent).
                Component::ParentDir if depth > 0 => {
                    relative.push("..");
                    depth -= 1;
                }
                Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                    return Err(self.outside(raw, "climbs above the workspace root"));
                }
            }
        }
        if relative.as_os_str().is_empty() {
            relative.push(".");
        }
        Ok(relative)
    }

    /// Resolves an existing path to its real location relative to the root, following
    /// symbolic links only while they stay inside.
    pub fn resolve(&self, raw: &str) -> Result<PathBuf, Failure> {
        let relative = self.relative(raw)?;
        let resolved = self
            .dir
            .canonicalize(&relative)
            .map_err(|error| self.io_failure(raw, error))?;
        if resolved.as_os_str().is_empty() {
            return Ok(PathBuf::from("."));
        }
        Ok(resolved)
    }

    /// Resolves an existing directory to its absolute path, for a child process's working
    /// directory or a walk.
    pub fn directory(&self, raw: &str) -> Result<PathBuf, Failure> {
        let resolved = self.resolve(raw)?;
        let metadata = self
            .dir
            .metadata(&resolved)
            .map_err(|error| self.io_failure(raw, error))?;
        if !metadata.is_dir() {
            return Err(Failure::new(
                ErrorKind::NotADirectory,
                format!("`{raw}` is not a directory"),
            ));
        }
        Ok(self.canonical.join(resolved))
    }

    /// Opens a path for reading through the confined handle.
    ///
    /// Opens without blocking, so that a FIFO planted in the workspace cannot hang the
    /// executor; callers check the file type before reading.
    pub fn open_for_reading(&self, relative: &Path) -> io::Result<File> {
        let mut options = OpenOptions::new();
        options.read(true).custom_flags(nonblocking_flag());
        self.dir.open_with(relative, &options)
    }

    /// Describes an IO error on request path `raw` as a protocol failure, telling an escape
    /// attempt caught by cap-std apart from a real permission error.
    pub fn io_failure(&self, raw: &str, error: io::Error) -> Failure {
        if is_escape_attempt(&error) {
            return self.outside(raw, "leads outside the workspace through a symbolic link");
        }
        let (kind, message) = match error.kind() {
            io::ErrorKind::NotFound => (ErrorKind::NotFound, format!("`{raw}` does not exist")),
            io::ErrorKind::AlreadyExists => {
                (ErrorKind::AlreadyExists, format!("`{raw}` already exists"))
            }
            io::ErrorKind::NotADirectory => (
                ErrorKind::NotADirectory,
                format!("`{raw}`: a part of the path that must be a directory is not one"),
            ),
            io::ErrorKind::IsADirectory => {
                (ErrorKind::IsADirectory, format!("`{raw}` is a directory"))
            }
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidFilename => (
                ErrorKind::InvalidRequest,
                format!("`{raw}` is not a valid path: {error}"),
            ),
            io::ErrorKind::FileTooLarge => (ErrorKind::TooLarge, format!("`{raw}`: {error}")),
            _ => (ErrorKind::Io, format!("`{raw}`: {error}")),
        };
        Failure::new(kind, message)
    }

    fn strip_root<'a>(&self, path: &'a Path) -> Option<&'a Path> {
        path.strip_prefix(&self.canonical)
            .or_else(|_| path.strip_prefix(&self.given))
            .ok()
    }

    fn outside(&self, raw: &str, why: &str) -> Failure {
        Failure::new(
            ErrorKind::OutsideWorkspace,
            format!(
                "`{raw}` {why}; only paths inside {} can be used, nothing was touched",
                self.given.display()
            ),
        )
    }
}

/// cap-std reports an escape as `PermissionDenied` without an OS error code (whether its own
/// resolution caught it or the kernel's `EXDEV` from `RESOLVE_BENEATH`); a real `EACCES`
/// always carries its code.
fn is_escape_attempt(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::PermissionDenied && error.raw_os_error().is_none()
}

fn nonblocking_flag() -> i32 {
    i32::try_from(rustix::fs::OFlags::NONBLOCK.bits()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn workspace() -> (tempfile::TempDir, Workspace) {
        let temp = tempfile::tempdir().unwrap();
        let workspace = Workspace::open(temp.path()).unwrap();
        (temp, workspace)
    }

    #[test]
    fn relative_paths_are_normalised_without_touching_the_disk() {
        let (_temp, workspace) = workspace();
        let cases = [
            ("a/b", "a/b"),
            ("./a//b/.", "a/b"),
            (".", "."),
            ("a/..", "a/.."),
            ("a/../b", "a/../b"),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                workspace.relative(raw).unwrap(),
                Path::new(expected),
                "{raw}"
            );
        }
    }

    #[test]
    fn absolute_paths_inside_the_root_become_relative() {
        let (temp, workspace) = workspace();
        let root = workspace.canonical_root().to_owned();
        assert_eq!(
            workspace
                .relative(root.join("src/lib.rs").to_str().unwrap())
                .unwrap(),
            Path::new("src/lib.rs")
        );
        assert_eq!(
            workspace.relative(root.to_str().unwrap()).unwrap(),
            Path::new(".")
        );
        assert_eq!(
            workspace
                .relative(temp.path().join("x").to_str().unwrap())
                .unwrap(),
            Path::new("x")
        );
    }

    #[test]
    fn escapes_are_refused_before_the_disk_is_touched() {
        let (_temp, workspace) = workspace();
        let root = workspace.canonical_root().display().to_string();
        let sibling = format!("{root}-sibling/file");
        let through_parent = format!("{root}/../x");
        let cases = [
            "..",
            "../x",
            "a/../../x",
            "/etc/passwd",
            "/proc/self/root/etc/passwd",
            sibling.as_str(),
            through_parent.as_str(),
        ];
        for raw in cases {
            let failure = workspace.relative(raw).unwrap_err();
            assert_eq!(failure.kind, ErrorKind::OutsideWorkspace, "{raw}");
        }
    }

    #[test]
    fn empty_paths_and_nul_bytes_are_invalid() {
        let (_temp, workspace) = workspace();
        for raw in ["", "a\0b", "\0"] {
            assert_eq!(
                workspace.relative(raw).unwrap_err().kind,
                ErrorKind::InvalidRequest
            );
        }
    }

    /// The lexical step never panics and never lets an absolute path or a climb above the
    /// root through, whatever mix of separators, dots, names and the root's own prefix.
    #[test]
    fn arbitrary_paths_are_either_refused_or_relative_and_below_the_root() {
        let (_temp, workspace) = workspace();
        let root = workspace.canonical_root().display().to_string();
        let pieces = [
            "/",
            "..",
            ".",
            "a",
            "é",
            "\0",
            "//",
            root.as_str(),
            "/proc/self/root",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            let mut raw = String::new();
            for _ in 0..(state % 7) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                raw.push_str(pieces[(state % pieces.len() as u64) as usize]);
            }
            state = state.wrapping_add(1);
            let Ok(relative) = workspace.relative(&raw) else {
                continue;
            };
            assert!(relative.is_relative(), "{raw:?} -> {relative:?}");
            let mut depth = 0_i32;
            for component in relative.components() {
                depth += match component {
                    Component::ParentDir => -1,
                    Component::Normal(_) => 1,
                    _ => 0,
                };
                assert!(depth >= 0, "{raw:?} -> {relative:?} climbs out");
            }
        }
    }

    #[test]
    fn a_real_permission_error_is_not_an_escape() {
        let denied = io::Error::from_raw_os_error(13);
        assert!(!is_escape_attempt(&denied));
        let escape = io::Error::new(io::ErrorKind::PermissionDenied, "a path led outside");
        assert!(is_escape_attempt(&escape));
    }

    #[test]
    fn resolve_follows_links_that_stay_inside_and_refuses_the_others() {
        let (temp, workspace) = workspace();
        std::fs::create_dir(temp.path().join("real")).unwrap();
        std::os::unix::fs::symlink("real", temp.path().join("inside")).unwrap();
        std::os::unix::fs::symlink("/", temp.path().join("absolute")).unwrap();
        std::os::unix::fs::symlink("..", temp.path().join("up")).unwrap();
        assert_eq!(workspace.resolve("inside").unwrap(), Path::new("real"));
        assert_eq!(workspace.resolve(".").unwrap(), Path::new("."));
        for raw in ["absolute", "absolute/etc", "up", "up/x", "inside/../.."] {
            assert_eq!(
                workspace.resolve(raw).unwrap_err().kind,
                ErrorKind::OutsideWorkspace,
                "{raw}"
            );
        }
    }
}
