//! File actions: `read_file`, `write_file`, `edit_file`, `list_dir`, `mkdir`.
//!
//! Each takes the op's parameters and the [`Workspace`], does its work through the confined
//! handle, and returns the op's result or a [`Failure`]. They block, and are run on the blocking
//! pool by the session.

use std::ffi::OsString;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::fs::{Dir, File, Metadata, OpenOptions, OpenOptionsExt, Permissions};
use dw_protocol::request::{EditFile, ListDir, Mkdir, ReadFile, WriteFile};
use dw_protocol::result::{
    DirEntry, EditFileResult, Empty, EntryKind, ListDirResult, ReadFileResult, WriteFileResult,
};
use dw_protocol::{ErrorKind, Failure};

use crate::workspace::Workspace;

/// How much `read_file` returns when the request sets no `limit`.
pub const DEFAULT_READ_LIMIT: u64 = 1 << 20;

/// The largest `limit` `read_file` accepts, and the largest file `edit_file` edits.
pub const MAX_READ_LIMIT: u64 = 16 << 20;

/// `read_file`: the requested byte range of a UTF-8 file.
pub fn read_file(workspace: &Workspace, params: &ReadFile) -> Result<ReadFileResult, Failure> {
    let limit = params.limit.unwrap_or(DEFAULT_READ_LIMIT);
    if limit > MAX_READ_LIMIT {
        return Err(Failure::new(
            ErrorKind::TooLarge,
            format!(
                "limit {limit} is above the maximum of {MAX_READ_LIMIT} bytes; read the file in pieces with offset and limit"
            ),
        ));
    }
    let (mut file, metadata) = open_regular(workspace, &params.path)?;
    let size = metadata.len();
    let offset = params.offset.unwrap_or(0);
    let io_failure = |error| workspace.io_failure(&params.path, error);
    file.seek(SeekFrom::Start(offset)).map_err(io_failure)?;
    let mut bytes = Vec::new();
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(io_failure)?;
    let end = offset.saturating_add(bytes.len() as u64);
    let truncated = end < size;
    let content = decode_range(bytes, offset > 0, truncated).ok_or_else(|| binary(&params.path))?;
    Ok(ReadFileResult {
        content,
        size,
        truncated,
    })
}

/// `write_file`: replaces the file's content atomically.
pub fn write_file(workspace: &Workspace, params: &WriteFile) -> Result<WriteFileResult, Failure> {
    let target = WriteTarget::locate(workspace, &params.path, params.create_dirs)?;
    target
        .replace(params.content.as_bytes())
        .map_err(|error| workspace.io_failure(&params.path, error))?;
    Ok(WriteFileResult {
        bytes: params.content.len() as u64,
    })
}

/// `edit_file`: replaces `old` by `new`, requiring exactly one occurrence unless
/// `replace_all`.
pub fn edit_file(workspace: &Workspace, params: &EditFile) -> Result<EditFileResult, Failure> {
    if params.old.is_empty() {
        return Err(Failure::new(
            ErrorKind::InvalidRequest,
            "`old` is empty; give the exact text to replace, or use write_file",
        ));
    }
    let content = read_whole(workspace, &params.path)?;
    let occurrences = content.matches(params.old.as_str()).count();
    if occurrences == 0 {
        return Err(Failure::new(
            ErrorKind::NoMatch,
            format!(
                "`old` does not occur in `{}`; read the file again and copy the text exactly, whitespace included",
                params.path
            ),
        ));
    }
    if occurrences > 1 && !params.replace_all {
        return Err(Failure::new(
            ErrorKind::Ambiguous,
            format!(
                "`old` occurs {occurrences} times in `{}`; include more of the surrounding text to make it unique, or set replace_all",
                params.path
            ),
        ));
    }
    let edited = content.replace(params.old.as_str(), &params.new);
    WriteTarget::locate(workspace, &params.path, false)?
        .replace(edited.as_bytes())
        .map_err(|error| workspace.io_failure(&params.path, error))?;
    Ok(EditFileResult {
        replacements: occurrences as u64,
    })
}

