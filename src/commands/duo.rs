//! `dw run --duo`, and `dw workflows resume` of a Duo workflow: GitLab's Duo Workflow executed
//! on dw's sandbox, with `dw run`'s front end (prompts, Ctrl-C, printing).
//!
//! Two environment variables tune the session for tests and unusual networks:
//! `DW_DUO_HEARTBEAT_MS` (the heartbeat period, default 30 000) and `DW_DUO_RETRY_MS` (the
//! first wait before reconnecting, default 1 000, doubled per attempt up to 16 times it).

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use dw_duo::{GitLab, NewWorkflow, Token};
use dw_workflow::config::Config;
use dw_workflow::duo::{DuoEnvironment, DuoRunner, Timing, audit_hook};
use dw_workflow::record::{DuoSettings, GitLabTarget, Settings, WorkflowStatus};
use dw_workflow::runner::{RunOutcome, refuse_secrets, workspace_redactor};
use dw_workflow::store::{AuditLog, History, Lock, Store, Workflow};

use super::run::{Front, goal, origin_remote, reap};
use crate::Status;
use crate::cli::{GlobalArgs, ResumeArgs, RunArgs};
use crate::output::Output;

/// The workflow definition dw runs: GitLab's software development flow.
const DEFINITION: &str = "software_development";
/// Where the workflow runs, as GitLab's API names a local client's.
const ENVIRONMENT: &str = "ide";

