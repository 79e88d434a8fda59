//! `dw setup`: the one-time workstation bootstrap, as a plan of steps.
//!
//! Owns the bootstrap: detect what the workstation has, choose the runtime, plan the four steps
//! (`install`, `start`, `pull`, `settings`), and either preview the plan (`--dry-run`) or apply
//! it. The plan is a value, so the dry run shows exactly what the run does:
//!
//! - [`step`]: the steps' stable ids and `--only`/`--skip` selection;
//! - [`plan`]: detection (discovery, `which`, `colima status`, image presence, settings files),
//!   the runtime choice (adopt a running VM-backed runtime, else Colima; a native engine only on
//!   request), and [`Plan`], whose steps' actions are data: argv vectors, an image reference,
//!   settings edits with their text before and after;
//! - [`apply`]: [`preview`] (the dry run) and [`apply()`](apply::apply) (the run), both giving a
//!   [`Report`] of [`StepOutcome`]s, with progress sent to an [`Observer`] the caller renders;
//! - [`colima`]: the VM's limits and `colima start`'s command line;
//! - [`install`]: what the Colima route needs, Homebrew's command, and the exact commands to run
//!   by hand where Homebrew is missing;
//! - [`pull`]: image presence and the pull through the Engine API, with failures sorted by fix;
//! - [`settings`]: which VS Code settings files get the socket, and each edit's unified diff.
//!
//! It does not own runtime discovery, the engine connection, VS Code's paths or the JSONC editor:
//! those live in `dw-runtime`, shared with `dw doctor` and `dw run`. It prints nothing: rendering
//! is the binary's.
#![forbid(unsafe_code)]

pub mod apply;
pub mod colima;
pub mod install;
pub mod plan;
pub mod pull;
pub mod settings;
pub mod step;

pub use apply::{Observer, Report, StepOutcome, StepStatus, apply, preview};
pub use plan::{Options, Plan, RuntimeRequest, SetupError, plan};
pub use step::{Selection, StepId};
