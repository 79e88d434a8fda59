//! `dw workflows list|show|logs|resume|stop`.

use std::io::{IsTerminal, Read, Write};
use std::time::Duration;

use anyhow::Context as _;
use colored::Colorize;
use dw_workflow::record::{PlanStep, Record, WorkflowStatus};
use dw_workflow::runner::{Runner, refuse_secrets};
use dw_workflow::store::{AuditLog, AuditRecord, History, Store, Workflow};
use serde::Serialize;

use super::run::{Front, Parts, finish, plan_text, reap};
use crate::Status;
use crate::cli::{GlobalArgs, ResumeArgs, WorkflowsCommand};
use crate::output::Output;

/// How long `stop` waits for a running workflow to end.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn run(
    command: &WorkflowsCommand,
    global: &GlobalArgs,
    output: &Output,
) -> anyhow::Result<Status> {
    let store = Store::open_default()?;
    match command {
        WorkflowsCommand::List => list(&store, output),
        WorkflowsCommand::Show { id } => show(&store, id, output),
        WorkflowsCommand::Logs { id, follow } => logs(&store, id, *follow, output).await,
        WorkflowsCommand::Resume(args) => resume(&store, args, global, output).await,
        WorkflowsCommand::Stop { id } => stop(&store, id, global, output).await,
    }
}

/// One workflow, as `list` and `show` report it.
#[derive(Serialize)]
struct Summary {
    id: String,
    status: WorkflowStatus,
    goal: String,
    workspace: String,
    provider: String,
    model: String,
    created: String,
    updated: String,
    /// Whether a dw process works on it right now.
    running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
}

fn summary(workflow: &Workflow, history: &History) -> anyhow::Result<Summary> {
    let owner = workflow.holder()?;
    let settings = &history.settings;
    Ok(Summary {
        id: settings.id.clone(),
        status: history.status(),
        goal: settings.goal.clone(),
        workspace: settings.workspace.display().to_string(),
        provider: settings.provider.clone(),
        model: settings.model.clone(),
        created: history.created.clone(),
        updated: history.updated().to_owned(),
        running: owner.is_some(),
        owner,
    })
}

/// A status for people: an active status whose process is gone was interrupted.
fn status_text(summary: &Summary) -> String {
    if summary.status.is_active() && !summary.running {
        format!("{} (interrupted)", summary.status)
    } else {
        summary.status.to_string()
    }
}

fn list(store: &Store, output: &Output) -> anyhow::Result<Status> {
    let mut summaries = Vec::new();
    let mut problems = Vec::new();
    for workflow in store.list()? {
        match workflow.history() {
            Ok(history) => summaries.push(summary(&workflow, &history)?),
            Err(error) => problems.push(format!("{}: {error}", workflow.id())),
        }
    }
    for problem in &problems {
        eprintln!("{} {problem}", "warning:".yellow().bold());
    }
    if output.json() {
        output.json_value(&summaries)?;
        return Ok(Status::Success);
    }
    if summaries.is_empty() {
        output.text("No workflows yet; start one with `dw run \"GOAL\"`.");
        return Ok(Status::Success);
    }
    let mut lines = vec![format!(
        "{:<22} {:<32} {:<20} {}",
        "ID".bold(),
        "STATUS".bold(),
        "UPDATED".bold(),
        "GOAL".bold()
    )];
    for summary in &summaries {
        let goal: String = summary.goal.lines().next().unwrap_or_default().to_owned();
        let goal = if goal.chars().count() > 60 {
            format!("{}…", goal.chars().take(59).collect::<String>())
        } else {
            goal
        };
        lines.push(format!(
            "{:<22} {:<32} {:<20} {goal}",
            summary.id,
            status_text(summary),
            summary
                .updated
                .get(..19)
                .unwrap_or(&summary.updated)
                .replace('T', " "),
        ));
    }
    output.text(&lines.join("\n"));
    Ok(Status::Success)
}

#[derive(Serialize)]
struct Details {
    #[serde(flatten)]
    summary: Summary,
    image: String,
    allow_network: bool,
    max_steps: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    gitlab: Option<dw_workflow::record::GitLabTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duo: Option<dw_workflow::record::DuoSettings>,
    plan: Vec<PlanStep>,
    tool_calls: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary_text: Option<String>,
    events: String,
    audit: String,
}

