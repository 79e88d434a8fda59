//! Where workflows live on disk, and the two logs each one keeps.
//!
//! Every workflow has a directory `<state dir>/dw/workflows/<id>/` (`$XDG_STATE_HOME`, else
//! `~/.local/state`, on Linux; the platform's local data directory elsewhere; `DW_STATE_DIR`
//! replaces `<state dir>/dw` for tests and unusual set-ups) holding:
//! - `events.jsonl`: the [`Record`]s, the workflow's state ([`EventLog`]);
//! - `audit.jsonl`: every executor action and HTTP request made for it ([`AuditLog`]);
//! - `lock`: held (`flock`) by the one dw process working on it, which writes its identity to
//!   `owner` so that `dw workflows stop` can find it.
//!
//! Appends are single `write` calls on an unbuffered file, so a record is in the kernel before
//! the next step starts and `kill -9` of dw loses nothing already appended; status changes are
//! also synced to the disk. A line torn by a crash mid-write can only be the last one: it is
//! skipped when reading, and cut off before the next append. An append the disk has no room
//! for is taken back whole.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use serde::Serialize;

use crate::record::{Entry, Record, Settings, WorkflowStatus, timestamp};

/// Replaces the state directory (`<dir>/workflows/<id>/`).
pub const STATE_DIR_ENV: &str = "DW_STATE_DIR";

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No home directory to put the state in.
    #[error(
        "cannot find a directory for dw's workflow state: set HOME, XDG_STATE_HOME or {STATE_DIR_ENV}"
    )]
    NoStateDir,
    /// A file or directory could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What dw was doing ("create the workflow directory").
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No workflow has this id.
    #[error("there is no workflow {id}; `dw workflows list` shows the workflows there are")]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// An id that cannot name a workflow directory.
    #[error("{id:?} is not a workflow id; `dw workflows list` shows the workflows there are")]
    InvalidId {
        /// The id asked for.
        id: String,
    },
    /// Another dw process works on the workflow.
    #[error(
        "workflow {id} is in use by another dw process ({owner}); stop it with `dw workflows stop {id}` or wait for it to end"
    )]
    InUse {
        /// The workflow.
        id: String,
        /// Who holds it, as written in its `owner` file.
        owner: String,
    },
    /// `events.jsonl` has a line that is not a record (and is not a torn last line).
    #[error("{} line {line} is not a workflow record ({source}); the file was edited or damaged", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// serde's error.
        #[source]
        source: serde_json::Error,
    },
    /// `events.jsonl` does not start with the workflow's settings.
    #[error("{} does not start with the workflow's settings; the file was edited or damaged", path.display())]
    NoSettings {
        /// The file.
        path: PathBuf,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_owned();
    move |source| StoreError::Io {
        action,
        path,
        source,
    }
}

/// All workflows of this user.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store at its default place (see the module documentation).
    pub fn open_default() -> Result<Store, StoreError> {
        if let Some(dir) = std::env::var_os(STATE_DIR_ENV).filter(|dir| !dir.is_empty()) {
            return Ok(Store::at(PathBuf::from(dir).join("workflows")));
        }
        let dirs =
            directories::ProjectDirs::from("dev", "dw", "dw").ok_or(StoreError::NoStateDir)?;
        let base = dirs
            .state_dir()
            .unwrap_or_else(|| dirs.data_local_dir())
            .to_owned();
        Ok(Store::at(base.join("workflows")))
    }

    /// The store whose workflow directories are under `root`.
    pub fn at(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// The directory holding the workflow directories.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates a workflow with `settings` (whose id must be new), locked by this process, its
    /// settings already appended.
    pub fn create(&self, settings: &Settings) -> Result<(Workflow, Lock, EventLog), StoreError> {
        check_id(&settings.id)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(io("create the workflow state directory", &self.root))?;
        let path = self.root.join(&settings.id);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(io("create the workflow directory", &path))?;
        let workflow = Workflow {
            id: settings.id.clone(),
            path,
        };
        let lock = workflow.lock()?;
        let mut log = workflow.event_log()?;
        log.append(&Record::Created {
            workflow: settings.clone(),
        })?;
        Ok((workflow, lock, log))
    }

    /// The workflow `id`.
    pub fn open(&self, id: &str) -> Result<Workflow, StoreError> {
        check_id(id)?;
        let path = self.root.join(id);
        if !path.join(EVENTS).is_file() {
            return Err(StoreError::NotFound { id: id.to_owned() });
        }
        Ok(Workflow {
            id: id.to_owned(),
            path,
        })
    }

    /// Every workflow, oldest first (ids start with their creation time).
    pub fn list(&self) -> Result<Vec<Workflow>, StoreError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(io("read", &self.root)(error)),
        };
        let mut workflows: Vec<Workflow> = entries
            .filter_map(Result::ok)
            .filter(|entry| entry.path().join(EVENTS).is_file())
            .filter_map(|entry| {
                let id = entry.file_name().into_string().ok()?;
                check_id(&id).ok()?;
                Some(Workflow {
                    id,
                    path: entry.path(),
                })
            })
            .collect();
        workflows.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(workflows)
    }
}

