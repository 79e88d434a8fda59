//! The connection to a container engine, with a deadline on every call and errors that teach.
//!
//! bollard's own timeout covers only the wait for a response head, so every call made through
//! [`Engine::call`] is wrapped in a deadline of its own. Before bollard speaks HTTP, [`Engine::connect`]
//! opens the socket itself: that is how a missing socket, a permission problem and a socket
//! nobody listens on are told apart, each with its own fix.

use std::future::Future;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::models::SystemVersion;
use bollard::{API_DEFAULT_VERSION, ClientVersion, Docker};

use crate::endpoint::Endpoint;
use crate::facts::EngineFacts;
use crate::kind::RuntimeKind;

/// How long a call may take unless the caller says otherwise. `DW_ENGINE_TIMEOUT` (seconds)
/// overrides it for the whole process; see [`default_deadline`].
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);

/// The deadline for engine calls: `DW_ENGINE_TIMEOUT` (seconds, fractions allowed) or
/// [`DEFAULT_DEADLINE`].
pub fn default_deadline() -> Duration {
    std::env::var("DW_ENGINE_TIMEOUT")
        .ok()
        .and_then(|value| value.trim().parse::<f64>().ok())
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_DEADLINE)
}

/// Why an engine could not be used. Every message says what happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Nothing exists at the socket path.
    #[error("no engine socket at {}: {}; {}", path.display(), not_running(*kind), kind.start_hint())]
    SocketMissing {
        /// The path that does not exist.
        path: PathBuf,
        /// The runtime expected there.
        kind: RuntimeKind,
    },
    /// Something other than a socket sits at the path.
    #[error("{} exists but is not a socket; point dw at the engine's socket (`--host unix:///path/to/docker.sock`)", path.display())]
    NotASocket {
        /// The offending path.
        path: PathBuf,
    },
    /// The socket exists but this user may not open it.
    #[error("permission denied on {} (owner {owner}, group {group}, mode {mode:o}): {hint}", path.display())]
    PermissionDenied {
        /// The socket.
        path: PathBuf,
        /// The socket's owner, by name when known.
        owner: String,
        /// The socket's group, by name when known.
        group: String,
        /// The socket's permission bits.
        mode: u32,
        /// What to do about it.
        hint: String,
    },
    /// The address exists but nothing accepts connections there.
    #[error("nobody is listening on {endpoint}: the engine stopped (a stale socket stays behind when a runtime crashes); {}", kind.start_hint())]
    ConnectionRefused {
        /// The address.
        endpoint: Endpoint,
        /// The runtime expected there.
        kind: RuntimeKind,
    },
    /// Something answers, but not the Docker Engine API.
    #[error(
        "{endpoint} answered, but not as a Docker Engine API ({detail}); check that the address is the engine's socket and not another service's"
    )]
    NotAnEngine {
        /// The address.
        endpoint: Endpoint,
        /// What went wrong when speaking to it.
        detail: String,
    },
    /// The engine did not answer in time.
    #[error("{endpoint} did not answer {what} within {:.1}s: the engine may be starting or hung; retry, or restart the runtime (raise the limit with DW_ENGINE_TIMEOUT=<seconds>)", deadline.as_secs_f64())]
    Timeout {
        /// The address.
        endpoint: Endpoint,
        /// The call that timed out, e.g. `GET /info`.
        what: String,
        /// The deadline that passed.
        deadline: Duration,
    },
    /// The engine answered a call with an error.
    #[error("{what} failed on {endpoint}: {message}")]
    Api {
        /// The address.
        endpoint: Endpoint,
        /// The call, e.g. `GET /info`.
        what: String,
        /// The HTTP status, when the engine sent one.
        status: Option<u16>,
        /// The engine's message.
        message: String,
    },
    /// Connecting failed for another reason.
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        /// The address.
        endpoint: Endpoint,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

fn not_running(kind: RuntimeKind) -> String {
    match kind {
        RuntimeKind::Custom => "nothing is there".to_owned(),
        known => format!("{} is not running", known.display_name()),
    }
}

/// A connected engine.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    endpoint: Endpoint,
    deadline: Duration,
    version: SystemVersion,
}

