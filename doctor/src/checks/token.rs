//! `token-scope`: what the GitLab token dw is configured with may do on your behalf.
//!
//! dw asks the instance about the token itself (`GET /api/v4/personal_access_tokens/self`,
//! <https://docs.gitlab.com/api/personal_access_tokens/#self-inform>) and judges its scopes
//! against [`SCOPES`], GitLab's documented scope list
//! (<https://docs.gitlab.com/security/tokens/access_token_scopes/>). The token itself never
//! appears in a finding: only its [`mask`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use serde::Deserialize;

use crate::check::CheckResult;
use crate::context::{Context, GitLab};
use crate::finding::{Outcome, Status};

/// The instance dw talks to when `GITLAB_URL` is not set.
pub const DEFAULT_URL: &str = "https://gitlab.com";

/// How long dw waits for the instance's answer.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A token expiring within this many days is worth a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 7;

/// What a scope lets a token do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// It only reads.
    Read,
    /// It can change things on GitLab as you.
    Write,
}

/// One row of GitLab's scope table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    /// The scope's name (`read_api`).
    pub name: &'static str,
    /// Whether it writes.
    pub access: Access,
    /// What it grants, in GitLab's words, shortened.
    pub grants: &'static str,
}

/// GitLab's access token scopes (<https://docs.gitlab.com/security/tokens/access_token_scopes/>),
/// plus `ai_workflows`, the OAuth-only scope of the tokens GitLab mints for Duo Workflow
/// (<https://gitlab.com/gitlab-org/gitlab/-/issues/467160>). `ai_workflows` counts as write: it
/// exists so that the agent can create issues' notes, branches, commits and merge requests.
/// `self_rotate`, `ai_features` and `read_*` count as read: they change nothing in your projects.
pub const SCOPES: &[Scope] = &[
    Scope {
        name: "api",
        access: Access::Write,
        grants: "complete read and write access to the API, the registries and (over HTTP) every repository you can reach",
    },
    Scope {
        name: "write_repository",
        access: Access::Write,
        grants: "push to every repository you can reach (Git over HTTP)",
    },
    Scope {
        name: "write_registry",
        access: Access::Write,
        grants: "push container images to your projects' registries",
    },
    Scope {
        name: "write_virtual_registry",
        access: Access::Write,
        grants: "push and delete container images through the dependency proxy",
    },
    Scope {
        name: "create_runner",
        access: Access::Write,
        grants: "create CI runners",
    },
    Scope {
        name: "manage_runner",
        access: Access::Write,
        grants: "manage CI runners",
    },
    Scope {
        name: "k8s_proxy",
        access: Access::Write,
        grants: "Kubernetes API calls through the agent for Kubernetes",
    },
    Scope {
        name: "sudo",
        access: Access::Write,
        grants: "API actions as any user, when you are an administrator",
    },
    Scope {
        name: "admin_mode",
        access: Access::Write,
        grants: "administrator API actions in Admin Mode",
    },
    Scope {
        name: "ai_workflows",
        access: Access::Write,
        grants: "the API endpoints Duo Workflow uses, writes included (notes, branches, commits, merge requests)",
    },
    Scope {
        name: "read_api",
        access: Access::Read,
        grants: "read access to the API",
    },
    Scope {
        name: "read_user",
        access: Access::Read,
        grants: "read your profile",
    },
    Scope {
        name: "read_repository",
        access: Access::Read,
        grants: "pull repositories",
    },
    Scope {
        name: "read_registry",
        access: Access::Read,
        grants: "pull container images",
    },
    Scope {
        name: "read_virtual_registry",
        access: Access::Read,
        grants: "pull container images through the dependency proxy",
    },
    Scope {
        name: "read_service_ping",
        access: Access::Read,
        grants: "download Service Ping payloads",
    },
    Scope {
        name: "self_rotate",
        access: Access::Read,
        grants: "rotate this token, and no other",
    },
    Scope {
        name: "ai_features",
        access: Access::Read,
        grants: "GitLab Duo Chat and Code Suggestions API actions",
    },
];

/// The scopes that let dw's own GitLab tools work: they only read.
const ENOUGH_FOR_DW: &[&str] = &["read_api", "api"];

/// GitLab's token prefixes (<https://docs.gitlab.com/security/tokens/#token-prefixes>); a mask
/// keeps the prefix, which says what kind of token it is and nothing secret.
const TOKEN_PREFIXES: &[&str] = &[
    "glpat-", "gloas-", "gldt-", "glrt-", "glrtr-", "glcbt-", "glptt-", "glft-", "glimt-",
    "glagent-", "glsoat-", "glffct-", "glwt-",
];