const EVENTS: &str = "events.jsonl";
const AUDIT: &str = "audit.jsonl";
const LOCK: &str = "lock";
const OWNER: &str = "owner";

/// Ids are generated by dw; this keeps a hand-typed one from naming a path outside the store.
fn check_id(id: &str) -> Result<(), StoreError> {
    let valid = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        && id.as_bytes()[0].is_ascii_alphanumeric();
    if valid {
        Ok(())
    } else {
        Err(StoreError::InvalidId { id: id.to_owned() })
    }
}

/// A new workflow id: its creation time (UTC) and four random hex digits,
/// `20261123-120501-3fa9`, so that ids sort by age and are short enough to type.
pub fn new_id() -> String {
    let now = timestamp(std::time::SystemTime::now());
    // `2026-11-23T12:05:01.123Z` → `20261123-120501`
    let digits: String = now.chars().take(19).filter(char::is_ascii_digit).collect();
    let (date, time) = digits.split_at(8.min(digits.len()));
    let random = {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        hasher.finish() & 0xffff
    };
    format!("{date}-{time}-{random:04x}")
}

/// One workflow's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workflow {
    id: String,
    path: PathBuf,
}

/// What `events.jsonl` says about a workflow, read in one pass.
#[derive(Debug, Clone)]
pub struct History {
    /// The settings.
    pub settings: Settings,
    /// Every record after the settings, in order, with its time.
    pub entries: Vec<Entry>,
    /// When it was created.
    pub created: String,
}

impl History {
    /// The last status recorded (`created` when none was).
    pub fn status(&self) -> WorkflowStatus {
        self.entries
            .iter()
            .rev()
            .find_map(|entry| match entry.record {
                Record::Status { status, .. } => Some(status),
                _ => None,
            })
            .unwrap_or(WorkflowStatus::Created)
    }

    /// The time of the last record.
    pub fn updated(&self) -> &str {
        self.entries
            .last()
            .map_or(self.created.as_str(), |entry| entry.ts.as_str())
    }
}

impl Workflow {
    /// The id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `events.jsonl`.
    pub fn events_path(&self) -> PathBuf {
        self.path.join(EVENTS)
    }

    /// `audit.jsonl`.
    pub fn audit_path(&self) -> PathBuf {
        self.path.join(AUDIT)
    }

