//! Requests: what the host asks the executor to do.
//!
//! A request is one JSON object: `{"id": <u64>, "op": "<op>", ...params}`. The `id` is chosen by
//! the host and echoed in every event and in the response that belong to the request; the
//! executor serves requests concurrently, so responses may arrive in any order.
//!
//! Paths are relative to the executor's workspace root, or absolute inside it. Parameters marked
//! optional may be omitted; unknown parameters are refused as `invalid_request`, so a misspelt
//! option never silently does the default thing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::result;

/// One request: the host's `id` for it and the operation with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Echoed in the response and in every event of this request.
    pub id: u64,
    /// What to do.
    #[serde(flatten)]
    pub op: Op,
}

/// Every operation the executor knows, tagged by `op` in snake_case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Who is there: version, root and pid of the executor.
    Hello(Hello),
    /// Read a UTF-8 text file, or a byte range of it.
    ReadFile(ReadFile),
    /// Replace or create a file, atomically.
    WriteFile(WriteFile),
    /// Replace an exact piece of text in a file.
    EditFile(EditFile),
    /// List one directory.
    ListDir(ListDir),
    /// Find files by glob, honouring `.gitignore`.
    FindFiles(FindFiles),
    /// Search file contents by regex, honouring `.gitignore`.
    Grep(Grep),
    /// Create a directory and its missing parents.
    Mkdir(Mkdir),
    /// Run a program; its output is streamed as events.
    RunCommand(RunCommand),
    /// Run `git` in the workspace root; its output is streamed as events.
    Git(Git),
    /// Stop a running request.
    Cancel(Cancel),
    /// Answer, then exit the executor with status 0.
    Shutdown(Shutdown),
}

/// The parameters of one op, and the type of the `result` a successful response carries.
///
/// Lets the host write `send(ReadFile { .. })` and get back a
/// [`ReadFileResult`](result::ReadFileResult) without matching on op names.
pub trait Operation: Into<Op> {
    /// What `result` decodes into when the response has `"ok": true`.
    type Output: Serialize + serde::de::DeserializeOwned;
}

/// `hello`: no parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {}

/// `read_file`: read `path` as UTF-8 text.
///
/// Reads at most `limit` bytes (default and maximum are the executor's, 1 MiB and 16 MiB)
/// starting at byte `offset` (default 0). A file that is not valid UTF-8 is refused as `binary`;
/// a range that cuts a character in two is narrowed to whole characters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadFile {
    /// The file to read.
    pub path: String,
    /// First byte to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// How many bytes to read at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// `write_file`: make `path` contain exactly `content`.
///
/// Written atomically (a temporary file in the same directory, then a rename), so a reader sees
/// the old or the new content, never a mix. An existing file keeps its permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteFile {
    /// The file to write.
    pub path: String,
    /// The complete new content.
    pub content: String,
    /// Create missing parent directories (default true).
    #[serde(default = "yes")]
    pub create_dirs: bool,
}

/// `edit_file`: replace `old` by `new` in `path`.
///
/// `old` must occur exactly once (`no_match` if absent, `ambiguous` if more often), unless
/// `replace_all` is set, in which case every occurrence is replaced. Written atomically.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditFile {
    /// The file to edit.
    pub path: String,
    /// The exact text to find; must not be empty.
    pub old: String,
    /// Its replacement.
    pub new: String,
    /// Replace every occurrence instead of requiring exactly one.
    #[serde(default)]
    pub replace_all: bool,
}

/// `list_dir`: the entries of one directory, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListDir {
    /// The directory to list (default `.`, the root).
    #[serde(default = "current_dir")]
    pub path: String,
}

/// `find_files`: paths matching a glob, relative to the root, sorted.
///
/// A `pattern` without `/` matches file names at any depth (`*.rs`); one with `/` matches the
/// path relative to `path` (`src/**/*.rs`). Files ignored by `.gitignore` or `.ignore`, and the
/// `.git` directory, are skipped; symbolic links are listed but never followed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindFiles {
    /// A glob: `*`, `?`, `[…]`, `{a,b}`, and `**` across directories.
    pub pattern: String,
    /// Where to search (default: the root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// `grep`: lines matching a regex (Rust `regex` syntax), in files under `path`.
///
/// Walks like [`FindFiles`]; binary files are skipped. At most `max_matches` matches are
/// returned (default 1000).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grep {
    /// The regex to look for, line by line.
    pub pattern: String,
    /// A directory to search, or one file (default: the root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Match regardless of case.
    #[serde(default)]
    pub case_insensitive: bool,
    /// Stop after this many matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_matches: Option<u64>,
}

