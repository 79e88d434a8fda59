//! The checks against fake engines replaying real runtimes' answers, and against workspaces and
//! homes built for each case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use dw_doctor::probe::{Networking, Probe};
use dw_doctor::{Context, Finding, GitLab, ProbeSettings, ProbeTarget, Report, Settings, Status};
use dw_runtime::discovery::DiscoveryEnv;
use dw_runtime::host::HostFacts;
use dw_runtime::vscode::UserDirs;
use dw_test_support::agent::WorkflowGuard;
use dw_test_support::engine::{FakeEngine, Fixture};
use dw_test_support::home::TempHome;
use serde_json::json;

fn settings(home: &TempHome, host: Option<String>, workspace: PathBuf, gitlab: GitLab) -> Settings {
    Settings {
        discovery: DiscoveryEnv {
            home: home.path().to_owned(),
            host_flag: host,
            docker_host: None,
            docker_context: None,
            docker_config: None,
            colima_home: None,
            xdg_runtime_dir: None,
            system_socket: home.join("no-system-engine.sock"),
        },
        user_dirs: UserDirs {
            home: home.path().to_owned(),
            xdg_config_home: None,
            app_data: None,
        },
        workspace,
        image: "example.test/workflow:1".to_owned(),
        gitlab,
        deadline: Duration::from_secs(5),
        probe: ProbeSettings::disabled(),
    }
}

/// Runs the checks `ids` with `fixture` served as the engine (`--host`).
async fn doctor_with(
    home: &TempHome,
    fixture: Fixture,
    workspace: &Path,
    gitlab: GitLab,
    ids: &[&str],
) -> Report {
    let socket = home.join("engine.sock");
    let _engine = FakeEngine::start(&socket, fixture);
    let host = Some(format!("unix://{}", socket.display()));
    let context = Context::gather(settings(home, host, workspace.to_owned(), gitlab)).await;
    let ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
    dw_doctor::run(&context, &dw_doctor::select(&ids).unwrap()).await
}

async fn doctor(home: &TempHome, fixture: Fixture, ids: &[&str]) -> Report {
    doctor_with(home, fixture, &home.dir("project"), GitLab::default(), ids).await
}

fn finding<'a>(report: &'a Report, id: &str) -> &'a Finding {
    report
        .finding(id)
        .unwrap_or_else(|| panic!("no finding {id} in {report:#?}"))
}

fn mentions(finding: &Finding, text: &str) -> bool {
    finding.evidence.iter().any(|line| line.contains(text))
}

fn native() -> Fixture {
    let host = HostFacts::detect();
    Fixture::load("docker-engine-ubuntu-24.04-28.3.2")
        .with_info("KernelVersion", host.kernel_release)
        .with_info("Name", host.hostname)
}

fn components(engine: &str, containerd: (&str, &str), runc: (&str, &str)) -> serde_json::Value {
    json!([
        {"Name": "Engine", "Version": engine, "Details": {"GitCommit": "5d6db84"}},
        {"Name": "containerd", "Version": containerd.0, "Details": {"GitCommit": containerd.1}},
        {"Name": "runc", "Version": runc.0, "Details": {"GitCommit": runc.1}},
    ])
}

#[tokio::test]
async fn vm_runtimes_pass_vm_isolation_and_an_engine_on_this_host_fails_it() {
    let cases = [
        (
            "docker-desktop-macos-arm64-4.44.3",
            Status::Pass,
            "Docker Desktop",
        ),
        ("colima-ubuntu-24.04-arm64", Status::Pass, "Colima"),
        (
            "rancher-desktop-macos-arm64-1.16",
            Status::Pass,
            "Rancher Desktop",
        ),
    ];
    for (fixture, status, name) in cases {
        let home = TempHome::new();
        let report = doctor(&home, Fixture::load(fixture), &["vm-isolation"]).await;
        let isolation = finding(&report, "vm-isolation");
        assert_eq!(isolation.status, status, "{fixture}: {isolation:#?}");
        assert!(
            isolation.summary.contains(name),
            "{fixture}: {isolation:#?}"
        );
        assert_eq!(isolation.risk, Some(1));
    }

    let home = TempHome::new();
    let report = doctor(&home, native(), &["vm-isolation"]).await;
    let isolation = finding(&report, "vm-isolation");
    assert_eq!(isolation.status, Status::Fail, "{isolation:#?}");
    assert!(
        mentions(isolation, "equals this host's kernel"),
        "{isolation:#?}"
    );
    assert!(
        mentions(isolation, "equals this host's hostname"),
        "{isolation:#?}"
    );
    assert!(!mentions(isolation, "rootless"), "{isolation:#?}");
    assert!(isolation.fix.as_deref().unwrap().contains("dw setup"));
    assert!(report.has_failures());

    let home = TempHome::new();
    let rootless = native().with_info(
        "SecurityOptions",
        json!([
            "name=seccomp,profile=builtin",
            "name=rootless",
            "name=cgroupns"
        ]),
    );
    let report = doctor(&home, rootless, &["vm-isolation"]).await;
    let isolation = finding(&report, "vm-isolation");
    assert_eq!(isolation.status, Status::Fail, "{isolation:#?}");
    assert!(mentions(isolation, "rootless"), "{isolation:#?}");
}

