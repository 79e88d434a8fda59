//! The engine connection against real sockets: fake engines replaying real runtimes' answers, the
//! real engine of this machine, and listeners that fail in each way users meet.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use dw_runtime::endpoint::Endpoint;
use dw_runtime::engine::{Engine, EngineError};
use dw_runtime::kind::RuntimeKind;
use dw_test_support::engine::{Behaviour, FakeEngine, Fixture, Listener, stale_socket};
use dw_test_support::home::TempHome;

const DEADLINE: Duration = Duration::from_secs(5);

async fn connect(endpoint: &Endpoint, kind: RuntimeKind, deadline: Duration) -> EngineError {
    Engine::connect(endpoint, kind, deadline)
        .await
        .expect_err("the connection should fail")
}

#[tokio::test]
async fn each_recorded_runtime_is_recognised_through_the_real_code_path() {
    let home = TempHome::new();
    let cases = [
        (
            "docker-desktop-macos-arm64-4.44.3",
            RuntimeKind::DockerDesktop,
            "28.3.2",
        ),
        ("colima-ubuntu-24.04-arm64", RuntimeKind::Colima, "27.4.0"),
        (
            "rancher-desktop-macos-arm64-1.16",
            RuntimeKind::RancherDesktop,
            "27.3.1",
        ),
        (
            "docker-engine-ubuntu-24.04-28.3.2",
            RuntimeKind::DockerEngine,
            "28.3.2",
        ),
    ];
    for (fixture, kind, server_version) in cases {
        let socket = home.join(format!("{fixture}.sock"));
        let fake = FakeEngine::start(&socket, Fixture::load(fixture));
        let engine = Engine::connect(
            &Endpoint::Unix(socket.clone()),
            RuntimeKind::Custom,
            DEADLINE,
        )
        .await
        .unwrap_or_else(|error| panic!("{fixture}: {error}"));
        let facts = engine.facts().await.unwrap();
        assert_eq!(RuntimeKind::Custom.refine(&facts), kind, "{fixture}");
        assert_eq!(facts.server_version, server_version, "{fixture}");
        assert!(facts.component("runc").is_some(), "{fixture}: {facts:?}");
        assert!(facts.cpus > 0 && facts.memory_bytes > 0, "{fixture}");
        assert_eq!(
            fake.requests(),
            vec!["GET /version".to_owned(), "GET /info".to_owned()],
            "{fixture}: one request each, nothing else"
        );
    }
}

#[tokio::test]
async fn docker_desktop_keeps_its_version_in_the_platform_name() {
    let home = TempHome::new();
    let socket = home.join("desktop.sock");
    let _fake = FakeEngine::start(&socket, Fixture::load("docker-desktop-macos-arm64-4.44.3"));
    let engine = Engine::connect(
        &Endpoint::Unix(socket),
        RuntimeKind::DockerDesktop,
        DEADLINE,
    )
    .await
    .unwrap();
    let facts = engine.facts().await.unwrap();
    let platform = facts.platform_name.unwrap_or_default();
    assert!(platform.starts_with("Docker Desktop 4.44.3"), "{platform}");
}

#[tokio::test]
async fn the_real_engine_of_this_machine_answers_with_its_facts() {
    let expected = std::process::Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .expect("the docker CLI runs");
    let expected = String::from_utf8_lossy(&expected.stdout).trim().to_owned();
    assert!(
        !expected.is_empty(),
        "the docker CLI reports no server version"
    );

    let endpoint = Endpoint::parse(dw_test_support::REAL_ENGINE_SOCKET).unwrap();
    let engine = Engine::connect(&endpoint, RuntimeKind::DockerEngine, DEADLINE)
        .await
        .expect("this machine's engine answers");
    let facts = engine.facts().await.unwrap();
    assert_eq!(facts.server_version, expected);
    let host = dw_runtime::host::HostFacts::detect();
    assert_eq!(
        facts.kernel_version, host.kernel_release,
        "the engine runs on this host"
    );
    assert_eq!(
        RuntimeKind::DockerEngine.refine(&facts),
        RuntimeKind::DockerEngine
    );
    assert!(
        facts.component("containerd").is_some(),
        "{:?}",
        facts.components
    );
}

