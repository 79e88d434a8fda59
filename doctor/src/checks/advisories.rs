//! `engine-advisories`: the engine's components against the advisory table.

use futures_util::future::BoxFuture;

use crate::advisory::{self, Requirement, Verdict};
use crate::check::CheckResult;
use crate::context::Context;
use crate::finding::Outcome;

/// `engine-advisories`.
pub fn engine_advisories(context: &Context) -> BoxFuture<'_, CheckResult> {
    Box::pin(async move {
        let engine = super::engine(context)?;
        let table = advisory::table()?;
        let components = advisory::component_versions(&engine.facts);
        let mut evidence: Vec<String> = components
            .iter()
            .map(|component| match &component.package {
                Some(package) => format!(
                    "{} {} (package {package})",
                    component.component, component.version
                ),
                None => format!("{} {}", component.component, component.version),
            })
            .collect();
        let (mut affected, mut possibly, mut fixes) = (Vec::new(), Vec::new(), Vec::new());
        for component in &components {
            for advisory in table
                .iter()
                .filter(|advisory| advisory.component == component.component)
            {
                let name = format!(
                    "{} ({}, {})",
                    advisory.id, component.component, advisory.severity
                );
                match advisory.assess(component, &engine.features) {
                    Verdict::NotAffected => {}
                    Verdict::Affected { fixed } => {
                        let upgrade = fixed.map_or_else(
                            || {
                                "no fixed release in this branch; upgrade to a newer branch"
                                    .to_owned()
                            },
                            |fixed| format!("fixed in {fixed}"),
                        );
                        evidence.push(format!(
                            "{name}: AFFECTED, {upgrade}: {} — {}",
                            advisory.impact, advisory.url
                        ));
                        affected.push(advisory.id.clone());
                        fixes.push(format!("upgrade {} ({upgrade})", component.component));
                    }
                    Verdict::AffectedPackage { fix } => {
                        evidence.push(format!(
                            "{name}: AFFECTED, package {} is older than {} ({}): {} — {}",
                            component.package.as_deref().unwrap_or_default(),
                            fix.fixed,
                            fix.name,
                            advisory.impact,
                            fix.url
                        ));
                        affected.push(advisory.id.clone());
                        fixes.push(format!(
                            "upgrade the {} package to {} or later",
                            component.component, fix.fixed
                        ));
                    }
                    Verdict::FixedByDistribution { fix } => {
                        evidence.push(format!(
                            "{name}: fixed in this distribution build ({}, package {} — {})",
                            fix.name, fix.fixed, fix.url
                        ));
                    }
                    Verdict::PossiblyAffected { fixed } => {
                        let upstream = fixed
                            .map_or_else(String::new, |fixed| format!(" (upstream fix: {fixed})"));
                        evidence.push(format!("{name}: possibly affected: {} is a distribution build of an affected version{upstream}; the distribution may have backported the fix — {}", component.version, advisory.url));
                        possibly.push(advisory.id.clone());
                    }
                    Verdict::NotApplicable {
                        requirement: Requirement::AuthorizationPlugin,
                    } => {
                        evidence.push(format!("{name}: affected version, but it needs an authorization plugin and none is configured"));
                    }
                    Verdict::Unreadable { reason } => {
                        evidence.push(format!("{name}: {reason}"));
                        possibly.push(advisory.id.clone());
                    }
                }
            }
        }
        if !affected.is_empty() {
            fixes.dedup();
            return Ok(
                Outcome::fail(format!("the engine is affected by {}", affected.join(", ")))
                    .evidence_lines(evidence)
                    .fix(fixes.join("; ")),
            );
        }
        if !possibly.is_empty() {
            return Ok(Outcome::warn(format!("distribution builds possibly affected by {}", possibly.join(", ")))
                .evidence_lines(evidence)
                .fix("check each CVE in your distribution's security tracker (Debian: https://security-tracker.debian.org/tracker/CVE-…), update the packages, or use upstream Docker packages / a VM runtime with current releases"));
        }
        Ok(Outcome::pass(format!(
            "no known escape advisory affects this engine ({} advisories checked)",
            table.len()
        ))
        .evidence_lines(evidence))
    })
}
