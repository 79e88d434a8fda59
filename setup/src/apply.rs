//! Running a [`Plan`] (or previewing it under `--dry-run`), step by step, into a [`Report`].

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use dw_runtime::atomic::WriteOutcome;
use dw_runtime::endpoint::Endpoint;
use dw_runtime::engine::{Engine, default_deadline};
use dw_runtime::kind::RuntimeKind;
use dw_runtime::vscode::DOCKER_SOCKET_SETTING;
use serde::Serialize;

use crate::plan::{Action, ChosenRuntime, Plan, Step};
use crate::pull::{self, PullEvent};
use crate::settings::SettingsTarget;
use crate::step::StepId;

/// How often `start` asks the engine whether it answers yet.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Receives progress while a plan runs, to show it (spinners, progress bars, quiet lines). Every
/// method has a default that ignores the event.
pub trait Observer {
    /// A step begins; `summary` says what it does.
    fn step_started(&mut self, _step: StepId, _summary: &str) {}
    /// A wait begins; `what` names what is awaited.
    fn waiting(&mut self, _what: &str) {}
    /// The wait ended (either way).
    fn waited(&mut self) {}
    /// A pull progress message.
    fn pull_event(&mut self, _event: &PullEvent) {}
    /// The pull's stream ended.
    fn pull_finished(&mut self) {}
}

/// An observer that shows nothing.
#[derive(Debug, Default)]
pub struct Silent;

impl Observer for Silent {}

/// A step's result. The strings are a stable interface (`--json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// The step changed something, successfully.
    Done,
    /// Nothing needed doing.
    Already,
    /// Not run: not selected, not needed, or an earlier step failed.
    Skipped,
    /// `--dry-run`: what the step would do.
    Planned,
    /// The step failed; `error` says why.
    Failed,
}

impl StepStatus {
    /// The stable id.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Already => "already",
            Self::Skipped => "skipped",
            Self::Planned => "planned",
            Self::Failed => "failed",
        }
    }
}

/// A settings file a step edits (or would edit), with the unified diff of the edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// The unified diff; empty when the file does not change (or could not be edited).
    pub diff: String,
}

/// What one step did (or would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepOutcome {
    /// Which step.
    pub id: StepId,
    /// How it ended.
    pub status: StepStatus,
    /// One line: what it did, or would do, or why not.
    pub summary: String,
    /// The commands it ran (or would run), as argv vectors.
    pub commands: Vec<Vec<String>>,
    /// The settings files it wrote (or would write).
    pub files: Vec<FileReport>,
    /// Why it failed.
    pub error: Option<String>,
}

/// The runtime in a [`Report`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimeReport {
    /// The kind's stable id (`colima`, `rancher-desktop`, …).
    pub kind: RuntimeKind,
    /// The socket path (or TCP address) of its engine.
    pub socket: String,
}

/// The result of a run or a dry run: the `--json` document, plus notes for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The runtime setup used.
    pub runtime: RuntimeReport,
    /// Every step, in order.
    pub steps: Vec<StepOutcome>,
    /// Things the user should know about the runtime choice.
    #[serde(skip)]
    pub notes: Vec<String>,
}

impl Report {
    /// Whether no step failed.
    pub fn succeeded(&self) -> bool {
        self.steps
            .iter()
            .all(|step| step.status != StepStatus::Failed)
    }
}

/// Why a step failed while applying.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// A program is not on PATH.
    #[error("`{program}` is not installed (not found on PATH); {hint}")]
    Missing {
        /// The program.
        program: String,
        /// What to do.
        hint: &'static str,
    },
    /// A program could not be started.
    #[error("could not run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A program failed.
    #[error(
        "`{command}` failed ({status}); its output is above. Fix what it says and run `dw setup` again"
    )]
    Failed {
        /// The command line.
        command: String,
        /// How it ended.
        status: std::process::ExitStatus,
    },
    /// The engine did not answer in time after starting.
    #[error(
        "waited {}s for the {} engine to answer at {endpoint}, and it did not ({last}). Check \
         `colima status` and `colima start`'s output above, then run `dw setup` again",
        waited.as_secs(),
        kind.display_name()
    )]
    EngineTimeout {
        /// The runtime.
        kind: RuntimeKind,
        /// Where it should answer.
        endpoint: Endpoint,
        /// How long dw waited.
        waited: Duration,
        /// The last connection error.
        last: String,
    },
    /// Pulling failed.
    #[error(transparent)]
    Pull(#[from] pull::PullError),
}

/// The dry run: every selected step as `planned`, with the commands and diffs it would run and
/// write. Touches nothing.
pub fn preview(plan: &Plan) -> Report {
    let steps = plan
        .steps
        .iter()
        .map(|step| {
            let mut outcome = describe(step, &plan.runtime);
            if outcome.status != StepStatus::Skipped {
                outcome.status = StepStatus::Planned;
            }
            outcome
        })
        .collect();
    report(plan, steps)
}

fn report(plan: &Plan, steps: Vec<StepOutcome>) -> Report {
    Report {
        runtime: RuntimeReport {
            kind: plan.runtime.kind,
            socket: plan.runtime.address(),
        },
        steps,
        notes: plan.notes.clone(),
    }
}

