//! `dw sandbox`: the agent's sandbox by hand — run one command in it, open a shell in it, or
//! remove the sandboxes that killed dw processes left behind.

use std::io::Write;
use std::time::Instant;

use anyhow::Context as _;
use colored::Colorize;
use dw_runtime::engine::Engine;
use dw_runtime::sandbox::{Network, SandboxSpec};
use dw_workflow::protocol::request::RunCommand;
use dw_workflow::protocol::{Event, Stream};
use dw_workflow::sandbox::WORKFLOW_ID_ENV;
use dw_workflow::{Removed, Sandbox, SandboxOptions};
use serde::Serialize;

use crate::Status;
use crate::cli::{GlobalArgs, SandboxArgs, SandboxCommand, SandboxExecArgs, SandboxShellArgs};
use crate::output::Output;

/// The exit status after Ctrl-C (128 + SIGINT), as shells report it.
const INTERRUPTED: i32 = 130;

pub async fn run(
    args: &SandboxArgs,
    global: &GlobalArgs,
    output: &Output,
) -> anyhow::Result<Status> {
    let engine = super::connect_engine(global).await?;
    let reaped = dw_workflow::reap_orphans(&engine)
        .await
        .context("cannot remove the sandboxes that earlier dw processes left behind")?;
    match &args.command {
        SandboxCommand::Prune => prune(&reaped, output),
        SandboxCommand::Exec(exec_args) => {
            note_reaped(&reaped, output);
            exec(&engine, exec_args, output).await
        }
        SandboxCommand::Shell(shell_args) => {
            note_reaped(&reaped, output);
            shell(&engine, shell_args).await
        }
    }
}

/// `--workspace`, `--image`, `--allow-network` and `DW_WORKFLOW_ID`, as a spec.
fn spec(image: &str, workspace: &std::path::Path, network: Network) -> anyhow::Result<SandboxSpec> {
    let config = dw_workflow::config::Config::load()?;
    let mut options = SandboxOptions::configured(image, workspace, &config);
    options.network = network;
    options.workflow_id = std::env::var(WORKFLOW_ID_ENV)
        .ok()
        .filter(|id| !id.is_empty());
    Ok(options.spec()?)
}

#[derive(Serialize)]
struct ExecReport<'a> {
    exit_code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    output: &'a str,
    truncated: bool,
    container: &'a str,
    workflow_id: &'a str,
    masked: Vec<String>,
    duration_ms: u128,
}

async fn exec(engine: &Engine, args: &SandboxExecArgs, output: &Output) -> anyhow::Result<Status> {
    let network = if args.allow_network {
        Network::Bridge
    } else {
        Network::None
    };
    let spec = spec(&args.image, &args.workspace, network)?;
    let Some((program, program_args)) = args.program_and_args.split_first() else {
        anyhow::bail!("no program given: `dw sandbox exec -- PROGRAM [ARGS]...`");
    };
    let started = Instant::now();
    // Dropping `Sandbox::start` on a signal removes the container it may have made.
    let sandbox = tokio::select! {
        sandbox = Sandbox::start(engine, spec) => sandbox?,
        () = interrupted() => return Ok(exit_status(INTERRUPTED)),
    };
    let request = RunCommand {
        program: program.clone(),
        args: program_args.to_vec(),
        ..Default::default()
    };
    let stream = !output.json();
    let ran = tokio::select! {
        ran = sandbox.client().call_streaming(request, |event| if stream { print_event(&event) }) => Some(ran),
        () = interrupted() => None,
    };
    let container = sandbox.id().to_owned();
    let workflow_id = sandbox.spec().workflow_id.clone();
    let masked = sandbox
        .spec()
        .masks
        .iter()
        .map(|mask| mask.path.to_string_lossy().into_owned())
        .collect();
    sandbox.remove().await.context(
        "the command ran, but its sandbox container could not be removed; `dw sandbox prune` will",
    )?;
    let Some(ran) = ran else {
        return Ok(exit_status(INTERRUPTED));
    };
    let result = ran.with_context(|| format!("`{program}` could not be run in the sandbox"))?;
    let code = match (result.exit_code, result.signal) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    };
    if output.json() {
        output.json_value(&ExecReport {
            exit_code: result.exit_code,
            signal: result.signal,
            timed_out: result.timed_out,
            output: &result.output,
            truncated: result.truncated,
            container: &container,
            workflow_id: &workflow_id,
            masked,
            duration_ms: started.elapsed().as_millis(),
        })?;
    } else if result.truncated {
        eprintln!(
            "{} the output went on beyond the executor's cap; the rest was dropped",
            "note:".yellow().bold()
        );
    }
    Ok(exit_status(code))
}