/// `glpat-…WXYZ`: the prefix and, for a token long enough that it stays secret, its last 4
/// characters.
pub fn mask(token: &str) -> String {
    let prefix = TOKEN_PREFIXES
        .iter()
        .find(|prefix| token.starts_with(*prefix))
        .copied()
        .unwrap_or("");
    let characters: Vec<char> = token.chars().collect();
    if characters.len() < 16 {
        return format!("{prefix}…");
    }
    let tail: String = characters[characters.len() - 4..].iter().collect();
    format!("{prefix}…{tail}")
}

/// The body of `GET /personal_access_tokens/self`, as GitLab documents it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TokenDetails {
    /// The token's id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Whether it was revoked.
    #[serde(default)]
    pub revoked: bool,
    /// When it was created (ISO 8601).
    #[serde(default)]
    pub created_at: Option<String>,
    /// Its scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Its owner's id.
    #[serde(default)]
    pub user_id: Option<u64>,
    /// When it was last used (ISO 8601).
    #[serde(default)]
    pub last_used_at: Option<String>,
    /// Whether it can be used (not revoked, not expired).
    #[serde(default = "active_by_default")]
    pub active: bool,
    /// The date it expires (`2026-01-31`), if it does.
    #[serde(default)]
    pub expires_at: Option<String>,
}

fn active_by_default() -> bool {
    true
}

/// Why dw could not learn about the token. The texts never contain the token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// `GITLAB_URL` is not an http(s) URL.
    #[error(
        "GITLAB_URL {url:?} is not an http:// or https:// URL: set it to your instance's address, like https://gitlab.example.com"
    )]
    InvalidUrl {
        /// The value as configured.
        url: String,
    },
    /// The HTTP client could not be built (no TLS roots, say).
    #[error("cannot prepare an HTTPS client: {0}")]
    Client(String),
    /// No answer within [`DEADLINE`].
    #[error("{instance} did not answer within {} s: check your network, VPN or proxy (HTTPS_PROXY), or whether the instance is down", DEADLINE.as_secs())]
    Timeout {
        /// The instance.
        instance: String,
    },
    /// No connection, or the connection failed.
    #[error(
        "cannot reach {instance}: {cause}; check GITLAB_URL, your network, VPN or proxy (HTTPS_PROXY)"
    )]
    Unreachable {
        /// The instance.
        instance: String,
        /// What failed, as the HTTP client says.
        cause: String,
    },
    /// A 200 whose body is not the documented shape.
    #[error(
        "{instance} answered /api/v4/personal_access_tokens/self with a body dw cannot read ({cause}); is GITLAB_URL a GitLab instance?"
    )]
    Body {
        /// The instance.
        instance: String,
        /// The parse error.
        cause: String,
    },
}

/// What the instance answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The token's details.
    Details(TokenDetails),
    /// Any other status, with GitLab's message when it gave one.
    Refused {
        /// The HTTP status.
        status: u16,
        /// `message`, or `error` and `error_description`, from the body.
        message: Option<String>,
    },
}

/// `token-scope`.
pub fn token_scope(context: &Context) -> BoxFuture<'_, CheckResult> {
    Box::pin(async move {
        let gitlab = &context.settings.gitlab;
        let Some(token) = gitlab.token.as_deref() else {
            return Ok(no_token());
        };
        let instance = instance(gitlab);
        let outcome = match ask(&instance, token).await {
            Ok(Answer::Details(details)) => judge(&details, today(), token),
            Ok(Answer::Refused { status, message }) => {
                refused(&instance, status, message).evidence(format!("token {} from GITLAB_TOKEN", mask(token)))
            }
            Err(error) => Outcome::fail("dw cannot check its GitLab token")
                .evidence(format!("token {} from GITLAB_TOKEN", mask(token)))
                .evidence(error.to_string())
                .fix(match error {
                    TokenError::InvalidUrl { .. } => {
                        "set GITLAB_URL to your instance's address, like https://gitlab.example.com"
                    }
                    _ => "make sure GITLAB_URL names your GitLab instance and that it is reachable from here, then run `dw doctor --check token-scope` again",
                }),
        };
        let outcome = outcome.evidence(format!("instance {instance}"));
        Ok(plain_http_warning(&instance, outcome).redact(token, &mask(token)))
    })
}

/// The instance's base URL without a trailing slash or credentials.
fn instance(gitlab: &GitLab) -> String {
    let url = gitlab.url.as_deref().unwrap_or(DEFAULT_URL).trim();
    let url = url.trim_end_matches('/');
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.has_host() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.as_str().trim_end_matches('/').to_owned()
        }
        _ => url.to_owned(),
    }
}

