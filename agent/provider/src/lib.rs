//! Model providers for dw's agent: one [`Provider`] trait, three implementations.
//!
//! What this crate owns:
//! - [`conversation`]: the provider-neutral conversation (user text, assistant text and tool
//!   calls, tool results paired to call ids), tool definitions, and what a completion returns;
//! - [`anthropic`]: the Anthropic Messages API (`POST /v1/messages`, tool use);
//! - [`openai`]: any OpenAI-compatible Chat Completions endpoint (OpenAI, llama.cpp, vLLM,
//!   Ollama), the key optional;
//! - [`script`]: a replay of recorded assistant turns from a JSON-lines file, for reproducible
//!   tests and demos;
//! - [`audit`]: the hook through which every HTTP request is reported (method, URL without
//!   secrets, status, duration, retry wait);
//! - [`retry`]: the retry policy on 429/5xx/529 and network errors, honouring `retry-after`;
//! - [`error`]: errors that say what failed and what to do.
//!
//! What it does not own: the planner loop, the tools themselves, the audit log file. Those live
//! in the workflow runner (`dw-workflow`).
//!
//! API keys are sent in headers and appear nowhere else: not in errors (API messages are scrubbed
//! of them too), not in `Debug` output, not in audit records.
#![forbid(unsafe_code)]

pub mod anthropic;
pub mod audit;
pub mod conversation;
pub mod error;
mod http;
pub mod openai;
pub mod retry;
pub mod script;

use std::future::Future;
use std::pin::Pin;

pub use anthropic::{AnthropicConfig, AnthropicProvider};
pub use audit::{HttpAudit, HttpExchange, NoAudit};
pub use conversation::{
    Completion, CompletionRequest, Message, StopReason, ToolCall, ToolDefinition, ToolResult,
};
pub use error::ProviderError;
pub use openai::{OpenAiConfig, OpenAiProvider};
pub use retry::RetryPolicy;
pub use script::ScriptProvider;

/// A boxed, sendable future: what [`Provider::complete`] returns, so that providers can be used
/// as `dyn Provider` (the runner picks one at run time).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A model that continues a conversation.
pub trait Provider: Send + Sync {
    /// A short name for messages and the audit log (`anthropic`, `openai`, `script`).
    fn name(&self) -> &'static str;

    /// The model's next assistant turn for `request`: text, tool calls, and why it stopped.
    fn complete<'a>(
        &'a self,
        request: &'a CompletionRequest,
    ) -> BoxFuture<'a, Result<Completion, ProviderError>>;
}
