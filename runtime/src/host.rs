//! Facts about this machine: OS, architecture, kernel, hostname, CPUs, memory, and the user.

use serde::Serialize;
use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};

/// The operating systems whose conventions dw knows (paths of settings, runtimes' sockets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    /// Linux.
    Linux,
    /// macOS.
    #[serde(rename = "macos")]
    MacOs,
    /// Windows.
    Windows,
}

impl Os {
    /// The OS this binary was built for.
    pub fn current() -> Self {
        if cfg!(target_os = "macos") {
            Self::MacOs
        } else if cfg!(target_os = "windows") {
            Self::Windows
        } else {
            Self::Linux
        }
    }
}

/// What sysinfo tells about this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostFacts {
    /// The OS family dw applies conventions for.
    pub os: Os,
    /// The OS's name, e.g. "Debian GNU/Linux" or "Darwin".
    pub os_name: String,
    /// The OS's version, e.g. "12" or "15.1".
    pub os_version: String,
    /// The CPU architecture, e.g. `x86_64` or `arm64`.
    pub architecture: String,
    /// The kernel release, e.g. `6.1.0-18-amd64` (what `uname -r` prints).
    pub kernel_release: String,
    /// This machine's hostname.
    pub hostname: String,
    /// Logical CPUs.
    pub cpus: u64,
    /// Total memory in bytes.
    pub memory_bytes: u64,
}

impl HostFacts {
    /// Reads the facts from the running system. Values the OS does not give are empty or zero.
    pub fn detect() -> Self {
        let refresh = RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing())
            .with_memory(MemoryRefreshKind::nothing().with_ram());
        let (cpus, memory_bytes) = match System::new_with_specifics(refresh) {
            Ok(system) => (system.cpus().len() as u64, system.total_memory()),
            Err(_) => (0, 0),
        };
        Self {
            os: Os::current(),
            os_name: System::name().unwrap_or_default(),
            os_version: System::os_version().unwrap_or_default(),
            architecture: System::cpu_arch(),
            kernel_release: System::kernel_version().unwrap_or_default(),
            hostname: System::host_name().unwrap_or_default(),
            cpus,
            memory_bytes,
        }
    }
}

/// The name of a user id, or the number when no name is known.
pub fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|user| user.name)
        .unwrap_or_else(|| uid.to_string())
}

/// The name of a group id, or the number when no name is known.
pub fn group_name(gid: u32) -> String {
    nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))
        .ok()
        .flatten()
        .map(|group| group.name)
        .unwrap_or_else(|| gid.to_string())
}

/// Whether the current user belongs to a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// This process has the group now.
    Active,
    /// The group database lists the user, but this login session predates it.
    PendingLogin,
    /// The user is not a member.
    None,
}

/// Whether the current user is in group `gid`, now or after logging in again.
pub fn group_membership(gid: u32) -> Membership {
    let gid = nix::unistd::Gid::from_raw(gid);
    let active = nix::unistd::getegid() == gid
        || nix::unistd::getgroups()
            .map(|groups| groups.contains(&gid))
            .unwrap_or(false);
    if active {
        return Membership::Active;
    }
    let me = user_name(nix::unistd::getuid().as_raw());
    let listed = nix::unistd::Group::from_gid(gid)
        .ok()
        .flatten()
        .is_some_and(|group| group.mem.contains(&me));
    if listed {
        Membership::PendingLogin
    } else {
        Membership::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_this_machine() {
        let facts = HostFacts::detect();
        assert!(facts.cpus >= 1, "{facts:?}");
        assert!(facts.memory_bytes > 0, "{facts:?}");
        assert!(!facts.kernel_release.is_empty(), "{facts:?}");
        assert!(!facts.hostname.is_empty(), "{facts:?}");
        if cfg!(target_os = "linux") {
            let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
            assert_eq!(facts.kernel_release, release.trim());
        }
    }

    #[test]
    fn names_users_and_groups() {
        assert_eq!(user_name(0), "root");
        assert_eq!(group_name(0), "root");
        assert_eq!(user_name(4_000_000_000), "4000000000");
    }
}
