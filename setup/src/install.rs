//! What the Colima route needs installed, and how it gets installed: Homebrew where it exists,
//! exact instructions where it does not.

use std::path::PathBuf;

use dw_runtime::host::Os;

/// A program the Colima route needs, and the Homebrew formula that provides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// The program looked up on `PATH`.
    pub program: &'static str,
    /// The Homebrew formula that installs it.
    pub formula: &'static str,
}

/// What the Colima route needs, in install order. Adding a tool is one row.
pub const TOOLS: &[Tool] = &[
    Tool {
        program: "colima",
        formula: "colima",
    },
    Tool {
        program: "docker",
        formula: "docker",
    },
];

/// The installer dw drives.
pub const BREW: &str = "brew";

/// Where the needed programs and Homebrew were found on `PATH`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Installed {
    /// Each of [`TOOLS`] with where it was found, `None` when missing.
    pub tools: Vec<(Tool, Option<PathBuf>)>,
    /// Homebrew's `brew`, when found.
    pub brew: Option<PathBuf>,
}

impl Installed {
    /// Looks every program up on `PATH` (read-only: nothing is run).
    pub fn detect() -> Self {
        Self {
            tools: TOOLS
                .iter()
                .map(|tool| (*tool, which::which(tool.program).ok()))
                .collect(),
            brew: which::which(BREW).ok(),
        }
    }

    /// The tools that are missing.
    pub fn missing(&self) -> Vec<Tool> {
        self.tools
            .iter()
            .filter(|(_, found)| found.is_none())
            .map(|(tool, _)| *tool)
            .collect()
    }

    /// Where `program` was found.
    pub fn path_of(&self, program: &str) -> Option<&PathBuf> {
        self.tools
            .iter()
            .find(|(tool, _)| tool.program == program)
            .and_then(|(_, found)| found.as_ref())
    }
}

/// `brew install <formula>…` for the missing tools.
pub fn brew_command(missing: &[Tool]) -> Vec<String> {
    [BREW, "install"]
        .into_iter()
        .chain(missing.iter().map(|tool| tool.formula))
        .map(str::to_owned)
        .collect()
}

/// The exact shell commands that install the missing tools on `os` when Homebrew is absent.
pub fn manual_commands(os: Os, missing: &[Tool]) -> Vec<String> {
    let install = brew_command(missing).join(" ");
    let get_homebrew = "/bin/bash -c \"$(curl -fsSL \
                        https://raw.githubusercontent.com/Homebrew/install/HEAD/install.sh)\""
        .to_owned();
    match os {
        Os::MacOs => vec![get_homebrew, install],
        Os::Linux => vec![
            get_homebrew,
            "eval \"$(/home/linuxbrew/.linuxbrew/bin/brew shellenv)\"".to_owned(),
            install,
        ],
        // Colima does not run on Windows: a VM-backed runtime that does is the way there.
        Os::Windows => vec![
            "winget install --exact --id Docker.DockerDesktop".to_owned(),
            "dw setup --runtime docker-desktop".to_owned(),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brew_installs_only_what_is_missing() {
        let installed = Installed {
            tools: vec![
                (TOOLS[0], None),
                (TOOLS[1], Some(PathBuf::from("/usr/local/bin/docker"))),
            ],
            brew: Some(PathBuf::from("/opt/homebrew/bin/brew")),
        };
        assert_eq!(
            brew_command(&installed.missing()),
            ["brew", "install", "colima"]
        );
        assert_eq!(
            installed.path_of("docker"),
            Some(&PathBuf::from("/usr/local/bin/docker"))
        );
    }

    #[test]
    fn without_homebrew_the_commands_fit_the_os() {
        let mac = manual_commands(Os::MacOs, TOOLS);
        assert!(
            mac[0].contains("Homebrew/install/HEAD/install.sh"),
            "{mac:?}"
        );
        assert_eq!(
            mac.last().map(String::as_str),
            Some("brew install colima docker")
        );
        let linux = manual_commands(Os::Linux, &TOOLS[..1]);
        assert!(linux[1].contains("linuxbrew"), "{linux:?}");
        assert_eq!(
            linux.last().map(String::as_str),
            Some("brew install colima")
        );
    }
}
