//! The command line: every flag defined once, with the help text users read.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Run an AI coding agent in a hardened container on your workstation.
///
/// dw prepares the workstation (`dw setup`), checks it against the documented risks of running an
/// agent in a container (`dw doctor`), and runs the agent itself in a sandbox that sees only your
/// project (`dw run`).
#[derive(Debug, Parser)]
#[command(name = "dw", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// When to colour the output. `auto` colours a terminal unless NO_COLOR is set.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Say more about what dw is doing (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// The engine to use, like DOCKER_HOST: `unix:///path/to/docker.sock`, `tcp://host:port`,
    /// or an absolute socket path. Takes precedence over DOCKER_HOST and Docker contexts.
    #[arg(long, global = true, value_name = "URL")]
    pub host: Option<String>,
}

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is not set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up this workstation once: container runtime, base image, VS Code setting.
    ///
    /// Steps, in order: install (Colima and the Docker CLI, when no VM-backed runtime is
    /// reachable), start (the Colima VM, with limits), pull (the workflow base image), settings
    /// (`gitlab.duoWorkflow.dockerSocket` in every VS Code flavour's settings, comments kept).
    /// A second run changes nothing. Exit status 1 when a step failed.
    Setup(SetupArgs),
    /// Check this workstation against every documented risk, with evidence and a fix.
    ///
    /// Each check says pass, warn, fail or skip, with the evidence it found and, for anything
    /// not passing, the fix. Exit status 1 when any check fails, else 0.
    Doctor(DoctorArgs),
    /// Run the agent on a goal: plan, approve, execute in a sandbox.
    Run(PendingArgs),
    /// List, inspect, follow, resume and stop workflows.
    Workflows(PendingArgs),
    /// Use the agent's sandbox by hand, and clean up after it.
    ///
    /// The sandbox is the container the agent's executor runs in: only the project is mounted
    /// (at /workspace), credential-looking files are masked, no capabilities, no network, a
    /// read-only root filesystem, and limits on processes, memory and CPU.
    Sandbox(SandboxArgs),
    /// List the container engines on this machine and the one dw uses.
    ///
    /// Candidates are listed in precedence order: --host, DOCKER_HOST, the current Docker CLI
    /// context, then the known runtimes' default sockets (Colima profiles, Rancher Desktop, Docker
    /// Desktop, OrbStack, Podman, Lima, rootless Docker, the system engine). dw uses the first
    /// one that answers. Exit status 0 when one answers, 1 when none does.
    Runtimes(RuntimesArgs),
}

/// Arguments of a command that a later release implements; accepted so that the command says
/// so instead of failing on its flags.
#[derive(Debug, Args)]
pub struct PendingArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RuntimesArgs {}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The project the agent would work on.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub workspace: std::path::PathBuf,

    /// The workflow base image to check for (and to start probe containers from).
    #[arg(long, value_name = "REF", default_value = dw_runtime::image::DEFAULT_IMAGE)]
    pub image: String,

    /// Do not start probe containers; checks that need one are skipped.
    #[arg(long)]
    pub no_probe: bool,

    /// An address the network probe tries to reach instead of this host's own addresses and
    /// the VM's host aliases (repeatable).
    #[arg(long = "probe-address", value_name = "ADDR")]
    pub probe_addresses: Vec<String>,

    /// Run only this check (repeatable); `dw doctor --check list` prints the ids.
    #[arg(long = "check", value_name = "ID")]
    pub checks: Vec<String>,
}

/// The container runtime `dw setup` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SetupRuntime {
    /// Adopt a reachable VM-backed runtime, else install and start Colima.
    Auto,
    /// Colima, installed and started when needed.
    Colima,
    /// Docker Desktop, which must already be running.
    DockerDesktop,
    /// Rancher Desktop, which must already be running.
    RancherDesktop,
    /// OrbStack, which must already be running.
    Orbstack,
    /// A Podman machine, which must already be running.
    Podman,
    /// Whatever engine answers first, even one running directly on this host (not recommended).
    Existing,
}

/// The steps of `dw setup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SetupStep {
    /// Install Colima and the Docker CLI where missing.
    Install,
    /// Start the Colima VM.
    Start,
    /// Pull the workflow base image.
    Pull,
    /// Write the socket path into VS Code's settings.
    Settings,
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Which container runtime to use.
    #[arg(long, value_enum, default_value_t = SetupRuntime::Auto, value_name = "RUNTIME")]
    pub runtime: SetupRuntime,

    /// Adopt the engine at this socket as it is (skips install and start).
    #[arg(long, value_name = "PATH")]
    pub socket: Option<std::path::PathBuf>,

    /// The workflow base image to pull.
    #[arg(long, value_name = "REF", default_value = dw_runtime::image::DEFAULT_IMAGE)]
    pub image: String,

    /// Write this settings file instead of every VS Code flavour's (repeatable).
    #[arg(long = "settings-file", value_name = "PATH")]
    pub settings_files: Vec<std::path::PathBuf>,

    /// Run only this step (repeatable).
    #[arg(long = "only", value_enum, value_name = "STEP")]
    pub only: Vec<SetupStep>,

    /// Skip this step (repeatable).
    #[arg(long = "skip", value_enum, value_name = "STEP")]
    pub skip: Vec<SetupStep>,

    /// CPUs for the Colima VM (default: half of this machine's, at least 2).
    #[arg(long, value_name = "N")]
    pub cpus: Option<u32>,

    /// Memory for the Colima VM in GiB (default: a quarter of this machine's, 2 to 8).
    #[arg(long, value_name = "GIB")]
    pub memory: Option<u32>,

    /// Disk for the Colima VM in GiB (default 60).
    #[arg(long, value_name = "GIB")]
    pub disk: Option<u32>,

    /// Share only this directory with the Colima VM (repeatable; `DIR:w` for writable).
    #[arg(long = "mount", value_name = "DIR")]
    pub mounts: Vec<String>,

    /// Show exactly what would be done (commands, image, settings diffs) and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Do not ask before installing.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub command: SandboxCommand,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Run one command in a fresh sandbox, exactly as the agent would, then remove it.
    ///
    /// The exit status is the command's.
    Exec(SandboxExecArgs),
    /// An interactive shell in a fresh sandbox: see what the agent sees.
    Shell(SandboxShellArgs),
    /// Remove sandbox containers whose dw process is gone, and say which.
    Prune,
}

#[derive(Debug, Args)]
pub struct SandboxExecArgs {
    /// The project to mount at /workspace.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub workspace: std::path::PathBuf,

    /// The image to start the sandbox from.
    #[arg(long, value_name = "REF", default_value = dw_runtime::image::DEFAULT_IMAGE)]
    pub image: String,

    /// Give the sandbox a network (the engine's default bridge) instead of none.
    #[arg(long)]
    pub allow_network: bool,

    /// The program to run and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "PROGRAM")]
    pub program_and_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SandboxShellArgs {
    /// The project to mount at /workspace.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub workspace: std::path::PathBuf,

    /// The image to start the sandbox from.
    #[arg(long, value_name = "REF", default_value = dw_runtime::image::DEFAULT_IMAGE)]
    pub image: String,
}
