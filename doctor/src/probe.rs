//! Probe containers: short-lived containers made from dw's sandbox policy
//! ([`SandboxSpec`]) that run one bash script and report what they saw from inside.
//!
//! A probe is the container the agent gets — the same image, user, dropped capabilities,
//! `no-new-privileges`, read-only root, limits and labels — with these differences, all applied
//! to the Engine API body that [`SandboxSpec::container_config`] produces:
//! - the probe's script (`bash -c`) replaces the executor as the main process, and stdin is not
//!   attached;
//! - the workspace is doctor's own fresh directory holding one decoy credential file
//!   ([`DECOY`], masked like any other), never the user's project; an empty stand-in file is
//!   mounted where the executor would be;
//! - [`Networking::Default`] replaces the sandbox's `none` with the engine's default bridge (or
//!   a network the caller names), to see what an ordinary container can reach;
//! - the engine removes the container when the script ends (`AutoRemove`), and doctor removes it
//!   on any early return, error, timeout or drop (an interrupted doctor drops its probes), so
//!   nothing is left behind. A doctor killed outright between create and start leaves a container
//!   carrying its owner label, which dw's reaper removes (`dw sandbox prune`).
//!
//! Scripts use bash and coreutils' `timeout` only, which every Debian-based image has, and end
//! by printing [`DONE`]; output without it is an error, not a finding.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::query_parameters::{AttachContainerOptions, CreateContainerOptions};
use dw_runtime::container::ContainerGuard;
use dw_runtime::engine::{Engine, EngineError};
use dw_runtime::sandbox::{Limits, Mask, MaskKind, Network, SandboxSpec, User};
use futures_util::StreamExt;

/// The label that says which probe a container is (`network-default`, `mounts` …), next to the
/// sandbox's own labels.
pub const PROBE_LABEL: &str = "dev.dw.probe";

/// The credential-looking file every probe workspace holds, so that the sandbox's masking runs.
pub const DECOY: &str = ".env";

/// The line every probe script prints last.
pub const DONE: &str = "dw-probe-done";

/// How long a probe may take from create to removal.
const PROBE_DEADLINE: Duration = Duration::from_secs(60);

/// How much of a probe's stderr is kept to explain a failure.
const STDERR_TAIL: usize = 2048;

/// Whether and how doctor starts probe containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSettings {
    /// Start probe containers at all (`--no-probe` turns this off).
    pub enabled: bool,
    /// What the network probe tries to reach (`--probe-address`); empty means this host's
    /// non-loopback addresses and the VM's host aliases.
    pub addresses: Vec<ProbeTarget>,
    /// The Docker network the default-networking probe joins instead of the engine's default
    /// bridge (`--probe-network`).
    pub network: Option<String>,
    /// The value of the workflow label on every probe container.
    pub workflow_id: String,
}

impl ProbeSettings {
    /// No probe containers: the probe-based checks and check halves are skipped.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            addresses: Vec::new(),
            network: None,
            workflow_id: fresh_workflow_id(),
        }
    }

    /// Probes with the default targets, labelled with a fresh workflow id.
    pub fn enabled() -> Self {
        Self {
            enabled: true,
            ..Self::disabled()
        }
    }
}

/// `doctor-<pid><nanos>` in hex: unique enough to tell two doctor runs' probes apart.
pub fn fresh_workflow_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    format!("doctor-{:x}{nanos:08x}", std::process::id())
}

/// Something the network probe tries to reach: an address of this host (doctor listens there)
/// or a name resolved inside the container (a VM's host alias).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeTarget {
    /// An address of this host.
    Address(IpAddr),
    /// A name, tried at the port of doctor's listeners.
    Name(String),
}

impl ProbeTarget {
    /// Reads one `--probe-address`: an IP address (IPv6 with or without brackets) or a host name,
    /// without a port.
    pub fn parse(text: &str) -> Result<Self, ProbeAddressError> {
        let trimmed = text.trim();
        let unbracketed = trimmed
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .unwrap_or(trimmed);
        if let Ok(address) = unbracketed.parse::<IpAddr>() {
            return Ok(Self::Address(address));
        }
        let invalid = |reason: &'static str| ProbeAddressError::Invalid {
            given: text.to_owned(),
            reason,
        };
        if trimmed.parse::<std::net::SocketAddr>().is_ok() || trimmed.contains(':') {
            return Err(invalid(
                "give an address without a port: doctor picks the port of its own listeners",
            ));
        }
        let is_name = !trimmed.is_empty()
            && trimmed.len() <= 253
            && trimmed
                .split('.')
                .all(|label| !label.is_empty() && label.len() <= 63)
            && trimmed
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !is_name {
            return Err(invalid("it is neither an IP address nor a host name"));
        }
        Ok(Self::Name(trimmed.to_ascii_lowercase()))
    }

    /// The host part as the probe script connects to it.
    pub fn host(&self) -> String {
        match self {
            Self::Address(address) => address.to_string(),
            Self::Name(name) => name.clone(),
        }
    }

    /// `host:port`, with brackets around an IPv6 address.
    pub fn with_port(&self, port: u16) -> String {
        match self {
            Self::Address(IpAddr::V6(address)) => format!("[{address}]:{port}"),
            other => format!("{}:{port}", other.host()),
        }
    }
}

