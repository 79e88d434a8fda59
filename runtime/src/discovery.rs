//! Which container engines this workstation has, and which one dw uses.
//!
//! Candidates come from, in precedence order:
//! 1. `--host`, then `DOCKER_HOST`;
//! 2. the current Docker CLI context (`DOCKER_CONTEXT`, else `config.json` `currentContext`);
//! 3. the known runtimes' default sockets, in the order of [`KNOWN_PLACES`].
//!
//! [`candidates`] lists them from the filesystem alone; [`discover`] then probes every candidate
//! concurrently (does the socket exist, does an engine answer, what does it say it is) and selects
//! the first reachable one. Everything this module reads comes through [`DiscoveryEnv`], so tests
//! build a whole workstation in a temp directory.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::endpoint::Endpoint;
use crate::engine::Engine;
use crate::facts::EngineFacts;
use crate::kind::RuntimeKind;

/// Everything discovery reads from the process environment, made explicit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryEnv {
    /// The user's home directory.
    pub home: PathBuf,
    /// The global `--host` flag.
    pub host_flag: Option<String>,
    /// `DOCKER_HOST`.
    pub docker_host: Option<String>,
    /// `DOCKER_CONTEXT`.
    pub docker_context: Option<String>,
    /// `DOCKER_CONFIG` (the Docker CLI's configuration directory), else `~/.docker`.
    pub docker_config: Option<PathBuf>,
    /// `COLIMA_HOME`, else `~/.colima`.
    pub colima_home: Option<PathBuf>,
    /// `XDG_RUNTIME_DIR`, where rootless engines and Podman put their sockets on Linux.
    pub xdg_runtime_dir: Option<PathBuf>,
    /// The system engine's socket, `/var/run/docker.sock`.
    pub system_socket: PathBuf,
}

/// Discovery could not start.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// Without a home directory no runtime's default place can be found.
    #[error("cannot find your home directory: set HOME")]
    NoHome,
}

impl DiscoveryEnv {
    /// Reads the process environment; `host_flag` is the value of the global `--host`.
    pub fn from_process(host_flag: Option<String>) -> Result<Self, DiscoveryError> {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let home = var("HOME")
            .map(PathBuf::from)
            .or_else(|| directories::BaseDirs::new().map(|dirs| dirs.home_dir().to_owned()))
            .ok_or(DiscoveryError::NoHome)?;
        Ok(Self {
            home,
            host_flag,
            docker_host: var("DOCKER_HOST"),
            docker_context: var("DOCKER_CONTEXT"),
            docker_config: var("DOCKER_CONFIG").map(PathBuf::from),
            colima_home: var("COLIMA_HOME").map(PathBuf::from),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR").map(PathBuf::from),
            system_socket: PathBuf::from("/var/run/docker.sock"),
        })
    }

    fn docker_config_dir(&self) -> PathBuf {
        self.docker_config
            .clone()
            .unwrap_or_else(|| self.home.join(".docker"))
    }

    fn colima_dir(&self) -> PathBuf {
        self.colima_home
            .clone()
            .unwrap_or_else(|| self.home.join(".colima"))
    }
}

/// Where a known runtime keeps its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A path relative to the home directory.
    Home(&'static str),
    /// A path relative to `XDG_RUNTIME_DIR`.
    RuntimeDir(&'static str),
    /// `<colima home>/<profile>/docker.sock` for every Colima profile, `default` first.
    ColimaProfiles,
    /// `~/.lima/<instance>/sock/docker.sock` for every Lima instance.
    LimaInstances,
    /// The system engine's socket.
    System,
}

/// One row of the known-runtimes table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownPlace {
    /// The runtime that puts its socket there.
    pub kind: RuntimeKind,
    /// How the candidate's source is named, e.g. "Rancher Desktop".
    pub label: &'static str,
    /// Where.
    pub place: Place,
}

