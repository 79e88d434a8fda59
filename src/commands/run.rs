//! `dw run`: the agent on a goal — and what `dw workflows resume` shares with it: building the
//! model provider and GitLab client from the workflow's settings, the terminal front end
//! (prompts, Ctrl-C), and printing records as they happen.

use std::collections::HashMap;
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use colored::Colorize;
use dw_provider::{
    AnthropicConfig, AnthropicProvider, BoxFuture, OpenAiConfig, OpenAiProvider, Provider,
    ScriptProvider,
};
use dw_workflow::record::{
    Entry, GitLabTarget, PlanStep, Record, Settings, StepStatus, WorkflowStatus,
};
use dw_workflow::runner::{
    Control, Environment, Interaction, PauseDecision, PlanDecision, RunOutcome, Runner,
    ToolCallDecision, ToolCallRequest, Unattended, refuse_secrets, workspace_redactor,
};
use dw_workflow::store::{AuditLog, ServiceAudit, Store};
use dw_workflow::tools::GitLabTools;
use tokio::sync::mpsc;

use crate::Status;
use crate::cli::{GlobalArgs, ProviderChoice, RunArgs};
use crate::output::Output;

/// The model when `--model` is not given.
const DEFAULT_ANTHROPIC_MODEL: &str = "claude-sonnet-4-5";
const DEFAULT_OPENAI_MODEL: &str = "gpt-4.1";

pub async fn run(args: &RunArgs, global: &GlobalArgs, output: &Output) -> anyhow::Result<Status> {
    if args.duo {
        return super::duo::run(args, global, output).await;
    }
    let goal = goal(args)?;
    let workspace = std::fs::canonicalize(&args.workspace).with_context(|| {
        format!(
            "the workspace {} cannot be used; pass an existing project directory with --workspace",
            args.workspace.display()
        )
    })?;
    anyhow::ensure!(
        workspace.is_dir(),
        "the workspace {} is not a directory; pass the project directory with --workspace",
        workspace.display()
    );
    let provider = args.provider.unwrap_or(if args.script.is_some() {
        ProviderChoice::Script
    } else {
        ProviderChoice::Anthropic
    });
    let script = match (&args.script, provider) {
        (Some(script), ProviderChoice::Script) => Some(
            std::fs::canonicalize(script)
                .with_context(|| format!("cannot read the script {}", script.display()))?,
        ),
        (None, ProviderChoice::Script) => {
            anyhow::bail!("the script provider replays a file: pass it with --script FILE")
        }
        (Some(_), _) => {
            anyhow::bail!("--script is for the script provider; drop it or pass --provider script")
        }
        (None, _) => None,
    };
    let model = match (&args.model, provider) {
        (Some(model), _) => model.clone(),
        (None, ProviderChoice::Anthropic) => DEFAULT_ANTHROPIC_MODEL.to_owned(),
        (None, ProviderChoice::Openai) => DEFAULT_OPENAI_MODEL.to_owned(),
        (None, ProviderChoice::Script) => "script".to_owned(),
    };
    let gitlab = gitlab_target(args, &workspace)?;
    let settings = Settings {
        id: dw_workflow::store::new_id(),
        goal,
        workspace,
        provider: provider.as_str().to_owned(),
        model,
        script,
        image: args.image.clone(),
        allow_network: args.allow_network,
        max_steps: args.max_steps,
        gitlab,
        duo: None,
    };
    let interactive = std::io::stdin().is_terminal();
    if !interactive && !args.yes {
        anyhow::bail!(
            "the plan needs your approval, and stdin is not a terminal: run dw in a terminal, or \
             pass --yes to approve the plan without asking"
        );
    }
    // Everything that can be checked is checked before the workflow exists.
    let audit = AuditLog::detached();
    let parts = Parts::new(&settings, &audit)?;
    if let Err(why) = refuse_secrets(&parts.redactor, &settings.goal) {
        anyhow::bail!("the goal was refused: {why}");
    }
    let engine = super::connect_engine(global).await?;
    reap(&engine).await;
    let store = Store::open_default()?;
    let (workflow, lock, log) = store.create(&settings)?;
    workflow.attach_audit_log(&audit)?;
    let front = Front::new(output, interactive, args.yes);
    front.announce(&settings, &workflow);
    let environment = parts.into_environment(engine, audit, &front);
    let runner = Runner::new(workflow, lock, log, settings, environment);
    finish(runner, front, output).await
}

