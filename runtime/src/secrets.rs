//! Secret-looking values: recognising and redacting them.
//!
//! Two sources of knowledge:
//! - [`PATTERNS`], a table of the shapes credentials are known to take (GitLab tokens, Anthropic
//!   and OpenAI keys, AWS keys, private key blocks, `Authorization` headers). Adding a shape is
//!   one row.
//! - literal values known at run time, typically the values of the workspace's masked `.env`
//!   files ([`dotenv_secret_values`]).
//!
//! A [`Redactor`] holds both, compiled once; [`find`] and [`redact`] are shortcuts for a single
//! call. Matching is linear in the input (Rust's `regex` never backtracks, literals go through
//! Aho-Corasick), so multi-megabyte tool output is fine.
//!
//! What this module does not do: decide what to do with a finding. The workflow runner refuses a
//! goal that contains one and redacts tool output before the model sees it.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexSet};

/// What replaces every secret in redacted text.
pub const REDACTED: &str = "[REDACTED]";

/// Literal values shorter than this are ignored: they would match ordinary words.
pub const MIN_LITERAL_LEN: usize = 8;

/// The kinds of secret dw recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// A GitLab token with one of GitLab's documented prefixes (`glpat-`, `gldt-`, …).
    GitLabToken,
    /// An Anthropic API key (`sk-ant-…`).
    AnthropicKey,
    /// An OpenAI API key (`sk-proj-…`, `sk-svcacct-…`, legacy `sk-…`).
    OpenAiKey,
    /// An AWS access key id (`AKIA…`, `ASIA…`).
    AwsAccessKeyId,
    /// An AWS secret access key, recognised only next to its label.
    AwsSecretAccessKey,
    /// A PEM or PGP private key block, from `BEGIN` to `END`.
    PrivateKey,
    /// The credential of an `Authorization:` header.
    AuthorizationHeader,
    /// A literal value supplied at run time (e.g. from a masked `.env` file).
    KnownValue,
}

impl SecretKind {
    /// A short, human description, used in messages such as a refused goal.
    pub fn description(self) -> &'static str {
        match self {
            SecretKind::GitLabToken => "a GitLab token",
            SecretKind::AnthropicKey => "an Anthropic API key",
            SecretKind::OpenAiKey => "an OpenAI API key",
            SecretKind::AwsAccessKeyId => "an AWS access key id",
            SecretKind::AwsSecretAccessKey => "an AWS secret access key",
            SecretKind::PrivateKey => "a private key",
            SecretKind::AuthorizationHeader => "an Authorization header credential",
            SecretKind::KnownValue => "a value from a masked file (such as .env)",
        }
    }
}

impl fmt::Display for SecretKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.description())
    }
}

/// One row of the pattern table.
#[derive(Debug, Clone, Copy)]
pub struct Pattern {
    /// What a match of this pattern is.
    pub kind: SecretKind,
    /// The regular expression (Rust `regex` syntax).
    pub regex: &'static str,
    /// Which capture group is the secret itself (0: the whole match). A label such as
    /// `aws_secret_access_key =` stays readable; only the value is redacted.
    pub group: usize,
}

/// The shapes of credentials dw recognises.
///
/// GitLab prefixes as documented in GitLab's token overview ("Token prefixes"): personal,
/// project and group access tokens `glpat-`, OAuth application secrets `gloas-`, deploy tokens
/// `gldt-`, runner authentication tokens `glrt-`/`glrtr-`, CI/CD job tokens `glcbt-`, pipeline
/// trigger tokens `glptt-`, feed tokens `glft-`, incoming mail tokens `glimt-`, agent for
/// Kubernetes tokens `glagent-`, SCIM tokens `glsoat-`, feature flag client tokens `glffct-`,
/// workspace tokens `glwt-`, and the legacy runner registration prefix `GR1348941`.
/// Newer "routable" tokens carry `.`-separated segments; those are part of the match.
pub const PATTERNS: &[Pattern] = &[
    Pattern {
        kind: SecretKind::GitLabToken,
        regex: r"\b(?:glpat|gloas|gldt|glrtr|glrt|glcbt|glptt|glft|glimt|glagent|glsoat|glffct|glwt)-[0-9A-Za-z_-]{20,}(?:\.[0-9A-Za-z_-]+)*",
        group: 0,
    },
    Pattern {
        kind: SecretKind::GitLabToken,
        regex: r"\bGR1348941[0-9A-Za-z_-]{20,}",
        group: 0,
    },
    Pattern {
        kind: SecretKind::AnthropicKey,
        regex: r"\bsk-ant-[0-9A-Za-z_-]{20,}",
        group: 0,
    },
    Pattern {
        kind: SecretKind::OpenAiKey,
        regex: r"\bsk-(?:(?:proj|svcacct|admin)-[0-9A-Za-z_-]{20,}|[0-9A-Za-z]{32,})",
        group: 0,
    },
    Pattern {
        kind: SecretKind::AwsAccessKeyId,
        regex: r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
        group: 0,
    },
    Pattern {
        kind: SecretKind::AwsSecretAccessKey,
        regex: r#"(?i)(?:aws)?_?secret_?access_?key["']?\s*[:=]\s*["']?([0-9A-Za-z/+]{40})(?:[^0-9A-Za-z/+]|$)"#,
        group: 1,
    },
    Pattern {
        kind: SecretKind::PrivateKey,
        // An unterminated block (truncated output) is redacted to the end of the text.
        regex: r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----(?:(?s:.)*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|(?s:.)*\z)",
        group: 0,
    },
    Pattern {
        kind: SecretKind::AuthorizationHeader,
        regex: r"(?i)\bauthorization\s*:\s*(?:bearer|basic|token)\s+([0-9A-Za-z._~+/=-]{8,})",
        group: 1,
    },
];

