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
//!   directories it shares;
//! - [`probe`]: probe containers, made from dw's sandbox spec
//!   ([`SandboxSpec`](dw_runtime::sandbox::SandboxSpec)) with a script in place of the executor,
//!   for what only the inside of a container shows (`network-isolation`, and the probe halves of
//!   `hardware-access` and `mounts`); always removed, also when doctor is interrupted;
//! - [`listener`]: doctor's own TCP listeners, the only things the network probe connects to.
#![forbid(unsafe_code)]

pub mod advisory;
pub mod check;
pub mod checks;
pub mod context;
pub mod finding;
pub mod listener;
pub mod probe;
pub mod version;
pub mod vm;

pub use check::{CHECKS, Check, CheckError, UnknownCheck, ids, run, select};
pub use context::{Context, GitLab, Settings};
pub use finding::{Finding, Report, Status, Summary};
pub use probe::{ProbeSettings, ProbeTarget};