#[tokio::test]
async fn advisories_classify_affected_fixed_and_distribution_builds() {
    // Docker Desktop 4.44.3 carries the CVE-2025-9074 fix but runc 1.2.5, before the Nov 2025 fixes.
    let home = TempHome::new();
    let report = doctor(
        &home,
        Fixture::load("docker-desktop-macos-arm64-4.44.3"),
        &["engine-advisories"],
    )
    .await;
    let advisories = finding(&report, "engine-advisories");
    assert_eq!(advisories.status, Status::Fail, "{advisories:#?}");
    assert!(
        advisories.summary.contains("CVE-2025-31133"),
        "{advisories:#?}"
    );
    assert!(
        !advisories.summary.contains("CVE-2025-9074"),
        "{advisories:#?}"
    );
    assert!(
        advisories.fix.as_deref().unwrap().contains("1.2.8"),
        "{advisories:#?}"
    );

    let home = TempHome::new();
    let older_desktop = Fixture::load("docker-desktop-macos-arm64-4.44.3").with_version(
        "Platform",
        json!({"Name": "Docker Desktop 4.44.2 (202017)"}),
    );
    let report = doctor(&home, older_desktop, &["engine-advisories"]).await;
    assert!(
        finding(&report, "engine-advisories")
            .summary
            .contains("CVE-2025-9074")
    );

    // Current upstream releases: nothing applies.
    let home = TempHome::new();
    let current = Fixture::load("colima-ubuntu-24.04-arm64").with_version(
        "Components",
        components("28.3.2", ("1.7.29", "abc"), ("1.3.3", "v1.3.3-0-gd842d771")),
    );
    let report = doctor(&home, current, &["engine-advisories"]).await;
    let advisories = finding(&report, "engine-advisories");
    assert_eq!(advisories.status, Status::Pass, "{advisories:#?}");

    // Leaky Vessels' runc: affected upstream build.
    let home = TempHome::new();
    let leaky = Fixture::load("colima-ubuntu-24.04-arm64").with_version(
        "Components",
        components(
            "28.3.2",
            ("1.7.29", "abc"),
            ("1.1.11", "v1.1.11-0-g4bccb38"),
        ),
    );
    let report = doctor(&home, leaky, &["engine-advisories"]).await;
    let advisories = finding(&report, "engine-advisories");
    assert_eq!(advisories.status, Status::Fail, "{advisories:#?}");
    assert!(
        advisories.summary.contains("CVE-2024-21626"),
        "{advisories:#?}"
    );

    // Debian 12 before and after DSA-5615-1, decided by the package version in GitCommit.
    let debian = |runc_package: &str| {
        native().with_version(
            "Components",
            components(
                "20.10.24+dfsg1",
                ("1.6.20~ds1", "1.6.20~ds1-1+deb12u3"),
                ("1.1.5+ds1", runc_package),
            ),
        )
    };
    let home = TempHome::new();
    let report = doctor(&home, debian("1.1.5+ds1-1+deb12u1"), &["engine-advisories"]).await;
    let advisories = finding(&report, "engine-advisories");
    assert_eq!(advisories.status, Status::Warn, "{advisories:#?}");
    assert!(
        !advisories.summary.contains("CVE-2024-21626"),
        "{advisories:#?}"
    );
    assert!(
        mentions(
            advisories,
            "CVE-2024-21626 (runc, high (CVSS 8.6)): fixed in this distribution build"
        ),
        "{advisories:#?}"
    );
    assert!(mentions(advisories, "possibly affected"), "{advisories:#?}");

    let home = TempHome::new();
    let report = doctor(&home, debian("1.1.5+ds1-1"), &["engine-advisories"]).await;
    let advisories = finding(&report, "engine-advisories");
    assert_eq!(advisories.status, Status::Fail, "{advisories:#?}");
    assert!(
        advisories.summary.contains("CVE-2024-21626"),
        "{advisories:#?}"
    );
    assert!(
        advisories
            .fix
            .as_deref()
            .unwrap()
            .contains("1.1.5+ds1-1+deb12u1"),
        "{advisories:#?}"
    );
}