/// The goal from the argument, or from stdin.
pub(super) fn goal(args: &RunArgs) -> anyhow::Result<String> {
    let from_stdin = match args.goal.as_deref() {
        Some("-") => true,
        Some(_) => false,
        None => !std::io::stdin().is_terminal(),
    };
    let goal = if from_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the goal from stdin")?;
        text
    } else {
        args.goal.clone().unwrap_or_default()
    };
    let goal = goal.trim().to_owned();
    anyhow::ensure!(
        !goal.is_empty(),
        "no goal: say what the agent should do, e.g. `dw run \"make the tests pass\"`, or pipe it \
         on stdin"
    );
    Ok(goal)
}

/// The GitLab project, when one is known: `--gitlab-project`, or the `origin` remote when a
/// token is set (the tools need one) or `--mr` asks for it.
fn gitlab_target(args: &RunArgs, workspace: &Path) -> anyhow::Result<Option<GitLabTarget>> {
    let token_set = std::env::var("GITLAB_TOKEN").is_ok_and(|token| !token.trim().is_empty());
    let explicit = args.gitlab_project.is_some() || args.mr.is_some();
    if !explicit && !token_set {
        return Ok(None);
    }
    let remote = origin_remote(workspace);
    let from_remote = remote.as_deref().map(dw_gitlab::parse_remote).transpose();
    let from_remote = match from_remote {
        Ok(found) => found,
        Err(error) if explicit && args.gitlab_project.is_none() => return Err(error.into()),
        Err(_) => None,
    };
    let project = match (&args.gitlab_project, &from_remote) {
        (Some(project), _) => project.clone(),
        (None, Some(remote)) => remote.project_path.clone(),
        (None, None) if explicit => anyhow::bail!(
            "--mr needs the GitLab project: pass --gitlab-project (the workspace has no `origin` \
             remote that names one)"
        ),
        (None, None) => return Ok(None),
    };
    let url = match (&args.gitlab_url, &from_remote) {
        (Some(url), _) => url.clone(),
        (None, Some(remote)) => remote.instance_url.clone(),
        (None, None) => {
            anyhow::bail!("the GitLab instance is unknown: pass --gitlab-url or set GITLAB_URL")
        }
    };
    if !token_set {
        anyhow::bail!(
            "the GitLab tools need a token: set GITLAB_TOKEN to a personal access token with the \
             read_api scope (dw only ever reads)"
        );
    }
    Ok(Some(GitLabTarget {
        url,
        project,
        merge_request: args.mr,
    }))
}

