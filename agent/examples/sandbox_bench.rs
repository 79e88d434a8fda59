//! The sandbox's measures for `scripts/bench`, each against the obvious alternative in the same
//! run, interleaved (ours, theirs, ours, theirs …):
//!
//! 1. sandbox ready — create + attach + start + `hello` (the executor as the container's main
//!    process, what dw does), against `docker run --rm IMAGE true`; and the executor started by
//!    an exec in an idling container (create + start + exec + `hello`, the alternative dw
//!    measured and did not keep), against the same; and dw's again against
//!    `docker run --rm --network none IMAGE true`, which like the sandbox skips the network;
//! 2. a `read_file` round trip through the executor, against `docker exec CONTAINER cat FILE`
//!    on the same container;
//! 3. a `run_command true` round trip, against `docker exec CONTAINER true`;
//! 4. the executor's resident memory once it has served all that and sits idle.
//!
//! Prints one JSON object per line: `{"id", "ours_ms": [...], "theirs_ms": [...]}` for each
//! comparison, `{"id": "executor_idle_rss", "bytes": N}` for the memory; scripts/bench turns
//! them into the table.
//!
//! Usage: `cargo run --release -p dw-workflow --example sandbox_bench -- IMAGE DW_AGENT [N]
//! [NETWORK]` (N rounds for the sandbox, 5×N for the round trips, default 10; `docker run` on
//! the bridge network NETWORK instead of the engine's default one).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions};
use dw_protocol::request::{ReadFile, RunCommand};
use dw_runtime::endpoint::Endpoint;
use dw_runtime::engine::Engine;
use dw_runtime::kind::RuntimeKind;
use dw_runtime::sandbox::SandboxSpec;
use dw_workflow::{Client, Sandbox, SandboxOptions};
use futures_util::StreamExt;
use serde_json::json;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let image = args
        .next()
        .expect("usage: sandbox_bench IMAGE DW_AGENT [N]");
    let executor = PathBuf::from(
        args.next()
            .expect("usage: sandbox_bench IMAGE DW_AGENT [N]"),
    );
    let rounds: usize = args
        .next()
        .map_or(10, |n| n.parse().expect("N is a number"));
    let network = args.next().unwrap_or_else(|| "bridge".to_owned());
    let engine = Engine::connect(
        &Endpoint::Unix("/var/run/docker.sock".into()),
        RuntimeKind::Custom,
        Duration::from_secs(60),
    )
    .await
    .expect("the engine at /var/run/docker.sock answers");
    let workspace = tempfile::tempdir().unwrap();
    std::fs::write(workspace.path().join("small.txt"), "a small file\n").unwrap();
    let spec = |round: usize, kind: &str| {
        let mut options = SandboxOptions::new(&image, workspace.path());
        options.executor = Some(executor.clone());
        options.workflow_id = Some(format!("bench-{kind}-{}-{round}", std::process::id()));
        options.spec().unwrap()
    };

    let (mut attach, mut exec, mut run, mut run_offline) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let started = Instant::now();
        let sandbox = Sandbox::start(&engine, spec(round, "attach"))
            .await
            .unwrap();
        attach.push(started.elapsed());
        sandbox.remove().await.unwrap();

        let started = Instant::now();
        let id = start_by_exec(&engine, &spec(round, "exec")).await;
        exec.push(started.elapsed());
        remove(&engine, &id).await;

        let started = Instant::now();
        let status = Command::new("docker")
            .args(["run", "--rm", "--network", &network, &image, "true"])
            .status()
            .unwrap();
        assert!(status.success());
        run.push(started.elapsed());

        let started = Instant::now();
        let status = Command::new("docker")
            .args(["run", "--rm", "--network", "none", &image, "true"])
            .status()
            .unwrap();
        assert!(status.success());
        run_offline.push(started.elapsed());
    }
    report("sandbox_ready", &attach, &run);
    report("sandbox_ready_no_network", &attach, &run_offline);
    report("sandbox_ready_by_exec", &exec, &run);

    let sandbox = Sandbox::start(&engine, spec(0, "read")).await.unwrap();
    let (mut reads, mut docker_execs) = (Vec::new(), Vec::new());
    for _ in 0..rounds.max(10) * 5 {
        let started = Instant::now();
        let read = sandbox
            .client()
            .call(ReadFile {
                path: "small.txt".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        reads.push(started.elapsed());
        assert_eq!(read.content, "a small file\n");

        let started = Instant::now();
        let output = Command::new("docker")
            .args(["exec", sandbox.id(), "cat", "/workspace/small.txt"])
            .output()
            .unwrap();
        docker_execs.push(started.elapsed());
        assert_eq!(output.stdout, b"a small file\n");
    }
    report("read_file", &reads, &docker_execs);

    let (mut runs, mut docker_trues) = (Vec::new(), Vec::new());
    for _ in 0..rounds.max(10) * 5 {
        let started = Instant::now();
        let ran = sandbox
            .client()
            .call(RunCommand {
                program: "true".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        runs.push(started.elapsed());
        assert_eq!(ran.exit_code, Some(0));

        let started = Instant::now();
        let status = Command::new("docker")
            .args(["exec", sandbox.id(), "true"])
            .status()
            .unwrap();
        docker_trues.push(started.elapsed());
        assert!(status.success());
    }
    report("run_command_true", &runs, &docker_trues);

    // What the kernel counts for the executor now that it idles: the VmRSS of the pid it
    // reported in `hello` (its pid inside the container).
    let pid = sandbox.hello().pid;
    let status = Command::new("docker")
        .args(["exec", sandbox.id(), "cat", &format!("/proc/{pid}/status")])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("the executor's /proc status has VmRSS");
    println!(
        "{}",
        json!({"id": "executor_idle_rss", "bytes": kib * 1024})
    );
    sandbox.remove().await.unwrap();
}

/// The alternative launch: an idling main process, the executor started by an exec.
async fn start_by_exec(engine: &Engine, spec: &SandboxSpec) -> String {
    let docker = engine.docker();
    let mut config = spec.container_config();
    config.entrypoint = Some(vec!["sleep".into(), "infinity".into()]);
    config.open_stdin = Some(false);
    config.stdin_once = Some(false);
    let created = docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(spec.container_name()),
                ..Default::default()
            }),
            config,
        )
        .await
        .unwrap();
    docker.start_container(&created.id, None).await.unwrap();
    let exec = docker
        .create_exec(
            &created.id,
            CreateExecOptions {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(spec.command()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let StartExecResults::Attached { output, input } =
        docker.start_exec(&exec.id, None).await.unwrap()
    else {
        panic!("the exec was not attached");
    };
    let mut buffer = Vec::new();
    let lines = output
        .map(move |chunk| {
            buffer.extend_from_slice(&chunk.unwrap().into_bytes());
            let mut lines = Vec::new();
            while let Some(end) = buffer.iter().position(|byte| *byte == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                lines.push(Ok::<_, std::io::Error>(
                    String::from_utf8_lossy(&line[..end]).into_owned(),
                ));
            }
            futures_util::stream::iter(lines)
        })
        .flatten();
    let client = Client::new(lines, input);
    client.hello().await.unwrap();
    created.id
}

async fn remove(engine: &Engine, id: &str) {
    engine
        .docker()
        .remove_container(
            id,
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                link: false,
            }),
        )
        .await
        .unwrap();
}

/// One comparison as a JSON line, in milliseconds.
fn report(id: &str, ours: &[Duration], theirs: &[Duration]) {
    let millis = |samples: &[Duration]| -> Vec<f64> {
        samples.iter().map(|d| d.as_secs_f64() * 1e3).collect()
    };
    println!(
        "{}",
        json!({"id": id, "ours_ms": millis(ours), "theirs_ms": millis(theirs)})
    );
}