/// The known runtimes' default sockets, in precedence order. Adding a runtime is one row.
pub const KNOWN_PLACES: &[KnownPlace] = &[
    KnownPlace {
        kind: RuntimeKind::Colima,
        label: "colima profile",
        place: Place::ColimaProfiles,
    },
    KnownPlace {
        kind: RuntimeKind::RancherDesktop,
        label: "Rancher Desktop",
        place: Place::Home(".rd/docker.sock"),
    },
    KnownPlace {
        kind: RuntimeKind::DockerDesktop,
        label: "Docker Desktop",
        place: Place::Home(".docker/run/docker.sock"),
    },
    KnownPlace {
        kind: RuntimeKind::DockerDesktop,
        label: "Docker Desktop for Linux",
        place: Place::Home(".docker/desktop/docker.sock"),
    },
    KnownPlace {
        kind: RuntimeKind::Orbstack,
        label: "OrbStack",
        place: Place::Home(".orbstack/run/docker.sock"),
    },
    KnownPlace {
        kind: RuntimeKind::Podman,
        label: "Podman",
        place: Place::RuntimeDir("podman/podman.sock"),
    },
    KnownPlace {
        kind: RuntimeKind::Podman,
        label: "Podman machine",
        place: Place::Home(".local/share/containers/podman/machine/podman.sock"),
    },
    KnownPlace {
        kind: RuntimeKind::Podman,
        label: "Podman machine (qemu)",
        place: Place::Home(".local/share/containers/podman/machine/qemu/podman.sock"),
    },
    KnownPlace {
        kind: RuntimeKind::Lima,
        label: "lima instance",
        place: Place::LimaInstances,
    },
    KnownPlace {
        kind: RuntimeKind::DockerEngineRootless,
        label: "rootless Docker",
        place: Place::RuntimeDir("docker.sock"),
    },
    KnownPlace {
        kind: RuntimeKind::DockerEngine,
        label: "system engine",
        place: Place::System,
    },
];

/// Where a candidate came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The global `--host` flag.
    HostFlag,
    /// `DOCKER_HOST`.
    DockerHost,
    /// A Docker CLI context.
    DockerContext(String),
    /// A known runtime's default place; the text names it ("colima profile default").
    Known(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::HostFlag => formatter.write_str("--host"),
            Self::DockerHost => formatter.write_str("DOCKER_HOST"),
            Self::DockerContext(name) => write!(formatter, "docker context {name}"),
            Self::Known(label) => formatter.write_str(label),
        }
    }
}

/// A possible engine, before anyone has talked to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The kind its place suggests.
    pub kind: RuntimeKind,
    /// Where it came from.
    pub source: Source,
    /// The address as configured.
    pub address: String,
    /// The parsed address, or why it cannot be used.
    pub endpoint: Result<Endpoint, crate::endpoint::EndpointError>,
}

/// A candidate after probing.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// The kind, refined by the engine's answer when it gave one.
    pub kind: RuntimeKind,
    /// Where it came from.
    pub source: Source,
    /// The address as configured (normalised to `unix://…` or `tcp://…` when it parsed).
    pub endpoint: String,
    /// The socket exists (unix), or a TCP connection was accepted (tcp).
    pub exists: bool,
    /// An engine answered `/version` and `/info`.
    pub reachable: bool,
    /// The engine's facts, when it answered.
    pub facts: Option<EngineFacts>,
    /// The connection, when it answered; reuse it rather than connecting again.
    pub engine: Option<Engine>,
    /// Why it cannot be used, in words that say what to do.
    pub error: Option<String>,
}

/// The result of discovery.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// Every candidate, in precedence order.
    pub runtimes: Vec<Runtime>,
    /// The index of the runtime dw uses: the first reachable one.
    pub selected: Option<usize>,
    /// Configuration that was skipped, and why (an unreadable Docker context, say).
    pub warnings: Vec<String>,
}

impl Discovery {
    /// The runtime dw uses.
    pub fn selected(&self) -> Option<&Runtime> {
        self.selected.and_then(|index| self.runtimes.get(index))
    }

    /// Why the selected runtime was chosen, in one sentence.
    pub fn selection_reason(&self) -> Option<String> {
        let index = self.selected?;
        let runtime = self.runtimes.get(index)?;
        let skipped = self.runtimes[..index]
            .iter()
            .map(|earlier| earlier.source.to_string())
            .collect::<Vec<_>>();
        Some(if skipped.is_empty() {
            format!("{} is the first candidate and it answers", runtime.source)
        } else {
            format!(
                "{} is the first candidate that answers ({} did not)",
                runtime.source,
                skipped.join(", ")
            )
        })
    }
}

