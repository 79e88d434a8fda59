//! Any OpenAI-compatible Chat Completions endpoint: OpenAI itself, llama.cpp's server, vLLM,
//! Ollama.
//!
//! `POST {base}/chat/completions` with `Authorization: Bearer` when a key is set, `tools` as
//! `{"type": "function", "function": {name, description, parameters}}`; the answer's
//! `choices[0].message` has `content` and `tool_calls` whose `function.arguments` is a JSON
//! string; tool results go back as `{"role": "tool", "tool_call_id", "content"}` messages.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::HttpAudit;
use crate::conversation::{Completion, CompletionRequest, Message, StopReason, ToolCall};
use crate::error::ProviderError;
use crate::http::{Transport, endpoint};
use crate::retry::RetryPolicy;
use crate::{BoxFuture, Provider};

/// OpenAI's own address.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// Where the (optional) key is read from.
pub const API_KEY_ENV: &str = "OPENAI_API_KEY";
/// Where another base URL (a local server) is read from.
pub const BASE_URL_ENV: &str = "OPENAI_BASE_URL";

const PROVIDER: &str = "OpenAI-compatible endpoint";

/// How to reach a Chat Completions endpoint.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// The key, sent as `Authorization: Bearer`; local servers usually need none.
    pub api_key: Option<String>,
    /// The base URL, without `/chat/completions` (e.g. `http://127.0.0.1:8080/v1`).
    pub base_url: String,
    /// The model name.
    pub model: String,
    /// The time limit of one request (local models can be slow).
    pub timeout: Duration,
    /// Retries on 429/5xx and network errors.
    pub retry: RetryPolicy,
}

impl OpenAiConfig {
    /// `base_url` without a key, 10 minutes per request, the default retry policy.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> OpenAiConfig {
        OpenAiConfig {
            api_key: None,
            base_url: base_url.into(),
            model: model.into(),
            timeout: Duration::from_secs(600),
            retry: RetryPolicy::default(),
        }
    }

    /// The base URL from `OPENAI_BASE_URL` (default OpenAI's) and the key from
    /// `OPENAI_API_KEY` when set.
    pub fn from_env(model: impl Into<String>) -> OpenAiConfig {
        let base_url = std::env::var(BASE_URL_ENV)
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let mut config = OpenAiConfig::new(base_url, model);
        config.api_key = std::env::var(API_KEY_ENV)
            .ok()
            .map(|key| key.trim().to_owned())
            .filter(|key| !key.is_empty());
        config
    }
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("OpenAiConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

/// A Chat Completions endpoint as a [`Provider`].
pub struct OpenAiProvider {
    transport: Transport,
    url: Url,
    headers: HeaderMap,
    model: String,
}

impl fmt::Debug for OpenAiProvider {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("OpenAiProvider")
            .field("url", &self.url.as_str())
            .field("model", &self.model)
            .field(
                "api_key",
                &self.headers.get(AUTHORIZATION).map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

impl OpenAiProvider {
    /// A provider for `config`, reporting every HTTP request to `audit`.
    pub fn new(
        config: OpenAiConfig,
        audit: Arc<dyn HttpAudit>,
    ) -> Result<OpenAiProvider, ProviderError> {
        let url = endpoint(
            PROVIDER,
            BASE_URL_ENV,
            &config.base_url,
            "/chat/completions",
        )?;
        let key = config
            .api_key
            .as_deref()
            .map(str::trim)
            .filter(|key| !key.is_empty());
        let mut headers = HeaderMap::new();
        if let Some(key) = key {
            let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                ProviderError::InvalidKey {
                    provider: PROVIDER,
                    env_var: API_KEY_ENV,
                }
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let transport = Transport::new(
            PROVIDER,
            API_KEY_ENV,
            config.timeout,
            config.retry,
            audit,
            key.map(str::to_owned),
        )?;
        Ok(OpenAiProvider {
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

impl Provider for OpenAiProvider {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn complete<'a>(
        &'a self,
        request: &'a CompletionRequest,
    ) -> BoxFuture<'a, Result<Completion, ProviderError>> {
        Box::pin(self.complete_request(request))
    }
}

/// The JSON body of a Chat Completions request for `request`.
///
/// Chat Completions has no error flag on tool results: a failed result's content is prefixed
/// with `Error: ` so the model can tell.
pub fn request_body(model: &str, request: &CompletionRequest) -> Value {
    let system = request
        .system
        .as_deref()
        .filter(|system| !system.is_empty())
        .map(|system| json!({"role": "system", "content": system}));
    let messages: Vec<Value> = system
        .into_iter()
        .chain(request.messages.iter().flat_map(messages))
        .collect();
    let mut body = json!({
        "model": model,
        "max_tokens": request.max_tokens,
        "messages": messages,
    });
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.input_schema,
                    },
                })
            })
            .collect();
    }
    body
}