/// What a step will do, as an outcome with the status it has if nothing runs.
fn describe(step: &Step, runtime: &ChosenRuntime) -> StepOutcome {
    let outcome = |status, summary: String| StepOutcome {
        id: step.id,
        status,
        summary,
        commands: Vec::new(),
        files: Vec::new(),
        error: None,
    };
    match &step.action {
        Action::Skip { reason } => outcome(StepStatus::Skipped, reason.clone()),
        Action::Already { summary } => outcome(StepStatus::Already, summary.clone()),
        Action::Impossible { reason } => StepOutcome {
            error: Some(reason.clone()),
            ..outcome(
                StepStatus::Failed,
                "cannot be done with this runtime".to_owned(),
            )
        },
        Action::Install { missing, command } => StepOutcome {
            commands: vec![command.clone()],
            ..outcome(
                StepStatus::Planned,
                format!("install {} with Homebrew", program_list(missing)),
            )
        },
        Action::InstallByHand { missing, commands } => StepOutcome {
            error: Some(format!(
                "Homebrew is not installed; install {} with:\n{}",
                program_list(missing),
                commands.join("\n")
            )),
            ..outcome(
                StepStatus::Failed,
                format!("{} missing, and Homebrew too", program_list(missing)),
            )
        },
        Action::Start { command, limits } => StepOutcome {
            commands: vec![command.clone()],
            ..outcome(
                StepStatus::Planned,
                format!(
                    "start Colima with {} CPUs, {} GiB memory, {} GiB disk, then wait for its \
                     engine at {}",
                    limits.cpus,
                    limits.memory_gib,
                    limits.disk_gib,
                    runtime.address()
                ),
            )
        },
        Action::Pull { image } => outcome(StepStatus::Planned, format!("pull {image}")),
        Action::Settings {
            targets,
            created_because_none,
        } => {
            let changing = targets
                .iter()
                .filter(|target| matches!(&target.edit, Ok(edit) if edit.changed))
                .count();
            let failing: Vec<String> = targets
                .iter()
                .filter_map(|target| target.edit.as_ref().err().map(ToString::to_string))
                .collect();
            let mut summary = format!(
                "set {DOCKER_SOCKET_SETTING} to {} in {} of {} settings file{}",
                runtime.address(),
                changing,
                targets.len(),
                plural(targets.len())
            );
            if *created_because_none {
                summary.push_str(" (no VS Code settings exist: Code's is created)");
            }
            let status = if !failing.is_empty() {
                StepStatus::Failed
            } else if changing == 0 {
                StepStatus::Already
            } else {
                StepStatus::Planned
            };
            if status == StepStatus::Already {
                summary = format!(
                    "{DOCKER_SOCKET_SETTING} is already {} in {} settings file{}",
                    runtime.address(),
                    targets.len(),
                    plural(targets.len())
                );
            }
            StepOutcome {
                // A file that cannot be edited is in `error`, not among the files written.
                files: targets
                    .iter()
                    .filter(|target| target.edit.is_ok())
                    .map(file_report)
                    .collect(),
                error: (!failing.is_empty()).then(|| failing.join("\n")),
                ..outcome(status, summary)
            }
        }
    }
}