    /// Takes the workflow for this process, or says who has it.
    pub fn lock(&self) -> Result<Lock, StoreError> {
        let path = self.path.join(LOCK);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io("open", &path))?;
        let flock = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
            if errno == nix::errno::Errno::EWOULDBLOCK {
                StoreError::InUse {
                    id: self.id.clone(),
                    owner: self.owner().unwrap_or_else(|| "unknown".to_owned()),
                }
            } else {
                StoreError::Io {
                    action: "lock",
                    path: path.clone(),
                    source: errno.into(),
                }
            }
        })?;
        let owner_path = self.path.join(OWNER);
        std::fs::write(&owner_path, crate::owner::current()).map_err(io("write", &owner_path))?;
        Ok(Lock { _flock: flock })
    }

    /// Waits until the process that holds the workflow lets it go (or `timeout` passes), then
    /// takes it. `None` when the time ran out.
    pub async fn lock_when_free(&self, timeout: Duration) -> Result<Option<Lock>, StoreError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.lock() {
                Ok(lock) => return Ok(Some(lock)),
                Err(StoreError::InUse { .. }) if tokio::time::Instant::now() < deadline => {
                    // flock has no async wait; a short poll is what waiting costs here.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(StoreError::InUse { .. }) => return Ok(None),
                Err(error) => return Err(error),
            }
        }
    }

    /// Who works on the workflow now: the owner of the held lock, `None` when no process holds
    /// it (its status may still say `running` if the last one was killed).
    pub fn holder(&self) -> Result<Option<String>, StoreError> {
        let path = self.path.join(LOCK);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io("open", &path))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(_free) => Ok(None),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                Ok(Some(self.owner().unwrap_or_else(|| "unknown".to_owned())))
            }
            Err((_, errno)) => Err(StoreError::Io {
                action: "lock",
                path,
                source: errno.into(),
            }),
        }
    }

    /// The owner written by the last process that took the workflow
    /// (`<hostname>:<pid>:<start time>`).
    pub fn owner(&self) -> Option<String> {
        std::fs::read_to_string(self.path.join(OWNER))
            .ok()
            .map(|text| text.trim().to_owned())
    }

    /// The events log, for appending.
    pub fn event_log(&self) -> Result<EventLog, StoreError> {
        let path = self.events_path();
        let file = append(&path)?;
        drop_torn_line(&file, &path)?;
        Ok(EventLog { file, path })
    }

    /// Sends `audit`'s records to this workflow's `audit.jsonl` from now on, with those it
    /// held until now.
    pub fn attach_audit_log(&self, audit: &AuditLog) -> Result<(), StoreError> {
        let path = self.audit_path();
        let mut file = append(&path)?;
        let mut sink = audit.sink.lock().unwrap_or_else(PoisonError::into_inner);
        if let Sink::Held(lines) = &*sink {
            file.write_all(lines).map_err(io("append to", &path))?;
        }
        *sink = Sink::File(file);
        Ok(())
    }

    /// Reads `events.jsonl`.
    pub fn history(&self) -> Result<History, StoreError> {
        let path = self.events_path();
        let entries = read_lines::<Entry>(&path)?;
        let mut entries = entries.into_iter();
        let Some(Entry {
            ts: created,
            record: Record::Created { workflow: settings },
        }) = entries.next()
        else {
            return Err(StoreError::NoSettings { path });
        };
        Ok(History {
            settings,
            entries: entries.collect(),
            created,
        })
    }
}

/// Reads a JSON-lines file; a torn last line (a crash mid-append) is skipped.
pub fn read_lines<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, StoreError> {
    let file = File::open(path).map_err(io("open", path))?;
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(io("read", path))?;
    let count = lines.len();
    let mut values = Vec::with_capacity(count);
    for (index, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(value) => values.push(value),
            Err(_) if index + 1 == count => break,
            Err(source) => {
                return Err(StoreError::Corrupt {
                    path: path.to_owned(),
                    line: index + 1,
                    source,
                });
            }
        }
    }
    Ok(values)
}

/// Appends `line` whole or not at all: a write cut short (a full disk) is taken back, so that
/// the next append does not follow half a line.
fn append_whole(file: &mut File, line: &[u8]) -> std::io::Result<()> {
    let before = file.metadata()?.len();
    file.write_all(line).inspect_err(|_| {
        let _ = file.set_len(before);
    })
}

/// Cuts a torn last line (a crash in the middle of an append) off `file`, which readers skip
/// anyway, before anything is appended after it.
fn drop_torn_line(file: &File, path: &Path) -> Result<(), StoreError> {
    let text = std::fs::read(path).map_err(io("read", path))?;
    let whole = text
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(0, |end| end + 1);
    if whole < text.len() {
        file.set_len(whole as u64).map_err(io("repair", path))?;
    }
    Ok(())
}

fn append(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(io("open", path))
}

/// The workflow held by this process; let go on drop (or when the process dies).
#[derive(Debug)]
pub struct Lock {
    _flock: Flock<File>,
}

/// Appends [`Record`]s to `events.jsonl`.
#[derive(Debug)]
pub struct EventLog {
    file: File,
    path: PathBuf,
}

