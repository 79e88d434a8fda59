//! Facts about the workstation, shared by every dw journey (`setup`, `doctor`, `run`).
//!
//! What this crate owns:
//! - [`host`]: the host itself (OS, architecture, kernel, hostname, CPUs, memory), from sysinfo;
//! - [`endpoint`]: what an engine address means (`unix:///…`, `tcp://…`, a bare socket path);
//! - [`kind`]: the kinds of container runtime dw knows, and how an engine's `/info` reveals one;
//! - [`discovery`]: the ordered list of candidate engines (`--host`, `DOCKER_HOST`, the Docker CLI
//!   context, the known runtimes' default sockets) and which one dw uses;
//! - [`engine`]: the connection to an engine (bollard) with a deadline on every call, and errors
//!   that teach the user what to do;
//! - [`facts`]: one typed struct from the engine's `/version` and `/info`;
//! - [`image`]: the workflow base image and the labels dw puts on what it creates;
//! - [`vscode`]: the VS Code flavours, where their settings and extensions live;
//! - [`jsonc`]: get and set a top-level key of a VS Code settings document, keeping every other
//!   byte;
//! - [`atomic`]: atomic file replacement with a backup, for every file dw edits;
//! - [`container`]: removing the containers dw makes, also on drop;
//! - [`config`]: dw's configuration file (sandbox limits, extra and excepted mask patterns);
//! - [`secrets`]: what secret-looking values look like, and their redaction;
//! - [`sandbox`]: the sandbox policy as a value, shared by the agent's container and the
//!   doctor's probes.
//!
//! What it does not own: the setup plan, the doctor's checks, the workflow runner. Those live in
//! the `dw-setup`, `dw-doctor` and `dw-workflow` crates, which all build on this one.
#![forbid(unsafe_code)]

pub mod atomic;
pub mod config;
pub mod container;
pub mod discovery;
pub mod endpoint;
pub mod engine;
pub mod facts;
pub mod host;
pub mod image;
pub mod jsonc;
pub mod kind;
pub mod sandbox;
pub mod secrets;
pub mod vscode;
