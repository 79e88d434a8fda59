//! A fake Engine API, and listeners that are not engines.
//!
//! The fake serves recorded answers over the same transport a real engine uses (HTTP/1.1 on a
//! unix socket), so dw reaches it through exactly the code path it uses for Docker. Each server
//! runs on a thread with its own tokio runtime, so synchronous tests (which run the `dw` binary)
//! and async tests can both use it; dropping the value stops it.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
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
    /// The bodies of `GET /images/{name}/json`, one per image the engine has.
    pub images: Vec<Value>,
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
            images: recorded
                .get_mut("images")
                .and_then(|images| images.as_array_mut().map(std::mem::take))
                .unwrap_or_default(),
        }
    }

    /// A web service that is not an engine: every Engine API path is "404 page not found".
    pub fn not_an_engine() -> Self {
        Self {
            runtime: "web".to_owned(),
            version: Value::Null,
            info: Value::Null,
            containers: Value::Null,
            images: Vec::new(),
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

    /// Adds an image tagged `reference` (`registry.example/group/image:tag`), answered by
    /// `GET /images/{name}/json` like an image pulled from a registry: an `Id`, one `RepoTags`
    /// entry, one `RepoDigests` entry, `Created` and `Size`. The digests are synthesized from the
    /// reference, so they are stable across runs.
    pub fn with_image(mut self, reference: &str) -> Self {
        let repository = repository_of(reference);
        let architecture = self.version["Arch"].as_str().unwrap_or("amd64").to_owned();
        self.images.push(json!({
            "Id": format!("sha256:{}", sha256_hex(&format!("config {reference}"))),
            "RepoTags": [reference],
            "RepoDigests": [format!("{repository}@{}", image_digest(reference))],
            "Parent": "",
            "Comment": "",
            "Created": "2025-06-02T09:14:31.402118573Z",
            "DockerVersion": "",
            "Author": "",
            "Architecture": architecture,
            "Os": "linux",
            "Size": 187_241_535u64,
            "RootFS": {"Type": "layers", "Layers": [format!("sha256:{}", sha256_hex(&format!("layer {reference}")))]},
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        }));
        self
    }
}

/// The repository digest [`Fixture::with_image`] gives `reference` (`sha256:…`).
pub fn image_digest(reference: &str) -> String {
    format!("sha256:{}", sha256_hex(&format!("manifest {reference}")))
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `registry:5000/group/image:tag` → `registry:5000/group/image` (a port is not a tag).
fn repository_of(reference: &str) -> &str {
    let reference = reference.split('@').next().unwrap_or(reference);
    match reference.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => repository,
        _ => reference,
    }
}

/// A running fake engine.
pub struct FakeEngine {
    socket: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
    _server: ServerThread,
}

impl FakeEngine {
    /// Serves `fixture` on a unix socket at `socket` (its directory must exist).
    pub fn start(socket: &Path, fixture: Fixture) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new((fixture, Arc::clone(&requests)));
        let app = Router::new().fallback(answer).with_state(state);
        let listener = bind_unix(socket);
        let server = ServerThread::axum(Some(socket.to_owned()), app, move || {
            tokio::net::UnixListener::from_std(listener).unwrap()
        });
        Self {
            socket: socket.to_owned(),
            requests,
            _server: server,
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
        other => match other
            .strip_prefix("/images/")
            .and_then(|rest| rest.strip_suffix("/json"))
        {
            Some(name) => image(fixture, name),
            None => not_found(other),
        },
    }
}

/// `GET /images/{name}/json`: the image whose tag, repository digest or ID is `name`, or the
/// engine's 404.
fn image(fixture: &Fixture, name: &str) -> Response {
    let tagged = if repository_of(name) == name && !name.contains('@') {
        format!("{name}:latest")
    } else {
        name.to_owned()
    };
    let names = |image: &Value, field: &str| -> bool {
        image[field].as_array().is_some_and(|values| {
            values
                .iter()
                .any(|value| value == name || value == tagged.as_str())
        })
    };
    let found = fixture.images.iter().find(|image| {
        names(image, "RepoTags")
            || names(image, "RepoDigests")
            || image["Id"] == name
            || image["Id"] == format!("sha256:{name}").as_str()
    });
    match found {
        Some(image) => json(image),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            json!({ "message": format!("No such image: {name}") }).to_string(),
        )
            .into_response(),
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
        json!({ "message": format!("page not found: {path}") }).to_string(),
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
    _server: ServerThread,
}

impl Listener {
    /// Listens at `socket` and behaves as told.
    pub fn start(socket: &Path, behaviour: Behaviour) -> Self {
        let listener = bind_unix(socket);
        let server = ServerThread::spawn(Some(socket.to_owned()), move |mut stopped| async move {
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
        Self { _server: server }
    }
}

/// A server running on a thread of its own, with a current-thread tokio runtime, until it is
/// dropped: the plumbing every fake server in this crate shares. Dropping it asks the server to
/// stop, waits for the thread, and removes its unix socket, if it has one.
pub(crate) struct ServerThread {
    socket: Option<PathBuf>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    /// Runs `serve` on the server's thread; it must return once the receiver it is given fires.
    pub(crate) fn spawn<Serve, Serving>(socket: Option<PathBuf>, serve: Serve) -> Self
    where
        Serve: FnOnce(oneshot::Receiver<()>) -> Serving + Send + 'static,
        Serving: Future<Output = ()>,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            // `serve` is called inside the runtime: it converts std listeners to tokio ones.
            runtime.block_on(async move { serve(stopped).await });
        });
        Self {
            socket,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Serves `app` on the listener `listen` makes (called on the server's thread, inside its
    /// runtime), until dropped.
    pub(crate) fn axum<Listen, Listening>(
        socket: Option<PathBuf>,
        app: Router,
        listen: Listen,
    ) -> Self
    where
        Listen: FnOnce() -> Listening + Send + 'static,
        Listening: axum::serve::Listener,
        Listening::Addr: std::fmt::Debug,
    {
        Self::spawn(socket, move |stopped| async move {
            axum::serve(listen(), app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        })
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some(socket) = &self.socket {
            let _ = std::fs::remove_file(socket);
        }
    }
}

/// Binds a non-blocking unix listener at `socket`, ready for tokio.
fn bind_unix(socket: &Path) -> std::os::unix::net::UnixListener {
    let listener = std::os::unix::net::UnixListener::bind(socket)
        .unwrap_or_else(|error| panic!("cannot bind {}: {error}", socket.display()));
    listener.set_nonblocking(true).unwrap();
    listener
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
    fn a_port_is_not_a_tag() {
        assert_eq!(
            repository_of("127.0.0.1:5000/group/image:v1"),
            "127.0.0.1:5000/group/image"
        );
        assert_eq!(
            repository_of("127.0.0.1:5000/group/image"),
            "127.0.0.1:5000/group/image"
        );
        assert_eq!(repository_of("image@sha256:abc"), "image");
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
