//! The provider-neutral conversation: what dw sends a model and what it gets back.
//!
//! Every type serialises with serde, so the runner can append the conversation to its event log
//! and rebuild it on resume.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    /// Text from the user (the goal, an adjustment, an answer to a question).
    User {
        /// The text.
        text: String,
    },
    /// A turn of the model: text, tool calls, or both.
    Assistant {
        /// What the model said (may be empty).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        text: String,
        /// The tools it asked to run, in order.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
    },
    /// The results of the previous assistant turn's tool calls.
    ToolResults {
        /// One result per call, paired by [`ToolResult::call_id`].
        results: Vec<ToolResult>,
    },
}

impl Message {
    /// A user message.
    pub fn user(text: impl Into<String>) -> Message {
        Message::User { text: text.into() }
    }

    /// The results of a turn's tool calls.
    pub fn tool_results(results: Vec<ToolResult>) -> Message {
        Message::ToolResults { results }
    }
}

/// A tool the model asked to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id for the call; its result must carry the same id.
    pub id: String,
    /// The tool's name, one of the [`ToolDefinition`]s sent.
    pub name: String,
    /// The arguments, normally a JSON object. An OpenAI-compatible server that sends arguments
    /// that are not valid JSON yields the raw text as a JSON string: validate before use.
    pub input: Value,
}

/// The outcome of a [`ToolCall`], sent back to the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolResult {
    /// The [`ToolCall::id`] this answers.
    pub call_id: String,
    /// The output, as text (already redacted of secrets by the runner).
    pub content: String,
    /// True when the tool failed; the model sees the content as an error.
    #[serde(default)]
    pub is_error: bool,
}

impl ToolResult {
    /// A successful result.
    pub fn ok(call_id: impl Into<String>, content: impl Into<String>) -> ToolResult {
        ToolResult {
            call_id: call_id.into(),
            content: content.into(),
            is_error: false,
        }
    }

    /// A failed result.
    pub fn error(call_id: impl Into<String>, content: impl Into<String>) -> ToolResult {
        ToolResult {
            call_id: call_id.into(),
            content: content.into(),
            is_error: true,
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    /// The name the model uses (`read_file`).
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// The JSON Schema of its input (an object schema).
    pub input_schema: Value,
}

/// Everything a provider needs for one completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// The system prompt.
    pub system: Option<String>,
    /// The conversation so far, oldest first.
    pub messages: Vec<Message>,
    /// The tools the model may call.
    pub tools: Vec<ToolDefinition>,
    /// The most tokens the model may produce in this turn.
    pub max_tokens: u32,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// It finished its turn.
    EndTurn,
    /// It wants tool results before going on.
    ToolUse,
    /// It ran out of `max_tokens`.
    MaxTokens,
    /// It produced a stop sequence.
    StopSequence,
    /// Anything else the provider reported (e.g. `refusal`, `content_filter`).
    Other(String),
}

/// The model's turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// Its text (the text blocks joined; may be empty).
    pub text: String,
    /// The tools it asked to run, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Why it stopped.
    pub stop_reason: StopReason,
}

impl Completion {
    /// The turn as a message, to append to the conversation.
    pub fn to_message(&self) -> Message {
        Message::Assistant {
            text: self.text.clone(),
            tool_calls: self.tool_calls.clone(),
        }
    }
}