fn show(store: &Store, id: &str, output: &Output) -> anyhow::Result<Status> {
    let workflow = store.open(id)?;
    let history = workflow.history()?;
    let mut plan = Vec::new();
    let mut tool_calls = 0;
    let mut reason = None;
    let mut summary_text = None;
    for entry in &history.entries {
        match &entry.record {
            Record::Plan { steps } => plan.clone_from(steps),
            Record::ToolCall { .. } => tool_calls += 1,
            Record::Status {
                reason: status_reason,
                summary: status_summary,
                ..
            } => {
                reason.clone_from(status_reason);
                summary_text.clone_from(status_summary);
            }
            _ => {}
        }
    }
    let settings = history.settings.clone();
    let details = Details {
        summary: summary(&workflow, &history)?,
        image: settings.image,
        allow_network: settings.allow_network,
        max_steps: settings.max_steps,
        gitlab: settings.gitlab,
        duo: settings.duo,
        plan,
        tool_calls,
        reason,
        summary_text,
        events: workflow.events_path().display().to_string(),
        audit: workflow.audit_path().display().to_string(),
    };
    if output.json() {
        output.json_value(&details)?;
        return Ok(Status::Success);
    }
    let summary = &details.summary;
    let mut lines = vec![
        format!("{} {}", "Workflow".bold(), summary.id.bold()),
        format!("  status     {}", status_text(summary)),
        format!("  goal       {}", summary.goal),
        format!("  workspace  {}", summary.workspace),
        format!(
            "  model      {}",
            if summary.provider == "script" {
                "script".to_owned()
            } else {
                format!("{} {}", summary.provider, summary.model)
            }
        ),
        format!("  created    {}", summary.created),
        format!("  updated    {}", summary.updated),
        format!("  tool calls {}", details.tool_calls),
    ];
    if let Some(gitlab) = &details.gitlab {
        lines.push(format!("  gitlab     {} on {}", gitlab.project, gitlab.url));
    }
    if let Some(duo) = &details.duo {
        lines.push(format!(
            "  duo        workflow {} over {}{}",
            duo.workflow_id,
            duo.transport,
            if duo.allow_gitlab_writes {
                ", GitLab writes allowed"
            } else {
                ""
            }
        ));
    }
    if let Some(owner) = &summary.owner {
        lines.push(format!("  running in {owner}"));
    }
    if !details.plan.is_empty() {
        lines.push(plan_text(&details.plan));
    }
    if let Some(text) = &details.summary_text {
        lines.push(format!("{} {text}", "Summary:".bold()));
    } else if let Some(reason) = &details.reason {
        lines.push(format!("{} {reason}", "Reason:".bold()));
    }
    lines.push(format!("Events: {}", details.events).dimmed().to_string());
    lines.push(format!("Audit:  {}", details.audit).dimmed().to_string());
    output.text(&lines.join("\n"));
    Ok(Status::Success)
}

async fn logs(store: &Store, id: &str, follow: bool, output: &Output) -> anyhow::Result<Status> {
    let workflow = store.open(id)?;
    let path = workflow.audit_path();
    let mut file = match std::fs::File::open(&path) {
        Ok(file) => Some(file),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", path.display()));
        }
    };
    let mut pending = String::new();
    loop {
        if file.is_none() {
            file = std::fs::File::open(&path).ok();
        }
        let mut read = String::new();
        if let Some(file) = file.as_mut() {
            file.read_to_string(&mut read)
                .with_context(|| format!("cannot read {}", path.display()))?;
        }
        pending.push_str(&read);
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            print_audit_line(line.trim_end(), output);
        }
        if !follow {
            break;
        }
        if read.is_empty() && workflow.holder()?.is_none() {
            break;
        }
        if read.is_empty() {
            // A file has no async "more was appended" signal that works everywhere.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(Status::Success)
}

