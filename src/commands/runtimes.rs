//! `dw runtimes`: the engines on this machine, in the order dw tries them, and the one it uses.

use colored::Colorize;
use dw_runtime::discovery::{self, Discovery, DiscoveryEnv, Runtime};
use serde::Serialize;

use crate::Status;
use crate::cli::{GlobalArgs, RuntimesArgs};
use crate::output::Output;

/// The `--json` document: a stable interface.
#[derive(Serialize)]
struct Report<'a> {
    selected: Option<usize>,
    reason: Option<String>,
    runtimes: Vec<RuntimeReport<'a>>,
    warnings: &'a [String],
}

#[derive(Serialize)]
struct RuntimeReport<'a> {
    kind: &'static str,
    source: String,
    endpoint: &'a str,
    exists: bool,
    reachable: bool,
    server_version: Option<&'a str>,
    api_version: Option<&'a str>,
    operating_system: Option<&'a str>,
    error: Option<&'a str>,
}

impl<'a> From<&'a Runtime> for RuntimeReport<'a> {
    fn from(runtime: &'a Runtime) -> Self {
        let facts = runtime.facts.as_ref();
        Self {
            kind: runtime.kind.as_str(),
            source: runtime.source.to_string(),
            endpoint: &runtime.endpoint,
            exists: runtime.exists,
            reachable: runtime.reachable,
            server_version: facts.map(|facts| facts.server_version.as_str()),
            api_version: facts.map(|facts| facts.api_version.as_str()),
            operating_system: facts.map(|facts| facts.operating_system.as_str()),
            error: runtime.error.as_deref(),
        }
    }
}

pub async fn run(
    _args: &RuntimesArgs,
    global: &GlobalArgs,
    output: &Output,
) -> anyhow::Result<Status> {
    let env = DiscoveryEnv::from_process(global.host.clone())?;
    let found = discovery::discover(&env, dw_runtime::engine::default_deadline()).await;
    if output.json() {
        output.json_value(&Report {
            selected: found.selected,
            reason: found.selection_reason(),
            runtimes: found.runtimes.iter().map(RuntimeReport::from).collect(),
            warnings: &found.warnings,
        })?;
    } else {
        output.text(&render(&found, output.verbose() > 0));
    }
    Ok(if found.selected.is_some() {
        Status::Success
    } else {
        Status::Problems
    })
}

fn render(found: &Discovery, verbose: bool) -> String {
    let mut lines = Vec::new();
    for warning in &found.warnings {
        lines.push(format!("{} {warning}", "warning:".yellow().bold()));
    }
    if found.runtimes.is_empty() {
        lines.push(
            "No container engine found: no --host, DOCKER_HOST or Docker context, and no socket \
             at any known runtime's place.\nRun `dw setup` to install and start Colima."
                .to_owned(),
        );
        return lines.join("\n");
    }
    lines.push("Container engines, in the order dw tries them:".to_owned());
    lines.push(String::new());
    let kind_width = column_width(found, |runtime| runtime.kind.as_str().len());
    let source_width = column_width(found, |runtime| runtime.source.to_string().len());
    for (index, runtime) in found.runtimes.iter().enumerate() {
        let marker = match (found.selected == Some(index), runtime.reachable) {
            (true, _) => "→".green().bold(),
            (false, true) => "✓".green(),
            (false, false) => "✗".red(),
        };
        lines.push(format!(
            " {marker} {:<kind_width$}  {:<source_width$}  {}",
            runtime.kind.as_str(),
            runtime.source.to_string(),
            runtime.endpoint
        ));
        let detail = match (&runtime.facts, &runtime.error) {
            (Some(facts), _) => format!(
                "engine {} (API {}), {}",
                facts.server_version, facts.api_version, facts.operating_system
            )
            .normal(),
            (None, Some(error)) => error.as_str().dimmed(),
            (None, None) => "".normal(),
        };
        lines.push(format!("     {detail}"));
        if let (true, Some(facts)) = (verbose, &runtime.facts) {
            lines.extend(
                facts_lines(facts)
                    .into_iter()
                    .map(|line| format!("       {line}")),
            );
        }
    }
    lines.push(String::new());
    lines.push(match (found.selected(), found.selection_reason()) {
        (Some(runtime), Some(reason)) => format!(
            "dw uses {} at {}: {reason}.",
            runtime.kind.display_name().bold(),
            runtime.endpoint
        ),
        _ => format!(
            "{} none of these engines answers. Start one of them (each line above says how), \
             or run `dw setup`.",
            "No engine to use:".red().bold()
        ),
    });
    lines.join("\n")
}

/// The facts `-v` adds under a reachable engine.
fn facts_lines(facts: &dw_runtime::facts::EngineFacts) -> Vec<String> {
    let gib = |bytes: u64| bytes as f64 / f64::from(1u32 << 30);
    let mut lines = vec![
        format!(
            "name {}, kernel {}, {}",
            facts.name, facts.kernel_version, facts.architecture
        ),
        format!(
            "{} CPUs, {:.1} GiB memory, data in {} ({})",
            facts.cpus,
            gib(facts.memory_bytes),
            facts.docker_root_dir,
            facts.storage_driver
        ),
    ];
    if let Some(platform) = &facts.platform_name {
        lines.push(format!("platform {platform}"));
    }
    let components: Vec<String> = facts
        .components
        .iter()
        .map(|component| format!("{} {}", component.name, component.version))
        .collect();
    if !components.is_empty() {
        lines.push(components.join(", "));
    }
    if !facts.security.raw.is_empty() {
        lines.push(format!("security: {}", facts.security.raw.join("; ")));
    }
    lines
}

fn column_width(found: &Discovery, width: impl Fn(&Runtime) -> usize) -> usize {
    found.runtimes.iter().map(width).max().unwrap_or(0)
}
