//! `dw sandbox`, run as a user would: the real binary, the real engine, the test image and the
//! static executor. Every test names its sandboxes with `DW_WORKFLOW_ID`, and a guard removes
//! whatever carries that id, also when the test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dw_test_support::agent::{WorkflowGuard, dw_agent_binary};
use dw_test_support::home::TempHome;
use serde_json::Value;

/// Tests of this file take turns on the engine when they share a process (`cargo test`);
/// under nextest each runs in its own process. What must not race — a neighbour's dw reaping
/// the orphan the prune test makes on purpose — is isolated by [`on_a_host_of_its_own`].
static ENGINE_TURN: Mutex<()> = Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ENGINE_TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn dw(home: &TempHome, guard: &WorkflowGuard) -> Command {
    let mut command = home.command(env!("CARGO_BIN_EXE_dw"));
    command
        .env("DW_AGENT", dw_agent_binary())
        .env("DW_WORKFLOW_ID", guard.id())
        .env("DW_ENGINE_TIMEOUT", "60")
        .env("NO_COLOR", "1");
    command
}

/// The hostname of [`on_a_host_of_its_own`].
const OWN_HOST: &str = "dw-test-own-host";

/// `command` in a UTS namespace of its own, named [`OWN_HOST`]. The reaper judges only owners
/// on its own host, so the dw processes of other tests running at the same time (on this
/// machine's hostname) leave the orphans of this one alone, and its own `prune` judges them.
fn on_a_host_of_its_own(command: Command) -> Command {
    let mut wrapped = Command::new("unshare");
    wrapped
        .args(["--uts", "sh", "-c"])
        .arg(format!(
            "echo {OWN_HOST} > /proc/sys/kernel/hostname && exec \"$0\" \"$@\""
        ))
        .arg(command.get_program())
        .args(command.get_args());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(name, value),
            None => wrapped.env_remove(name),
        };
    }
    wrapped
}

fn exec_args(workspace: &Path) -> Vec<String> {
    vec![
        "sandbox".into(),
        "exec".into(),
        "--workspace".into(),
        workspace.display().to_string(),
        "--image".into(),
        dw_test_support::test_image(),
    ]
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn explain(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    )
}

/// `key=value` lines printed by a script in the sandbox.
fn facts(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.trim().to_owned()))
        .collect()
}

const ISOLATION_SCRIPT: &str = r#"
echo "capeff=$(awk '/^CapEff/ {print $2}' /proc/self/status)"
echo "nonewprivs=$(awk '/^NoNewPrivs/ {print $2}' /proc/self/status)"
echo "seccomp=$(awk '/^Seccomp:/ {print $2}' /proc/self/status)"
echo "interfaces=$(ls /sys/class/net | tr '\n' ' ')"
echo "devices=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
if touch /written-to-root 2>/dev/null; then echo root_write=ok; else echo root_write=refused; fi
echo made > /workspace/made-in-sandbox && echo workspace_write=ok
echo "env=[$(cat /workspace/.env)]"
echo "env_local=[$(cat /workspace/config/.env.local)]"
echo "ssh_dir=[$(ls -A /workspace/deploy/.ssh)]"
echo "visible=$(cat /workspace/README.md)"
echo "home=$HOME"
touch "$HOME/file" && echo home_write=ok
touch /tmp/file && echo tmp_write=ok
while read -r id parent device root point options rest; do
  echo "mount=$root $point"
done < /proc/self/mountinfo
"#;

