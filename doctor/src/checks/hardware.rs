//! `hardware-access`: what hardware the engine and its VM can hand to a container.
//!
//! From the engine's `/info` (GPU runtimes, CDI devices), the VM's configuration file, and the
//! device nodes a probe container made from dw's sandbox spec (which asks for no device) finds
//! in its `/dev`: anything beyond the standard set is a device every container gets.

use bollard::models::SystemInfo;
use futures_util::future::BoxFuture;

use crate::check::CheckResult;
use crate::context::Context;
use crate::finding::Outcome;
use crate::probe::{Networking, Probe};
use crate::vm::VmConfig;

/// Container runtimes that hand GPUs to containers, by name prefix, and what they do.
const GPU_RUNTIMES: &[(&str, &str)] = &[
    (
        "nvidia",
        "the NVIDIA Container Runtime gives containers started with --gpus or --runtime nvidia this machine's NVIDIA GPUs",
    ),
    (
        "amd",
        "the AMD Container Toolkit gives containers started with --runtime amd this machine's AMD GPUs",
    ),
    (
        "rocm",
        "a ROCm runtime gives containers this machine's AMD GPUs",
    ),
];

/// A VM setting worth reporting: its keys, what it means, and the values that expose hardware.
struct Setting {
    keys: &'static [&'static str],
    meaning: &'static str,
    exposes_when: &'static [&'static str],
}

/// Colima's and Lima's settings about hardware (Colima's `colima.yaml` template and Lima's
/// `default.yaml` name them).
const SETTINGS: &[Setting] = &[
    Setting {
        keys: &["vmType"],
        meaning: "the hypervisor (qemu, vz, krunkit); krunkit passes the host's GPU to the VM",
        exposes_when: &["krunkit"],
    },
    Setting {
        keys: &["rosetta"],
        meaning: "Rosetta runs x86-64 binaries with the host's translator, shared into the VM",
        exposes_when: &[],
    },
    Setting {
        keys: &["rosetta", "enabled"],
        meaning: "Rosetta runs x86-64 binaries with the host's translator, shared into the VM",
        exposes_when: &[],
    },
    Setting {
        keys: &["vmOpts", "vz", "rosetta", "enabled"],
        meaning: "Rosetta runs x86-64 binaries with the host's translator, shared into the VM",
        exposes_when: &[],
    },
    Setting {
        keys: &["nestedVirtualization"],
        meaning: "the VM has /dev/kvm: a container given it can start VMs of its own",
        exposes_when: &["true"],
    },
    Setting {
        keys: &["network", "address"],
        meaning: "the VM has its own address on a network of this host",
        exposes_when: &[],
    },
    Setting {
        keys: &["network", "mode"],
        meaning: "how the VM reaches the network; bridged puts it on your LAN like another machine",
        exposes_when: &[],
    },
    Setting {
        keys: &["video", "display"],
        meaning: "a display device in the VM",
        exposes_when: &[],
    },
    Setting {
        keys: &["audio", "device"],
        meaning: "an audio device in the VM, connected to the host's",
        exposes_when: &["default", "coreaudio", "pa"],
    },
];

/// What the probe half establishes, for evidence when it does not run.
const PROBE_PART: &str = "the devices a probe container sees beyond the standard /dev set";

/// The device nodes the engine gives every container (`/dev/pts/<n>` too).
const STANDARD_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/console",
    "/dev/ptmx",
    "/dev/pts/ptmx",
];