/// `list_dir`: the directory's entries, sorted by name, links not followed.
pub fn list_dir(workspace: &Workspace, params: &ListDir) -> Result<ListDirResult, Failure> {
    let relative = workspace.relative(&params.path)?;
    let entries = workspace
        .dir()
        .read_dir(&relative)
        .map_err(|error| workspace.io_failure(&params.path, error))?;
    // An entry that vanishes between the listing and its stat is simply not listed.
    let mut entries: Vec<DirEntry> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let file_type = entry.file_type().ok()?;
            let size = entry.metadata().ok()?.len();
            Some(DirEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                kind: entry_kind(file_type),
                size,
            })
        })
        .collect();
    entries.sort_by(|left, right| left.name.cmp(&right.name));
    Ok(ListDirResult { entries })
}

/// `mkdir`: creates the directory and its missing parents; an existing one is fine.
pub fn mkdir(workspace: &Workspace, params: &Mkdir) -> Result<Empty, Failure> {
    let relative = workspace.relative(&params.path)?;
    create_dir_all(workspace, &params.path, &relative)?;
    Ok(Empty {})
}

/// Creates a directory and its missing parents through the confined handle.
///
/// Something in the way is told apart from a symbolic link whose target is refused, and from a
/// directory that appeared meanwhile (which is fine).
fn create_dir_all(workspace: &Workspace, raw: &str, relative: &Path) -> Result<(), Failure> {
    let Err(error) = workspace.dir().create_dir_all(relative) else {
        return Ok(());
    };
    if error.kind() != io::ErrorKind::AlreadyExists {
        return Err(workspace.io_failure(raw, error));
    }
    match workspace.dir().metadata(relative) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(Failure::new(
            ErrorKind::AlreadyExists,
            format!("`{raw}`: a file is where a directory should be"),
        )),
        Err(error) => Err(workspace.io_failure(raw, error)),
    }
}

/// Opens a regular file for reading, refusing directories, FIFOs, sockets and devices.
fn open_regular(workspace: &Workspace, raw: &str) -> Result<(File, Metadata), Failure> {
    let relative = workspace.relative(raw)?;
    let io_failure = |error| workspace.io_failure(raw, error);
    let file = workspace.open_for_reading(&relative).map_err(io_failure)?;
    let metadata = file.metadata().map_err(io_failure)?;
    if metadata.is_dir() {
        return Err(Failure::new(
            ErrorKind::IsADirectory,
            format!("`{raw}` is a directory; use list_dir or find_files"),
        ));
    }
    if !metadata.is_file() {
        return Err(Failure::new(
            ErrorKind::InvalidRequest,
            format!("`{raw}` is not a regular file (a FIFO, socket or device)"),
        ));
    }
    Ok((file, metadata))
}

