//! `dw-agent`: the executor that runs inside dw's sandbox container.
//!
//! The host starts `dw-agent serve --root /workspace` in the container and speaks the
//! newline-delimited JSON protocol of `dw-protocol` with it over stdin and stdout. The executor
//! performs file, search and command actions on the workspace and nothing else: it holds no
//! secrets, talks to no network and knows nothing of Docker.
//!
//! - [`session`]: the serve loop — reading lines, dispatching requests concurrently, the end of
//!   input and `shutdown`. Start here.
//! - [`workspace`]: the root, and the confinement of every request path beneath it (cap-std,
//!   `openat2(RESOLVE_BENEATH)`).
//! - `files`: `read_file`, `write_file` (atomic), `edit_file`, `list_dir`, `mkdir`.
//! - `search`: `find_files` and `grep`, walking like ripgrep.
//! - `command`: `run_command` and `git` — process groups, timeouts, streamed and capped output.
//! - `running`: the table of cancellable requests and their process groups.
//! - `pool`: the threads for file and search actions, all started with the executor, so that
//!   serving never needs a new thread (the sandbox's pids limit may be spent by a command).
//! - `outbox` and `output`: whole lines to stdout from one writer; capped UTF-8 output.
//!
//! The public surface is what the binary and the tests need: [`serve`], [`serve_with`] and
//! [`Workspace`] (whose [`Workspace::relative`] and `dw_protocol::Request::from_line` are the
//! entry points worth fuzzing).
#![forbid(unsafe_code)]

pub mod session;
pub mod workspace;

mod command;
mod files;
mod outbox;
mod output;
mod pool;
mod running;
mod search;

pub use session::{ServeError, serve, serve_with};
pub use workspace::Workspace;
