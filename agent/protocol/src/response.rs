//! Responses: how every request ends, exactly once.
//!
//! `{"id": <u64>, "ok": true, "result": {…}}` or
//! `{"id": <u64|null>, "ok": false, "error": {"kind": "<kind>", "message": "<text>"}}`.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The end of one request: its result or why it failed.
///
/// `T` is the op's result type ([`Operation::Output`](crate::Operation::Output)) where the
/// reader knows it, or [`serde_json::Value`] where it does not yet (see [`Response::decode`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Response<T = serde_json::Value> {
    /// The request's id; `None` (JSON `null`) only for a line that could not be read as a
    /// request with an id.
    pub id: Option<u64>,
    /// `Ok` is written as `"ok": true` with `result`, `Err` as `"ok": false` with `error`.
    pub outcome: Result<T, Failure>,
}

/// The `error` of a failed response: a machine-readable kind and a message for humans and
/// models that says what happened and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} ({kind})")]
pub struct Failure {
    /// Why, as one of a closed set of reasons.
    pub kind: ErrorKind,
    /// What happened, naming the path or program involved.
    pub message: String,
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The line or its parameters are not a valid request (also: a NUL byte in a path).
    InvalidRequest,
    /// The path leads outside the workspace root (`..`, an absolute path elsewhere, or a
    /// symbolic link pointing out); nothing was touched.
    OutsideWorkspace,
    /// The path, or the program, does not exist.
    NotFound,
    /// Something is already where a new thing was to be created.
    AlreadyExists,
    /// A directory was needed and something else is there.
    NotADirectory,
    /// A file was needed and a directory is there.
    IsADirectory,
    /// The file is not UTF-8 text.
    Binary,
    /// `edit_file`: `old` does not occur in the file.
    NoMatch,
    /// `edit_file`: `old` occurs more than once and `replace_all` was not set.
    Ambiguous,
    /// The request, the line or the file is larger than the executor handles.
    TooLarge,
    /// The sandbox is out of processes, threads, memory or file descriptors (its pids limit
    /// is spent, typically by a command that started many processes): the executor could not
    /// start what the request needs. Nothing was started; the executor goes on serving, and
    /// the same request succeeds once running commands end or are cancelled.
    ResourceExhausted,
    /// Any other failure of the operating system, with its message.
    Io,
    /// Reserved for host-side deadlines; a command's own timeout is reported in its result
    /// (`timed_out: true`), not as this error.
    Timeout,
    /// The request was stopped by a `cancel`.
    Cancelled,
}

impl Failure {
    /// A failure of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl ErrorKind {
    /// The kind's name on the wire (`"not_found"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::OutsideWorkspace => "outside_workspace",
            Self::NotFound => "not_found",
            Self::AlreadyExists => "already_exists",
            Self::NotADirectory => "not_a_directory",
            Self::IsADirectory => "is_a_directory",
            Self::Binary => "binary",
            Self::NoMatch => "no_match",
            Self::Ambiguous => "ambiguous",
            Self::TooLarge => "too_large",
            Self::ResourceExhausted => "resource_exhausted",
            Self::Io => "io",
            Self::Timeout => "timeout",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl<T> Response<T> {
    /// A successful response to request `id`.
    pub fn success(id: u64, result: T) -> Self {
        Self {
            id: Some(id),
            outcome: Ok(result),
        }
    }

    /// A failed response; `id` is `None` only when the request's id could not be read.
    pub fn failure(id: Option<u64>, failure: Failure) -> Self {
        Self {
            id,
            outcome: Err(failure),
        }
    }
}

impl<T: Serialize> Response<T> {
    /// The response as one line of JSON, without the line break.
    pub fn to_line(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }
}

impl Response<serde_json::Value> {
    /// Parses one line (without its line break) into a response whose result is still untyped.
    pub fn from_line(line: &str) -> serde_json::Result<Self> {
        serde_json::from_str(line)
    }

    /// Reads the result as the type the request's op promises; failures pass through.
    pub fn decode<T: DeserializeOwned>(self) -> serde_json::Result<Response<T>> {
        let outcome = match self.outcome {
            Ok(value) => Ok(serde_json::from_value(value)?),
            Err(failure) => Err(failure),
        };
        Ok(Response {
            id: self.id,
            outcome,
        })
    }
}

impl<T: Serialize> Serialize for Response<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut object = serializer.serialize_struct("Response", 3)?;
        object.serialize_field("id", &self.id)?;
        match &self.outcome {
            Ok(result) => {
                object.serialize_field("ok", &true)?;
                object.serialize_field("result", result)?;
            }
            Err(failure) => {
                object.serialize_field("ok", &false)?;
                object.serialize_field("error", failure)?;
            }
        }
        object.end()
    }
}

/// The response as it is spelled on the wire, before `ok` has been checked against the rest.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireResponse<T> {
    id: Option<u64>,
    ok: bool,
    result: Option<T>,
    error: Option<Failure>,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Response<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireResponse::<T>::deserialize(deserializer)?;
        let outcome = match (wire.ok, wire.result, wire.error) {
            (true, Some(result), None) => Ok(result),
            (false, None, Some(failure)) => Err(failure),
            (true, ..) => {
                return Err(serde::de::Error::custom(
                    "a response with \"ok\": true needs a \"result\" and no \"error\"",
                ));
            }
            (false, ..) => {
                return Err(serde::de::Error::custom(
                    "a response with \"ok\": false needs an \"error\" and no \"result\"",
                ));
            }
        };
        Ok(Self {
            id: wire.id,
            outcome,
        })
    }
}