/// Lists the candidates from configuration and the filesystem, without talking to any engine.
///
/// Known places are listed when their socket exists, and Colima profiles also when the profile
/// exists but its socket does not (a stopped VM is worth reporting). The same address is listed
/// once, under its first source.
pub fn candidates(env: &DiscoveryEnv) -> (Vec<Candidate>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut list = Vec::new();
    if let Some(host) = &env.host_flag {
        list.push(configured(env, Source::HostFlag, host));
    }
    if let Some(host) = &env.docker_host {
        list.push(configured(env, Source::DockerHost, host));
    }
    match docker_context(env) {
        Ok(Some((name, host))) => list.push(configured(env, Source::DockerContext(name), &host)),
        Ok(None) => {}
        Err(warning) => warnings.push(warning),
    }
    for known in KNOWN_PLACES {
        for (label, path) in known_sockets(env, known) {
            list.push(Candidate {
                kind: known.kind,
                source: Source::Known(label),
                address: format!("unix://{}", path.display()),
                endpoint: Ok(Endpoint::Unix(path)),
            });
        }
    }
    let mut seen = HashSet::new();
    list.retain(|candidate| match &candidate.endpoint {
        Ok(endpoint) => seen.insert(endpoint.clone()),
        Err(_) => true,
    });
    (list, warnings)
}

/// Lists the candidates and probes each one concurrently, with `deadline` per engine call.
pub async fn discover(env: &DiscoveryEnv, deadline: Duration) -> Discovery {
    let (list, warnings) = candidates(env);
    let runtimes = futures_util::future::join_all(
        list.into_iter().map(|candidate| probe(candidate, deadline)),
    )
    .await;
    let selected = runtimes.iter().position(|runtime| runtime.reachable);
    Discovery {
        runtimes,
        selected,
        warnings,
    }
}

/// Talks to one candidate.
pub async fn probe(candidate: Candidate, deadline: Duration) -> Runtime {
    let Candidate {
        kind,
        source,
        address,
        endpoint,
    } = candidate;
    let endpoint = match endpoint {
        Ok(endpoint) => endpoint,
        Err(error) => {
            return Runtime {
                kind,
                source,
                endpoint: address,
                exists: false,
                reachable: false,
                facts: None,
                engine: None,
                error: Some(error.to_string()),
            };
        }
    };
    let connected = match Engine::connect(&endpoint, kind, deadline).await {
        Ok(engine) => engine.facts().await.map(|facts| (engine, facts)),
        Err(error) => Err(error),
    };
    let exists = match (&endpoint, &connected) {
        (Endpoint::Unix(path), _) => path.exists(),
        (Endpoint::Tcp(_), Ok(_)) => true,
        (Endpoint::Tcp(_), Err(error)) => !matches!(
            error,
            crate::engine::EngineError::ConnectionRefused { .. }
                | crate::engine::EngineError::Connect { .. }
        ),
    };
    match connected {
        Ok((engine, facts)) => Runtime {
            kind: kind.refine(&facts),
            source,
            endpoint: endpoint.to_string(),
            exists,
            reachable: true,
            facts: Some(facts),
            engine: Some(engine),
            error: None,
        },
        Err(error) => Runtime {
            kind,
            source,
            endpoint: endpoint.to_string(),
            exists,
            reachable: false,
            facts: None,
            engine: None,
            error: Some(error.to_string()),
        },
    }
}

fn configured(env: &DiscoveryEnv, source: Source, address: &str) -> Candidate {
    let endpoint = Endpoint::parse(address);
    let kind = match &endpoint {
        Ok(Endpoint::Unix(path)) => kind_of_socket(env, path),
        _ => RuntimeKind::Custom,
    };
    Candidate {
        kind,
        source,
        address: address.to_owned(),
        endpoint,
    }
}

/// The kind a socket path suggests: a known place's kind, or [`RuntimeKind::Custom`].
pub fn kind_of_socket(env: &DiscoveryEnv, path: &Path) -> RuntimeKind {
    if path.starts_with(env.colima_dir()) {
        return RuntimeKind::Colima;
    }
    if path.starts_with(env.home.join(".lima")) {
        return RuntimeKind::Lima;
    }
    KNOWN_PLACES
        .iter()
        .find(|known| match known.place {
            Place::Home(relative) => path == env.home.join(relative),
            Place::RuntimeDir(relative) => env
                .xdg_runtime_dir
                .as_ref()
                .is_some_and(|dir| path == dir.join(relative)),
            Place::System => path == env.system_socket,
            Place::ColimaProfiles | Place::LimaInstances => false,
        })
        .map_or(RuntimeKind::Custom, |known| known.kind)
}

