//! One line the executor writes: a response or an event.

use serde::{Deserialize, Deserializer, Serialize};

use crate::{Event, Response};

/// One line of the executor's stdout, as the host reads it.
///
/// The two shapes are told apart by their keys: a response has `ok`, an event has `event`.
/// The response's `result` stays untyped until the host, which knows the op it asked for,
/// calls [`Response::decode`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Outgoing {
    /// The end of a request.
    Response(Response),
    /// Output of a running command.
    Event(Event),
}

impl Outgoing {
    /// Parses one line of the executor's stdout (without its line break).
    pub fn from_line(line: &str) -> serde_json::Result<Self> {
        serde_json::from_str(line)
    }

    /// The id of the request this line belongs to (`None` for an answer to a malformed line).
    pub fn id(&self) -> Option<u64> {
        match self {
            Self::Response(response) => response.id,
            Self::Event(event) => Some(event.id),
        }
    }
}

impl<'de> Deserialize<'de> for Outgoing {
    /// Routes by the `event` key rather than trying each shape in turn, so that a malformed
    /// line is reported with the error of the shape it was meant to have.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let parsed = if value.get("event").is_some() {
            Event::deserialize(value).map(Self::Event)
        } else {
            Response::deserialize(value).map(Self::Response)
        };
        parsed.map_err(serde::de::Error::custom)
    }
}
