//! The property of `dw_runtime::jsonc`'s settings edit, for the `jsonc_set` fuzz target and the
//! replay of its corpus in `runtime/tests/jsonc_fuzz.rs` (which includes this file by path, so
//! it uses nothing but what dw-runtime's tests can use).
//!
//! Any input either is refused, and then nothing is written, or yields a text that parses and
//! differs from the input only in the value of `gitlab.duoWorkflow.dockerSocket`. "Differs only"
//! is checked twice, independently of the code under test: structurally (every top-level
//! property, in order and with duplicates, compared with its number literals as written) and
//! byte by byte (the bytes around the edited value are the input's; an inserted property
//! removed gives the input back).

use std::fs;
use std::ops::Range;
use std::path::Path;
use std::time::{Duration, SystemTime};

use dw_runtime::atomic::{self, WriteOutcome};
use dw_runtime::jsonc::{self, SettingsFileError};
use jsonc_parser::ast;
use jsonc_parser::common::Ranged;
use jsonc_parser::{CollectOptions, ParseOptions};
use serde_json::{Value, json};

/// The key `dw setup` writes.
pub const KEY: &str = "gitlab.duoWorkflow.dockerSocket";

const BYTE_ORDER_MARK: &str = "\u{feff}";

/// Checks the property for one input: the pure edit for several values when the input is UTF-8,
/// and the file-level edit in the empty directory `scratch` (left empty again).
pub fn check(scratch: &Path, data: &[u8]) -> Result<(), String> {
    if let Ok(text) = std::str::from_utf8(data) {
        for value in values() {
            check_text(text, &value)?;
        }
        check_current_value_is_a_no_op(text)?;
    }
    let outcome = check_file(scratch, data);
    clear(scratch)?;
    outcome
}

/// What `dw setup` writes (a socket path), a string that needs escapes, and a nested value whose
/// layout follows the document's.
fn values() -> [Value; 3] {
    [
        json!("/Users/u/.colima/default/docker.sock"),
        json!("tab\t \"quote\" \\ é \u{2028} \u{1}"),
        json!({"list": [1, {"x": null}], "empty": {}, "flag": true}),
    ]
}

fn check_text(input: &str, value: &Value) -> Result<(), String> {
    let edit = match jsonc::set(input, KEY, value) {
        Ok(edit) => edit,
        Err(error) => return check_refusal(input, &error),
    };
    let output = edit.text.as_str();
    let context = || format!("\n--- input\n{input:?}\n--- output\n{output:?}");
    if edit.changed != (output != input) {
        return Err(format!("`changed` is {} {}", edit.changed, context()));
    }
    check_settings(input, output, value).map_err(|problem| format!("{problem}{}", context()))?;
    check_bytes(input, output, value).map_err(|problem| format!("{problem}{}", context()))?;
    let occurrences = top_level(body(input))
        .ok()
        .flatten()
        .map_or(0, |properties| {
            properties.iter().filter(|(name, _)| name == KEY).count()
        });
    if edit.duplicate_lines.len() != occurrences.saturating_sub(1) {
        return Err(format!(
            "{occurrences} occurrences but duplicate lines {:?}{}",
            edit.duplicate_lines,
            context()
        ));
    }
    match jsonc::get(output, KEY) {
        Ok(Some(read)) if read == *value => {}
        other => return Err(format!("get after set gives {other:?}{}", context())),
    }
    match jsonc::set(output, KEY, value) {
        Ok(again) if !again.changed && again.text == output => Ok(()),
        other => Err(format!(
            "setting twice is not a no-op: {other:?}{}",
            context()
        )),
    }
}

/// Setting the value the key already holds changes nothing.
fn check_current_value_is_a_no_op(input: &str) -> Result<(), String> {
    let Ok(Some(current)) = jsonc::get(input, KEY) else {
        return Ok(());
    };
    match jsonc::set(input, KEY, &current) {
        Ok(edit) if !edit.changed && edit.text == input => Ok(()),
        other => Err(format!(
            "setting the current value {current} changed the document: {other:?}\n--- input\n{input:?}"
        )),
    }
}

/// A refusal is consistent (reading the key is refused too) and points inside the document.
fn check_refusal(input: &str, error: &jsonc::JsoncError) -> Result<(), String> {
    if jsonc::get(input, KEY).is_ok() {
        return Err(format!(
            "set refuses ({error}) what get reads\n--- input\n{input:?}"
        ));
    }
    let lines = line_lengths(body(input));
    let in_document = error.line() >= 1
        && error
            .line()
            .checked_sub(1)
            .and_then(|index| lines.get(index))
            .is_some_and(|length| error.column() >= 1 && error.column() <= length + 1);
    // The message is printed to a terminal: what it quotes must be visible, and not empty.
    let message = error.to_string();
    // An empty quotation is "``"; only looked for when the input has no backtick that a
    // quotation of it could show next to a quote.
    let empty_quotation = !input.contains('`') && message.contains("``");
    if empty_quotation || message.chars().any(char::is_control) {
        return Err(format!(
            "the error quotes nothing visible: {message:?}\n--- input\n{input:?}"
        ));
    }
    if !in_document {
        return Err(format!(
            "error position {}:{} is outside the document: {error}\n--- input\n{input:?}",
            error.line(),
            error.column()
        ));
    }
    Ok(())
}

