//! The static dw-agent binary the sandbox mounts, and a guard for the sandboxes a test starts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The static executor: `DW_AGENT_BIN` when set (`scripts/test` builds it and sets it), else
/// built once per test process with `+crt-static` for the gnu target.
pub fn dw_agent_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| match std::env::var_os("DW_AGENT_BIN") {
            Some(path) if !path.is_empty() => PathBuf::from(path),
            _ => build_static_agent(),
        })
        .clone()
}

fn build_static_agent() -> PathBuf {
    const TARGET: &str = "x86_64-unknown-linux-gnu";
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support lives in the workspace")
        .to_owned();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "dw-agent",
            "--target",
            TARGET,
        ])
        .status()
        .expect("cargo can be run to build dw-agent");
    assert!(status.success(), "building the static dw-agent failed");
    let binary = root.join(format!("target/{TARGET}/release/dw-agent"));
    assert!(binary.is_file(), "{} was not built", binary.display());
    binary
}

/// Removes every container of one workflow id (label `dev.dw.workflow=<id>`) when dropped, also
/// on panic. A test hands the id to dw with `DW_WORKFLOW_ID` (or to the library directly), so
/// that every sandbox it makes is found again here.
pub struct WorkflowGuard {
    id: String,
}

impl WorkflowGuard {
    /// A guard with an id unique to this test run (`test-<name>-<pid>-<nanos>`).
    pub fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or_default();
        Self {
            id: format!("test-{name}-{}-{nanos}", std::process::id()),
        }
    }

    /// The workflow id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `label=dev.dw.workflow=<id>`, for `docker ps --filter`.
    pub fn filter(&self) -> String {
        format!("label=dev.dw.workflow={}", self.id)
    }

    /// The IDs of the workflow's containers, running or not.
    pub fn containers(&self) -> Vec<String> {
        let output = Command::new("docker")
            .args(["ps", "-aq", "--no-trunc", "--filter", &self.filter()])
            .output()
            .expect("the docker CLI runs");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for WorkflowGuard {
    fn drop(&mut self) {
        let containers = self.containers();
        if !containers.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v"])
                .args(&containers)
                .output();
        }
    }
}