/// `GET {instance}/api/v4/personal_access_tokens/self` with `PRIVATE-TOKEN`, under [`DEADLINE`].
pub async fn ask(instance: &str, token: &str) -> Result<Answer, TokenError> {
    let url = reqwest::Url::parse(&format!("{instance}/api/v4/personal_access_tokens/self"))
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
        .ok_or_else(|| TokenError::InvalidUrl {
            url: instance.to_owned(),
        })?;
    let client = reqwest::Client::builder()
        .timeout(DEADLINE)
        .user_agent(concat!("dw/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| TokenError::Client(error.without_url().to_string()))?;
    let response = client
        .get(url)
        .header("PRIVATE-TOKEN", token)
        .send()
        .await
        .map_err(|error| transport_error(instance, error))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|error| transport_error(instance, error))?;
    if status == 200 {
        return serde_json::from_slice(&body)
            .map(Answer::Details)
            .map_err(|error| TokenError::Body {
                instance: instance.to_owned(),
                cause: error.to_string(),
            });
    }
    Ok(Answer::Refused {
        status,
        message: message_of(&body),
    })
}

fn transport_error(instance: &str, error: reqwest::Error) -> TokenError {
    if error.is_timeout() {
        return TokenError::Timeout {
            instance: instance.to_owned(),
        };
    }
    let error = error.without_url();
    let mut cause = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        cause = format!("{cause}: {inner}");
        source = inner.source();
    }
    TokenError::Unreachable {
        instance: instance.to_owned(),
        cause,
    }
}

/// GitLab's error texts: `{"message": …}` or `{"error": …, "error_description": …}`.
fn message_of(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = |field: &str| {
        value
            .get(field)
            .and_then(|text| text.as_str())
            .map(str::to_owned)
    };
    match (text("message"), text("error"), text("error_description")) {
        (Some(message), _, _) => Some(message),
        (None, Some(error), Some(description)) => Some(format!("{error}: {description}")),
        (None, error, description) => error.or(description),
    }
}

fn new_token_fix(instance: &str) -> String {
    format!(
        "create a personal access token with only the read_api scope and an expiry date at {instance}/-/user_settings/personal_access_tokens, set GITLAB_TOKEN to it, and revoke the old one"
    )
}

fn refused(instance: &str, status: u16, message: Option<String>) -> Outcome {
    let said = message.map(|message| format!("GitLab says: {message}"));
    let outcome = match status {
        401 => Outcome::fail("GitLab rejects the token: it is expired, revoked or mistyped")
            .fix(new_token_fix(instance)),
        403 => Outcome::warn("the token may not read its own details, so its scopes are unknown")
            .evidence("dw's GitLab tools need the read_api scope")
            .fix(new_token_fix(instance)),
        404 => Outcome::fail(format!(
            "{instance} has no /api/v4/personal_access_tokens/self: it is not a GitLab instance, or GitLab older than 15.5"
        ))
        .fix("set GITLAB_URL to your GitLab instance's base address, like https://gitlab.example.com"),
        _ => Outcome::fail(format!("GitLab answered {status} when asked about the token"))
            .fix("try again later; if it persists, check the instance's status page or ask its administrators"),
    };
    outcome
        .evidence(format!(
            "HTTP {status} from GET /api/v4/personal_access_tokens/self"
        ))
        .evidence_lines(said)
}