impl EventLog {
    /// Appends `record`, stamped now, and returns the entry. Status changes are synced to disk.
    pub fn append(&mut self, record: &Record) -> Result<Entry, StoreError> {
        let entry = Entry::now(record.clone());
        let mut line = serde_json::to_vec(&entry).map_err(|error| StoreError::Io {
            action: "encode a record for",
            path: self.path.clone(),
            source: error.into(),
        })?;
        line.push(b'\n');
        append_whole(&mut self.file, &line).map_err(io("append to", &self.path))?;
        if matches!(record, Record::Status { .. }) {
            self.file.sync_data().map_err(io("sync", &self.path))?;
        }
        Ok(entry)
    }
}

/// One line of `audit.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditRecord {
    /// An action of the executor in the sandbox.
    Executor {
        /// When it ended.
        ts: String,
        /// The op (`read_file`, `run_command`).
        op: String,
        /// The path, or the command line.
        target: String,
        /// `ok`, `exit 1`, or the executor's error kind.
        outcome: String,
        /// How long it took, in milliseconds.
        duration_ms: f64,
    },
    /// An HTTP request made for the workflow.
    Http {
        /// When it ended.
        ts: String,
        /// `anthropic`, `openai`, `gitlab`.
        service: String,
        /// The method.
        method: String,
        /// The URL, without credentials or secret query values.
        url: String,
        /// The status, or `None` when no answer came.
        status: Option<u16>,
        /// How long it took, in milliseconds.
        duration_ms: f64,
        /// 1 for the first attempt, 2 for the first retry…
        attempt: u32,
        /// When this attempt is retried: the wait before the next one, in milliseconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_in_ms: Option<f64>,
    },
    /// An action dw refused to carry out for the agent, and why (a Duo `runHTTPRequest` that
    /// would write to GitLab, an action kind dw does not know).
    Refused {
        /// When.
        ts: String,
        /// The action (`runHTTPRequest`).
        action: String,
        /// What it asked for (`POST /api/v4/projects/1/issues`).
        target: String,
        /// Why it was refused.
        reason: String,
    },
}

/// Appends [`AuditRecord`]s to a workflow's `audit.jsonl`. Cheap to clone; clones share the
/// file. Also the HTTP audit hook of the model providers and the GitLab client.
///
/// It starts detached, holding its records in memory, so that the clients that report to it
/// can be built (and their configuration checked) before the workflow's directory exists;
/// [`Workflow::attach_audit_log`] writes them out and sends the rest to the file.
#[derive(Debug, Clone, Default)]
pub struct AuditLog {
    sink: Arc<Mutex<Sink>>,
}

#[derive(Debug)]
enum Sink {
    Held(Vec<u8>),
    File(File),
}

impl Default for Sink {
    fn default() -> Self {
        Sink::Held(Vec::new())
    }
}

impl AuditLog {
    /// A log that holds its records until it is attached to a workflow.
    pub fn detached() -> AuditLog {
        AuditLog::default()
    }

    /// Appends `record`. An audit line that cannot be written is reported on stderr rather than
    /// failing the action it describes (which already happened).
    pub fn append(&self, record: &AuditRecord) {
        let Ok(mut line) = serde_json::to_vec(record) else {
            return;
        };
        line.push(b'\n');
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *sink {
            Sink::Held(lines) => lines.extend_from_slice(&line),
            Sink::File(file) => {
                if let Err(error) = append_whole(file, &line) {
                    eprintln!("warning: cannot append to the workflow's audit log: {error}");
                }
            }
        }
    }
}

/// A named view of an [`AuditLog`] for one HTTP service.
#[derive(Debug, Clone)]
pub struct ServiceAudit {
    /// The log.
    pub log: AuditLog,
    /// The service's name in it.
    pub service: &'static str,
}

impl ServiceAudit {
    fn http(
        &self,
        method: &str,
        url: &str,
        status: Option<u16>,
        duration: Duration,
    ) -> AuditRecord {
        AuditRecord::Http {
            ts: timestamp(std::time::SystemTime::now()),
            service: self.service.to_owned(),
            method: method.to_owned(),
            url: url.to_owned(),
            status,
            duration_ms: millis(duration),
            attempt: 1,
            retry_in_ms: None,
        }
    }
}

