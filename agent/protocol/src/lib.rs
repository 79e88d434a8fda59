//! Every message between `dw` (the host) and `dw-agent` (the executor in the sandbox container).
//!
//! The wire format is newline-delimited JSON over the executor's stdin and stdout: one JSON
//! object per line, never a line break inside one. This crate owns the shapes of those objects;
//! both ends build and parse them only through these types.
//!
//! - [`request`]: what the host sends — a [`Request`] is an `id` plus an [`Op`], tagged by `op`
//!   (`{"id": 7, "op": "read_file", "path": "src/main.rs"}`). Each op's parameters are a struct
//!   that implements [`Operation`], which names the type its successful result decodes into.
//! - [`result`]: the `result` payloads of successful responses, one struct per op.
//! - [`response`]: a [`Response`] ends every request, exactly once:
//!   `{"id": 7, "ok": true, "result": {…}}` or
//!   `{"id": 7, "ok": false, "error": {"kind": "not_found", "message": "…"}}`; a line the executor
//!   could not attribute to a request is answered with `"id": null`. A [`Failure`] is the
//!   `error` object, its [`ErrorKind`] the closed set of reasons.
//! - [`event`]: streamed output of a running command, written before the response of the request
//!   it belongs to (`{"id": 7, "event": "stdout", "data": "…"}`).
//! - [`Outgoing`]: one line the executor writes, either a response or an event — what the host
//!   parses each line of the executor's stdout into.
//!
//! This crate does no IO and knows nothing about files, processes or containers.
#![forbid(unsafe_code)]

pub mod event;
pub mod request;
pub mod response;
pub mod result;

mod outgoing;

pub use event::{Event, Stream};
pub use outgoing::Outgoing;
pub use request::{Malformed, Op, Operation, Request};
pub use response::{ErrorKind, Failure, Response};
