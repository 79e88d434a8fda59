//! `dw doctor`: run the checks, render the findings.

use anyhow::Context as _;
use colored::{ColoredString, Colorize};
use dw_doctor::{Context, Finding, GitLab, ProbeSettings, Report, Settings, Status as CheckStatus};
use dw_runtime::discovery::DiscoveryEnv;
use dw_runtime::vscode::UserDirs;
use dw_workflow::sandbox::WORKFLOW_ID_ENV;

use crate::Status;
use crate::cli::{DoctorArgs, GlobalArgs};
use crate::output::Output;

/// `--check list` prints the check ids instead of running them.
const LIST: &str = "list";

pub async fn run(
    args: &DoctorArgs,
    global: &GlobalArgs,
    output: &Output,
) -> anyhow::Result<Status> {
    if args.checks.iter().any(|id| id == LIST) {
        return list(output);
    }
    let checks = dw_doctor::select(&args.checks)?;
    let workspace = std::fs::canonicalize(&args.workspace).with_context(|| {
        format!(
            "the workspace {} cannot be used; pass an existing project directory with --workspace",
            args.workspace.display()
        )
    })?;
    let discovery = DiscoveryEnv::from_process(global.host.clone())?;
    let settings = Settings {
        user_dirs: UserDirs::from_process(discovery.home.clone()),
        discovery,
        workspace,
        image: args.image.clone(),
        gitlab: GitLab::from_process(),
        deadline: dw_runtime::engine::default_deadline(),
        probe: probe_settings(args)?,
    };
    let context = Context::gather(settings).await;
    // Sandboxes that killed dw processes left behind are not "other containers" (shared-vm).
    if let Some(selected) = &context.engine {
        super::run::reap(&selected.engine).await;
    }
    // Interrupted, the checks are dropped: their probe containers are removed on the way out.
    let report = tokio::select! {
        report = dw_doctor::run(&context, &checks) => report,
        _ = tokio::signal::ctrl_c() => {
            output.error(&anyhow::anyhow!("interrupted; doctor's probe containers are removed"));
            return Ok(Status::Code(INTERRUPTED));
        }
    };
    if output.json() {
        output.json_value(&report)?;
    } else {
        output.text(&render(&report, output.verbose() > 0));
    }
    Ok(if report.has_failures() {
        Status::Problems
    } else {
        Status::Success
    })
}

/// The exit status of a process ended by SIGINT, as shells report it.
const INTERRUPTED: u8 = 130;

/// `--no-probe`, `--probe-address`, `--probe-network`, and the workflow id the probe
/// containers are labelled with (`DW_WORKFLOW_ID`, as for `dw sandbox`, else a fresh one).
fn probe_settings(args: &DoctorArgs) -> anyhow::Result<ProbeSettings> {
    let workflow_id = std::env::var(WORKFLOW_ID_ENV)
        .ok()
        .filter(|id| !id.trim().is_empty())
        .unwrap_or_else(dw_doctor::probe::fresh_workflow_id);
    Ok(ProbeSettings {
        enabled: !args.no_probe,
        addresses: dw_doctor::probe::parse_addresses(&args.probe_addresses)?,
        network: args.probe_network.clone(),
        workflow_id,
    })
}

fn list(output: &Output) -> anyhow::Result<Status> {
    if output.json() {
        let checks: Vec<_> = dw_doctor::CHECKS
            .iter()
            .map(|check| serde_json::json!({ "id": check.id, "risk": check.risk, "title": check.title }))
            .collect();
        output.json_value(&serde_json::json!({ "checks": checks }))?;
        return Ok(Status::Success);
    }
    let width = dw_doctor::ids()
        .iter()
        .map(|id| id.len())
        .max()
        .unwrap_or(0);
    let lines: Vec<String> = dw_doctor::CHECKS
        .iter()
        .map(|check| {
            let risk = check
                .risk
                .map_or_else(|| "  ".to_owned(), |risk| format!("{risk:>2}"));
            format!("{:width$}  {risk}  {}", check.id, check.title)
        })
        .collect();
    output.text(&lines.join("\n"));
    Ok(Status::Success)
}

fn symbol(status: CheckStatus) -> ColoredString {
    match status {
        CheckStatus::Pass => "[✓]".green().bold(),
        CheckStatus::Warn => "[!]".yellow().bold(),
        CheckStatus::Fail => "[✗]".red().bold(),
        CheckStatus::Skip => "[-]".dimmed(),
    }
}

/// One line per check; evidence and fix under anything not passing (under everything with -v);
/// the counts last.
fn render(report: &Report, verbose: bool) -> String {
    let width = report
        .checks
        .iter()
        .map(|finding| finding.id.len())
        .max()
        .unwrap_or(0);
    let mut lines = Vec::new();
    for finding in &report.checks {
        lines.push(format!(
            "{} {:width$}  {}",
            symbol(finding.status),
            finding.id,
            finding.summary
        ));
        if finding.status != CheckStatus::Pass || verbose {
            details(finding, &mut lines);
        }
    }
    let summary = &report.summary;
    lines.push(String::new());
    lines.push(format!(
        "{} check{}: {} passed, {} {}, {} failed, {} skipped",
        report.checks.len(),
        if report.checks.len() == 1 { "" } else { "s" },
        summary.pass,
        summary.warn,
        if summary.warn == 1 {
            "warning"
        } else {
            "warnings"
        },
        summary.fail,
        summary.skip,
    ));
    lines.join("\n")
}

fn details(finding: &Finding, lines: &mut Vec<String>) {
    for line in &finding.evidence {
        lines.push(format!("      {line}"));
    }
    if let Some(fix) = &finding.fix {
        lines.push(format!("      {} {fix}", "fix:".bold()));
    }
}
