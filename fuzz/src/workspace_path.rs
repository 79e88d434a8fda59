//! The property of the executor's path confinement, for the `workspace_path` fuzz target and
//! the replay of its corpus in `agent/executor/tests/fuzz_corpus.rs` (which includes this file
//! by path, so it uses nothing but what dw-agent's tests can use).
//!
//! No path the model gives ever resolves outside the workspace root. The check is made on a real
//! tree ([`Fixture`]) whose root holds symbolic links of every kind that leads out (`..`, an
//! absolute link, a link to a link, magic links under `/proc`), next to a directory outside
//! that mirrors the root's names, so that an escape would succeed rather than fail with "not
//! found". Every path [`Workspace`] resolves, and every file and directory opened through it, is
//! then located by the operating system (`canonicalize`, `/proc/self/fd`), not by the code under
//! test, and must lie beneath the root.
//!
//! The input is the raw path, with `{root}`, `{given}`, `{outside}` and `{base}` replaced by the
//! fixture's absolute paths, so that the fuzzer can build absolute paths it cannot guess.

use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};

use dw_agent::Workspace;

/// A workspace root full of symbolic links that lead out, opened as the executor opens it.
pub struct Fixture {
    /// The root with symbolic links resolved: everything resolved must lie beneath it.
    root: PathBuf,
    /// A symbolic link to the root: the path the workspace is opened with.
    given: PathBuf,
    /// A directory beside the root holding the same names as the root.
    outside: PathBuf,
    /// The directory holding all of the above.
    base: PathBuf,
    workspace: Workspace,
}

impl Fixture {
    /// Builds the tree in the empty directory `base` and opens the workspace.
    pub fn create(base: &Path) -> io::Result<Self> {
        let base = fs::canonicalize(base)?;
        let root = base.join("root");
        let outside = base.join("outside");
        let given = base.join("given");
        for top in [&root, &outside] {
            fs::create_dir_all(top.join("dir/nested"))?;
            fs::write(top.join("file"), "file")?;
            fs::write(top.join("dir/file"), "dir/file")?;
        }
        symlink(&root, &given)?;
        let root_display = root.display().to_string();
        let outside_display = outside.display().to_string();
        let links = [
            // Links that stay inside.
            ("inside", "dir"),
            ("inside_file", "dir/file"),
            ("dir/back", ".."),
            ("dir/nested/back", "../.."),
            // An absolute link to inside: refused (it would leave the root to come back).
            ("inside_absolute", &format!("{root_display}/dir")),
            // Links that lead out.
            ("up", ".."),
            ("dir/up", "../.."),
            ("outside", "../outside"),
            ("outside_file", "../outside/file"),
            ("outside_absolute", &outside_display),
            ("slash", "/"),
            ("chain", "outside"),
            ("dir/chain", "../outside_file"),
            ("proc_root", "/proc/self/root"),
            ("proc_cwd", "/proc/self/cwd"),
            ("fd", "/proc/self/fd"),
            // Links that lead nowhere.
            ("loop", "loop"),
            ("dangling", "missing"),
        ];
        for (name, target) in links {
            symlink(target, root.join(name))?;
        }
        let workspace = Workspace::open(&given).map_err(io::Error::other)?;
        Ok(Self {
            root,
            given,
            outside,
            base,
            workspace,
        })
    }

    /// Checks the property for one raw path.
    pub fn check(&self, data: &[u8]) -> Result<(), String> {
        let raw = self.path_of(data);
        let context = |problem: String| format!("{problem}\n--- path\n{raw:?}");
        if self.workspace.canonical_root() != self.root {
            return Err(context("the canonical root is not the root".into()));
        }
        if let Ok(relative) = self.workspace.relative(&raw) {
            self.check_relative(&relative).map_err(context)?;
        }
        if let Ok(resolved) = self.workspace.resolve(&raw) {
            self.check_resolved(&resolved).map_err(context)?;
        }
        if let Ok(directory) = self.workspace.directory(&raw) {
            self.check_directory(&directory).map_err(context)?;
        }
        Ok(())
    }

    fn path_of(&self, data: &[u8]) -> String {
        String::from_utf8_lossy(data)
            .replace("{root}", &self.root.display().to_string())
            .replace("{given}", &self.given.display().to_string())
            .replace("{outside}", &self.outside.display().to_string())
            .replace("{base}", &self.base.display().to_string())
    }

    /// The lexical step gives a relative path that never climbs above its start, and whatever
    /// the confined handle opens with it is beneath the root.
    fn check_relative(&self, relative: &Path) -> Result<(), String> {
        let mut depth = 0_usize;
        for component in relative.components() {
            match component {
                Component::Normal(_) => depth += 1,
                Component::CurDir => {}
                Component::ParentDir if depth > 0 => depth -= 1,
                other => {
                    return Err(format!("relative gave {relative:?}, with {other:?}"));
                }
            }
        }
        if let Ok(file) = self.workspace.open_for_reading(relative) {
            self.check_open(relative, file.as_fd())?;
        }
        if let Ok(directory) = self.workspace.dir().open_dir(relative) {
            self.check_open(relative, directory.as_fd())?;
        }
        Ok(())
    }

    fn check_open(&self, relative: &Path, fd: BorrowedFd) -> Result<(), String> {
        let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
        let opened = fs::read_link(&link).map_err(|error| format!("{link}: {error}"))?;
        if !opened.starts_with(&self.root) {
            return Err(format!(
                "{relative:?} opened {}, outside the root",
                opened.display()
            ));
        }
        Ok(())
    }

    /// A resolved path is relative, has no `..`, and is where the operating system finds it.
    fn check_resolved(&self, resolved: &Path) -> Result<(), String> {
        let lexical = resolved
            .components()
            .all(|component| matches!(component, Component::Normal(_) | Component::CurDir));
        if !lexical {
            return Err(format!("resolve gave {resolved:?}"));
        }
        let absolute = self.root.join(resolved);
        self.check_located(&absolute, "resolve")
    }

    fn check_directory(&self, directory: &Path) -> Result<(), String> {
        self.check_located(directory, "directory")?;
        if !directory.is_dir() {
            return Err(format!("directory gave {directory:?}, not a directory"));
        }
        Ok(())
    }

    /// `absolute` is beneath the root, where the operating system finds it (no symbolic link or
    /// `.` left to resolve).
    fn check_located(&self, absolute: &Path, what: &str) -> Result<(), String> {
        let real = fs::canonicalize(absolute).map_err(|error| {
            format!("{what} gave {absolute:?}, which does not resolve: {error}")
        })?;
        let normal: PathBuf = absolute.components().collect();
        if real != normal {
            return Err(format!(
                "{what} gave {absolute:?}, which is really {real:?}"
            ));
        }
        if !real.starts_with(&self.root) {
            return Err(format!("{what} gave {real:?}, outside the root"));
        }
        Ok(())
    }
}
