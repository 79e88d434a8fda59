//! `dw setup`: compute the plan, print it (`--dry-run`) or apply it, and render the report.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, bail};
use colored::Colorize;
use dw_runtime::kind::RuntimeKind;
use dw_setup::pull::PullEvent;
use dw_setup::{Observer, Options, Report, RuntimeRequest, Selection, StepId, StepStatus};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::Status;
use crate::cli::{GlobalArgs, SetupArgs, SetupRuntime, SetupStep};
use crate::output::Output;

pub async fn run(args: &SetupArgs, global: &GlobalArgs, output: &Output) -> anyhow::Result<Status> {
    let options = options(args, global);
    let plan = dw_setup::plan(&options)
        .await
        .context("dw setup cannot plan; nothing was changed")?;
    if args.dry_run {
        let report = dw_setup::preview(&plan);
        show(&report, true, output)?;
        return Ok(Status::Success);
    }
    if let Some(error) = plan.environment_error() {
        return Err(anyhow::Error::new(error).context("dw setup stopped; nothing was changed"));
    }
    if let Some(command) = plan.install_command() {
        confirm_install(command, args.yes)?;
    }
    let mut observer = Progress::new(output);
    let report = dw_setup::apply(&plan, &mut observer).await;
    drop(observer);
    show(&report, false, output)?;
    Ok(if report.succeeded() {
        Status::Success
    } else {
        Status::Problems
    })
}

fn options(args: &SetupArgs, global: &GlobalArgs) -> Options {
    let step = |step: &SetupStep| match step {
        SetupStep::Install => StepId::Install,
        SetupStep::Start => StepId::Start,
        SetupStep::Pull => StepId::Pull,
        SetupStep::Settings => StepId::Settings,
    };
    let runtime = match args.runtime {
        SetupRuntime::Auto => RuntimeRequest::Auto,
        SetupRuntime::Colima => RuntimeRequest::Colima,
        SetupRuntime::DockerDesktop => RuntimeRequest::Running(RuntimeKind::DockerDesktop),
        SetupRuntime::RancherDesktop => RuntimeRequest::Running(RuntimeKind::RancherDesktop),
        SetupRuntime::Orbstack => RuntimeRequest::Running(RuntimeKind::Orbstack),
        SetupRuntime::Podman => RuntimeRequest::Running(RuntimeKind::Podman),
        SetupRuntime::Existing => RuntimeRequest::Existing,
    };
    Options {
        runtime,
        socket: args.socket.clone(),
        host_flag: global.host.clone(),
        image: args.image.clone(),
        settings_files: args.settings_files.clone(),
        selection: Selection {
            only: args.only.iter().map(step).collect(),
            skip: args.skip.iter().map(step).collect(),
        },
        cpus: args.cpus,
        memory_gib: args.memory,
        disk_gib: args.disk,
        mounts: args.mounts.clone(),
        start_timeout: dw_setup::plan::DEFAULT_START_TIMEOUT,
    }
}

/// Asks before installing, unless `--yes`; refuses (exit 2) when nobody can be asked.
fn confirm_install(command: &[String], yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    let command = command.join(" ");
    if !std::io::stdin().is_terminal() {
        bail!(
            "dw setup needs to run `{command}` and asks before installing, but this is not an \
             interactive terminal; nothing was changed. Run `dw setup --yes` to install without \
             asking (or `dw setup --dry-run` to see the whole plan first)"
        );
    }
    let mut stderr = std::io::stderr().lock();
    write!(stderr, "dw setup will run `{command}`. Proceed? [y/N] ")?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        return Ok(());
    }
    bail!("nothing was installed or changed; run `{command}` yourself, then `dw setup` again")
}

fn show(report: &Report, dry_run: bool, output: &Output) -> anyhow::Result<()> {
    if output.json() {
        for note in &report.notes {
            eprintln!("note: {note}");
        }
        return output.json_value(report);
    }
    output.text(&render(report, dry_run));
    Ok(())
}

fn render(report: &Report, dry_run: bool) -> String {
    let mut lines = vec![format!(
        "Runtime: {} at {}",
        report.runtime.kind.display_name().bold(),
        report.runtime.socket
    )];
    lines.extend(
        report
            .notes
            .iter()
            .map(|note| format!("  {} {note}", "note:".yellow().bold())),
    );
    lines.push(String::new());
    if dry_run {
        lines.push("Dry run: nothing was changed. The plan, step by step:".to_owned());
        lines.push(String::new());
    }
    for step in &report.steps {
        let status = match step.status {
            StepStatus::Done => "done".green().bold(),
            StepStatus::Already => "already".green(),
            StepStatus::Skipped => "skipped".dimmed(),
            StepStatus::Planned => "planned".cyan(),
            StepStatus::Failed => "failed".red().bold(),
        };
        let padding = " ".repeat(8usize.saturating_sub(step.status.as_str().len()));
        lines.push(format!(
            "{:<8}  {status}{padding}  {}",
            step.id.as_str(),
            step.summary
        ));
        let indent = " ".repeat(20);
        for command in &step.commands {
            let verb = if dry_run { "would run" } else { "ran" };
            lines.push(format!("{indent}{verb}: {}", command.join(" ")));
        }
        for file in &step.files {
            if file.diff.is_empty() {
                lines.push(format!("{indent}{} (unchanged)", file.path.display()));
                continue;
            }
            lines.extend(
                file.diff
                    .lines()
                    .map(|line| format!("{indent}{}", diff_line(line))),
            );
        }
        if let Some(error) = &step.error {
            for (index, line) in error.lines().enumerate() {
                let label = if index == 0 { "error: " } else { "       " };
                lines.push(format!("{indent}{}{line}", label.red().bold()));
            }
        }
    }
    lines.push(String::new());
    lines.push(closing(report, dry_run));
    lines.join("\n")
}

