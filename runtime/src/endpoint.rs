//! What an engine address means.
//!
//! The same forms the Docker CLI accepts in `DOCKER_HOST` and `--host`: `unix:///path/to/sock`,
//! `tcp://host:port` (and `http://`, which the Engine API treats the same way), and, as a dw
//! convenience, a bare absolute path meaning a unix socket.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where an engine listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A unix socket on this machine.
    Unix(PathBuf),
    /// A TCP address, `host:port`, spoken to in plain HTTP.
    Tcp(String),
}

/// An address dw cannot use, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{address}` is not an engine address: {reason}. Use `unix:///path/to/docker.sock`, \
     `tcp://host:port` or an absolute socket path"
)]
pub struct EndpointError {
    /// The address as given.
    pub address: String,
    /// Why it was refused.
    pub reason: &'static str,
}

impl Endpoint {
    /// Parses an address in any of the accepted forms.
    pub fn parse(address: &str) -> Result<Self, EndpointError> {
        let error = |reason| EndpointError {
            address: address.to_owned(),
            reason,
        };
        let trimmed = address.trim();
        if trimmed.is_empty() {
            return Err(error("it is empty"));
        }
        if let Some(path) = trimmed.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(error("a unix socket path must be absolute"));
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = trimmed
            .strip_prefix("tcp://")
            .or_else(|| trimmed.strip_prefix("http://"))
        {
            let authority = rest.trim_end_matches('/');
            if authority.is_empty() || authority.contains('/') {
                return Err(error("a tcp address is `tcp://host:port`, with no path"));
            }
            let with_port = if has_port(authority) {
                authority.to_owned()
            } else {
                // The Docker CLI's default port for plain tcp.
                format!("{authority}:2375")
            };
            return Ok(Self::Tcp(with_port));
        }
        if trimmed.starts_with("ssh://") {
            return Err(error(
                "ssh:// engines are not supported; forward the socket and pass its path",
            ));
        }
        if trimmed.starts_with("npipe://") {
            return Err(error("named pipes exist only on Windows"));
        }
        if trimmed.starts_with("https://") {
            return Err(error(
                "TLS engine connections are not supported yet; use the engine's unix socket",
            ));
        }
        if trimmed.starts_with('/') {
            return Ok(Self::Unix(PathBuf::from(trimmed)));
        }
        Err(error("it has no known scheme"))
    }

    /// The socket path, for unix endpoints.
    pub fn socket_path(&self) -> Option<&Path> {
        match self {
            Self::Unix(path) => Some(path),
            Self::Tcp(_) => None,
        }
    }
}

fn has_port(authority: &str) -> bool {
    // `[::1]:2375` or `host:2375`; a bare IPv6 literal without brackets has no port.
    match authority.rsplit_once(':') {
        Some((host, port)) => {
            !port.is_empty()
                && port.chars().all(|c| c.is_ascii_digit())
                && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(path) => write!(formatter, "unix://{}", path.display()),
            Self::Tcp(address) => write!(formatter, "tcp://{address}"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn accepts_the_docker_cli_forms_and_bare_paths() {
        let cases = [
            ("unix:///var/run/docker.sock", "unix:///var/run/docker.sock"),
            (
                "/home/u/.colima/default/docker.sock",
                "unix:///home/u/.colima/default/docker.sock",
            ),
            ("tcp://127.0.0.1:2375", "tcp://127.0.0.1:2375"),
            ("tcp://127.0.0.1", "tcp://127.0.0.1:2375"),
            ("http://localhost:2375/", "tcp://localhost:2375"),
            ("tcp://[::1]:2376", "tcp://[::1]:2376"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                Endpoint::parse(input).unwrap().to_string(),
                expected,
                "{input}"
            );
        }
    }

    #[test]
    fn refuses_what_it_cannot_use_and_says_why() {
        for (input, reason) in [
            ("", "it is empty"),
            (
                "unix://relative.sock",
                "a unix socket path must be absolute",
            ),
            ("docker.sock", "it has no known scheme"),
            (
                "tcp://host:1/path",
                "a tcp address is `tcp://host:port`, with no path",
            ),
            (
                "npipe:////./pipe/docker_engine",
                "named pipes exist only on Windows",
            ),
        ] {
            assert_eq!(
                Endpoint::parse(input).unwrap_err().reason,
                reason,
                "{input}"
            );
        }
        let message = Endpoint::parse("ssh://u@host").unwrap_err().to_string();
        assert!(message.contains("forward the socket"), "{message}");
    }
}
