//! A real sandbox whose pids limit is spent: the requests that need a new process are refused
//! with `resource_exhausted`, everything else is served, and once the processes are gone,
//! commands run again. The limit spent by the processes of one shell is in `sandbox.rs`; the
//! executor-level version, with every op and `cancel`, in `agent/executor/tests/exhaustion.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use dw_protocol::request::{ListDir, ReadFile, RunCommand};
use dw_runtime::endpoint::Endpoint;
use dw_runtime::engine::Engine;
use dw_runtime::kind::RuntimeKind;
use dw_runtime::sandbox::Limits;
use dw_test_support::agent::{WorkflowGuard, dw_agent_binary};
use dw_workflow::protocol::ErrorKind;
use dw_workflow::{ClientError, Sandbox, SandboxOptions};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_pids_limit_refuses_new_commands_and_the_executor_serves_on() {
    let guard = WorkflowGuard::new("pids-spent");
    let workspace = tempfile::tempdir().unwrap();
    std::fs::write(workspace.path().join("notes.txt"), "still here\n").unwrap();
    let engine = Engine::connect(
        &Endpoint::Unix(dw_test_support::REAL_ENGINE_SOCKET.into()),
        RuntimeKind::Custom,
        Duration::from_secs(30),
    )
    .await
    .expect("the real engine answers");
    let mut options = SandboxOptions::new(dw_test_support::test_image(), workspace.path());
    options.workflow_id = Some(guard.id().to_owned());
    options.executor = Some(dw_agent_binary());
    // Beside the init and the executor's dozen threads, about twenty sleeps fit.
    options.limits = Limits {
        pids: 32,
        ..Limits::default()
    };
    let sandbox = Sandbox::start(&engine, options.spec().unwrap())
        .await
        .unwrap();
    let client = sandbox.client().clone();

    // Forty sleeps at once, each the executor's own child: the first answer to come is a
    // refusal (no sleep ends that soon), and each sleep is reaped before its own answer.
    let mut burst: FuturesUnordered<_> = (0..40)
        .map(|_| {
            client.call(RunCommand {
                program: "sleep".into(),
                args: vec!["10".into()],
                ..Default::default()
            })
        })
        .collect();
    let first = burst.next().await.unwrap();
    let Err(ClientError::Failed { failure, .. }) = first else {
        panic!("the first answer of the burst is not a refusal: {first:?}");
    };
    assert_eq!(failure.kind, ErrorKind::ResourceExhausted, "{failure:?}");
    assert!(failure.message.contains("pids limit"), "{failure:?}");

    // Now the sandbox has no process to spare: reads are served, commands are refused.
    let read = client
        .call(ReadFile {
            path: "notes.txt".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(read.content, "still here\n");
    let listed = client.call(ListDir::default()).await.unwrap();
    assert_eq!(listed.entries.len(), 1);
    let refused = client
        .call(RunCommand {
            program: "true".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let ClientError::Failed { failure, .. } = refused else {
        panic!("the executor did not answer: {refused}");
    };
    assert_eq!(failure.kind, ErrorKind::ResourceExhausted, "{failure:?}");

    let (mut slept, mut refused) = (0, 1);
    while let Some(answer) = burst.next().await {
        match answer {
            Ok(result) if result.exit_code == Some(0) => slept += 1,
            Err(ClientError::Failed { failure, .. })
                if failure.kind == ErrorKind::ResourceExhausted =>
            {
                refused += 1;
            }
            other => panic!("a sleep of the burst ended with {other:?}"),
        }
    }
    assert!(slept > 0 && refused > 0, "{slept} slept, {refused} refused");

    // The sleeps are reaped: the executor runs commands again.
    let ran = client
        .call(RunCommand {
            program: "true".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ran.exit_code, Some(0));
    sandbox.remove().await.unwrap();
    assert!(guard.containers().is_empty());
}