#[tokio::test]
async fn other_containers_on_the_engine_are_named_and_dws_own_are_not() {
    let home = TempHome::new();
    let mut fixture = Fixture::load("colima-ubuntu-24.04-arm64");
    fixture.containers = json!([
        {"Id": "aaaaaaaaaaaaaaaa", "Names": ["/postgres"], "Image": "postgres:16", "Labels": {}, "State": "running"},
        {"Id": "bbbbbbbbbbbbbbbb", "Names": ["/dw-sandbox-1"], "Image": "workflow", "Labels": {"dev.dw.workflow": "w1"}, "State": "running"},
    ]);
    let report = doctor(&home, fixture, &["shared-vm"]).await;
    let shared = finding(&report, "shared-vm");
    assert_eq!(shared.status, Status::Warn, "{shared:#?}");
    assert!(
        shared.summary.starts_with("1 other container"),
        "{shared:#?}"
    );
    assert!(mentions(shared, "postgres (postgres:16)"), "{shared:#?}");
    assert!(!mentions(shared, "dw-sandbox-1"), "{shared:#?}");

    let home = TempHome::new();
    let report = doctor(
        &home,
        Fixture::load("colima-ubuntu-24.04-arm64"),
        &["shared-vm"],
    )
    .await;
    assert_eq!(finding(&report, "shared-vm").status, Status::Pass);
}

#[tokio::test]
async fn resource_limits_warn_when_the_engine_may_take_the_whole_host() {
    let host = HostFacts::detect();
    let home = TempHome::new();
    let greedy = Fixture::load("colima-ubuntu-24.04-arm64")
        .with_info("NCPU", host.cpus)
        .with_info("MemTotal", host.memory_bytes);
    let report = doctor(&home, greedy, &["resource-limits"]).await;
    let limits = finding(&report, "resource-limits");
    assert_eq!(limits.status, Status::Warn, "{limits:#?}");
    assert!(
        limits
            .fix
            .as_deref()
            .unwrap()
            .starts_with("colima stop && colima start --cpu"),
        "{limits:#?}"
    );

    let home = TempHome::new();
    let modest = Fixture::load("colima-ubuntu-24.04-arm64")
        .with_info("NCPU", 1)
        .with_info("MemTotal", 1u64 << 28);
    let report = doctor(&home, modest, &["resource-limits"]).await;
    assert_eq!(finding(&report, "resource-limits").status, Status::Pass);
}

#[tokio::test]
async fn without_an_engine_engine_checks_skip_and_reachable_fails_with_the_teaching_error() {
    let home = TempHome::new();
    let host = Some(format!("unix://{}", home.join("nothing.sock").display()));
    let context = Context::gather(settings(
        &home,
        host,
        home.dir("project"),
        GitLab::default(),
    ))
    .await;
    let report = dw_doctor::run(&context, &dw_doctor::select(&[]).unwrap()).await;
    let reachable = finding(&report, "engine-reachable");
    assert_eq!(reachable.status, Status::Fail, "{reachable:#?}");
    assert!(mentions(reachable, "no engine socket at"), "{reachable:#?}");
    for id in [
        "vm-isolation",
        "resource-limits",
        "engine-advisories",
        "shared-vm",
        "base-image",
    ] {
        let skipped = finding(&report, id);
        assert_eq!(skipped.status, Status::Skip, "{skipped:#?}");
        assert!(
            skipped.summary.contains("no engine is reachable"),
            "{skipped:#?}"
        );
    }
    assert_eq!(report.checks.len(), dw_doctor::CHECKS.len());
}

