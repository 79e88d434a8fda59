//! The `result` of a successful response, one struct per op.
//!
//! Which struct a response carries follows from the op of its request
//! ([`Operation::Output`](crate::Operation::Output)); the JSON does not repeat the op.

use serde::{Deserialize, Serialize};

/// `hello`: who answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloResult {
    /// The executor's version (its crate version).
    pub version: String,
    /// The workspace root every path is resolved beneath, as the executor was given it.
    pub root: String,
    /// The executor's process id inside the container.
    pub pid: u32,
}

/// `read_file`: the text read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadFileResult {
    /// The text of the requested range.
    pub content: String,
    /// The size of the whole file in bytes.
    pub size: u64,
    /// True when the file goes on after `content` (read again with a larger `offset`).
    pub truncated: bool,
}

/// `write_file`: how much was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteFileResult {
    /// Bytes now in the file.
    pub bytes: u64,
}

/// `edit_file`: how many occurrences were replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditFileResult {
    /// At least 1; exactly 1 unless `replace_all` was set.
    pub replacements: u64,
}

/// `list_dir`: the directory's entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListDirResult {
    /// Sorted by name; `.` and `..` are not included.
    pub entries: Vec<DirEntry>,
}

/// One entry of a listed directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirEntry {
    /// The entry's name (a name that is not UTF-8 is shown with U+FFFD in place of bad bytes).
    pub name: String,
    /// What the entry itself is; a symbolic link is not followed.
    pub kind: EntryKind,
    /// Size in bytes of the entry itself (for a symbolic link, the length of its target).
    pub size: u64,
}

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link, whatever it points to.
    Symlink,
    /// A socket, FIFO or device.
    Other,
}

/// `find_files`: the matching paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindFilesResult {
    /// Relative to the root, `/`-separated, sorted.
    pub paths: Vec<String>,
    /// True when more files matched than the executor returns (10 000).
    pub truncated: bool,
}

/// `grep`: the matching lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrepResult {
    /// In walk order: files sorted by path, lines in file order.
    pub matches: Vec<GrepMatch>,
    /// True when the search stopped at `max_matches`.
    pub truncated: bool,
}

/// One matching line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrepMatch {
    /// The file, relative to the root.
    pub path: String,
    /// 1-based line number.
    pub line: u64,
    /// The line without its line break (invalid UTF-8 shown as U+FFFD, very long lines cut).
    pub text: String,
}

/// `run_command` and `git`: how the program ended and what it printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResult {
    /// The exit status, when the program exited by itself.
    pub exit_code: Option<i32>,
    /// The signal that killed the program, when one did (9 after a timeout).
    pub signal: Option<i32>,
    /// True when the program was killed because `timeout_ms` elapsed.
    pub timed_out: bool,
    /// stdout and stderr interleaved as they arrived, invalid UTF-8 shown as U+FFFD, capped.
    pub output: String,
    /// True when the program printed more than the cap; the rest was dropped.
    pub truncated: bool,
}

/// `cancel`: whether the target will end with `cancelled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelResult {
    /// False when the target was not running or cannot be cancelled.
    pub cancelled: bool,
}

/// `mkdir` and `shutdown`: `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}
