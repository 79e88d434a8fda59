//! `dw doctor`, run as a user would: the real binary, a temp home, a fake engine or this
//! machine's real one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use dw_test_support::agent::WorkflowGuard;
use dw_test_support::docker::LabelGuard;
use dw_test_support::engine::{FakeEngine, Fixture};
use dw_test_support::gitlab::{FakeGitLab, Reply, personal_access_token};
use dw_test_support::home::TempHome;
use serde_json::{Value, json};

fn dw(home: &TempHome) -> Command {
    let mut command = home.command(env!("CARGO_BIN_EXE_dw"));
    command.env_remove("GITLAB_TOKEN").env_remove("GITLAB_URL");
    command
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

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {report:#}"))
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

#[test]
fn this_machines_engine_runs_on_the_host_and_debians_runc_carries_the_leaky_vessels_fix() {
    let home = TempHome::new();
    let output = dw(&home)
        .args([
            "doctor",
            "--json",
            "--no-probe",
            "--check",
            "vm-isolation",
            "--check",
            "engine-advisories",
            "--workspace",
        ])
        .arg(home.path())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let report = json(&output);
    assert_eq!(report["checks"].as_array().unwrap().len(), 2);
    let isolation = check(&report, "vm-isolation");
    assert_eq!(isolation["status"], "fail", "{isolation:#}");
    assert_eq!(isolation["risk"], 1);
    assert!(
        isolation["evidence"][0]
            .as_str()
            .unwrap()
            .contains("equals this host's kernel"),
        "{isolation:#}"
    );

    // Debian 12's docker.io 20.10.24+dfsg1, runc 1.1.5+ds1-1+deb12u1, containerd 1.6.20~ds1-1+deb12u3.
    let advisories = check(&report, "engine-advisories");
    let evidence: Vec<&str> = advisories["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap())
        .collect();
    assert!(
        evidence.contains(&"runc 1.1.5+ds1 (package 1.1.5+ds1-1+deb12u1)"),
        "{advisories:#}"
    );
    assert!(
        evidence.contains(&"containerd 1.6.20~ds1 (package 1.6.20~ds1-1+deb12u3)"),
        "{advisories:#}"
    );
    assert!(
        evidence.iter().any(|line| line.starts_with(
            "CVE-2024-21626 (runc, high (CVSS 8.6)): fixed in this distribution build (Debian 12"
        )),
        "{advisories:#}"
    );
    assert_eq!(advisories["status"], "warn", "{advisories:#}");
    assert!(
        advisories["summary"]
            .as_str()
            .unwrap()
            .starts_with("distribution builds possibly affected by"),
        "{advisories:#}"
    );
    assert_eq!(
        report["summary"],
        serde_json::json!({"pass": 0, "warn": 1, "fail": 1, "skip": 0})
    );
}

#[test]
fn check_filters_and_usage_errors() {
    let home = TempHome::new();
    let socket = home.join("engine.sock");
    let _engine = FakeEngine::start(&socket, Fixture::load("colima-ubuntu-24.04-arm64"));
    let host = format!("unix://{}", socket.display());

    let output = dw(&home)
        .args([
            "--host",
            &host,
            "doctor",
            "--json",
            "--no-probe",
            "--check",
            "secrets-in-goals",
        ])
        .arg("--workspace")
        .arg(home.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let report = json(&output);
    assert_eq!(report["checks"].as_array().unwrap().len(), 1);
    let goals = check(&report, "secrets-in-goals");
    assert_eq!(goals["status"], "pass");
    assert_eq!(goals["risk"], 10);
    assert_eq!(goals["fix"], Value::Null);
    assert_eq!(
        report["summary"],
        serde_json::json!({"pass": 1, "warn": 0, "fail": 0, "skip": 0})
    );

    let output = dw(&home)
        .args([
            "--host",
            &host,
            "doctor",
            "--json",
            "--no-probe",
            "--check",
            "engine-reachable",
        ])
        .output()
        .unwrap();
    let report = json(&output);
    assert_eq!(check(&report, "engine-reachable")["risk"], Value::Null);

    let output = dw(&home)
        .args(["doctor", "--no-probe", "--check", "vm-isolaton"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "unknown check `vm-isolaton`; the checks are: engine-reachable, socket-setting"
        ),
        "{stderr}"
    );

    let output = dw(&home)
        .args(["doctor", "--no-probe", "--check", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let listed = String::from_utf8_lossy(&output.stdout);
    assert!(
        listed
            .lines()
            .any(|line| line.starts_with("vm-isolation")
                && line.contains(" 1  the engine runs in a VM")),
        "{listed}"
    );
    assert_eq!(listed.lines().count(), dw_doctor::CHECKS.len(), "{listed}");

    let output = dw(&home)
        .args([
            "--host",
            &host,
            "doctor",
            "--no-probe",
            "--workspace",
            "/nonexistent/project",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--workspace"));
}

#[test]
fn human_output_of_a_full_run_on_colima() {
    let home = TempHome::new();
    let socket = home.join(".colima/default/docker.sock");
    home.file(
        ".colima/default/colima.yaml",
        "cpu: 2\nmemory: 2\nvmType: vz\nrosetta: true\nmounts: []\n",
    );
    let colima = Fixture::load("colima-ubuntu-24.04-arm64")
        .with_info("NCPU", 1)
        .with_info("MemTotal", 1u64 << 30);
    let _engine = FakeEngine::start(&socket, colima);
    let project = home.dir("project");
    home.file("project/.env", "TOKEN=x\n");
    git(&project, &["init", "--quiet"]);
    git(&project, &["symbolic-ref", "HEAD", "refs/heads/main"]);
    git(
        &project,
        &[
            "remote",
            "add",
            "origin",
            "git@gitlab.com:group/project.git",
        ],
    );
    home.vscode_settings(
        "Code",
        &format!(
            "{{\n  \"gitlab.duoWorkflow.dockerSocket\": \"{}\"\n}}\n",
            socket.display()
        ),
    );
    home.dir(".vscode/extensions/gitlab.gitlab-workflow-5.15.0");

    let output = dw(&home)
        .args([
            "--color",
            "never",
            "doctor",
            "--no-probe",
            "--image",
            "example.test/workflow:1",
            "--workspace",
        ])
        .arg(&project)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let home_path = home.path().display().to_string();
    insta::with_settings!({filters => vec![
        (home_path.as_str(), "[HOME]"),
        (r"this host: [^\n]*", "this host: [HOST]"),
        (r"you can use (\S+) \([^)]*\)", "you can use $1 ([ACCESS])"),
        (r"of \d+ CPUs and 1\.0 GiB of [\d.]+ GiB memory", "of [HOST CPUs] and 1.0 GiB of [HOST MEMORY]"),
    ]}, {
        insta::assert_snapshot!(stdout);
    });
}

const TOKEN: &str = "glpat-Zx8yQw7vRt6uSp5oNm4L";

/// `dw doctor --check token-scope` against `gitlab` (a base URL), with `token` if any; the
/// report, and stdout and stderr of a second, human and verbose, run.
fn token_scope(home: &TempHome, url: &str, token: Option<&str>) -> (Value, String) {
    let run = |args: &[&str]| {
        let mut command = dw(home);
        command.env("GITLAB_URL", url);
        if let Some(token) = token {
            command.env("GITLAB_TOKEN", token);
        }
        command
            .args(["--color", "never"])
            .args(args)
            .args([
                "doctor",
                "--no-probe",
                "--check",
                "token-scope",
                "--workspace",
            ])
            .arg(home.path())
            .output()
            .unwrap()
    };
    let json_run = run(&["--json"]);
    let human_run = run(&["-v"]);
    let mut everything = String::new();
    for output in [&json_run, &human_run] {
        everything.push_str(&String::from_utf8_lossy(&output.stdout));
        everything.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    (json(&json_run), everything)
}

fn token_answer(reply: Reply) -> FakeGitLab {
    FakeGitLab::builder()
        .token(TOKEN)
        .route("GET", "/api/v4/personal_access_tokens/self", reply)
        .start()
}

#[test]
fn token_scope_judges_the_token_gitlab_describes_and_never_prints_it() {
    let home = TempHome::new();
    let cases = [
        (
            Reply::ok(personal_access_token(
                "dw",
                &["read_api"],
                Some("2099-01-01"),
            )),
            "pass",
            "the GitLab token only reads (read_api)",
        ),
        (
            Reply::ok(personal_access_token(
                "everything",
                &["api", "read_user"],
                Some("2099-01-01"),
            )),
            "warn",
            "the GitLab token can write on your behalf (api)",
        ),
        (
            Reply::ok(json!({
                "id": 9, "name": "old", "revoked": false, "created_at": "2024-01-02T10:00:00.000Z",
                "scopes": ["read_api"], "user_id": 24, "last_used_at": null,
                "active": false, "expires_at": "2024-06-30"
            })),
            "fail",
            "the GitLab token has expired",
        ),
        (
            Reply::json(
                401,
                json!({"error": "invalid_token", "error_description": format!("Token {TOKEN} has expired.")}),
            ),
            "fail",
            "GitLab rejects the token: it is expired, revoked or mistyped",
        ),
    ];
    for (reply, status, summary) in cases {
        let gitlab = token_answer(reply);
        let (report, printed) = token_scope(&home, gitlab.url(), Some(TOKEN));
        let finding = check(&report, "token-scope");
        assert_eq!(finding["status"], status, "{finding:#}");
        assert_eq!(finding["risk"], 9);
        assert_eq!(finding["summary"], summary, "{finding:#}");
        assert!(
            finding["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .any(|line| line.as_str().unwrap().contains("token glpat-…Nm4L")),
            "{finding:#}"
        );
        assert!(
            !printed.contains(TOKEN),
            "the token was printed:\n{printed}"
        );
        assert!(
            !printed.contains("Zx8yQw7v"),
            "part of the token was printed:\n{printed}"
        );
        let requests = gitlab.requests();
        assert_eq!(requests.len(), 2, "{requests:#?}");
        assert!(requests.iter().all(|request| request.method == "GET"
            && request.path == "/api/v4/personal_access_tokens/self"
            && request.header("private-token") == Some(TOKEN)));
    }

    // A wrong token gets GitLab's plain 401 from the fake's token check.
    let gitlab = token_answer(Reply::ok(personal_access_token("dw", &["read_api"], None)));
    let (report, printed) = token_scope(&home, gitlab.url(), Some("glpat-not-the-right-one-0000"));
    let finding = check(&report, "token-scope");
    assert_eq!(finding["status"], "fail", "{finding:#}");
    assert!(
        finding["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|line| line == "GitLab says: 401 Unauthorized"),
        "{finding:#}"
    );
    assert!(
        finding["fix"].as_str().unwrap().contains("read_api"),
        "{finding:#}"
    );
    assert!(
        !printed.contains("glpat-not-the-right-one-0000"),
        "{printed}"
    );
}

#[test]
fn token_scope_without_a_token_explains_the_extensions_oauth_token() {
    let home = TempHome::new();
    let gitlab = FakeGitLab::builder().start();
    let (report, _) = token_scope(&home, gitlab.url(), None);
    let finding = check(&report, "token-scope");
    assert_eq!(finding["status"], "pass", "{finding:#}");
    assert!(
        finding["evidence"][0]
            .as_str()
            .unwrap()
            .contains("ai_workflows"),
        "{finding:#}"
    );
    assert!(gitlab.requests().is_empty(), "no token, no request");
}

#[test]
fn token_scope_fails_clearly_when_the_instance_is_unreachable() {
    let home = TempHome::new();
    let closed = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (report, printed) = token_scope(&home, &url, Some(TOKEN));
    let finding = check(&report, "token-scope");
    assert_eq!(finding["status"], "fail", "{finding:#}");
    assert_eq!(finding["summary"], "dw cannot check its GitLab token");
    assert!(
        finding["evidence"][1]
            .as_str()
            .unwrap()
            .starts_with(&format!("cannot reach {url}: ")),
        "{finding:#}"
    );
    assert!(!printed.contains(TOKEN), "{printed}");
}

#[test]
fn base_image_is_found_on_this_machines_engine_with_its_digest() {
    let home = TempHome::new();
    let image = dw_test_support::test_image();
    let output = dw(&home)
        .args([
            "doctor",
            "--json",
            "--no-probe",
            "--check",
            "base-image",
            "--image",
            &image,
            "--workspace",
        ])
        .arg(home.path())
        .output()
        .unwrap();
    let report = json(&output);
    let finding = check(&report, "base-image");
    assert_eq!(finding["status"], "pass", "{finding:#}");
    assert_eq!(finding["summary"], format!("{image} is present"));
    let evidence: Vec<&str> = finding["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap())
        .collect();
    assert!(
        evidence
            .iter()
            .any(|line| line.starts_with("digest ") && line.contains("@sha256:"))
            || evidence
                .iter()
                .any(|line| line.starts_with("no repository digest")),
        "{finding:#}"
    );
    assert!(
        evidence
            .iter()
            .any(|line| line.starts_with("image ID sha256:")),
        "{finding:#}"
    );
}

/// `dw doctor --json --check network-isolation` on this machine's engine, with the test image,
/// the probe containers labelled with `guard`'s workflow id, and `args` (which must aim the probe
/// at addresses the test owns).
fn network_isolation(home: &TempHome, guard: &WorkflowGuard, args: &[&str]) -> (Output, Value) {
    let output = dw(home)
        .env("DW_WORKFLOW_ID", guard.id())
        .args([
            "doctor",
            "--json",
            "--check",
            "network-isolation",
            "--image",
        ])
        .arg(dw_test_support::test_image())
        .args(args)
        .arg("--workspace")
        .arg(home.path())
        .output()
        .unwrap();
    let report = json(&output);
    let finding = check(&report, "network-isolation").clone();
    assert_eq!(
        guard.containers(),
        Vec::<String>::new(),
        "probe containers left behind"
    );
    (output, finding)
}

fn evidence(finding: &Value) -> Vec<String> {
    finding["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap().to_owned())
        .collect()
}

/// The port doctor listened at, from its first evidence line.
fn listener_port(finding: &Value) -> String {
    let first = &evidence(finding)[0];
    first
        .split(" at port ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no port in {first:?}"))
        .to_owned()
}

#[test]
fn the_default_network_reaches_doctors_listener_and_dws_sandbox_does_not() {
    // Declared first, dropped last: the network outlives the probe containers' guard.
    let networks = LabelGuard::new("doctor-network-isolation");
    let network = networks.create_network("dw-test-probe");
    let guard = WorkflowGuard::new("doctor-network-isolation");
    let home = TempHome::new();
    let gateway = network.gateway.to_string();
    let (output, finding) = network_isolation(
        &home,
        &guard,
        &[
            "--probe-address",
            &gateway,
            "--probe-network",
            &network.name,
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{finding:#}");
    assert_eq!(finding["status"], "warn", "{finding:#}");
    assert_eq!(finding["risk"], 2);
    assert_eq!(
        finding["summary"],
        "containers on this engine can reach services on your host and network"
    );
    let port = listener_port(&finding);
    let mut lines = evidence(&finding);
    // The probe container's address on the test's network is the engine's choice.
    let accepted = lines.remove(3);
    assert!(
        accepted.starts_with("doctor's listeners accepted connections from "),
        "{finding:#}"
    );
    assert_eq!(
        lines,
        [
            format!(
                "doctor listened on {gateway} at port {port}; the probes connect to nothing else"
            ),
            format!(
                "default networking (network {}): reached {gateway}:{port}: doctor's listener answered",
                network.name
            ),
            format!(
                "dw's sandbox (network none): {gateway}:{port} not reachable (network is unreachable)"
            ),
            "dw's sandbox (network none) reached none of them: a pass for dw's own sandbox"
                .to_owned(),
        ]
    );
    assert!(
        finding["fix"].as_str().unwrap().contains("--allow-network"),
        "{finding:#}"
    );
}

#[test]
fn a_loopback_probe_address_is_out_of_every_containers_reach() {
    let guard = WorkflowGuard::new("doctor-loopback");
    let home = TempHome::new();
    let (output, finding) = network_isolation(&home, &guard, &["--probe-address", "127.0.0.1"]);
    assert_eq!(output.status.code(), Some(0), "{finding:#}");
    assert_eq!(finding["status"], "pass", "{finding:#}");
    assert_eq!(
        finding["summary"],
        "containers with the engine's default networking reached none of doctor's listeners"
    );
    let port = listener_port(&finding);
    assert_eq!(
        evidence(&finding),
        [
            format!(
                "doctor listened on 127.0.0.1 at port {port}; the probes connect to nothing else"
            ),
            format!(
                "default networking (bridge): 127.0.0.1:{port} not reachable (connection refused)"
            ),
            format!(
                "dw's sandbox (network none): 127.0.0.1:{port} not reachable (connection refused)"
            ),
            "doctor's listeners accepted no connection".to_owned(),
        ]
    );
    assert_eq!(finding["fix"], Value::Null);

    let (_, skipped) = network_isolation(
        &home,
        &guard,
        &["--no-probe", "--probe-address", "127.0.0.1"],
    );
    assert_eq!(skipped["status"], "skip", "{skipped:#}");
    assert!(
        skipped["summary"]
            .as_str()
            .unwrap()
            .starts_with("--no-probe:"),
        "{skipped:#}"
    );
}

#[test]
fn probe_addresses_doctor_cannot_listen_on_are_usage_errors() {
    let home = TempHome::new();
    let cases = [
        // TEST-NET-2 (RFC 5737), a documentation range no host of ours has: refused at once.
        (
            "198.51.100.1",
            "--probe-address 198.51.100.1 is not an address doctor can listen on",
        ),
        ("127.0.0.1:8080", "give an address without a port"),
        ("not an address", "neither an IP address nor a host name"),
    ];
    for (address, message) in cases {
        let output = dw(&home)
            // --no-probe: refused all the same, and nothing could run if it were not.
            .args([
                "doctor",
                "--no-probe",
                "--check",
                "network-isolation",
                "--probe-address",
                address,
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{address}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{address}: {stderr}");
    }
}