/// Judges the token's details on `today` (days since 1970-01-01).
pub fn judge(details: &TokenDetails, today: i64, token: &str) -> Outcome {
    let mut evidence = vec![format!(
        "token {} ({:?}, id {}{})",
        mask(token),
        details.name,
        details.id,
        details
            .user_id
            .map(|user| format!(", user {user}"))
            .unwrap_or_default()
    )];
    evidence.push(format!("scopes: {}", details.scopes.join(", ")));
    let expires_in = details
        .expires_at
        .as_deref()
        .and_then(days_since_epoch)
        .map(|expiry| expiry - today);
    evidence.push(match (&details.expires_at, expires_in) {
        (Some(date), Some(days)) if days <= 0 => format!("expired on {date}"),
        (Some(date), Some(days)) => format!("expires on {date}, in {days} day{}", plural(days)),
        (Some(date), None) => format!("expires on {date}"),
        (None, _) => "never expires".to_owned(),
    });
    if let Some(used) = &details.last_used_at {
        evidence.push(format!("last used {used}"));
    }

    if details.revoked {
        return Outcome::fail("the GitLab token is revoked")
            .evidence_lines(evidence)
            .fix(new_token_fix("your GitLab instance"));
    }
    if !details.active || expires_in.is_some_and(|days| days <= 0) {
        return Outcome::fail("the GitLab token has expired")
            .evidence_lines(evidence)
            .fix(new_token_fix("your GitLab instance"));
    }

    let writes: Vec<&Scope> = known(details)
        .filter(|scope| scope.access == Access::Write)
        .collect();
    let unknown: Vec<&str> = details
        .scopes
        .iter()
        .filter(|name| !SCOPES.iter().any(|scope| scope.name == name.as_str()))
        .map(String::as_str)
        .collect();
    let enough = details
        .scopes
        .iter()
        .any(|name| ENOUGH_FOR_DW.contains(&name.as_str()));
    let expiring = expires_in.is_some_and(|days| days <= EXPIRY_WARNING_DAYS);

    let mut problems = Vec::new();
    if !writes.is_empty() {
        let names: Vec<&str> = writes.iter().map(|scope| scope.name).collect();
        problems.push(format!("can write on your behalf ({})", names.join(", ")));
        evidence.extend(
            writes
                .iter()
                .map(|scope| format!("{}: {}", scope.name, scope.grants)),
        );
        evidence.push("an agent that gets hold of this token (a prompt-injected goal, a tool call that reads the environment) could push code, merge, comment or change settings as you".to_owned());
        evidence.push(
            "dw's own GitLab tools only read (issues, merge requests, pipelines, files): read_api suffices"
                .to_owned(),
        );
    }
    if !unknown.is_empty() {
        problems.push(format!(
            "has scopes dw does not know ({})",
            unknown.join(", ")
        ));
    }
    if !enough {
        problems.push("lacks read_api, which dw's GitLab tools need".to_owned());
    }
    if expiring {
        problems.push("expires within a week".to_owned());
    }
    if problems.is_empty() {
        return Outcome::pass(format!(
            "the GitLab token only reads ({})",
            details.scopes.join(", ")
        ))
        .evidence_lines(evidence);
    }
    Outcome::new(Status::Warn, format!("the GitLab token {}", problems.join(", and ")))
        .evidence_lines(evidence)
        .fix(if writes.is_empty() && unknown.is_empty() && enough {
            "rotate the token before it expires (or create a new one with the read_api scope) and set GITLAB_TOKEN to it".to_owned()
        } else {
            new_token_fix("your GitLab instance")
        })
}

fn known(details: &TokenDetails) -> impl Iterator<Item = &'static Scope> + '_ {
    details
        .scopes
        .iter()
        .filter_map(|name| SCOPES.iter().find(|scope| scope.name == name.as_str()))
}

fn no_token() -> Outcome {
    Outcome::pass("no GitLab token is configured for dw (GITLAB_TOKEN)")
        .evidence("the GitLab Workflow extension runs Duo Workflow with an OAuth token of scope ai_workflows that GitLab mints for each workflow and that lives about two hours")
        .evidence("that token can act as you on the endpoints Duo Workflow uses, writes included (notes, branches, commits, merge requests), and the plain Duo container holds it while the workflow runs")
        .evidence("dw keeps its GitLab token on the host; when you set GITLAB_TOKEN for `dw run`, give it only the read_api scope")
}

/// A token sent over plain HTTP to anything but this machine travels readable.
fn plain_http_warning(instance: &str, outcome: Outcome) -> Outcome {
    let Ok(url) = reqwest::Url::parse(instance) else {
        return outcome;
    };
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback());
    if url.scheme() != "http" || loopback {
        return outcome;
    }
    let mut outcome = outcome.evidence(
        "GITLAB_URL is http://: the token travels unencrypted to the instance".to_owned(),
    );
    if outcome.status == Status::Pass {
        outcome.status = Status::Warn;
        outcome.summary = format!("{}, but over plain HTTP", outcome.summary);
        outcome = outcome.fix("use the instance's https:// address in GITLAB_URL");
    }
    outcome
}

fn plural(count: i64) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// Today, in days since 1970-01-01 (UTC).
pub fn today() -> i64 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    i64::try_from(seconds / 86_400).unwrap_or(i64::MAX)
}

