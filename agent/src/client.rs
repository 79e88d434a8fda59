//! The typed, concurrent client of the executor protocol.
//!
//! One [`Client`] owns the executor's stdin (requests, one JSON line each) and a task that reads
//! its stdout (responses and events) and routes every line to the request it belongs to, by id.
//! Any number of requests may be in flight at once; each call waits only for its own response.
//! Messages are built and parsed only through `dw-protocol`'s types.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use dw_protocol::result::HelloResult;
use dw_protocol::{Event, Failure, Op, Operation, Outgoing, Request, Response};
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

/// Why a request got no result.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The executor answered with an error.
    #[error("the executor refused `{op}`: {failure}")]
    Failed {
        /// The op's wire name.
        op: &'static str,
        /// Its answer.
        failure: Failure,
    },
    /// The executor's output ended before the answer came.
    #[error(
        "the executor stopped before answering `{op}` ({reason}); the sandbox container may have been removed or killed — run the command again"
    )]
    Closed {
        /// The op's wire name.
        op: &'static str,
        /// Why its output ended, as far as the client knows.
        reason: String,
    },
    /// The request could not be written to the executor's stdin.
    #[error("cannot send `{op}` to the executor: {source}; the sandbox container may have stopped")]
    Send {
        /// The op's wire name.
        op: &'static str,
        /// The write's error.
        #[source]
        source: std::io::Error,
    },
    /// The answer is not what the op promises (an executor of another version?).
    #[error(
        "the executor's answer to `{op}` is not understood ({source}); use a dw-agent built from the same version as dw"
    )]
    Decode {
        /// The op's wire name.
        op: &'static str,
        /// serde's error.
        #[source]
        source: serde_json::Error,
    },
    /// The request could not be encoded (a bug in dw).
    #[error("cannot encode `{op}` as JSON: {source}")]
    Encode {
        /// The op's wire name.
        op: &'static str,
        /// serde's error.
        #[source]
        source: serde_json::Error,
    },
    /// The executor is another version than this dw.
    #[error(
        "the executor is dw-agent {found}, this dw is {expected}; use the dw-agent built with this dw (DW_AGENT names it)"
    )]
    Version {
        /// The executor's version.
        found: String,
        /// dw's version.
        expected: String,
    },
}

type Input = Pin<Box<dyn AsyncWrite + Send>>;

/// Where one request's events and response go.
struct Pending {
    events: mpsc::UnboundedSender<Event>,
    done: oneshot::Sender<Response>,
}

/// The requests in flight, or why no more can be answered.
enum Routes {
    Open(HashMap<u64, Pending>),
    Closed(String),
}

