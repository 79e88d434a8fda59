//! The executor at the end of its process budget.
//!
//! In the sandbox, processes and threads are capped together (the pids limit, 512 by default),
//! and one command can spend them all. From then on every `fork` and every new thread fails
//! with `EAGAIN`: the request that needs one is answered `resource_exhausted`, every other
//! request is answered as usual, nothing panics, and once the processes are gone, commands run
//! again.
//!
//! The budget here is `RLIMIT_NPROC` of a user id of the test's own, which makes `fork` and
//! `clone` fail with the same `EAGAIN` as a container's pids cgroup: the executor is started
//! as that user by `prlimit` and `setpriv`. That needs root (the limit does not bind root, and
//! only root can switch users), so the test says so and does nothing elsewhere.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use dw_protocol::request::{Cancel, FindFiles, Grep, Hello, ListDir, ReadFile, RunCommand};
use dw_protocol::{ErrorKind, Outgoing};
use support::{Agent, World};

/// Processes and threads the executor's user may have. The executor needs a dozen threads of
/// its own; the rest goes to the burst.
const LIMIT: u32 = 24;

/// Commands started at once: more than the limit allows.
const BURST: usize = 40;

fn sleep(seconds: u32) -> RunCommand {
    RunCommand {
        program: "sleep".into(),
        args: vec![seconds.to_string()],
        // Bounds what a failing test leaves behind.
        timeout_ms: Some(60_000),
        ..RunCommand::default()
    }
}

fn run_true() -> RunCommand {
    RunCommand {
        program: "true".into(),
        ..RunCommand::default()
    }
}

/// A user id that nothing else on the machine runs as, so that the limit counts only the
/// executor and its commands.
fn unused_uid() -> u32 {
    60_000 + std::process::id() % 5_000
}

/// The executor as an unprivileged user with at most `limit` processes and threads; its
/// stderr goes to `stderr`.
fn start_limited(world: &World, limit: u32, stderr: std::fs::File) -> Agent {
    // The workspace must be reachable for the unprivileged user.
    let temp = world.root().parent().unwrap().to_owned();
    for directory in [&temp, &world.root()] {
        std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let uid = unused_uid().to_string();
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--nproc={limit}"))
        .args([
            "setpriv",
            "--reuid",
            &uid,
            "--regid",
            &uid,
            "--clear-groups",
        ])
        .arg(Agent::binary())
        .stderr(stderr);
    Agent::start_with(command, &world.root())
}

#[test]
fn spent_process_budget_fails_only_the_requests_that_need_a_process() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: only root can run the executor as another user under RLIMIT_NPROC");
        return;
    }
    let world = World::new();
    world.file("root/notes.txt", "still here\n");
    let stderr_path = world.root().parent().unwrap().join("agent.stderr");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let mut agent = start_limited(&world, LIMIT, stderr);
    agent.call(Hello {}).unwrap();

    // Each `sleep` is the executor's own child, so that it is reaped by the executor before
    // its `cancelled` answer: after the last answer the budget is back, without waiting.
    let burst: BTreeSet<u64> = (0..BURST).map(|_| agent.send(sleep(30))).collect();
    let Outgoing::Response(response) = agent.next() else {
        panic!("a command that was never started wrote output");
    };
    let first_refused = response.id.unwrap();
    assert!(burst.contains(&first_refused), "{response:?}");
    let first_failure = response
        .outcome
        .expect_err("a sleep cannot have finished yet");

    // The budget is spent (that fork failed, and the sleeps hold on to theirs). Requests that
    // need no new process or thread are served.
    let read = agent
        .call(ReadFile {
            path: "notes.txt".into(),
            ..ReadFile::default()
        })
        .unwrap();
    assert_eq!(read.content, "still here\n");
    let listed = agent.call(ListDir::default()).unwrap();
    assert_eq!(listed.entries.len(), 1);
    let found = agent
        .call(FindFiles {
            pattern: "*.txt".into(),
            ..FindFiles::default()
        })
        .unwrap();
    assert_eq!(found.paths, ["notes.txt"]);
    let matches = agent
        .call(Grep {
            pattern: "still".into(),
            ..Grep::default()
        })
        .unwrap();
    assert_eq!(matches.matches.len(), 1);

    // A command cannot start, and says why.
    assert_eq!(
        first_failure.kind,
        ErrorKind::ResourceExhausted,
        "{first_failure:?}"
    );
    assert!(
        first_failure.message.contains("`sleep`") && first_failure.message.contains("cancel"),
        "{first_failure:?}"
    );
    let refused = agent.call(run_true()).unwrap_err();
    assert_eq!(refused.kind, ErrorKind::ResourceExhausted, "{refused:?}");

    // Cancel the burst: every one of its requests ends exactly once, either refused or
    // cancelled.
    let cancels: Vec<u64> = burst
        .iter()
        .map(|target| agent.send(Cancel { target: *target }))
        .collect();
    let mut running = 0;
    for target in burst.iter().filter(|target| **target != first_refused) {
        let response = agent.response::<serde_json::Value>(*target);
        let failure = response.outcome.unwrap_err();
        match failure.kind {
            ErrorKind::Cancelled => running += 1,
            ErrorKind::ResourceExhausted => {}
            other => panic!("request {target} ended with {other}: {failure:?}"),
        }
    }
    for cancel in cancels {
        agent.response::<serde_json::Value>(cancel).outcome.unwrap();
    }
    assert!(
        (1..BURST).contains(&running),
        "{running} of {BURST} sleeps ran"
    );

    // The sleeps are reaped, so the budget is back: commands run again.
    let ran = agent.call(run_true()).unwrap();
    assert_eq!(ran.exit_code, Some(0));

    agent.close_stdin();
    agent.drain();
    assert!(agent.wait().success());
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(stderr.is_empty(), "the executor wrote to stderr:\n{stderr}");
}