pub(super) fn origin_remote(workspace: &Path) -> Option<String> {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(workspace)
        .args(["config", "--get", "remote.origin.url"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .filter(|remote| !remote.is_empty())
}

/// What a workflow's settings need from the environment: the provider, the GitLab client, the
/// redactor. Built before anything is started, so that a missing key fails fast.
pub struct Parts {
    pub provider: Arc<dyn Provider>,
    pub gitlab: Option<GitLabTools>,
    pub redactor: dw_runtime::secrets::Redactor,
}

impl Parts {
    pub fn new(settings: &Settings, audit: &AuditLog) -> anyhow::Result<Parts> {
        let hook = |service| {
            Arc::new(ServiceAudit {
                log: audit.clone(),
                service,
            })
        };
        let mut keys = Vec::new();
        let provider: Arc<dyn Provider> = match settings.provider.as_str() {
            "anthropic" => {
                let config = AnthropicConfig::from_env(&settings.model)?;
                keys.push(config.api_key.clone());
                Arc::new(AnthropicProvider::new(config, hook("anthropic"))?)
            }
            "openai" => {
                let config = OpenAiConfig::from_env(&settings.model);
                keys.extend(config.api_key.clone());
                Arc::new(OpenAiProvider::new(config, hook("openai"))?)
            }
            "script" => {
                let path = settings.script.as_ref().context(
                    "the workflow uses the script provider but names no script; it was edited",
                )?;
                Arc::new(ScriptProvider::load(path)?)
            }
            other => anyhow::bail!("the workflow names an unknown provider `{other}`"),
        };
        let gitlab = match &settings.gitlab {
            Some(target) => {
                let token = std::env::var("GITLAB_TOKEN").unwrap_or_default();
                keys.push(token.trim().to_owned());
                let config = dw_gitlab::GitLabConfig::new(&target.url, token.trim());
                let client = dw_gitlab::GitLabClient::new(config, hook("gitlab"))
                    .context("cannot use GITLAB_TOKEN")?;
                Some(GitLabTools {
                    client,
                    project: dw_gitlab::ProjectRef::parse(&target.project),
                    merge_request: target.merge_request,
                })
            }
            None => None,
        };
        let config = dw_workflow::config::Config::load()?;
        let masks = dw_workflow::masks::find_with(&settings.workspace, &config.mask_rules())?;
        let redactor = workspace_redactor(&settings.workspace, &masks, &keys);
        Ok(Parts {
            provider,
            gitlab,
            redactor,
        })
    }

    pub fn into_environment(
        self,
        engine: dw_runtime::engine::Engine,
        audit: AuditLog,
        front: &Front,
    ) -> Environment {
        Environment {
            engine,
            executor: None,
            provider: self.provider,
            gitlab: self.gitlab,
            redactor: self.redactor,
            control: front.control.clone(),
            interaction: front.interaction(),
            observer: front.observer(),
            audit,
        }
    }
}

/// Removes the sandboxes of dw processes that are gone (a killed run's, typically).
pub async fn reap(engine: &dw_runtime::engine::Engine) {
    match dw_workflow::reap_orphans(engine).await {
        Ok(removed) if !removed.is_empty() => {
            let names: Vec<&str> = removed.iter().map(|gone| gone.name.as_str()).collect();
            eprintln!(
                "{} removed orphaned sandbox containers: {}",
                "note:".yellow().bold(),
                names.join(", ")
            );
        }
        Ok(_) => {}
        Err(error) => eprintln!("{} {error}", "warning:".yellow().bold()),
    }
}

/// Runs the workflow with Ctrl-C and SIGTERM wired to its control, and turns the outcome into
/// an exit status.
pub async fn finish(runner: Runner, front: Front, output: &Output) -> anyhow::Result<Status> {
    let id = runner.id().to_owned();
    let signals = front.watch_signals();
    let outcome = runner.run().await;
    signals.abort();
    let outcome = outcome.with_context(|| {
        format!(
            "workflow {id} stopped because its state could not be recorded; fix the cause below, \
             then `dw workflows resume {id}` goes on from the last step recorded"
        )
    })?;
    if !output.json() {
        front.conclude(&id, &outcome);
    }
    Ok(match outcome {
        RunOutcome {
            status: WorkflowStatus::Finished,
            ..
        } => Status::Success,
        RunOutcome {
            environment_error: true,
            ..
        } => Status::Error,
        _ => Status::Problems,
    })
}

/// The terminal side of a run: prompts, Ctrl-C, and the printing of records.
pub struct Front {
    control: Control,
    json: bool,
    verbose: u8,
    interactive: bool,
    approve: bool,
}

impl Front {
    pub fn new(output: &Output, interactive: bool, approve: bool) -> Front {
        Front {
            control: Control::new(),
            json: output.json(),
            verbose: output.verbose(),
            interactive,
            approve,
        }
    }

    pub fn announce(&self, settings: &Settings, workflow: &dw_workflow::store::Workflow) {
        if self.json {
            return;
        }
        eprintln!(
            "{} {} · {} · {}",
            "Workflow".bold(),
            workflow.id().bold(),
            settings.workspace.display(),
            if settings.provider == "script" {
                "script".to_owned()
            } else {
                format!("{} {}", settings.provider, settings.model)
            }
        );
    }

    /// Pause and stop requests, as Ctrl-C and SIGTERM make them.
    pub(super) fn control(&self) -> Control {
        self.control.clone()
    }

    pub(super) fn interaction(&self) -> Box<dyn Interaction> {
        if self.interactive {
            Box::new(Terminal::new(self.approve))
        } else {
            Box::new(Unattended {
                approve: self.approve,
            })
        }
    }

    pub(super) fn observer(&self) -> dw_workflow::runner::Observer {
        if self.json {
            Box::new(|entry: &Entry| {
                if entry.record.is_shown()
                    && let Ok(line) = serde_json::to_string(entry)
                {
                    let mut stdout = std::io::stdout().lock();
                    let _ = writeln!(stdout, "{line}");
                    let _ = stdout.flush();
                }
            })
        } else {
            let mut printer = Printer {
                calls: HashMap::new(),
                verbose: self.verbose,
            };
            Box::new(move |entry: &Entry| printer.print(&entry.record))
        }
    }

    /// Ctrl-C pauses (a second one stops); SIGTERM and SIGHUP stop.
    pub(super) fn watch_signals(&self) -> tokio::task::JoinHandle<()> {
        let control = self.control.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) else {
                return;
            };
            loop {
                tokio::select! {
                    _ = interrupt.recv() => {
                        let stopping = control.interrupt();
                        // On stderr also under --json: a person pressed Ctrl-C and should
                        // see that it was understood.
                        if stopping {
                            eprintln!("\n{}", "Stopping…".yellow().bold());
                        } else {
                            eprintln!(
                                "\n{} (Ctrl-C again to stop)",
                                "Pausing after the current action…".yellow().bold()
                            );
                        }
                    }
                    _ = terminate.recv() => control.stop(),
                    _ = hangup.recv() => control.stop(),
                }
            }
        })
    }

    pub(super) fn conclude(&self, id: &str, outcome: &RunOutcome) {
        match outcome.status {
            WorkflowStatus::Finished | WorkflowStatus::Stopped => {}
            WorkflowStatus::Failed => eprintln!(
                "Details: `dw workflows show {id}`; actions and requests: `dw workflows logs {id}`."
            ),
            _ => eprintln!("Go on with `dw workflows resume {id}`."),
        }
    }
}