#[tokio::test]
async fn credential_files_in_the_workspace_are_listed() {
    let home = TempHome::new();
    home.file("project/.env", "API_KEY=x\n");
    home.file("project/.env.example", "API_KEY=\n");
    home.file("project/deploy/id_ed25519", "key");
    home.file("project/deploy/id_ed25519.pub", "ssh-ed25519 AAAA");
    home.file("project/.npmrc", "//registry.npmjs.org/:_authToken=abc\n");
    home.file("project/web/.npmrc", "save-exact=true\n");
    home.file("project/gcp/credentials.json", "{}");
    home.file("project/infra/prod.tfvars", "password = \"x\"");
    home.file("project/src/credentials.py", "def f(): pass");
    home.file("project/node_modules/pkg/.env", "X=1");
    home.file("project/keys/.ssh/id_rsa", "key");
    let report = doctor(
        &home,
        Fixture::load("colima-ubuntu-24.04-arm64"),
        &["project-secrets"],
    )
    .await;
    let secrets = finding(&report, "project-secrets");
    assert_eq!(secrets.status, Status::Warn, "{secrets:#?}");
    let listed: Vec<&str> = secrets
        .evidence
        .iter()
        .filter(|line| line.contains(" ("))
        .map(|line| line.split(" (").next().unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            ".env",
            ".npmrc",
            "deploy/id_ed25519",
            "gcp/credentials.json",
            "infra/prod.tfvars",
            "keys/.ssh/"
        ],
        "{secrets:#?}"
    );
    assert!(
        mentions(secrets, "dw's sandbox masks these files"),
        "{secrets:#?}"
    );

    let home = TempHome::new();
    home.file("project/src/main.rs", "fn main() {}");
    let report = doctor(
        &home,
        Fixture::load("colima-ubuntu-24.04-arm64"),
        &["project-secrets"],
    )
    .await;
    assert_eq!(finding(&report, "project-secrets").status, Status::Pass);
}

#[tokio::test]
async fn an_error_inside_a_check_is_that_checks_fail() {
    let home = TempHome::new();
    let report = doctor_with(
        &home,
        Fixture::load("colima-ubuntu-24.04-arm64"),
        &home.join("missing"),
        GitLab::default(),
        &["project-secrets"],
    )
    .await;
    let secrets = finding(&report, "project-secrets");
    assert_eq!(secrets.status, Status::Fail, "{secrets:#?}");
    assert!(
        secrets
            .summary
            .starts_with("the check could not finish: cannot read"),
        "{secrets:#?}"
    );
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

#[tokio::test]
async fn git_project_wants_a_gitlab_remote_and_a_branch() {
    let home = TempHome::new();
    let colima = || Fixture::load("colima-ubuntu-24.04-arm64");
    let project = home.dir("project");
    let report = doctor(&home, colima(), &["git-project"]).await;
    assert_eq!(finding(&report, "git-project").status, Status::Fail);

    git(&project, &["init", "--quiet"]);
    git(&project, &["symbolic-ref", "HEAD", "refs/heads/feature"]);
    git(
        &project,
        &["remote", "add", "origin", "git@github.com:owner/repo.git"],
    );
    let report = doctor(&home, colima(), &["git-project"]).await;
    let project_finding = finding(&report, "git-project");
    assert_eq!(project_finding.status, Status::Warn, "{project_finding:#?}");
    assert!(
        project_finding.summary.contains("no GitLab remote"),
        "{project_finding:#?}"
    );

    git(
        &project,
        &[
            "remote",
            "add",
            "gitlab",
            "ssh://git@code.corp.example:2222/group/repo.git",
        ],
    );
    let corp = GitLab {
        url: Some("https://code.corp.example".to_owned()),
        token: None,
    };
    let report = doctor_with(&home, colima(), &project, corp, &["git-project"]).await;
    let project_finding = finding(&report, "git-project");
    assert_eq!(project_finding.status, Status::Pass, "{project_finding:#?}");
    assert!(
        project_finding.summary.ends_with("on branch feature"),
        "{project_finding:#?}"
    );

    let other = home.dir("other");
    git(&other, &["init", "--quiet"]);
    git(
        &other,
        &[
            "remote",
            "add",
            "origin",
            "https://gitlab.com/group/repo.git",
        ],
    );
    git(
        &other,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.test",
            "commit",
            "--quiet",
            "--allow-empty",
            "-m",
            "one",
        ],
    );
    git(&other, &["checkout", "--quiet", "--detach"]);
    let report = doctor_with(&home, colima(), &other, GitLab::default(), &["git-project"]).await;
    let detached = finding(&report, "git-project");
    assert_eq!(detached.status, Status::Warn, "{detached:#?}");
    assert!(
        detached.summary.contains("HEAD is detached"),
        "{detached:#?}"
    );
}