/// Prints `device <path>` for every character and block device under `/dev` (three levels),
/// not following symbolic links (`/dev/fd`, `/dev/stdin` lead to the script's own files).
const SCRIPT: &str = r#"
for device in /dev/* /dev/*/* /dev/*/*/*; do
    path=$device
    linked=
    while [ "$path" != /dev ]; do
        if [ -L "$path" ]; then linked=1; fi
        path=${path%/*}
    done
    if [ -z "$linked" ] && { [ -c "$device" ] || [ -b "$device" ]; }; then
        echo "device $device"
    fi
done
echo dw-probe-done
"#;

/// `hardware-access`.
pub fn hardware_access(context: &Context) -> BoxFuture<'_, CheckResult> {
    Box::pin(async move {
        let engine = super::engine(context)?;
        let info = engine
            .engine
            .call("GET /info", engine.engine.docker().info())
            .await?;
        let mut exposures = Vec::new();
        let mut evidence = engine_evidence(&info, &mut exposures);
        match super::vm_config(context, engine) {
            Ok(Some(config)) => evidence.extend(vm_evidence(&config, &mut exposures)),
            Ok(None) if engine.kind.is_vm_backed() => evidence.push(format!(
                "no {} VM configuration file found to read",
                engine.kind.display_name()
            )),
            Ok(None) => {}
            Err(error) => evidence.push(error.to_string()),
        }
        if !engine.kind.is_vm_backed() && engine.facts.kernel_version == context.host.kernel_release
        {
            evidence.push("the engine shares this host's kernel: a container started with --device or --privileged reaches this machine's devices directly (see vm-isolation)".to_owned());
        }
        let probe = Probe {
            purpose: "devices",
            networking: Networking::Sandbox,
            script: SCRIPT,
            arguments: Vec::new(),
        };
        let unprobed = match super::probe_half(context, engine, &probe, PROBE_PART).await {
            Ok(output) => {
                let (line, extra) = judge_devices(&output.lines);
                evidence.push(line);
                if !extra.is_empty() {
                    exposures.push(format!("devices in every container ({})", extra.join(", ")));
                }
                None
            }
            Err(half) => Some(half),
        };
        let outcome = if exposures.is_empty() {
            Outcome::pass("the engine offers containers no GPU or passthrough device")
                .evidence_lines(evidence)
        } else {
            Outcome::warn(format!(
                "containers on this engine can be given host hardware: {}",
                exposures.join(", ")
            ))
            .evidence_lines(evidence)
            .fix("dw's sandbox asks for no devices; run the agent on an engine without GPU runtimes or passthrough (a Colima profile of its own: `colima start --profile dw --vm-type vz`), or remove them from this one")
        };
        Ok(match unprobed {
            Some(half) => super::with_probe(outcome, half),
            None => outcome,
        })
    })
}

/// The evidence line for the devices a probe listed, and those beyond the standard set.
fn judge_devices(lines: &[String]) -> (String, Vec<String>) {
    let devices: Vec<&str> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("device "))
        .collect();
    let extra: Vec<String> = devices
        .iter()
        .filter(|device| !is_standard(device))
        .map(|device| (*device).to_owned())
        .collect();
    let line = if extra.is_empty() {
        format!(
            "a probe container made from dw's sandbox spec sees only the standard devices ({})",
            devices.join(", ")
        )
    } else {
        format!(
            "a probe container made from dw's sandbox spec, which asks for no device, sees devices beyond the standard set: {}",
            extra.join(", ")
        )
    };
    (line, extra)
}

fn is_standard(device: &str) -> bool {
    STANDARD_DEVICES.contains(&device)
        || device
            .strip_prefix("/dev/pts/")
            .is_some_and(|number| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
}

fn engine_evidence(info: &SystemInfo, exposures: &mut Vec<String>) -> Vec<String> {
    let mut evidence = Vec::new();
    let mut runtimes: Vec<&String> = info
        .runtimes
        .as_ref()
        .map(|runtimes| runtimes.keys().collect())
        .unwrap_or_default();
    runtimes.sort();
    evidence.push(format!(
        "runtimes: {} (default {})",
        if runtimes.is_empty() {
            "none reported".to_owned()
        } else {
            runtimes
                .iter()
                .map(|name| name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        },
        info.default_runtime.as_deref().unwrap_or("unknown")
    ));
    for name in runtimes {
        if let Some((_, meaning)) = GPU_RUNTIMES
            .iter()
            .find(|(prefix, _)| name.to_ascii_lowercase().starts_with(prefix))
        {
            exposures.push(format!("GPUs (runtime {name})"));
            evidence.push(format!("runtime {name}: {meaning}"));
        }
    }
    let devices: Vec<String> = info
        .discovered_devices
        .as_ref()
        .map(|devices| {
            devices
                .iter()
                .map(|device| {
                    format!(
                        "{} ({})",
                        device.id.as_deref().unwrap_or("unnamed"),
                        device.source.as_deref().unwrap_or("unknown source")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    // CDI spec directories are configured by default since Engine 27: only devices found in
    // them expose anything.
    match &info.cdi_spec_dirs {
        Some(dirs) if !dirs.is_empty() => evidence.push(format!(
            "CDI spec directories: {} (devices described there: {})",
            dirs.join(", "),
            if devices.is_empty() {
                "none reported".to_owned()
            } else {
                devices.join(", ")
            }
        )),
        _ => evidence.push("CDI: not enabled on this engine".to_owned()),
    }
    if !devices.is_empty() {
        exposures.push(format!("CDI devices ({})", devices.join(", ")));
    }
    evidence
}

fn vm_evidence(config: &VmConfig, exposures: &mut Vec<String>) -> Vec<String> {
    let mut evidence = vec![format!("VM configuration {}", config.path.display())];
    for setting in SETTINGS {
        let Some(value) = config.text(setting.keys) else {
            continue;
        };
        let key = setting.keys.join(".");
        evidence.push(format!("{key}: {value} ({})", setting.meaning));
        if setting.exposes_when.contains(&value.as_str()) {
            exposures.push(format!("{key}: {value}"));
        }
    }
    evidence
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::vm::Format;
    use std::path::Path;

    #[test]
    fn gpu_runtimes_and_cdi_devices_are_exposures_and_empty_cdi_dirs_are_not() {
        let info: SystemInfo = serde_json::from_value(serde_json::json!({
            "Runtimes": {"runc": {"path": "runc"}, "nvidia": {"path": "nvidia-container-runtime"}},
            "DefaultRuntime": "runc",
            "CDISpecDirs": ["/etc/cdi", "/var/run/cdi"],
        }))
        .unwrap();
        let mut exposures = Vec::new();
        let evidence = engine_evidence(&info, &mut exposures);
        assert_eq!(exposures, ["GPUs (runtime nvidia)"]);
        assert!(evidence.contains(&"runtimes: nvidia, runc (default runc)".to_owned()));
        assert!(
            evidence
                .iter()
                .any(|line| line.ends_with("(devices described there: none reported)"))
        );

        let info: SystemInfo = serde_json::from_value(serde_json::json!({
            "Runtimes": {"runc": {"path": "runc"}},
            "CDISpecDirs": ["/etc/cdi"],
            "DiscoveredDevices": [{"Source": "cdi", "ID": "nvidia.com/gpu=0"}],
        }))
        .unwrap();
        let mut exposures = Vec::new();
        engine_evidence(&info, &mut exposures);
        assert_eq!(exposures, ["CDI devices (nvidia.com/gpu=0 (cdi))"]);
    }

    #[test]
    fn devices_beyond_the_standard_set_are_named() {
        let lines: Vec<String> = [
            "device /dev/null",
            "device /dev/pts/ptmx",
            "device /dev/pts/0",
            "device /dev/urandom",
        ]
        .map(str::to_owned)
        .to_vec();
        let (line, extra) = judge_devices(&lines);
        assert!(extra.is_empty());
        assert!(line.ends_with("sees only the standard devices (/dev/null, /dev/pts/ptmx, /dev/pts/0, /dev/urandom)"), "{line}");
        let lines = vec![
            "device /dev/null".to_owned(),
            "device /dev/kvm".to_owned(),
            "device /dev/dri/card0".to_owned(),
        ];
        let (line, extra) = judge_devices(&lines);
        assert_eq!(extra, ["/dev/kvm", "/dev/dri/card0"]);
        assert!(
            line.ends_with("beyond the standard set: /dev/kvm, /dev/dri/card0"),
            "{line}"
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

    #[test]
    fn vm_settings_are_evidence_and_passthrough_is_an_exposure() {
        let config = VmConfig::parse(
            Path::new("colima.yaml"),
            Format::Colima,
            "vmType: krunkit\nrosetta: false\nnestedVirtualization: true\nnetwork:\n  address: true\n",
        )
        .unwrap();
        let mut exposures = Vec::new();
        let evidence = vm_evidence(&config, &mut exposures);
        assert_eq!(exposures, ["vmType: krunkit", "nestedVirtualization: true"]);
        assert!(
            evidence
                .iter()
                .any(|line| line.starts_with("network.address: true"))
        );
        assert!(
            evidence
                .iter()
                .any(|line| line.starts_with("rosetta: false"))
        );
    }
}
