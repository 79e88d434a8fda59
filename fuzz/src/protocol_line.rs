//! The property of the executor's protocol decoder, for the `protocol_line` fuzz target and the
//! replay of its corpus in `agent/executor/tests/fuzz_corpus.rs` (which includes this file by
//! path, so it uses nothing but what dw-agent's tests can use).
//!
//! Per line: `Request::from_line` never panics; what it accepts reads the same as a plain JSON
//! reader reads it and survives a round trip; what it refuses is answered with one
//! `invalid_request` response line that carries the line's `id` when it had exactly one
//! usable one. Then the whole input, when no line of it is a request (so that nothing runs),
//! goes through the real executor loop (`dw_agent::serve_with`), which must answer every
//! non-blank line, in order, with exactly that response.

use std::fmt;
use std::io::{self, Cursor, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use dw_protocol::{ErrorKind, Failure, Request, Response};
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

/// What the executor must answer to one line: nothing, or a failure with this id and kind.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    id: Option<u64>,
    kind: ErrorKind,
}

/// Checks the decoder's property for every line of one input.
pub fn check(data: &[u8]) -> Result<(), String> {
    expected_answers(data).map(|_| ())
}

/// [`check`], then, when no line of the input is a request, serves it with the real executor
/// loop on the empty directory `root` and compares the answers.
pub fn check_served(root: &Path, data: &[u8]) -> Result<(), String> {
    let Some(answers) = expected_answers(data)? else {
        return Ok(());
    };
    let served = serve(root, data)?;
    if served != answers {
        return Err(format!(
            "the executor answered {served:?}, expected {answers:?}\n--- input\n{:?}",
            String::from_utf8_lossy(data)
        ));
    }
    Ok(())
}

/// What the executor must answer to the input, line by line; `None` when a line is a request.
fn expected_answers(data: &[u8]) -> Result<Option<Vec<Answer>>, String> {
    let mut answers = Vec::new();
    let mut holds_a_request = false;
    for line in lines(data) {
        let Ok(text) = std::str::from_utf8(line) else {
            answers.push(Answer {
                id: None,
                kind: ErrorKind::InvalidRequest,
            });
            continue;
        };
        if text.trim().is_empty() {
            continue;
        }
        match check_line(text)? {
            Some(answer) => answers.push(answer),
            None => holds_a_request = true,
        }
    }
    Ok((!holds_a_request).then_some(answers))
}

/// The lines the executor's reader cuts: at each `\n`, and a last line without one.
fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut lines: Vec<&[u8]> = data.split(|byte| *byte == b'\n').collect();
    if lines.last().is_some_and(|last| last.is_empty()) {
        lines.pop();
    }
    lines.into_iter()
}

/// Decodes one line; `None` when it is a request, else the answer it must get.
fn check_line(line: &str) -> Result<Option<Answer>, String> {
    let plain = serde_json::from_str::<Value>(line).ok();
    match Request::from_line(line) {
        Ok(request) => check_request(line, plain, &request).map(|()| None),
        Err(malformed) => {
            let expected = usable_id(line);
            if malformed.id != expected {
                return Err(format!(
                    "salvaged id {:?}, expected {expected:?} in {line:?}",
                    malformed.id
                ));
            }
            let answer = Response::<()>::failure(
                malformed.id,
                Failure::new(ErrorKind::InvalidRequest, malformed.message),
            );
            let written = answer
                .to_line()
                .map_err(|error| format!("the answer does not serialise: {error}"))?;
            let read = Response::from_line(&written)
                .map_err(|error| format!("the answer {written:?} does not parse: {error}"))?;
            match (&read.id, &read.outcome) {
                (id, Err(failure))
                    if *id == malformed.id
                        && failure.kind == ErrorKind::InvalidRequest
                        && !written.contains('\n') =>
                {
                    Ok(Some(Answer {
                        id: malformed.id,
                        kind: ErrorKind::InvalidRequest,
                    }))
                }
                _ => Err(format!("the answer {written:?} reads back as {read:?}")),
            }
        }
    }
}

/// An accepted line is one JSON object, with one unsigned `id`, that a plain JSON reader
/// decodes into the same request, and the request survives a round trip.
fn check_request(line: &str, plain: Option<Value>, request: &Request) -> Result<(), String> {
    let Some(plain) = plain else {
        return Err(format!("{line:?} is not JSON but decodes as {request:?}"));
    };
    if usable_id(line) != Some(request.id) {
        return Err(format!("{line:?} decodes with id {}", request.id));
    }
    match serde_json::from_value::<Request>(plain) {
        Ok(again) if again == *request => {}
        other => {
            return Err(format!(
                "{line:?} decodes as {request:?}, but as {other:?} after a plain JSON reader"
            ));
        }
    }
    let written = request
        .to_line()
        .map_err(|error| format!("{request:?} does not serialise: {error}"))?;
    match Request::from_line(&written) {
        Ok(again) if again == *request && !written.contains('\n') => Ok(()),
        other => Err(format!(
            "{request:?} written as {written:?} reads back as {other:?}"
        )),
    }
}

/// The line's `id` when it is a JSON object with exactly one `id` key, holding an unsigned
/// integer.
fn usable_id(line: &str) -> Option<u64> {
    let IdKeys(ids) = serde_json::from_str::<IdKeys>(line).ok()?;
    match ids.as_slice() {
        [Value::Number(number)] => number.as_u64(),
        _ => None,
    }
}

/// The values of every top-level `id` key of a JSON object, in order, duplicates included.
struct IdKeys(Vec<Value>);

impl<'de> Deserialize<'de> for IdKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;

        impl<'de> Visitor<'de> for IdVisitor {
            type Value = IdKeys;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IdKeys, A::Error> {
                let mut ids = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "id" {
                        ids.push(map.next_value::<Value>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(IdKeys(ids))
            }
        }

        deserializer.deserialize_map(IdVisitor)
    }
}

/// Serves `data` with the real executor loop and reads its answers.
fn serve(root: &Path, data: &[u8]) -> Result<Vec<Answer>, String> {
    let output = SharedOutput::default();
    dw_agent::serve_with(root, Cursor::new(data.to_vec()), output.clone())
        .map_err(|error| format!("the executor failed: {error}"))?;
    let bytes = output.take();
    let text = String::from_utf8(bytes).map_err(|error| format!("output not UTF-8: {error}"))?;
    text.lines()
        .map(|line| {
            let response = Response::from_line(line)
                .map_err(|error| format!("answer {line:?} does not parse: {error}"))?;
            match response.outcome {
                Err(failure) => Ok(Answer {
                    id: response.id,
                    kind: failure.kind,
                }),
                Ok(result) => Err(format!("junk was answered with success: {result}")),
            }
        })
        .collect()
}

/// An output the executor's writer thread owns a handle to, read after it finished.
#[derive(Clone, Default)]
struct SharedOutput(Arc<Mutex<Vec<u8>>>);

impl SharedOutput {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Write for SharedOutput {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
