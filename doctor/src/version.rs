//! Version comparison for what engines report: upstream versions with release candidates and
//! distribution suffixes, and Debian package versions in dpkg order.
//!
//! Engines report versions such as `27.4.0`, `1.0.0-rc93`, `1.2.0-rc.3`, `20.10.24+dfsg1`,
//! `1.1.5+ds1`, `1.6.20~ds1` or `1.1.12-0ubuntu2~22.04.1`. semver cannot read half of them, and
//! reads `-0ubuntu2` as a pre-release. [`UpstreamVersion`] keeps the upstream release and its
//! pre-release apart from whatever a distribution appended; [`compare_dpkg`] orders full package
//! versions (`1.1.5+ds1-1+deb12u1`) exactly as dpkg does.

use std::cmp::Ordering;
use std::fmt;

/// A pre-release tag: `alpha` < `beta` < `rc`, then by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PreRelease {
    /// `-alpha.N`.
    Alpha(u64),
    /// `-beta.N`.
    Beta(u64),
    /// `-rcN`, `-rc.N`, `~rcN`.
    Rc(u64),
}

/// An upstream version: release numbers, an optional pre-release, and the distribution suffix
/// (`+dfsg1`, `~ds1`, `-0ubuntu2~22.04.1` …) that does not take part in comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamVersion {
    /// Major, minor, patch (missing parts are zero).
    pub release: [u64; 3],
    /// The pre-release, if any.
    pub pre: Option<PreRelease>,
    /// What a distribution appended, if anything.
    pub distribution_suffix: Option<String>,
}

/// A version that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a version dw can read: it must start with a number such as `1.2.3`")]
pub struct VersionError {
    /// The text as reported.
    pub text: String,
}

impl UpstreamVersion {
    /// Reads a version as engines and their components report it.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let error = || VersionError {
            text: text.to_owned(),
        };
        let trimmed = text.trim();
        let trimmed = trimmed.strip_prefix('v').unwrap_or(trimmed);
        let mut release = [0u64; 3];
        let mut rest = trimmed;
        for (index, slot) in release.iter_mut().enumerate() {
            if index > 0 {
                match rest.strip_prefix('.') {
                    Some(after) if after.starts_with(|c: char| c.is_ascii_digit()) => rest = after,
                    _ => break,
                }
            }
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits == 0 {
                return Err(error());
            }
            *slot = rest[..digits].parse().map_err(|_| error())?;
            rest = &rest[digits..];
        }
        let (pre, rest) = pre_release(rest);
        Ok(Self {
            release,
            pre,
            distribution_suffix: (!rest.is_empty()).then(|| rest.to_owned()),
        })
    }

    /// Whether a distribution built it (and may have backported fixes).
    pub fn is_distribution_build(&self) -> bool {
        self.distribution_suffix.is_some()
    }

    /// The upstream version without the distribution suffix, e.g. `1.1.5` or `1.2.0-rc.3`.
    pub fn upstream(&self) -> String {
        let [major, minor, patch] = self.release;
        let pre = match self.pre {
            None => String::new(),
            Some(PreRelease::Alpha(number)) => format!("-alpha.{number}"),
            Some(PreRelease::Beta(number)) => format!("-beta.{number}"),
            Some(PreRelease::Rc(number)) => format!("-rc.{number}"),
        };
        format!("{major}.{minor}.{patch}{pre}")
    }
}

/// `-rc93`, `-rc.3`, `~rc1`, `-beta.2` at the start of `rest`, and what follows it.
fn pre_release(rest: &str) -> (Option<PreRelease>, &str) {
    type Make = fn(u64) -> PreRelease;
    const TAGS: &[(&str, Make)] = &[
        ("rc", PreRelease::Rc),
        ("beta", PreRelease::Beta),
        ("alpha", PreRelease::Alpha),
    ];
    let Some(tagged) = rest.strip_prefix(['-', '~', '.']) else {
        return (None, rest);
    };
    for (tag, make) in TAGS {
        let Some(after) = tagged.strip_prefix(tag) else {
            continue;
        };
        let after = after.strip_prefix('.').unwrap_or(after);
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let number = after[..digits].parse().unwrap_or(0);
        return (Some(make(number)), &after[digits..]);
    }
    (None, rest)
}

impl Ord for UpstreamVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.release
            .cmp(&other.release)
            .then_with(|| match (self.pre, other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(left), Some(right)) => left.cmp(&right),
            })
    }
}

impl PartialOrd for UpstreamVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for UpstreamVersion {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.upstream())?;
        if let Some(suffix) = &self.distribution_suffix {
            formatter.write_str(suffix)?;
        }
        Ok(())
    }
}

/// Compares two Debian package versions (`[epoch:]upstream[-revision]`) the way dpkg does.
pub fn compare_dpkg(left: &str, right: &str) -> Ordering {
    let (left_epoch, left_upstream, left_revision) = split_package_version(left);
    let (right_epoch, right_upstream, right_revision) = split_package_version(right);
    left_epoch
        .cmp(&right_epoch)
        .then_with(|| compare_dpkg_part(left_upstream, right_upstream))
        .then_with(|| compare_dpkg_part(left_revision, right_revision))
}

/// The upstream part of a package version: without epoch and Debian revision.
pub fn package_upstream(version: &str) -> &str {
    split_package_version(version).1
}