/// A secret found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was found.
    pub kind: SecretKind,
    /// Where, in bytes (always on `char` boundaries).
    pub range: Range<usize>,
}

struct Compiled {
    set: RegexSet,
    regexes: Vec<Regex>,
}

#[allow(
    clippy::expect_used,
    reason = "the patterns are constants, compiled by the `every_pattern_compiles` test"
)]
static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    let sources = PATTERNS.iter().map(|pattern| pattern.regex);
    Compiled {
        set: RegexSet::new(sources.clone()).expect("secret patterns are valid regexes"),
        regexes: sources
            .map(|source| Regex::new(source).expect("secret patterns are valid regexes"))
            .collect(),
    }
});

/// Recognises the [`PATTERNS`] and a set of literal values; build once, use for every text.
#[derive(Clone)]
pub struct Redactor {
    literals: Option<AhoCorasick>,
    literal_count: usize,
}

impl fmt::Debug for Redactor {
    // The literals are secrets: never print them.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Redactor")
            .field("patterns", &PATTERNS.len())
            .field("literal_values", &self.literal_count)
            .finish()
    }
}

impl Default for Redactor {
    fn default() -> Self {
        Redactor::new(std::iter::empty::<&str>())
    }
}

impl Redactor {
    /// A redactor for the built-in patterns plus `literal_values` (values shorter than
    /// [`MIN_LITERAL_LEN`] bytes are ignored).
    pub fn new<I, S>(literal_values: I) -> Redactor
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut values: Vec<String> = literal_values
            .into_iter()
            .map(|value| value.as_ref().to_owned())
            .filter(|value| value.len() >= MIN_LITERAL_LEN)
            .collect();
        values.sort();
        values.dedup();
        let literals = if values.is_empty() {
            None
        } else {
            // Building only fails past internal size limits; then the values are matched by
            // a plain scan instead of being dropped (see `find_literals`).
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .build(&values)
                .ok()
        };
        Redactor {
            literal_count: values.len(),
            literals,
        }
    }

    /// Every secret in `text`, sorted by position, overlapping findings merged into one
    /// (which keeps the kind of the one that starts first, or of the earlier table row).
    pub fn find(&self, text: &str) -> Vec<Finding> {
        let mut findings = find_patterns(text);
        if let Some(literals) = &self.literals {
            // Overlapping search: two values may overlap each other, and both must go.
            findings.extend(literals.find_overlapping_iter(text).map(|found| Finding {
                kind: SecretKind::KnownValue,
                range: found.range(),
            }));
        }
        merge(findings)
    }

    /// `text` with every finding replaced by [`REDACTED`]; every other byte is kept.
    /// Borrows `text` when there is nothing to redact.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let findings = self.find(text);
        if findings.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut redacted = String::with_capacity(text.len());
        let mut position = 0;
        for finding in findings {
            redacted.push_str(&text[position..finding.range.start]);
            redacted.push_str(REDACTED);
            position = finding.range.end;
        }
        redacted.push_str(&text[position..]);
        Cow::Owned(redacted)
    }
}

/// Every secret in `text` that matches a built-in pattern (see [`Redactor::find`]).
pub fn find(text: &str) -> Vec<Finding> {
    merge(find_patterns(text))
}

