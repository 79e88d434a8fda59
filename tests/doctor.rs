//! `dw doctor`, run as a user would: the real binary, a temp home, a fake engine or this
//! machine's real one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use dw_test_support::engine::{FakeEngine, Fixture};
use dw_test_support::home::TempHome;
use serde_json::Value;

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
            "--check",
            "engine-reachable",
        ])
        .output()
        .unwrap();
    let report = json(&output);
    assert_eq!(check(&report, "engine-reachable")["risk"], Value::Null);

    let output = dw(&home)
        .args(["doctor", "--check", "vm-isolaton"])
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
        .args(["doctor", "--check", "list"])
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
    assert_eq!(listed.lines().count(), 12, "{listed}");

    let output = dw(&home)
        .args([
            "--host",
            &host,
            "doctor",
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
    home.dir(".colima/default");
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