fn split_package_version(version: &str) -> (u64, &str, &str) {
    let version = version.trim();
    let (epoch, rest) = match version.split_once(':') {
        Some((epoch, rest)) if epoch.chars().all(|c| c.is_ascii_digit()) => {
            (epoch.parse().unwrap_or(0), rest)
        }
        _ => (0, version),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

/// dpkg's `verrevcmp`: alternating non-digit and digit runs; `~` sorts before everything, even
/// the end of the string; letters sort before other characters.
fn compare_dpkg_part(left: &str, right: &str) -> Ordering {
    fn weight(character: Option<u8>) -> i32 {
        match character {
            None => 0,
            Some(b'~') => -1,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => i32::from(c),
            Some(c) => i32::from(c) + 256,
        }
    }
    let (left, right) = (left.as_bytes(), right.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < left.len() || j < right.len() {
        while (i < left.len() && !left[i].is_ascii_digit())
            || (j < right.len() && !right[j].is_ascii_digit())
        {
            let order = weight(left.get(i).copied()).cmp(&weight(right.get(j).copied()));
            if order != Ordering::Equal {
                return order;
            }
            i += 1;
            j += 1;
        }
        while i < left.len() && left[i] == b'0' {
            i += 1;
        }
        while j < right.len() && right[j] == b'0' {
            j += 1;
        }
        let mut first_difference = Ordering::Equal;
        while i < left.len()
            && left[i].is_ascii_digit()
            && j < right.len()
            && right[j].is_ascii_digit()
        {
            if first_difference == Ordering::Equal {
                first_difference = left[i].cmp(&right[j]);
            }
            i += 1;
            j += 1;
        }
        if i < left.len() && left[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < right.len() && right[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_difference != Ordering::Equal {
            return first_difference;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn version(text: &str) -> UpstreamVersion {
        UpstreamVersion::parse(text).unwrap()
    }

    #[test]
    fn distribution_suffixes_are_kept_apart_from_the_upstream_version() {
        let cases = [
            ("20.10.24+dfsg1", "20.10.24", Some("+dfsg1")),
            ("1.1.5+ds1", "1.1.5", Some("+ds1")),
            ("1.6.20~ds1", "1.6.20", Some("~ds1")),
            (
                "1.1.12-0ubuntu2~22.04.1",
                "1.1.12",
                Some("-0ubuntu2~22.04.1"),
            ),
            (
                "26.1.3-0ubuntu1~24.04.1+esm1",
                "26.1.3",
                Some("-0ubuntu1~24.04.1+esm1"),
            ),
            ("27.4.0", "27.4.0", None),
            ("v1.2.5", "1.2.5", None),
            ("1.0-rc6", "1.0.0-rc.6", None),
            ("1.0.0-rc93", "1.0.0-rc.93", None),
            ("1.2.0-rc.3", "1.2.0-rc.3", None),
            ("1.0.0~rc93+ds1", "1.0.0-rc.93", Some("+ds1")),
            ("4.44.3", "4.44.3", None),
        ];
        for (text, upstream, suffix) in cases {
            let parsed = version(text);
            assert_eq!(parsed.upstream(), upstream, "{text}");
            assert_eq!(parsed.distribution_suffix.as_deref(), suffix, "{text}");
            assert_eq!(parsed.is_distribution_build(), suffix.is_some(), "{text}");
        }
    }

    #[test]
    fn release_candidates_sort_before_their_release() {
        assert!(version("1.0.0-rc93") < version("1.0.0"));
        assert!(version("1.0.0-rc6") < version("1.0.0-rc93"));
        assert!(version("1.2.0-rc.2") < version("1.2.0-rc.3"));
        assert!(version("1.2.0-beta.9") < version("1.2.0-rc.1"));
        assert!(version("1.1.14") < version("1.2.0-rc.1"));
        assert!(version("1.1.5+ds1") < version("1.1.12"));
        assert!(version("1.1.12-0ubuntu2~22.04.1") >= version("1.1.12"));
        assert_eq!(
            version("20.10.24+dfsg1").cmp(&version("20.10.24")),
            Ordering::Equal
        );
        assert!(version("28.3.2") > version("27.1.1"));
    }

    #[test]
    fn text_that_is_not_a_version_is_refused() {
        assert!(UpstreamVersion::parse("").is_err());
        assert!(UpstreamVersion::parse("dev").is_err());
    }

    #[test]
    fn package_versions_follow_dpkg_order() {
        let ascending = [
            "1.1.5+ds1-1",
            "1.1.5+ds1-1+deb12u1",
            "1.1.5+ds1-1+deb12u2",
            "1.1.5+ds2-1",
            "1.1.12-0ubuntu2~22.04.1",
            "1.1.12-0ubuntu2",
            "1.1.12-0ubuntu3",
            "1:0.1-1",
        ];
        for pair in ascending.windows(2) {
            assert_eq!(compare_dpkg(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(
                compare_dpkg(pair[1], pair[0]),
                Ordering::Greater,
                "{pair:?}"
            );
        }
        assert_eq!(compare_dpkg("1.6.20~ds1-1", "1.6.20-1"), Ordering::Less);
        assert_eq!(compare_dpkg("1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(compare_dpkg("1.01", "1.1"), Ordering::Equal);
        assert_eq!(
            compare_dpkg("1.1.5+ds1-1+deb12u1", "1.1.5+ds1-1+deb12u1"),
            Ordering::Equal
        );
        assert_eq!(package_upstream("1.6.20~ds1-1+deb12u3"), "1.6.20~ds1");
        assert_eq!(package_upstream("2:1.0-1"), "1.0");
    }
}
