//! Runtime discovery in a temp home with real listening sockets at each runtime's place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use dw_runtime::discovery::{self, DiscoveryEnv, Source};
use dw_runtime::kind::RuntimeKind;
use dw_test_support::engine::{FakeEngine, Fixture, stale_socket};
use dw_test_support::home::TempHome;

const DEADLINE: Duration = Duration::from_secs(5);

fn env(home: &TempHome) -> DiscoveryEnv {
    DiscoveryEnv {
        home: home.path().to_owned(),
        host_flag: None,
        docker_host: None,
        docker_context: None,
        docker_config: None,
        colima_home: None,
        xdg_runtime_dir: None,
        // A place that does not exist, so the machine's own engine stays out of these tests.
        system_socket: home.join("no-system-engine/docker.sock"),
    }
}

fn summary(found: &discovery::Discovery) -> Vec<(String, String, bool, bool)> {
    found
        .runtimes
        .iter()
        .map(|runtime| {
            (
                runtime.kind.as_str().to_owned(),
                runtime.source.to_string(),
                runtime.exists,
                runtime.reachable,
            )
        })
        .collect()
}

fn row(kind: &str, source: &str, exists: bool, reachable: bool) -> (String, String, bool, bool) {
    (kind.to_owned(), source.to_owned(), exists, reachable)
}

#[tokio::test]
async fn every_source_in_precedence_order_with_kinds_from_the_engines_answers() {
    let home = TempHome::new();
    home.dir(".colima/default");
    home.file(".colima/work/colima.yaml", "cpu: 2\n");
    home.dir(".colima/_lima");
    home.dir(".rd");
    home.dir(".docker/desktop");
    home.dir(".orbstack/run");
    let _colima = FakeEngine::start(
        &home.join(".colima/default/docker.sock"),
        Fixture::load("colima-ubuntu-24.04-arm64"),
    );
    let _rancher = FakeEngine::start(
        &home.join(".rd/docker.sock"),
        Fixture::load("rancher-desktop-macos-arm64-1.16"),
    );
    let _desktop = FakeEngine::start(
        &home.join(".docker/desktop/docker.sock"),
        Fixture::load("docker-desktop-macos-arm64-4.44.3"),
    );
    stale_socket(&home.join(".orbstack/run/docker.sock"));
    // DOCKER_HOST names an odd path; the engine behind it is really Colima.
    let _custom = FakeEngine::start(
        &home.join("custom.sock"),
        Fixture::load("colima-ubuntu-24.04-arm64"),
    );
    let _context = FakeEngine::start(
        &home.join("context.sock"),
        Fixture::load("docker-engine-ubuntu-24.04-28.3.2"),
    );
    home.docker_context(
        "remote",
        &format!("unix://{}", home.join("context.sock").display()),
    );

    let mut env = env(&home);
    env.docker_host = Some(format!("unix://{}", home.join("custom.sock").display()));
    let found = discovery::discover(&env, DEADLINE).await;

    assert_eq!(
        summary(&found),
        vec![
            row("colima", "DOCKER_HOST", true, true),
            row("docker-engine", "docker context remote", true, true),
            row("colima", "colima profile default", true, true),
            row("colima", "colima profile work", false, false),
            row("rancher-desktop", "Rancher Desktop", true, true),
            row("docker-desktop", "Docker Desktop for Linux", true, true),
            row("orbstack", "OrbStack", true, false),
        ]
    );
    assert_eq!(found.selected, Some(0));
    assert!(found.warnings.is_empty(), "{:?}", found.warnings);
    let stopped = &found.runtimes[3];
    assert!(
        stopped
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("colima start"),
        "{stopped:?}"
    );
    let stale = &found.runtimes[6];
    assert!(
        stale
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("nobody is listening"),
        "{stale:?}"
    );
    let desktop = found.runtimes[5].facts.as_ref().unwrap();
    assert_eq!(desktop.operating_system, "Docker Desktop");
}

