//! Drives the real `dw-agent serve` binary over its stdin and stdout, as the host does.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dw_protocol::{Event, Failure, Op, Operation, Outgoing, Request, Response, Stream};

/// How long a test waits for a line before it declares the executor hung. Generous: it only
/// bounds a failure, it never orders anything.
const HANG: Duration = Duration::from_secs(60);

/// A running executor and what it has written but the test has not consumed yet.
pub struct Agent {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Outgoing>,
    unread: VecDeque<Outgoing>,
    next_id: u64,
}

impl Agent {
    /// Starts `dw-agent serve --root <root>`.
    pub fn start(root: &Path) -> Self {
        Self::start_with(Command::new(Self::binary()), root)
    }

    /// The executor binary under test.
    pub fn binary() -> &'static str {
        env!("CARGO_BIN_EXE_dw-agent")
    }

    /// Starts `<command> serve --root <root>`, where `command` is the executor binary or a
    /// launcher that ends by executing it (`prlimit … setpriv … dw-agent`), so that the child
    /// is the executor itself.
    pub fn start_with(mut command: Command, root: &Path) -> Self {
        let mut child = command
            .arg("serve")
            .arg("--root")
            .arg(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap();
                // Every line the executor writes must be a protocol message.
                let message = Outgoing::from_line(&line)
                    .unwrap_or_else(|error| panic!("not a protocol line: {line}: {error}"));
                if sender.send(message).is_err() {
                    return;
                }
            }
        });
        Self {
            stdin: child.stdin.take(),
            child,
            lines,
            unread: VecDeque::new(),
            next_id: 1,
        }
    }

    /// The executor's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a request with a fresh id, and returns the id.
    pub fn send(&mut self, op: impl Into<Op>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let line = Request::new(id, op).to_line().unwrap();
        self.send_raw(line.as_bytes());
        id
    }

    /// Sends bytes as one line.
    pub fn send_raw(&mut self, line: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is closed");
        stdin.write_all(line).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Sends a request and waits for its result.
    pub fn call<O: Operation>(&mut self, op: O) -> Result<O::Output, Failure> {
        let id = self.send(op);
        self.response::<O::Output>(id).outcome
    }

    /// Sends a request and waits for its events and its result.
    pub fn call_streaming<O: Operation>(
        &mut self,
        op: O,
    ) -> (Vec<Event>, Result<O::Output, Failure>) {
        let id = self.send(op);
        let response = self.response::<O::Output>(id);
        let events = self.take_events(id);
        (events, response.outcome)
    }

    /// The next line the executor writes, consumed.
    pub fn next(&mut self) -> Outgoing {
        self.unread
            .pop_front()
            .unwrap_or_else(|| self.lines.recv_timeout(HANG).expect("the executor hung"))
    }

    /// Waits for the response to `id`; lines before it stay unread, in order.
    pub fn response<T: serde::de::DeserializeOwned>(&mut self, id: u64) -> Response<T> {
        let found = self.wait_for(
            |message| matches!(message, Outgoing::Response(response) if response.id == Some(id)),
        );
        let Outgoing::Response(response) = found else {
            unreachable!()
        };
        response.decode().unwrap()
    }

    /// Waits for the next event of `id`.
    pub fn event(&mut self, id: u64) -> Event {
        let found =
            self.wait_for(|message| matches!(message, Outgoing::Event(event) if event.id == id));
        let Outgoing::Event(event) = found else {
            unreachable!()
        };
        event
    }

    /// The text of the first stdout event of `id`, trimmed.
    pub fn first_line(&mut self, id: u64) -> String {
        let event = self.event(id);
        assert_eq!(event.event, Stream::Stdout);
        event.data.lines().next().unwrap_or_default().to_owned()
    }

    /// Removes and returns the unread events of `id`.
    pub fn take_events(&mut self, id: u64) -> Vec<Event> {
        let mut events = Vec::new();
        self.unread.retain(|message| match message {
            Outgoing::Event(event) if event.id == id => {
                events.push(event.clone());
                false
            }
            _ => true,
        });
        events
    }

    /// Every line, in order, until the executor closes stdout.
    pub fn drain(&mut self) -> Vec<Outgoing> {
        let mut all: Vec<Outgoing> = self.unread.drain(..).collect();
        while let Ok(message) = self.lines.recv_timeout(HANG) {
            all.push(message);
        }
        all
    }

    /// Closes the executor's stdin.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the executor to exit; after [`Agent::drain`], which returns once it closed
    /// its stdout, this does not block for long.
    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().unwrap()
    }

    fn wait_for(&mut self, wanted: impl Fn(&Outgoing) -> bool) -> Outgoing {
        if let Some(index) = self.unread.iter().position(&wanted) {
            return self.unread.remove(index).unwrap();
        }
        loop {
            let message = self.lines.recv_timeout(HANG).expect("the executor hung");
            if wanted(&message) {
                return message;
            }
            self.unread.push_back(message);
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary directory with a workspace `root/` and a sibling `outside/` that the executor
/// must never touch; removed on drop.
pub struct World {
    temp: tempfile::TempDir,
}

impl World {
    pub fn new() -> Self {
        let temp = tempfile::tempdir().unwrap();
        std::fs::create_dir(temp.path().join("root")).unwrap();
        std::fs::create_dir(temp.path().join("outside")).unwrap();
        Self { temp }
    }

    pub fn root(&self) -> PathBuf {
        self.temp.path().join("root")
    }

    pub fn outside(&self) -> PathBuf {
        self.temp.path().join("outside")
    }

    /// Writes a file under the root (`root/…`) or beside it (`outside/…`).
    pub fn file(&self, path: &str, content: impl AsRef<[u8]>) -> &Self {
        let path = self.temp.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }

    /// Creates a symbolic link at `path` (under the temporary directory) pointing to `target`.
    pub fn symlink(&self, path: &str, target: impl AsRef<Path>) -> &Self {
        std::os::unix::fs::symlink(target, self.temp.path().join(path)).unwrap();
        self
    }

    pub fn read(&self, path: &str) -> Vec<u8> {
        std::fs::read(self.temp.path().join(path)).unwrap()
    }

    /// Everything in the temporary directory except the workspace: every path with its type,
    /// content, link target and permissions.
    pub fn outside_snapshot(&self) -> Vec<(PathBuf, String)> {
        let mut snapshot = Vec::new();
        snapshot_into(
            self.temp.path(),
            self.temp.path(),
            &mut snapshot,
            &self.root(),
        );
        snapshot.sort();
        snapshot
    }

    pub fn start(&self) -> Agent {
        Agent::start(&self.root())
    }
}

fn snapshot_into(base: &Path, directory: &Path, into: &mut Vec<(PathBuf, String)>, skip: &Path) {
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        if path == skip {
            continue;
        }
        let metadata = std::fs::symlink_metadata(&path).unwrap();
        let relative = path.strip_prefix(base).unwrap().to_owned();
        use std::os::unix::fs::MetadataExt;
        let description = if metadata.is_symlink() {
            format!("link -> {}", std::fs::read_link(&path).unwrap().display())
        } else if metadata.is_dir() {
            snapshot_into(base, &path, into, skip);
            format!("dir {:o}", metadata.mode())
        } else {
            let content = std::fs::read(&path).unwrap();
            format!(
                "file {:o} {}",
                metadata.mode(),
                String::from_utf8_lossy(&content)
            )
        };
        into.push((relative, description));
    }
}

/// The processes (not zombies) in process group `group`, from /proc.
pub fn live_members(group: u32) -> Vec<u32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap() {
        let entry = entry.unwrap();
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        // The process may be gone by now; that is fine.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the parenthesised command name: state, ppid, pgrp, …
        let Some((_, after_name)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        if fields.len() > 2 && fields[2] == group.to_string() && fields[0] != "Z" {
            members.push(pid);
        }
    }
    members
}

/// Waits until no live process remains in `group`. SIGKILL reaches every member at once, but
/// processes that are not the executor's children die on the kernel's schedule, so this polls
/// (bounded) for the state instead of assuming it.
pub fn assert_group_gone(group: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let members = live_members(group);
        if members.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "process group {group} still has {members:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The executor's peak resident memory, in KiB, from /proc.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