/// Prints records for people.
struct Printer {
    /// The calls waiting for their result: tool and a short description of the input.
    calls: HashMap<String, (String, String)>,
    verbose: u8,
}

impl Printer {
    fn print(&mut self, record: &Record) {
        let mut stdout = std::io::stdout().lock();
        let text = match record {
            Record::Status {
                status,
                reason,
                summary,
            } => status_line(*status, reason.as_deref(), summary.as_deref()),
            Record::Plan { steps } => Some(plan_text(steps)),
            Record::Message { text } => Some(format!("{} {}", "›".cyan(), text.trim())),
            Record::ToolCall { id, tool, input } => {
                self.calls
                    .insert(id.clone(), (tool.clone(), describe_input(tool, input)));
                None
            }
            Record::ToolResult {
                id,
                tool,
                ok,
                output,
                duration_ms,
            } => {
                let (_, what) = self
                    .calls
                    .remove(id)
                    .unwrap_or_else(|| (tool.clone(), String::new()));
                if matches!(
                    tool.as_str(),
                    "create_plan" | "update_plan" | "ask_user" | "finish"
                ) && *ok
                {
                    None
                } else {
                    let mark = if *ok { "✓".green() } else { "✗".red() };
                    let first = output.lines().next().unwrap_or_default();
                    let detail = if !*ok || first.starts_with("exit code") {
                        format!(" {}", shorten(first, 100).dimmed())
                    } else {
                        String::new()
                    };
                    let mut line = format!(
                        "  {mark} {} {}{detail} {}",
                        tool.bold(),
                        what,
                        format!("({})", duration(*duration_ms)).dimmed()
                    );
                    if self.verbose > 0 && !output.is_empty() {
                        for output_line in output.lines().take(40) {
                            line.push_str(&format!("\n      {}", output_line.dimmed()));
                        }
                    }
                    Some(line)
                }
            }
            Record::Checkpoint { errors, .. } if !errors.is_empty() => Some(format!(
                "{} {}",
                "!".yellow().bold(),
                errors.join("; ").dimmed()
            )),
            Record::Input { .. }
            | Record::Conversation { .. }
            | Record::Created { .. }
            | Record::Checkpoint { .. } => None,
        };
        if let Some(text) = text {
            let _ = writeln!(stdout, "{text}");
            let _ = stdout.flush();
        }
    }
}