fn known_sockets(env: &DiscoveryEnv, known: &KnownPlace) -> Vec<(String, PathBuf)> {
    let single = |path: PathBuf| {
        if exists_at_all(&path) {
            vec![(known.label.to_owned(), path)]
        } else {
            Vec::new()
        }
    };
    match known.place {
        Place::Home(relative) => single(env.home.join(relative)),
        Place::RuntimeDir(relative) => env
            .xdg_runtime_dir
            .as_ref()
            .map(|dir| single(dir.join(relative)))
            .unwrap_or_default(),
        Place::System => single(env.system_socket.clone()),
        Place::ColimaProfiles => colima_profiles(&env.colima_dir())
            .into_iter()
            .map(|(profile, socket)| (format!("{} {profile}", known.label), socket))
            .collect(),
        Place::LimaInstances => subdirectories(&env.home.join(".lima"))
            .into_iter()
            .filter(|name| !name.starts_with('_'))
            .map(|name| {
                let socket = env.home.join(".lima").join(&name).join("sock/docker.sock");
                (format!("{} {name}", known.label), socket)
            })
            .filter(|(_, socket)| exists_at_all(socket))
            .collect(),
    }
}

/// Colima profiles that have a socket or a configuration, `default` first, then by name.
fn colima_profiles(colima_dir: &Path) -> Vec<(String, PathBuf)> {
    let mut names: Vec<String> = subdirectories(colima_dir)
        .into_iter()
        // `_lima`, `_templates`, `_store` hold Colima's own state, not profiles.
        .filter(|name| !name.starts_with('_'))
        .filter(|name| {
            let profile = colima_dir.join(name);
            exists_at_all(&profile.join("docker.sock")) || profile.join("colima.yaml").exists()
        })
        .collect();
    names.sort_by(|left, right| (left != "default", left).cmp(&(right != "default", right)));
    names
        .into_iter()
        .map(|name| {
            let socket = colima_dir.join(&name).join("docker.sock");
            (name, socket)
        })
        .collect()
}

fn subdirectories(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect()
}

/// True for anything at the path, a dangling symlink included (a stale runtime socket link).
fn exists_at_all(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

#[derive(Deserialize)]
struct DockerCliConfig {
    #[serde(rename = "currentContext", default)]
    current_context: Option<String>,
}

#[derive(Deserialize)]
struct ContextMeta {
    #[serde(rename = "Endpoints", default)]
    endpoints: ContextEndpoints,
}

#[derive(Deserialize, Default)]
struct ContextEndpoints {
    docker: Option<DockerEndpoint>,
}

#[derive(Deserialize)]
struct DockerEndpoint {
    #[serde(rename = "Host")]
    host: Option<String>,
}

/// The current Docker CLI context's name and engine address, if one other than `default` is
/// selected. A context that cannot be read is a warning, not a failure: the CLI itself would
/// refuse to run, and dw can still look elsewhere.
fn docker_context(env: &DiscoveryEnv) -> Result<Option<(String, String)>, String> {
    let config_dir = env.docker_config_dir();
    let name = match &env.docker_context {
        Some(name) => name.clone(),
        None => {
            let config_path = config_dir.join("config.json");
            let text = match std::fs::read_to_string(&config_path) {
                Ok(text) => text,
                Err(_) => return Ok(None),
            };
            let config: DockerCliConfig = serde_json::from_str(&text).map_err(|error| {
                format!(
                    "{} is not valid JSON ({error}); the Docker CLI context was ignored",
                    config_path.display()
                )
            })?;
            match config.current_context {
                Some(name) if !name.is_empty() => name,
                _ => return Ok(None),
            }
        }
    };
    if name == "default" {
        return Ok(None);
    }
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    let meta_path = config_dir.join("contexts/meta").join(hex).join("meta.json");
    let text = std::fs::read_to_string(&meta_path).map_err(|error| {
        format!(
            "docker context `{name}` is selected but {} cannot be read ({error}); \
             run `docker context ls` to see the contexts",
            meta_path.display()
        )
    })?;
    let meta: ContextMeta = serde_json::from_str(&text).map_err(|error| {
        format!(
            "{} is not valid JSON ({error}); docker context `{name}` was ignored",
            meta_path.display()
        )
    })?;
    match meta.endpoints.docker.and_then(|docker| docker.host) {
        Some(host) if !host.is_empty() => Ok(Some((name, host))),
        _ => Err(format!(
            "docker context `{name}` has no docker endpoint in {}",
            meta_path.display()
        )),
    }
}
