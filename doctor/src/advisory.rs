//! The advisory table (`doctor/data/advisories.toml`) and how an engine's versions are judged
//! against it.
//!
//! Upstream versions decide, except for distribution builds: Debian and Ubuntu backport fixes
//! without changing the upstream part of a version, so a distribution build in an affected range
//! is only *possibly* affected — unless the table records the package version that fixed it and
//! the engine reports its package version (`Components[].Details.GitCommit`), in which case the
//! two are compared exactly, in dpkg order.

use std::cmp::Ordering;

use dw_runtime::facts::EngineFacts;
use serde::Deserialize;

use crate::version::{UpstreamVersion, compare_dpkg, package_upstream};

/// The table, as shipped.
const TABLE: &str = include_str!("../data/advisories.toml");

/// One advisory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advisory {
    /// The CVE (or CVEs) it covers.
    pub id: String,
    /// Where the version comes from: `runc`, `containerd`, `engine`, `docker-desktop`, `podman`.
    pub component: String,
    /// How bad, in the vendor's words.
    pub severity: String,
    /// What an attacker gains, in one line.
    pub impact: String,
    /// The vendor's advisory.
    pub url: String,
    /// An engine feature the attack needs; without it the advisory does not apply.
    #[serde(default)]
    pub requires: Option<Requirement>,
    /// The affected ranges, one per release branch.
    pub affected: Vec<Range>,
    /// Distribution packages that fixed it by a backport.
    #[serde(default)]
    pub distribution: Vec<DistributionFix>,
}

/// An engine feature an attack needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Requirement {
    /// An authorization plugin is configured (`/info` `Plugins.Authorization`).
    AuthorizationPlugin,
}

/// An affected range of upstream versions: `introduced <= version < fixed`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// The first affected version; every earlier one when absent.
    #[serde(default)]
    pub introduced: Option<String>,
    /// The first fixed version of this branch; none fixed when absent.
    #[serde(default)]
    pub fixed: Option<String>,
}

/// A distribution package version that carries the fix.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributionFix {
    /// The distribution and its advisory, e.g. "Debian 12 (DSA-5615-1)".
    pub name: String,
    /// The fixed package version, e.g. `1.1.5+ds1-1+deb12u1`.
    pub fixed: String,
    /// The distribution's advisory.
    pub url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    advisory: Vec<Advisory>,
}

/// The shipped table could not be read: a packaging mistake.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The TOML is malformed.
    #[error(
        "the advisory table doctor/data/advisories.toml is malformed: {0}; report this as a dw bug"
    )]
    Syntax(#[from] toml::de::Error),
    /// A version in it is unreadable.
    #[error(
        "the advisory table has an unreadable version in {advisory}: {source}; report this as a dw bug"
    )]
    Version {
        /// The advisory.
        advisory: String,
        /// Why.
        #[source]
        source: crate::version::VersionError,
    },
}

/// The shipped advisory table, every version in it checked.
pub fn table() -> Result<Vec<Advisory>, TableError> {
    let table: Table = toml::from_str(TABLE)?;
    for advisory in &table.advisory {
        for range in &advisory.affected {
            for version in range.introduced.iter().chain(range.fixed.iter()) {
                UpstreamVersion::parse(version).map_err(|source| TableError::Version {
                    advisory: advisory.id.clone(),
                    source,
                })?;
            }
        }
    }
    Ok(table.advisory)
}

/// A component's version as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentVersion {
    /// The advisory table's component name.
    pub component: &'static str,
    /// The version, e.g. `1.1.5+ds1`.
    pub version: String,
    /// The distribution package version, when the engine reports one.
    pub package: Option<String>,
}

/// Where each component's version is found, in the order they are reported.
const COMPONENTS: &[(&str, &str)] = &[
    ("docker-desktop", "Docker Desktop"),
    ("engine", "Engine"),
    ("podman", "Podman Engine"),
    ("containerd", "containerd"),
    ("runc", "runc"),
];

