//! A running sandbox: the container made from a [`SandboxSpec`], with its executor attached.
//!
//! The executor is the container's main process (under the engine's init). dw attaches to the
//! container's stdin and stdout before starting it, so no output is lost, and speaks the
//! protocol over that attachment — one container create, one attach and one start, no
//! `docker exec`. When the attachment ends (dw exits, or is killed), the executor reads the end
//! of its stdin and exits, and the container stops; dw removes it itself when it can
//! ([`Sandbox::remove`], or on drop), and the [reaper](crate::reaper) when it could not.

use std::path::PathBuf;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::query_parameters::{AttachContainerOptions, CreateContainerOptions};
use dw_protocol::result::HelloResult;
use dw_runtime::container::ContainerGuard;
use dw_runtime::engine::{Engine, EngineError};
use dw_runtime::sandbox::{Limits, Network, SandboxSpec, User};
use futures_util::{Stream, StreamExt};

use crate::client::{Client, ClientError};
use crate::executor::ExecutorError;
use crate::masks::MaskError;

/// How long the executor may take to answer its first `hello`.
const HELLO_DEADLINE: Duration = Duration::from_secs(30);

/// How much of the executor's stderr is kept to explain a failure.
const STDERR_TAIL: usize = 4096;

/// The environment variable that names the workflow id of a sandbox started by `dw sandbox`
/// (by default a fresh `sandbox-…` id); the container is labelled and named after it.
pub const WORKFLOW_ID_ENV: &str = "DW_WORKFLOW_ID";

/// Why a sandbox could not be prepared, started or removed.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The project directory cannot be used.
    #[error("the workspace {} cannot be used: {source}; pass an existing project directory with --workspace", path.display())]
    Workspace {
        /// The directory as given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The executor binary cannot be used.
    #[error(transparent)]
    Executor(#[from] ExecutorError),
    /// The project could not be searched for credentials.
    #[error(transparent)]
    Masks(#[from] MaskError),
    /// The empty file mounted over credential files could not be made.
    #[error("cannot create the empty file {} that hides credential files in the sandbox: {source}; check that the directory is writable", path.display())]
    EmptyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The workflow id is not usable in a container name and label.
    #[error(
        "the workflow id {0:?} is not usable: use 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit"
    )]
    WorkflowId(String),
    /// An engine call failed (the engine's error, the cause, says why).
    #[error("cannot {action}")]
    Engine {
        /// What dw was doing ("create the sandbox container").
        action: &'static str,
        /// The engine's error.
        #[source]
        source: EngineError,
    },
    /// The executor did not answer `hello` as expected.
    #[error(
        "the executor in sandbox {container} did not start: {source}{}",
        stderr_note(stderr)
    )]
    Hello {
        /// The container's id.
        container: String,
        /// Why.
        #[source]
        source: ClientError,
        /// The end of the executor's stderr.
        stderr: String,
    },
    /// The executor did not answer `hello` in time.
    #[error("the executor in sandbox {container} did not answer within {}s; the engine may be overloaded — retry{}", HELLO_DEADLINE.as_secs(), stderr_note(stderr))]
    HelloTimeout {
        /// The container's id.
        container: String,
        /// The end of the executor's stderr.
        stderr: String,
    },
}

fn stderr_note(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        String::new()
    } else {
        format!(" (its stderr: {})", stderr.trim())
    }
}

/// What the user chose about a sandbox; the rest of the [`SandboxSpec`] follows from the host.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// The image to start from.
    pub image: String,
    /// The project directory (relative paths are resolved against the current directory).
    pub workspace: PathBuf,
    /// The network.
    pub network: Network,
    /// The limits.
    pub limits: Limits,
    /// Which names of the project are hidden.
    pub masks: crate::config::MaskRules,
    /// The workflow id; `None` makes a fresh `sandbox-<hex>` id.
    pub workflow_id: Option<String>,
    /// The executor binary; `None` looks for it (`DW_AGENT`, then next to `dw`).
    pub executor: Option<PathBuf>,
}

impl SandboxOptions {
    /// Defaults for `image` and `workspace`: no network, default limits, a fresh id.
    pub fn new(image: impl Into<String>, workspace: impl Into<PathBuf>) -> Self {
        Self {
            image: image.into(),
            workspace: workspace.into(),
            network: Network::None,
            limits: Limits::default(),
            masks: crate::config::MaskRules::default(),
            workflow_id: None,
            executor: None,
        }
    }