/// A connection to one executor. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Client {
    input: Arc<tokio::sync::Mutex<Input>>,
    routes: Arc<Mutex<Routes>>,
    next_id: Arc<AtomicU64>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// Starts routing the executor's stdout `lines` (without line breaks) and keeps `input`,
    /// its stdin, for requests. Must be called within a tokio runtime.
    pub fn new<L, E>(lines: L, input: impl AsyncWrite + Send + 'static) -> Self
    where
        L: Stream<Item = Result<String, E>> + Send + 'static,
        E: std::fmt::Display + 'static,
    {
        let routes = Arc::new(Mutex::new(Routes::Open(HashMap::new())));
        tokio::spawn(route(Box::pin(lines), Arc::clone(&routes)));
        Self {
            input: Arc::new(tokio::sync::Mutex::new(Box::pin(input))),
            routes,
            next_id: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Sends `op` and waits for its result; events (a command's output) are dropped.
    pub async fn call<O: Operation>(&self, op: O) -> Result<O::Output, ClientError> {
        self.call_streaming(op, |_| {}).await
    }

    /// Sends `op`, hands each of its events to `on_event` as it arrives, and returns its result.
    pub async fn call_streaming<O: Operation>(
        &self,
        op: O,
        mut on_event: impl FnMut(Event),
    ) -> Result<O::Output, ClientError> {
        let op: Op = op.into();
        let name = op.name();
        let (mut events, done) = self.send(op).await?;
        let mut done = std::pin::pin!(done);
        let response = loop {
            tokio::select! {
                biased;
                Some(event) = events.recv() => on_event(event),
                response = &mut done => break response,
            }
        };
        // The reader routes a request's events before its response: drain what is left.
        while let Ok(event) = events.try_recv() {
            on_event(event);
        }
        let response = response.map_err(|_| ClientError::Closed {
            op: name,
            reason: self.closed_reason(),
        })?;
        let response = response
            .decode::<O::Output>()
            .map_err(|source| ClientError::Decode { op: name, source })?;
        response
            .outcome
            .map_err(|failure| ClientError::Failed { op: name, failure })
    }

    /// `hello`, checking that the executor is this dw's version.
    pub async fn hello(&self) -> Result<HelloResult, ClientError> {
        let hello = self.call(dw_protocol::request::Hello {}).await?;
        if hello.version != dw_runtime::image::DW_VERSION {
            return Err(ClientError::Version {
                found: hello.version,
                expected: dw_runtime::image::DW_VERSION.to_owned(),
            });
        }
        Ok(hello)
    }

    /// Registers a request, then writes it.
    async fn send(
        &self,
        op: Op,
    ) -> Result<(mpsc::UnboundedReceiver<Event>, oneshot::Receiver<Response>), ClientError> {
        let name = op.name();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let request = Request::new(id, op);
        let mut line = request
            .to_line()
            .map_err(|source| ClientError::Encode { op: name, source })?;
        line.push('\n');
        let (events_sender, events) = mpsc::unbounded_channel();
        let (done_sender, done) = oneshot::channel();
        {
            let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
            match &mut *routes {
                Routes::Open(pending) => {
                    pending.insert(
                        id,
                        Pending {
                            events: events_sender,
                            done: done_sender,
                        },
                    );
                }
                Routes::Closed(reason) => {
                    return Err(ClientError::Closed {
                        op: name,
                        reason: reason.clone(),
                    });
                }
            }
        }
        let mut input = self.input.lock().await;
        let written = async {
            input.write_all(line.as_bytes()).await?;
            input.flush().await
        }
        .await;
        if let Err(source) = written {
            self.forget(id);
            return Err(ClientError::Send { op: name, source });
        }
        Ok((events, done))
    }

    fn forget(&self, id: u64) {
        if let Routes::Open(pending) =
            &mut *self.routes.lock().unwrap_or_else(PoisonError::into_inner)
        {
            pending.remove(&id);
        }
    }

    fn closed_reason(&self) -> String {
        match &*self.routes.lock().unwrap_or_else(PoisonError::into_inner) {
            Routes::Closed(reason) => reason.clone(),
            Routes::Open(_) => "no answer".to_owned(),
        }
    }
}

/// Reads the executor's stdout until it ends, routing each line; then fails what is pending.
async fn route<E: std::fmt::Display>(
    mut lines: Pin<Box<dyn Stream<Item = Result<String, E>> + Send>>,
    routes: Arc<Mutex<Routes>>,
) {
    let reason = loop {
        let line = match lines.next().await {
            None => break "its output ended".to_owned(),
            Some(Err(error)) => break format!("reading its output failed: {error}"),
            Some(Ok(line)) => line,
        };
        // A line that is not a protocol message (or one for nobody) has no request to go to.
        let Ok(outgoing) = Outgoing::from_line(&line) else {
            continue;
        };
        let mut routes = routes.lock().unwrap_or_else(PoisonError::into_inner);
        let Routes::Open(pending) = &mut *routes else {
            return;
        };
        match outgoing {
            Outgoing::Event(event) => {
                if let Some(request) = pending.get(&event.id) {
                    let _ = request.events.send(event);
                }
            }
            Outgoing::Response(response) => {
                if let Some(request) = response.id.and_then(|id| pending.remove(&id)) {
                    let _ = request.done.send(response);
                }
            }
        }
    };
    // Dropping the senders wakes every waiting call with `Closed`.
    *routes.lock().unwrap_or_else(PoisonError::into_inner) = Routes::Closed(reason);
}