#[test]
fn the_sandbox_sees_only_the_project_with_secrets_masked_and_no_privileges() {
    let _turn = turn();
    let guard = WorkflowGuard::new("isolation");
    let home = TempHome::new();
    let workspace = tempfile::tempdir().unwrap();
    let root = workspace.path();
    std::fs::write(root.join("README.md"), "project readme").unwrap();
    std::fs::write(root.join(".gitignore"), ".env*\n").unwrap();
    std::fs::write(root.join(".env"), "API_TOKEN=secret").unwrap();
    std::fs::create_dir_all(root.join("config")).unwrap();
    std::fs::write(root.join("config/.env.local"), "DB_PASSWORD=secret").unwrap();
    std::fs::create_dir_all(root.join("deploy/.ssh")).unwrap();
    std::fs::write(root.join("deploy/.ssh/id_ed25519"), "PRIVATE KEY").unwrap();

    let output = dw(&home, &guard)
        .args(exec_args(root))
        .args(["--", "sh", "-c", ISOLATION_SCRIPT])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    let stdout = text(&output.stdout);
    let facts = facts(&stdout);
    assert_eq!(facts["capeff"], "0000000000000000", "{stdout}");
    assert_eq!(facts["nonewprivs"], "1");
    assert_eq!(
        facts["seccomp"], "2",
        "the engine's default seccomp profile"
    );
    assert_eq!(facts["interfaces"], "lo");
    assert_eq!(facts["devices"], "lo");
    assert_eq!(facts["root_write"], "refused");
    assert_eq!(facts["workspace_write"], "ok");
    assert_eq!(facts["env"], "[]", "a masked .env reads empty");
    assert_eq!(facts["env_local"], "[]");
    assert_eq!(facts["ssh_dir"], "[]", "a masked directory is empty");
    assert_eq!(facts["visible"], "project readme");
    assert_eq!(facts["home"], "/home/sandbox");
    assert_eq!(facts["home_write"], "ok");
    assert_eq!(facts["tmp_write"], "ok");

    // Bind mounts show the host path they come from (the mount's root); the only ones are the
    // project, the executor, the masks, the engine's init and the engine's /etc files.
    let allowed = [
        "/workspace",
        "/workspace/.env",
        "/workspace/config/.env.local",
        "/workspace/deploy/.ssh",
        "/opt/dw/dw-agent",
        "/usr/sbin/docker-init",
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
    ];
    let mounts: Vec<(&str, &str)> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("mount="))
        .filter_map(|line| line.split_once(' '))
        .collect();
    assert!(mounts.iter().any(|(_, point)| *point == "/workspace"));
    for (source, point) in &mounts {
        let kernel = point.starts_with("/proc/")
            || point.starts_with("/sys/fs/cgroup/")
            || ["/", "/proc", "/dev", "/sys", "/tmp", "/home/sandbox"].contains(point)
            || point.starts_with("/dev/")
            || point.starts_with("/sys/");
        assert!(
            allowed.contains(point) || (kernel && !source.starts_with("/work")),
            "unexpected mount of {source} at {point}\n{stdout}"
        );
    }
    let made = std::fs::metadata(root.join("made-in-sandbox")).unwrap();
    assert_eq!(
        made.uid(),
        caller_uid(),
        "files written in /workspace are the caller's"
    );
    assert_eq!(
        std::fs::read_to_string(root.join(".env")).unwrap(),
        "API_TOKEN=secret",
        "the real file is untouched"
    );
    assert!(guard.containers().is_empty(), "dw removed its container");
}

/// This process's effective uid: the owner of its `/proc/self`.
fn caller_uid() -> u32 {
    std::fs::metadata("/proc/self").unwrap().uid()
}

#[test]
fn files_written_in_the_workspace_belong_to_an_unprivileged_caller() {
    const UID: u32 = 4242;
    let _turn = turn();
    let guard = WorkflowGuard::new("unprivileged");
    let home = TempHome::new();
    let workspace = tempfile::tempdir().unwrap();
    for path in [home.path(), workspace.path()] {
        std::os::unix::fs::chown(path, Some(UID), Some(UID)).unwrap();
    }
    let docker_gid = std::fs::metadata(dw_test_support::REAL_ENGINE_SOCKET)
        .unwrap()
        .gid();
    let command = dw(&home, &guard);
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(ToOwned::to_owned).collect();
    let mut command = Command::new("setpriv");
    command
        .arg(format!("--reuid={UID}"))
        .arg(format!("--regid={UID}"))
        .arg(format!("--groups={docker_gid}"))
        .arg(program)
        .args(args)
        .args(exec_args(workspace.path()))
        .args(["--", "sh", "-c", "id -u; echo hi > written"]);
    for (key, value) in dw(&home, &guard).get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    assert_eq!(text(&output.stdout), format!("{UID}\n"));
    let written = std::fs::metadata(workspace.path().join("written")).unwrap();
    assert_eq!((written.uid(), written.gid()), (UID, UID));
    assert!(guard.containers().is_empty());
}

