//! `run_command` and `git`: a program in its own process group, its output streamed and
//! capped.
//!
//! Commands are not confined by the executor — the container is their sandbox — but their
//! working directory must resolve inside the workspace. Each runs as the leader of a new
//! process group, so that cancel, timeout and the end of the executor's input can kill the
//! program together with everything it started (`sh -c 'a & b'`).
//!
//! When the program exits, its output is read for a short grace period more: a background
//! process it left behind may keep the pipes open indefinitely, and such a process is left
//! running (`nohup server > log &` is a legitimate thing to ask for).

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use dw_protocol::request::{Git, RunCommand};
use dw_protocol::result::CommandResult;
use dw_protocol::{ErrorKind, Event, Failure, Stream};
use rustix::io::Errno;
use rustix::process::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep_until};

use crate::outbox::Outbox;
use crate::output::Capture;
use crate::running::{Registration, cancelled_failure, kill_group};
use crate::workspace::Workspace;

/// The cap of `output` (and of the events together) when the request sets none.
pub const DEFAULT_OUTPUT_LIMIT: u64 = 1 << 20;

/// The largest `output_limit` a request may ask for.
pub const MAX_OUTPUT_LIMIT: u64 = 64 << 20;

/// How long output is still read after the program exited, for a background process that
/// inherited the pipes.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(200);

/// The size of one read from a pipe, and so the largest event.
const CHUNK: usize = 32 * 1024;

/// A command ready to start: validated, its working directory resolved.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    program: String,
    args: Vec<String>,
    cwd: PathBuf,
    env: BTreeMap<String, String>,
    stdin: Option<String>,
    timeout: Option<Duration>,
    output_limit: usize,
}

impl CommandSpec {
    /// The command a `run_command` request describes.
    pub fn run_command(workspace: &Workspace, params: RunCommand) -> Result<Self, Failure> {
        if params.program.is_empty() {
            return Err(Failure::new(
                ErrorKind::InvalidRequest,
                "`program` is empty",
            ));
        }
        let limit = params.output_limit.unwrap_or(DEFAULT_OUTPUT_LIMIT);
        if limit > MAX_OUTPUT_LIMIT {
            return Err(Failure::new(
                ErrorKind::TooLarge,
                format!("output_limit {limit} is above the maximum of {MAX_OUTPUT_LIMIT} bytes"),
            ));
        }
        Ok(Self {
            program: params.program,
            args: params.args,
            cwd: workspace.directory(params.cwd.as_deref().unwrap_or("."))?,
            env: params.env,
            stdin: params.stdin,
            timeout: params.timeout_ms.map(Duration::from_millis),
            output_limit: usize::try_from(limit).unwrap_or(usize::MAX),
        })
    }

    /// The command a `git` request describes: `git` in the root, never prompting.
    pub fn git(workspace: &Workspace, params: Git) -> Self {
        Self {
            program: "git".to_owned(),
            args: params.args,
            cwd: workspace.canonical_root().to_owned(),
            // There is no one to answer a credential prompt; fail instead of hanging.
            env: BTreeMap::from([("GIT_TERMINAL_PROMPT".to_owned(), "0".to_owned())]),
            stdin: None,
            timeout: params.timeout_ms.map(Duration::from_millis),
            output_limit: usize::try_from(DEFAULT_OUTPUT_LIMIT).unwrap_or(usize::MAX),
        }
    }
}

/// Runs the command for request `id`, streaming its output to `outbox` as events.
///
/// Ends with the command's result — also after a timeout, with `timed_out` set — or with
/// `cancelled` once the registration is cancelled; in both of those cases the whole process
/// group has been killed and the program reaped before this returns.
pub async fn run(
    spec: CommandSpec,
    id: u64,
    outbox: &Outbox,
    registration: &Registration,
) -> Result<CommandResult, Failure> {
    let mut child = spawn(&spec)?;
    let group = child
        .id()
        .and_then(|pid| i32::try_from(pid).ok())
        .and_then(Pid::from_raw);
    if let Some(group) = group {
        registration.set_process_group(group);
    }
    feed_stdin(&mut child, spec.stdin);
    let mut session = Session {
        id,
        outbox,
        group,
        capture: Capture::new(spec.output_limit),
    };
    let ending = session
        .supervise(&mut child, spec.timeout, registration)
        .await?;
    let (output, truncated) = session.capture.into_output();
    Ok(CommandResult {
        exit_code: ending.status.code(),
        signal: ending.status.signal(),
        timed_out: ending.timed_out,
        output,
        truncated,
    })
}

fn spawn(spec: &CommandSpec) -> Result<Child, Failure> {
    let stdin = if spec.stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    };
    Command::new(&spec.program)
        .args(&spec.args)
        .current_dir(&spec.cwd)
        .envs(&spec.env)
        .process_group(0)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| spawn_failure(&spec.program, &error))
}

fn spawn_failure(program: &str, error: &std::io::Error) -> Failure {
    if let Some(resource) = exhausted_resource(error) {
        return Failure::new(
            ErrorKind::ResourceExhausted,
            format!(
                "cannot start `{program}`: the sandbox is out of {resource} ({error}); wait for \
                 running commands to finish, or cancel them, then try again"
            ),
        );
    }
    match error.kind() {
        std::io::ErrorKind::NotFound => Failure::new(
            ErrorKind::NotFound,
            format!(
                "program `{program}` was not found; check its name, or install it in the image"
            ),
        ),
        std::io::ErrorKind::InvalidInput => Failure::new(
            ErrorKind::InvalidRequest,
            format!("cannot start `{program}`: {error}"),
        ),
        _ => Failure::new(ErrorKind::Io, format!("cannot start `{program}`: {error}")),
    }
}

