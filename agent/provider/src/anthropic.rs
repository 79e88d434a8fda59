//! The Anthropic Messages API with tool use.
//!
//! `POST {base}/v1/messages` with `x-api-key`, `anthropic-version: 2023-06-01` and a JSON body
//! (`model`, `max_tokens`, `system`, `messages` of content blocks, `tools` with `input_schema`).
//! The answer's `content` holds `text` and `tool_use` blocks; tool results go back in a user
//! message as `tool_result` blocks, which come before any text in that message.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::HttpAudit;
use crate::conversation::{Completion, CompletionRequest, Message, StopReason, ToolCall};
use crate::error::ProviderError;
use crate::http::{Transport, endpoint};
use crate::retry::RetryPolicy;
use crate::{BoxFuture, Provider};

/// The public API's address.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// Where the key is read from.
pub const API_KEY_ENV: &str = "ANTHROPIC_API_KEY";
/// Where another base URL is read from.
pub const BASE_URL_ENV: &str = "ANTHROPIC_BASE_URL";
/// The API version dw speaks.
pub const API_VERSION: &str = "2023-06-01";

const PROVIDER: &str = "Anthropic";

/// How to reach the Messages API.
#[derive(Clone)]
pub struct AnthropicConfig {
    /// The API key (sent as `x-api-key`, nowhere else).
    pub api_key: String,
    /// The base URL, without `/v1/messages`.
    pub base_url: String,
    /// The model name, e.g. what the user passed with `--model`.
    pub model: String,
    /// The time limit of one request.
    pub timeout: Duration,
    /// Retries on 429/5xx/529 and network errors.
    pub retry: RetryPolicy,
}

impl AnthropicConfig {
    /// The public API with `api_key`, 10 minutes per request, the default retry policy.
    pub fn new(api_key: impl Into<String>, model: impl Into<String>) -> AnthropicConfig {
        AnthropicConfig {
            api_key: api_key.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            model: model.into(),
            timeout: Duration::from_secs(600),
            retry: RetryPolicy::default(),
        }
    }

    /// The key from `ANTHROPIC_API_KEY` and the base URL from `ANTHROPIC_BASE_URL` (if set).
    pub fn from_env(model: impl Into<String>) -> Result<AnthropicConfig, ProviderError> {
        let api_key = std::env::var(API_KEY_ENV)
            .ok()
            .filter(|key| !key.trim().is_empty())
            .ok_or(ProviderError::MissingKey {
                provider: PROVIDER,
                env_var: API_KEY_ENV,
            })?;
        let mut config = AnthropicConfig::new(api_key.trim(), model);
        if let Some(base_url) = std::env::var(BASE_URL_ENV)
            .ok()
            .filter(|url| !url.is_empty())
        {
            config.base_url = base_url;
        }
        Ok(config)
    }
}

impl fmt::Debug for AnthropicConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("AnthropicConfig")
            .field("api_key", &"[REDACTED]")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

/// The Messages API as a [`Provider`].
pub struct AnthropicProvider {
    transport: Transport,
    url: Url,
    headers: HeaderMap,
    model: String,
}

impl fmt::Debug for AnthropicProvider {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("AnthropicProvider")
            .field("url", &self.url.as_str())
            .field("model", &self.model)
            .field("api_key", &"[REDACTED]")
            .finish()
    }
}

impl AnthropicProvider {
    /// A provider for `config`, reporting every HTTP request to `audit`.
    pub fn new(
        config: AnthropicConfig,
        audit: Arc<dyn HttpAudit>,
    ) -> Result<AnthropicProvider, ProviderError> {
        let url = endpoint(PROVIDER, BASE_URL_ENV, &config.base_url, "/v1/messages")?;
        let invalid_key = || ProviderError::InvalidKey {
            provider: PROVIDER,
            env_var: API_KEY_ENV,
        };
        let mut key = HeaderValue::from_str(config.api_key.trim()).map_err(|_| invalid_key())?;
        if key.is_empty() {
            return Err(ProviderError::MissingKey {
                provider: PROVIDER,
                env_var: API_KEY_ENV,
            });
        }
        key.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_static("x-api-key"), key);
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(API_VERSION),
        );
        let transport = Transport::new(
            PROVIDER,
            API_KEY_ENV,
            config.timeout,
            config.retry,
            audit,
            Some(config.api_key.trim().to_owned()),
        )?;
        Ok(AnthropicProvider {
            transport,
            url,
            headers,
            model: config.model,
        })
    }

    async fn complete_request(
        &self,
        request: &CompletionRequest,
    ) -> Result<Completion, ProviderError> {
        let body = request_body(&self.model, request);
        let answer = self
            .transport
            .post_json(&self.url, &self.headers, &body)
            .await?;
        parse_response(answer)
    }
}