/// `mkdir`: create `path` and any missing parents; an existing directory is fine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mkdir {
    /// The directory to create.
    pub path: String,
}

/// `run_command`: run `program` with `args` (no shell unless the program is one).
///
/// The program runs in its own process group, which is killed as a whole on cancel, on timeout
/// and when the executor's stdin closes. Its stdout and stderr are streamed as events and
/// collected into `output`, both capped at `output_limit` bytes (default 1 MiB); output beyond
/// the cap is read and dropped, so the program never blocks on a full pipe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunCommand {
    /// The program, looked up on `PATH` unless it contains a `/`.
    pub program: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Working directory inside the workspace (default: the root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Variables added to (or overriding) the executor's environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Written to the program's stdin, which is then closed; without it stdin is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    /// Kill the process group after this many milliseconds (default: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Cap of `output` and of the streamed events together, in bytes (default 1 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_limit: Option<u64>,
}

/// `git`: exactly [`RunCommand`] with program `git`, in the root, without stdin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Git {
    /// The arguments after `git`.
    pub args: Vec<String>,
    /// Kill the process group after this many milliseconds (default: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// `cancel`: stop the running request `target`.
///
/// `run_command`, `git`, `find_files` and `grep` can be cancelled; the target then ends with the
/// error `cancelled` (for commands, after its process group was killed). Anything else is
/// `{"cancelled": false}`: the target is finished, unknown, or too short-lived to stop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cancel {
    /// The id of the request to stop.
    pub target: u64,
}

/// `shutdown`: answer `{}`, kill running commands' process groups and exit with status 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shutdown {}

/// Why a line could not be read as a [`Request`]; answered with `invalid_request`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Malformed {
    /// The line's `id`, when it had a usable one: the answer then carries it.
    pub id: Option<u64>,
    /// What was wrong, in serde's words.
    pub message: String,
}

impl Request {
    /// A request with the given id.
    pub fn new(id: u64, op: impl Into<Op>) -> Self {
        Self { id, op: op.into() }
    }

    /// Parses one line (without its line break).
    ///
    /// On failure, recovers the `id` if the line is a JSON object with an unsigned integer
    /// `id`, so that the error can be answered to the right request. Never panics, whatever
    /// the input.
    pub fn from_line(line: &str) -> Result<Self, Malformed> {
        serde_json::from_str(line).map_err(|error| Malformed {
            id: salvage_id(line),
            message: format!("not a valid request: {error}"),
        })
    }

    /// The request as one line of JSON, without the line break.
    pub fn to_line(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }
}

/// The `id` of a line that is a JSON object but not a valid request.
fn salvage_id(line: &str) -> Option<u64> {
    #[derive(Deserialize)]
    struct OnlyId {
        id: u64,
    }
    // A struct also reads from a JSON array (`[7]`), whose first element is no one's id.
    if !line.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str::<OnlyId>(line)
        .ok()
        .map(|only| only.id)
}

fn yes() -> bool {
    true
}

fn current_dir() -> String {
    ".".to_owned()
}

impl Default for WriteFile {
    fn default() -> Self {
        Self {
            path: String::new(),
            content: String::new(),
            create_dirs: true,
        }
    }
}

impl Default for ListDir {
    fn default() -> Self {
        Self {
            path: current_dir(),
        }
    }
}

/// Wires each parameter struct to its [`Op`] variant, its wire name and its result type.
macro_rules! operations {
    ($($params:ident $name:literal => $output:ty),* $(,)?) => {
        $(
            impl From<$params> for Op {
                fn from(params: $params) -> Self {
                    Op::$params(params)
                }
            }

            impl Operation for $params {
                type Output = $output;
            }
        )*

        impl Op {
            /// The op's name on the wire (`"read_file"`), e.g. for logs and audit records.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Op::$params(_) => $name,)*
                }
            }
        }
    };
}

operations! {
    Hello "hello" => result::HelloResult,
    ReadFile "read_file" => result::ReadFileResult,
    WriteFile "write_file" => result::WriteFileResult,
    EditFile "edit_file" => result::EditFileResult,
    ListDir "list_dir" => result::ListDirResult,
    FindFiles "find_files" => result::FindFilesResult,
    Grep "grep" => result::GrepResult,
    Mkdir "mkdir" => result::Empty,
    RunCommand "run_command" => result::CommandResult,
    Git "git" => result::CommandResult,
    Cancel "cancel" => result::CancelResult,
    Shutdown "shutdown" => result::Empty,
}
