//! When and how long to wait before retrying a request.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// The retry policy for 408, 409, 429, 5xx (529 "overloaded" included) and network errors.
///
/// Backoff is deterministic (no jitter): dw is one client making one request at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The wait before the first retry when the server sent no `retry-after`; doubled each time.
    pub initial_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// The longest `retry-after` honoured; longer values are cut to this.
    pub max_retry_after: Duration,
    /// The factor applied to every computed wait before sleeping: 1.0 in production; tests set
    /// 0.0 to run fast and check the computed wait in the audit record instead of by timing.
    pub delay_scale: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            delay_scale: 1.0,
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`, after attempt `attempt` (1-based) failed:
    /// the server's `retry-after` when given, else exponential backoff.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(wait) => wait.min(self.max_retry_after),
            None => {
                let doublings = attempt.saturating_sub(1).min(16);
                self.initial_backoff
                    .saturating_mul(1 << doublings)
                    .min(self.max_backoff)
            }
        }
    }

    /// How long to actually sleep for a computed `delay` ([`RetryPolicy::delay_scale`] applied).
    pub fn sleep_for(&self, delay: Duration) -> Duration {
        Duration::try_from_secs_f64(delay.as_secs_f64() * self.delay_scale)
            .unwrap_or(Duration::ZERO)
    }
}

/// Whether a response with this status is worth retrying.
pub fn is_retryable(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || status >= 500
}

/// The `retry-after` header in seconds (integer or decimal); an HTTP date is ignored.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let seconds: f64 = text.parse().ok()?;
    Duration::try_from_secs_f64(seconds).ok()
}