#[tokio::test]
async fn the_host_flag_comes_first_and_an_unreachable_one_is_passed_over() {
    let home = TempHome::new();
    home.dir(".rd");
    let _rancher = FakeEngine::start(
        &home.join(".rd/docker.sock"),
        Fixture::load("rancher-desktop-macos-arm64-1.16"),
    );
    let mut env = env(&home);
    env.host_flag = Some(home.join("missing.sock").display().to_string());
    env.docker_host = Some(format!("unix://{}", home.join(".rd/docker.sock").display()));
    let found = discovery::discover(&env, DEADLINE).await;
    assert_eq!(
        summary(&found),
        vec![
            row("custom", "--host", false, false),
            // The same socket under its place is listed once, under its first source.
            row("rancher-desktop", "DOCKER_HOST", true, true),
        ]
    );
    assert_eq!(found.selected, Some(1));
    assert_eq!(found.runtimes[0].source, Source::HostFlag);
    assert_eq!(
        found.selection_reason().unwrap(),
        "DOCKER_HOST is the first candidate that answers (--host did not)"
    );
}

#[tokio::test]
async fn colima_home_and_profiles_other_than_default() {
    let home = TempHome::new();
    let colima_home = home.dir("elsewhere/colima");
    for profile in ["zeta", "alpha", "default"] {
        std::fs::create_dir_all(colima_home.join(profile)).unwrap();
        std::fs::write(colima_home.join(profile).join("colima.yaml"), "").unwrap();
    }
    let mut env = env(&home);
    env.colima_home = Some(colima_home.clone());
    let (list, _) = discovery::candidates(&env);
    let sources: Vec<String> = list
        .iter()
        .map(|candidate| candidate.source.to_string())
        .collect();
    assert_eq!(
        sources,
        [
            "colima profile default",
            "colima profile alpha",
            "colima profile zeta"
        ]
    );
    assert!(
        list.iter()
            .all(|candidate| candidate.kind == RuntimeKind::Colima)
    );
}

#[tokio::test]
async fn runtime_dir_sockets_lima_instances_and_the_system_engine() {
    let home = TempHome::new();
    let runtime_dir = home.dir("run-user");
    home.dir("run-user/podman");
    stale_socket(&runtime_dir.join("podman/podman.sock"));
    stale_socket(&runtime_dir.join("docker.sock"));
    home.dir(".lima/docker/sock");
    stale_socket(&home.join(".lima/docker/sock/docker.sock"));
    home.dir(".lima/k8s");
    let system: PathBuf = home.dir("var-run").join("docker.sock");
    stale_socket(&system);
    let mut env = env(&home);
    env.xdg_runtime_dir = Some(runtime_dir);
    env.system_socket = system;
    let (list, _) = discovery::candidates(&env);
    let kinds: Vec<(RuntimeKind, String)> = list
        .iter()
        .map(|candidate| (candidate.kind, candidate.source.to_string()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (RuntimeKind::Podman, "Podman".to_owned()),
            (RuntimeKind::Lima, "lima instance docker".to_owned()),
            (
                RuntimeKind::DockerEngineRootless,
                "rootless Docker".to_owned()
            ),
            (RuntimeKind::DockerEngine, "system engine".to_owned()),
        ]
    );
}

#[tokio::test]
async fn a_broken_docker_context_is_a_warning_and_discovery_goes_on() {
    let home = TempHome::new();
    home.file(".docker/config.json", "{ this is not json");
    let (list, warnings) = discovery::candidates(&env(&home));
    assert!(list.is_empty());
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains("config.json is not valid JSON"),
        "{warnings:?}"
    );

    home.file(".docker/config.json", r#"{"currentContext": "gone"}"#);
    let (_, warnings) = discovery::candidates(&env(&home));
    assert!(
        warnings[0].contains("docker context `gone` is selected"),
        "{warnings:?}"
    );

    home.file(".docker/config.json", r#"{"currentContext": "default"}"#);
    let (list, warnings) = discovery::candidates(&env(&home));
    assert!(
        list.is_empty() && warnings.is_empty(),
        "the default context adds nothing"
    );
}

#[tokio::test]
async fn docker_context_env_overrides_the_config_and_unusable_addresses_are_reported() {
    let home = TempHome::new();
    home.docker_context("from-config", "unix:///from/config.sock");
    home.docker_context("chosen", "ssh://user@remote");
    home.file(
        ".docker/config.json",
        r#"{"currentContext": "from-config"}"#,
    );
    let mut env = env(&home);
    env.docker_context = Some("chosen".to_owned());
    let found = discovery::discover(&env, DEADLINE).await;
    assert_eq!(found.runtimes.len(), 1);
    let runtime = &found.runtimes[0];
    assert_eq!(runtime.source.to_string(), "docker context chosen");
    assert_eq!(runtime.endpoint, "ssh://user@remote");
    assert!(
        runtime
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("forward the socket"),
        "{runtime:?}"
    );
    assert_eq!(found.selected, None);
}
