//! The check table and the runner: every check is a row; the runner walks the selected rows
//! concurrently and turns each result into a [`Finding`].

use futures_util::future::BoxFuture;

use crate::checks;
use crate::context::Context;
use crate::finding::{Finding, Outcome, Report};

/// What a check function returns.
pub type CheckResult = Result<Outcome, CheckError>;

/// A check: reads the context, returns an outcome.
pub type CheckFn = for<'a> fn(&'a Context) -> BoxFuture<'a, CheckResult>;

/// One row of the check table.
#[derive(Clone, Copy)]
pub struct Check {
    /// The stable id (`vm-isolation`).
    pub id: &'static str,
    /// The number in the documented risk list, if the check maps to one.
    pub risk: Option<u8>,
    /// What it establishes, in a few words.
    pub title: &'static str,
    /// Whether it needs a reachable engine (it is skipped without one).
    pub needs_engine: bool,
    /// The check itself.
    pub run: CheckFn,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Check")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Why a check could not finish. It becomes that check's `fail`, with this text.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// An engine call failed.
    #[error(transparent)]
    Engine(#[from] dw_runtime::engine::EngineError),
    /// A file or command could not be read or run.
    #[error("cannot {action} {}: {source}", target.display())]
    Io {
        /// What was attempted (`read`, `run git in`).
        action: &'static str,
        /// On what.
        target: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The advisory table is broken.
    #[error(transparent)]
    Advisories(#[from] crate::advisory::TableError),
    /// A check that needs an engine ran without one (a bug in the table).
    #[error("no engine is reachable; see engine-reachable")]
    NoEngine,
    /// An HTTP request failed.
    #[error("{0}")]
    Http(String),
    /// A probe container could not report.
    #[error(transparent)]
    Probe(#[from] crate::probe::ProbeError),
    /// doctor could not open its own listeners for the network probe.
    #[error(transparent)]
    Listen(#[from] crate::listener::ListenError),
    /// This host's network addresses could not be listed.
    #[error("cannot list this host's network addresses: {0}")]
    Interfaces(#[source] std::io::Error),
}

/// The checks, in the order they are reported. Adding a check is one row.
pub const CHECKS: &[Check] = &[
    Check {
        id: "engine-reachable",
        risk: None,
        title: "a container engine answers",
        needs_engine: false,
        run: checks::engine::reachable,
    },
    Check {
        id: "socket-setting",
        risk: None,
        title: "VS Code's dockerSocket setting points at the engine",
        needs_engine: false,
        run: checks::vscode::socket_setting,
    },
    Check {
        id: "socket-permissions",
        risk: None,
        title: "you can use the engine's socket",
        needs_engine: false,
        run: checks::socket::permissions,
    },
    Check {
        id: "vm-isolation",
        risk: Some(1),
        title: "the engine runs in a VM, not on this host",
        needs_engine: true,
        run: checks::isolation::vm_isolation,
    },
    Check {
        id: "network-isolation",
        risk: Some(2),
        title: "containers cannot reach services on your host and network",
        needs_engine: true,
        run: checks::network::network_isolation,
    },
    Check {
        id: "resource-limits",
        risk: Some(3),
        title: "the engine cannot take all of this host's CPUs and memory",
        needs_engine: true,
        run: checks::resources::resource_limits,
    },
    Check {
        id: "hardware-access",
        risk: Some(4),
        title: "no GPU or passthrough device is offered to containers",
        needs_engine: true,
        run: checks::hardware::hardware_access,
    },
    Check {
        id: "engine-advisories",
        risk: Some(5),
        title: "no known container-escape advisory affects the engine",
        needs_engine: true,
        run: checks::advisories::engine_advisories,
    },
    Check {
        id: "mounts",
        risk: Some(6),
        title: "the VM does not share your whole home writable",
        needs_engine: true,
        run: checks::mounts::mounts,
    },
    Check {
        id: "project-secrets",
        risk: Some(7),
        title: "credential files in the workspace",
        needs_engine: false,
        run: checks::secrets::project_secrets,
    },
    Check {
        id: "shared-vm",
        risk: Some(8),
        title: "no other containers share the engine",
        needs_engine: true,
        run: checks::engine::shared_vm,
    },
    Check {
        id: "token-scope",
        risk: Some(9),
        title: "dw's GitLab token can only read",
        needs_engine: false,
        run: checks::token::token_scope,
    },
    Check {
        id: "secrets-in-goals",
        risk: Some(10),
        title: "secrets in goals and tool output are redacted",
        needs_engine: false,
        run: checks::secrets::secrets_in_goals,
    },
    Check {
        id: "extension-version",
        risk: None,
        title: "the GitLab Workflow extension is recent enough",
        needs_engine: false,
        run: checks::vscode::extension_version,
    },
    Check {
        id: "git-project",
        risk: None,
        title: "the workspace is a git repository with a GitLab remote",
        needs_engine: false,
        run: checks::git::git_project,
    },
    Check {
        id: "base-image",
        risk: None,
        title: "the workflow base image is on the engine",
        needs_engine: true,
        run: checks::engine::base_image,
    },
];

/// An id that names no check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown check `{id}`; the checks are: {}", ids().join(", "))]
pub struct UnknownCheck {
    /// The id as given.
    pub id: String,
}

/// Every check id, in table order.
pub fn ids() -> Vec<&'static str> {
    CHECKS.iter().map(|check| check.id).collect()
}

/// The checks named by `ids` (all of them when empty), in table order.
pub fn select(ids: &[String]) -> Result<Vec<&'static Check>, UnknownCheck> {
    if let Some(unknown) = ids
        .iter()
        .find(|id| !CHECKS.iter().any(|check| check.id == id.as_str()))
    {
        return Err(UnknownCheck {
            id: unknown.clone(),
        });
    }
    Ok(CHECKS
        .iter()
        .filter(|check| ids.is_empty() || ids.iter().any(|id| id == check.id))
        .collect())
}

/// Runs `checks` concurrently against `context`.
pub async fn run(context: &Context, checks: &[&Check]) -> Report {
    let findings =
        futures_util::future::join_all(checks.iter().map(|check| run_one(context, check))).await;
    Report::new(findings)
}

async fn run_one(context: &Context, check: &Check) -> Finding {
    let outcome = if check.needs_engine && context.engine.is_none() {
        Outcome::skip("no engine is reachable (see engine-reachable)")
    } else {
        match (check.run)(context).await {
            Ok(outcome) => outcome,
            Err(error) => Outcome::fail(format!("the check could not finish: {error}")),
        }
    };
    Finding {
        id: check.id,
        risk: check.risk,
        status: outcome.status,
        summary: outcome.summary,
        evidence: outcome.evidence,
        fix: outcome.fix,
    }
}
