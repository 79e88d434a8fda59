//! Guards that remove what a test created on the real engine, also when the test panics.

use std::process::Command;

/// The label every test-made object carries: `dev.dw.test=<unique value>`.
pub const TEST_LABEL: &str = "dev.dw.test";

/// Removes every container and network labelled with its value when dropped, and the
/// containers attached to those networks.
pub struct LabelGuard {
    value: String,
}

impl LabelGuard {
    /// A guard with a value unique to this test run (`<name>-<pid>-<nanos>`).
    pub fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default();
        Self {
            value: format!("{name}-{}-{nanos}", std::process::id()),
        }
    }

    /// `dev.dw.test=<value>`, for `--label` and `--filter label=`.
    pub fn label(&self) -> String {
        format!("{TEST_LABEL}={}", self.value)
    }

    /// The IDs of the containers carrying the label.
    pub fn containers(&self) -> Vec<String> {
        ids(&["ps", "-aq", "--filter", &format!("label={}", self.label())])
    }

    /// The IDs of the networks carrying the label.
    pub fn networks(&self) -> Vec<String> {
        ids(&[
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("label={}", self.label()),
        ])
    }

    /// Creates a user-defined bridge network carrying the label, with a subnet of its own that
    /// the engine picks from its pools; removed with everything attached to it on drop.
    pub fn create_network(&self, name: &str) -> TestNetwork {
        let name = format!("{name}-{}", self.value);
        let output = Command::new("docker")
            .args(["network", "create", "--driver", "bridge", "--label"])
            .arg(self.label())
            .arg(&name)
            .output()
            .expect("the docker CLI runs");
        assert!(
            output.status.success(),
            "docker network create {name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let output = Command::new("docker")
            .args([
                "network",
                "inspect",
                "--format",
                "{{range .IPAM.Config}}{{.Gateway}} {{end}}",
            ])
            .arg(&name)
            .output()
            .expect("the docker CLI runs");
        let gateway = String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .find_map(|address| address.parse().ok())
            .unwrap_or_else(|| panic!("network {name} has no gateway address"));
        TestNetwork { name, gateway }
    }
}

/// A network made by [`LabelGuard::create_network`].
#[derive(Debug, Clone)]
pub struct TestNetwork {
    /// Its name.
    pub name: String,
    /// Its gateway: the address this host has on it.
    pub gateway: std::net::IpAddr,
}

impl Drop for LabelGuard {
    fn drop(&mut self) {
        let containers = self.containers();
        if !containers.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v"])
                .args(&containers)
                .output();
        }
        let networks = self.networks();
        // Containers someone else labelled but attached to these networks would keep them.
        let attached: Vec<String> = networks
            .iter()
            .flat_map(|network| ids(&["ps", "-aq", "--filter", &format!("network={network}")]))
            .collect();
        if !attached.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v"])
                .args(&attached)
                .output();
        }
        if !networks.is_empty() {
            let _ = Command::new("docker")
                .args(["network", "rm"])
                .args(&networks)
                .output();
        }
    }
}

fn ids(args: &[&str]) -> Vec<String> {
    Command::new("docker")
        .args(args)
        .output()
        .map(|output| {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
