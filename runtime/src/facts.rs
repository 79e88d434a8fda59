//! One typed struct from an engine's `GET /version` and `GET /info`.
//!
//! The Engine API's own models are large and change between versions; [`EngineFacts`] keeps what
//! dw's journeys decide on, with plain types and no `Option` soup where a default is meaningful.

use bollard::models::{SystemInfo, SystemVersion};
use serde::Serialize;

/// What an engine says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EngineFacts {
    /// The engine's version (`/version` `Version`), e.g. `27.4.0` or `20.10.24+dfsg1`.
    pub server_version: String,
    /// The highest Engine API version the engine speaks, e.g. `1.47`.
    pub api_version: String,
    /// The lowest Engine API version the engine accepts.
    pub min_api_version: Option<String>,
    /// `Platform.Name`: where Docker Desktop puts its own version ("Docker Desktop 4.44.3 (202357)").
    pub platform_name: Option<String>,
    /// `Components`: the engine, containerd, runc, docker-init … with their versions.
    pub components: Vec<Component>,
    /// `OperatingSystem`, e.g. "Docker Desktop", "Ubuntu 24.04.1 LTS", "OrbStack".
    pub operating_system: String,
    /// `OSType`, e.g. `linux`.
    pub os_type: String,
    /// The kernel the engine runs on.
    pub kernel_version: String,
    /// `Name`: the engine host's hostname (`colima`, `docker-desktop`, `orbstack` in VMs).
    pub name: String,
    /// `Architecture`, e.g. `x86_64` or `aarch64`.
    pub architecture: String,
    /// CPUs the engine can use.
    pub cpus: u64,
    /// Memory the engine can use, in bytes.
    pub memory_bytes: u64,
    /// Where the engine keeps images and containers.
    pub docker_root_dir: String,
    /// The storage driver, e.g. `overlay2`.
    pub storage_driver: String,
    /// What `SecurityOptions` says.
    pub security: SecurityOptions,
    /// `CgroupDriver`, e.g. `cgroupfs` or `systemd`.
    pub cgroup_driver: String,
    /// `CgroupVersion`, `1` or `2`.
    pub cgroup_version: String,
    /// The OCI runtimes the engine offers (`runc`, `io.containerd.runc.v2`, `nvidia` …), sorted.
    pub runtimes: Vec<String>,
    /// The runtime containers get unless they ask for another.
    pub default_runtime: String,
    /// Engine labels.
    pub labels: Vec<String>,
    /// Containers running right now.
    pub containers_running: u64,
    /// Authorization plugins the engine consults (`Plugins.Authorization`).
    pub authorization_plugins: Vec<String>,
}

/// One entry of `/version` `Components`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Component {
    /// `Engine`, `containerd`, `runc`, `docker-init`, `Podman Engine` …
    pub name: String,
    /// The component's version as reported.
    pub version: String,
    /// `Details.GitCommit`: Debian and Ubuntu put the full package version here.
    pub git_commit: Option<String>,
}

/// The parsed `SecurityOptions` list (`name=seccomp,profile=builtin`, `name=rootless` …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SecurityOptions {
    /// The engine runs as an unprivileged user.
    pub rootless: bool,
    /// The seccomp profile, when seccomp is on (`builtin`, `default` …).
    pub seccomp_profile: Option<String>,
    /// AppArmor confines containers.
    pub apparmor: bool,
    /// SELinux confines containers.
    pub selinux: bool,
    /// User namespaces remap container root.
    pub userns: bool,
    /// The list as the engine sent it.
    pub raw: Vec<String>,
}

impl SecurityOptions {
    /// Parses the engine's `SecurityOptions` strings.
    pub fn parse(options: &[String]) -> Self {
        let mut parsed = Self {
            raw: options.to_vec(),
            ..Self::default()
        };
        for option in options {
            let mut name = None;
            let mut profile = None;
            for field in option.split(',') {
                match field.split_once('=') {
                    Some(("name", value)) => name = Some(value),
                    Some(("profile", value)) => profile = Some(value),
                    _ => {}
                }
            }
            match name {
                Some("rootless") => parsed.rootless = true,
                Some("seccomp") => {
                    parsed.seccomp_profile = Some(profile.unwrap_or("default").to_owned())
                }
                Some("apparmor") => parsed.apparmor = true,
                Some("selinux") => parsed.selinux = true,
                Some("userns") => parsed.userns = true,
                _ => {}
            }
        }
        parsed
    }
}

impl EngineFacts {
    /// Builds the facts from the two answers.
    pub fn from_answers(version: SystemVersion, info: SystemInfo) -> Self {
        let components = version
            .components
            .unwrap_or_default()
            .into_iter()
            .map(|component| Component {
                git_commit: component
                    .details
                    .as_ref()
                    .and_then(|details| details.get("GitCommit"))
                    .filter(|commit| !commit.is_empty())
                    .cloned(),
                name: component.name,
                version: component.version,
            })
            .collect();
        let mut runtimes: Vec<String> = info.runtimes.unwrap_or_default().into_keys().collect();
        runtimes.sort();
        Self {
            server_version: version.version.or(info.server_version).unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            min_api_version: version.min_api_version,
            platform_name: version
                .platform
                .map(|platform| platform.name)
                .filter(|name| !name.is_empty()),
            components,
            operating_system: info.operating_system.unwrap_or_default(),
            os_type: info.os_type.unwrap_or_default(),
            kernel_version: info
                .kernel_version
                .or(version.kernel_version)
                .unwrap_or_default(),
            name: info.name.unwrap_or_default(),
            architecture: info.architecture.unwrap_or_default(),
            cpus: non_negative(info.ncpu),
            memory_bytes: non_negative(info.mem_total),
            docker_root_dir: info.docker_root_dir.unwrap_or_default(),
            storage_driver: info.driver.unwrap_or_default(),
            security: SecurityOptions::parse(&info.security_options.unwrap_or_default()),
            cgroup_driver: info
                .cgroup_driver
                .map(|driver| driver.to_string())
                .unwrap_or_default(),
            cgroup_version: info
                .cgroup_version
                .map(|version| version.to_string())
                .unwrap_or_default(),
            runtimes,
            default_runtime: info.default_runtime.unwrap_or_default(),
            labels: info.labels.unwrap_or_default(),
            containers_running: non_negative(info.containers_running),
            authorization_plugins: info
                .plugins
                .and_then(|plugins| plugins.authorization)
                .unwrap_or_default(),
        }
    }

    /// The component of that name (case-insensitive), e.g. `runc` or `containerd`.
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components
            .iter()
            .find(|component| component.name.eq_ignore_ascii_case(name))
    }
}

fn non_negative(value: Option<i64>) -> u64 {
    value
        .and_then(|value| u64::try_from(value).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_options_are_parsed_field_by_field() {
        let options = SecurityOptions::parse(&[
            "name=seccomp,profile=builtin".to_owned(),
            "name=rootless".to_owned(),
            "name=cgroupns".to_owned(),
        ]);
        assert!(options.rootless);
        assert_eq!(options.seccomp_profile.as_deref(), Some("builtin"));
        assert!(!options.apparmor && !options.selinux && !options.userns);
    }
}
