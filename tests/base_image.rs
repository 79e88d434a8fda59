//! The workflow base image that `images/build` makes and `scripts/test` pushes to the local
//! registry: it runs git as the non-root user, under tini, in a writable `/workspace`, and the
//! registry serves the very same image.
//!
//! These tests need the real engine and registry that `scripts/test --setup-only` prepares; when
//! either is missing they fail and say so, they never skip.

use std::path::Path;
use std::process::{Command, Output};

/// Every container these tests start carries this label (and `--rm`), so none is left behind.
const TEST_LABEL: &str = "dev.dw.test=base-image";
const REGISTRY_REPOSITORY: &str = "duo-workflow/workflow-generic-image";
const REGISTRY_TAG: &str = "v0.0.4";
const DOCKER_MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
const SETUP_HINT: &str =
    "run `scripts/test --setup-only` to build the image and start the registry";

fn registry() -> String {
    std::env::var("DW_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".to_owned())
}

fn registry_image() -> String {
    format!("{}/{REGISTRY_REPOSITORY}:{REGISTRY_TAG}", registry())
}

/// Runs a command to completion; panics with the command line and its stderr when it cannot run
/// or exits non-zero.
fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot run `{program}`: {error}; is it installed?"));
    stdout_of_success(program, args, output)
}

fn stdout_of_success(program: &str, args: &[&str], output: Output) -> String {
    assert!(
        output.status.success(),
        "`{program} {}` failed ({}):\n{}\n{SETUP_HINT}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim_end(),
    );
    String::from_utf8(output.stdout)
        .unwrap_or_else(|error| panic!("`{program} {}` printed non-UTF-8: {error}", args.join(" ")))
}

/// The image's id, failing with the set-up hint when the engine does not have it.
fn image_id(image: &str) -> String {
    run(
        "docker",
        &["image", "inspect", "--format", "{{.Id}}", image],
    )
    .trim()
    .to_owned()
}

/// Runs `script` with `sh -c` in a throwaway container of the test image, as the image's user.
fn run_in_image(script: &str) -> Vec<String> {
    let image = dw_test_support::test_image();
    image_id(&image);
    run(
        "docker",
        &[
            "run",
            "--rm",
            "--pull=never",
            "--label",
            TEST_LABEL,
            &image,
            "sh",
            "-c",
            script,
        ],
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

/// GETs `path` from the local registry with curl and returns the body.
fn registry_get(path: &str, accept: &str) -> String {
    let url = format!("http://{}{path}", registry());
    run(
        "curl",
        &[
            "--fail-with-body",
            "--silent",
            "--show-error",
            "--max-time",
            "10",
            "--header",
            &format!("Accept: {accept}"),
            &url,
        ],
    )
}

#[test]
fn runs_git_as_the_non_root_user() {
    let lines = run_in_image("id -u; id -g; git --version");

    assert_eq!(
        lines.first().map(String::as_str),
        Some("1000"),
        "the image must run as uid 1000, not root: {lines:?}"
    );
    assert_eq!(
        lines.get(1).map(String::as_str),
        Some("1000"),
        "gid: {lines:?}"
    );
    let git = lines.get(2).map(String::as_str).unwrap_or_default();
    assert!(
        git.starts_with("git version "),
        "git --version printed {git:?}"
    );
}

#[test]
fn runs_commands_under_tini() {
    let lines = run_in_image("cat /proc/1/comm; tini --version");

    assert_eq!(
        lines.first().map(String::as_str),
        Some("tini"),
        "process 1 must be tini (the image's entrypoint): {lines:?}"
    );
    let version = lines.get(1).map(String::as_str).unwrap_or_default();
    assert!(
        version.starts_with("tini version "),
        "tini --version printed {version:?}"
    );
}

#[test]
fn works_in_a_writable_workspace() {
    let lines = run_in_image("pwd; touch /workspace/x && echo writable");

    assert_eq!(lines, ["/workspace", "writable"]);
}

#[test]
fn was_built_from_the_current_build_inputs() {
    let image = dw_test_support::test_image();
    image_id(&image);
    let build = Path::new(env!("CARGO_MANIFEST_DIR")).join("images/build");
    let build = build.to_string_lossy();
    let wanted = run(&build, &["--inputs-hash"]);

    let label = run(
        "docker",
        &[
            "image",
            "inspect",
            "--format",
            "{{index .Config.Labels \"dev.dw.image-inputs\"}}",
            &image,
        ],
    );

    assert_eq!(
        label.trim(),
        wanted.trim(),
        "{image} was built from other inputs than images/build has now; {SETUP_HINT}"
    );
}

#[test]
fn registry_serves_the_same_image() {
    let local_id = image_id(&dw_test_support::test_image());

    let body = registry_get(
        &format!("/v2/{REGISTRY_REPOSITORY}/manifests/{REGISTRY_TAG}"),
        DOCKER_MANIFEST_V2,
    );
    let manifest: serde_json::Value = serde_json::from_str(&body)
        .unwrap_or_else(|error| panic!("the registry's manifest is not JSON ({error}): {body}"));

    assert_eq!(manifest["schemaVersion"], 2, "{manifest}");
    assert_eq!(manifest["mediaType"], DOCKER_MANIFEST_V2, "{manifest}");
    assert_eq!(
        manifest["config"]["digest"].as_str(),
        Some(local_id.as_str()),
        "the registry serves another image than the local one; {SETUP_HINT}"
    );
}

#[test]
fn engine_pulls_the_image_from_the_local_registry() {
    let reference = registry_image();

    run("docker", &["pull", "--quiet", &reference]);

    assert_eq!(
        image_id(&reference),
        image_id(&dw_test_support::test_image())
    );
}
