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
    ///
    /// dw starts a sandbox on the project, asks the model for a plan and shows it for approval
    /// (approve, adjust with your own words, or cancel; --yes approves). The model then works
    /// through the plan with tools that run in the sandbox. Ctrl-C pauses after the current
    /// action (then resume, adjust or stop); a second Ctrl-C stops. Everything is recorded under
    /// the workflow's state directory, so `dw workflows resume ID` goes on after a pause, a
    /// failure or a crash.
    ///
    /// Keys come from the environment and never reach the sandbox, the logs or the model:
    /// ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL), OPENAI_API_KEY and OPENAI_BASE_URL for
    /// OpenAI-compatible servers (llama.cpp, vLLM, Ollama), GITLAB_TOKEN (read_api) for the
    /// read-only GitLab tools. A goal that contains a secret is refused.
    ///
    /// With --duo, GitLab's own Duo Workflow plans and decides instead (the workflow shows in
    /// GitLab), and dw executes its actions on the same sandbox: files, commands and git in the
    /// sandbox; GitLab API requests on the host, GET only unless --allow-gitlab-writes. It needs
    /// GITLAB_TOKEN (a personal access token with the `api` scope) and the project (from the
    /// git remote `origin`, or --gitlab-url and --gitlab-project).
    ///
    /// Exit status: 0 finished, 1 failed, stopped or left waiting, 2 usage or environment error.
    Run(RunArgs),
    /// List, inspect, follow, resume and stop workflows.
    #[command(subcommand)]
    Workflows(WorkflowsCommand),
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

/// How `dw run --duo` reaches the Duo Workflow Service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// A WebSocket to the GitLab instance, which relays to the service.
    Websocket,
    /// gRPC straight to the service, with credentials from GitLab's direct_access API.
    Grpc,
}

impl Transport {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Websocket => "websocket",
            Transport::Grpc => "grpc",
        }
    }
}

/// The model providers `dw run` can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderChoice {
    /// Anthropic's Messages API (ANTHROPIC_API_KEY; ANTHROPIC_BASE_URL).
    Anthropic,
    /// An OpenAI-compatible Chat Completions endpoint (OPENAI_BASE_URL; OPENAI_API_KEY if needed).
    Openai,
    /// Replays the assistant turns of --script FILE (tests and demos).
    Script,
}

impl ProviderChoice {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderChoice::Anthropic => "anthropic",
            ProviderChoice::Openai => "openai",
            ProviderChoice::Script => "script",
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// What the agent should do. Read from stdin when it is `-`, or absent and stdin is not a
    /// terminal. Never put secrets in a goal: it is refused.
    #[arg(value_name = "GOAL")]
    pub goal: Option<String>,

    /// The project the agent works on (mounted at /workspace in the sandbox).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub workspace: std::path::PathBuf,

    /// The model provider (default: script when --script is given, else anthropic).
    #[arg(long, value_enum, value_name = "PROVIDER")]
    pub provider: Option<ProviderChoice>,

    /// The model (default: claude-sonnet-4-5 for anthropic, gpt-4.1 for openai).
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,

    /// The JSON-lines file the script provider replays, one assistant turn per line:
    /// {"text": "…", "tool_calls": [{"name": "read_file", "input": {"path": "README.md"}}]}.
    #[arg(long, value_name = "FILE")]
    pub script: Option<std::path::PathBuf>,

    /// The sandbox image.
    #[arg(long, value_name = "REF", default_value = dw_runtime::image::DEFAULT_IMAGE)]
    pub image: String,

    /// The merge request the goal is about (its IID); enables the GitLab tools.
    #[arg(long, value_name = "IID")]
    pub mr: Option<u64>,

    /// The GitLab project (numeric id or full path; default: from the git remote `origin`).
    #[arg(long, value_name = "ID|PATH")]
    pub gitlab_project: Option<String>,

    /// The GitLab instance (default: GITLAB_URL, else from the git remote `origin`).
    #[arg(long, value_name = "URL", env = "GITLAB_URL")]
    pub gitlab_url: Option<String>,

    /// At most this many model turns (then the workflow fails; resume allows as many again).
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_steps: u32,

    /// Give the sandbox a network (default: none).
    #[arg(long)]
    pub allow_network: bool,

    /// Approve the plan without asking (with --duo also tool calls that do not write to
    /// GitLab; those that do, only with --allow-gitlab-writes).
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Run GitLab's Duo Workflow on dw's sandbox instead of dw's own agent.
    #[arg(long)]
    pub duo: bool,

    /// How --duo reaches the Duo Workflow Service.
    #[arg(long, value_enum, value_name = "TRANSPORT", default_value_t = Transport::Websocket, requires = "duo")]
    pub transport: Transport,

    /// Let --duo's agent make GitLab API requests other than GET (create notes, merge
    /// requests …); without it they are refused.
    #[arg(long, requires = "duo")]
    pub allow_gitlab_writes: bool,
}

#[derive(Debug, Subcommand)]
pub enum WorkflowsCommand {
    /// List the workflows, oldest first.
    List,
    /// Show a workflow: its goal, status, plan and outcome.
    Show {
        /// The workflow's id (`dw workflows list` shows them).
        id: String,
    },
    /// Print a workflow's audit log: every executor action and HTTP request made for it.
    Logs {
        /// The workflow's id.
        id: String,
        /// Keep printing new lines while a dw process works on the workflow.
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// Go on with a paused, waiting, failed or interrupted workflow (a new sandbox on the same
    /// project; keys are read from the environment again).
    Resume(ResumeArgs),
    /// Stop a workflow: a running one after its current action, a waiting one at once.
    Stop {
        /// The workflow's id.
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The workflow's id.
    pub id: String,

    /// The answer to the agent's question, when it waits for one; else a message that adjusts
    /// the work.
    #[arg(long, short = 'm', value_name = "TEXT")]
    pub message: Option<String>,

    /// Approve the plan without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// At most this many model turns in this resumed run (default: the workflow's setting).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_steps: Option<u32>,
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
    /// the VM's host aliases (repeatable). An IP address must be one of this host's (doctor
    /// listens there and the probe connects only to doctor's own listeners); a name is resolved
    /// inside the probe container and tried at the port of doctor's listeners.
    #[arg(long = "probe-address", value_name = "ADDR")]
    pub probe_addresses: Vec<String>,

    /// Run the default-networking probe on this Docker network instead of the engine's default
    /// bridge.
    #[arg(long = "probe-network", value_name = "NAME")]
    pub probe_network: Option<String>,

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
