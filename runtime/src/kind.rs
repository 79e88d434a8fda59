//! The kinds of container runtime dw knows, and how an engine reveals which one it is.
//!
//! A socket's place suggests a kind (`~/.colima/default/docker.sock` is Colima), but only the
//! engine's own answer is evidence: a `DOCKER_HOST` may point anywhere. [`RuntimeKind::refine`]
//! reads `/version` and `/info` the way the traps seen in real output require (OrbStack calls
//! itself "Docker Engine - Community", Colima looks like plain Ubuntu but for its name, Rancher
//! Desktop on WSL2 reports the Windows host name).

use std::fmt;

use serde::{Serialize, Serializer};

use crate::facts::EngineFacts;

/// A kind of container runtime. The strings of [`RuntimeKind::as_str`] are a stable interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuntimeKind {
    /// Docker Desktop (macOS, Windows, Linux): an engine in a VM.
    DockerDesktop,
    /// Colima: Lima-managed VM running Docker.
    Colima,
    /// Rancher Desktop: a VM (Lima or WSL2) running dockerd (moby).
    RancherDesktop,
    /// OrbStack: a lightweight VM on macOS.
    Orbstack,
    /// Podman's Docker-compatible API, natively or in a Podman machine.
    Podman,
    /// A plain Lima instance running Docker.
    Lima,
    /// Docker Engine running directly on this host as root.
    DockerEngine,
    /// Docker Engine running directly on this host as an unprivileged user.
    DockerEngineRootless,
    /// Anything else: an address dw cannot attribute.
    Custom,
}

impl RuntimeKind {
    /// Every kind, in the order dw lists them.
    pub const ALL: [Self; 9] = [
        Self::DockerDesktop,
        Self::Colima,
        Self::RancherDesktop,
        Self::Orbstack,
        Self::Podman,
        Self::Lima,
        Self::DockerEngine,
        Self::DockerEngineRootless,
        Self::Custom,
    ];

    /// The stable identifier (`docker-desktop`, `colima`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DockerDesktop => "docker-desktop",
            Self::Colima => "colima",
            Self::RancherDesktop => "rancher-desktop",
            Self::Orbstack => "orbstack",
            Self::Podman => "podman",
            Self::Lima => "lima",
            Self::DockerEngine => "docker-engine",
            Self::DockerEngineRootless => "docker-engine-rootless",
            Self::Custom => "custom",
        }
    }

    /// The product's name, for people.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::DockerDesktop => "Docker Desktop",
            Self::Colima => "Colima",
            Self::RancherDesktop => "Rancher Desktop",
            Self::Orbstack => "OrbStack",
            Self::Podman => "Podman",
            Self::Lima => "Lima",
            Self::DockerEngine => "Docker Engine",
            Self::DockerEngineRootless => "Docker Engine (rootless)",
            Self::Custom => "custom engine",
        }
    }

    /// Parses a stable identifier.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == id)
    }

    /// Whether this kind runs its engine inside a virtual machine by design.
    pub fn is_vm_backed(self) -> bool {
        matches!(
            self,
            Self::DockerDesktop | Self::Colima | Self::RancherDesktop | Self::Orbstack | Self::Lima
        )
    }

    /// What to do when this kind's socket is missing: start the runtime.
    pub fn start_hint(self) -> &'static str {
        match self {
            Self::DockerDesktop => "start Docker Desktop",
            Self::Colima => "run `colima start` (or `dw setup`)",
            Self::RancherDesktop => "start Rancher Desktop",
            Self::Orbstack => "start OrbStack (`orb start`)",
            Self::Podman => {
                "run `podman machine start`, or `systemctl --user start podman.socket` on Linux"
            }
            Self::Lima => "run `limactl start` for the instance",
            Self::DockerEngine => "start the engine (`sudo systemctl start docker`)",
            Self::DockerEngineRootless => {
                "start the rootless engine (`systemctl --user start docker`)"
            }
            Self::Custom => "start the engine that should listen there, or fix the address",
        }
    }

    /// The kind the engine's own answers reveal, or `self` when they reveal nothing more.
    ///
    /// Rules, most specific first: Podman's component; Docker Desktop's operating system or
    /// platform; OrbStack's operating system or name; Rancher Desktop's WSL distribution or Lima
    /// instance name; Colima's VM name (`colima` or `colima-<profile>`); any other Lima instance
    /// (`lima-<name>`). An engine that is none of those keeps the kind its place suggested, and
    /// one found at an address of unknown kind is a Docker Engine (rootless when it says so).
    pub fn refine(self, facts: &EngineFacts) -> Self {
        if let Some(kind) = revealed_kind(facts) {
            return kind;
        }
        match self {
            Self::Custom | Self::DockerEngine | Self::DockerEngineRootless => {
                if facts.security.rootless {
                    Self::DockerEngineRootless
                } else {
                    Self::DockerEngine
                }
            }
            other => other,
        }
    }
}

