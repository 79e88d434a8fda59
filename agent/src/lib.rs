//! The host side of dw's agent: workflows (plan, approval, execution, state, audit), the sandbox
//! container the executor runs in, model providers and the read-only GitLab client.
//!
//! The executor itself (`dw-agent`, in `agent/executor`) and the messages between the two
//! (`dw-protocol`, in `agent/protocol`) are separate crates, so that the executor depends on
//! nothing that talks to Docker or the network.
//!
//! What this crate owns so far:
//! - [`executor`]: where the static `dw-agent` binary is on the host, checked before use;
//! - [`masks`]: the credential-looking files and directories of a project, to hide in the sandbox;
//! - [`owner`]: which dw process owns a container, and whether it is still alive;
//! - [`sandbox`]: a running sandbox — the container made from a
//!   [`SandboxSpec`](dw_runtime::sandbox::SandboxSpec), its executor attached, removed on drop;
//! - [`client`]: the typed, concurrent client of the executor protocol;
//! - [`reaper`]: removes sandbox containers whose dw process is gone;
//! - [`record`]: what a workflow's `events.jsonl` holds (statuses, plan, messages, tool calls
//!   and results, the conversation);
//! - [`store`]: where workflows live on disk, their lock, the event log and the audit log;
//! - [`tools`]: the tools the model gets, run by the executor or the read-only GitLab client;
//! - [`runner`]: the workflow runner — plan, approval, execution, pause/adjust/resume/stop;
//! - [`duo`]: the runner of `dw run --duo` — GitLab's Duo Workflow executed on the same
//!   sandbox, tools, state, audit log and output.
//!
//! The model providers (`dw-provider`), the GitLab client (`dw-gitlab`) and the Duo Workflow
//! Service client (`dw-duo`) are crates of their own under `agent/`.
#![forbid(unsafe_code)]

pub mod client;
pub mod duo;
pub mod executor;
pub mod masks;
pub mod owner;
pub mod reaper;
pub mod record;
pub mod runner;
pub mod sandbox;
pub mod store;
pub mod tools;

/// The messages between dw and its executor, for callers of [`Client`].
pub use dw_protocol as protocol;

/// dw's configuration file (it lives in `dw-runtime`, which doctor reads it from too).
pub use dw_runtime::config;

pub use client::{Client, ClientError};
pub use reaper::{Removed, reap_orphans};
pub use sandbox::{Sandbox, SandboxError, SandboxOptions};