fn print_event(event: &Event) {
    // A closed pipe (`dw sandbox exec -- … | head`) is not worth failing the command for.
    let _ = match event.event {
        Stream::Stdout => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(event.data.as_bytes())
                .and_then(|()| stdout.flush())
        }
        Stream::Stderr => {
            let mut stderr = std::io::stderr().lock();
            stderr
                .write_all(event.data.as_bytes())
                .and_then(|()| stderr.flush())
        }
    };
}

/// Opens an interactive `bash` in the sandbox with the Docker CLI (`docker exec -it`), which
/// already does what an interactive terminal needs — raw mode, window resizes, detach keys —
/// and is present wherever a user has a Docker engine. The executor stays attached meanwhile;
/// the container is removed when the shell ends.
async fn shell(engine: &Engine, args: &SandboxShellArgs) -> anyhow::Result<Status> {
    let spec = spec(&args.image, &args.workspace, Network::None)?;
    let sandbox = tokio::select! {
        sandbox = Sandbox::start(engine, spec) => sandbox?,
        () = interrupted() => return Ok(exit_status(INTERRUPTED)),
    };
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let mut command = std::process::Command::new("docker");
    command
        .env("DOCKER_HOST", engine.endpoint().to_string())
        .env_remove("DOCKER_CONTEXT")
        .arg("exec")
        .arg(if interactive { "-it" } else { "-i" })
        .arg(sandbox.id())
        .arg("bash");
    let shell = tokio::task::spawn_blocking(move || command.status());
    // Ctrl-C belongs to the shell (the terminal delivers it to dw too): dw keeps waiting.
    let mut shell = std::pin::pin!(shell);
    let status = loop {
        tokio::select! {
            status = &mut shell => break status,
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    sandbox.remove().await.context(
        "the shell ended, but its sandbox container could not be removed; `dw sandbox prune` will",
    )?;
    let status = status
        .context("the shell's process could not be waited for")?
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => anyhow::anyhow!(
                "`dw sandbox shell` needs the Docker CLI (`docker`) on PATH for the interactive \
                 terminal; install it (`dw setup` does), or run single commands with \
                 `dw sandbox exec -- …`"
            ),
            _ => anyhow::Error::new(error).context("cannot run `docker exec` for the shell"),
        })?;
    Ok(exit_status(status.code().unwrap_or(1)))
}

#[derive(Serialize)]
struct PruneReport<'a> {
    removed: &'a [Removed],
}

fn prune(reaped: &[Removed], output: &Output) -> anyhow::Result<Status> {
    if output.json() {
        output.json_value(&PruneReport { removed: reaped })?;
        return Ok(Status::Success);
    }
    if reaped.is_empty() {
        output.text("No orphaned sandbox containers.");
        return Ok(Status::Success);
    }
    let mut lines = vec![format!(
        "Removed {} orphaned sandbox container{}:",
        reaped.len(),
        if reaped.len() == 1 { "" } else { "s" }
    )];
    lines.extend(reaped.iter().map(|removed| {
        format!(
            " {} {} {}",
            "✓".green(),
            removed.name.bold(),
            format!(
                "({}, {}, owner {} is gone)",
                short(&removed.id),
                removed.state,
                removed.owner
            )
            .dimmed()
        )
    }));
    output.text(&lines.join("\n"));
    Ok(Status::Success)
}

/// Tells the user on stderr (stdout is the command's) what the reaper removed.
fn note_reaped(reaped: &[Removed], output: &Output) {
    if output.json() || reaped.is_empty() {
        return;
    }
    let names: Vec<&str> = reaped.iter().map(|removed| removed.name.as_str()).collect();
    eprintln!(
        "{} removed orphaned sandbox containers: {}",
        "note:".yellow().bold(),
        names.join(", ")
    );
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// Resolves on Ctrl-C, SIGTERM or SIGHUP — the ways a user or a terminal ends dw short of
/// SIGKILL — so that the sandbox is removed before dw exits.
async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = received(signal(SignalKind::terminate()).ok()) => {}
        () = received(signal(SignalKind::hangup()).ok()) => {}
    }
}

/// Resolves when `stream` delivers its signal; never, when it could not be set up.
async fn received(stream: Option<tokio::signal::unix::Signal>) {
    match stream {
        Some(mut stream) => {
            stream.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// The command's own exit status, passed through as shells do: 0–255 as is, anything else
/// (which no process can exit with) modulo 256.
fn exit_status(code: i32) -> Status {
    Status::Code(u8::try_from(code.rem_euclid(256)).unwrap_or(u8::MAX))
}
