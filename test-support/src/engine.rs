//! A fake Engine API, and listeners that are not engines.
//!
//! The fake serves recorded answers over the same transport a real engine uses (HTTP/1.1 on a
//! unix socket), so dw reaches it through exactly the code path it uses for Docker. Each server
//! runs on a thread with its own tokio runtime, so synchronous tests (which run the `dw` binary)
//! and async tests can both use it; dropping the value stops it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;

/// The recorded answers of one runtime.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The runtime it was recorded from (`colima`, `docker-desktop`, …).
    pub runtime: String,
    /// The body of `GET /version`.
    pub version: Value,
    /// The body of `GET /info`.
    pub info: Value,
    /// The body of `GET /containers/json`.
    pub containers: Value,
}

/// The recorded fixtures, by file stem.
pub const FIXTURES: &[&str] = &[
    "colima-ubuntu-24.04-arm64",
    "docker-desktop-macos-arm64-4.44.3",
    "docker-engine-ubuntu-24.04-28.3.2",
    "rancher-desktop-macos-arm64-1.16",
];

impl Fixture {
    /// Loads `fixtures/engines/<name>.json`.
    pub fn load(name: &str) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/engines")
            .join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read fixture {}: {error}", path.display()));
        let mut recorded: Value = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("fixture {} is not JSON: {error}", path.display()));
        Self {
            runtime: recorded["runtime"].as_str().unwrap_or_default().to_owned(),
            version: recorded["version"].take(),
            info: recorded["info"].take(),
            containers: recorded
                .get_mut("containers")
                .map(Value::take)
                .unwrap_or_else(|| Value::Array(Vec::new())),
        }
    }

    /// A web service that is not an engine: every Engine API path is "404 page not found".
    pub fn not_an_engine() -> Self {
        Self {
            runtime: "web".to_owned(),
            version: Value::Null,
            info: Value::Null,
            containers: Value::Null,
        }
    }

    /// Replaces one top-level field of the `/info` answer.
    pub fn with_info(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.info[field] = value.into();
        self
    }

    /// Replaces one top-level field of the `/version` answer.
    pub fn with_version(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.version[field] = value.into();
        self
    }
}

/// A running fake engine.
pub struct FakeEngine {
    socket: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeEngine {
    /// Serves `fixture` on a unix socket at `socket` (its directory must exist).
    pub fn start(socket: &Path, fixture: Fixture) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new((fixture, Arc::clone(&requests)));
        let app = Router::new().fallback(answer).with_state(state);
        let listener = std::os::unix::net::UnixListener::bind(socket)
            .unwrap_or_else(|error| panic!("cannot bind {}: {error}", socket.display()));
        listener.set_nonblocking(true).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::UnixListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Self {
            socket: socket.to_owned(),
            requests,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The socket it listens on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `METHOD /path` of every request so far, in order, API version prefixes removed.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeEngine {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

type Shared = Arc<(Fixture, Arc<Mutex<Vec<String>>>)>;

async fn answer(State(state): State<Shared>, request: Request<Body>) -> Response {
    let (fixture, requests) = &*state;
    let path = unversioned(request.uri().path());
    requests
        .lock()
        .unwrap()
        .push(format!("{} {path}", request.method()));
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return not_found(path);
    }
    match path {
        "/_ping" => (
            [
                ("api-version", api_version(fixture)),
                ("ostype", "linux".to_owned()),
            ],
            "OK",
        )
            .into_response(),
        "/version" if fixture.version.is_null() => not_found(path),
        "/version" => json(&fixture.version),
        "/info" if fixture.info.is_null() => not_found(path),
        "/info" => json(&fixture.info),
        "/containers/json" => json(&fixture.containers),
        other => not_found(other),
    }
}

/// `/v1.47/info` → `/info`, as the Engine API routes it.
fn unversioned(path: &str) -> &str {
    let Some(rest) = path.strip_prefix("/v") else {
        return path;
    };
    match rest.find('/') {
        Some(slash)
            if rest[..slash]
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.') =>
        {
            &rest[slash..]
        }
        _ => path,
    }
}

fn api_version(fixture: &Fixture) -> String {
    fixture.version["ApiVersion"]
        .as_str()
        .unwrap_or("1.41")
        .to_owned()
}

fn json(value: &Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn not_found(path: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "message": format!("page not found: {path}") }).to_string(),
    )
        .into_response()
}

/// How a [`Listener`] misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Accepts connections and never says a word.
    Silent,
    /// Accepts connections and answers like an SSH server.
    NotHttp,
}

/// A unix-socket listener that is not an engine.
pub struct Listener {
    socket: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Listener {
    /// Listens at `socket` and behaves as told.
    pub fn start(socket: &Path, behaviour: Behaviour) -> Self {
        let listener = std::os::unix::net::UnixListener::bind(socket)
            .unwrap_or_else(|error| panic!("cannot bind {}: {error}", socket.display()));
        listener.set_nonblocking(true).unwrap();
        let (stop, mut stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::UnixListener::from_std(listener).unwrap();
                let mut held = Vec::new();
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => {
                            let Ok((mut stream, _)) = accepted else { break };
                            if behaviour == Behaviour::NotHttp {
                                let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n").await;
                                let _ = stream.shutdown().await;
                            }
                            held.push(stream);
                        }
                    }
                }
            });
        });
        Self {
            socket: socket.to_owned(),
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Leaves a socket file at `socket` that nobody listens on, as a crashed runtime does.
pub fn stale_socket(socket: &Path) {
    let listener = std::os::unix::net::UnixListener::bind(socket)
        .unwrap_or_else(|error| panic!("cannot bind {}: {error}", socket.display()));
    drop(listener);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_prefixes_are_removed_like_the_engine_does() {
        assert_eq!(unversioned("/v1.47/info"), "/info");
        assert_eq!(unversioned("/info"), "/info");
        assert_eq!(unversioned("/volumes"), "/volumes");
    }

    #[test]
    fn every_fixture_loads() {
        for name in FIXTURES {
            let fixture = Fixture::load(name);
            assert!(fixture.version["ApiVersion"].is_string(), "{name}");
            assert!(fixture.info["OperatingSystem"].is_string(), "{name}");
        }
    }
}
