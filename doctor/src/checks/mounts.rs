//! `mounts`: which host directories the engine's VM shares, and so what a container can mount.
//!
//! From the runtime's own configuration: Colima's and Lima's `mounts`, Docker Desktop's file
//! sharing list. Then, from inside: a probe container made from dw's sandbox spec reads its
//! `/proc/self/mountinfo`, which must show nothing from the host but `/workspace`, the
//! executor, the credential masks (read-only) and the files the engine itself provides.

use std::path::{Path, PathBuf};

use dw_runtime::kind::RuntimeKind;
use dw_runtime::sandbox::{EXECUTOR_PATH, WORKSPACE_DIR};
use futures_util::future::BoxFuture;

use crate::check::CheckResult;
use crate::context::{Context, SelectedEngine};
use crate::finding::Outcome;
use crate::probe::{DECOY, Networking, Probe};
use crate::vm::Share;

/// Docker Desktop's settings files, relative to the home directory, and the key of its file
/// sharing list in each (4.34 and later write `settings-store.json`).
const DOCKER_DESKTOP_SETTINGS: &[(&str, &str)] = &[
    (
        "Library/Group Containers/group.com.docker/settings-store.json",
        "FilesharingDirectories",
    ),
    (
        "Library/Group Containers/group.com.docker/settings.json",
        "filesharingDirectories",
    ),
    (
        ".docker/desktop/settings-store.json",
        "FilesharingDirectories",
    ),
    (".docker/desktop/settings.json", "filesharingDirectories"),
];

/// Docker Desktop's file shares on macOS until the user changes them.
const DOCKER_DESKTOP_DEFAULT_SHARES: &[&str] =
    &["/Users", "/Volumes", "/private", "/tmp", "/var/folders"];

/// How to narrow each runtime's shares.
const FIXES: &[(RuntimeKind, &str)] = &[
    (
        RuntimeKind::Colima,
        "list only your projects under `mounts:` in {config} (e.g. `- location: ~/projects` with `writable: true`), then `colima stop && colima start`",
    ),
    (
        RuntimeKind::Lima,
        "list only your projects under `mounts:` in {config} (`limactl edit <instance>`), then restart the instance",
    ),
    (
        RuntimeKind::RancherDesktop,
        "override Rancher Desktop's mounts in ~/Library/Application Support/rancher-desktop/lima/_config/override.yaml to only your projects, then restart Rancher Desktop",
    ),
    (
        RuntimeKind::DockerDesktop,
        "Docker Desktop → Settings → Resources → File sharing: replace /Users with your projects directory",
    ),
    (
        RuntimeKind::Orbstack,
        "OrbStack always shares your Mac's files; run the agent on a runtime whose shares you choose (Colima with `mounts:` set, `dw setup`)",
    ),
];

/// What the probe half establishes, for evidence when it does not run.
const PROBE_PART: &str = "that dw's sandbox sees only /workspace from the host (/proc/self/mountinfo in a probe container)";

const SCRIPT: &str = r#"
printf '%s\n' "$(< /proc/self/mountinfo)"
echo dw-probe-done
"#;

/// File systems that live in the container or the kernel, not in a host directory.
const VIRTUAL_FILESYSTEMS: &[&str] = &[
    "aufs",
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fuse.fuse-overlayfs",
    "fusectl",
    "hugetlbfs",
    "mqueue",
    "nsfs",
    "overlay",
    "proc",
    "pstore",
    "ramfs",
    "securityfs",
    "selinuxfs",
    "shm",
    "sysfs",
    "tmpfs",
    "tracefs",
];

/// Files every engine bind-mounts into its containers from its own state (Docker's and
/// Podman's).
const ENGINE_FILES: &[&str] = &[
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/sbin/docker-init",
    "/usr/sbin/docker-init",
    "/dev/init",
    "/run/.containerenv",
    "/run/podman-init",
];

const SANDBOX_FIX: &str = "do not run the agent on this engine until dw's sandbox sees only the project: update dw and the engine, and report the mounts listed above";

/// `mounts`.
pub fn mounts(context: &Context) -> BoxFuture<'_, CheckResult> {
    Box::pin(async move {
        let engine = super::engine(context)?;
        let outcome = shares(context, engine);
        let probe = Probe {
            purpose: "mounts",
            networking: Networking::Sandbox,
            script: SCRIPT,
            arguments: Vec::new(),
        };
        let half = match super::probe_half(context, engine, &probe, PROBE_PART).await {
            Ok(output) => judge_mountinfo(&parse_mountinfo(&output.lines)),
            Err(half) => half,
        };
        Ok(super::with_probe(outcome, half))
    })
}