/// `2026-01-31` (or the date part of an ISO 8601 timestamp) in days since 1970-01-01.
pub fn days_since_epoch(date: &str) -> Option<i64> {
    let date = date.get(..10)?;
    let mut parts = date.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const TOKEN: &str = "glpat-AbCdEfGhIjKlMnOpWXYZ";

    fn details(scopes: &[&str], expires_at: Option<&str>) -> TokenDetails {
        TokenDetails {
            id: 4,
            name: "dw".to_owned(),
            revoked: false,
            created_at: Some("2025-07-23T14:31:47.729Z".to_owned()),
            scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
            user_id: Some(24),
            last_used_at: None,
            active: true,
            expires_at: expires_at.map(str::to_owned),
        }
    }

    fn day(date: &str) -> i64 {
        days_since_epoch(date).unwrap()
    }

    #[test]
    fn dates_count_days_from_the_epoch() {
        assert_eq!(day("1970-01-01"), 0);
        assert_eq!(day("2000-03-01"), 11_017);
        assert_eq!(day("2024-02-29") + 1, day("2024-03-01"));
        assert_eq!(day("2025-12-31T23:59:59Z") + 1, day("2026-01-01"));
        assert_eq!(days_since_epoch("2025-13-01"), None);
        assert_eq!(days_since_epoch("soon"), None);
    }

    #[test]
    fn masks_keep_the_prefix_and_at_most_four_characters() {
        assert_eq!(mask(TOKEN), "glpat-…WXYZ");
        assert_eq!(mask("short-secret"), "…");
        assert_eq!(mask("glpat-short"), "glpat-…");
    }

    #[test]
    fn scopes_are_judged_from_the_table() {
        let today = day("2025-06-01");
        let read = judge(&details(&["read_api"], Some("2026-01-01")), today, TOKEN);
        assert_eq!(read.status, Status::Pass, "{read:#?}");
        let write = judge(
            &details(&["api", "read_user"], Some("2026-01-01")),
            today,
            TOKEN,
        );
        assert_eq!(write.status, Status::Warn);
        assert!(
            write.summary.contains("can write on your behalf (api)"),
            "{write:#?}"
        );
        assert!(
            write
                .evidence
                .iter()
                .any(|line| line.contains("read_api suffices"))
        );
        let repository = judge(
            &details(&["read_api", "write_repository"], None),
            today,
            TOKEN,
        );
        assert_eq!(repository.status, Status::Warn);
        let unknown = judge(&details(&["read_api", "brand_new"], None), today, TOKEN);
        assert!(unknown.summary.contains("brand_new"), "{unknown:#?}");
        let lacking = judge(&details(&["read_repository"], None), today, TOKEN);
        assert!(lacking.summary.contains("lacks read_api"), "{lacking:#?}");
    }

    #[test]
    fn expiry_fails_when_past_and_warns_within_a_week() {
        let today = day("2025-06-01");
        let expired = judge(&details(&["read_api"], Some("2025-05-31")), today, TOKEN);
        assert_eq!(expired.status, Status::Fail);
        let today_is_the_day = judge(&details(&["read_api"], Some("2025-06-01")), today, TOKEN);
        assert_eq!(today_is_the_day.status, Status::Fail);
        let soon = judge(&details(&["read_api"], Some("2025-06-05")), today, TOKEN);
        assert_eq!(soon.status, Status::Warn);
        assert!(
            soon.evidence
                .contains(&"expires on 2025-06-05, in 4 days".to_owned())
        );
        let revoked = TokenDetails {
            revoked: true,
            ..details(&["read_api"], None)
        };
        assert_eq!(judge(&revoked, today, TOKEN).status, Status::Fail);
    }

    #[test]
    fn gitlab_error_bodies_are_read() {
        assert_eq!(
            message_of(br#"{"message":"401 Unauthorized"}"#).as_deref(),
            Some("401 Unauthorized")
        );
        assert_eq!(
            message_of(br#"{"error":"invalid_token","error_description":"Token has expired."}"#)
                .as_deref(),
            Some("invalid_token: Token has expired.")
        );
        assert_eq!(message_of(b"<html>"), None);
    }

    #[test]
    fn plain_http_warns_unless_it_stays_on_this_machine() {
        let pass = || Outcome::pass("fine");
        assert_eq!(
            plain_http_warning("http://127.0.0.1:8080", pass()).status,
            Status::Pass
        );
        assert_eq!(
            plain_http_warning("https://gitlab.com", pass()).status,
            Status::Pass
        );
        assert_eq!(
            plain_http_warning("http://gitlab.internal", pass()).status,
            Status::Warn
        );
    }

    #[test]
    fn the_instance_drops_credentials_and_slashes() {
        let gitlab = GitLab {
            url: Some("https://user:secret@gitlab.example.com/".to_owned()),
            token: None,
        };
        assert_eq!(instance(&gitlab), "https://gitlab.example.com");
        assert_eq!(instance(&GitLab::default()), DEFAULT_URL);
    }
}