/// The length in characters of each line, for lines ended by LF, CRLF or a lone CR.
fn line_lengths(text: &str) -> Vec<usize> {
    let mut lengths = vec![0];
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '\r' | '\n' => {
                if character == '\r' && characters.peek() == Some(&'\n') {
                    characters.next();
                }
                lengths.push(0);
            }
            _ => {
                if let Some(last) = lengths.last_mut() {
                    *last += 1;
                }
            }
        }
    }
    lengths
}

/// The file-level edit: a refusal writes nothing (bytes, modification time, no backup or
/// temporary file); an edit writes exactly its text, after a backup of the old bytes.
fn check_file(scratch: &Path, data: &[u8]) -> Result<(), String> {
    let socket = json!("/Users/u/.colima/default/docker.sock");
    let file = scratch.join("settings.json");
    let old_time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    write_with_time(&file, data, old_time).map_err(|error| format!("fixture: {error}"))?;
    let context = || format!("\n--- input\n{:?}", String::from_utf8_lossy(data));
    match jsonc::set_in_file(&file, KEY, &socket) {
        Err(error) => {
            match (&error, std::str::from_utf8(data)) {
                (SettingsFileError::Malformed { error, .. }, Ok(text)) => {
                    if jsonc::set(text, KEY, &socket).as_ref().err() != Some(error) {
                        return Err(format!("the file and text edits disagree{}", context()));
                    }
                }
                (SettingsFileError::NotUtf8 { .. }, Err(_)) => {}
                _ => return Err(format!("unexpected error {error:?}{}", context())),
            }
            untouched(scratch, &file, data, old_time)
                .map_err(|problem| format!("refused ({error}) but {problem}{}", context()))
        }
        Ok((edit, outcome)) => {
            let written = fs::read(&file).map_err(|error| format!("reading back: {error}"))?;
            if written != edit.after.as_bytes() {
                return Err(format!("the file does not hold the edit{}", context()));
            }
            if edit.before.as_deref().map(str::as_bytes) != Some(data) {
                return Err(format!("`before` is not what was read{}", context()));
            }
            if !edit.changed {
                return match outcome {
                    WriteOutcome::Unchanged => untouched(scratch, &file, data, old_time)
                        .map_err(|problem| format!("unchanged but {problem}{}", context())),
                    other => Err(format!("unchanged edit written: {other:?}{}", context())),
                };
            }
            match fs::read(atomic::backup_path(&file)) {
                Ok(backup) if backup == data => Ok(()),
                other => Err(format!("backup is {other:?}{}", context())),
            }
        }
    }
}

fn write_with_time(file: &Path, data: &[u8], time: SystemTime) -> std::io::Result<()> {
    fs::write(file, data)?;
    fs::File::options()
        .write(true)
        .open(file)?
        .set_modified(time)
}

fn untouched(scratch: &Path, file: &Path, data: &[u8], time: SystemTime) -> Result<(), String> {
    let bytes = fs::read(file).map_err(|error| format!("reading back failed: {error}"))?;
    if bytes != data {
        return Err("the file's bytes changed".into());
    }
    let modified = fs::metadata(file).and_then(|metadata| metadata.modified());
    if modified.ok() != Some(time) {
        return Err("the file's modification time changed".into());
    }
    let entries = fs::read_dir(scratch)
        .map_err(|error| format!("listing failed: {error}"))?
        .count();
    if entries != 1 {
        return Err(format!("{entries} files in the directory, not 1"));
    }
    Ok(())
}

fn clear(scratch: &Path) -> Result<(), String> {
    let entries = fs::read_dir(scratch).map_err(|error| format!("scratch: {error}"))?;
    for entry in entries {
        let path = entry.map_err(|error| format!("scratch: {error}"))?.path();
        fs::remove_file(&path).map_err(|error| format!("scratch {}: {error}", path.display()))?;
    }
    Ok(())
}

// --- the structural check ---------------------------------------------------------------

/// A JSON value as written: numbers keep their text, objects their order and duplicates.
#[derive(Debug, Clone, PartialEq)]
enum Tree {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Tree>),
    Object(Vec<(String, Tree)>),
}

