//! The one way providers send requests: JSON over POST, retried per policy, every attempt
//! audited, errors mapped and scrubbed of the key.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Response, Url};
use serde_json::Value;

use crate::audit::{HttpAudit, HttpExchange, audit_url};
use crate::error::ProviderError;
use crate::retry::{RetryPolicy, is_retryable, retry_after};

/// A provider's HTTP side.
pub(crate) struct Transport {
    pub(crate) provider: &'static str,
    pub(crate) key_env_var: &'static str,
    client: reqwest::Client,
    audit: Arc<dyn HttpAudit>,
    retry: RetryPolicy,
    /// Scrubbed from every message that reaches an error.
    secret: Option<String>,
}

enum Attempt {
    Done(Value),
    Retry {
        status: Option<u16>,
        wait: Duration,
        failure: Failure,
    },
    Fail(ProviderError),
}

enum Failure {
    Status { status: u16, message: String },
    Network(reqwest::Error),
}

impl Transport {
    pub(crate) fn new(
        provider: &'static str,
        key_env_var: &'static str,
        timeout: Duration,
        retry: RetryPolicy,
        audit: Arc<dyn HttpAudit>,
        secret: Option<String>,
    ) -> Result<Transport, ProviderError> {
        let client = reqwest::Client::builder()
            // A redirect would carry the key to wherever it points: never follow one.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("dw/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| ProviderError::Client {
                provider,
                source: source.without_url(),
            })?;
        Ok(Transport {
            provider,
            key_env_var,
            client,
            audit,
            retry,
            secret: secret.filter(|secret| !secret.is_empty()),
        })
    }

    /// POSTs `body` to `url` with `headers` and returns the JSON answer.
    pub(crate) async fn post_json(
        &self,
        url: &Url,
        headers: &HeaderMap,
        body: &Value,
    ) -> Result<Value, ProviderError> {
        let attempts = self.retry.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            let outcome = self.attempt(url, headers, body, attempt).await;
            let (status, retry_in) = match &outcome {
                (Attempt::Done(_), status) => (*status, None),
                (Attempt::Retry { status, wait, .. }, _) => {
                    (*status, (attempt < attempts).then_some(*wait))
                }
                (Attempt::Fail(_), status) => (*status, None),
            };
            self.audit.record(&HttpExchange {
                method: "POST",
                url: audit_url(url),
                status,
                duration: started.elapsed(),
                attempt,
                retry_in,
            });
            match outcome.0 {
                Attempt::Done(value) => return Ok(value),
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry { wait, failure, .. } => {
                    if attempt >= attempts {
                        return Err(self.exhausted(url, attempts, failure));
                    }
                    tokio::time::sleep(self.retry.sleep_for(wait)).await;
                    attempt += 1;
                }
            }
        }
    }

    async fn attempt(
        &self,
        url: &Url,
        headers: &HeaderMap,
        body: &Value,
        attempt: u32,
    ) -> (Attempt, Option<u16>) {
        let sent = self
            .client
            .post(url.clone())
            .headers(headers.clone())
            .json(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return (self.network_failure(error, attempt), None),
        };
        let status = response.status().as_u16();
        if response.status().is_success() {
            return (self.read_success(response, attempt).await, Some(status));
        }
        let wait_hint = retry_after(response.headers());
        let message = self.error_message(response).await;
        let outcome = if is_retryable(status) {
            let wait = self.retry.delay(attempt, wait_hint);
            Attempt::Retry {
                status: Some(status),
                wait,
                failure: Failure::Status { status, message },
            }
        } else {
            Attempt::Fail(self.status_error(status, message))
        };
        (outcome, Some(status))
    }

    async fn read_success(&self, response: Response, attempt: u32) -> Attempt {
        match response.bytes().await {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(value) => Attempt::Done(value),
                Err(error) => Attempt::Fail(ProviderError::InvalidResponse {
                    provider: self.provider,
                    reason: format!("the body is not JSON: {error}"),
                }),
            },
            Err(error) => self.network_failure(error, attempt),
        }
    }

    fn network_failure(&self, error: reqwest::Error, attempt: u32) -> Attempt {
        Attempt::Retry {
            status: None,
            wait: self.retry.delay(attempt, None),
            failure: Failure::Network(error.without_url()),
        }
    }

    fn status_error(&self, status: u16, message: String) -> ProviderError {
        match status {
            401 => ProviderError::Unauthorized {
                provider: self.provider,
                env_var: self.key_env_var,
                status,
                message,
            },
            _ => ProviderError::Rejected {
                provider: self.provider,
                status,
                message,
            },
        }
    }

    fn exhausted(&self, url: &Url, attempts: u32, failure: Failure) -> ProviderError {
        match failure {
            Failure::Status { status, message } => ProviderError::Unavailable {
                provider: self.provider,
                status,
                attempts,
                message,
            },
            Failure::Network(source) => ProviderError::Unreachable {
                provider: self.provider,
                url: audit_url(url),
                attempts,
                source,
            },
        }
    }

    /// The API's own message: `{"error": {"type", "message"}}` (Anthropic, OpenAI, llama.cpp,
    /// vLLM) or `{"error": "…"}` (Ollama), else the start of the body; never the key.
    async fn error_message(&self, response: Response) -> String {
        let body = response.text().await.unwrap_or_default();
        let parsed: Option<Value> = serde_json::from_str(&body).ok();
        let error = parsed.as_ref().and_then(|value| value.get("error"));
        let message = match error {
            Some(Value::String(message)) => message.clone(),
            Some(error) => {
                let text = error.get("message").and_then(Value::as_str).unwrap_or("");
                match error.get("type").and_then(Value::as_str) {
                    Some(kind) => format!("{kind}: {text}"),
                    None => text.to_owned(),
                }
            }
            None => body.chars().take(300).collect::<String>().trim().to_owned(),
        };
        self.scrub(message)
    }

    fn scrub(&self, text: String) -> String {
        match &self.secret {
            Some(secret) if text.contains(secret.as_str()) => {
                text.replace(secret.as_str(), "[REDACTED]")
            }
            _ => text,
        }
    }
}

/// Validates a base URL and joins `path` to it.
pub(crate) fn endpoint(
    provider: &'static str,
    env_var: &'static str,
    base_url: &str,
    path: &str,
) -> Result<Url, ProviderError> {
    let invalid = |reason: &str| ProviderError::InvalidBaseUrl {
        provider,
        env_var,
        url: elide_credentials(base_url),
        reason: reason.to_owned(),
    };
    let base = Url::parse(base_url.trim()).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if !base.username().is_empty() || base.password().is_some() {
        return Err(invalid(
            "it contains credentials; put the key in its environment variable",
        ));
    }
    let mut url = base.clone();
    url.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
    Ok(url)
}

fn elide_credentials(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://…{}", &rest[at..]),
        None => text.to_owned(),
    }
}