/// The versions of every component the table knows, from `/version`.
pub fn component_versions(facts: &EngineFacts) -> Vec<ComponentVersion> {
    COMPONENTS
        .iter()
        .filter_map(|(component, name)| {
            if *component == "docker-desktop" {
                let platform = facts.platform_name.as_deref()?;
                let version = platform.strip_prefix("Docker Desktop ")?;
                let version = version.split_whitespace().next()?;
                return Some(ComponentVersion {
                    component,
                    version: version.to_owned(),
                    package: None,
                });
            }
            let reported = facts.component(name)?;
            // Debian and Ubuntu put the package version (`1.1.5+ds1-1+deb12u1`) in GitCommit.
            let package = reported
                .git_commit
                .as_ref()
                .filter(|commit| {
                    commit.len() > reported.version.len()
                        && commit.starts_with(&reported.version)
                        && commit[reported.version.len()..].starts_with('-')
                })
                .cloned();
            Some(ComponentVersion {
                component,
                version: reported.version.clone(),
                package,
            })
        })
        .collect()
}

/// How one advisory applies to one component version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The version is in no affected range.
    NotAffected,
    /// The version is affected; upgrade to `fixed` (none released for that branch when absent).
    Affected {
        /// The first fixed version of that branch.
        fixed: Option<String>,
    },
    /// A distribution package that the table says is still affected.
    AffectedPackage {
        /// The package that fixed it.
        fix: DistributionFix,
    },
    /// The upstream version is affected, but a distribution package carries the fix.
    FixedByDistribution {
        /// The distribution's fix.
        fix: DistributionFix,
    },
    /// A distribution build of an affected upstream version whose fix dw cannot establish.
    PossiblyAffected {
        /// The upstream fixed version of that branch.
        fixed: Option<String>,
    },
    /// Affected version, but the engine lacks what the attack needs.
    NotApplicable {
        /// What is missing.
        requirement: Requirement,
    },
    /// The engine's version could not be read.
    Unreadable {
        /// Why.
        reason: String,
    },
}

/// What the engine has that advisories may require.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineFeatures {
    /// `/info` `Plugins.Authorization`.
    pub authorization_plugins: Vec<String>,
}

impl Advisory {
    /// Judges one component version.
    pub fn assess(&self, component: &ComponentVersion, features: &EngineFeatures) -> Verdict {
        let version = match UpstreamVersion::parse(&component.version) {
            Ok(version) => version,
            Err(error) => {
                return Verdict::Unreadable {
                    reason: error.to_string(),
                };
            }
        };
        let Some(range) = self.affected.iter().find(|range| range.contains(&version)) else {
            return Verdict::NotAffected;
        };
        if self.requires == Some(Requirement::AuthorizationPlugin)
            && features.authorization_plugins.is_empty()
        {
            return Verdict::NotApplicable {
                requirement: Requirement::AuthorizationPlugin,
            };
        }
        if !version.is_distribution_build() {
            return Verdict::Affected {
                fixed: range.fixed.clone(),
            };
        }
        let recorded = component.package.as_deref().and_then(|package| {
            self.distribution
                .iter()
                .find(|fix| package_upstream(&fix.fixed) == package_upstream(package))
                .map(|fix| (package, fix))
        });
        match recorded {
            Some((package, fix)) if compare_dpkg(package, &fix.fixed) != Ordering::Less => {
                Verdict::FixedByDistribution { fix: fix.clone() }
            }
            Some((_, fix)) => Verdict::AffectedPackage { fix: fix.clone() },
            None => Verdict::PossiblyAffected {
                fixed: range.fixed.clone(),
            },
        }
    }
}