#[test]
fn exec_reports_json_and_exits_with_the_commands_status() {
    let _turn = turn();
    let guard = WorkflowGuard::new("json");
    let home = TempHome::new();
    let workspace = tempfile::tempdir().unwrap();
    let output = dw(&home, &guard)
        .args(exec_args(workspace.path()))
        .args(["--json", "--", "sh", "-c", "echo out; echo err >&2; exit 7"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(7), "{}", explain(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["exit_code"], 7);
    assert_eq!(report["timed_out"], false);
    assert_eq!(report["truncated"], false);
    assert_eq!(report["workflow_id"], guard.id());
    let printed = report["output"].as_str().unwrap();
    assert!(
        printed.contains("out\n") && printed.contains("err\n"),
        "{report}"
    );
    assert!(report["container"].as_str().unwrap().len() >= 12);
    assert!(report["duration_ms"].as_u64().is_some());
    assert!(guard.containers().is_empty());
}

#[test]
fn exec_streams_the_commands_output_to_stdout_and_stderr() {
    let _turn = turn();
    let guard = WorkflowGuard::new("streams");
    let home = TempHome::new();
    let workspace = tempfile::tempdir().unwrap();
    let output = dw(&home, &guard)
        .args(exec_args(workspace.path()))
        .args(["--", "sh", "-c", "echo to-stdout; echo to-stderr >&2"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    assert_eq!(text(&output.stdout), "to-stdout\n");
    assert!(text(&output.stderr).contains("to-stderr\n"));
}

#[test]
fn a_killed_dw_leaves_a_container_that_the_next_prune_removes() {
    let _turn = turn();
    let guard = WorkflowGuard::new("killed");
    let home = TempHome::new();
    let workspace = tempfile::tempdir().unwrap();
    let mut child = on_a_host_of_its_own(dw(&home, &guard))
        .args(exec_args(workspace.path()))
        .args(["--", "sleep", "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let container = loop {
        let running = Command::new("docker")
            .args(["ps", "-q", "--no-trunc", "--filter", &guard.filter()])
            .args(["--filter", "status=running"])
            .output()
            .unwrap();
        let id = text(&running.stdout).trim().to_owned();
        if !id.is_empty() {
            break id;
        }
        assert!(
            Instant::now() < deadline,
            "the sandbox never ran: {:?}",
            child.try_wait()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    assert_eq!(
        guard.containers(),
        vec![container.clone()],
        "the orphan is there"
    );

    let output = on_a_host_of_its_own(dw(&home, &guard))
        .args(["sandbox", "prune", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let removed = report["removed"].as_array().unwrap();
    let ours: Vec<&Value> = removed
        .iter()
        .filter(|removed| removed["workflow_id"] == guard.id())
        .collect();
    assert_eq!(ours.len(), 1, "{report}");
    assert_eq!(ours[0]["id"], container.as_str());
    assert_eq!(ours[0]["name"], format!("dw-{}", guard.id()));
    assert!(guard.containers().is_empty());

    let again = on_a_host_of_its_own(dw(&home, &guard))
        .args(["sandbox", "prune"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", explain(&again));
    assert!(
        !text(&again.stdout).contains(guard.id()),
        "{}",
        explain(&again)
    );
}

#[test]
fn a_missing_executor_is_explained() {
    let guard = WorkflowGuard::new("no-executor");
    let home = TempHome::new();
    let workspace = tempfile::tempdir().unwrap();
    let output = dw(&home, &guard)
        .env("DW_AGENT", "/nonexistent/dw-agent")
        .args(exec_args(workspace.path()))
        .args(["--", "true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("/nonexistent/dw-agent") && stderr.contains("crt-static"),
        "{stderr}"
    );
    assert!(guard.containers().is_empty());
}

#[test]
fn the_configuration_file_adds_and_removes_masks_and_sets_the_limits() {
    let _turn = turn();
    let guard = WorkflowGuard::new("config");
    let home = TempHome::new();
    let config = home.file(
        ".config/dw/config.toml",
        "[sandbox]\npids = 100\nmemory_mib = 768\nmask = [\"*.secret\"]\nunmask = [\".npmrc\"]\n",
    );
    let workspace = tempfile::tempdir().unwrap();
    let root = workspace.path();
    std::fs::write(root.join("db.secret"), "hunter2").unwrap();
    std::fs::write(root.join(".npmrc"), "registry=http://127.0.0.1:4873/").unwrap();
    std::fs::write(root.join(".env"), "TOKEN=still-masked").unwrap();
    let script = "echo \"secret=[$(cat db.secret)]\"; echo \"npmrc=[$(cat .npmrc)]\"; \
                  echo \"env=[$(cat .env)]\"; echo \"pids=$(cat /sys/fs/cgroup/pids/pids.max)\"; \
                  echo \"memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)\"";
    let output = dw(&home, &guard)
        .env("DW_CONFIG", &config)
        .args(exec_args(root))
        .args(["--", "bash", "-c", script])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    let facts = facts(&text(&output.stdout));
    assert_eq!(facts["secret"], "[]", "a configured pattern is masked");
    assert_eq!(
        facts["npmrc"], "[registry=http://127.0.0.1:4873/]",
        "an excepted name is visible"
    );
    assert_eq!(facts["env"], "[]", "the built-in patterns still apply");
    assert_eq!(facts["pids"], "100");
    assert_eq!(facts["memory"], (768u64 << 20).to_string());

    std::fs::write(&config, "[sandbox]\npid = 100\n").unwrap();
    let output = dw(&home, &guard)
        .env("DW_CONFIG", &config)
        .args(exec_args(root))
        .args(["--", "true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    assert!(
        text(&output.stderr).contains("unknown field `pid`"),
        "{}",
        explain(&output)
    );
}
