//! The sandbox's two measures for `scripts/bench`, each against the obvious alternative in the
//! same run, interleaved:
//!
//! 1. sandbox ready — create + attach + start + `hello` (the executor as the container's main
//!    process, what dw does), against the executor started by an exec in an idling container
//!    (create + start + exec + `hello`, the alternative dw measured and did not keep), and
//!    against `docker run --rm IMAGE true`;
//! 2. a `read_file` round trip through the executor, against `docker exec CONTAINER cat FILE`
//!    on the same container.
//!
//! Usage: `cargo run --release -p dw-workflow --example sandbox_bench -- IMAGE DW_AGENT [N]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions};
use dw_protocol::request::ReadFile;
use dw_runtime::endpoint::Endpoint;
use dw_runtime::engine::Engine;
use dw_runtime::kind::RuntimeKind;
use dw_runtime::sandbox::SandboxSpec;
use dw_workflow::{Client, Sandbox, SandboxOptions};
use futures_util::StreamExt;

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

    let (mut attach, mut exec, mut run) = (Vec::new(), Vec::new(), Vec::new());
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
            .args(["run", "--rm", &image, "true"])
            .status()
            .unwrap();
        assert!(status.success());
        run.push(started.elapsed());
    }
    report(
        "sandbox ready (create+attach+start+hello)",
        &mut attach,
        "docker run --rm IMAGE true",
        &mut run,
    );
    report(
        "  alternative: executor by exec (create+start+exec+hello)",
        &mut exec,
        "docker run --rm IMAGE true",
        &mut run,
    );

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
    report(
        "read_file round trip",
        &mut reads,
        "docker exec CONTAINER cat FILE",
        &mut docker_execs,
    );
    let rss = Command::new("docker")
        .args([
            "exec",
            sandbox.id(),
            "sh",
            "-c",
            "grep VmRSS /proc/$(pgrep -x dw-agent)/status",
        ])
        .output()
        .unwrap();
    println!(
        "executor idle: {}",
        String::from_utf8_lossy(&rss.stdout).trim()
    );
    println!(
        "executor binary: {} bytes",
        std::fs::metadata(&executor).unwrap().len()
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

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn report(what: &str, ours: &mut [Duration], against: &str, theirs: &mut [Duration]) {
    let (ours, theirs) = (median(ours), median(theirs));
    println!(
        "{what}: median {:.2} ms vs {against}: {:.2} ms — ratio {:.3}",
        ours.as_secs_f64() * 1e3,
        theirs.as_secs_f64() * 1e3,
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}