/// `dw run --duo`.
pub async fn run(args: &RunArgs, global: &GlobalArgs, output: &Output) -> anyhow::Result<Status> {
    for (given, flag) in [
        (args.provider.is_some(), "--provider"),
        (args.model.is_some(), "--model"),
        (args.script.is_some(), "--script"),
        (args.mr.is_some(), "--mr"),
    ] {
        anyhow::ensure!(
            !given,
            "{flag} is for dw's own agent; with --duo, GitLab's Duo Workflow chooses the model — \
             drop {flag} or run without --duo"
        );
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
    let config = Config::load()?;
    let token = token(&config)?;
    let target = gitlab_target(args, &config, &workspace)?;
    let interactive = std::io::stdin().is_terminal();
    if !interactive && !args.yes {
        anyhow::bail!(
            "Duo Workflow's plan needs your approval, and stdin is not a terminal: run dw in a \
             terminal, or pass --yes to approve it (and tool calls that do not write to GitLab) \
             without asking"
        );
    }
    let redactor = redactor(&workspace, &token, &config)?;
    if let Err(why) = refuse_secrets(&redactor, &goal) {
        anyhow::bail!("the goal was refused: {why}");
    }
    let audit = AuditLog::detached();
    let gitlab = gitlab_client(&target.url, &token, &audit)?;
    let engine = super::connect_engine(global).await?;
    reap(&engine).await;
    let created = gitlab
        .create_workflow(&NewWorkflow {
            goal: goal.clone(),
            workflow_definition: DEFINITION.to_owned(),
            environment: ENVIRONMENT.to_owned(),
            project_id: target.project.clone(),
            allow_agent_to_request_user: true,
            ..NewWorkflow::default()
        })
        .await
        .with_context(|| {
            format!(
                "cannot create the Duo workflow in {} on {}",
                target.project, target.url
            )
        })?;
    let settings = Settings {
        id: dw_workflow::store::new_id(),
        goal,
        workspace,
        provider: "duo".to_owned(),
        model: DEFINITION.to_owned(),
        script: None,
        image: args.image.clone(),
        allow_network: args.allow_network,
        max_steps: args.max_steps,
        gitlab: Some(target),
        duo: Some(DuoSettings {
            workflow_id: created.id,
            definition: DEFINITION.to_owned(),
            transport: args.transport.as_str().to_owned(),
            allow_gitlab_writes: args.allow_gitlab_writes,
        }),
    };
    let store = Store::open_default()?;
    let (workflow, lock, log) = store.create(&settings)?;
    workflow.attach_audit_log(&audit)?;
    let front = Front::new(output, interactive, args.yes);
    front.announce(&settings, &workflow);
    if !output.json() {
        eprintln!(
            "Duo workflow {} in {} ({})",
            created.id,
            settings
                .gitlab
                .as_ref()
                .map_or("", |gitlab| gitlab.project.as_str()),
            args.transport.as_str()
        );
    }
    let environment = environment(engine, gitlab, redactor, audit, &front);
    let runner = DuoRunner::new(workflow, lock, log, settings, environment)?;
    finish(runner, front, output).await
}

/// `dw workflows resume` of a Duo workflow (its settings name one).
pub async fn resume(
    workflow: Workflow,
    lock: Lock,
    history: History,
    args: &ResumeArgs,
    global: &GlobalArgs,
    output: &Output,
) -> anyhow::Result<Status> {
    let status = history.status();
    let settings = &history.settings;
    let target = settings
        .gitlab
        .clone()
        .context("the Duo workflow's settings name no GitLab instance; the file was edited")?;
    let config = Config::load()?;
    let token = token(&config)?;
    let redactor = redactor(&settings.workspace, &token, &config)?;
    if let Some(message) = &args.message
        && let Err(why) = refuse_secrets(&redactor, message)
    {
        anyhow::bail!("the message was refused: {why}");
    }
    let audit = AuditLog::detached();
    let gitlab = gitlab_client(&target.url, &token, &audit)?;
    let engine = super::connect_engine(global).await?;
    reap(&engine).await;
    workflow.attach_audit_log(&audit)?;
    let interactive = std::io::stdin().is_terminal();
    let front = Front::new(output, interactive, args.yes);
    front.announce(settings, &workflow);
    if !output.json() {
        eprintln!("Resuming from {status}.");
    }
    let environment = environment(engine, gitlab, redactor, audit, &front);
    let runner = DuoRunner::resume(workflow, lock, history, environment, args.message.clone())?;
    finish(runner, front, output).await
}

/// `dw workflows stop` of a Duo workflow no dw process drives: tells the service. Best effort;
/// a warning says what went wrong.
pub async fn stop_remote(settings: &Settings, status: WorkflowStatus) {
    let told = async {
        let config = Config::load().map_err(|error| error.to_string())?;
        let token = token(&config).map_err(|error| error.to_string())?;
        let url = settings
            .gitlab
            .as_ref()
            .map(|gitlab| gitlab.url.clone())
            .ok_or("its settings name no GitLab instance")?;
        let gitlab = GitLab::new(&url, Token::new(token)).map_err(|error| error.to_string())?;
        dw_workflow::duo::stop_remote(settings, status, &gitlab, &timing()).await
    };
    if let Err(why) = told.await {
        eprintln!(
            "{} could not tell GitLab that the Duo workflow stopped ({why}); it may still show as \
             waiting there",
            colored::Colorize::bold(colored::Colorize::yellow("warning:"))
        );
    }
}

/// Runs the workflow with Ctrl-C and SIGTERM wired to its control, and turns the outcome into
/// an exit status, as `dw run` does.
async fn finish(runner: DuoRunner, front: Front, output: &Output) -> anyhow::Result<Status> {
    let id = runner.id().to_owned();
    let signals = front.watch_signals();
    let outcome = runner.run().await;
    signals.abort();
    let outcome = outcome.with_context(|| {
        format!(
            "workflow {id} stopped because its state could not be recorded; fix the cause below, \
             then `dw workflows resume {id}` goes on"
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

fn environment(
    engine: dw_runtime::engine::Engine,
    gitlab: GitLab,
    redactor: dw_runtime::secrets::Redactor,
    audit: AuditLog,
    front: &Front,
) -> DuoEnvironment {
    DuoEnvironment {
        engine,
        executor: None,
        gitlab,
        redactor,
        control: front.control(),
        interaction: front.interaction(),
        observer: front.observer(),
        audit,
        timing: timing(),
    }
}

/// The default timing, with the environment's overrides.
fn timing() -> Timing {
    let millis = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.trim().parse::<u64>().ok())
            .filter(|millis| *millis > 0)
            .map(Duration::from_millis)
    };
    let mut timing = Timing::default();
    if let Some(heartbeat) = millis("DW_DUO_HEARTBEAT_MS") {
        timing.heartbeat = heartbeat;
    }
    if let Some(first) = millis("DW_DUO_RETRY_MS") {
        timing.first_retry = first;
        timing.max_retry = first.saturating_mul(16);
    }
    timing
}

/// Recognises the token, the values of the workspace's credential files (as the
/// configuration's mask rules find them) and the built-in patterns.
fn redactor(
    workspace: &Path,
    token: &str,
    config: &Config,
) -> anyhow::Result<dw_runtime::secrets::Redactor> {
    let masks = dw_workflow::masks::find_with(workspace, &config.mask_rules())?;
    Ok(workspace_redactor(
        workspace,
        &masks,
        std::slice::from_ref(&token.to_owned()),
    ))
}

/// The GitLab token: `GITLAB_TOKEN`, else `token` in the configuration's `[gitlab]`, which is
/// then read only from a file no one else can read.
fn token(config: &Config) -> anyhow::Result<String> {
    let from_environment = std::env::var("GITLAB_TOKEN").unwrap_or_default();
    if !from_environment.trim().is_empty() {
        return Ok(from_environment.trim().to_owned());
    }
    let Some(token) = config
        .gitlab
        .token
        .as_deref()
        .map(str::trim)
        .filter(|token| !token.is_empty())
    else {
        anyhow::bail!(
            "Duo Workflow needs a GitLab token: set GITLAB_TOKEN (or `token` under [gitlab] in \
             dw's configuration) to a personal access token with the `api` scope; dw keeps it on \
             the host, the sandbox never sees it"
        );
    };
    if let Some(path) = &config.path {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .permissions()
            .mode();
        anyhow::ensure!(
            mode & 0o077 == 0,
            "dw's configuration {} holds a GitLab token but others can read it (mode {:o}); run \
             `chmod 600 {}`, or set GITLAB_TOKEN instead",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    Ok(token.to_owned())
}

fn gitlab_client(url: &str, token: &str, audit: &AuditLog) -> anyhow::Result<GitLab> {
    Ok(GitLab::new(url, Token::new(token))
        .context("cannot use the GitLab instance")?
        .with_audit(audit_hook(audit)))
}

/// The instance and project: `--gitlab-url` (or GITLAB_URL, or `url` under the configuration's
/// `[gitlab]`) and `--gitlab-project`, else the `origin` remote.
fn gitlab_target(
    args: &RunArgs,
    config: &Config,
    workspace: &Path,
) -> anyhow::Result<GitLabTarget> {
    let url = args
        .gitlab_url
        .clone()
        .or_else(|| config.gitlab.url.clone());
    let remote = match (&url, &args.gitlab_project) {
        (Some(_), Some(_)) => None,
        _ => origin_remote(workspace)
            .map(|remote| dw_gitlab::parse_remote(&remote))
            .transpose()?,
    };
    let url = match (url, &remote) {
        (Some(url), _) => url,
        (None, Some(remote)) => remote.instance_url.clone(),
        (None, None) => anyhow::bail!(
            "the GitLab instance is unknown: pass --gitlab-url or set GITLAB_URL (the workspace \
             has no `origin` remote that names one)"
        ),
    };
    let project = match (&args.gitlab_project, &remote) {
        (Some(project), _) => project.clone(),
        (None, Some(remote)) => remote.project_path.clone(),
        (None, None) => anyhow::bail!(
            "the GitLab project is unknown: pass --gitlab-project (its numeric id or full path; \
             the workspace has no `origin` remote that names one)"
        ),
    };
    Ok(GitLabTarget {
        url,
        project,
        merge_request: None,
    })
}
