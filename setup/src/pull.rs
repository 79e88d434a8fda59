//! The workflow base image: is it present, and pulling it through the Engine API with progress.

use std::time::Duration;

use bollard::query_parameters::CreateImageOptionsBuilder;
use dw_runtime::engine::{Engine, EngineError};
use futures_util::StreamExt;

use crate::apply::Observer;

/// How long a pull may go without any progress message before dw calls it stalled.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(120);

/// One progress message of a pull, as the engine sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullEvent {
    /// The layer it is about (a short id), or `None` for the image as a whole.
    pub layer: Option<String>,
    /// The engine's words: `Downloading`, `Pull complete`, `Already exists`, …
    pub status: String,
    /// Bytes done, when the message counts them.
    pub current: Option<u64>,
    /// Bytes in all, when the message counts them.
    pub total: Option<u64>,
}

/// Why a pull failed, sorted the way a user fixes it.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The registry has no such image or tag.
    #[error(
        "{image} was not found: {message}. Check the image reference (`--image`), or the tag's \
         existence in its registry"
    )]
    NotFound {
        /// The image reference.
        image: String,
        /// The engine's words.
        message: String,
    },
    /// The registry refused the credentials (or wants some).
    #[error(
        "the registry refused to serve {image}: {message}. Log in with `docker login {registry}` \
         and run `dw setup --only pull` again"
    )]
    Auth {
        /// The image reference.
        image: String,
        /// The registry's host.
        registry: String,
        /// The engine's words.
        message: String,
    },
    /// The registry could not be reached.
    #[error(
        "the engine could not reach the registry {registry} for {image}: {message}. Check the \
         network (and any proxy the engine needs), then run `dw setup --only pull` again"
    )]
    Network {
        /// The image reference.
        image: String,
        /// The registry's host.
        registry: String,
        /// The engine's words.
        message: String,
    },
    /// The pull sent nothing for too long.
    #[error(
        "the pull of {image} made no progress for {}s; check the network, then run `dw setup \
         --only pull` again",
        STALL_TIMEOUT.as_secs()
    )]
    Stalled {
        /// The image reference.
        image: String,
    },
    /// The engine went away in the middle of the pull (it stopped, or its VM did).
    #[error(
        "the engine at {endpoint} stopped answering in the middle of the pull of {image} \
         ({message}). Start it again (`dw runtimes` shows whether it answers), then run `dw setup \
         --only pull`"
    )]
    EngineStopped {
        /// The image reference.
        image: String,
        /// Where the engine was.
        endpoint: String,
        /// How the connection ended.
        message: String,
    },
    /// Anything else the engine said.
    #[error("the pull of {image} failed: {message}")]
    Other {
        /// The image reference.
        image: String,
        /// The engine's words.
        message: String,
    },
    /// The engine itself could not be used.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// The image's digest (`repo@sha256:…`) or, for an image without one (built locally), its id.