fn file_report(target: &SettingsTarget) -> FileReport {
    FileReport {
        path: target.path.clone(),
        diff: target.diff(),
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn program_list(tools: &[crate::install::Tool]) -> String {
    tools
        .iter()
        .map(|tool| tool.program)
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Runs the plan, step by step. A failed `install` or `start` stops the steps that need the
/// runtime (they are reported skipped); a failed `pull` leaves `settings` to run; a settings
/// file that cannot be edited fails the step while the other files are still written.
pub async fn apply(plan: &Plan, observer: &mut dyn Observer) -> Report {
    let mut engine = plan.runtime.engine.clone();
    let mut blocked: Option<StepId> = None;
    let mut steps = Vec::new();
    for step in &plan.steps {
        let described = describe(step, &plan.runtime);
        // A settings step with an unreadable file still writes the others.
        let runnable = match &step.action {
            Action::Install { .. } | Action::Start { .. } | Action::Pull { .. } => true,
            Action::Settings { .. } => described.status != StepStatus::Already,
            _ => false,
        };
        if !runnable {
            steps.push(described);
            continue;
        }
        if let (Some(failed), StepId::Install | StepId::Start | StepId::Pull) = (blocked, step.id) {
            steps.push(StepOutcome {
                status: StepStatus::Skipped,
                summary: format!("not run: the {failed} step failed"),
                commands: Vec::new(),
                files: Vec::new(),
                ..described
            });
            continue;
        }
        observer.step_started(step.id, &described.summary);
        let result = run_step(step, plan, &mut engine, observer).await;
        let outcome = match result {
            Ok((status, summary)) => StepOutcome {
                status,
                summary,
                ..described
            },
            Err(error) => {
                if matches!(step.id, StepId::Install | StepId::Start) {
                    blocked = Some(step.id);
                }
                StepOutcome {
                    status: StepStatus::Failed,
                    error: Some(error),
                    ..described
                }
            }
        };
        steps.push(outcome);
    }
    report(plan, steps)
}

async fn run_step(
    step: &Step,
    plan: &Plan,
    engine: &mut Option<Engine>,
    observer: &mut dyn Observer,
) -> Result<(StepStatus, String), String> {
    let text = |error: StepError| error.to_string();
    match &step.action {
        Action::Install { missing, command } => {
            run_command(command).await.map_err(text)?;
            Ok((
                StepStatus::Done,
                format!("installed {} with Homebrew", program_list(missing)),
            ))
        }
        Action::Start { command, limits } => {
            run_command(command).await.map_err(text)?;
            let connected = wait_for_engine(&plan.runtime, plan.start_timeout, observer)
                .await
                .map_err(text)?;
            *engine = Some(connected);
            Ok((
                StepStatus::Done,
                format!(
                    "started Colima with {} CPUs, {} GiB memory, {} GiB disk; its engine answers \
                     at {}",
                    limits.cpus,
                    limits.memory_gib,
                    limits.disk_gib,
                    plan.runtime.address()
                ),
            ))
        }
        Action::Pull { image } => {
            let connected = match engine {
                Some(connected) => connected.clone(),
                None => {
                    let connected = Engine::connect(
                        &plan.runtime.endpoint,
                        plan.runtime.kind,
                        default_deadline(),
                    )
                    .await
                    .map_err(|error| error.to_string())?;
                    *engine = Some(connected.clone());
                    connected
                }
            };
            if let Some(digest) = pull::present(&connected, image)
                .await
                .map_err(|error| error.to_string())?
            {
                return Ok((
                    StepStatus::Already,
                    format!("{image} is already present ({digest})"),
                ));
            }
            let digest = pull::pull(&connected, image, observer)
                .await
                .map_err(|error| text(error.into()))?;
            Ok((StepStatus::Done, format!("pulled {image} ({digest})")))
        }
        Action::Settings {
            targets,
            created_because_none,
        } => apply_settings(targets, *created_because_none, &plan.runtime),
        // `describe` already gave these their final status.
        Action::Skip { .. }
        | Action::Already { .. }
        | Action::InstallByHand { .. }
        | Action::Impossible { .. } => Err(format!("the {} step has nothing to run", step.id)),
    }
}

fn apply_settings(
    targets: &[SettingsTarget],
    created_because_none: bool,
    runtime: &ChosenRuntime,
) -> Result<(StepStatus, String), String> {
    let mut written = Vec::new();
    let mut errors = Vec::new();
    for target in targets {
        let applied = match &target.edit {
            Ok(edit) => edit.apply().map_err(|error| error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        match applied {
            Ok(WriteOutcome::Unchanged) => {}
            Ok(WriteOutcome::Created) => written.push(format!("created {}", target.path.display())),
            Ok(WriteOutcome::Replaced { .. }) => {
                written.push(format!("updated {}", target.path.display()))
            }
            Err(error) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    let mut summary = format!(
        "{DOCKER_SOCKET_SETTING} set to {}: {}",
        runtime.address(),
        written.join(", ")
    );
    if created_because_none {
        summary.push_str(" (no VS Code settings existed)");
    }
    Ok((StepStatus::Done, summary))
}

/// Runs a command without a shell; its output goes to stderr, so that stdout stays a report.
async fn run_command(argv: &[String]) -> Result<(), StepError> {
    let (program, args) = argv.split_first().ok_or_else(|| StepError::Missing {
        program: String::new(),
        hint: "dw planned an empty command",
    })?;
    let command = argv.join(" ");
    let status = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .status()
        .await
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                StepError::Missing {
                    program: program.clone(),
                    hint: "run `dw setup --only install` to install it",
                }
            } else {
                StepError::Spawn {
                    command: command.clone(),
                    source,
                }
            }
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(StepError::Failed { command, status })
    }
}

/// Waits until the runtime's engine answers `/version`, or `timeout` passes.
async fn wait_for_engine(
    runtime: &ChosenRuntime,
    timeout: Duration,
    observer: &mut dyn Observer,
) -> Result<Engine, StepError> {
    observer.waiting(&format!(
        "waiting for the {} engine to answer at {}",
        runtime.kind.display_name(),
        runtime.endpoint
    ));
    let started = Instant::now();
    let result = loop {
        let remaining = timeout.saturating_sub(started.elapsed());
        let attempt = remaining.min(default_deadline()).max(POLL_INTERVAL);
        match Engine::connect(&runtime.endpoint, runtime.kind, attempt).await {
            Ok(engine) => break Ok(engine),
            Err(error) if started.elapsed() >= timeout => {
                break Err(StepError::EngineTimeout {
                    kind: runtime.kind,
                    endpoint: runtime.endpoint.clone(),
                    waited: timeout,
                    last: error.to_string(),
                });
            }
            Err(_) => tokio::time::sleep(POLL_INTERVAL).await,
        }
    };
    observer.waited();
    result
}
