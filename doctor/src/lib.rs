//! `dw doctor`: every documented risk of running an agent in a container, checked on the real
//! machine.
//!
//! Owns the checks, their findings (pass / warn / fail / skip with evidence and a fix) and the
//! advisory table (`doctor/data/`). It does not own how facts are gathered from the host and the
//! engine (that is `dw-runtime`'s job), nor how findings are printed (that is the `dw` binary's).
//!
//! - [`context`]: the facts every check reads, gathered once ([`Context::gather`]);
//! - [`check`]: the check table ([`CHECKS`]), selection by id and the concurrent runner;
//! - [`finding`]: what a check returns and what a run reports;
//! - [`checks`]: the checks themselves, one module per thing they look at;
//! - [`advisory`]: the advisory table and how engine versions are judged against it;
//! - [`version`]: upstream and Debian package version ordering;
//! - [`vm`]: the engine's VM as its runtime configured it (Colima, Lima), and the host
//!   directories it shares.
//!
//! Not yet here: `network-isolation`, and the probe-container halves of `hardware-access` and
//! `mounts` (they need the sandbox's probe container).
#![forbid(unsafe_code)]

pub mod advisory;
pub mod check;
pub mod checks;
pub mod context;
pub mod finding;
pub mod version;
pub mod vm;

pub use check::{CHECKS, Check, CheckError, UnknownCheck, ids, run, select};
pub use context::{Context, GitLab, Settings};
pub use finding::{Finding, Report, Status, Summary};