    /// Defaults for `image` and `workspace` with the limits and mask rules of `config`.
    pub fn configured(
        image: impl Into<String>,
        workspace: impl Into<PathBuf>,
        config: &crate::config::Config,
    ) -> Self {
        let mut options = SandboxOptions::new(image, workspace);
        options.limits = config.limits();
        options.masks = config.mask_rules();
        options
    }

    /// The complete spec: the executor located and checked, the workspace resolved and
    /// searched for credentials, this user's ids and this process as the owner.
    pub fn spec(&self) -> Result<SandboxSpec, SandboxError> {
        let workspace =
            std::fs::canonicalize(&self.workspace).map_err(|source| SandboxError::Workspace {
                path: self.workspace.clone(),
                source,
            })?;
        if !workspace.is_dir() {
            return Err(SandboxError::Workspace {
                path: self.workspace.clone(),
                source: std::io::Error::other("it is not a directory"),
            });
        }
        let executor = match &self.executor {
            Some(path) => path.clone(),
            None => crate::executor::locate()?,
        };
        crate::executor::check(&executor)?;
        // The engine needs an absolute path; resolving links also shows the real file in
        // `docker inspect`.
        let executor = std::fs::canonicalize(&executor).map_err(|source| {
            crate::executor::ExecutorError::Unreadable {
                path: executor.clone(),
                source,
            }
        })?;
        let masks = crate::masks::find_with(&workspace, &self.masks)?;
        let workflow_id = match &self.workflow_id {
            Some(id) => check_workflow_id(id)?,
            None => fresh_workflow_id(),
        };
        Ok(SandboxSpec {
            image: self.image.clone(),
            workspace,
            executor,
            empty_file: empty_file()?,
            masks,
            user: User {
                uid: nix::unistd::getuid().as_raw(),
                gid: nix::unistd::getgid().as_raw(),
            },
            network: self.network,
            limits: self.limits,
            workflow_id,
            owner: crate::owner::current(),
        })
    }
}

fn check_workflow_id(id: &str) -> Result<String, SandboxError> {
    let valid = (1..=64).contains(&id.len())
        && id.starts_with(|first: char| first.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(id.to_owned())
    } else {
        Err(SandboxError::WorkflowId(id.to_owned()))
    }
}

fn fresh_workflow_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos() ^ (elapsed.as_secs() as u32))
        .unwrap_or_default();
    format!("sandbox-{:x}{nanos:08x}", std::process::id())
}

/// `<cache>/dw/sandbox/empty`: an empty, read-only file, made again if anything changed it.
///
/// It lives under the user's home rather than in `/tmp` because VM-backed runtimes (Colima,
/// Docker Desktop) share the home directory with their VM, not `/tmp`.
fn empty_file() -> Result<PathBuf, SandboxError> {
    let directory = directories::BaseDirs::new()
        .map(|dirs| dirs.cache_dir().join("dw").join("sandbox"))
        .unwrap_or_else(|| std::env::temp_dir().join("dw-sandbox"));
    let path = directory.join("empty");
    let failed = |source| SandboxError::EmptyFile {
        path: path.clone(),
        source,
    };
    if std::fs::symlink_metadata(&path).is_ok_and(|meta| meta.is_file() && meta.len() == 0) {
        return Ok(path);
    }
    std::fs::create_dir_all(&directory).map_err(failed)?;
    let temporary = tempfile::NamedTempFile::new_in(&directory).map_err(failed)?;
    std::fs::set_permissions(
        temporary.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o444),
    )
    .map_err(failed)?;
    temporary
        .persist(&path)
        .map_err(|error| failed(error.error))?;
    Ok(path)
}

/// A started sandbox whose executor answered `hello`. Removed by [`Sandbox::remove`], or on
/// drop (synchronously, so that a panic or an early return cannot leave it behind).
#[derive(Debug)]
pub struct Sandbox {
    client: Client,
    hello: HelloResult,
    spec: SandboxSpec,
    container: ContainerGuard,
}

