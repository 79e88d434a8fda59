//! Events: output of a running command, streamed while it runs.
//!
//! `{"id": <u64>, "event": "stdout"|"stderr", "data": "<text>"}`. All events of a request are
//! written before its response. `data` is a chunk as it arrived, decoded as UTF-8 (a character
//! split between two reads is kept whole, invalid bytes become U+FFFD); the chunks of all events
//! of a request together are capped like the command's `output`.

use serde::{Deserialize, Serialize};

/// A chunk of a command's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// The id of the request whose command printed this.
    pub id: u64,
    /// Which of the command's output streams.
    pub event: Stream,
    /// The text.
    pub data: String,
}

/// A command's output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Event {
    /// The event as one line of JSON, without the line break.
    pub fn to_line(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }
}