/// The VM's shares, from the runtime's configuration.
fn shares(context: &Context, engine: &SelectedEngine) -> Outcome {
    let home = context.settings.discovery.home.as_path();
    let (shares, mut evidence, config) = match engine.kind {
        RuntimeKind::Colima | RuntimeKind::Lima | RuntimeKind::RancherDesktop => {
            match super::vm_config(context, engine) {
                Ok(Some(config)) => {
                    let mut evidence = vec![format!("VM configuration {}", config.path.display())];
                    if let Some(agent) = config
                        .text(&["forwardAgent"])
                        .filter(|value| value == "true")
                    {
                        evidence.push(format!(
                            "forwardAgent: {agent}: the VM can use the keys in your SSH agent"
                        ));
                    }
                    (config.shares(home), evidence, Some(config.path))
                }
                Ok(None) => {
                    return Outcome::skip(format!(
                        "no {} VM configuration file found, so its shares are unknown",
                        engine.kind.display_name()
                    ));
                }
                Err(error) => {
                    return Outcome::warn("cannot read the VM's configuration")
                        .evidence(error.to_string());
                }
            }
        }
        RuntimeKind::DockerDesktop => docker_desktop_shares(home),
        RuntimeKind::Orbstack => (
            vec![Share {
                location: PathBuf::from("/"),
                writable: true,
                implied_by: Some("OrbStack shares the whole Mac filesystem at the same paths"),
            }],
            Vec::new(),
            None,
        ),
        RuntimeKind::DockerEngine | RuntimeKind::DockerEngineRootless
            if engine.facts.kernel_version == context.host.kernel_release =>
        {
            (
                vec![Share {
                    location: PathBuf::from("/"),
                    writable: true,
                    implied_by: Some(
                        "no VM: the engine runs on this host and can bind-mount any path",
                    ),
                }],
                Vec::new(),
                None,
            )
        }
        kind => {
            return Outcome::skip(format!(
                "dw does not know where {} keeps its file sharing settings",
                kind.display_name()
            ));
        }
    };
    evidence.extend(shares.iter().map(describe));
    let risky: Vec<&Share> = shares
        .iter()
        .filter(|share| share.writable && home.starts_with(&share.location))
        .collect();
    if risky.is_empty() {
        return Outcome::pass(if shares.is_empty() {
            "the VM shares no host directory".to_owned()
        } else {
            format!(
                "the VM shares {} host director{}, not your whole home writable",
                shares.len(),
                if shares.len() == 1 { "y" } else { "ies" }
            )
        })
        .evidence_lines(evidence);
    }
    let named: Vec<String> = risky
        .iter()
        .map(|share| share.location.display().to_string())
        .collect();
    let summary = if risky.iter().any(|share| share.location == Path::new("/")) {
        "the whole host filesystem is shared writable with the engine".to_owned()
    } else {
        format!(
            "your home directory is shared writable with the VM ({})",
            named.join(", ")
        )
    };
    let evidence = {
        let mut evidence = evidence;
        evidence.push("a container that mounts it (the plain Duo container mounts what it is told; an escape reaches the whole VM) can read your credentials and change your dotfiles, and every project".to_owned());
        evidence
    };
    let config = config.map_or_else(
        || "the VM's configuration".to_owned(),
        |path| path.display().to_string(),
    );
    let fix = FIXES
            .iter()
            .find(|(kind, _)| *kind == engine.kind)
            .map(|(_, fix)| fix.replace("{config}", &config))
            .unwrap_or_else(|| "run the agent on a VM that shares only your projects (Colima with `mounts:` set, `dw setup`)".to_owned());
    Outcome::warn(summary).evidence_lines(evidence).fix(fix)
}

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MountEntry {
    /// Where it is mounted in the container.
    mount_point: String,
    /// The directory of the source file system it shows.
    root: String,
    /// Mounted read-only.
    read_only: bool,
    /// The file system type (`ext4`, `virtiofs`, `tmpfs` …).
    filesystem: String,
}

/// The mounts of `/proc/self/mountinfo` (see proc(5)): the root and the mount point are the
/// fourth and fifth fields, the options the sixth, the type follows the ` - ` separator.
fn parse_mountinfo(lines: &[String]) -> Vec<MountEntry> {
    lines
        .iter()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let separator = fields.iter().position(|field| *field == "-")?;
            if separator < 6 {
                return None;
            }
            Some(MountEntry {
                root: unescape(fields.get(3)?),
                mount_point: unescape(fields.get(4)?),
                read_only: fields.get(5)?.split(',').any(|option| option == "ro"),
                filesystem: (*fields.get(separator + 1)?).to_owned(),
            })
        })
        .collect()
}

