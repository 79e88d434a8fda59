//! What a check found: a status, a one-line summary, evidence and a fix.

use serde::Serialize;

/// How a check came out. The strings are a stable interface (`--json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing to do.
    Pass,
    /// A risk worth knowing about, or something dw could not establish for sure.
    Warn,
    /// A documented risk is present, or something dw needs is missing.
    Fail,
    /// The check did not run; the summary says why.
    Skip,
}

impl Status {
    /// The stable identifier (`pass`, `warn`, `fail`, `skip`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
            Self::Skip => "skip",
        }
    }
}

/// What a check function returns; the runner adds the check's id and risk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// How it came out.
    pub status: Status,
    /// One line.
    pub summary: String,
    /// The facts the status rests on, one per line.
    pub evidence: Vec<String>,
    /// What to do, for anything not passing.
    pub fix: Option<String>,
}

impl Outcome {
    /// An outcome with no evidence and no fix yet.
    pub fn new(status: Status, summary: impl Into<String>) -> Self {
        Self {
            status,
            summary: summary.into(),
            evidence: Vec::new(),
            fix: None,
        }
    }

    /// A pass.
    pub fn pass(summary: impl Into<String>) -> Self {
        Self::new(Status::Pass, summary)
    }

    /// A warning.
    pub fn warn(summary: impl Into<String>) -> Self {
        Self::new(Status::Warn, summary)
    }

    /// A failure.
    pub fn fail(summary: impl Into<String>) -> Self {
        Self::new(Status::Fail, summary)
    }

    /// A skip; the summary is the reason.
    pub fn skip(reason: impl Into<String>) -> Self {
        Self::new(Status::Skip, reason)
    }

    /// Adds one line of evidence.
    pub fn evidence(mut self, line: impl Into<String>) -> Self {
        self.evidence.push(line.into());
        self
    }

    /// Adds lines of evidence.
    pub fn evidence_lines(mut self, lines: impl IntoIterator<Item = String>) -> Self {
        self.evidence.extend(lines);
        self
    }

    /// Sets the fix.
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// Replaces every occurrence of `secret` in the summary, evidence and fix with `replacement`,
    /// whatever put it there (a server's error message, say).
    pub fn redact(mut self, secret: &str, replacement: &str) -> Self {
        if secret.is_empty() {
            return self;
        }
        let clean = |text: &mut String| {
            if text.contains(secret) {
                *text = text.replace(secret, replacement);
            }
        };
        clean(&mut self.summary);
        self.evidence.iter_mut().for_each(clean);
        if let Some(fix) = self.fix.as_mut() {
            clean(fix);
        }
        self
    }
}

/// One check's result, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The check's id (a stable interface).
    pub id: &'static str,
    /// The number of the documented risk it checks, if any.
    pub risk: Option<u8>,
    /// How it came out.
    pub status: Status,
    /// One line.
    pub summary: String,
    /// The facts the status rests on.
    pub evidence: Vec<String>,
    /// What to do.
    pub fix: Option<String>,
}

/// How many findings have each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Passed.
    pub pass: usize,
    /// Warned.
    pub warn: usize,
    /// Failed.
    pub fail: usize,
    /// Skipped.
    pub skip: usize,
}

/// Every finding of one run, in the order of the check table, and their counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The findings.
    pub checks: Vec<Finding>,
    /// Their counts.
    pub summary: Summary,
}

impl Report {
    /// Counts the findings.
    pub fn new(checks: Vec<Finding>) -> Self {
        let mut summary = Summary::default();
        for finding in &checks {
            match finding.status {
                Status::Pass => summary.pass += 1,
                Status::Warn => summary.warn += 1,
                Status::Fail => summary.fail += 1,
                Status::Skip => summary.skip += 1,
            }
        }
        Self { checks, summary }
    }

    /// Whether any check failed (doctor then exits 1).
    pub fn has_failures(&self) -> bool {
        self.summary.fail > 0
    }

    /// The finding of check `id`, if it ran.
    pub fn finding(&self, id: &str) -> Option<&Finding> {
        self.checks.iter().find(|finding| finding.id == id)
    }
}
