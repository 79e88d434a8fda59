//! The audit hook: every HTTP request a provider makes is reported to it.
//!
//! `dw-gitlab` has the same small hook. Each crate defines its own rather than sharing one,
//! because the only place both are needed is the workflow runner, which implements both traits
//! on its audit log in a few lines; a shared crate (or one of these depending on the other)
//! would couple two crates that have nothing else in common.

use std::time::Duration;

use reqwest::Url;

/// One HTTP request and its outcome, as recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpExchange {
    /// The HTTP method (`POST` for completions).
    pub method: &'static str,
    /// The URL, without credentials or secret-looking query values.
    pub url: String,
    /// The HTTP status, or `None` when no response came (network error, timeout).
    pub status: Option<u16>,
    /// From sending the request to receiving the whole body.
    pub duration: Duration,
    /// 1 for the first attempt, 2 for the first retry, …
    pub attempt: u32,
    /// When this attempt is retried: the wait computed before the next one (from `retry-after`
    /// when the server sent it, else the backoff). `None` when it is not retried.
    pub retry_in: Option<Duration>,
}

/// Receives every [`HttpExchange`]; the workflow runner writes them to `audit.jsonl`.
pub trait HttpAudit: Send + Sync {
    /// Called once per HTTP request, after it completed or failed.
    fn record(&self, exchange: &HttpExchange);
}

/// An audit hook that records nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAudit;

impl HttpAudit for NoAudit {
    fn record(&self, _exchange: &HttpExchange) {}
}

/// `url` as written to the audit log: no user or password, and the value of any query parameter
/// whose name suggests a secret (`key`, `token`, `secret`, `password`, `signature`) replaced.
pub fn audit_url(url: &Url) -> String {
    let mut cleaned = url.clone();
    // Setting these only fails for URLs that cannot have credentials at all.
    let _ = cleaned.set_username("");
    let _ = cleaned.set_password(None);
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let lower = name.to_ascii_lowercase();
                let secret = ["key", "token", "secret", "password", "sig"]
                    .iter()
                    .any(|word| lower.contains(word));
                let value = if secret {
                    "[REDACTED]".to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        cleaned.query_pairs_mut().clear().extend_pairs(pairs);
    }
    cleaned.to_string()
}