impl Tree {
    fn of_ast(value: &ast::Value) -> Self {
        match value {
            ast::Value::NullKeyword(_) => Tree::Null,
            ast::Value::BooleanLit(boolean) => Tree::Bool(boolean.value),
            ast::Value::NumberLit(number) => Tree::Number(number.value.to_string()),
            ast::Value::StringLit(string) => Tree::String(string.value.to_string()),
            ast::Value::Array(array) => {
                Tree::Array(array.elements.iter().map(Tree::of_ast).collect())
            }
            ast::Value::Object(object) => Tree::Object(properties(object)),
        }
    }

    fn of_value(value: &Value) -> Self {
        match value {
            Value::Null => Tree::Null,
            Value::Bool(boolean) => Tree::Bool(*boolean),
            Value::Number(number) => Tree::Number(number.to_string()),
            Value::String(string) => Tree::String(string.clone()),
            Value::Array(items) => Tree::Array(items.iter().map(Tree::of_value).collect()),
            Value::Object(entries) => Tree::Object(
                entries
                    .iter()
                    .map(|(name, item)| (name.clone(), Tree::of_value(item)))
                    .collect(),
            ),
        }
    }
}

fn properties(object: &ast::Object) -> Vec<(String, Tree)> {
    object
        .properties
        .iter()
        .map(|property| {
            (
                property.name.as_str().to_string(),
                Tree::of_ast(&property.value),
            )
        })
        .collect()
}

/// VS Code's dialect, spelled out here rather than taken from the code under test.
fn strict() -> ParseOptions {
    ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

fn body(text: &str) -> &str {
    text.strip_prefix(BYTE_ORDER_MARK).unwrap_or(text)
}

/// The top-level properties of a document body, or `None` when it holds no value.
fn top_level(body: &str) -> Result<Option<Vec<(String, Tree)>>, String> {
    let parsed = jsonc_parser::parse_to_ast(body, &CollectOptions::default(), &strict())
        .map_err(|error| format!("does not parse: {error}"))?;
    match parsed.value {
        None => Ok(None),
        Some(ast::Value::Object(object)) => Ok(Some(properties(&object))),
        Some(other) => Err(format!("is not an object: {other:?}")),
    }
}

/// The output's properties are the input's, with the last occurrence of the key holding the
/// value, or the key appended.
fn check_settings(input: &str, output: &str, value: &Value) -> Result<(), String> {
    let before = top_level(body(input)).map_err(|problem| format!("accepted input {problem}"))?;
    let after = top_level(body(output)).map_err(|problem| format!("output {problem}"))?;
    let new = (KEY.to_string(), Tree::of_value(value));
    let mut expected = before.unwrap_or_default();
    match expected.iter().rposition(|(name, _)| name == KEY) {
        Some(last) => expected[last].1 = new.1,
        None => expected.push(new),
    }
    if after != Some(expected.clone()) {
        return Err(format!(
            "the settings differ beyond the key: expected {expected:?}, got {after:?}"
        ));
    }
    Ok(())
}

// --- the byte check ----------------------------------------------------------------------

/// Where a property is in a document body: the whole property and its value.
type PropertyRanges = (Range<usize>, Range<usize>);

/// The byte ranges of the top-level properties named `KEY`; `None` when the body holds no
/// object.
fn occurrences(body: &str) -> Result<Option<Vec<PropertyRanges>>, String> {
    let parsed = jsonc_parser::parse_to_ast(body, &CollectOptions::default(), &strict())
        .map_err(|error| format!("does not parse: {error}"))?;
    let Some(ast::Value::Object(object)) = parsed.value else {
        return Ok(None);
    };
    Ok(Some(
        object
            .properties
            .iter()
            .filter(|property| property.name.as_str() == KEY)
            .map(|property| {
                let value = property.value.range();
                (property.range.start..value.end, value.start..value.end)
            })
            .collect(),
    ))
}

fn last_property_value_end(body: &str) -> Option<usize> {
    let parsed = jsonc_parser::parse_to_ast(body, &CollectOptions::default(), &strict()).ok()?;
    match parsed.value {
        Some(ast::Value::Object(object)) => object.properties.last().map(|p| p.value.range().end),
        _ => None,
    }
}

/// `output` is `input` with the key set to `value` and no other byte changed:
///
/// - key present: the bytes before and after its last value are the input's, and the bytes in
///   between are the value;
/// - key absent, object present: removing the new property (with only the blanks and the line
///   break before it, and the commas it needed: its own trailing comma and one after the
///   previous property's value) gives the input back exactly;
/// - no object: a comment-only input is kept whole and followed by the new object.
fn check_bytes(input: &str, output: &str, value: &Value) -> Result<(), String> {
    if input.starts_with(BYTE_ORDER_MARK) != output.starts_with(BYTE_ORDER_MARK) {
        return Err("byte order mark added or lost".into());
    }
    if !input.contains('\r') && output.contains('\r') {
        return Err("an LF document gained a CR".into());
    }
    let (input, output) = (body(input), body(output));
    let Some(before) = occurrences(input)? else {
        let rest = if input.trim().is_empty() {
            output
        } else {
            output
                .strip_prefix(input)
                .ok_or("the comments of a comment-only document were not kept")?
        };
        let parsed = top_level(rest)?;
        return if parsed == Some(vec![(KEY.to_string(), Tree::of_value(value))]) {
            same_line_breaks(input, rest)
        } else {
            Err(format!("unexpected object after the comments: {rest:?}"))
        };
    };
    if let Some((_, old)) = before.last() {
        let suffix = &input[old.end..];
        if !output.starts_with(&input[..old.start]) || !output.ends_with(suffix) {
            return Err("bytes before or after the edited value changed".into());
        }
        let new = output
            .get(old.start..output.len().saturating_sub(suffix.len()))
            .ok_or("the output is shorter than what it must keep")?;
        return match serde_json::from_str::<Value>(new) {
            Ok(parsed) if parsed == *value => same_line_breaks(input, new),
            _ => Err(format!("the edited value is not the value: {new:?}")),
        };
    }
    check_insertion(input, output)
}

/// New text breaks lines the way the document does (its first line break; LF when it has none).
fn same_line_breaks(document: &str, new: &str) -> Result<(), String> {
    let newline = newline_of(document);
    if new.replace(newline, "").contains(['\n', '\r']) {
        return Err(format!(
            "the new text {new:?} does not break lines with {newline:?}"
        ));
    }
    Ok(())
}

/// The document's first line break; LF when it has none.
fn newline_of(document: &str) -> &'static str {
    match document.find(['\n', '\r']).map(|index| &document[index..]) {
        Some(rest) if rest.starts_with("\r\n") => "\r\n",
        Some(rest) if rest.starts_with('\r') => "\r",
        _ => "\n",
    }
}