impl dw_provider::HttpAudit for ServiceAudit {
    fn record(&self, exchange: &dw_provider::HttpExchange) {
        let mut record = self.http(
            exchange.method,
            &exchange.url,
            exchange.status,
            exchange.duration,
        );
        if let AuditRecord::Http {
            attempt,
            retry_in_ms,
            ..
        } = &mut record
        {
            *attempt = exchange.attempt;
            *retry_in_ms = exchange.retry_in.map(millis);
        }
        self.log.append(&record);
    }
}

impl dw_gitlab::HttpAudit for ServiceAudit {
    fn record(&self, exchange: &dw_gitlab::HttpExchange) {
        let record = self.http(
            exchange.method,
            &exchange.url,
            exchange.status,
            exchange.duration,
        );
        self.log.append(&record);
    }
}

/// A duration in milliseconds, to a microsecond.
pub fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::record::WorkflowStatus;

    fn settings(id: &str) -> Settings {
        Settings {
            id: id.to_owned(),
            goal: "fix the tests".into(),
            workspace: "/tmp/project".into(),
            provider: "script".into(),
            model: "script".into(),
            script: None,
            image: "image".into(),
            allow_network: false,
            max_steps: 10,
            gitlab: None,
            duo: None,
        }
    }

    #[test]
    fn a_created_workflow_reads_back_and_a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("workflows"));
        let id = new_id();
        let (workflow, _lock, mut log) = store.create(&settings(&id)).unwrap();
        log.append(&Record::status(WorkflowStatus::Planning))
            .unwrap();
        // A crash in the middle of an append leaves half a line.
        let mut file = append(&workflow.events_path()).unwrap();
        file.write_all(br#"{"ts":"2026-11-23T12:00:00.000Z","type":"sta"#)
            .unwrap();
        let history = store.open(&id).unwrap().history().unwrap();
        assert_eq!(history.settings, settings(&id));
        assert_eq!(history.status(), WorkflowStatus::Planning);
        assert_eq!(store.list().unwrap(), vec![workflow]);
    }

    #[test]
    fn a_torn_last_line_is_cut_off_before_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let (workflow, lock, _log) = store.create(&settings("w1")).unwrap();
        let mut file = append(&workflow.events_path()).unwrap();
        file.write_all(br#"{"ts":"2026-11-23T12:00:00.000Z","type":"sta"#)
            .unwrap();
        drop(lock);
        let _lock = workflow.lock().unwrap();
        let mut log = workflow.event_log().unwrap();
        log.append(&Record::status(WorkflowStatus::Planning))
            .unwrap();
        assert_eq!(
            workflow.history().unwrap().status(),
            WorkflowStatus::Planning
        );
        let text = std::fs::read_to_string(workflow.events_path()).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
    }

    #[test]
    fn a_damaged_line_before_the_end_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let (workflow, _lock, mut log) = store.create(&settings("w1")).unwrap();
        let mut file = append(&workflow.events_path()).unwrap();
        file.write_all(b"garbage\n").unwrap();
        log.append(&Record::status(WorkflowStatus::Planning))
            .unwrap();
        let error = workflow.history().unwrap_err();
        assert!(
            matches!(error, StoreError::Corrupt { line: 2, .. }),
            "{error}"
        );
    }

    #[test]
    fn one_process_at_a_time_and_ids_cannot_escape_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let (workflow, lock, _log) = store.create(&settings("w1")).unwrap();
        // flock locks belong to the open file, so a second open in this process conflicts too.
        let error = workflow.lock().unwrap_err();
        assert!(matches!(error, StoreError::InUse { .. }), "{error}");
        assert!(error.to_string().contains("dw workflows stop w1"));
        drop(lock);
        workflow.lock().unwrap();
        for bad in ["../etc", "", "a/b", ".hidden"] {
            assert!(matches!(store.open(bad), Err(StoreError::InvalidId { .. })));
        }
        assert!(matches!(
            store.open("nope"),
            Err(StoreError::NotFound { .. })
        ));
    }

    #[test]
    fn new_ids_are_timestamps_with_a_random_suffix() {
        let id = new_id();
        assert_eq!(id.len(), 20, "{id}");
        check_id(&id).unwrap();
        assert_ne!(new_id(), new_id());
    }
}
