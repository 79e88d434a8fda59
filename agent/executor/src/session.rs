//! The serve loop: requests in on stdin, responses and events out on stdout.
//!
//! A reader thread cuts stdin into lines (refusing lines over [`MAX_LINE`] without buffering
//! them); the loop parses each line and spawns one task per request on a single-threaded
//! runtime, so requests are served concurrently and answered in whatever order they finish.
//! File and search actions run on a small [`Pool`] of threads, commands on the runtime itself; a
//! long command never delays a short read. When stdin ends, or on `shutdown`, the loop stops
//! reading, kills every running command's process group, lets the requests in flight finish,
//! and returns.
//!
//! Every thread the executor has is started here, before the first request: a command may
//! spend the sandbox's pids limit at any time, and from then on no new thread can be had. So
//! nothing in serving a request starts a thread, and starting a command's process is the one
//! thing that can fail for want of one (`resource_exhausted`).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;

use dw_protocol::request::{Hello, Shutdown};
use dw_protocol::result::{CancelResult, Empty, HelloResult};
use dw_protocol::{ErrorKind, Failure, Op, Request};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::command::{self, CommandSpec};
use crate::outbox::Outbox;
use crate::pool::Pool;
use crate::running::{Cancellation, Registration, Running, cancelled_failure};
use crate::workspace::{OpenError, Workspace};
use crate::{files, search};

/// The longest request line, in bytes; a longer one is answered with `too_large`, and only
/// this much of it is ever held in memory.
pub const MAX_LINE: usize = 32 << 20;

/// How many file and search actions run at once; more wait their turn.
const POOL_THREADS: usize = 8;

/// How many read lines may wait for the loop.
const INBOX_CAPACITY: usize = 64;