/// mountinfo writes space, tab, newline and backslash in paths as octal escapes (`\040`).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let octal = bytes
            .get(index + 1..index + 4)
            .filter(|digits| {
                bytes[index] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d))
            })
            .and_then(|digits| u8::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok());
        match octal {
            Some(byte) => {
                out.push(byte);
                index += 4;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The probe half: what dw's sandbox sees from the host.
fn judge_mountinfo(entries: &[MountEntry]) -> Outcome {
    let mask = format!("{WORKSPACE_DIR}/{DECOY}");
    // The last mount at a point is the one the container sees.
    let at = |point: &str| {
        entries
            .iter()
            .rev()
            .find(|entry| entry.mount_point == point)
    };
    let mut problems = Vec::new();
    if at(WORKSPACE_DIR).is_none() {
        problems.push(format!("nothing is mounted at {WORKSPACE_DIR}"));
    }
    match at(&mask) {
        None => problems.push(format!("the decoy credential file {mask} is not masked")),
        Some(entry) if !entry.read_only => {
            problems.push(format!("the mask over {mask} is writable"));
        }
        Some(_) => {}
    }
    match at(EXECUTOR_PATH) {
        Some(entry) if entry.read_only => {}
        _ => problems.push(format!(
            "the executor is not mounted read-only at {EXECUTOR_PATH}"
        )),
    }
    let access = |entry: &MountEntry| {
        if entry.read_only {
            "read-only"
        } else {
            "read-write"
        }
    };
    let from_host: Vec<&MountEntry> = entries
        .iter()
        .filter(|entry| {
            entry.mount_point != "/" && !VIRTUAL_FILESYSTEMS.contains(&entry.filesystem.as_str())
        })
        .collect();
    let expected = [WORKSPACE_DIR, EXECUTOR_PATH, mask.as_str()];
    let mut seen: Vec<String> = expected
        .iter()
        .filter_map(|point| at(point))
        .map(|entry| format!("{} {}", entry.mount_point, access(entry)))
        .collect();
    if let Some(last) = seen.iter_mut().find(|line| line.starts_with(&mask)) {
        last.push_str(" (the mask over a credential file)");
    }
    let engine_files: Vec<&str> = from_host
        .iter()
        .filter(|entry| ENGINE_FILES.contains(&entry.mount_point.as_str()))
        .map(|entry| entry.mount_point.as_str())
        .collect();
    let unexpected: Vec<String> = from_host
        .iter()
        .filter(|entry| {
            !expected.contains(&entry.mount_point.as_str())
                && !ENGINE_FILES.contains(&entry.mount_point.as_str())
        })
        .map(|entry| {
            format!(
                "{} {} ({} {})",
                entry.mount_point,
                access(entry),
                entry.filesystem,
                entry.root
            )
        })
        .collect();
    let mut evidence = vec![format!(
        "dw's sandbox (a probe container made from its spec, with doctor's own workspace) sees from the host: {}",
        if seen.is_empty() {
            "nothing".to_owned()
        } else {
            seen.join(", ")
        }
    )];
    if !engine_files.is_empty() {
        evidence.push(format!(
            "and the files the engine provides: {}",
            engine_files.join(", ")
        ));
    }
    if !problems.is_empty() {
        return Outcome::fail(format!(
            "dw's sandbox is not isolated as its spec says: {}",
            problems.join("; ")
        ))
        .evidence_lines(evidence)
        .evidence_lines(
            unexpected
                .into_iter()
                .map(|line| format!("also from the host: {line}")),
        )
        .fix(SANDBOX_FIX);
    }
    if !unexpected.is_empty() {
        return Outcome::warn(format!(
            "dw's sandbox sees host paths beyond {WORKSPACE_DIR}: {}",
            unexpected.join(", ")
        ))
        .evidence_lines(evidence)
        .fix("find what adds these mounts to every container (the engine's configuration, e.g. Podman's containers.conf `volumes`, or an OCI hook) and remove them");
    }
    Outcome::pass(format!(
        "dw's sandbox sees only {WORKSPACE_DIR} from the host"
    ))
    .evidence_lines(evidence)
}

fn describe(share: &Share) -> String {
    let access = if share.writable {
        "writable"
    } else {
        "read-only"
    };
    match share.implied_by {
        Some(reason) => format!("shares {} {access} ({reason})", share.location.display()),
        None => format!("shares {} {access}", share.location.display()),
    }
}

/// Docker Desktop's file shares from the first settings file that lists them, else its defaults.
/// Docker Desktop's shares are always writable.
fn docker_desktop_shares(home: &Path) -> (Vec<Share>, Vec<String>, Option<PathBuf>) {
    for (relative, key) in DOCKER_DESKTOP_SETTINGS {
        let path = home.join(relative);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Some(listed) = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|settings| settings.get(*key).cloned())
            .and_then(|value| serde_json::from_value::<Vec<String>>(value).ok())
        else {
            continue;
        };
        let shares = listed
            .iter()
            .map(|location| Share {
                location: PathBuf::from(location),
                writable: true,
                implied_by: None,
            })
            .collect();
        return (
            shares,
            vec![format!(
                "Docker Desktop settings {} ({key})",
                path.display()
            )],
            Some(path),
        );
    }
    let shares = DOCKER_DESKTOP_DEFAULT_SHARES
        .iter()
        .map(|location| Share {
            location: PathBuf::from(location),
            writable: true,
            implied_by: Some("Docker Desktop's default"),
        })
        .collect();
    (
        shares,
        vec![
            "no readable Docker Desktop settings file lists file shares: its defaults apply"
                .to_owned(),
        ],
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Status;

    /// A sandbox probe's mountinfo on Docker 20.10 (cgroup v1), trimmed.
    const MOUNTINFO: &str = "\
69 45 0:39 / / ro,noatime master:2 - fuse.fuse-overlayfs fuse-overlayfs rw,user_id=0
70 69 0:41 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
71 69 0:42 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
75 74 0:29 /docker/b57c /sys/fs/cgroup/cpu ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpu
86 69 254:0 /usr/bin/tini-static /usr/sbin/docker-init ro,relatime - ext4 /dev/vda rw
87 69 254:0 /home/me/.cache/dw/doctor-probe-x/workspace /workspace rw,relatime - ext4 /dev/vda rw
88 69 0:47 / /tmp rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw
89 87 254:0 /home/me/.cache/dw/doctor-probe-x/empty /workspace/.env ro,relatime - ext4 /dev/vda rw
90 69 254:0 /var/lib/docker/containers/b57c/resolv.conf /etc/resolv.conf ro,relatime - ext4 /dev/vda rw
92 69 254:0 /var/lib/docker/containers/b57c/hosts /etc/hosts ro,relatime - ext4 /dev/vda rw
93 69 254:0 /home/me/.cache/dw/doctor-probe-x/empty /opt/dw/dw-agent ro,relatime - ext4 /dev/vda rw
51 70 0:42 /null /proc/keys rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755";

    fn entries(extra: &[&str]) -> Vec<MountEntry> {
        let lines: Vec<String> = MOUNTINFO
            .lines()
            .chain(extra.iter().copied())
            .map(str::to_owned)
            .collect();
        parse_mountinfo(&lines)
    }

    #[test]
    fn the_sandbox_sees_the_workspace_the_executor_and_the_mask() {
        let outcome = judge_mountinfo(&entries(&[]));
        assert_eq!(outcome.status, Status::Pass, "{outcome:#?}");
        assert_eq!(
            outcome.evidence,
            [
                "dw's sandbox (a probe container made from its spec, with doctor's own workspace) sees from the host: /workspace read-write, /opt/dw/dw-agent read-only, /workspace/.env read-only (the mask over a credential file)",
                "and the files the engine provides: /usr/sbin/docker-init, /etc/resolv.conf, /etc/hosts",
            ]
        );
    }

    #[test]
    fn other_host_paths_warn_and_a_missing_mask_fails() {
        let outcome = judge_mountinfo(&entries(&[
            "94 69 254:0 /home/me/my\\040notes /notes rw,relatime - ext4 /dev/vda rw",
        ]));
        assert_eq!(outcome.status, Status::Warn, "{outcome:#?}");
        assert_eq!(
            outcome.summary,
            "dw's sandbox sees host paths beyond /workspace: /notes read-write (ext4 /home/me/my notes)"
        );

        let without_mask: Vec<MountEntry> = entries(&[])
            .into_iter()
            .filter(|entry| entry.mount_point != "/workspace/.env")
            .collect();
        let outcome = judge_mountinfo(&without_mask);
        assert_eq!(outcome.status, Status::Fail, "{outcome:#?}");
        assert!(
            outcome
                .summary
                .ends_with("the decoy credential file /workspace/.env is not masked"),
            "{outcome:#?}"
        );
    }

    #[test]
    fn the_script_ends_with_the_done_line() {
        assert!(
            SCRIPT
                .trim_end()
                .ends_with(&format!("echo {}", crate::probe::DONE))
        );
    }
}
