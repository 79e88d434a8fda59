//! `hardware-access`: what hardware the engine and its VM can hand to a container.
//!
//! From the engine's `/info` (GPU runtimes, CDI devices) and the VM's configuration file. The
//! devices a default container really sees need a probe container, which lands with the sandbox.

use bollard::models::SystemInfo;
use futures_util::future::BoxFuture;

use crate::check::CheckResult;
use crate::context::Context;
use crate::finding::Outcome;
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

const PROBE_PART: &str = "not yet checked: the devices a default container sees beyond the standard /dev set (a probe container, coming with dw's sandbox)";

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
        evidence.push(PROBE_PART.to_owned());
        if exposures.is_empty() {
            return Ok(
                Outcome::pass("the engine offers containers no GPU or passthrough device")
                    .evidence_lines(evidence),
            );
        }
        Ok(Outcome::warn(format!(
            "containers on this engine can be given host hardware: {}",
            exposures.join(", ")
        ))
        .evidence_lines(evidence)
        .fix("dw's sandbox asks for no devices; run the agent on an engine without GPU runtimes or passthrough (a Colima profile of its own: `colima start --profile dw --vm-type vz`), or remove them from this one"))
    })
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