fn status_line(
    status: WorkflowStatus,
    reason: Option<&str>,
    summary: Option<&str>,
) -> Option<String> {
    let reason = reason
        .map(|reason| format!(": {reason}"))
        .unwrap_or_default();
    match status {
        WorkflowStatus::Created
        | WorkflowStatus::PlanApprovalRequired
        | WorkflowStatus::ToolCallApprovalRequired
        | WorkflowStatus::InputRequired
            if reason.is_empty() =>
        {
            None
        }
        WorkflowStatus::Planning => Some(format!("{}", "Planning…".dimmed())),
        WorkflowStatus::Running => Some(format!("{}", "Working…".dimmed())),
        WorkflowStatus::Paused if reason.is_empty() => {
            Some(format!("{}", "Paused.".yellow().bold()))
        }
        WorkflowStatus::Finished => Some(format!(
            "{} {}",
            "✓ Finished.".green().bold(),
            summary.unwrap_or_default()
        )),
        WorkflowStatus::Failed => Some(format!("{}{reason}", "✗ Failed".red().bold())),
        WorkflowStatus::Stopped => Some(format!("{}{reason}", "■ Stopped".yellow().bold())),
        other => Some(format!(
            "{}{reason}",
            format!("Waiting ({other})").yellow().bold()
        )),
    }
}

/// The plan as a checklist.
pub fn plan_text(steps: &[PlanStep]) -> String {
    let mut text = format!("{}", "Plan:".bold());
    for (number, step) in steps.iter().enumerate() {
        let mark = match step.status {
            StepStatus::Pending => "[ ]".normal(),
            StepStatus::InProgress => "[>]".cyan().bold(),
            StepStatus::Done => "[x]".green(),
            StepStatus::Skipped => "[-]".dimmed(),
            StepStatus::Failed => "[!]".red().bold(),
        };
        text.push_str(&format!("\n  {mark} {}. {}", number + 1, step.title));
    }
    text
}

fn describe_input(tool: &str, input: &serde_json::Value) -> String {
    let field = |name: &str| input.get(name).and_then(serde_json::Value::as_str);
    let words = |name: &str| {
        input
            .get(name)
            .and_then(serde_json::Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(serde_json::Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    };
    let text = match tool {
        "run_command" => format!("{} {}", field("program").unwrap_or_default(), words("args")),
        // Duo Workflow's actions (`dw run --duo`).
        "runCommand" => [
            field("program").unwrap_or_default().to_owned(),
            words("flags"),
            words("arguments"),
        ]
        .iter()
        .filter(|part| !part.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" "),
        "runGitCommand" => format!(
            "git {} {}",
            field("command").unwrap_or_default(),
            field("arguments").unwrap_or_default()
        ),
        "runShellCommand" => field("command").unwrap_or_default().to_owned(),
        "runHTTPRequest" => format!(
            "{} {}",
            field("method").unwrap_or_default(),
            field("path").unwrap_or_default()
        ),
        "runReadFiles" => words("filepaths"),
        "grep" if input.get("search_directory").is_some() => format!(
            "{} {}",
            field("pattern").unwrap_or_default(),
            field("search_directory").unwrap_or_default()
        ),
        "findFiles" => field("name_pattern").unwrap_or_default().to_owned(),
        "git" => words("args"),
        "find_files" | "grep" => field("pattern").unwrap_or_default().to_owned(),
        _ => ["path", "filepath", "directory", "directory_path"]
            .iter()
            .find_map(|name| field(name))
            .map(str::to_owned)
            .or_else(|| {
                ["merge_request_iid", "pipeline_id", "job_id"]
                    .iter()
                    .find_map(|name| input.get(*name).map(ToString::to_string))
            })
            .unwrap_or_default(),
    };
    shorten(text.trim(), 80)
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

fn duration(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// Prompts on the terminal. Lines are read by one thread for the whole run, so a prompt that
/// is abandoned (Ctrl-C stops the workflow) leaves no read behind that would eat later input.
struct Terminal {
    lines: Option<mpsc::UnboundedReceiver<String>>,
    approve: bool,
}

impl Terminal {
    fn new(approve: bool) -> Terminal {
        Terminal {
            lines: None,
            approve,
        }
    }

    async fn ask(&mut self, prompt: &str) -> Option<String> {
        let lines = self.lines.get_or_insert_with(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            std::thread::spawn(move || {
                let stdin = std::io::stdin();
                let mut line = String::new();
                loop {
                    line.clear();
                    match stdin.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            if sender
                                .send(line.trim_end_matches(['\n', '\r']).to_owned())
                                .is_err()
                            {
                                break;
                            }
                        }
                    }
                }
            });
            receiver
        });
        {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "{prompt}");
            let _ = stderr.flush();
        }
        lines.recv().await
    }

    async fn text(&mut self, prompt: &str) -> Option<String> {
        loop {
            let text = self.ask(prompt).await?;
            if !text.trim().is_empty() {
                return Some(text.trim().to_owned());
            }
        }
    }
}