/// The executor could not start or finish serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The workspace root is not an openable directory.
    #[error(transparent)]
    Workspace(#[from] OpenError),
    /// The async runtime could not be built (out of file descriptors).
    #[error("cannot start the executor's runtime: {0}")]
    Runtime(#[source] io::Error),
    /// The executor's threads could not be started: the sandbox's processes are spent.
    #[error(
        "cannot start the executor's threads: {0}; the sandbox's pids limit is spent, so stop \
         the processes that hold it (or remove the sandbox) and start the executor again"
    )]
    Threads(#[source] io::Error),
    /// Writing to stdout failed: the host stopped reading.
    #[error("cannot write to stdout: {0}; the host stopped reading")]
    Output(#[source] io::Error),
}

/// Serves requests from stdin on the workspace at `root` until stdin ends or a `shutdown`.
pub fn serve(root: &Path) -> Result<(), ServeError> {
    serve_with(root, io::stdin(), io::stdout())
}

/// [`serve`] over any input and output, for tests and fuzzing.
pub fn serve_with(
    root: &Path,
    input: impl Read + Send + 'static,
    output: impl Write + Send + 'static,
) -> Result<(), ServeError> {
    let workspace = Arc::new(Workspace::open(root)?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let pool = Pool::start(POOL_THREADS).map_err(ServeError::Threads)?;
    let (outbox, writer) = Outbox::start(output).map_err(ServeError::Threads)?;
    // Last, because once it runs it only ends with the input.
    let inbox = spawn_reader(input).map_err(ServeError::Threads)?;
    let context = Context {
        workspace,
        outbox,
        running: Running::default(),
        pool,
    };
    runtime.block_on(context.serve(inbox));
    // Nothing still running must keep the executor alive: a pool thread busy with an
    // abandoned request (a grep of a huge tree) is not joined either.
    runtime.shutdown_background();
    writer.finish().map_err(ServeError::Output)
}

/// What the reader thread hands the loop.
enum Input {
    Line(Vec<u8>),
    TooLong,
}

/// Reads lines on a thread of its own, so that a blocked stdin never blocks the runtime. The
/// channel closes at the end of input, or when reading fails.
fn spawn_reader(input: impl Read + Send + 'static) -> io::Result<mpsc::Receiver<Input>> {
    let (sender, receiver) = mpsc::channel(INBOX_CAPACITY);
    std::thread::Builder::new()
        .name("dw-agent-reader".to_owned())
        .spawn(move || {
            let mut reader = BufReader::new(input);
            loop {
                let mut line = Vec::new();
                let input = match read_line(&mut reader, MAX_LINE, &mut line) {
                    Ok(LineRead::Line) => Input::Line(line),
                    Ok(LineRead::TooLong) => Input::TooLong,
                    Ok(LineRead::End) | Err(_) => return,
                };
                if sender.blocking_send(input).is_err() {
                    return;
                }
            }
        })?;
    Ok(receiver)
}

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
enum LineRead {
    /// A line, now in the buffer without its line break (the last line may lack one).
    Line,
    /// A line longer than the maximum, skipped up to its line break; the buffer is empty.
    TooLong,
    /// The end of input.
    End,
}

/// Reads one line into `line`, keeping at most `max` bytes of it in memory.
fn read_line(reader: &mut impl BufRead, max: usize, line: &mut Vec<u8>) -> io::Result<LineRead> {
    let mut started = false;
    let mut too_long = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if available.is_empty() {
            return Ok(match (started, too_long) {
                (false, _) => LineRead::End,
                (true, true) => LineRead::TooLong,
                (true, false) => LineRead::Line,
            });
        }
        started = true;
        let newline = available.iter().position(|byte| *byte == b'\n');
        let piece = &available[..newline.unwrap_or(available.len())];
        if !too_long && line.len() + piece.len() > max {
            too_long = true;
            *line = Vec::new();
        }
        if !too_long {
            line.extend_from_slice(piece);
        }
        let consumed = newline.map_or(available.len(), |index| index + 1);
        reader.consume(consumed);
        if newline.is_some() {
            return Ok(if too_long {
                LineRead::TooLong
            } else {
                LineRead::Line
            });
        }
    }
}

/// What every request task shares.
#[derive(Clone)]
struct Context {
    workspace: Arc<Workspace>,
    outbox: Outbox,
    running: Running,
    pool: Pool,
}

impl Context {
    async fn serve(self, mut inbox: mpsc::Receiver<Input>) {
        let mut tasks = JoinSet::new();
        let mut shutdown = None;
        while let Some(input) = inbox.recv().await {
            // Forget finished tasks, so that the set holds only the ones in flight.
            while tasks.try_join_next().is_some() {}
            let request = match input {
                Input::Line(line) => self.parse(&line).await,
                Input::TooLong => {
                    let failure = Failure::new(
                        ErrorKind::TooLarge,
                        format!(
                            "the line is longer than {MAX_LINE} bytes; write large files in pieces"
                        ),
                    );
                    self.outbox.respond::<()>(None, Err(failure)).await;
                    None
                }
            };
            let Some(request) = request else { continue };
            if let Op::Shutdown(_) = request.op {
                shutdown = Some(request.id);
                break;
            }
            let context = self.clone();
            tasks.spawn(async move { context.execute(request.id, request.op).await });
        }
        self.running.kill_all();
        while tasks.join_next().await.is_some() {}
        if let Some(id) = shutdown {
            self.execute(id, Op::Shutdown(Shutdown {})).await;
        }
        self.outbox.close().await;
    }

    /// The request on a line, or `None` after answering why there is none (a blank line is
    /// skipped silently).
    async fn parse(&self, line: &[u8]) -> Option<Request> {
        let Ok(text) = std::str::from_utf8(line) else {
            let failure = Failure::new(ErrorKind::InvalidRequest, "the line is not UTF-8");
            self.outbox.respond::<()>(None, Err(failure)).await;
            return None;
        };
        if text.trim().is_empty() {
            return None;
        }
        match Request::from_line(text) {
            Ok(request) => Some(request),
            Err(malformed) => {
                let failure = Failure::new(ErrorKind::InvalidRequest, malformed.message);
                self.outbox.respond::<()>(malformed.id, Err(failure)).await;
                None
            }
        }
    }

    /// Performs one request and sends its response.
    async fn execute(&self, id: u64, op: Op) {
        let outbox = &self.outbox;
        let reply_id = Some(id);
        match op {
            Op::Hello(Hello {}) => outbox.respond(reply_id, Ok(self.hello())).await,
            Op::ReadFile(params) => {
                let result = self
                    .blocking(move |workspace| files::read_file(workspace, &params))
                    .await;
                outbox.respond(reply_id, result).await;
            }
            Op::WriteFile(params) => {
                let result = self
                    .blocking(move |workspace| files::write_file(workspace, &params))
                    .await;
                outbox.respond(reply_id, result).await;
            }
            Op::EditFile(params) => {
                let result = self
                    .blocking(move |workspace| files::edit_file(workspace, &params))
                    .await;
                outbox.respond(reply_id, result).await;
            }
            Op::ListDir(params) => {
                let result = self
                    .blocking(move |workspace| files::list_dir(workspace, &params))
                    .await;
                outbox.respond(reply_id, result).await;
            }
            Op::Mkdir(params) => {
                let result = self
                    .blocking(move |workspace| files::mkdir(workspace, &params))
                    .await;
                outbox.respond(reply_id, result).await;
            }
            Op::FindFiles(params) => {
                let result = self
                    .cancellable(id, move |workspace, cancellation| {
                        search::find_files(workspace, &params, cancellation)
                    })
                    .await;
                outbox.respond(reply_id, result).await;
            }
            Op::Grep(params) => {
                let result = self
                    .cancellable(id, move |workspace, cancellation| {
                        search::grep(workspace, &params, cancellation)
                    })
                    .await;
                outbox.respond(reply_id, result).await;
            }
            Op::RunCommand(params) => {
                let result = self
                    .command(id, |workspace| CommandSpec::run_command(workspace, params))
                    .await;
                outbox.respond(reply_id, result).await;
            }
            Op::Git(params) => {
                let result = self
                    .command(id, |workspace| Ok(CommandSpec::git(workspace, params)))
                    .await;
                outbox.respond(reply_id, result).await;
            }
            Op::Cancel(params) => {
                let cancelled = self.running.cancel(params.target);
                outbox
                    .respond(reply_id, Ok(CancelResult { cancelled }))
                    .await;
            }
            Op::Shutdown(Shutdown {}) => outbox.respond(reply_id, Ok(Empty {})).await,
        }
    }

    fn hello(&self) -> HelloResult {
        HelloResult {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            root: self.workspace.root().display().to_string(),
            pid: std::process::id(),
        }
    }

    /// Runs a file or search action on the pool.
    async fn blocking<T: Send + 'static>(
        &self,
        action: impl FnOnce(&Workspace) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        let workspace = Arc::clone(&self.workspace);
        self.pool.run(move || action(&workspace)).await?
    }

    /// Runs a search action on the pool, registered so that `cancel` can stop it.
    async fn cancellable<T: Send + 'static>(
        &self,
        id: u64,
        action: impl FnOnce(&Workspace, &Cancellation) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        let registration = self.running.register(id)?;
        let cancellation = registration.cancellation();
        let result = self
            .blocking(move |workspace| action(workspace, &cancellation))
            .await;
        ended(registration, result)
    }

    /// Runs a command, registered so that `cancel` and the end of input can kill it.
    async fn command(
        &self,
        id: u64,
        spec: impl FnOnce(&Workspace) -> Result<CommandSpec, Failure>,
    ) -> Result<dw_protocol::result::CommandResult, Failure> {
        let registration = self.running.register(id)?;
        let spec = spec(&self.workspace)?;
        let result = command::run(spec, id, &self.outbox, &registration).await;
        ended(registration, result)
    }
}

