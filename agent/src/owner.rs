//! Which dw process owns a sandbox container, and whether that process is still alive.
//!
//! The owner is written into the container's [`OWNER_LABEL`](dw_runtime::sandbox::OWNER_LABEL)
//! as `<hostname>:<pid>:<start time>`. The start time is field 22 of `/proc/<pid>/stat` (clock
//! ticks since boot), so a process that merely reused the pid is not taken for the owner; where
//! there is no `/proc` (macOS) it is `-` and only the pid is checked.

/// The owner value for this process.
pub fn current() -> String {
    let pid = std::process::id();
    format!(
        "{}:{pid}:{}",
        hostname(),
        start_time(pid).unwrap_or_else(|| "-".to_owned())
    )
}

/// Whether the process an owner value names is gone.
///
/// Only owners on this host are judged (another machine's dw may share a remote engine); a value
/// that cannot be parsed is not judged either. Both answer `false`: when unsure, keep.
pub fn is_gone(owner: &str) -> bool {
    let mut parts = owner.rsplitn(3, ':');
    let (Some(start), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if host != hostname() {
        return false;
    }
    if start != "-" {
        if std::path::Path::new("/proc/self/stat").exists() {
            return start_time(pid).as_deref() != Some(start);
        }
        return false;
    }
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// Asks the dw process an owner value names to stop (SIGTERM), if it runs on this host and is
/// still the same process. Returns whether a signal was sent.
pub fn terminate(owner: &str) -> std::io::Result<bool> {
    let mut parts = owner.rsplitn(3, ':');
    let (Some(start), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(false);
    };
    let Ok(pid_number) = pid.parse::<u32>() else {
        return Ok(false);
    };
    if host != hostname() || (start != "-" && start_time(pid_number).as_deref() != Some(start)) {
        return Ok(false);
    }
    let Ok(pid) = i32::try_from(pid_number) else {
        return Ok(false);
    };
    match nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    ) {
        Ok(()) => Ok(true),
        Err(nix::errno::Errno::ESRCH) => Ok(false),
        Err(errno) => Err(errno.into()),
    }
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown-host".to_owned())
}

/// Field 22 of `/proc/<pid>/stat`; the command name before it may contain spaces and
/// parentheses, so fields are counted after its last `)`.
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after_name) = stat.rsplit_once(')')?;
    after_name.split_whitespace().nth(19).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn this_process_is_alive_and_an_exited_one_is_gone() {
        assert!(!is_gone(&current()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let owner = format!("{}:{pid}:{}", hostname(), start_time(pid).unwrap());
        child.wait().unwrap();
        assert!(is_gone(&owner));
    }

    #[test]
    fn a_reused_pid_is_not_the_owner() {
        let pid = std::process::id();
        assert!(is_gone(&format!("{}:{pid}:1", hostname())));
    }

    #[test]
    fn other_hosts_and_garbage_are_kept() {
        assert!(!is_gone("elsewhere:1:1"));
        assert!(!is_gone("nonsense"));
        assert!(!is_gone(&format!("{}:notapid:1", hostname())));
    }
}