/// What the sandbox ran out of, when that is why a program could not start: `fork` fails with
/// `EAGAIN` at the pids limit, with `ENOMEM` at the memory limit, and the pipes for its output
/// need file descriptors.
fn exhausted_resource(error: &std::io::Error) -> Option<&'static str> {
    match Errno::from_io_error(error)? {
        Errno::AGAIN => Some("processes: its pids limit is reached"),
        Errno::NOMEM => Some("memory"),
        Errno::MFILE | Errno::NFILE => Some("file descriptors"),
        _ => None,
    }
}

/// Writes the request's stdin on its own task, so that a program that never reads it cannot
/// stall the output loop; closing the pipe afterwards is the program's end of input.
fn feed_stdin(child: &mut Child, input: Option<String>) {
    let (Some(mut pipe), Some(input)) = (child.stdin.take(), input) else {
        return;
    };
    tokio::spawn(async move {
        // A program that exits without reading all its input is not an error of ours.
        let _ = pipe.write_all(input.as_bytes()).await;
    });
}

/// How the program ended.
struct Ending {
    status: ExitStatus,
    timed_out: bool,
}

/// One running command's output loop.
struct Session<'a> {
    id: u64,
    outbox: &'a Outbox,
    group: Option<Pid>,
    capture: Capture,
}

impl Session<'_> {
    /// Reads both pipes until the program has exited and the pipes are closed (or the grace
    /// period after exit has passed), killing the group on timeout or cancel.
    async fn supervise(
        &mut self,
        child: &mut Child,
        timeout: Option<Duration>,
        registration: &Registration,
    ) -> Result<Ending, Failure> {
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let mut stdout_buffer = vec![0; CHUNK];
        let mut stderr_buffer = vec![0; CHUNK];
        let mut cancellation = registration.cancellation();
        let mut deadline = timeout.map(|timeout| Instant::now() + timeout);
        let mut timed_out = false;
        let mut status = None;
        let mut drain_deadline = None;
        loop {
            if let Some(status) = status
                && stdout.is_none()
                && stderr.is_none()
            {
                return Ok(Ending { status, timed_out });
            }
            tokio::select! {
                read = read_chunk(&mut stdout, &mut stdout_buffer) => {
                    self.take(Stream::Stdout, &mut stdout, &stdout_buffer, read).await;
                }
                read = read_chunk(&mut stderr, &mut stderr_buffer) => {
                    self.take(Stream::Stderr, &mut stderr, &stderr_buffer, read).await;
                }
                exited = child.wait(), if status.is_none() => {
                    status = Some(exited.map_err(|error| wait_failure(&error))?);
                    drain_deadline = Some(Instant::now() + DRAIN_AFTER_EXIT);
                }
                () = until(deadline) => {
                    self.kill_group();
                    timed_out = true;
                    deadline = None;
                }
                () = until(drain_deadline) => {
                    if let Some(status) = status {
                        return Ok(Ending { status, timed_out });
                    }
                }
                () = cancellation.cancelled() => {
                    self.kill_group();
                    // Reaping the program before answering means that when the host hears
                    // `cancelled`, the program is gone.
                    let _ = child.wait().await;
                    return Err(cancelled_failure());
                }
            }
        }
    }

    /// Handles one read from `stream`: streams and keeps what fits under the cap, or closes
    /// the stream at its end.
    async fn take(
        &mut self,
        stream: Stream,
        pipe: &mut Option<impl AsyncRead + Unpin>,
        buffer: &[u8],
        read: std::io::Result<usize>,
    ) {
        let text = match read {
            Ok(0) | Err(_) => {
                *pipe = None;
                self.capture.finish(stream)
            }
            Ok(length) => self.capture.push(stream, &buffer[..length]),
        };
        if let Some(data) = text {
            let event = Event {
                id: self.id,
                event: stream,
                data,
            };
            self.outbox.event(event).await;
        }
    }

    fn kill_group(&self) {
        if let Some(group) = self.group {
            kill_group(group);
        }
    }
}

/// Reads once from a pipe; an absent (closed) pipe never completes.
async fn read_chunk(
    pipe: &mut Option<impl AsyncRead + Unpin>,
    buffer: &mut [u8],
) -> std::io::Result<usize> {
    match pipe {
        Some(pipe) => pipe.read(buffer).await,
        None => std::future::pending().await,
    }
}

/// Completes at `deadline`; never, without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn wait_failure(error: &std::io::Error) -> Failure {
    Failure::new(ErrorKind::Io, format!("lost track of the program: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_resource_is_told_apart_from_other_start_failures() {
        let failure = spawn_failure("sh", &Errno::AGAIN.into());
        assert_eq!(failure.kind, ErrorKind::ResourceExhausted);
        assert!(failure.message.contains("pids limit"), "{failure:?}");
        let failure = spawn_failure("sh", &Errno::MFILE.into());
        assert_eq!(failure.kind, ErrorKind::ResourceExhausted);
        assert!(failure.message.contains("file descriptors"), "{failure:?}");
        assert_eq!(
            spawn_failure("nope", &Errno::NOENT.into()).kind,
            ErrorKind::NotFound
        );
        assert_eq!(spawn_failure("sh", &Errno::IO.into()).kind, ErrorKind::Io);
    }
}
