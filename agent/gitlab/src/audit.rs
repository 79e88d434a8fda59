//! The audit hook: every HTTP request the client makes is reported to it.
//!
//! `dw-provider` has the same small hook. Each crate defines its own rather than sharing one,
//! because the only place both are needed is the workflow runner, which implements both traits
//! on its audit log in a few lines; a shared crate (or `dw-gitlab` depending on `dw-provider`)
//! would couple two crates that have nothing else in common.

use std::time::Duration;

/// One HTTP request and its outcome, as recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpExchange {
    /// Always `GET` for this crate.
    pub method: &'static str,
    /// The URL requested, without credentials (the token travels in a header, never in it).
    pub url: String,
    /// The HTTP status, or `None` when no response came (network error, timeout).
    pub status: Option<u16>,
    /// From sending the request to receiving the whole body.
    pub duration: Duration,
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
