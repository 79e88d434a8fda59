//! The steps of `dw setup`, their stable ids, and which of them a run selects.

use std::fmt;

use serde::Serialize;

/// One step of the bootstrap. The ids of [`StepId::as_str`] are a stable interface (`--only`,
/// `--skip`, the `--json` report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepId {
    /// Install Colima and the Docker CLI where missing.
    Install,
    /// Start the Colima VM.
    Start,
    /// Pull the workflow base image.
    Pull,
    /// Write the socket path into VS Code's settings.
    Settings,
}

impl StepId {
    /// Every step, in the order they run.
    pub const ALL: [Self; 4] = [Self::Install, Self::Start, Self::Pull, Self::Settings];

    /// The stable id: `install`, `start`, `pull`, `settings`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Install => "install",
            Self::Start => "start",
            Self::Pull => "pull",
            Self::Settings => "settings",
        }
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Which steps a run does: `--only` (when given, nothing else) minus `--skip`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// `--only`: when not empty, only these steps run.
    pub only: Vec<StepId>,
    /// `--skip`: these steps never run.
    pub skip: Vec<StepId>,
}

impl Selection {
    /// Whether `step` runs.
    pub fn includes(&self, step: StepId) -> bool {
        (self.only.is_empty() || self.only.contains(&step)) && !self.skip.contains(&step)
    }

    /// Why `step` does not run, in words, or `None` when it does.
    pub fn exclusion_reason(&self, step: StepId) -> Option<String> {
        if self.skip.contains(&step) {
            return Some(format!("skipped: --skip {step}"));
        }
        if !self.only.is_empty() && !self.only.contains(&step) {
            let only: Vec<String> = self.only.iter().map(|id| format!("--only {id}")).collect();
            return Some(format!("skipped: not selected ({})", only.join(" ")));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_selects_and_skip_removes() {
        let all = Selection::default();
        assert!(StepId::ALL.iter().all(|step| all.includes(*step)));

        let only_settings = Selection {
            only: vec![StepId::Settings],
            skip: Vec::new(),
        };
        assert!(only_settings.includes(StepId::Settings));
        assert!(!only_settings.includes(StepId::Pull));
        assert_eq!(
            only_settings.exclusion_reason(StepId::Install).as_deref(),
            Some("skipped: not selected (--only settings)")
        );

        let both = Selection {
            only: vec![StepId::Pull, StepId::Settings],
            skip: vec![StepId::Pull],
        };
        assert!(!both.includes(StepId::Pull));
        assert_eq!(
            both.exclusion_reason(StepId::Pull).as_deref(),
            Some("skipped: --skip pull")
        );
        assert!(both.includes(StepId::Settings));
    }
}
