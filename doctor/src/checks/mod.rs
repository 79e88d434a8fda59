//! The checks, grouped by what they look at. Each is a function of the [`Context`](crate::Context)
//! named in [`CHECKS`](crate::CHECKS).

pub mod advisories;
pub mod engine;
pub mod git;
pub mod hardware;
pub mod isolation;
pub mod mounts;
pub mod network;
pub mod resources;
pub mod secrets;
pub mod socket;
pub mod token;
pub mod vscode;

use crate::check::CheckError;
use crate::context::{Context, SelectedEngine};
use crate::finding::{Outcome, Status};
use crate::probe::{Probe, ProbeError, ProbeOutput};

/// The engine, for checks the table marks as needing one.
fn engine(context: &Context) -> Result<&SelectedEngine, CheckError> {
    context.engine.as_ref().ok_or(CheckError::NoEngine)
}

/// The configuration file of the engine's VM, when its runtime keeps one dw can read.
fn vm_config(
    context: &Context,
    engine: &SelectedEngine,
) -> Result<Option<crate::vm::VmConfig>, crate::vm::VmConfigError> {
    let discovery = &context.settings.discovery;
    let candidates = crate::vm::candidates(
        engine.kind,
        &engine.endpoint,
        &discovery.home,
        discovery.colima_home.as_deref(),
    );
    crate::vm::first_existing(&candidates)
}

/// `12.3 GiB`.
fn gibibytes(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

const PROBE_FIX: &str = "check that the engine can start a container from the image (`docker run --rm <image> true`), or skip the probes with --no-probe";

/// Runs the probe of a check's probe half. When it does not run (`--no-probe`, the image is
/// missing) the error is a skip saying `what` was not checked; when it fails, a warning.
async fn probe_half(
    context: &Context,
    engine: &SelectedEngine,
    probe: &Probe,
    what: &str,
) -> Result<ProbeOutput, Outcome> {
    let settings = &context.settings.probe;
    if !settings.enabled {
        let line = format!("not checked (--no-probe): {what}");
        return Err(Outcome::skip(line.clone()).evidence(line));
    }
    let home = &context.settings.discovery.home;
    match crate::probe::run(
        &engine.engine,
        settings,
        home,
        &context.settings.image,
        probe,
    )
    .await
    {
        Ok(output) => Ok(output),
        Err(error @ ProbeError::ImageMissing { .. }) => {
            let line = format!("not checked: {what}: {error}");
            Err(Outcome::skip(line.clone()).evidence(line))
        }
        Err(error) => Err(Outcome::warn(format!("{what} could not be checked"))
            .evidence(format!("the probe container could not run: {error}"))
            .fix(PROBE_FIX)),
    }
}

/// How bad a status is, for folding a probe half into its check; a skip counts for nothing.
fn severity(status: Status) -> u8 {
    match status {
        Status::Skip | Status::Pass => 0,
        Status::Warn => 1,
        Status::Fail => 2,
    }
}

/// Folds a check's probe half into the outcome of its other half: the half's evidence is
/// added; a worse status replaces the outcome's, with its summary and fix; an equally bad one
/// adds its fix.
fn with_probe(outcome: Outcome, half: Outcome) -> Outcome {
    let Outcome {
        status,
        summary,
        mut evidence,
        fix,
    } = outcome;
    evidence.extend(half.evidence);
    let (status, summary, fix) = match severity(half.status).cmp(&severity(status)) {
        std::cmp::Ordering::Greater => (half.status, half.summary, half.fix),
        std::cmp::Ordering::Equal if half.fix.is_some() => {
            let fix = match (fix, half.fix) {
                (Some(first), Some(second)) if first != second => {
                    Some(format!("{first}; and {second}"))
                }
                (first, second) => first.or(second),
            };
            (status, summary, fix)
        }
        _ => (status, summary, fix),
    };
    Outcome {
        status,
        summary,
        evidence,
        fix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worse_probe_half_takes_over_and_a_skipped_one_only_adds_evidence() {
        let shares = Outcome::pass("shares are fine").evidence("shares ~/projects writable");
        let skipped = Outcome::skip("not checked").evidence("not checked (--no-probe): x");
        let folded = with_probe(shares.clone(), skipped);
        assert_eq!(folded.status, Status::Pass);
        assert_eq!(folded.summary, "shares are fine");
        assert_eq!(folded.evidence.len(), 2);

        let failed = Outcome::fail("sandbox sees too much")
            .evidence("e")
            .fix("f");
        let folded = with_probe(shares, failed);
        assert_eq!(folded.status, Status::Fail);
        assert_eq!(folded.summary, "sandbox sees too much");
        assert_eq!(folded.fix.as_deref(), Some("f"));

        let warned = Outcome::warn("home shared").fix("narrow the shares");
        let also = Outcome::warn("extra mounts").fix("report it");
        let folded = with_probe(warned, also);
        assert_eq!(folded.summary, "home shared");
        assert_eq!(
            folded.fix.as_deref(),
            Some("narrow the shares; and report it")
        );
    }
}