fn print_audit_line(line: &str, output: &Output) {
    if line.is_empty() {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if output.json() {
        let _ = writeln!(stdout, "{line}");
        return;
    }
    let text = match serde_json::from_str::<AuditRecord>(line) {
        Ok(AuditRecord::Executor {
            ts,
            op,
            target,
            outcome,
            duration_ms,
        }) => {
            let outcome = if outcome == "ok" {
                outcome.green()
            } else {
                outcome.yellow()
            };
            format!(
                "{} {:<8} {:<12} {target} {outcome} {}",
                clock(&ts).dimmed(),
                "executor",
                op.bold(),
                format!("{duration_ms:.1} ms").dimmed()
            )
        }
        Ok(AuditRecord::Http {
            ts,
            service,
            method,
            url,
            status,
            duration_ms,
            attempt,
            retry_in_ms,
        }) => {
            let status = status.map_or_else(
                || "no answer".red(),
                |code| {
                    if code < 400 {
                        code.to_string().green()
                    } else {
                        code.to_string().red()
                    }
                },
            );
            let mut attempt = if attempt > 1 {
                format!(" (attempt {attempt})")
            } else {
                String::new()
            };
            if let Some(wait) = retry_in_ms {
                attempt.push_str(&format!(" retried in {:.1} s", wait / 1000.0));
            }
            format!(
                "{} {:<8} {:<12} {url} {status}{attempt} {}",
                clock(&ts).dimmed(),
                service,
                method.bold(),
                format!("{duration_ms:.0} ms").dimmed()
            )
        }
        Ok(AuditRecord::Refused {
            ts,
            action,
            target,
            reason,
        }) => format!(
            "{} {:<8} {:<12} {target} {} {}",
            clock(&ts).dimmed(),
            "refused",
            action.bold(),
            "refused".red(),
            reason.dimmed()
        ),
        Err(_) => line.to_owned(),
    };
    let _ = writeln!(stdout, "{text}");
}

/// `2026-11-23T12:00:01.123Z` → `2026-11-23 12:00:01.123`.
fn clock(ts: &str) -> String {
    ts.trim_end_matches('Z').replace('T', " ")
}

async fn resume(
    store: &Store,
    args: &ResumeArgs,
    global: &GlobalArgs,
    output: &Output,
) -> anyhow::Result<Status> {
    let workflow = store.open(&args.id)?;
    let lock = workflow.lock()?;
    let mut history = workflow.history()?;
    if history.settings.duo.is_some() {
        return super::duo::resume(workflow, lock, history, args, global, output).await;
    }
    let status = history.status();
    anyhow::ensure!(
        !status.is_final(),
        "workflow {} is {status}; only a paused, failed, waiting or interrupted workflow can be \
         resumed — start a new one with `dw run`",
        args.id
    );
    if let Some(max_steps) = args.max_steps {
        history.settings.max_steps = max_steps;
    }
    let audit = AuditLog::detached();
    let parts = Parts::new(&history.settings, &audit)?;
    if let Some(message) = &args.message
        && let Err(why) = refuse_secrets(&parts.redactor, message)
    {
        anyhow::bail!("the message was refused: {why}");
    }
    let engine = super::connect_engine(global).await?;
    reap(&engine).await;
    workflow.attach_audit_log(&audit)?;
    let interactive = std::io::stdin().is_terminal();
    let front = Front::new(output, interactive, args.yes);
    front.announce(&history.settings, &workflow);
    if !output.json() {
        eprintln!("Resuming from {status}.");
    }
    let environment = parts.into_environment(engine, audit, &front);
    let runner = Runner::resume(workflow, lock, history, environment, args.message.clone())?;
    finish(runner, front, output).await
}

async fn stop(
    store: &Store,
    id: &str,
    global: &GlobalArgs,
    output: &Output,
) -> anyhow::Result<Status> {
    let workflow = store.open(id)?;
    let status = workflow.history()?.status();
    if status.is_final() {
        report(
            output,
            id,
            status,
            &format!("Workflow {id} is already {status}."),
        )?;
        return Ok(Status::Success);
    }
    if let Some(owner) = workflow.holder()? {
        let signalled = dw_workflow::owner::terminate(&owner)
            .with_context(|| format!("cannot signal the dw process {owner}"))?;
        anyhow::ensure!(
            signalled,
            "workflow {id} is held by {owner}, which is not a dw process on this machine that dw \
             can signal; stop it there"
        );
        if !output.json() {
            eprintln!("Asked the dw process {owner} to stop workflow {id}; waiting for it…");
        }
        let Some(_lock) = workflow.lock_when_free(STOP_TIMEOUT).await? else {
            anyhow::bail!(
                "workflow {id} did not stop within {} s; its process {owner} may be stuck — kill \
                 it, then run `dw workflows stop {id}` again",
                STOP_TIMEOUT.as_secs()
            );
        };
        let status = workflow.history()?.status();
        report(output, id, status, &format!("Workflow {id} is {status}."))?;
        return Ok(if status.is_final() {
            Status::Success
        } else {
            Status::Problems
        });
    }
    // No process works on it: record the stop, and remove a sandbox a killed run left behind.
    let _lock = workflow.lock()?;
    let settings = workflow.history()?.settings;
    if settings.duo.is_some() {
        super::duo::stop_remote(&settings, status).await;
    }
    let mut log = workflow.event_log()?;
    log.append(&Record::Status {
        status: WorkflowStatus::Stopped,
        reason: Some("stopped with `dw workflows stop`".to_owned()),
        summary: None,
    })?;
    if let Ok(engine) = super::connect_engine(global).await {
        reap(&engine).await;
    }
    report(
        output,
        id,
        WorkflowStatus::Stopped,
        &format!("Workflow {id} is stopped."),
    )?;
    Ok(Status::Success)
}

fn report(output: &Output, id: &str, status: WorkflowStatus, text: &str) -> anyhow::Result<()> {
    if output.json() {
        output.json_value(&serde_json::json!({"id": id, "status": status}))
    } else {
        output.text(text);
        Ok(())
    }
}