/// The output has only line breaks of the document's kind more than the input. (Counted over
/// the whole text: where exactly an insertion starts is ambiguous when its first characters
/// equal the ones after it.)
fn only_line_breaks_added(input: &str, output: &str) -> Result<(), String> {
    let counts = |text: &str| {
        let crlf = text.matches("\r\n").count();
        [
            ("\r\n", crlf),
            ("\r", text.matches('\r').count() - crlf),
            ("\n", text.matches('\n').count() - crlf),
        ]
    };
    let newline = newline_of(input);
    for ((kind, before), (_, after)) in counts(input).into_iter().zip(counts(output)) {
        let fine = if kind == newline {
            after >= before
        } else {
            after == before
        };
        if !fine {
            return Err(format!(
                "{before} {kind:?} line breaks became {after}, in a document that breaks lines \
                 with {newline:?}"
            ));
        }
    }
    Ok(())
}

/// The output is the input with text inserted in one place, plus at most a comma right after
/// the previous last value; the inserted text is the new property, surrounded by nothing but
/// blanks, line breaks and at most one comma (the new property's trailing comma).
fn check_insertion(input: &str, output: &str) -> Result<(), String> {
    let after = occurrences(output)?.ok_or("no object in the output")?;
    let (property, _) = after.last().ok_or("key not inserted")?.clone();
    let property_text = &output[property];
    let mut candidates = vec![output.to_string()];
    if let Some(at) = last_property_value_end(input)
        && output.get(..at) == input.get(..at)
        && output.as_bytes().get(at) == Some(&b',')
    {
        let mut without_comma = output.to_string();
        without_comma.remove(at);
        candidates.push(without_comma);
    }
    for candidate in &candidates {
        let Some(inserted) = single_insertion(input, candidate) else {
            continue;
        };
        let surrounding = inserted.replacen(property_text, "", 1);
        let only_layout = surrounding
            .chars()
            .all(|c| matches!(c, ' ' | '\t' | '\n' | '\r' | ','));
        if inserted.contains(property_text) && only_layout && surrounding.matches(',').count() <= 1
        {
            return only_line_breaks_added(input, output);
        }
        return Err(format!("the inserted text is {inserted:?}"));
    }
    Err("the output is not the input with the property inserted".into())
}

/// The text `longer` has in addition to `shorter`, when that is one contiguous piece.
fn single_insertion<'a>(shorter: &str, longer: &'a str) -> Option<&'a str> {
    let prefix = shorter
        .char_indices()
        .zip(longer.chars())
        .find(|((_, a), b)| a != b)
        .map_or(shorter.len(), |((index, _), _)| index);
    let rest = &shorter[prefix..];
    longer
        .ends_with(rest)
        .then(|| longer.get(prefix..longer.len() - rest.len()))
        .flatten()
}