impl Engine {
    /// Connects to `endpoint` and asks for `/version`, classifying any failure.
    ///
    /// `kind` is what the caller expects at that address (it shapes the fix in error messages;
    /// [`RuntimeKind::Custom`] when unknown). The client then speaks the highest API version both
    /// sides support.
    pub async fn connect(
        endpoint: &Endpoint,
        kind: RuntimeKind,
        deadline: Duration,
    ) -> Result<Self, EngineError> {
        check_reachable(endpoint, kind, deadline).await?;
        let docker = client(endpoint, deadline, API_DEFAULT_VERSION)?;
        let version = within(endpoint, "GET /version", deadline, docker.version())
            .await
            .map_err(|error| match error {
                EngineError::Api { message, .. } => EngineError::NotAnEngine {
                    endpoint: endpoint.clone(),
                    detail: message,
                },
                other => other,
            })?;
        let docker = match version.api_version.as_deref().and_then(parse_api_version) {
            Some(server) if server < *API_DEFAULT_VERSION => client(endpoint, deadline, &server)?,
            _ => docker,
        };
        Ok(Self {
            docker,
            endpoint: endpoint.clone(),
            deadline,
            version,
        })
    }

    /// The address this engine was reached at.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The bollard client, for calls dw's crates make themselves (wrap them in [`Engine::call`]).
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The deadline every call gets.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The engine's answer to `/version`, as received when connecting.
    pub fn version(&self) -> &SystemVersion {
        &self.version
    }

    /// Runs one engine call under the deadline, naming it (`what`, e.g. `GET /info`) in errors.
    pub async fn call<T>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, EngineError> {
        within(&self.endpoint, what, self.deadline, call).await
    }

    /// `/version` and `/info` as one struct.
    pub async fn facts(&self) -> Result<EngineFacts, EngineError> {
        let info = self.call("GET /info", self.docker.info()).await?;
        Ok(EngineFacts::from_answers(self.version.clone(), info))
    }
}

