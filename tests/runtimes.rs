//! `dw runtimes`, run as a user would: the real binary, a temp home, fake engines at the
//! runtimes' places and this machine's real engine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use dw_test_support::engine::{FakeEngine, Fixture, stale_socket};
use dw_test_support::home::TempHome;
use serde_json::Value;

fn dw(home: &TempHome) -> Command {
    home.command(env!("CARGO_BIN_EXE_dw"))
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is not JSON ({error}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn lists_the_runtimes_in_precedence_order_and_selects_the_first_that_answers() {
    let home = TempHome::new();
    home.dir(".colima/default");
    home.dir(".colima/work");
    home.file(".colima/work/colima.yaml", "cpu: 2\n");
    home.dir(".docker/desktop");
    let _colima = FakeEngine::start(
        &home.join(".colima/default/docker.sock"),
        Fixture::load("colima-ubuntu-24.04-arm64"),
    );
    let _desktop = FakeEngine::start(
        &home.join(".docker/desktop/docker.sock"),
        Fixture::load("docker-desktop-macos-arm64-4.44.3"),
    );
    let output = dw(&home).args(["runtimes", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report = json(&output);
    assert_eq!(report["selected"], 0);
    let runtimes = report["runtimes"].as_array().unwrap();
    let colima = &runtimes[0];
    assert_eq!(colima["kind"], "colima");
    assert_eq!(colima["source"], "colima profile default");
    assert_eq!(
        colima["endpoint"],
        format!(
            "unix://{}",
            home.join(".colima/default/docker.sock").display()
        )
    );
    assert_eq!(colima["exists"], true);
    assert_eq!(colima["reachable"], true);
    assert_eq!(colima["server_version"], "27.4.0");
    assert_eq!(colima["operating_system"], "Ubuntu 24.04.2 LTS");
    assert_eq!(colima["error"], Value::Null);

    let stopped = &runtimes[1];
    assert_eq!(stopped["source"], "colima profile work");
    assert_eq!(stopped["exists"], false);
    assert_eq!(stopped["reachable"], false);
    assert_eq!(stopped["server_version"], Value::Null);
    assert!(
        stopped["error"]
            .as_str()
            .unwrap()
            .contains("`colima start`")
    );

    assert_eq!(runtimes[2]["kind"], "docker-desktop");
    // This machine's own engine comes last, from its system socket.
    let system = runtimes.last().unwrap();
    assert_eq!(system["source"], "system engine");
    assert_eq!(system["kind"], "docker-engine");
    assert_eq!(system["reachable"], true);
}

#[test]
fn human_output_marks_the_engine_in_use_and_says_why() {
    let home = TempHome::new();
    home.dir(".rd");
    stale_socket(&home.join(".rd/docker.sock"));
    home.dir(".orbstack/run");
    let _orbstack = FakeEngine::start(
        &home.join(".orbstack/run/docker.sock"),
        Fixture::load("docker-engine-ubuntu-24.04-28.3.2")
            .with_info("OperatingSystem", "OrbStack")
            .with_info("Name", "orbstack"),
    );
    let output = dw(&home)
        .args(["runtimes", "--color", "never"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = text(&output).replace(&home.path().display().to_string(), "[HOME]");
    let stdout = mask_system_engine_detail(&stdout);
    insta::assert_snapshot!(stdout);
}

/// The line under the system engine describes this machine's engine, whose version varies.
fn mask_system_engine_detail(stdout: &str) -> String {
    let mut lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    let system = lines.iter().position(|line| line.contains("system engine"));
    if let Some(detail) = system.and_then(|index| lines.get_mut(index + 1)) {
        *detail = "     [THIS MACHINE'S ENGINE]".to_owned();
    }
    lines.join("\n")
}

#[test]
fn docker_host_and_the_host_flag_come_first_and_a_bare_path_is_a_socket() {
    let home = TempHome::new();
    let socket = home.join("engine.sock");
    let _fake = FakeEngine::start(&socket, Fixture::load("rancher-desktop-macos-arm64-1.16"));
    let output = dw(&home)
        .args(["runtimes", "--json", "--host"])
        .arg(&socket)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let report = json(&output);
    let runtimes = report["runtimes"].as_array().unwrap();
    assert_eq!(runtimes[0]["source"], "--host");
    assert_eq!(runtimes[0]["kind"], "rancher-desktop", "refined by /info");
    assert_eq!(runtimes[1]["source"], "DOCKER_HOST");
    assert_eq!(runtimes[1]["exists"], false);
    assert_eq!(report["selected"], 0);
}

#[test]
fn a_docker_context_is_followed_to_its_engine() {
    let home = TempHome::new();
    let socket = home.join("ctx.sock");
    let _fake = FakeEngine::start(&socket, Fixture::load("colima-ubuntu-24.04-arm64"));
    home.docker_context("colima", &format!("unix://{}", socket.display()));
    let output = dw(&home).args(["runtimes", "--json"]).output().unwrap();
    let report = json(&output);
    assert_eq!(report["runtimes"][0]["source"], "docker context colima");
    assert_eq!(report["runtimes"][0]["kind"], "colima");
    assert_eq!(report["selected"], 0);
}

#[test]
fn exits_1_when_no_engine_answers() {
    // A private mount namespace hides this machine's engine socket from dw alone.
    let home = TempHome::new();
    let output = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "mount -t tmpfs none /run && HOME='{}' exec '{}' runtimes --color never",
            home.path().display(),
            env!("CARGO_BIN_EXE_dw")
        ))
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = text(&output);
    assert!(stdout.contains("No container engine found"), "{stdout}");
    assert!(stdout.contains("dw setup"), "{stdout}");
}

#[test]
fn permission_denied_names_the_owner_the_group_and_the_fix() {
    // Root reaches any socket, so run dw as `nobody`, from a copy it can execute.
    let bin_dir = tempfile::Builder::new()
        .prefix("dw-bin-")
        .tempdir_in("/tmp")
        .unwrap();
    let dw_copy = bin_dir.path().join("dw");
    std::fs::copy(env!("CARGO_BIN_EXE_dw"), &dw_copy).unwrap();
    set_mode(bin_dir.path(), 0o755);
    set_mode(&dw_copy, 0o755);
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&dw_copy)
        .args([
            "runtimes",
            "--json",
            "--host",
            dw_test_support::REAL_ENGINE_SOCKET,
        ])
        .env("HOME", bin_dir.path())
        .env_remove("DOCKER_HOST")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    let report = json(&output);
    let error = report["runtimes"][0]["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "permission denied on /var/run/docker.sock (owner root, group docker, mode 660)"
        ),
        "{error}"
    );
    assert!(error.contains("sudo usermod -aG docker $USER"), "{error}");
    assert_eq!(output.status.code(), Some(1));
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_slow_engine_hits_the_deadline_and_says_how_to_raise_it() {
    let home = TempHome::new();
    let socket = home.join("slow.sock");
    let _listener = dw_test_support::engine::Listener::start(
        &socket,
        dw_test_support::engine::Behaviour::Silent,
    );
    let output = dw(&home)
        .args(["runtimes", "--json", "--host"])
        .arg(&socket)
        .env("DW_ENGINE_TIMEOUT", "0.3")
        .output()
        .unwrap();
    let report = json(&output);
    let error = report["runtimes"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("did not answer GET /version within 0.3s"),
        "{error}"
    );
}