/// The whole file as text, for editing.
fn read_whole(workspace: &Workspace, raw: &str) -> Result<String, Failure> {
    let (file, metadata) = open_regular(workspace, raw)?;
    if metadata.len() > MAX_READ_LIMIT {
        return Err(Failure::new(
            ErrorKind::TooLarge,
            format!(
                "`{raw}` has {} bytes, more than the {MAX_READ_LIMIT} edit_file handles; use run_command with a tool made for large files",
                metadata.len()
            ),
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_READ_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| workspace.io_failure(raw, error))?;
    String::from_utf8(bytes).map_err(|_| binary(raw))
}

fn binary(raw: &str) -> Failure {
    Failure::new(
        ErrorKind::Binary,
        format!("`{raw}` is not UTF-8 text; inspect it with run_command (e.g. `file` or `xxd`)"),
    )
}

/// Decodes a byte range read from a file as UTF-8.
///
/// A range that starts after the file's beginning may start inside a character, and one that
/// stops before the file's end may stop inside one: those partial characters are dropped.
/// Anything else that is not UTF-8 makes the file binary (`None`).
fn decode_range(mut bytes: Vec<u8>, starts_inside: bool, ends_inside: bool) -> Option<String> {
    if starts_inside {
        let partial = bytes
            .iter()
            .take(3)
            .take_while(|byte| is_continuation(**byte))
            .count();
        bytes.drain(..partial);
    }
    match String::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(error) if ends_inside && error.utf8_error().error_len().is_none() => {
            let valid = error.utf8_error().valid_up_to();
            let mut bytes = error.into_bytes();
            bytes.truncate(valid);
            String::from_utf8(bytes).ok()
        }
        Err(_) => None,
    }
}

fn is_continuation(byte: u8) -> bool {
    byte & 0b1100_0000 == 0b1000_0000
}

fn entry_kind(file_type: cap_std::fs::FileType) -> EntryKind {
    if file_type.is_symlink() {
        EntryKind::Symlink
    } else if file_type.is_dir() {
        EntryKind::Dir
    } else if file_type.is_file() {
        EntryKind::File
    } else {
        EntryKind::Other
    }
}

/// Where an atomic write lands: a confined handle on the parent directory and the file's name
/// in it, so that the temporary file and the rename never resolve a path again.
struct WriteTarget {
    parent: Dir,
    name: OsString,
    /// The replaced file's permissions, kept across the replacement.
    permissions: Option<Permissions>,
}

impl WriteTarget {
    fn locate(workspace: &Workspace, raw: &str, create_dirs: bool) -> Result<Self, Failure> {
        if raw.ends_with('/') {
            return Err(Failure::new(
                ErrorKind::IsADirectory,
                format!("`{raw}` ends with `/`, so it names a directory, not a file"),
            ));
        }
        let relative = follow_final_link(workspace, raw, workspace.relative(raw)?)?;
        let io_failure = |error| workspace.io_failure(raw, error);
        let (parent, name) = split_file_name(&relative).ok_or_else(|| {
            Failure::new(
                ErrorKind::IsADirectory,
                format!("`{raw}` names a directory, not a file"),
            )
        })?;
        if create_dirs {
            create_dir_all(workspace, raw, parent)?;
        }
        let parent = workspace.dir().open_dir(parent).map_err(|error| {
            if error.kind() == io::ErrorKind::NotFound {
                Failure::new(
                    ErrorKind::NotFound,
                    format!("the directory of `{raw}` does not exist; create it with mkdir or set create_dirs"),
                )
            } else {
                io_failure(error)
            }
        })?;
        let permissions = match parent.symlink_metadata(&name) {
            Ok(metadata) if metadata.is_dir() => {
                return Err(Failure::new(
                    ErrorKind::IsADirectory,
                    format!("`{raw}` is a directory"),
                ));
            }
            Ok(metadata) => Some(metadata.permissions()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(io_failure(error)),
        };
        Ok(Self {
            parent,
            name,
            permissions,
        })
    }

    /// Writes `content` to a new temporary file beside the target and renames it over the
    /// target, so that readers see the old or the new content, never a mix.
    fn replace(&self, content: &[u8]) -> io::Result<()> {
        let temporary = temporary_name();
        let mut options = OpenOptions::new();
        options.write(true).create_new(true).mode(0o666);
        let mut file = self.parent.open_with(&temporary, &options)?;
        let written = self.fill(&mut file, content);
        drop(file);
        let renamed =
            written.and_then(|()| self.parent.rename(&temporary, &self.parent, &self.name));
        if renamed.is_err() {
            // The temporary file is ours alone; failing to remove it must not hide the error
            // that matters, the one that stopped the write.
            let _ = self.parent.remove_file(&temporary);
        }
        renamed
    }

    fn fill(&self, file: &mut File, content: &[u8]) -> io::Result<()> {
        file.write_all(content)?;
        if let Some(permissions) = &self.permissions {
            file.set_permissions(permissions.clone())?;
        }
        // Without this, a crash right after the rename can leave an empty file on some file
        // systems: the rename reaches the disk before the data.
        file.sync_all()
    }
}

/// A write through a symbolic link that stays inside writes its target (and keeps the link);
/// one that leads out, or dangles, is refused rather than replaced.
fn follow_final_link(
    workspace: &Workspace,
    raw: &str,
    relative: PathBuf,
) -> Result<PathBuf, Failure> {
    match workspace.dir().symlink_metadata(&relative) {
        Ok(metadata) if metadata.is_symlink() => {
            workspace
                .dir()
                .canonicalize(&relative)
                .map_err(|error| match error.kind() {
                    io::ErrorKind::NotFound => Failure::new(
                        ErrorKind::NotFound,
                        format!(
                            "`{raw}` is a symbolic link to something that does not exist; write to its target or remove it first"
                        ),
                    ),
                    _ => workspace.io_failure(raw, error),
                })
        }
        Ok(_) => Ok(relative),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(relative),
        Err(error) => Err(workspace.io_failure(raw, error)),
    }
}

/// Splits a relative path into its parent (`.` for the root) and its last name; `None` when
/// the path ends in `.`, `..` or is the root.
fn split_file_name(relative: &Path) -> Option<(&Path, OsString)> {
    let name = relative.file_name()?.to_owned();
    let parent = match relative.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Some((parent, name))
}

/// A name no other writer uses: the pid tells executors apart, the counter tells this one's
/// writes apart.
fn temporary_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let sequence = NEXT.fetch_add(1, Ordering::Relaxed);
    format!(".dw-agent-{}-{sequence}.tmp", std::process::id())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::os::unix::fs::PermissionsExt;

    use super::*;

    struct Fixture {
        temp: tempfile::TempDir,
        workspace: Workspace,
    }

    impl Fixture {
        fn new() -> Self {
            let temp = tempfile::tempdir().unwrap();
            let workspace = Workspace::open(temp.path()).unwrap();
            Self { temp, workspace }
        }

        fn file(self, path: &str, content: impl AsRef<[u8]>) -> Self {
            let path = self.temp.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
            self
        }

        fn read(&self, path: &str) -> Vec<u8> {
            std::fs::read(self.temp.path().join(path)).unwrap()
        }

        fn names(&self) -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(self.temp.path())
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
    }

    fn read(path: &str, offset: Option<u64>, limit: Option<u64>) -> ReadFile {
        ReadFile {
            path: path.into(),
            offset,
            limit,
        }
    }

    #[test]
    fn ranges_are_cut_to_whole_characters() {
        // "é" is two bytes: [0xC3, 0xA9].
        let fixture = Fixture::new().file("t.txt", "aéb");
        let result = read_file(&fixture.workspace, &read("t.txt", Some(0), Some(2))).unwrap();
        assert_eq!((result.content.as_str(), result.truncated), ("a", true));
        let result = read_file(&fixture.workspace, &read("t.txt", Some(2), None)).unwrap();
        assert_eq!((result.content.as_str(), result.truncated), ("b", false));
        let result = read_file(&fixture.workspace, &read("t.txt", Some(1), Some(2))).unwrap();
        assert_eq!(result.content, "é");
        let result = read_file(&fixture.workspace, &read("t.txt", Some(9), None)).unwrap();
        assert_eq!((result.content.as_str(), result.size), ("", 4));
    }

    #[test]
    fn invalid_utf8_is_binary_and_large_limits_are_refused() {
        let fixture = Fixture::new().file("b.bin", [b'a', 0xFF, b'b']);
        let failure = read_file(&fixture.workspace, &read("b.bin", None, None)).unwrap_err();
        assert_eq!(failure.kind, ErrorKind::Binary);
        let failure = read_file(
            &fixture.workspace,
            &read("b.bin", None, Some(MAX_READ_LIMIT + 1)),
        )
        .unwrap_err();
        assert_eq!(failure.kind, ErrorKind::TooLarge);
    }

    #[test]
    fn a_write_keeps_the_permissions_and_leaves_no_temporary_file() {
        let fixture = Fixture::new().file("run.sh", "old");
        let path = fixture.temp.path().join("run.sh");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o750)).unwrap();
        let params = WriteFile {
            path: "run.sh".into(),
            content: "new".into(),
            create_dirs: true,
        };
        assert_eq!(write_file(&fixture.workspace, &params).unwrap().bytes, 3);
        assert_eq!(fixture.read("run.sh"), b"new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o750);
        assert_eq!(fixture.names(), ["run.sh"]);
    }

    #[test]
    fn a_write_without_create_dirs_needs_the_directory() {
        let fixture = Fixture::new();
        let params = WriteFile {
            path: "new/file.txt".into(),
            content: "x".into(),
            create_dirs: false,
        };
        let failure = write_file(&fixture.workspace, &params).unwrap_err();
        assert_eq!(failure.kind, ErrorKind::NotFound);
        assert!(fixture.names().is_empty());
    }

    #[test]
    fn a_write_through_an_inside_link_writes_its_target() {
        let fixture = Fixture::new().file("real.txt", "old");
        std::os::unix::fs::symlink("real.txt", fixture.temp.path().join("link.txt")).unwrap();
        let params = WriteFile {
            path: "link.txt".into(),
            content: "new".into(),
            create_dirs: true,
        };
        write_file(&fixture.workspace, &params).unwrap();
        assert_eq!(fixture.read("real.txt"), b"new");
        let link = std::fs::symlink_metadata(fixture.temp.path().join("link.txt")).unwrap();
        assert!(link.is_symlink());
    }

    #[test]
    fn writing_the_root_or_a_directory_is_refused() {
        let fixture = Fixture::new().file("d/x", "");
        for path in [".", "d", "d/..", "new/"] {
            let params = WriteFile {
                path: path.into(),
                content: String::new(),
                create_dirs: true,
            };
            let failure = write_file(&fixture.workspace, &params).unwrap_err();
            assert_eq!(failure.kind, ErrorKind::IsADirectory, "{path}");
        }
    }

    #[test]
    fn edits_need_exactly_one_occurrence_unless_replace_all() {
        let fixture = Fixture::new().file("f.rs", "let a = 1;\nlet b = 1;\n");
        let workspace = &fixture.workspace;
        let edit = |old: &str, new: &str, replace_all| {
            let params = EditFile {
                path: "f.rs".into(),
                old: old.into(),
                new: new.into(),
                replace_all,
            };
            edit_file(workspace, &params)
        };
        let kind = |result: Result<EditFileResult, Failure>| result.unwrap_err().kind;
        assert_eq!(kind(edit("3;", "4;", false)), ErrorKind::NoMatch);
        assert_eq!(kind(edit("1;", "2;", false)), ErrorKind::Ambiguous);
        assert_eq!(kind(edit("", "x", false)), ErrorKind::InvalidRequest);
        assert_eq!(fixture.read("f.rs"), b"let a = 1;\nlet b = 1;\n");
        assert_eq!(edit("a = 1", "a = 2", false).unwrap().replacements, 1);
        assert_eq!(fixture.read("f.rs"), b"let a = 2;\nlet b = 1;\n");
        assert_eq!(edit("let ", "const ", true).unwrap().replacements, 2);
        assert_eq!(fixture.read("f.rs"), b"const a = 2;\nconst b = 1;\n");
    }

    #[test]
    fn mkdir_is_idempotent_and_refuses_files() {
        let fixture = Fixture::new().file("file", "");
        let mkdir_at = |path: &str| mkdir(&fixture.workspace, &Mkdir { path: path.into() });
        mkdir_at("a/b/c").unwrap();
        mkdir_at("a/b/c").unwrap();
        mkdir_at(".").unwrap();
        assert!(fixture.temp.path().join("a/b/c").is_dir());
        assert_eq!(mkdir_at("file").unwrap_err().kind, ErrorKind::AlreadyExists);
    }

    #[test]
    fn decoding_refuses_a_bad_byte_in_the_middle() {
        assert_eq!(decode_range(vec![0xA9, b'x'], true, false).unwrap(), "x");
        assert!(decode_range(vec![0xA9, b'x'], false, false).is_none());
        assert_eq!(decode_range(vec![b'x', 0xC3], false, true).unwrap(), "x");
        assert!(decode_range(vec![b'x', 0xC3], false, false).is_none());
        assert!(decode_range(vec![b'x', 0xFF, b'y'], true, true).is_none());
    }
}
