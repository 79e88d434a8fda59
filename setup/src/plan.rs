//! Detect, choose, plan: what this workstation has, which runtime setup uses, and the steps
//! that would bring it to the wanted state, as a value.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dw_runtime::discovery::{self, Candidate, Discovery, DiscoveryEnv, Runtime, Source};
use dw_runtime::endpoint::Endpoint;
use dw_runtime::engine::{Engine, default_deadline};
use dw_runtime::host::{HostFacts, Os};
use dw_runtime::kind::RuntimeKind;
use dw_runtime::vscode::UserDirs;

use crate::colima::{self, Limits, Mount, MountError};
use crate::install::{self, Installed, Tool};
use crate::settings::{self, SettingsTarget};
use crate::step::{Selection, StepId};

/// How long `start` waits for Colima's engine to answer, unless the caller says otherwise.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(180);

/// How long `colima status` may take.
const STATUS_TIMEOUT: Duration = Duration::from_secs(20);

/// The runtime the user asked for (`--runtime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeRequest {
    /// Adopt a reachable VM-backed runtime, else Colima.
    Auto,
    /// Colima, installed and started when needed.
    Colima,
    /// A runtime of this kind, which must already be running.
    Running(RuntimeKind),
    /// Whatever engine answers first, even one running directly on this host.
    Existing,
}

/// Everything a run of setup is asked to do: `dw setup`'s flags, without clap.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--runtime`.
    pub runtime: RuntimeRequest,
    /// `--socket`: adopt the engine at this path as it is.
    pub socket: Option<PathBuf>,
    /// The global `--host`, a discovery candidate like `DOCKER_HOST`.
    pub host_flag: Option<String>,
    /// `--image`.
    pub image: String,
    /// `--settings-file`: these files instead of VS Code's own.
    pub settings_files: Vec<PathBuf>,
    /// `--only` and `--skip`.
    pub selection: Selection,
    /// `--cpus`.
    pub cpus: Option<u32>,
    /// `--memory`, GiB.
    pub memory_gib: Option<u32>,
    /// `--disk`, GiB.
    pub disk_gib: Option<u32>,
    /// `--mount`, as given (`DIR` or `DIR:w`).
    pub mounts: Vec<String>,
    /// How long `start` waits for the engine to answer.
    pub start_timeout: Duration,
}