/// Reads every `--probe-address` and makes sure each IP address belongs to this host (doctor
/// connects only to listeners it opened itself, so it must be able to listen there).
pub fn parse_addresses(given: &[String]) -> Result<Vec<ProbeTarget>, ProbeAddressError> {
    let mut targets = Vec::new();
    for text in given {
        let target = ProbeTarget::parse(text)?;
        if let ProbeTarget::Address(address) = target {
            std::net::TcpListener::bind((address, 0)).map_err(|source| {
                ProbeAddressError::NotLocal {
                    given: text.clone(),
                    source,
                }
            })?;
        }
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    Ok(targets)
}

/// A `--probe-address` doctor cannot use.
#[derive(Debug, thiserror::Error)]
pub enum ProbeAddressError {
    /// Not an address or name.
    #[error("--probe-address {given:?} cannot be used: {reason}")]
    Invalid {
        /// As given.
        given: String,
        /// Why.
        reason: &'static str,
    },
    /// An address doctor cannot listen on.
    #[error(
        "--probe-address {given} is not an address doctor can listen on; give addresses of this host only — the probe connects to nothing but doctor's own listeners"
    )]
    NotLocal {
        /// As given.
        given: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// Which network a probe gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Networking {
    /// dw's sandbox networking: `none`.
    Sandbox,
    /// What an ordinary container gets: the engine's default bridge, or the named network.
    Default {
        /// The network to join instead of the default bridge.
        network: Option<String>,
    },
}

impl Networking {
    /// For evidence: `dw's sandbox (network none)`, `default networking (bridge)`.
    pub fn describe(&self) -> String {
        match self {
            Self::Sandbox => "dw's sandbox (network none)".to_owned(),
            Self::Default { network: None } => "default networking (bridge)".to_owned(),
            Self::Default {
                network: Some(name),
            } => format!("default networking (network {name})"),
        }
    }
}

/// One probe to run.
#[derive(Debug, Clone)]
pub struct Probe {
    /// What it looks at, in the container's name and [`PROBE_LABEL`] (`network-default`).
    pub purpose: &'static str,
    /// Its network.
    pub networking: Networking,
    /// The bash script.
    pub script: &'static str,
    /// The script's arguments (`$1` …).
    pub arguments: Vec<String>,
}

/// What a probe printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeOutput {
    /// Its stdout lines, without the final [`DONE`].
    pub lines: Vec<String>,
}

/// Why a probe could not report.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The image is missing (the base-image check has the fix).
    #[error(
        "the image {image} is not on the engine, so no probe container can start (see base-image)"
    )]
    ImageMissing {
        /// The image.
        image: String,
    },
    /// The probe's own directory could not be made.
    #[error("cannot prepare the probe's workspace in {}: {source}; check that the directory is writable", path.display())]
    Workspace {
        /// Where.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An engine call failed.
    #[error("cannot {action}: {source}")]
    Engine {
        /// What doctor was doing.
        action: &'static str,
        /// The engine's error.
        #[source]
        source: EngineError,
    },
    /// The container's output stream broke.
    #[error("lost the probe container's output: {0}")]
    Output(String),
    /// The script did not finish in time.
    #[error("the probe container did not finish within {}s; the engine may be overloaded — retry, or skip the probes with --no-probe", PROBE_DEADLINE.as_secs())]
    Timeout,
    /// The script stopped early.
    #[error(
        "the probe container stopped before its script finished{}",
        stderr_note(stderr)
    )]
    Incomplete {
        /// The end of its stderr.
        stderr: String,
    },
}

fn stderr_note(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!(" (its stderr: {stderr})")
    }
}

/// A probe's own directory: `workspace/` with the [`DECOY`], and an empty read-only file for the
/// masks and the executor's place. Removed on drop.
///
/// It lives under the user's home (`~/.cache/dw`) because VM-backed runtimes share the home
/// directory with their VM, not `/tmp`.
struct ProbeDirectory {
    root: tempfile::TempDir,
}