impl Provider for AnthropicProvider {
    fn name(&self) -> &'static str {
        "anthropic"
    }

    fn complete<'a>(
        &'a self,
        request: &'a CompletionRequest,
    ) -> BoxFuture<'a, Result<Completion, ProviderError>> {
        Box::pin(self.complete_request(request))
    }
}

/// The JSON body of a Messages API request for `request`.
pub fn request_body(model: &str, request: &CompletionRequest) -> Value {
    let mut body = json!({
        "model": model,
        "max_tokens": request.max_tokens,
        "messages": messages(&request.messages),
    });
    if let Some(system) = request
        .system
        .as_deref()
        .filter(|system| !system.is_empty())
    {
        body["system"] = json!(system);
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.input_schema,
                })
            })
            .collect();
    }
    body
}

/// The conversation as Messages API messages: roles alternate (consecutive messages of one role
/// are merged), and in a user message `tool_result` blocks come before text.
fn messages(conversation: &[Message]) -> Vec<Value> {
    let mut merged: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in conversation {
        let (role, blocks) = blocks(message);
        if blocks.is_empty() {
            continue;
        }
        match merged.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => merged.push((role, blocks)),
        }
    }
    merged
        .into_iter()
        .map(|(role, mut blocks)| {
            if role == "user" {
                // Stable: results keep their order, then text keeps its order.
                blocks.sort_by_key(|block| block["type"] != "tool_result");
            }
            json!({"role": role, "content": blocks})
        })
        .collect()
}

fn blocks(message: &Message) -> (&'static str, Vec<Value>) {
    match message {
        Message::User { text } if text.is_empty() => ("user", Vec::new()),
        Message::User { text } => ("user", vec![json!({"type": "text", "text": text})]),
        Message::ToolResults { results } => (
            "user",
            results
                .iter()
                .map(|result| {
                    json!({
                        "type": "tool_result",
                        "tool_use_id": result.call_id,
                        "content": result.content,
                        "is_error": result.is_error,
                    })
                })
                .collect(),
        ),
        Message::Assistant { text, tool_calls } => {
            let text_block = (!text.is_empty()).then(|| json!({"type": "text", "text": text}));
            let calls = tool_calls.iter().map(|call| {
                json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.input})
            });
            ("assistant", text_block.into_iter().chain(calls).collect())
        }
    }
}

#[derive(Deserialize)]
struct Response {
    content: Vec<Block>,
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    /// Thinking and other blocks dw does not use.
    #[serde(other)]
    Other,
}

/// A Messages API response as a [`Completion`].
pub fn parse_response(answer: Value) -> Result<Completion, ProviderError> {
    let response: Response =
        serde_json::from_value(answer).map_err(|error| ProviderError::InvalidResponse {
            provider: PROVIDER,
            reason: error.to_string(),
        })?;
    let mut texts = Vec::new();
    let mut tool_calls = Vec::new();
    for block in response.content {
        match block {
            Block::Text { text } => texts.push(text),
            Block::ToolUse { id, name, input } => tool_calls.push(ToolCall { id, name, input }),
            Block::Other => {}
        }
    }
    let stop_reason = match response.stop_reason.as_deref() {
        Some("end_turn") | None => StopReason::EndTurn,
        Some("tool_use") => StopReason::ToolUse,
        Some("max_tokens") => StopReason::MaxTokens,
        Some("stop_sequence") => StopReason::StopSequence,
        Some(other) => StopReason::Other(other.to_owned()),
    };
    Ok(Completion {
        text: texts.join("\n"),
        tool_calls,
        stop_reason,
    })
}