#[tokio::test]
async fn a_missing_socket_says_which_runtime_to_start() {
    let home = TempHome::new();
    let socket = home.join(".colima/default/docker.sock");
    let error = connect(
        &Endpoint::Unix(socket.clone()),
        RuntimeKind::Colima,
        DEADLINE,
    )
    .await;
    assert!(
        matches!(error, EngineError::SocketMissing { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "no engine socket at {}: Colima is not running; run `colima start` (or `dw setup`)",
            socket.display()
        )
    );
}

#[tokio::test]
async fn a_socket_nobody_listens_on_is_refused_with_a_restart_hint() {
    let home = TempHome::new();
    let socket = home.join(".rd/docker.sock");
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    stale_socket(&socket);
    let error = connect(
        &Endpoint::Unix(socket),
        RuntimeKind::RancherDesktop,
        DEADLINE,
    )
    .await;
    assert!(
        matches!(error, EngineError::ConnectionRefused { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("nobody is listening"), "{message}");
    assert!(message.contains("start Rancher Desktop"), "{message}");
}

#[tokio::test]
async fn a_listener_that_is_not_http_is_not_an_engine() {
    let home = TempHome::new();
    let socket = home.join("ssh.sock");
    let _listener = Listener::start(&socket, Behaviour::NotHttp);
    let error = connect(&Endpoint::Unix(socket), RuntimeKind::Custom, DEADLINE).await;
    assert!(
        matches!(error, EngineError::NotAnEngine { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("not as a Docker Engine API"),
        "{error}"
    );
}

#[tokio::test]
async fn an_http_service_that_is_not_an_engine_is_named_as_such() {
    let home = TempHome::new();
    let socket = home.join("web.sock");
    let _fake = FakeEngine::start(&socket, Fixture::not_an_engine());
    let error = connect(&Endpoint::Unix(socket), RuntimeKind::Custom, DEADLINE).await;
    assert!(
        matches!(error, EngineError::NotAnEngine { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("page not found"), "{error}");
}

#[tokio::test]
async fn an_answer_that_is_not_the_engine_api_json_is_not_an_engine() {
    let home = TempHome::new();
    let socket = home.join("odd.sock");
    let _fake = FakeEngine::start(
        &socket,
        Fixture::load("docker-engine-ubuntu-24.04-28.3.2").with_version("ApiVersion", 7),
    );
    let error = connect(&Endpoint::Unix(socket), RuntimeKind::Custom, DEADLINE).await;
    assert!(
        matches!(error, EngineError::NotAnEngine { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_silent_listener_hits_the_deadline() {
    let home = TempHome::new();
    let socket = home.join("silent.sock");
    let _listener = Listener::start(&socket, Behaviour::Silent);
    let deadline = Duration::from_millis(300);
    let error = connect(&Endpoint::Unix(socket), RuntimeKind::Custom, deadline).await;
    match &error {
        EngineError::Timeout {
            what,
            deadline: hit,
            ..
        } => {
            assert_eq!(what, "GET /version");
            assert_eq!(*hit, deadline);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(error.to_string().contains("DW_ENGINE_TIMEOUT"), "{error}");
}

#[tokio::test]
async fn a_file_that_is_not_a_socket_is_named() {
    let home = TempHome::new();
    let path = home.file("docker.sock", "not a socket");
    let error = connect(&Endpoint::Unix(path), RuntimeKind::Custom, DEADLINE).await;
    assert!(matches!(error, EngineError::NotASocket { .. }), "{error:?}");
}

#[tokio::test]
async fn a_tcp_port_nobody_listens_on_is_refused() {
    // Bind and drop to get a loopback port that is certainly closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = Endpoint::parse(&format!("tcp://127.0.0.1:{port}")).unwrap();
    let error = connect(&endpoint, RuntimeKind::Custom, DEADLINE).await;
    assert!(
        matches!(error, EngineError::ConnectionRefused { .. }),
        "{error:?}"
    );
}