async fn within<T>(
    endpoint: &Endpoint,
    what: &str,
    deadline: Duration,
    call: impl Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<T, EngineError> {
    match tokio::time::timeout(deadline, call).await {
        Err(_elapsed) => Err(EngineError::Timeout {
            endpoint: endpoint.clone(),
            what: what.to_owned(),
            deadline,
        }),
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(classify(endpoint, what, deadline, error)),
    }
}

fn classify(
    endpoint: &Endpoint,
    what: &str,
    deadline: Duration,
    error: bollard::errors::Error,
) -> EngineError {
    use bollard::errors::Error as Bollard;
    if let Some(source) = connect_failure(&error) {
        return EngineError::Connect {
            endpoint: endpoint.clone(),
            source,
        };
    }
    match error {
        Bollard::DockerResponseServerError {
            status_code,
            message,
        } => EngineError::Api {
            endpoint: endpoint.clone(),
            what: what.to_owned(),
            status: Some(status_code),
            message,
        },
        Bollard::RequestTimeoutError => EngineError::Timeout {
            endpoint: endpoint.clone(),
            what: what.to_owned(),
            deadline,
        },
        Bollard::JsonDataError { .. } | Bollard::JsonSerdeError { .. } => {
            EngineError::NotAnEngine {
                endpoint: endpoint.clone(),
                detail: format!("its answer to {what} is not the Engine API's JSON: {error}"),
            }
        }
        Bollard::HyperResponseError { .. } | Bollard::HyperLegacyError { .. } => {
            EngineError::NotAnEngine {
                endpoint: endpoint.clone(),
                detail: format!("it does not speak HTTP as expected: {error}"),
            }
        }
        other => EngineError::Api {
            endpoint: endpoint.clone(),
            what: what.to_owned(),
            status: None,
            message: other.to_string(),
        },
    }
}

/// The operating system's error when a call could not even connect: the engine went away after
/// dw connected to it (it stopped, or its VM did). `None` for any other failure.
fn connect_failure(error: &bollard::errors::Error) -> Option<io::Error> {
    let bollard::errors::Error::HyperLegacyError { err } = error else {
        return None;
    };
    if !err.is_connect() {
        return None;
    }
    let mut cause = std::error::Error::source(err);
    while let Some(current) = cause {
        if let Some(io_error) = current.downcast_ref::<io::Error>() {
            return Some(io::Error::new(io_error.kind(), io_error.to_string()));
        }
        cause = current.source();
    }
    Some(io::Error::other(err.to_string()))
}

fn client(
    endpoint: &Endpoint,
    deadline: Duration,
    version: &ClientVersion,
) -> Result<Docker, EngineError> {
    // bollard's own timeout is whole seconds; ours (in `within`) is the one that counts.
    let seconds = deadline.as_secs().saturating_add(1);
    let connected = match endpoint {
        Endpoint::Unix(path) => {
            Docker::connect_with_unix(&path.to_string_lossy(), seconds, version)
        }
        Endpoint::Tcp(address) => Docker::connect_with_http(address, seconds, version),
    };
    connected.map_err(|error| EngineError::Connect {
        endpoint: endpoint.clone(),
        source: io::Error::other(error.to_string()),
    })
}

fn parse_api_version(text: &str) -> Option<ClientVersion> {
    let (major, minor) = text.split_once('.')?;
    Some(ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

/// Opens (and closes) a plain connection, so that the reason a socket cannot be used is known
/// before any HTTP is spoken.
async fn check_reachable(
    endpoint: &Endpoint,
    kind: RuntimeKind,
    deadline: Duration,
) -> Result<(), EngineError> {
    let connected = match endpoint {
        Endpoint::Unix(path) => {
            check_socket_file(path, kind)?;
            tokio::time::timeout(deadline, tokio::net::UnixStream::connect(path))
                .await
                .map(|result| result.map(drop))
        }
        Endpoint::Tcp(address) => {
            tokio::time::timeout(deadline, tokio::net::TcpStream::connect(address.as_str()))
                .await
                .map(|result| result.map(drop))
        }
    };
    match connected {
        Ok(Ok(())) => Ok(()),
        Err(_elapsed) => Err(EngineError::Timeout {
            endpoint: endpoint.clone(),
            what: "a connection".to_owned(),
            deadline,
        }),
        Ok(Err(error)) => Err(connect_error(endpoint, kind, error)),
    }
}

fn check_socket_file(path: &Path, kind: RuntimeKind) -> Result<(), EngineError> {
    match std::fs::metadata(path) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Err(EngineError::SocketMissing {
            path: path.to_owned(),
            kind,
        }),
        Ok(metadata) if !metadata.file_type().is_socket() => Err(EngineError::NotASocket {
            path: path.to_owned(),
        }),
        // Other stat failures (a directory on the way we may not search) surface on connect.
        _ => Ok(()),
    }
}

fn connect_error(endpoint: &Endpoint, kind: RuntimeKind, error: io::Error) -> EngineError {
    match (error.kind(), endpoint) {
        (io::ErrorKind::NotFound, Endpoint::Unix(path)) => EngineError::SocketMissing {
            path: path.clone(),
            kind,
        },
        (io::ErrorKind::PermissionDenied, Endpoint::Unix(path)) => permission_denied(path, kind),
        (io::ErrorKind::ConnectionRefused, _) => EngineError::ConnectionRefused {
            endpoint: endpoint.clone(),
            kind,
        },
        _ => EngineError::Connect {
            endpoint: endpoint.clone(),
            source: error,
        },
    }
}

fn permission_denied(path: &Path, kind: RuntimeKind) -> EngineError {
    let Ok(metadata) = std::fs::metadata(path) else {
        return EngineError::PermissionDenied {
            path: path.to_owned(),
            owner: "unknown".to_owned(),
            group: "unknown".to_owned(),
            mode: 0,
            hint: "a directory on the way to the socket is not searchable by you; ask its owner, \
                   or use a runtime that runs as you"
                .to_owned(),
        };
    };
    let owner = crate::host::user_name(metadata.uid());
    let group = crate::host::group_name(metadata.gid());
    let hint = permission_hint(kind, &group, metadata.gid());
    EngineError::PermissionDenied {
        path: path.to_owned(),
        owner,
        group,
        mode: metadata.mode() & 0o7777,
        hint,
    }
}

fn permission_hint(kind: RuntimeKind, group: &str, gid: u32) -> String {
    if kind.is_vm_backed() {
        return format!(
            "{} makes this socket for the user who started it; restart it as yourself",
            kind.display_name()
        );
    }
    match crate::host::group_membership(gid) {
        crate::host::Membership::Active => format!(
            "you are in group `{group}` but the socket's mode does not let the group in; \
             restart the engine so it recreates the socket"
        ),
        crate::host::Membership::PendingLogin => format!(
            "you were added to group `{group}` but this session predates it: log out and back in, \
             or run `newgrp {group}`"
        ),
        crate::host::Membership::None => format!(
            "join the socket's group: `sudo usermod -aG {group} $USER`, then log out and back in \
             (membership of `{group}` is equivalent to root on this machine; a VM-backed runtime \
             such as Colima avoids that)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_parse_as_the_engine_writes_them() {
        let version = parse_api_version("1.41");
        assert_eq!(
            version.map(|v| (v.major_version, v.minor_version)),
            Some((1, 41))
        );
        assert!(parse_api_version("latest").is_none());
    }
}