#[tokio::test]
async fn extension_version_needs_5_16_in_some_flavour() {
    let home = TempHome::new();
    let report = doctor(
        &home,
        Fixture::load("colima-ubuntu-24.04-arm64"),
        &["extension-version"],
    )
    .await;
    assert_eq!(finding(&report, "extension-version").status, Status::Warn);

    home.dir(".vscode/extensions/gitlab.gitlab-workflow-5.15.2");
    let report = doctor(
        &home,
        Fixture::load("colima-ubuntu-24.04-arm64"),
        &["extension-version"],
    )
    .await;
    let old = finding(&report, "extension-version");
    assert_eq!(old.status, Status::Fail, "{old:#?}");
    assert!(old.summary.contains("older than 5.16.0"), "{old:#?}");

    home.dir(".cursor/extensions/gitlab.gitlab-workflow-6.2.1-darwin-arm64");
    let report = doctor(
        &home,
        Fixture::load("colima-ubuntu-24.04-arm64"),
        &["extension-version"],
    )
    .await;
    let recent = finding(&report, "extension-version");
    assert_eq!(recent.status, Status::Pass, "{recent:#?}");
    assert!(recent.summary.contains("6.2.1 in Cursor"), "{recent:#?}");
}

#[tokio::test]
async fn the_socket_setting_must_point_at_the_engine_doctor_checks() {
    let home = TempHome::new();
    let report = doctor(
        &home,
        Fixture::load("colima-ubuntu-24.04-arm64"),
        &["socket-setting"],
    )
    .await;
    assert_eq!(finding(&report, "socket-setting").status, Status::Skip);

    home.vscode_settings("Code", "{\n  // mine\n  \"editor.tabSize\": 2,\n}\n");
    let report = doctor(
        &home,
        Fixture::load("colima-ubuntu-24.04-arm64"),
        &["socket-setting"],
    )
    .await;
    let missing = finding(&report, "socket-setting");
    assert_eq!(missing.status, Status::Fail, "{missing:#?}");
    assert!(mentions(missing, "the setting is missing"), "{missing:#?}");
    assert!(
        missing
            .fix
            .as_deref()
            .unwrap()
            .contains("dw setup --only settings")
    );

    let stale = home.join(".colima/default/docker.sock");
    home.vscode_settings(
        "Cursor",
        &format!(
            "{{ \"gitlab.duoWorkflow.dockerSocket\": \"{}\" }}",
            stale.display()
        ),
    );
    home.vscode_settings(
        "Code",
        &format!(
            "{{ \"gitlab.duoWorkflow.dockerSocket\": \"{}\", }}",
            home.join("engine.sock").display()
        ),
    );
    let report = doctor(
        &home,
        Fixture::load("colima-ubuntu-24.04-arm64"),
        &["socket-setting"],
    )
    .await;
    let mixed = finding(&report, "socket-setting");
    assert_eq!(mixed.status, Status::Fail, "{mixed:#?}");
    assert!(mentions(mixed, "does not exist (stale)"), "{mixed:#?}");
    assert!(mentions(mixed, "the engine doctor checks"), "{mixed:#?}");

    std::fs::remove_file(home.join(".config/Cursor/User/settings.json")).unwrap();
    let report = doctor(
        &home,
        Fixture::load("colima-ubuntu-24.04-arm64"),
        &["socket-setting"],
    )
    .await;
    assert_eq!(finding(&report, "socket-setting").status, Status::Pass);
}

#[test]
fn unknown_check_ids_are_refused_with_the_list() {
    let error = dw_doctor::select(&["vm-isolaton".to_owned()]).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("unknown check `vm-isolaton`"), "{message}");
    assert!(
        message.contains("vm-isolation, network-isolation, resource-limits"),
        "{message}"
    );
    let selected =
        dw_doctor::select(&["base-image".to_owned(), "vm-isolation".to_owned()]).unwrap();
    let ids: Vec<&str> = selected.iter().map(|check| check.id).collect();
    assert_eq!(ids, ["vm-isolation", "base-image"]);
}

/// Runs `ids` with `fixture` served at `socket` (relative to the home), as `--host`.
async fn doctor_at(home: &TempHome, socket: &str, fixture: Fixture, ids: &[&str]) -> Report {
    let socket = home.join(socket);
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    let _engine = FakeEngine::start(&socket, fixture);
    let host = Some(format!("unix://{}", socket.display()));
    let workspace = home.dir("project");
    let context = Context::gather(settings(home, host, workspace, GitLab::default())).await;
    let ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
    dw_doctor::run(&context, &dw_doctor::select(&ids).unwrap()).await
}

fn colima() -> Fixture {
    Fixture::load("colima-ubuntu-24.04-arm64")
}