impl Interaction for Terminal {
    fn approve_plan<'a>(&'a mut self, _steps: &'a [PlanStep]) -> BoxFuture<'a, PlanDecision> {
        Box::pin(async move {
            if self.approve {
                return PlanDecision::Approve;
            }
            loop {
                let Some(answer) = self
                    .ask(&format!(
                        "{} [y]es / [a]djust / [c]ancel: ",
                        "Approve this plan?".bold()
                    ))
                    .await
                else {
                    return PlanDecision::Leave;
                };
                match answer.trim().to_lowercase().as_str() {
                    "y" | "yes" => return PlanDecision::Approve,
                    "c" | "cancel" => return PlanDecision::Cancel,
                    "a" | "adjust" => {
                        return match self.text("What should change? ").await {
                            Some(text) => PlanDecision::Adjust(text),
                            None => PlanDecision::Leave,
                        };
                    }
                    "" => {}
                    // A sentence is an adjustment.
                    _ if answer.trim().contains(' ') => {
                        return PlanDecision::Adjust(answer.trim().to_owned());
                    }
                    _ => {}
                }
            }
        })
    }

    fn answer<'a>(&'a mut self, question: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            eprintln!("{} {question}", "The agent asks:".bold());
            self.text("> ").await
        })
    }

    fn paused(&mut self) -> BoxFuture<'_, PauseDecision> {
        Box::pin(async move {
            loop {
                let Some(answer) = self
                    .ask("[r]esume / [a]djust / [s]top / [l]eave it paused: ")
                    .await
                else {
                    return PauseDecision::Leave;
                };
                match answer.trim().to_lowercase().as_str() {
                    "r" | "resume" => return PauseDecision::Resume,
                    "s" | "stop" => return PauseDecision::Stop,
                    "l" | "leave" => return PauseDecision::Leave,
                    "a" | "adjust" => {
                        return match self.text("What should change? ").await {
                            Some(text) => PauseDecision::Adjust(text),
                            None => PauseDecision::Leave,
                        };
                    }
                    _ => {}
                }
            }
        })
    }

    fn refused(&mut self, why: &str) {
        eprintln!("{} that text was refused: {why}", "error:".red().bold());
    }

    fn approve_tool_call<'a>(
        &'a mut self,
        request: &'a ToolCallRequest,
    ) -> BoxFuture<'a, ToolCallDecision> {
        Box::pin(async move {
            eprintln!("{}", "Duo Workflow asks to run:".bold());
            for tool in &request.tools {
                eprintln!(
                    "  {} {}",
                    tool.name.bold(),
                    shorten(&tool.args.to_string(), 200)
                );
            }
            if request.tools.is_empty() && !request.text.is_empty() {
                eprintln!("  {}", request.text);
            }
            if request.writes_gitlab {
                let note = if request.auto_approvable {
                    "this may write to GitLab"
                } else {
                    "this may write to GitLab, which this workflow does not allow: dw refuses its \
                     requests other than GET (start it with --allow-gitlab-writes to allow them)"
                };
                eprintln!("  {} {note}", "!".yellow().bold());
            }
            if self.approve && request.auto_approvable {
                return ToolCallDecision::Approve;
            }
            loop {
                let Some(answer) = self
                    .ask(&format!(
                        "{} [y]es / [n]o / [c]ancel / [l]eave: ",
                        "Approve?".bold()
                    ))
                    .await
                else {
                    return ToolCallDecision::Leave;
                };
                match answer.trim().to_lowercase().as_str() {
                    "y" | "yes" => return ToolCallDecision::Approve,
                    "c" | "cancel" => return ToolCallDecision::Cancel,
                    "l" | "leave" => return ToolCallDecision::Leave,
                    "n" | "no" => {
                        return match self.text("Why not, or what instead? ").await {
                            Some(text) => ToolCallDecision::Reject(text),
                            None => ToolCallDecision::Leave,
                        };
                    }
                    // A sentence rejects, with these words for the agent.
                    _ if answer.trim().contains(' ') => {
                        return ToolCallDecision::Reject(answer.trim().to_owned());
                    }
                    _ => {}
                }
            }
        })
    }
}
