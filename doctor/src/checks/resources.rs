//! `resource-limits`: how much of this host the engine may use.

use dw_runtime::kind::RuntimeKind;
use futures_util::future::BoxFuture;

use super::gibibytes;
use crate::check::CheckResult;
use crate::context::Context;
use crate::finding::{Outcome, Status};

/// How each runtime's limits are changed; `{cpus}`, `{memory}` (GiB) are filled in.
const FIXES: &[(RuntimeKind, &str)] = &[
    (
        RuntimeKind::Colima,
        "colima stop && colima start --cpu {cpus} --memory {memory} --disk 60",
    ),
    (
        RuntimeKind::DockerDesktop,
        "Docker Desktop → Settings → Resources: CPU limit {cpus}, memory limit {memory} GB",
    ),
    (
        RuntimeKind::RancherDesktop,
        "Rancher Desktop → Preferences → Virtual Machine: {cpus} CPUs, {memory} GB memory",
    ),
    (
        RuntimeKind::Orbstack,
        "orb config set cpu {cpus} && orb config set memory_mib {memory_mib}",
    ),
    (
        RuntimeKind::Podman,
        "podman machine stop && podman machine set --cpus {cpus} --memory {memory_mib} && podman machine start",
    ),
    (
        RuntimeKind::Lima,
        "set `cpus: {cpus}` and `memory: \"{memory}GiB\"` in the instance's lima.yaml, then `limactl stop` and `limactl start` it",
    ),
];

const NATIVE_FIX: &str = "the engine shares this host: dw's sandbox limits each container (pids, memory, CPU), but other containers are unbounded; a VM runtime (Colima, `dw setup`) bounds the whole engine";

/// `resource-limits`: NCPU and MemTotal against the host's; disk space of the data root.
pub fn resource_limits(context: &Context) -> BoxFuture<'_, CheckResult> {
    Box::pin(async move {
        let engine = super::engine(context)?;
        let facts = &engine.facts;
        let host = &context.host;
        let all_cpus = host.cpus > 0 && facts.cpus >= host.cpus;
        let most_memory = host.memory_bytes > 0
            && facts.memory_bytes.saturating_mul(4) > host.memory_bytes.saturating_mul(3);
        let mut evidence = vec![
            format!(
                "engine: {} CPUs, {} memory",
                facts.cpus,
                gibibytes(facts.memory_bytes)
            ),
            format!(
                "this host: {} CPUs, {} memory",
                host.cpus,
                gibibytes(host.memory_bytes)
            ),
        ];
        evidence.push(disk_space(context, &facts.docker_root_dir));
        let mut problems = Vec::new();
        if all_cpus {
            problems.push("all of this host's CPUs");
        }
        if most_memory {
            problems.push("more than ¾ of its memory");
        }
        let status = if problems.is_empty() {
            Status::Pass
        } else {
            Status::Warn
        };
        let summary = if problems.is_empty() {
            format!(
                "the engine may use {} of {} CPUs and {} of {} memory",
                facts.cpus,
                host.cpus,
                gibibytes(facts.memory_bytes),
                gibibytes(host.memory_bytes)
            )
        } else {
            format!("a runaway container may use {}", problems.join(" and "))
        };
        let mut outcome = Outcome::new(status, summary).evidence_lines(evidence);
        if status != Status::Pass {
            outcome = outcome.fix(fix(engine.kind, host.cpus, host.memory_bytes));
        }
        Ok(outcome)
    })
}

fn fix(kind: RuntimeKind, host_cpus: u64, host_memory: u64) -> String {
    let cpus = (host_cpus / 2).max(1);
    let memory = (host_memory >> 30) / 2;
    let memory = memory.max(1);
    FIXES
        .iter()
        .find(|(known, _)| *known == kind)
        .map(|(_, template)| {
            template
                .replace("{cpus}", &cpus.to_string())
                .replace("{memory_mib}", &(memory * 1024).to_string())
                .replace("{memory}", &memory.to_string())
        })
        .unwrap_or_else(|| NATIVE_FIX.to_owned())
}

/// The free space of the engine's data root, when it is on this machine.
fn disk_space(context: &Context, root: &str) -> String {
    let engine_on_this_host = context.engine.as_ref().is_some_and(|engine| {
        engine.facts.kernel_version == context.host.kernel_release
            && engine
                .facts
                .name
                .eq_ignore_ascii_case(&context.host.hostname)
    });
    if root.is_empty() || !engine_on_this_host {
        return format!("data root {root}: inside the engine's VM, not measured from here");
    }
    match nix::sys::statvfs::statvfs(root) {
        Ok(stats) => {
            let block = stats.fragment_size();
            let free = stats.blocks_available().saturating_mul(block);
            let total = stats.blocks().saturating_mul(block);
            format!(
                "data root {root}: {} free of {}",
                gibibytes(free),
                gibibytes(total)
            )
        }
        Err(error) => format!("data root {root}: free space unknown ({error})"),
    }
}
