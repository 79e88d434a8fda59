//! `mounts`: which host directories the engine's VM shares, and so what a container can mount.
//!
//! From the runtime's own configuration: Colima's and Lima's `mounts`, Docker Desktop's file
//! sharing list. Whether dw's sandbox then sees only `/workspace` needs a probe container, which
//! lands with the sandbox.

use std::path::{Path, PathBuf};

use dw_runtime::kind::RuntimeKind;
use futures_util::future::BoxFuture;

use crate::check::CheckResult;
use crate::context::Context;
use crate::finding::Outcome;
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

const PROBE_PART: &str = "not yet checked: that dw's sandbox container sees only /workspace from the host (/proc/self/mountinfo in a probe container, coming with dw's sandbox)";

/// `mounts`.
pub fn mounts(context: &Context) -> BoxFuture<'_, CheckResult> {
    Box::pin(async move {
        let engine = super::engine(context)?;
        let home = context.settings.discovery.home.as_path();
        let (shares, mut evidence, config) = match engine.kind {
            RuntimeKind::Colima | RuntimeKind::Lima | RuntimeKind::RancherDesktop => {
                match super::vm_config(context, engine) {
                    Ok(Some(config)) => {
                        let mut evidence =
                            vec![format!("VM configuration {}", config.path.display())];
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
                        return Ok(Outcome::skip(format!(
                            "no {} VM configuration file found, so its shares are unknown",
                            engine.kind.display_name()
                        ))
                        .evidence(PROBE_PART));
                    }
                    Err(error) => {
                        return Ok(Outcome::warn("cannot read the VM's configuration")
                            .evidence(error.to_string())
                            .evidence(PROBE_PART));
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
                return Ok(Outcome::skip(format!(
                    "dw does not know where {} keeps its file sharing settings",
                    kind.display_name()
                ))
                .evidence(PROBE_PART));
            }
        };
        evidence.extend(shares.iter().map(describe));
        let risky: Vec<&Share> = shares
            .iter()
            .filter(|share| share.writable && home.starts_with(&share.location))
            .collect();
        if risky.is_empty() {
            evidence.push(PROBE_PART.to_owned());
            return Ok(Outcome::pass(if shares.is_empty() {
                "the VM shares no host directory".to_owned()
            } else {
                format!(
                    "the VM shares {} host director{}, not your whole home writable",
                    shares.len(),
                    if shares.len() == 1 { "y" } else { "ies" }
                )
            })
            .evidence_lines(evidence));
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
            evidence.push(PROBE_PART.to_owned());
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
        Ok(Outcome::warn(summary).evidence_lines(evidence).fix(fix))
    })
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