/// `text` with the built-in patterns and `extra_values` replaced by [`REDACTED`]. To redact
/// many texts with the same values, build a [`Redactor`] once instead.
pub fn redact<'a, S: AsRef<str>>(text: &'a str, extra_values: &[S]) -> Cow<'a, str> {
    Redactor::new(extra_values.iter().map(AsRef::as_ref)).redact(text)
}

fn find_patterns(text: &str) -> Vec<Finding> {
    let compiled = &*COMPILED;
    // One pass over the text tells which patterns can match at all; usually none.
    let candidates = compiled.set.matches(text);
    let mut findings = Vec::new();
    for index in candidates.iter() {
        let pattern = &PATTERNS[index];
        for captures in compiled.regexes[index].captures_iter(text) {
            if let Some(secret) = captures.get(pattern.group) {
                findings.push(Finding {
                    kind: pattern.kind,
                    range: secret.range(),
                });
            }
        }
    }
    findings
}

fn merge(mut findings: Vec<Finding>) -> Vec<Finding> {
    // Stable sort: at the same start, the longer one first, then table order.
    findings.sort_by(|left, right| {
        left.range
            .start
            .cmp(&right.range.start)
            .then(right.range.end.cmp(&left.range.end))
    });
    let mut merged: Vec<Finding> = Vec::with_capacity(findings.len());
    for finding in findings {
        match merged.last_mut() {
            Some(last) if finding.range.start < last.range.end => {
                last.range.end = last.range.end.max(finding.range.end);
            }
            _ => merged.push(finding),
        }
    }
    merged
}

/// One `KEY=value` assignment of a dotenv file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvEntry {
    /// The variable name.
    pub key: String,
    /// The value, unquoted (escapes resolved in double quotes).
    pub value: String,
}

/// Parses dotenv text: `KEY=value`, optional `export `, `#` comments (whole lines, and after
/// whitespace in unquoted values), single quotes (literal) and double quotes (`\n`, `\"`, `\\`
/// escapes), both of which may span lines. Lines that are not assignments are skipped: this
/// reads files to find secrets, it does not validate them.
pub fn parse_dotenv(contents: &str) -> Vec<DotenvEntry> {
    let mut entries = Vec::new();
    let mut lines = contents.lines();
    while let Some(line) = lines.next() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export")
            .filter(|rest| rest.starts_with([' ', '\t']))
            .map_or(line, str::trim_start);
        let Some((key, raw_value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if !is_dotenv_key(key) {
            continue;
        }
        let raw_value = raw_value.trim_start();
        let value = match raw_value.chars().next() {
            Some(quote @ ('"' | '\'')) => quoted_value(&raw_value[1..], quote, &mut lines),
            _ => unquoted_value(raw_value),
        };
        entries.push(DotenvEntry {
            key: key.to_owned(),
            value,
        });
    }
    entries
}

/// The values of a dotenv file worth redacting: those of at least [`MIN_LITERAL_LEN`] bytes,
/// without duplicates, in file order.
pub fn dotenv_secret_values(contents: &str) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    for entry in parse_dotenv(contents) {
        if entry.value.len() >= MIN_LITERAL_LEN && !values.contains(&entry.value) {
            values.push(entry.value);
        }
    }
    values
}

fn is_dotenv_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn unquoted_value(raw: &str) -> String {
    let without_comment = raw
        .char_indices()
        .find(|&(index, c)| c == '#' && raw[..index].ends_with([' ', '\t']))
        .map_or(raw, |(index, _)| &raw[..index]);
    without_comment.trim().to_owned()
}

fn quoted_value<'a>(
    first: &'a str,
    quote: char,
    rest: &mut impl Iterator<Item = &'a str>,
) -> String {
    let mut value = String::new();
    let mut current = first;
    loop {
        let mut chars = current.chars();
        while let Some(c) = chars.next() {
            if c == quote {
                return value;
            }
            if c == '\\' && quote == '"' {
                match chars.next() {
                    Some('n') => value.push('\n'),
                    Some('r') => value.push('\r'),
                    Some('t') => value.push('\t'),
                    Some(other) => value.push(other),
                    None => value.push('\\'),
                }
                continue;
            }
            value.push(c);
        }
        // No closing quote on this line: the value goes on on the next one.
        match rest.next() {
            Some(next) => {
                value.push('\n');
                current = next;
            }
            None => return value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for pattern in PATTERNS {
            assert!(Regex::new(pattern.regex).is_ok(), "{}", pattern.regex);
        }
        assert_eq!(COMPILED.regexes.len(), PATTERNS.len());
    }
}