impl ProbeDirectory {
    fn create(home: &Path) -> Result<Self, ProbeError> {
        let parent = home.join(".cache").join("dw");
        let failed = |path: &Path| {
            let path = path.to_owned();
            move |source| ProbeError::Workspace { path, source }
        };
        std::fs::create_dir_all(&parent).map_err(failed(&parent))?;
        let root = tempfile::Builder::new()
            .prefix("doctor-probe-")
            .tempdir_in(&parent)
            .map_err(failed(&parent))?;
        let directory = Self { root };
        let workspace = directory.workspace();
        std::fs::create_dir(&workspace).map_err(failed(&workspace))?;
        std::fs::write(workspace.join(DECOY), "").map_err(failed(&workspace))?;
        let empty = directory.empty_file();
        std::fs::write(&empty, "").map_err(failed(&empty))?;
        std::fs::set_permissions(&empty, std::os::unix::fs::PermissionsExt::from_mode(0o444))
            .map_err(failed(&empty))?;
        Ok(directory)
    }

    fn workspace(&self) -> PathBuf {
        self.root.path().join("workspace")
    }

    fn empty_file(&self) -> PathBuf {
        self.root.path().join("empty")
    }
}

/// The sandbox spec a probe starts from: dw's defaults, doctor's own directory.
fn spec(
    image: &str,
    directory: &ProbeDirectory,
    networking: &Networking,
    workflow_id: &str,
) -> SandboxSpec {
    SandboxSpec {
        image: image.to_owned(),
        workspace: directory.workspace(),
        executor: directory.empty_file(),
        empty_file: directory.empty_file(),
        masks: vec![Mask {
            path: PathBuf::from(DECOY),
            kind: MaskKind::File,
            what: dw_runtime::sandbox::secret_kind(DECOY).unwrap_or("environment file"),
        }],
        user: User {
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
        },
        network: match networking {
            Networking::Sandbox => Network::None,
            Networking::Default { .. } => Network::Bridge,
        },
        limits: Limits::default(),
        workflow_id: workflow_id.to_owned(),
        owner: dw_runtime::sandbox::owner_of_this_process(),
    }
}

/// The Engine API body for `probe`: the spec's, with the script as the main process.
fn container_config(spec: &SandboxSpec, probe: &Probe) -> bollard::models::ContainerCreateBody {
    let mut config = spec.container_config();
    let mut entrypoint = vec![
        "bash".to_owned(),
        "-c".to_owned(),
        probe.script.to_owned(),
        "dw-probe".to_owned(),
    ];
    entrypoint.extend(probe.arguments.iter().cloned());
    config.entrypoint = Some(entrypoint);
    config.cmd = Some(Vec::new());
    config.attach_stdin = Some(false);
    config.open_stdin = Some(false);
    config.stdin_once = Some(false);
    let mut labels = config.labels.take().unwrap_or_default();
    labels.insert(PROBE_LABEL.to_owned(), probe.purpose.to_owned());
    config.labels = Some(labels);
    if let Some(host) = config.host_config.as_mut() {
        host.auto_remove = Some(true);
        if let Networking::Default {
            network: Some(name),
        } = &probe.networking
        {
            host.network_mode = Some(name.clone());
        }
    }
    config
}

/// Runs `probe` on `engine` from `image`; doctor's directory goes under `home`.
pub async fn run(
    engine: &Engine,
    settings: &ProbeSettings,
    home: &Path,
    image: &str,
    probe: &Probe,
) -> Result<ProbeOutput, ProbeError> {
    match tokio::time::timeout(
        PROBE_DEADLINE,
        run_unbounded(engine, settings, home, image, probe),
    )
    .await
    {
        Ok(result) => result,
        Err(_elapsed) => Err(ProbeError::Timeout),
    }
}

