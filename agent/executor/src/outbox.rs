//! The executor's stdout: whole lines, one writer, in the order they were sent.
//!
//! Every task sends finished lines through one bounded channel to one thread that owns stdout,
//! so lines never interleave, the events of a request always precede its response, and a host
//! that reads slowly slows the commands down instead of growing a buffer.

use std::io::{self, BufWriter, Write};
use std::thread::JoinHandle;

use dw_protocol::{ErrorKind, Event, Failure, Response};
use serde::Serialize;
use tokio::sync::mpsc;

/// How many lines may wait for the writer.
const CAPACITY: usize = 256;

/// Where tasks send their lines; cheap to clone.
#[derive(Debug, Clone)]
pub struct Outbox {
    lines: mpsc::Sender<Message>,
}

#[derive(Debug)]
enum Message {
    Line(String),
    /// Flush and stop: the executor is ending.
    Close,
}

/// The thread that writes the lines, until [`Outbox::close`].
#[derive(Debug)]
pub struct Writer {
    thread: JoinHandle<io::Result<()>>,
}

impl Outbox {
    /// An outbox whose lines a new thread writes to `sink` (the process's stdout in the
    /// executor), flushing whenever no further line is waiting; fails if the thread cannot be
    /// started.
    pub fn start(sink: impl Write + Send + 'static) -> io::Result<(Self, Writer)> {
        let (lines, receiver) = mpsc::channel(CAPACITY);
        let thread = std::thread::Builder::new()
            .name("dw-agent-writer".to_owned())
            .spawn(move || write_lines(receiver, sink))?;
        Ok((Self { lines }, Writer { thread }))
    }

    /// Sends the response of a request (`id` is `None` only for a malformed line).
    pub async fn respond<T: Serialize>(&self, id: Option<u64>, outcome: Result<T, Failure>) {
        let line = Response { id, outcome }.to_line().unwrap_or_else(|error| {
            let failure = Failure::new(
                ErrorKind::Io,
                format!("the result could not be encoded: {error}"),
            );
            Response::<()>::failure(id, failure)
                .to_line()
                .unwrap_or_default()
        });
        self.send(line).await;
    }

    /// Sends an event of a running command.
    pub async fn event(&self, event: Event) {
        if let Ok(line) = event.to_line() {
            self.send(line).await;
        }
    }

    /// Lets the writer flush what was sent before and stop.
    pub async fn close(&self) {
        // A writer that is already gone (stdout closed) has nothing left to flush.
        let _ = self.lines.send(Message::Close).await;
    }

    async fn send(&self, line: String) {
        // A writer that is gone means the host stopped reading: there is no one left to tell.
        let _ = self.lines.send(Message::Line(line)).await;
    }
}

impl Writer {
    /// Waits until everything sent before [`Outbox::close`] is written.
    pub fn finish(self) -> io::Result<()> {
        self.thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the stdout writer panicked")))
    }
}

fn write_lines(mut receiver: mpsc::Receiver<Message>, sink: impl Write) -> io::Result<()> {
    let mut sink = BufWriter::new(sink);
    while let Some(Message::Line(line)) = receiver.blocking_recv() {
        sink.write_all(line.as_bytes())?;
        sink.write_all(b"\n")?;
        if receiver.is_empty() {
            sink.flush()?;
        }
    }
    sink.flush()
}