fn diff_line(line: &str) -> String {
    if line.starts_with("+++") || line.starts_with("---") {
        line.bold().to_string()
    } else if line.starts_with('+') {
        line.green().to_string()
    } else if line.starts_with('-') {
        line.red().to_string()
    } else if line.starts_with("@@") {
        line.cyan().to_string()
    } else {
        line.to_owned()
    }
}

fn closing(report: &Report, dry_run: bool) -> String {
    let failed: Vec<&str> = report
        .steps
        .iter()
        .filter(|step| step.status == StepStatus::Failed)
        .map(|step| step.id.as_str())
        .collect();
    match (dry_run, failed.is_empty()) {
        (true, true) => "Run `dw setup` without --dry-run to do this.".to_owned(),
        (true, false) => format!(
            "{} would fail: {}. Fix what it says first.",
            "Planned steps".red().bold(),
            failed.join(", ")
        ),
        (false, true) => format!(
            "{} VS Code's GitLab Workflow extension uses the engine at {} (reload VS Code's \
             window to apply).",
            "Set up.".green().bold(),
            report.runtime.socket
        ),
        (false, false) => format!(
            "{} {}. Fix what it says and run `dw setup` again: steps already done are not \
             repeated.",
            "Failed:".red().bold(),
            failed.join(", ")
        ),
    }
}

/// Shows progress on stderr: a spinner while waiting, one bar per layer while pulling, on a
/// terminal; a few quiet lines otherwise; nothing under `--json`.
struct Progress {
    mode: ProgressMode,
    multi: MultiProgress,
    spinner: Option<ProgressBar>,
    layers: HashMap<String, ProgressBar>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ProgressMode {
    Bars,
    Lines,
    Silent,
}

impl Progress {
    fn new(output: &Output) -> Self {
        let mode = if output.json() {
            ProgressMode::Silent
        } else if std::io::stderr().is_terminal() {
            ProgressMode::Bars
        } else {
            ProgressMode::Lines
        };
        let target = if mode == ProgressMode::Bars {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Self {
            mode,
            multi: MultiProgress::with_draw_target(target),
            spinner: None,
            layers: HashMap::new(),
        }
    }

    fn line(&self, text: &str) {
        if self.mode == ProgressMode::Lines {
            eprintln!("{text}");
        }
    }

    fn layer_bar(&mut self, layer: &str) -> ProgressBar {
        if let Some(bar) = self.layers.get(layer) {
            return bar.clone();
        }
        let style = ProgressStyle::with_template(
            "{prefix:>12} {msg:<18} [{bar:30}] {bytes:>10}/{total_bytes:<10}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let bar = self.multi.add(ProgressBar::new(0).with_style(style));
        bar.set_prefix(layer.to_owned());
        self.layers.insert(layer.to_owned(), bar.clone());
        bar
    }
}

impl Observer for Progress {
    fn step_started(&mut self, step: StepId, summary: &str) {
        self.line(&format!("{step}: {summary}"));
    }

    fn waiting(&mut self, what: &str) {
        self.line(&format!("{what}…"));
        if self.mode != ProgressMode::Bars {
            return;
        }
        let spinner = self.multi.add(ProgressBar::new_spinner());
        spinner.set_message(what.to_owned());
        spinner.enable_steady_tick(Duration::from_millis(100));
        self.spinner = Some(spinner);
    }

    fn waited(&mut self) {
        if let Some(spinner) = self.spinner.take() {
            spinner.finish_and_clear();
        }
    }

    fn pull_event(&mut self, event: &PullEvent) {
        let Some(layer) = &event.layer else {
            return;
        };
        let finished = matches!(event.status.as_str(), "Pull complete" | "Already exists");
        if finished {
            self.line(&format!("  {layer}: {}", event.status));
        }
        if self.mode != ProgressMode::Bars {
            return;
        }
        let bar = self.layer_bar(layer);
        bar.set_message(event.status.clone());
        if let Some(total) = event.total {
            bar.set_length(total);
        }
        if let Some(current) = event.current {
            bar.set_position(current);
        }
        if finished {
            bar.finish();
        }
    }

    fn pull_finished(&mut self) {
        for bar in self.layers.values() {
            bar.finish_and_clear();
        }
        self.layers.clear();
    }
}