/// Setup cannot even plan: the environment or the flags do not allow it. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Discovery could not start.
    #[error(transparent)]
    Discovery(#[from] discovery::DiscoveryError),
    /// A `--mount` value is unusable.
    #[error(transparent)]
    Mount(#[from] MountError),
    /// `--runtime <kind>` names a runtime that is not running.
    #[error(
        "{} is not running: no engine of that kind answers at any of its places. {}; or choose \
         another runtime with --runtime (`auto` sets up Colima)",
        kind.display_name(),
        capitalised(kind.start_hint())
    )]
    NotRunning {
        /// The requested kind.
        kind: RuntimeKind,
    },
    /// `--runtime existing`, and no engine answers.
    #[error(
        "--runtime existing: no container engine answers on this machine (no --host, DOCKER_HOST, \
         Docker context or known runtime socket that responds). Start your runtime, or run \
         `dw setup` without --runtime to set up Colima"
    )]
    NoEngine,
    /// `--socket` was given a relative path and the current directory is unknown.
    #[error("--socket {}: cannot resolve a relative path ({reason}); give an absolute path", path.display())]
    RelativeSocket {
        /// The path as given.
        path: PathBuf,
        /// Why the current directory is unknown.
        reason: String,
    },
    /// Tools are missing and Homebrew, which would install them, is too.
    #[error(
        "{} not installed and Homebrew (`brew`), which dw installs them with, is not on PATH. \
         Install them with these commands, then run `dw setup` again:\n{}",
        missing_list(missing),
        commands.iter().map(|command| format!("  {command}")).collect::<Vec<_>>().join("\n")
    )]
    NoHomebrew {
        /// The programs that are missing.
        missing: Vec<&'static str>,
        /// The exact commands for this OS.
        commands: Vec<String>,
    },
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn missing_list(missing: &[&str]) -> String {
    match missing {
        [one] => format!("`{one}` is"),
        many => format!(
            "{} are",
            many.iter()
                .map(|program| format!("`{program}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    }
}

/// How the runtime was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A running engine found by discovery; the text names where (`Rancher Desktop`, …).
    Adopted(String),
    /// `--socket`.
    Given,
    /// Colima, set up by dw.
    Colima,
}

/// The runtime setup uses.
#[derive(Debug, Clone)]
pub struct ChosenRuntime {
    /// Its kind.
    pub kind: RuntimeKind,
    /// Where its engine listens.
    pub endpoint: Endpoint,
    /// How it was chosen.
    pub origin: Origin,
    /// The connection, when the engine answered while planning.
    pub engine: Option<Engine>,
}

impl ChosenRuntime {
    /// The socket path (what VS Code's setting holds), or the TCP address.
    pub fn address(&self) -> String {
        match &self.endpoint {
            Endpoint::Unix(path) => path.display().to_string(),
            Endpoint::Tcp(_) => self.endpoint.to_string(),
        }
    }

    /// Whether dw installs and starts this runtime itself (Colima), rather than adopting it.
    pub fn managed_colima(&self) -> bool {
        self.kind == RuntimeKind::Colima && self.origin != Origin::Given
    }
}

/// What one step will do. Commands are argv vectors, run without a shell.
#[derive(Debug)]
pub enum Action {
    /// Not run: not selected, or not needed for the chosen runtime.
    Skip {
        /// Why, in words.
        reason: String,
    },
    /// Nothing to do: already in the wanted state.
    Already {
        /// What was found.
        summary: String,
    },
    /// Install the missing tools with Homebrew.
    Install {
        /// What is missing.
        missing: Vec<Tool>,
        /// `brew install …`.
        command: Vec<String>,
    },
    /// Tools are missing and Homebrew is too: the user must run these commands.
    InstallByHand {
        /// What is missing.
        missing: Vec<Tool>,
        /// The exact shell commands for this OS.
        commands: Vec<String>,
    },
    /// Start the Colima VM, then wait for its engine to answer.
    Start {
        /// `colima start …`.
        command: Vec<String>,
        /// The limits in that command.
        limits: Limits,
    },
    /// Pull the image through the Engine API.
    Pull {
        /// The image reference.
        image: String,
    },
    /// Set the socket in each settings file.
    Settings {
        /// Every file and its planned edit.
        targets: Vec<SettingsTarget>,
        /// No VS Code settings existed: Code's is created.
        created_because_none: bool,
    },
    /// The step cannot be done with this runtime, and says why.
    Impossible {
        /// Why, and what to do.
        reason: String,
    },
}

/// One step and what it will do.
#[derive(Debug)]
pub struct Step {
    /// Which step.
    pub id: StepId,
    /// What it will do.
    pub action: Action,
}

/// The whole bootstrap as a value: printed by `--dry-run`, run by [`crate::apply`].
#[derive(Debug)]
pub struct Plan {
    /// The runtime setup uses.
    pub runtime: ChosenRuntime,
    /// Things the user should know about the choice (a native engine passed over, …).
    pub notes: Vec<String>,
    /// The four steps, in order.
    pub steps: Vec<Step>,
    /// How long `start` waits for the engine.
    pub start_timeout: Duration,
}

impl Plan {
    /// The error that stops an apply before anything runs: tools to install without Homebrew.
    pub fn environment_error(&self) -> Option<SetupError> {
        self.steps.iter().find_map(|step| match &step.action {
            Action::InstallByHand { missing, commands } => Some(SetupError::NoHomebrew {
                missing: missing.iter().map(|tool| tool.program).collect(),
                commands: commands.clone(),
            }),
            _ => None,
        })
    }

    /// The installer command this plan runs, if any (the one to ask the user about).
    pub fn install_command(&self) -> Option<&[String]> {
        self.steps.iter().find_map(|step| match &step.action {
            Action::Install { command, .. } => Some(command.as_slice()),
            _ => None,
        })
    }
}

/// Everything detection found. Read-only: discovery, `which`, `colima status`, image inspect.
struct Detected {
    env: DiscoveryEnv,
    host: HostFacts,
    installed: Installed,
}

/// Detects the workstation and plans the steps. Changes nothing: the only process it may start
/// is `colima status`, and it writes no file.
pub async fn plan(options: &Options) -> Result<Plan, SetupError> {
    let current_dir = std::env::current_dir().map_err(|error| error.to_string());
    let mounts = options
        .mounts
        .iter()
        .map(|given| Mount::parse(given, current_dir.as_deref().map_err(Clone::clone)))
        .collect::<Result<Vec<_>, _>>()?;
    let detected = Detected {
        env: DiscoveryEnv::from_process(options.host_flag.clone())?,
        host: HostFacts::detect(),
        installed: Installed::detect(),
    };
    let (runtime, notes) = match &options.socket {
        Some(socket) => adopt_socket(&detected.env, socket, &current_dir).await?,
        None => {
            let found = discovery::discover(&detected.env, default_deadline()).await;
            let colima_socket =
                colima::socket_path(&detected.env.home, detected.env.colima_home.as_deref());
            choose(options.runtime, &found, &colima_socket, detected.host.os)?
        }
    };
    let colima_running = match (&runtime.engine, detected.installed.path_of("colima")) {
        (None, Some(colima)) if runtime.managed_colima() => colima_status(colima).await,
        _ => false,
    };
    let image_digest = match &runtime.engine {
        Some(engine) if options.selection.includes(StepId::Pull) => {
            crate::pull::present(engine, &options.image)
                .await
                .ok()
                .flatten()
        }
        _ => None,
    };
    let limits = Limits::defaults(&detected.host).with_overrides(
        options.cpus,
        options.memory_gib,
        options.disk_gib,
    );
    let user_dirs = UserDirs::from_process(detected.env.home.clone());
    let steps = StepId::ALL
        .into_iter()
        .map(|id| {
            let action = match options.selection.exclusion_reason(id) {
                Some(reason) => Action::Skip { reason },
                None => match id {
                    StepId::Install => {
                        install_action(&runtime, &detected.installed, detected.host.os)
                    }
                    StepId::Start => start_action(&runtime, colima_running, &limits, &mounts),
                    StepId::Pull => pull_action(&options.image, image_digest.as_deref()),
                    StepId::Settings => settings_action(
                        &runtime,
                        &user_dirs,
                        detected.host.os,
                        &options.settings_files,
                        &current_dir,
                    ),
                },
            };
            Step { id, action }
        })
        .collect();
    Ok(Plan {
        runtime,
        notes,
        steps,
        start_timeout: options.start_timeout,
    })
}

/// `--socket PATH`: that engine as it is, whatever it is; its answer (if any) names its kind.
async fn adopt_socket(
    env: &DiscoveryEnv,
    socket: &Path,
    current_dir: &Result<PathBuf, String>,
) -> Result<(ChosenRuntime, Vec<String>), SetupError> {
    let path = absolute(socket, current_dir).map_err(|reason| SetupError::RelativeSocket {
        path: socket.to_path_buf(),
        reason,
    })?;
    let endpoint = Endpoint::Unix(path.clone());
    let probed = discovery::probe(
        Candidate {
            kind: discovery::kind_of_socket(env, &path),
            source: Source::Known("--socket".to_owned()),
            address: endpoint.to_string(),
            endpoint: Ok(endpoint.clone()),
        },
        default_deadline(),
    )
    .await;
    let mut notes = Vec::new();
    if let Some(error) = &probed.error {
        notes.push(format!(
            "no engine answers at {} yet ({error}); the settings will point there anyway",
            path.display()
        ));
    }
    let runtime = ChosenRuntime {
        kind: probed.kind,
        endpoint,
        origin: Origin::Given,
        engine: probed.engine,
    };
    Ok((runtime, notes))
}

fn absolute(path: &Path, current_dir: &Result<PathBuf, String>) -> Result<PathBuf, String> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    current_dir
        .as_ref()
        .map(|dir| dir.join(path).components().collect())
        .map_err(Clone::clone)
}

/// Whether a runtime's engine runs in a VM. Podman counts when it is a Podman machine (always so
/// on macOS and Windows; on Linux, when found at the machine's socket).
pub fn runs_in_vm(runtime: &Runtime, os: Os) -> bool {
    if runtime.kind != RuntimeKind::Podman {
        return runtime.kind.is_vm_backed();
    }
    os != Os::Linux
        || matches!(&runtime.source, Source::Known(label) if label.starts_with("Podman machine"))
}

/// Chooses the runtime from discovery's findings, as `request` says. See the crate docs.
pub fn choose(
    request: RuntimeRequest,
    found: &Discovery,
    colima_socket: &Path,
    os: Os,
) -> Result<(ChosenRuntime, Vec<String>), SetupError> {
    let reachable = || found.runtimes.iter().filter(|runtime| runtime.reachable);
    let colima = || {
        // A reachable Colima engine at its own place is the one to keep using.
        let at_place = reachable().find(|runtime| {
            runtime.kind == RuntimeKind::Colima
                && runtime.endpoint == Endpoint::Unix(colima_socket.to_path_buf()).to_string()
        });
        ChosenRuntime {
            kind: RuntimeKind::Colima,
            endpoint: Endpoint::Unix(colima_socket.to_path_buf()),
            origin: Origin::Colima,
            engine: at_place.and_then(|runtime| runtime.engine.clone()),
        }
    };
    match request {
        RuntimeRequest::Colima => Ok((colima(), Vec::new())),
        RuntimeRequest::Auto => {
            if let Some(runtime) = reachable().find(|runtime| runs_in_vm(runtime, os)) {
                return Ok((adopt(runtime), Vec::new()));
            }
            let notes = reachable()
                .map(|native| {
                    format!(
                        "{} at {} runs directly on this host, not in a VM: GitLab supports \
                         Duo Workflow's Docker engine only in a VM, so dw sets up Colima instead \
                         (`--runtime existing` uses it anyway)",
                        native.kind.display_name(),
                        native.endpoint
                    )
                })
                .take(1)
                .collect();
            Ok((colima(), notes))
        }
        RuntimeRequest::Running(kind) => reachable()
            .find(|runtime| runtime.kind == kind)
            .map(|runtime| (adopt(runtime), Vec::new()))
            .ok_or(SetupError::NotRunning { kind }),
        RuntimeRequest::Existing => {
            let runtime = found.selected().ok_or(SetupError::NoEngine)?;
            let mut notes = Vec::new();
            if !runs_in_vm(runtime, os) {
                notes.push(format!(
                    "{} at {} runs directly on this host, not in a VM: GitLab supports Duo \
                     Workflow's Docker engine only in a VM, and a container escape from the \
                     agent's sandbox would land on this machine itself. Using it because \
                     --runtime existing says so",
                    runtime.kind.display_name(),
                    runtime.endpoint
                ));
            }
            Ok((adopt(runtime), notes))
        }
    }
}

fn adopt(runtime: &Runtime) -> ChosenRuntime {
    let endpoint = Endpoint::parse(&runtime.endpoint)
        .unwrap_or_else(|_| Endpoint::Tcp(runtime.endpoint.clone()));
    ChosenRuntime {
        kind: runtime.kind,
        endpoint,
        origin: Origin::Adopted(runtime.source.to_string()),
        engine: runtime.engine.clone(),
    }
}

/// Whether Colima's default profile is running, by `colima status`'s exit status (read-only).
async fn colima_status(colima: &Path) -> bool {
    let status = tokio::process::Command::new(colima)
        .arg("status")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .status();
    matches!(
        tokio::time::timeout(STATUS_TIMEOUT, status).await,
        Ok(Ok(status)) if status.success()
    )
}

fn not_managed_reason(runtime: &ChosenRuntime) -> String {
    match &runtime.origin {
        Origin::Given => format!(
            "not needed: --socket adopts the engine at {} as it is",
            runtime.address()
        ),
        _ => format!(
            "not needed: {} is already running at {}",
            runtime.kind.display_name(),
            runtime.address()
        ),
    }
}

fn install_action(runtime: &ChosenRuntime, installed: &Installed, os: Os) -> Action {
    if !runtime.managed_colima() {
        return Action::Skip {
            reason: not_managed_reason(runtime),
        };
    }
    let missing = installed.missing();
    if missing.is_empty() {
        let found: Vec<String> = installed
            .tools
            .iter()
            .filter_map(|(tool, path)| {
                Some(format!("{} ({})", tool.program, path.as_ref()?.display()))
            })
            .collect();
        return Action::Already {
            summary: format!("installed: {}", found.join(", ")),
        };
    }
    if installed.brew.is_none() {
        return Action::InstallByHand {
            commands: install::manual_commands(os, &missing),
            missing,
        };
    }
    Action::Install {
        command: install::brew_command(&missing),
        missing,
    }
}

fn start_action(
    runtime: &ChosenRuntime,
    colima_running: bool,
    limits: &Limits,
    mounts: &[Mount],
) -> Action {
    if !runtime.managed_colima() {
        return Action::Skip {
            reason: not_managed_reason(runtime),
        };
    }
    if runtime.engine.is_some() {
        return Action::Already {
            summary: format!(
                "Colima is running; its engine answers at {}",
                runtime.address()
            ),
        };
    }
    if colima_running {
        return Action::Already {
            summary: "Colima is running (`colima status`)".to_owned(),
        };
    }
    Action::Start {
        command: colima::start_command(limits, mounts),
        limits: *limits,
    }
}

fn pull_action(image: &str, digest: Option<&str>) -> Action {
    match digest {
        Some(digest) => Action::Already {
            summary: format!("{image} is already present ({digest})"),
        },
        None => Action::Pull {
            image: image.to_owned(),
        },
    }
}

fn settings_action(
    runtime: &ChosenRuntime,
    dirs: &UserDirs,
    os: Os,
    explicit: &[PathBuf],
    current_dir: &Result<PathBuf, String>,
) -> Action {
    let Endpoint::Unix(socket) = &runtime.endpoint else {
        return Action::Impossible {
            reason: format!(
                "the engine is at {}, a TCP address, and VS Code's {} takes a socket path; adopt \
                 a unix socket with --socket PATH",
                runtime.endpoint,
                dw_runtime::vscode::DOCKER_SOCKET_SETTING
            ),
        };
    };
    let explicit: Vec<PathBuf> = explicit
        .iter()
        .map(|path| absolute(path, current_dir).unwrap_or_else(|_| path.clone()))
        .collect();
    let (files, created_because_none) = settings::targets(dirs, os, &explicit);
    Action::Settings {
        targets: settings::plan(files, socket),
        created_because_none,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn runtime(kind: RuntimeKind, source: &str, endpoint: &str, reachable: bool) -> Runtime {
        Runtime {
            kind,
            source: Source::Known(source.to_owned()),
            endpoint: endpoint.to_owned(),
            exists: true,
            reachable,
            facts: None,
            engine: None,
            error: None,
        }
    }

    fn discovery(runtimes: Vec<Runtime>) -> Discovery {
        let selected = runtimes.iter().position(|runtime| runtime.reachable);
        Discovery {
            runtimes,
            selected,
            warnings: Vec::new(),
        }
    }

    const COLIMA: &str = "/home/u/.colima/default/docker.sock";

    #[test]
    fn auto_adopts_a_running_vm_and_passes_over_a_native_engine() {
        let native = runtime(
            RuntimeKind::DockerEngine,
            "system engine",
            "unix:///var/run/docker.sock",
            true,
        );
        let rancher = runtime(
            RuntimeKind::RancherDesktop,
            "Rancher Desktop",
            "unix:///home/u/.rd/docker.sock",
            true,
        );
        let stopped = runtime(
            RuntimeKind::DockerDesktop,
            "Docker Desktop",
            "unix:///home/u/.docker/run/docker.sock",
            false,
        );

        let found = discovery(vec![stopped.clone(), rancher, native.clone()]);
        let (chosen, notes) =
            choose(RuntimeRequest::Auto, &found, Path::new(COLIMA), Os::MacOs).unwrap();
        assert_eq!(chosen.kind, RuntimeKind::RancherDesktop);
        assert_eq!(chosen.address(), "/home/u/.rd/docker.sock");
        assert_eq!(chosen.origin, Origin::Adopted("Rancher Desktop".to_owned()));
        assert!(!chosen.managed_colima());
        assert!(notes.is_empty());

        let found = discovery(vec![stopped, native]);
        let (chosen, notes) =
            choose(RuntimeRequest::Auto, &found, Path::new(COLIMA), Os::Linux).unwrap();
        assert_eq!(
            (chosen.kind, chosen.address().as_str()),
            (RuntimeKind::Colima, COLIMA)
        );
        assert!(chosen.managed_colima());
        assert!(notes[0].contains("runs directly on this host"), "{notes:?}");

        let (chosen, notes) = choose(
            RuntimeRequest::Existing,
            &found,
            Path::new(COLIMA),
            Os::Linux,
        )
        .unwrap();
        assert_eq!(chosen.kind, RuntimeKind::DockerEngine);
        assert!(notes[0].contains("--runtime existing"), "{notes:?}");
    }

    #[test]
    fn podman_counts_as_a_vm_only_as_a_machine() {
        let native = runtime(
            RuntimeKind::Podman,
            "Podman",
            "unix:///run/user/1000/podman/podman.sock",
            true,
        );
        let machine = runtime(
            RuntimeKind::Podman,
            "Podman machine",
            "unix:///home/u/.local/share/containers/podman/machine/podman.sock",
            true,
        );
        assert!(!runs_in_vm(&native, Os::Linux));
        assert!(runs_in_vm(&native, Os::MacOs));
        assert!(runs_in_vm(&machine, Os::Linux));
    }

    #[test]
    fn a_requested_runtime_must_be_running() {
        let found = discovery(vec![runtime(
            RuntimeKind::Colima,
            "colima profile default",
            &format!("unix://{COLIMA}"),
            false,
        )]);
        let error = choose(
            RuntimeRequest::Running(RuntimeKind::Orbstack),
            &found,
            Path::new(COLIMA),
            Os::MacOs,
        )
        .unwrap_err();
        assert!(
            error.to_string().starts_with("OrbStack is not running"),
            "{error}"
        );
        assert!(matches!(
            choose(
                RuntimeRequest::Existing,
                &found,
                Path::new(COLIMA),
                Os::MacOs
            ),
            Err(SetupError::NoEngine)
        ));
        let (chosen, _) =
            choose(RuntimeRequest::Colima, &found, Path::new(COLIMA), Os::MacOs).unwrap();
        assert!(chosen.managed_colima() && chosen.engine.is_none());
    }

    #[test]
    fn homebrew_missing_is_an_error_with_the_commands() {
        let error = SetupError::NoHomebrew {
            missing: vec!["colima", "docker"],
            commands: vec!["a".to_owned(), "b".to_owned()],
        };
        assert_eq!(
            error.to_string(),
            "`colima` and `docker` are not installed and Homebrew (`brew`), which dw installs them \
             with, is not on PATH. Install them with these commands, then run `dw setup` again:\n  a\n  b"
        );
    }
}
