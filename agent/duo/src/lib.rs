//! A client of GitLab's Duo Workflow Service, for `dw run --duo`.
//!
//! GitLab's planner and model run in the service; dw executes what it asks for. This crate
//! owns the conversation, not the execution:
//!
//! - [`message`]: the messages — [`ClientEvent`]s the client sends (`startRequest`,
//!   `actionResponse`, `heartbeat`, `stopWorkflow`) and [`Action`]s the service sends
//!   (`runReadFile`, `runCommand`, `runHTTPRequest`, `newCheckpoint` …), shaped as the JSON
//!   mapping of GitLab's `contract.proto`. An unknown action kind decodes to
//!   [`ActionKind::Unknown`], never to an error.
//! - [`api`]: the REST calls on the GitLab instance — [`GitLab::create_workflow`],
//!   [`GitLab::direct_access`], and [`GitLab::api`] for the agent's `runHTTPRequest`s — each
//!   reported to an optional [`HttpAudit`] hook.
//! - [`Session`] over two transports, opened by [`connect`]: [`websocket`] (through GitLab,
//!   the default) and [`grpc`] (straight to the service, with direct-access credentials).
//! - [`Heartbeats`]: the 30-second heartbeat timer.
//! - [`Error`], whose [`Error::retry`] tells a reconnect loop what to do.
//!
//! Not here: executing actions, policy (which `runHTTPRequest` is allowed), approvals, backoff
//! and the audit log — those belong to the runner, which calls [`connect`] again to resume.
//!
//! Tokens are [`Token`]s: they never appear in `Debug` output or error messages.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
mod error;
pub mod grpc;
mod heartbeat;
pub mod message;
mod session;
mod token;
pub mod websocket;

pub use api::{
    ApiResponse, CreatedWorkflow, DirectAccess, GitLab, HttpAudit, HttpExchange, NewWorkflow,
};
pub use error::{Error, Result, Retry};
pub use grpc::GrpcTarget;
pub use heartbeat::{HEARTBEAT_PERIOD, Heartbeats, heartbeat_now};
pub use message::{
    Action, ActionKind, ActionResponse, Approval, CheckpointStatus, ClientEvent, StartRequest,
};
pub use session::{AnySession, Session, Target, connect};
pub use token::Token;
pub use websocket::WebSocketTarget;