#[tokio::test]
async fn base_image_reports_the_digest_of_a_present_image_and_the_pull_fix_otherwise() {
    let home = TempHome::new();
    let report = doctor(
        &home,
        colima().with_image("example.test/workflow:1"),
        &["base-image"],
    )
    .await;
    let image = finding(&report, "base-image");
    assert_eq!(image.status, Status::Pass, "{image:#?}");
    assert_eq!(image.summary, "example.test/workflow:1 is present");
    assert_eq!(
        image.evidence[0],
        format!(
            "digest example.test/workflow@{}",
            dw_test_support::engine::image_digest("example.test/workflow:1")
        )
    );

    let home = TempHome::new();
    let report = doctor(&home, colima().with_image("other:1"), &["base-image"]).await;
    let image = finding(&report, "base-image");
    assert_eq!(image.status, Status::Warn, "{image:#?}");
    assert!(
        image
            .fix
            .as_deref()
            .unwrap()
            .contains("docker pull example.test/workflow:1")
    );
}

#[tokio::test]
async fn base_image_on_this_machines_engine() {
    let home = TempHome::new();
    let mut settings = settings(
        &home,
        Some(format!("unix://{}", dw_test_support::REAL_ENGINE_SOCKET)),
        home.dir("project"),
        GitLab::default(),
    );
    settings.image = dw_test_support::test_image();
    let context = Context::gather(settings).await;
    let report = dw_doctor::run(
        &context,
        &dw_doctor::select(&["base-image".to_owned()]).unwrap(),
    )
    .await;
    let image = finding(&report, "base-image");
    assert_eq!(image.status, Status::Pass, "{image:#?}");
    assert!(
        image
            .evidence
            .iter()
            .any(|line| line.starts_with("image ID sha256:")),
        "{image:#?}"
    );
}

#[tokio::test]
async fn hardware_access_reads_gpu_runtimes_cdi_devices_and_colimas_vm() {
    let home = TempHome::new();
    home.file(
        ".colima/default/colima.yaml",
        "cpu: 2\nvmType: vz\nrosetta: true\nnestedVirtualization: false\nnetwork:\n  address: false\nmounts: []\n",
    );
    let report = doctor_at(
        &home,
        ".colima/default/docker.sock",
        colima(),
        &["hardware-access"],
    )
    .await;
    let hardware = finding(&report, "hardware-access");
    assert_eq!(hardware.status, Status::Pass, "{hardware:#?}");
    assert_eq!(hardware.risk, Some(4));
    assert!(mentions(hardware, "vmType: vz"), "{hardware:#?}");
    assert!(mentions(hardware, "rosetta: true"), "{hardware:#?}");
    assert!(mentions(hardware, "a probe container"), "{hardware:#?}");

    let home = TempHome::new();
    home.file(".colima/default/colima.yaml", "vmType: krunkit\n");
    let gpu = colima()
        .with_info(
            "Runtimes",
            json!({"runc": {"path": "runc"}, "nvidia": {"path": "nvidia-container-runtime"}}),
        )
        .with_info("CDISpecDirs", json!(["/etc/cdi", "/var/run/cdi"]))
        .with_info(
            "DiscoveredDevices",
            json!([{"Source": "cdi", "ID": "nvidia.com/gpu=all"}]),
        );
    let report = doctor_at(
        &home,
        ".colima/default/docker.sock",
        gpu,
        &["hardware-access"],
    )
    .await;
    let hardware = finding(&report, "hardware-access");
    assert_eq!(hardware.status, Status::Warn, "{hardware:#?}");
    assert_eq!(
        hardware.summary,
        "containers on this engine can be given host hardware: GPUs (runtime nvidia), CDI devices (nvidia.com/gpu=all (cdi)), vmType: krunkit"
    );
}