impl Sandbox {
    /// Creates the container from `spec`, attaches to it, starts it and says `hello`.
    ///
    /// On any failure after the container was created, it is removed before returning.
    pub async fn start(engine: &Engine, spec: SandboxSpec) -> Result<Self, SandboxError> {
        let docker = engine.docker();
        let created = engine
            .call(
                "POST /containers/create",
                docker.create_container(
                    Some(CreateContainerOptions {
                        name: Some(spec.container_name()),
                        ..Default::default()
                    }),
                    spec.container_config(),
                ),
            )
            .await
            .map_err(|source| SandboxError::Engine {
                action: "create the sandbox container",
                source,
            })?;
        let container = ContainerGuard::new(engine, created.id);
        let attached = engine
            .call(
                "POST /containers/{id}/attach",
                docker.attach_container(
                    container.id(),
                    Some(AttachContainerOptions {
                        stdin: true,
                        stdout: true,
                        stderr: true,
                        stream: true,
                        logs: false,
                        detach_keys: None,
                    }),
                ),
            )
            .await
            .map_err(|source| SandboxError::Engine {
                action: "attach to the sandbox container",
                source,
            })?;
        engine
            .call(
                "POST /containers/{id}/start",
                docker.start_container(container.id(), None),
            )
            .await
            .map_err(|source| SandboxError::Engine {
                action: "start the sandbox container",
                source,
            })?;
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let lines = stdout_lines(attached.output, std::sync::Arc::clone(&stderr));
        let client = Client::new(lines, attached.input);
        let stderr_tail = || stderr.lock().map(|text| text.clone()).unwrap_or_default();
        let hello = match tokio::time::timeout(HELLO_DEADLINE, client.hello()).await {
            Ok(Ok(hello)) => hello,
            Ok(Err(source)) => {
                return Err(SandboxError::Hello {
                    container: container.id().to_owned(),
                    source,
                    stderr: stderr_tail(),
                });
            }
            Err(_elapsed) => {
                return Err(SandboxError::HelloTimeout {
                    container: container.id().to_owned(),
                    stderr: stderr_tail(),
                });
            }
        };
        Ok(Self {
            client,
            hello,
            spec,
            container,
        })
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        self.container.id()
    }

    /// The spec the sandbox was made from.
    pub fn spec(&self) -> &SandboxSpec {
        &self.spec
    }

    /// The executor's answer to `hello`.
    pub fn hello(&self) -> &HelloResult {
        &self.hello
    }

    /// The executor's client; clone it to make requests from several tasks.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Removes the container (and its anonymous volumes), killing what runs in it.
    pub async fn remove(self) -> Result<(), SandboxError> {
        self.container
            .remove()
            .await
            .map_err(|source| SandboxError::Engine {
                action: "remove the sandbox container",
                source,
            })
    }
}

/// The executor's stdout, reassembled into lines from the attachment's frames; its stderr is
/// kept (the last [`STDERR_TAIL`] bytes) in `stderr` to explain failures.
fn stdout_lines<S>(
    output: S,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
) -> impl Stream<Item = Result<String, bollard::errors::Error>> + Send + 'static
where
    S: Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send + 'static,
{
    let mut buffer: Vec<u8> = Vec::new();
    output
        .map(
            move |chunk| -> Vec<Result<String, bollard::errors::Error>> {
                match chunk {
                    Err(error) => vec![Err(error)],
                    Ok(LogOutput::StdErr { message }) => {
                        if let Ok(mut kept) = stderr.lock() {
                            kept.push_str(&String::from_utf8_lossy(&message));
                            let excess = kept.len().saturating_sub(STDERR_TAIL);
                            let cut = (excess..=kept.len())
                                .find(|at| kept.is_char_boundary(*at))
                                .unwrap_or(0);
                            kept.drain(..cut);
                        }
                        Vec::new()
                    }
                    Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                        buffer.extend_from_slice(&message);
                        let mut lines = Vec::new();
                        while let Some(end) = buffer.iter().position(|byte| *byte == b'\n') {
                            let line: Vec<u8> = buffer.drain(..=end).collect();
                            lines.push(Ok(String::from_utf8_lossy(&line[..end]).into_owned()));
                        }
                        lines
                    }
                    Ok(LogOutput::StdIn { .. }) => Vec::new(),
                }
            },
        )
        .flat_map(futures_util::stream::iter)
}
