//! A real sandbox on the real engine, driven through the library: limits, and the executor
//! serving on after them; concurrency of the client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use dw_protocol::request::{ReadFile, RunCommand};
use dw_runtime::endpoint::Endpoint;
use dw_runtime::engine::Engine;
use dw_runtime::kind::RuntimeKind;
use dw_test_support::agent::{WorkflowGuard, dw_agent_binary};
use dw_workflow::protocol::ErrorKind;
use dw_workflow::{ClientError, Sandbox, SandboxOptions};

async fn engine() -> Engine {
    Engine::connect(
        &Endpoint::Unix(dw_test_support::REAL_ENGINE_SOCKET.into()),
        RuntimeKind::Custom,
        Duration::from_secs(30),
    )
    .await
    .expect("the real engine answers")
}

async fn start(guard: &WorkflowGuard, workspace: &Path) -> (Engine, Sandbox) {
    let engine = engine().await;
    let mut options = SandboxOptions::new(dw_test_support::test_image(), workspace);
    options.workflow_id = Some(guard.id().to_owned());
    options.executor = Some(dw_agent_binary());
    let spec = options.spec().unwrap();
    let sandbox = Sandbox::start(&engine, spec).await.unwrap();
    (engine, sandbox)
}

fn shell(script: &str) -> RunCommand {
    RunCommand {
        program: "sh".to_owned(),
        args: vec!["-c".to_owned(), script.to_owned()],
        timeout_ms: Some(120_000),
        ..Default::default()
    }
}

/// Waits until the sandbox is back to a handful of processes and a command runs. Every request
/// is answered meanwhile — with a result, or with the executor's `resource_exhausted` error while
/// a new command cannot fork yet; no answer at all fails the test.
async fn serves_commands_again(client: &dw_workflow::Client) {
    // Killed processes stuck in uninterruptible sleep on a busy fuse-overlayfs root (this
    // machine's storage driver) can take tens of seconds to go.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let quiet = "test $(ps -e --no-headers | wc -l) -lt 10 && echo alive || ps -eo stat,comm";
        let answer = match client.call(shell(quiet)).await {
            Ok(result) if result.output == "alive\n" => return,
            Ok(result) => format!("{result:?}"),
            Err(ClientError::Failed { failure, .. })
                if failure.kind == ErrorKind::ResourceExhausted =>
            {
                failure.message
            }
            Err(other) => panic!("the executor stopped serving: {other}"),
        };
        assert!(Instant::now() < deadline, "commands still fail: {answer}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_bomb_and_a_huge_allocation_are_stopped_and_the_executor_serves_on() {
    let guard = WorkflowGuard::new("limits");
    let workspace = tempfile::tempdir().unwrap();
    std::fs::write(workspace.path().join("notes.txt"), "still here\n").unwrap();
    let (_engine, sandbox) = start(&guard, workspace.path()).await;
    let client = sandbox.client();

    // A thousand processes at once: forks beyond the pids limit fail. (A recursive bomb
    // proves the same, but on a small machine its killed remains can stall the kernel for
    // minutes; these end by themselves.)
    let bomb = client
        .call(shell(
            "i=0; while [ $i -lt 1000 ]; do sleep 3 & i=$((i+1)); done; wait; echo spawned",
        ))
        .await
        .unwrap();
    assert!(
        bomb.output.contains("fork") || bomb.output.contains("Resource temporarily unavailable"),
        "{bomb:?}"
    );
    // The executor answers at once, without forking; commands work again once the bomb is gone.
    assert_eq!(
        client
            .call(ReadFile {
                path: "notes.txt".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .content,
        "still here\n"
    );
    serves_commands_again(client).await;
    let limit: i64 = client
        .call(shell(
            "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max",
        ))
        .await
        .unwrap()
        .output
        .trim()
        .parse()
        .unwrap();
    assert_eq!(limit, 512);
    assert_eq!(
        client
            .call(ReadFile {
                path: "notes.txt".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .content,
        "still here\n"
    );

    // 3 GiB held in memory by `tail` (it keeps the last line, and /dev/zero has no line break).
    let memory = client
        .call(shell("head -c 3G /dev/zero | tail > /dev/null"))
        .await
        .unwrap();
    assert_eq!(memory.exit_code, Some(137), "{memory:?}");
    serves_commands_again(client).await;
    sandbox.remove().await.unwrap();
    assert!(guard.containers().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_reads_are_answered_while_a_command_sleeps() {
    let guard = WorkflowGuard::new("concurrency");
    let workspace = tempfile::tempdir().unwrap();
    std::fs::write(workspace.path().join("small.txt"), "hello\n").unwrap();
    let (_engine, sandbox) = start(&guard, workspace.path()).await;
    let client = sandbox.client().clone();

    let started = Instant::now();
    let sleeper = {
        let client = client.clone();
        tokio::spawn(async move {
            let result = client
                .call(RunCommand {
                    program: "sleep".into(),
                    args: vec!["5".into()],
                    ..Default::default()
                })
                .await
                .unwrap();
            (result, started.elapsed())
        })
    };
    let reads = (0..100).map(|_| {
        let client = client.clone();
        tokio::spawn(async move {
            let read = client
                .call(ReadFile {
                    path: "small.txt".into(),
                    ..Default::default()
                })
                .await
                .unwrap();
            (read.content, started.elapsed())
        })
    });
    let reads = futures_util::future::join_all(reads).await;
    let (slept, sleep_done) = sleeper.await.unwrap();
    assert_eq!(slept.exit_code, Some(0));
    let last_read = reads
        .into_iter()
        .map(|read| {
            let (content, at) = read.unwrap();
            assert_eq!(content, "hello\n");
            at
        })
        .max()
        .unwrap();
    assert!(
        last_read < Duration::from_secs(2) && last_read < sleep_done,
        "the last read came after {last_read:?}, the sleep after {sleep_done:?}"
    );
    assert!(sleep_done >= Duration::from_secs(5));
    drop(sandbox);
    assert!(
        guard.containers().is_empty(),
        "dropping the sandbox removes it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_executor_fails_the_calls_in_flight_instead_of_hanging() {
    let guard = WorkflowGuard::new("dead-executor");
    let workspace = tempfile::tempdir().unwrap();
    let (_engine, sandbox) = start(&guard, workspace.path()).await;
    let client = sandbox.client().clone();
    let pending = tokio::spawn(async move {
        client
            .call(RunCommand {
                program: "sleep".into(),
                args: vec!["60".into()],
                ..Default::default()
            })
            .await
    });
    let pid = sandbox.hello().pid.to_string();
    let killed = std::process::Command::new("docker")
        .args(["exec", sandbox.id(), "kill", "-9", &pid])
        .output()
        .unwrap();
    assert!(killed.status.success(), "{killed:?}");
    let answer = tokio::time::timeout(Duration::from_secs(30), pending)
        .await
        .expect("the call in flight ends when the executor dies")
        .unwrap();
    assert!(
        matches!(answer, Err(ClientError::Closed { .. })),
        "{answer:?}"
    );
    drop(sandbox);
    assert!(guard.containers().is_empty());
}