#[tokio::test]
async fn mounts_warn_when_the_home_directory_is_shared_writable() {
    // Colima's default: `mounts: []` shares the home directory writable.
    let home = TempHome::new();
    home.file(
        ".colima/default/colima.yaml",
        "cpu: 2\nmounts: []\nforwardAgent: true\n",
    );
    let report = doctor_at(&home, ".colima/default/docker.sock", colima(), &["mounts"]).await;
    let mounts = finding(&report, "mounts");
    assert_eq!(mounts.status, Status::Warn, "{mounts:#?}");
    assert_eq!(mounts.risk, Some(6));
    assert!(
        mounts
            .summary
            .starts_with("your home directory is shared writable"),
        "{mounts:#?}"
    );
    assert!(
        mentions(mounts, "Colima's default when `mounts` is empty"),
        "{mounts:#?}"
    );
    assert!(mentions(mounts, "SSH agent"), "{mounts:#?}");
    assert!(
        mounts.fix.as_deref().unwrap().contains("colima.yaml"),
        "{mounts:#?}"
    );

    // Only a projects directory, writable, and the home read-only: a pass.
    let home = TempHome::new();
    home.file(
        ".colima/default/colima.yaml",
        "mounts:\n  - location: ~/projects\n    writable: true\n  - location: \"~\"\n    writable: false\n",
    );
    let report = doctor_at(&home, ".colima/default/docker.sock", colima(), &["mounts"]).await;
    let mounts = finding(&report, "mounts");
    assert_eq!(mounts.status, Status::Pass, "{mounts:#?}");
    assert!(mentions(
        mounts,
        &format!("shares {} writable", home.join("projects").display())
    ));

    // Docker Desktop's file sharing list, from its settings file.
    let home = TempHome::new();
    home.file(
        "Library/Group Containers/group.com.docker/settings-store.json",
        r#"{"FilesharingDirectories": ["/Users", "/Volumes"], "MemoryMiB": 8092}"#,
    );
    let report = doctor_at(
        &home,
        ".docker/run/docker.sock",
        Fixture::load("docker-desktop-macos-arm64-4.44.3"),
        &["mounts"],
    )
    .await;
    let mounts = finding(&report, "mounts");
    assert!(mentions(mounts, "shares /Users writable"), "{mounts:#?}");
    // The temp home is not under /Users, so its shares miss it: a pass here.
    assert_eq!(mounts.status, Status::Pass, "{mounts:#?}");

    // An engine on this host can bind-mount anything.
    let home = TempHome::new();
    let report = doctor(&home, native(), &["mounts"]).await;
    let mounts = finding(&report, "mounts");
    assert_eq!(mounts.status, Status::Warn, "{mounts:#?}");
    assert_eq!(
        mounts.summary,
        "the whole host filesystem is shared writable with the engine"
    );
}

#[tokio::test]
async fn token_scope_reads_the_token_from_the_fake_gitlab() {
    use dw_test_support::gitlab::{FakeGitLab, Reply, personal_access_token};
    let token = "glpat-0123456789abcdefWXYZ";
    let gitlab = FakeGitLab::builder()
        .token(token)
        .route(
            "GET",
            "/api/v4/personal_access_tokens/self",
            Reply::ok(personal_access_token(
                "dw",
                &["read_api", "write_repository"],
                Some("2099-12-31"),
            )),
        )
        .start();
    let home = TempHome::new();
    let configured = GitLab {
        url: Some(format!("{}/", gitlab.url())),
        token: Some(token.to_owned()),
    };
    let report = doctor_with(
        &home,
        colima(),
        &home.dir("project"),
        configured,
        &["token-scope"],
    )
    .await;
    let scope = finding(&report, "token-scope");
    assert_eq!(scope.status, Status::Warn, "{scope:#?}");
    assert!(
        mentions(scope, "write_repository: push to every repository"),
        "{scope:#?}"
    );
    assert!(
        mentions(scope, "token glpat-…WXYZ (\"dw\", id 4, user 24)"),
        "{scope:#?}"
    );
    assert!(!format!("{scope:?}").contains(token));
    let requests = gitlab.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("private-token"), Some(token));
}

/// Runs `ids` on this machine's real engine with probes on, labelled with `guard`'s workflow id
/// and aimed only at `addresses` (never this machine's own LAN address).
async fn probe_on_this_machine(
    home: &TempHome,
    guard: &WorkflowGuard,
    image: String,
    addresses: &[&str],
    network: Option<&str>,
    ids: &[&str],
) -> Report {
    let mut settings = settings(
        home,
        Some(format!("unix://{}", dw_test_support::REAL_ENGINE_SOCKET)),
        home.dir("project"),
        GitLab::default(),
    );
    settings.image = image;
    settings.probe = ProbeSettings {
        enabled: true,
        addresses: addresses
            .iter()
            .map(|address| ProbeTarget::parse(address).unwrap())
            .collect(),
        network: network.map(str::to_owned),
        workflow_id: guard.id().to_owned(),
    };
    let context = Context::gather(settings).await;
    let ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
    dw_doctor::run(&context, &dw_doctor::select(&ids).unwrap()).await
}