fn messages(message: &Message) -> Vec<Value> {
    match message {
        Message::User { text } => vec![json!({"role": "user", "content": text})],
        Message::Assistant { text, tool_calls } => {
            let content = if text.is_empty() {
                Value::Null
            } else {
                json!(text)
            };
            let mut message = json!({"role": "assistant", "content": content});
            if !tool_calls.is_empty() {
                message["tool_calls"] = tool_calls
                    .iter()
                    .map(|call| {
                        json!({
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": call.input.to_string()},
                        })
                    })
                    .collect();
            }
            vec![message]
        }
        Message::ToolResults { results } => results
            .iter()
            .map(|result| {
                let content = if result.is_error {
                    format!("Error: {}", result.content)
                } else {
                    result.content.clone()
                };
                json!({"role": "tool", "tool_call_id": result.call_id, "content": content})
            })
            .collect(),
    }
}

#[derive(Deserialize)]
struct Response {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: AnswerMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct AnswerMessage {
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<AnswerToolCall>,
}

#[derive(Deserialize)]
struct AnswerToolCall {
    id: Option<String>,
    function: AnswerFunction,
}

#[derive(Deserialize)]
struct AnswerFunction {
    name: String,
    #[serde(default)]
    arguments: String,
}

/// A Chat Completions response as a [`Completion`].
pub fn parse_response(answer: Value) -> Result<Completion, ProviderError> {
    let response: Response =
        serde_json::from_value(answer).map_err(|error| ProviderError::InvalidResponse {
            provider: PROVIDER,
            reason: error.to_string(),
        })?;
    let choice =
        response
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| ProviderError::InvalidResponse {
                provider: PROVIDER,
                reason: "`choices` is empty".to_owned(),
            })?;
    let tool_calls: Vec<ToolCall> = choice
        .message
        .tool_calls
        .into_iter()
        .enumerate()
        .map(|(index, call)| ToolCall {
            // Some local servers leave ids out; the pairing only needs them to be unique.
            id: call
                .id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| format!("call_{}", index + 1)),
            name: call.function.name,
            input: arguments(&call.function.arguments),
        })
        .collect();
    let stop_reason = match choice.finish_reason.as_deref() {
        // Some servers say "stop" even when they called tools.
        _ if !tool_calls.is_empty() => StopReason::ToolUse,
        Some("stop") | None => StopReason::EndTurn,
        Some("tool_calls" | "function_call") => StopReason::ToolUse,
        Some("length") => StopReason::MaxTokens,
        Some(other) => StopReason::Other(other.to_owned()),
    };
    Ok(Completion {
        text: choice.message.content.unwrap_or_default(),
        tool_calls,
        stop_reason,
    })
}

/// `arguments` is a JSON string; empty means no arguments, and text that is not JSON is kept
/// as a JSON string so the runner can tell the model its call was malformed.
fn arguments(text: &str) -> Value {
    if text.trim().is_empty() {
        return json!({});
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}