/// The outcome of a cancellable request, once it is no longer registered: a `cancel` that
/// arrived while it was registered was answered `true`, so the request must end `cancelled`
/// even if it finished its work in the meantime.
fn ended<T>(registration: Registration, result: Result<T, Failure>) -> Result<T, Failure> {
    let cancellation = registration.cancellation();
    drop(registration);
    if cancellation.is_cancelled() {
        return Err(cancelled_failure());
    }
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<(LineRead, Vec<u8>)> {
        // A tiny buffer makes lines span several fills.
        let mut reader = BufReader::with_capacity(3, input);
        let mut found = Vec::new();
        loop {
            let mut line = Vec::new();
            let read = read_line(&mut reader, max, &mut line).unwrap();
            if read == LineRead::End {
                return found;
            }
            found.push((read, line));
        }
    }

    #[test]
    fn lines_are_cut_at_line_breaks_and_capped() {
        assert_eq!(
            lines(b"ab\n\nlong line\nlast", 5),
            [
                (LineRead::Line, b"ab".to_vec()),
                (LineRead::Line, Vec::new()),
                (LineRead::TooLong, Vec::new()),
                (LineRead::Line, b"last".to_vec()),
            ]
        );
        assert_eq!(lines(b"toolong", 3), [(LineRead::TooLong, Vec::new())]);
        assert!(lines(b"", 3).is_empty());
    }
}
