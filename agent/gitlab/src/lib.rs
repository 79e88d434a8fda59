//! A read-only GitLab REST v4 client for dw's agent tools.
//!
//! What this crate owns:
//! - [`client`]: [`GitLabClient`], one method per read-only GitLab tool the agent gets (project,
//!   merge request, its diffs and pipelines, a pipeline's failed jobs, a job's log). Every request
//!   is a `GET`: the only request builder is private and fixed to that method, so no caller can
//!   write to GitLab through this crate.
//! - [`audit`]: the hook through which every HTTP request is reported (method, URL, status,
//!   duration), for the workflow's audit log.
//! - [`error`]: errors that say what failed and what to do (token scope, access, network).
//! - [`remote`]: the GitLab instance and project path behind a git remote URL.
//!
//! What it does not own: deciding when the agent may call GitLab, or turning results into tool
//! output for the model. That is the workflow runner's job (`dw-workflow`).
//!
//! The token is sent as `PRIVATE-TOKEN` and appears nowhere else: not in errors, not in `Debug`
//! output, not in audit records.
#![forbid(unsafe_code)]

pub mod audit;
pub mod client;
pub mod error;
pub mod remote;

pub use audit::{HttpAudit, HttpExchange, NoAudit};
pub use client::{GitLabClient, GitLabConfig, JobLog, Listing, ProjectRef};
pub use error::GitLabError;
pub use remote::{RemoteError, RemoteProject, parse_remote};