async fn run_unbounded(
    engine: &Engine,
    settings: &ProbeSettings,
    home: &Path,
    image: &str,
    probe: &Probe,
) -> Result<ProbeOutput, ProbeError> {
    let docker = engine.docker();
    match engine
        .call("GET /images/{name}/json", docker.inspect_image(image))
        .await
    {
        Ok(_) => {}
        Err(EngineError::Api {
            status: Some(404), ..
        }) => {
            return Err(ProbeError::ImageMissing {
                image: image.to_owned(),
            });
        }
        Err(source) => {
            return Err(ProbeError::Engine {
                action: "inspect the probe's image",
                source,
            });
        }
    }
    let directory = ProbeDirectory::create(home)?;
    let spec = spec(image, &directory, &probe.networking, &settings.workflow_id);
    let created = engine
        .call(
            "POST /containers/create",
            docker.create_container(
                Some(CreateContainerOptions {
                    name: Some(format!("{}-{}", spec.container_name(), probe.purpose)),
                    ..Default::default()
                }),
                container_config(&spec, probe),
            ),
        )
        .await
        .map_err(|source| ProbeError::Engine {
            action: "create the probe container",
            source,
        })?;
    let container = ContainerGuard::new(engine, created.id);
    let attached = engine
        .call(
            "POST /containers/{id}/attach",
            docker.attach_container(
                container.id(),
                Some(AttachContainerOptions {
                    stdin: false,
                    stdout: true,
                    stderr: true,
                    stream: true,
                    logs: true,
                    detach_keys: None,
                }),
            ),
        )
        .await
        .map_err(|source| ProbeError::Engine {
            action: "attach to the probe container",
            source,
        })?;
    engine
        .call(
            "POST /containers/{id}/start",
            docker.start_container(container.id(), None),
        )
        .await
        .map_err(|source| ProbeError::Engine {
            action: "start the probe container",
            source,
        })?;
    let (stdout, stderr) = collect(attached.output).await?;
    container
        .remove()
        .await
        .map_err(|source| ProbeError::Engine {
            action: "remove the probe container",
            source,
        })?;
    drop(directory);
    let mut lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    if lines.last().map(String::as_str) != Some(DONE) {
        return Err(ProbeError::Incomplete { stderr });
    }
    lines.pop();
    Ok(ProbeOutput { lines })
}

/// Stdout and the end of stderr, until the container's output ends.
async fn collect<S>(mut output: S) -> Result<(String, String), ProbeError>
where
    S: futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Unpin,
{
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    while let Some(chunk) = output.next().await {
        match chunk.map_err(|error| ProbeError::Output(error.to_string()))? {
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                stdout.extend_from_slice(&message);
            }
            LogOutput::StdErr { message } => {
                stderr.extend_from_slice(&message);
                let excess = stderr.len().saturating_sub(STDERR_TAIL);
                stderr.drain(..excess);
            }
            LogOutput::StdIn { .. } => {}
        }
    }
    Ok((
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use dw_runtime::image::{VERSION_LABEL, WORKFLOW_LABEL};
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn probe_addresses_are_addresses_or_names_without_ports() {
        assert_eq!(
            ProbeTarget::parse("127.0.0.1").unwrap(),
            ProbeTarget::Address(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(
            ProbeTarget::parse("[::1]").unwrap(),
            ProbeTarget::Address(IpAddr::V6(Ipv6Addr::LOCALHOST))
        );
        assert_eq!(
            ProbeTarget::parse("Host.Docker.Internal").unwrap(),
            ProbeTarget::Name("host.docker.internal".to_owned())
        );
        for bad in ["127.0.0.1:80", "[::1]:80", "", "a b", "host..internal"] {
            assert!(ProbeTarget::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            ProbeTarget::Address(IpAddr::V6(Ipv6Addr::LOCALHOST)).with_port(8080),
            "[::1]:8080"
        );
    }

    #[test]
    fn an_address_of_another_machine_is_refused() {
        // TEST-NET-2 (RFC 5737), a documentation range: binding it fails locally, sending nothing.
        let error = parse_addresses(&["198.51.100.1".to_owned()]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("not an address doctor can listen on"),
            "{error}"
        );
        let targets = parse_addresses(&["127.0.0.1".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        assert_eq!(targets.len(), 1);
    }

    #[test]
    fn a_probe_is_the_sandbox_with_its_script_and_auto_removal() {
        let home = tempfile::tempdir().unwrap();
        let directory = ProbeDirectory::create(home.path()).unwrap();
        let networking = Networking::Default {
            network: Some("dw-test-net".to_owned()),
        };
        let spec = spec("example/image:1", &directory, &networking, "doctor-1");
        let probe = Probe {
            purpose: "network-default",
            networking,
            script: "echo hi",
            arguments: vec!["1".to_owned()],
        };
        let config = container_config(&spec, &probe);
        assert_eq!(
            config.entrypoint.clone().unwrap(),
            ["bash", "-c", "echo hi", "dw-probe", "1"]
        );
        assert_eq!(config.open_stdin, Some(false));
        let host = config.host_config.clone().unwrap();
        assert_eq!(host.auto_remove, Some(true));
        assert_eq!(host.network_mode.as_deref(), Some("dw-test-net"));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(host.readonly_rootfs, Some(true));
        let labels = config.labels.unwrap_or_default();
        assert_eq!(labels[WORKFLOW_LABEL], "doctor-1");
        assert!(labels.contains_key(VERSION_LABEL));
        assert_eq!(labels[PROBE_LABEL], "network-default");
        assert!(directory.workspace().join(DECOY).is_file());
        let root = directory.root.path().to_owned();
        drop(directory);
        assert!(!root.exists());
    }
}
