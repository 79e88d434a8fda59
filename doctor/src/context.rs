//! Everything the checks read, gathered once before they run.

use std::path::PathBuf;
use std::time::Duration;

use dw_runtime::discovery::{self, Discovery, DiscoveryEnv, Source};
use dw_runtime::endpoint::Endpoint;
use dw_runtime::engine::Engine;
use dw_runtime::facts::EngineFacts;
use dw_runtime::host::{HostFacts, Os};
use dw_runtime::kind::RuntimeKind;
use dw_runtime::vscode::UserDirs;

use crate::advisory::EngineFeatures;
use crate::probe::ProbeSettings;

/// What the caller decides: where to look, and for what.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How engines are discovered (home, `--host`, `DOCKER_HOST` …).
    pub discovery: DiscoveryEnv,
    /// Where VS Code's settings live.
    pub user_dirs: UserDirs,
    /// The project the agent would work on.
    pub workspace: PathBuf,
    /// The workflow base image.
    pub image: String,
    /// The GitLab instance and token dw is configured with.
    pub gitlab: GitLab,
    /// The deadline of every engine call.
    pub deadline: Duration,
    /// Whether and how probe containers run.
    pub probe: ProbeSettings,
}

/// The GitLab instance and token dw is configured with (`GITLAB_URL`, `GITLAB_TOKEN`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct GitLab {
    /// The instance's base URL, `https://gitlab.com` unless configured.
    pub url: Option<String>,
    /// The personal access token, if any.
    pub token: Option<String>,
}

impl std::fmt::Debug for GitLab {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("GitLab")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl GitLab {
    /// Reads `GITLAB_URL` and `GITLAB_TOKEN` from the process environment.
    pub fn from_process() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
        };
        Self {
            url: var("GITLAB_URL"),
            token: var("GITLAB_TOKEN"),
        }
    }

    /// The instance's host name, when configured (`gitlab.example.com`).
    pub fn host(&self) -> Option<String> {
        let url = self.url.as_deref()?;
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let authority = rest.split('/').next()?;
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        let host = host.split(':').next()?;
        (!host.is_empty()).then(|| host.to_ascii_lowercase())
    }
}

/// The engine doctor checks: the one dw uses.
#[derive(Debug, Clone)]
pub struct SelectedEngine {
    /// Its kind, as its answers reveal.
    pub kind: RuntimeKind,
    /// Where it was found.
    pub source: Source,
    /// Its address.
    pub endpoint: Endpoint,
    /// The connection.
    pub engine: Engine,
    /// What it says about itself.
    pub facts: EngineFacts,
    /// What advisories may require of it.
    pub features: EngineFeatures,
}

/// The facts every check reads.
#[derive(Debug, Clone)]
pub struct Context {
    /// This machine.
    pub host: HostFacts,
    /// Every engine candidate, probed.
    pub discovery: Discovery,
    /// The engine dw uses, when one answers.
    pub engine: Option<SelectedEngine>,
    /// The caller's settings.
    pub settings: Settings,
}

impl Context {
    /// Discovers the engines and reads this machine's facts.
    pub async fn gather(settings: Settings) -> Self {
        let host = HostFacts::detect();
        let discovery = discovery::discover(&settings.discovery, settings.deadline).await;
        let engine = match discovery.selected() {
            Some(runtime) => select(runtime).await,
            None => None,
        };
        Self {
            host,
            discovery,
            engine,
            settings,
        }
    }

    /// The OS whose conventions apply.
    pub fn os(&self) -> Os {
        self.host.os
    }
}

async fn select(runtime: &discovery::Runtime) -> Option<SelectedEngine> {
    let engine = runtime.engine.clone()?;
    let facts = runtime.facts.clone()?;
    let endpoint = engine.endpoint().clone();
    let authorization_plugins = facts.authorization_plugins.clone();
    Some(SelectedEngine {
        kind: runtime.kind,
        source: runtime.source.clone(),
        endpoint,
        engine,
        facts,
        features: EngineFeatures {
            authorization_plugins,
        },
    })
}
