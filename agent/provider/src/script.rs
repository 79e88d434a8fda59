//! A scripted model: replays recorded assistant turns from a JSON-lines file.
//!
//! One turn a line: `{"text": "…", "tool_calls": [{"name": "read_file", "input": {"path":
//! "README.md"}}]}`; both fields optional, blank lines skipped. A turn without tool calls ends
//! the workflow (stop reason `end_turn`). Call ids are generated (`script_<turn>_<n>`).
//!
//! Which turn comes next is the number of assistant messages already in the request, not a
//! counter inside the provider: a resumed workflow, whose conversation is rebuilt from its event
//! log, picks up at the right line.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::conversation::{Completion, CompletionRequest, Message, StopReason, ToolCall};
use crate::error::ProviderError;
use crate::{BoxFuture, Provider};

/// One recorded assistant turn.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptTurn {
    /// What the model says.
    #[serde(default)]
    pub text: String,
    /// The tools it calls, in order.
    #[serde(default)]
    pub tool_calls: Vec<ScriptToolCall>,
}

/// One recorded tool call.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptToolCall {
    /// The tool's name.
    pub name: String,
    /// Its input (default: `{}`).
    #[serde(default = "empty_object")]
    pub input: Value,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// A [`Provider`] that replays a script.
#[derive(Debug, Clone)]
pub struct ScriptProvider {
    path: PathBuf,
    turns: Vec<ScriptTurn>,
}

impl ScriptProvider {
    /// Reads and checks the whole script; a malformed line is an error naming its number.
    pub fn load(path: impl AsRef<Path>) -> Result<ScriptProvider, ProviderError> {
        let path = path.as_ref();
        let contents =
            std::fs::read_to_string(path).map_err(|source| ProviderError::ScriptRead {
                path: path.to_owned(),
                source,
            })?;
        ScriptProvider::parse(path, &contents)
    }

    /// Parses script text; `path` is only used in messages.
    pub fn parse(
        path: impl Into<PathBuf>,
        contents: &str,
    ) -> Result<ScriptProvider, ProviderError> {
        let path = path.into();
        let mut turns = Vec::new();
        for (index, line) in contents.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let turn: ScriptTurn =
                serde_json::from_str(line).map_err(|error| ProviderError::ScriptLine {
                    path: path.clone(),
                    line: index + 1,
                    reason: error.to_string(),
                })?;
            turns.push(turn);
        }
        Ok(ScriptProvider { path, turns })
    }

    /// The turns, in order.
    pub fn turns(&self) -> &[ScriptTurn] {
        &self.turns
    }

    fn next_turn(&self, request: &CompletionRequest) -> Result<Completion, ProviderError> {
        let index = request
            .messages
            .iter()
            .filter(|message| matches!(message, Message::Assistant { .. }))
            .count();
        let turn = self
            .turns
            .get(index)
            .ok_or_else(|| ProviderError::ScriptExhausted {
                path: self.path.clone(),
                turns: self.turns.len(),
                requested: index + 1,
            })?;
        let tool_calls: Vec<ToolCall> = turn
            .tool_calls
            .iter()
            .enumerate()
            .map(|(number, call)| ToolCall {
                id: format!("script_{}_{}", index + 1, number + 1),
                name: call.name.clone(),
                input: call.input.clone(),
            })
            .collect();
        let stop_reason = if tool_calls.is_empty() {
            StopReason::EndTurn
        } else {
            StopReason::ToolUse
        };
        Ok(Completion {
            text: turn.text.clone(),
            tool_calls,
            stop_reason,
        })
    }
}

impl Provider for ScriptProvider {
    fn name(&self) -> &'static str {
        "script"
    }

    fn complete<'a>(
        &'a self,
        request: &'a CompletionRequest,
    ) -> BoxFuture<'a, Result<Completion, ProviderError>> {
        Box::pin(std::future::ready(self.next_turn(request)))
    }
}