/// Nothing of a probe is left: no container with the guard's workflow id, no probe directory.
fn nothing_left(home: &TempHome, guard: &WorkflowGuard) {
    assert_eq!(
        guard.containers(),
        Vec::<String>::new(),
        "probe containers left"
    );
    let left: Vec<_> = std::fs::read_dir(home.join(".cache/dw"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "probe directories left: {left:?}");
}

#[tokio::test]
async fn the_probe_halves_see_only_standard_devices_and_only_the_workspace() {
    let home = TempHome::new();
    let guard = WorkflowGuard::new("probe-halves");
    let report = probe_on_this_machine(
        &home,
        &guard,
        dw_test_support::test_image(),
        &["127.0.0.1"],
        None,
        &["hardware-access", "mounts"],
    )
    .await;
    let hardware = finding(&report, "hardware-access");
    assert_eq!(hardware.status, Status::Pass, "{hardware:#?}");
    assert!(
        mentions(
            hardware,
            "a probe container made from dw's sandbox spec sees only the standard devices (/dev/full, /dev/null"
        ),
        "{hardware:#?}"
    );
    let mounts = finding(&report, "mounts");
    // The engine on this host shares `/` (a warning of the shares half); the probe half passes.
    assert_eq!(mounts.status, Status::Warn, "{mounts:#?}");
    assert!(
        mentions(
            mounts,
            "sees from the host: /workspace read-write, /opt/dw/dw-agent read-only, /workspace/.env read-only (the mask over a credential file)"
        ),
        "{mounts:#?}"
    );
    assert!(!mentions(mounts, "also from the host"), "{mounts:#?}");
    nothing_left(&home, &guard);
}

#[tokio::test]
async fn without_the_image_the_probes_are_skipped_and_say_why() {
    let home = TempHome::new();
    let guard = WorkflowGuard::new("probe-no-image");
    let report = probe_on_this_machine(
        &home,
        &guard,
        "dw-test/not-pulled:0".to_owned(),
        &["127.0.0.1"],
        None,
        &["network-isolation", "hardware-access"],
    )
    .await;
    let network = finding(&report, "network-isolation");
    assert_eq!(network.status, Status::Skip, "{network:#?}");
    assert_eq!(network.risk, Some(2));
    assert_eq!(
        network.summary,
        "the image dw-test/not-pulled:0 is not on the engine, so no probe container can start (see base-image)"
    );
    let hardware = finding(&report, "hardware-access");
    assert_eq!(hardware.status, Status::Pass, "{hardware:#?}");
    assert!(
        mentions(hardware, "not checked: the devices a probe container sees"),
        "{hardware:#?}"
    );
    nothing_left(&home, &guard);
}

#[tokio::test]
async fn a_probe_that_cannot_start_fails_network_isolation_with_the_engines_reason() {
    let home = TempHome::new();
    let guard = WorkflowGuard::new("probe-no-network");
    let report = probe_on_this_machine(
        &home,
        &guard,
        dw_test_support::test_image(),
        &["127.0.0.1"],
        Some("dw-test-no-such-network"),
        &["network-isolation"],
    )
    .await;
    let network = finding(&report, "network-isolation");
    assert_eq!(network.status, Status::Fail, "{network:#?}");
    // Engine 20.10 refuses at start, later ones at create.
    assert!(
        network
            .summary
            .starts_with("the check could not finish: cannot "),
        "{network:#?}"
    );
    assert!(
        network
            .summary
            .ends_with("network dw-test-no-such-network not found"),
        "{network:#?}"
    );
    nothing_left(&home, &guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_dropped_before_it_finishes_is_removed() {
    let home = TempHome::new();
    let guard = WorkflowGuard::new("probe-dropped");
    let engine = dw_runtime::engine::Engine::connect(
        &dw_runtime::endpoint::Endpoint::Unix(dw_test_support::REAL_ENGINE_SOCKET.into()),
        dw_runtime::kind::RuntimeKind::DockerEngine,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let settings = ProbeSettings {
        workflow_id: guard.id().to_owned(),
        ..ProbeSettings::enabled()
    };
    let probe = Probe {
        purpose: "dropped",
        networking: Networking::Sandbox,
        script: "sleep 600; echo dw-probe-done",
        arguments: Vec::new(),
    };
    let running = {
        let (engine, home) = (engine.clone(), home.path().to_owned());
        let image = dw_test_support::test_image();
        tokio::spawn(async move {
            dw_doctor::probe::run(&engine, &settings, &home, &image, &probe).await
        })
    };
    // What an interrupted doctor does to its checks: drop them while the probe runs.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !running_container(&guard) {
        assert!(
            std::time::Instant::now() < deadline,
            "the probe container never ran"
        );
        if running.is_finished() {
            panic!("the probe ended on its own: {:?}", running.await);
        }
    }
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled());
    nothing_left(&home, &guard);
}

/// Whether a container of the guard's workflow is running.
fn running_container(guard: &WorkflowGuard) -> bool {
    let output = Command::new("docker")
        .args([
            "ps",
            "-q",
            "--filter",
            &guard.filter(),
            "--filter",
            "status=running",
        ])
        .output()
        .unwrap();
    !output.stdout.is_empty()
}
