//! What can go wrong talking to GitLab and the Duo Workflow Service, and whether to retry.

/// Whether calling the same operation again can succeed, for the runner's reconnect loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A transient failure (network, timeout, 429, 5xx, a dropped stream): retry with backoff.
    WithBackoff,
    /// The service refused the credentials it was given: fetch new ones
    /// ([`crate::GitLab::direct_access`]) and connect again.
    WithFreshCredentials,
    /// Retrying the same request fails the same way: report the error to the user.
    No,
}

/// An error of the Duo Workflow client. Every message says what failed, why, and what to do.
///
/// No variant holds a token: messages quoted from a server are redacted first.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The GitLab instance or service address cannot be used.
    #[error("invalid {what} `{url}`: {reason}; give a URL such as https://gitlab.example.com")]
    InvalidUrl {
        /// Which address (e.g. "GitLab instance URL").
        what: &'static str,
        /// The address as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },

    /// A header value (from the caller or from `direct_access`) is not valid in HTTP.
    #[error(
        "header `{name}` has a value that is not valid in HTTP; check the token and headers for stray characters"
    )]
    InvalidHeader {
        /// The header name; the value is not kept because it may be a secret.
        name: String,
    },

    /// The HTTP request to GitLab did not complete.
    #[error(
        "could not reach GitLab for {endpoint}: {source}; check the URL and the network, then retry"
    )]
    Request {
        /// The API path that was called.
        endpoint: &'static str,
        /// The transport error (it names the URL, never the token).
        #[source]
        source: reqwest::Error,
    },

    /// GitLab answered with an error status.
    #[error("GitLab refused {endpoint} with HTTP {status}: {message}; {hint}")]
    Api {
        /// The API path that was called.
        endpoint: &'static str,
        /// The HTTP status code.
        status: u16,
        /// The message GitLab gave, redacted and shortened.
        message: String,
        /// What to do about it.
        hint: &'static str,
    },

    /// A message from GitLab or the service is not shaped as the contract says.
    #[error(
        "could not read {what}: {source}; the GitLab instance may run an incompatible Duo Workflow version"
    )]
    Decode {
        /// Which message.
        what: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// The WebSocket to GitLab could not be opened.
    #[error("could not open the Duo Workflow WebSocket at {url}: {source}; {hint}")]
    WebSocketConnect {
        /// The socket URL (without credentials).
        url: String,
        /// The handshake or transport error.
        #[source]
        source: Box<tokio_tungstenite::tungstenite::Error>,
        /// What to do about it.
        hint: &'static str,
    },

    /// The open WebSocket failed.
    #[error("the Duo Workflow WebSocket failed: {source}; reconnect and resume the workflow")]
    WebSocket {
        /// The transport error.
        #[source]
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },

    /// The gRPC connection to the Duo Workflow Service could not be opened.
    #[error(
        "could not connect to the Duo Workflow Service at {url}: {source}; check the address from direct_access and the network, then retry"
    )]
    GrpcConnect {
        /// The service URL.
        url: String,
        /// The transport error.
        #[source]
        source: tonic::transport::Error,
    },

    /// The gRPC stream ended with an error status.
    #[error("the Duo Workflow Service ended the stream with {code:?}: {message}; {hint}")]
    Grpc {
        /// The gRPC status code.
        code: tonic::Code,
        /// The status message (server metadata is not kept).
        message: String,
        /// What to do about it.
        hint: &'static str,
    },

    /// The session is closed: the service ended the stream, or `close` was called.
    #[error("the Duo Workflow session is closed; connect again and send a startRequest to resume")]
    Closed,
}

impl Error {
    /// Whether the operation that failed is worth calling again, and how.
    pub fn retry(&self) -> Retry {
        match self {
            Self::InvalidUrl { .. } | Self::InvalidHeader { .. } | Self::Decode { .. } => Retry::No,
            Self::Request { .. }
            | Self::WebSocket { .. }
            | Self::GrpcConnect { .. }
            | Self::Closed => Retry::WithBackoff,
            Self::Api { status, .. } => retry_for_http_status(*status),
            Self::WebSocketConnect { source, .. } => match source.as_ref() {
                tokio_tungstenite::tungstenite::Error::Http(response) => {
                    retry_for_http_status(response.status().as_u16())
                }
                tokio_tungstenite::tungstenite::Error::Tls(_)
                | tokio_tungstenite::tungstenite::Error::Url(_) => Retry::No,
                _ => Retry::WithBackoff,
            },
            Self::Grpc { code, .. } => retry_for_grpc_code(*code),
        }
    }

    /// The HTTP status GitLab answered with, when the error is one (a refused REST call or
    /// WebSocket handshake).
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            Self::WebSocketConnect { source, .. } => match source.as_ref() {
                tokio_tungstenite::tungstenite::Error::Http(response) => {
                    Some(response.status().as_u16())
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// Shorthand for `retry() != Retry::No`.
    pub fn is_retryable(&self) -> bool {
        self.retry() != Retry::No
    }
}

fn retry_for_http_status(status: u16) -> Retry {
    match status {
        401 => Retry::WithFreshCredentials,
        408 | 429 | 500..=599 => Retry::WithBackoff,
        _ => Retry::No,
    }
}

fn retry_for_grpc_code(code: tonic::Code) -> Retry {
    use tonic::Code;
    match code {
        Code::Unauthenticated => Retry::WithFreshCredentials,
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::ResourceExhausted
        | Code::Internal
        | Code::Unknown
        | Code::Cancelled => Retry::WithBackoff,
        _ => Retry::No,
    }
}

/// What to tell the user about an HTTP error status from GitLab.
pub(crate) fn http_hint(status: u16) -> &'static str {
    match status {
        401 => {
            "the token is missing, expired or revoked: create a personal access token with the `api` scope and set GITLAB_TOKEN"
        }
        403 => {
            "the token's user may not run Duo Workflow in this project: check that GitLab Duo (Agent Platform) is enabled for the project and the user has at least the Developer role"
        }
        404 => {
            "the project or the Duo Workflow API was not found: check the project ID or path, and that the instance runs GitLab 17.x or later with Duo Workflow"
        }
        408 | 429 => "GitLab is rate limiting: wait and retry",
        500..=599 => "GitLab had an internal error: retry later",
        _ => "check the request and the instance's Duo Workflow settings",
    }
}

/// What to tell the user about a gRPC status from the service.
pub(crate) fn grpc_hint(code: tonic::Code) -> &'static str {
    match retry_for_grpc_code(code) {
        Retry::WithFreshCredentials => {
            "the service token expired or was refused: call direct_access again and reconnect"
        }
        Retry::WithBackoff => "reconnect with backoff and resume the workflow",
        Retry::No => "the service refused the request: check the workflow and its definition",
    }
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