/// `None` when the engine does not have the image.
pub async fn present(engine: &Engine, image: &str) -> Result<Option<String>, EngineError> {
    let inspected = engine
        .call(
            &format!("GET /images/{image}/json"),
            engine.docker().inspect_image(image),
        )
        .await;
    match inspected {
        Ok(inspect) => Ok(Some(
            inspect
                .repo_digests
                .unwrap_or_default()
                .into_iter()
                .find(|digest| digest.starts_with(&format!("{}@", repository(image))))
                .or(inspect.id)
                .unwrap_or_default(),
        )),
        Err(EngineError::Api {
            status: Some(404), ..
        }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Pulls `image`, reporting every progress message to `observer`, and returns its digest.
pub async fn pull(
    engine: &Engine,
    image: &str,
    observer: &mut dyn Observer,
) -> Result<String, PullError> {
    let options = CreateImageOptionsBuilder::new().from_image(image).build();
    let mut stream = engine.docker().create_image(Some(options), None, None);
    loop {
        let next = tokio::time::timeout(STALL_TIMEOUT, stream.next()).await;
        let item = match next {
            Err(_elapsed) => {
                return Err(PullError::Stalled {
                    image: image.to_owned(),
                });
            }
            Ok(None) => break,
            Ok(Some(item)) => item,
        };
        let info = match item {
            Ok(info) => info,
            Err(error) if is_connection_error(&error) && !answers(engine).await => {
                return Err(PullError::EngineStopped {
                    image: image.to_owned(),
                    endpoint: engine.endpoint().to_string(),
                    message: error.to_string(),
                });
            }
            Err(error) => return Err(classify(image, error)),
        };
        if let Some(error) = info.error_detail.and_then(|detail| detail.message) {
            return Err(classify_message(image, error));
        }
        let detail = info.progress_detail.unwrap_or_default();
        let count = |value: Option<i64>| value.and_then(|value| u64::try_from(value).ok());
        observer.pull_event(&PullEvent {
            layer: info
                .id
                .filter(|id| !id.is_empty() && !image.ends_with(id.as_str())),
            status: info.status.unwrap_or_default(),
            current: count(detail.current),
            total: count(detail.total).filter(|total| *total > 0),
        });
    }
    observer.pull_finished();
    Ok(present(engine, image).await?.unwrap_or_default())
}

/// Whether the error is about the connection to the engine rather than an answer from it.
fn is_connection_error(error: &bollard::errors::Error) -> bool {
    use bollard::errors::Error as Bollard;
    !matches!(
        error,
        Bollard::DockerResponseServerError { .. }
            | Bollard::DockerStreamError { .. }
            | Bollard::JsonDataError { .. }
            | Bollard::JsonSerdeError { .. }
    )
}

/// Whether the engine answers `/_ping` now.
async fn answers(engine: &Engine) -> bool {
    engine
        .call("GET /_ping", engine.docker().ping())
        .await
        .is_ok()
}

fn classify(image: &str, error: bollard::errors::Error) -> PullError {
    use bollard::errors::Error as Bollard;
    match error {
        Bollard::DockerResponseServerError { message, .. } => classify_message(image, message),
        Bollard::DockerStreamError { error } => classify_message(image, error),
        other => classify_message(image, other.to_string()),
    }
}

/// Sorts the engine's message: its wording is the only signal the Engine API gives.
fn classify_message(image: &str, message: String) -> PullError {
    let lower = message.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|needle| lower.contains(needle));
    let image = image.to_owned();
    let registry = registry_of(&image).to_owned();
    if has(&[
        "unauthorized",
        "authentication required",
        "denied",
        "no basic auth",
    ]) {
        PullError::Auth {
            image,
            registry,
            message,
        }
    } else if has(&[
        "not found",
        "manifest unknown",
        "does not exist",
        "name unknown",
    ]) {
        PullError::NotFound { image, message }
    } else if has(&[
        "dial tcp",
        "connection refused",
        "no such host",
        "i/o timeout",
        "tls handshake",
        "network is unreachable",
        "connection reset",
        "timeout exceeded",
        "server gave http response to https client",
    ]) {
        PullError::Network {
            image,
            registry,
            message,
        }
    } else {
        PullError::Other { image, message }
    }
}

/// The image's repository, without tag or digest.
fn repository(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    match without_digest.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => repository,
        _ => without_digest,
    }
}

/// The registry host of an image reference, Docker Hub's when it names none.
fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_sorted_by_their_fix() {
        let image = "registry.example:5000/team/image:v1";
        let cases = [
            ("manifest for x not found: manifest unknown", "not found"),
            (
                "unauthorized: authentication required",
                "docker login registry.example:5000",
            ),
            (
                "Get \"https://registry.example:5000/v2/\": dial tcp 10.0.0.1:5000: connect: connection refused",
                "could not reach the registry registry.example:5000",
            ),
            ("something odd", "failed: something odd"),
        ];
        for (message, expected) in cases {
            let text = classify_message(image, message.to_owned()).to_string();
            assert!(text.contains(expected), "{message} → {text}");
        }
    }

    #[test]
    fn references_split_into_registry_and_repository() {
        assert_eq!(repository("127.0.0.1:5000/a/b:v1"), "127.0.0.1:5000/a/b");
        assert_eq!(repository("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b");
        assert_eq!(repository("a/b@sha256:00"), "a/b");
        assert_eq!(registry_of("127.0.0.1:5000/a/b:v1"), "127.0.0.1:5000");
        assert_eq!(registry_of("library/debian:12"), "docker.io");
        assert_eq!(
            registry_of("registry.gitlab.com/x/y:1"),
            "registry.gitlab.com"
        );
    }
}