fn revealed_kind(facts: &EngineFacts) -> Option<RuntimeKind> {
    let name = facts.name.to_ascii_lowercase();
    let operating_system = facts.operating_system.to_ascii_lowercase();
    let platform = facts
        .platform_name
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if facts
        .components
        .iter()
        .any(|component| component.name.eq_ignore_ascii_case("Podman Engine"))
    {
        return Some(RuntimeKind::Podman);
    }
    if operating_system == "docker desktop" || platform.starts_with("docker desktop") {
        return Some(RuntimeKind::DockerDesktop);
    }
    if operating_system.contains("orbstack") || name == "orbstack" {
        return Some(RuntimeKind::Orbstack);
    }
    if operating_system.contains("rancher desktop") || name == "lima-rancher-desktop" {
        return Some(RuntimeKind::RancherDesktop);
    }
    if name == "colima" || name.starts_with("colima-") {
        return Some(RuntimeKind::Colima);
    }
    if name.starts_with("lima-") {
        return Some(RuntimeKind::Lima);
    }
    None
}

impl fmt::Display for RuntimeKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl Serialize for RuntimeKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Component, SecurityOptions};

    fn facts(name: &str, operating_system: &str) -> EngineFacts {
        EngineFacts {
            name: name.to_owned(),
            operating_system: operating_system.to_owned(),
            ..EngineFacts::default()
        }
    }

    #[test]
    fn identifiers_round_trip() {
        for kind in RuntimeKind::ALL {
            assert_eq!(RuntimeKind::from_id(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn answers_reveal_the_kind_behind_any_address() {
        let cases = [
            (
                facts("docker-desktop", "Docker Desktop"),
                RuntimeKind::DockerDesktop,
            ),
            (facts("colima", "Ubuntu 24.04.1 LTS"), RuntimeKind::Colima),
            (
                facts("colima-work", "Ubuntu 24.04.1 LTS"),
                RuntimeKind::Colima,
            ),
            (
                facts("orbstack", "Docker Engine - Community"),
                RuntimeKind::Orbstack,
            ),
            (
                facts("DESKTOP-1A2B", "Rancher Desktop WSL Distribution"),
                RuntimeKind::RancherDesktop,
            ),
            (
                facts("lima-rancher-desktop", "Alpine Linux v3.20"),
                RuntimeKind::RancherDesktop,
            ),
            (facts("lima-docker", "Ubuntu 24.04 LTS"), RuntimeKind::Lima),
            (
                facts("vm", "Debian GNU/Linux 12 (bookworm)"),
                RuntimeKind::DockerEngine,
            ),
        ];
        for (facts, expected) in cases {
            assert_eq!(RuntimeKind::Custom.refine(&facts), expected, "{facts:?}");
        }
    }

    #[test]
    fn podman_is_known_by_its_component_and_rootless_by_its_option() {
        let podman = EngineFacts {
            components: vec![Component {
                name: "Podman Engine".to_owned(),
                version: "5.2.0".to_owned(),
                git_commit: None,
            }],
            ..facts("fedora", "fedora")
        };
        assert_eq!(RuntimeKind::Custom.refine(&podman), RuntimeKind::Podman);
        let rootless = EngineFacts {
            security: SecurityOptions::parse(&["name=rootless".to_owned()]),
            ..facts("vm", "Debian GNU/Linux 12 (bookworm)")
        };
        assert_eq!(
            RuntimeKind::DockerEngine.refine(&rootless),
            RuntimeKind::DockerEngineRootless
        );
    }

    #[test]
    fn a_known_place_keeps_its_kind_when_the_answer_is_silent() {
        let plain = facts("lima-box", "Ubuntu");
        assert_eq!(
            RuntimeKind::Colima.refine(&facts("ubuntu", "Ubuntu")),
            RuntimeKind::Colima
        );
        assert_eq!(RuntimeKind::Custom.refine(&plain), RuntimeKind::Lima);
    }
}