impl Range {
    fn contains(&self, version: &UpstreamVersion) -> bool {
        let bound =
            |text: &Option<String>| text.as_deref().and_then(|t| UpstreamVersion::parse(t).ok());
        let after_introduced =
            bound(&self.introduced).is_none_or(|introduced| *version >= introduced);
        let before_fixed = bound(&self.fixed).is_none_or(|fixed| *version < fixed);
        after_introduced && before_fixed
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn runc(version: &str, package: Option<&str>) -> ComponentVersion {
        ComponentVersion {
            component: "runc",
            version: version.to_owned(),
            package: package.map(str::to_owned),
        }
    }

    fn advisory(id: &str) -> Advisory {
        table().unwrap().into_iter().find(|a| a.id == id).unwrap()
    }

    #[test]
    fn the_shipped_table_loads_and_cites_a_source_for_every_entry() {
        let table = table().unwrap();
        assert!(table.len() >= 15);
        for advisory in &table {
            assert!(advisory.url.starts_with("https://"), "{}", advisory.id);
            assert!(!advisory.affected.is_empty(), "{}", advisory.id);
            assert!(
                COMPONENTS
                    .iter()
                    .any(|(name, _)| *name == advisory.component),
                "{}",
                advisory.id
            );
        }
    }

    #[test]
    fn upstream_versions_are_judged_by_range() {
        let leaky = advisory("CVE-2024-21626");
        let none = EngineFeatures::default();
        assert_eq!(
            leaky.assess(&runc("1.1.11", None), &none),
            Verdict::Affected {
                fixed: Some("1.1.12".to_owned())
            }
        );
        assert_eq!(
            leaky.assess(&runc("1.1.12", None), &none),
            Verdict::NotAffected
        );
        assert_eq!(
            leaky.assess(&runc("1.0.0-rc92", None), &none),
            Verdict::NotAffected
        );
        assert!(matches!(
            leaky.assess(&runc("1.0.0-rc93", None), &none),
            Verdict::Affected { .. }
        ));
        let trio = advisory("CVE-2025-31133");
        assert!(matches!(
            trio.assess(&runc("1.2.7", None), &none),
            Verdict::Affected { .. }
        ));
        assert_eq!(
            trio.assess(&runc("1.2.8", None), &none),
            Verdict::NotAffected
        );
        assert!(matches!(
            trio.assess(&runc("1.3.2", None), &none),
            Verdict::Affected { .. }
        ));
        assert_eq!(
            trio.assess(&runc("1.3.3", None), &none),
            Verdict::NotAffected
        );
        assert!(matches!(
            trio.assess(&runc("1.4.0-rc.2", None), &none),
            Verdict::Affected { .. }
        ));
        assert_eq!(
            trio.assess(&runc("1.4.0", None), &none),
            Verdict::NotAffected
        );
    }

    #[test]
    fn distribution_builds_are_decided_by_their_package_when_the_table_knows_it() {
        let leaky = advisory("CVE-2024-21626");
        let none = EngineFeatures::default();
        assert!(matches!(
            leaky.assess(&runc("1.1.5+ds1", Some("1.1.5+ds1-1+deb12u1")), &none),
            Verdict::FixedByDistribution { .. }
        ));
        assert!(matches!(
            leaky.assess(&runc("1.1.5+ds1", Some("1.1.5+ds1-1")), &none),
            Verdict::AffectedPackage { .. }
        ));
        assert_eq!(
            leaky.assess(&runc("1.1.5+ds1", None), &none),
            Verdict::PossiblyAffected {
                fixed: Some("1.1.12".to_owned())
            }
        );
        // Ubuntu's 1.1.12 build is upstream 1.1.12: fixed whatever its suffix says.
        assert_eq!(
            leaky.assess(&runc("1.1.12-0ubuntu2~22.04.1", None), &none),
            Verdict::NotAffected
        );
    }

    #[test]
    fn an_advisory_that_needs_an_authorization_plugin_applies_only_with_one() {
        let authz = advisory("CVE-2024-41110");
        let engine = ComponentVersion {
            component: "engine",
            version: "26.1.4".to_owned(),
            package: None,
        };
        assert!(matches!(
            authz.assess(&engine, &EngineFeatures::default()),
            Verdict::NotApplicable { .. }
        ));
        let with_plugin = EngineFeatures {
            authorization_plugins: vec!["opa-docker-authz".to_owned()],
        };
        assert_eq!(
            authz.assess(&engine, &with_plugin),
            Verdict::Affected {
                fixed: Some("26.1.5".to_owned())
            }
        );
        let fixed = ComponentVersion {
            version: "23.0.15".to_owned(),
            ..engine
        };
        assert_eq!(authz.assess(&fixed, &with_plugin), Verdict::NotAffected);
    }
}
