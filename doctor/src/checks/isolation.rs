//! `vm-isolation`: whether the engine runs in a VM or on this host.

use dw_runtime::endpoint::Endpoint;
use dw_runtime::facts::EngineFacts;
use dw_runtime::host::{HostFacts, Os};
use dw_runtime::kind::RuntimeKind;
use futures_util::future::BoxFuture;

use crate::check::CheckResult;
use crate::context::Context;
use crate::finding::Outcome;

/// `vm-isolation`, from the engine's `/info` against this host's facts.
pub fn vm_isolation(context: &Context) -> BoxFuture<'_, CheckResult> {
    Box::pin(async move {
        let engine = super::engine(context)?;
        Ok(classify(
            &context.host,
            engine.kind,
            &engine.endpoint,
            &engine.facts,
        ))
    })
}

const MOVE_TO_A_VM: &str = "run the agent's engine in a VM: `dw setup` installs and starts Colima, then point dw and VS Code at it (`dw setup --only settings`)";

/// The rules, as a pure function of the facts.
pub fn classify(
    host: &HostFacts,
    kind: RuntimeKind,
    endpoint: &Endpoint,
    facts: &EngineFacts,
) -> Outcome {
    let identity = format!(
        "engine: OperatingSystem {:?}, Name {:?}, KernelVersion {}",
        facts.operating_system, facts.name, facts.kernel_version
    );
    if let Endpoint::Tcp(address) = endpoint {
        return Outcome::fail(format!("the engine is reached over plain TCP ({address}) without TLS"))
            .evidence(format!("endpoint tcp://{address}"))
            .evidence("anyone who can connect to that port controls the engine, and through it whatever the engine's machine can reach")
            .evidence(identity)
            .fix("use the engine's unix socket (forward it over SSH if the engine is remote), or bind the engine to a socket instead of a TCP port");
    }
    let same_kernel =
        !facts.kernel_version.is_empty() && facts.kernel_version == host.kernel_release;
    let same_name = !facts.name.is_empty() && facts.name.eq_ignore_ascii_case(&host.hostname);
    if host.os == Os::Linux && same_kernel && same_name {
        let mut outcome = Outcome::fail("the engine runs on this host, not in a VM")
            .evidence(format!("KernelVersion {} equals this host's kernel", facts.kernel_version))
            .evidence(format!("Name {:?} equals this host's hostname", facts.name))
            .evidence(format!("{} on {:?}", kind.display_name(), facts.operating_system))
            .evidence("a container escape lands directly on this machine, with your files and credentials");
        if facts.security.rootless {
            outcome = outcome.evidence("the engine is rootless: an escape gets your user's rights, not root's, which limits the damage but still reaches everything you own");
        }
        return outcome.fix(MOVE_TO_A_VM);
    }
    if kind.is_vm_backed() {
        return Outcome::pass(format!("{} runs the engine in a VM", kind.display_name()))
            .evidence(identity)
            .evidence(format!(
                "this host: {} kernel {}, hostname {:?}",
                host.os_name, host.kernel_release, host.hostname
            ));
    }
    if host.os != Os::Linux {
        return Outcome::pass("the engine runs in a Linux VM (this host is not Linux)")
            .evidence(identity)
            .evidence(format!("this host: {} {}", host.os_name, host.os_version));
    }
    Outcome::warn(format!("{} does not run on this host, but dw cannot tell what it runs in", kind.display_name()))
        .evidence(identity)
        .evidence(format!("this host: kernel {}, hostname {:?}", host.kernel_release, host.hostname))
        .evidence("the kernel or name differ from this host's, so it is another machine or a VM dw does not know")
        .fix("make sure the engine's machine is a VM used only for the agent; or use Colima (`dw setup`)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Status;
    use dw_runtime::facts::SecurityOptions;

    fn host() -> HostFacts {
        HostFacts {
            os: Os::Linux,
            os_name: "Debian GNU/Linux".to_owned(),
            os_version: "12".to_owned(),
            architecture: "x86_64".to_owned(),
            kernel_release: "6.1.0-18-amd64".to_owned(),
            hostname: "workstation".to_owned(),
            cpus: 8,
            memory_bytes: 16 << 30,
        }
    }

    fn facts(name: &str, kernel: &str) -> EngineFacts {
        EngineFacts {
            name: name.to_owned(),
            kernel_version: kernel.to_owned(),
            ..EngineFacts::default()
        }
    }

    fn socket() -> Endpoint {
        Endpoint::Unix("/var/run/docker.sock".into())
    }

    #[test]
    fn an_engine_with_this_hosts_kernel_and_name_runs_on_the_host() {
        let outcome = classify(
            &host(),
            RuntimeKind::DockerEngine,
            &socket(),
            &facts("workstation", "6.1.0-18-amd64"),
        );
        assert_eq!(outcome.status, Status::Fail);
        assert!(outcome.evidence[0].contains("equals this host's kernel"));
    }

    #[test]
    fn rootless_on_the_host_is_still_a_fail_with_a_note() {
        let rootless = EngineFacts {
            security: SecurityOptions::parse(&["name=rootless".to_owned()]),
            ..facts("workstation", "6.1.0-18-amd64")
        };
        let outcome = classify(
            &host(),
            RuntimeKind::DockerEngineRootless,
            &socket(),
            &rootless,
        );
        assert_eq!(outcome.status, Status::Fail);
        assert!(
            outcome
                .evidence
                .iter()
                .any(|line| line.contains("rootless"))
        );
    }

    #[test]
    fn plain_tcp_is_a_fail_of_its_own() {
        let outcome = classify(
            &host(),
            RuntimeKind::Colima,
            &Endpoint::Tcp("10.0.0.5:2375".into()),
            &facts("colima", "6.8.0"),
        );
        assert_eq!(outcome.status, Status::Fail);
        assert!(outcome.summary.contains("without TLS"));
    }

    #[test]
    fn known_vm_runtimes_pass_and_unknown_machines_warn() {
        let colima = classify(
            &host(),
            RuntimeKind::Colima,
            &socket(),
            &facts("colima", "6.8.0-50-generic"),
        );
        assert_eq!(colima.status, Status::Pass);
        let unknown = classify(
            &host(),
            RuntimeKind::DockerEngine,
            &socket(),
            &facts("buildbox", "6.8.0-50-generic"),
        );
        assert_eq!(unknown.status, Status::Warn);
        let mac = HostFacts {
            os: Os::MacOs,
            ..host()
        };
        let podman = classify(
            &mac,
            RuntimeKind::Podman,
            &socket(),
            &facts("localhost.localdomain", "6.12.0"),
        );
        assert_eq!(podman.status, Status::Pass);
    }
}
