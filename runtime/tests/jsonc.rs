//! The JSONC settings edit: a corpus of real-world settings files, each edited the way `dw setup`
//! edits it, checked three ways: a snapshot a human reviews, the parsed value (input plus the
//! key), and byte-for-byte preservation of everything outside the edit, measured independently of
//! the implementation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use dw_runtime::jsonc::{self, JsoncError, SettingsFileError};
use jsonc_parser::ast;
use jsonc_parser::common::Ranged;
use jsonc_parser::{CollectOptions, ParseOptions};
use serde_json::{Map, Value, json};

const KEY: &str = "gitlab.duoWorkflow.dockerSocket";
const SOCKET: &str = "/Users/u/.colima/default/docker.sock";
const BOM: &str = "\u{feff}";

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/jsonc")
        .join(kind);
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

/// One snapshot per corpus file, named after it.
fn snapshot_name(kind: &str, path: &Path) -> String {
    let stem = path.file_stem().unwrap().to_str().unwrap();
    format!("{kind}__{stem}")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

/// Line endings and the byte order mark are invisible (and insta normalises line endings), so
/// the snapshots spell them out.
fn visible(text: &str) -> String {
    format!("{}<EOF>", text.replace(BOM, "<BOM>").replace('\r', "<CR>"))
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
    text.strip_prefix(BOM).unwrap_or(text)
}

/// The settings a document holds (empty for an empty or comment-only document).
fn settings(text: &str) -> Map<String, Value> {
    let value: Option<Value> = jsonc_parser::parse_to_serde_value(body(text), &strict()).unwrap();
    match value {
        None => Map::new(),
        Some(Value::Object(map)) => map,
        Some(other) => panic!("not an object: {other}"),
    }
}

/// Byte ranges of the top-level properties named `name` in a document body: the whole property
/// and its value. `None` when the body holds no object.
fn occurrences(body: &str, name: &str) -> Option<Vec<(Range<usize>, Range<usize>)>> {
    let parsed = jsonc_parser::parse_to_ast(body, &CollectOptions::default(), &strict()).unwrap();
    let Some(ast::Value::Object(object)) = parsed.value else {
        return None;
    };
    Some(
        object
            .properties
            .iter()
            .filter(|property| property.name.as_str() == name)
            .map(|property| {
                let value = property.value.range();
                (property.range.start..value.end, value.start..value.end)
            })
            .collect(),
    )
}

fn last_property_value_end(body: &str) -> Option<usize> {
    let parsed = jsonc_parser::parse_to_ast(body, &CollectOptions::default(), &strict()).unwrap();
    match parsed.value {
        Some(ast::Value::Object(object)) => object.properties.last().map(|p| p.value.range().end),
        _ => None,
    }
}

/// Checks that `output` is `input` with `KEY` set to `value` and no other byte changed.
///
/// - Key present: the bytes before and after the old value are identical, and the new bytes in
///   between are the value.
/// - Key absent, object present: removing the new property from the output (with only the
///   whitespace next to it and the commas it needed: its own trailing comma, and one after the
///   previous property's value) gives back the input exactly.
/// - No object (empty, whitespace-only, comment-only): a comment-only input is kept whole, and
///   what follows it is the new object.
fn check_preserved(input: &str, output: &str, value: &Value) -> Result<(), String> {
    if input.starts_with(BOM) != output.starts_with(BOM) {
        return Err("byte order mark added or lost".into());
    }
    if input.contains("\r\n") && output.matches('\n').count() != output.matches("\r\n").count() {
        return Err("a CRLF document gained a bare LF".into());
    }
    if !input.contains('\r') && output.contains('\r') {
        return Err("an LF document gained a CR".into());
    }
    let (input, output) = (body(input), body(output));
    let Some(before) = occurrences(input, KEY) else {
        let rest = if input.trim().is_empty() {
            output
        } else {
            output
                .strip_prefix(input)
                .ok_or("the comments of a comment-only document were not kept")?
        };
        let expected = Map::from_iter([(KEY.to_string(), value.clone())]);
        return if settings(rest) == expected {
            Ok(())
        } else {
            Err(format!("unexpected object after the comments: {rest:?}"))
        };
    };
    if let Some((_, old)) = before.last() {
        let suffix = &input[old.end..];
        if !output.starts_with(&input[..old.start]) || !output.ends_with(suffix) {
            return Err("bytes before or after the edited value changed".into());
        }
        let new = &output[old.start..output.len() - suffix.len()];
        return match serde_json::from_str::<Value>(new) {
            Ok(parsed) if parsed == *value => Ok(()),
            _ => Err(format!("the edited value is not the value: {new:?}")),
        };
    }
    let after = occurrences(output, KEY).ok_or("no object in the output")?;
    let (property, _) = after.last().ok_or("key not inserted")?.clone();
    let bytes = output.as_bytes();
    let mut starts = vec![property.start];
    while starts[0] > 0 && matches!(bytes[starts[0] - 1], b' ' | b'\t') {
        starts[0] -= 1;
    }
    let line_break_before = match &output[..starts[0]] {
        text if text.ends_with("\r\n") => 2,
        text if text.ends_with(['\n', '\r']) => 1,
        _ => 0,
    };
    if line_break_before > 0 {
        starts.push(starts[0] - line_break_before);
    }
    let mut ends = vec![property.end];
    if bytes.get(property.end) == Some(&b',') {
        ends.push(property.end + 1);
    }
    for end in ends.clone() {
        let rest = output[end..].trim_start_matches([' ', '\t']);
        let skipped = output.len() - end - rest.len();
        if rest.starts_with("\r\n") {
            ends.push(end + skipped + 2);
        } else if rest.starts_with(['\n', '\r']) {
            ends.push(end + skipped + 1);
        }
    }
    let previous_value_end = last_property_value_end(input);
    for start in &starts {
        for end in &ends {
            let mut rebuilt = format!("{}{}", &output[..*start], &output[*end..]);
            if rebuilt == input {
                return Ok(());
            }
            if let Some(at) = previous_value_end
                && rebuilt.as_bytes().get(at) == Some(&b',')
            {
                rebuilt.remove(at);
                if rebuilt == input {
                    return Ok(());
                }
            }
        }
    }
    Err("removing the inserted property does not give back the input".into())
}

fn set_socket(input: &str) -> jsonc::Edit {
    jsonc::set(input, KEY, &json!(SOCKET)).unwrap()
}

#[test]
fn corpus_snapshots_of_the_edit() {
    for path in corpus("ok") {
        let edit = set_socket(&read(&path));
        insta::assert_snapshot!(
            snapshot_name("ok", &path),
            format!(
                "changed: {}\nduplicate_lines: {:?}\n---\n{}",
                edit.changed,
                edit.duplicate_lines,
                visible(&edit.text)
            )
        );
    }
}

#[test]
fn every_well_formed_file_gains_the_key_and_keeps_every_other_byte() {
    let value = json!(SOCKET);
    for path in corpus("ok") {
        let name = path.display();
        let input = read(&path);
        let edit = set_socket(&input);

        let mut expected = settings(&input);
        expected.insert(KEY.to_string(), value.clone());
        assert_eq!(settings(&edit.text), expected, "{name}: parsed value");

        if let Err(problem) = check_preserved(&input, &edit.text, &value) {
            panic!(
                "{name}: {problem}\n--- input\n{}\n--- output\n{}",
                visible(&input),
                visible(&edit.text)
            );
        }

        assert_eq!(edit.changed, edit.text != input, "{name}: changed flag");
        assert_eq!(
            jsonc::get(&edit.text, KEY).unwrap(),
            Some(value.clone()),
            "{name}: get"
        );
        let again = jsonc::set(&edit.text, KEY, &value).unwrap();
        assert!(
            !again.changed && again.text == edit.text,
            "{name}: setting twice is a no-op"
        );
    }
}

#[test]
fn the_byte_check_catches_lost_comments_line_endings_and_blank_lines() {
    let value = json!(SOCKET);
    let cases = [
        ("line-comments.json", "// chosen in 2024", ""),
        ("crlf.json", "\r\n", "\n"),
        ("bom.json", BOM, ""),
        ("blank-lines.json", "\n\n\n    \"files", "\n    \"files"),
        ("trailing-commas.json", "120,\n", "120\n"),
        (
            "key-present-comment-after-value.json",
            " // set by hand",
            "",
        ),
        ("comment-only.json", "/* nothing yet */", ""),
        ("tabs.json", "\t\"[go]\"", "    \"[go]\""),
    ];
    for (file, from, to) in cases {
        let path = corpus("ok")
            .into_iter()
            .find(|p| p.ends_with(file))
            .unwrap();
        let input = read(&path);
        let good = set_socket(&input).text;
        assert_eq!(check_preserved(&input, &good, &value), Ok(()), "{file}");
        assert!(good.contains(from), "{file}: the mutation must apply");
        let damaged = good.replacen(from, to, 1);
        assert!(
            check_preserved(&input, &damaged, &value).is_err(),
            "{file}: a damaged output passed the check"
        );
    }
}

#[test]
fn byte_order_mark_and_crlf_are_kept() {
    let input = read(
        &corpus("ok")
            .into_iter()
            .find(|p| p.ends_with("bom-crlf-tabs.json"))
            .unwrap(),
    );
    let output = set_socket(&input).text;
    assert_eq!(
        output,
        format!(
            "{BOM}{{\r\n\t// BOM, CRLF and tabs together\r\n\t\"window.zoomLevel\": 1,\r\n\t\"{KEY}\": \"{SOCKET}\",\r\n}}\r\n"
        )
    );
}

#[test]
fn insertion_follows_the_indentation_and_trailing_comma_of_the_siblings() {
    let edit = set_socket("{\n  \"a\": 1,\n  \"b\": [\n    2,\n  ],\n}\n");
    assert_eq!(
        edit.text,
        format!("{{\n  \"a\": 1,\n  \"b\": [\n    2,\n  ],\n  \"{KEY}\": \"{SOCKET}\",\n}}\n")
    );
    let edit = set_socket("{\n\t\"a\": 1 // note\n}");
    assert_eq!(
        edit.text,
        format!("{{\n\t\"a\": 1, // note\n\t\"{KEY}\": \"{SOCKET}\"\n}}")
    );
}

#[test]
fn a_comment_only_file_keeps_its_comments_and_gains_an_object() {
    let edit = set_socket("// my settings");
    assert_eq!(
        edit.text,
        format!("// my settings\n{{\n    \"{KEY}\": \"{SOCKET}\"\n}}\n")
    );
    let edit = set_socket("");
    assert_eq!(edit.text, format!("{{\n    \"{KEY}\": \"{SOCKET}\"\n}}\n"));
}

#[test]
fn a_duplicate_key_changes_the_last_occurrence_and_reports_the_others() {
    let input = read(
        &corpus("ok")
            .into_iter()
            .find(|p| p.ends_with("duplicate-key.json"))
            .unwrap(),
    );
    assert_eq!(
        jsonc::get(&input, KEY).unwrap(),
        Some(json!("/second/docker.sock"))
    );
    let edit = set_socket(&input);
    assert_eq!(edit.duplicate_lines, vec![2]);
    assert!(
        edit.text.contains("\"/first/docker.sock\""),
        "the ignored occurrence is left alone"
    );
    assert!(!edit.text.contains("/second/docker.sock"));
    assert_eq!(jsonc::get(&edit.text, KEY).unwrap(), Some(json!(SOCKET)));
}

#[test]
fn a_key_inside_a_nested_object_is_not_the_setting() {
    let input = read(
        &corpus("ok")
            .into_iter()
            .find(|p| p.ends_with("key-nested-only.json"))
            .unwrap(),
    );
    assert_eq!(jsonc::get(&input, KEY).unwrap(), None);
    let edit = set_socket(&input);
    let settings = settings(&edit.text);
    assert_eq!(settings[KEY], json!(SOCKET));
    assert_eq!(
        settings["remote.containers"][KEY],
        json!("/nested/docker.sock")
    );
}

#[test]
fn an_escaped_key_is_the_same_key() {
    let input = read(
        &corpus("ok")
            .into_iter()
            .find(|p| p.ends_with("escaped-key.json"))
            .unwrap(),
    );
    assert_eq!(
        jsonc::get(&input, KEY).unwrap(),
        Some(json!("/var/run/docker.sock"))
    );
    let edit = set_socket(&input);
    assert_eq!(settings(&edit.text).len(), 1, "replaced, not added");
}

#[test]
fn setting_the_current_value_changes_nothing() {
    let input = read(
        &corpus("ok")
            .into_iter()
            .find(|p| p.ends_with("key-present-same-value.json"))
            .unwrap(),
    );
    let edit = set_socket(&input);
    assert!(!edit.changed);
    assert_eq!(edit.text, input);
}

#[test]
fn values_of_any_type_are_laid_out_like_the_document() {
    let input = "{\n\t\"a\": 1,\n\t\"b\": 2\n}\n";
    let value = json!({"list": [1, {"x": null}], "empty": {}, "flag": true});
    let edit = jsonc::set(input, "b", &value).unwrap();
    assert_eq!(
        edit.text,
        "{\n\t\"a\": 1,\n\t\"b\": {\n\t\t\"empty\": {},\n\t\t\"flag\": true,\n\t\t\"list\": [\n\t\t\t1,\n\t\t\t{\n\t\t\t\t\"x\": null\n\t\t\t}\n\t\t]\n\t}\n}\n"
    );
    assert_eq!(jsonc::get(&edit.text, "b").unwrap(), Some(value.clone()));

    let edit = jsonc::set("{ \"a\": 1 }", "b", &value).unwrap();
    assert_eq!(
        edit.text,
        "{ \"a\": 1, \"b\": {\"empty\":{},\"flag\":true,\"list\":[1,{\"x\":null}]} }"
    );

    let edit = jsonc::set("{\"a\": \"x\"}", "a", &json!(-2.5)).unwrap();
    assert_eq!(edit.text, "{\"a\": -2.5}");
}

#[test]
fn get_reads_the_last_top_level_occurrence() {
    let text = "// c\n{ \"k\": 1, \"n\": { \"k\": 2 }, \"k\": [true, \"s\"], }";
    assert_eq!(jsonc::get(text, "k").unwrap(), Some(json!([true, "s"])));
    assert_eq!(jsonc::get(text, "missing").unwrap(), None);
    assert_eq!(jsonc::get("", "k").unwrap(), None);
    assert_eq!(jsonc::get("/* only */", "k").unwrap(), None);
}

#[test]
fn errors_point_at_the_line_and_column_of_the_problem() {
    let expectations = [
        ("unterminated-string.json", 3, 40),
        ("string-closed-on-later-line.json", 2, 10),
        ("unterminated-block-comment.json", 2, 27),
        ("missing-comma.json", 2, 26),
        ("unquoted-key.json", 2, 5),
        ("single-quoted-string.json", 2, 26),
        ("garbage-after-object.json", 3, 3),
        ("two-values.json", 4, 1),
        ("top-level-array.json", 2, 1),
        ("bom-then-array.json", 1, 1),
        ("raw-tab-in-string.json", 2, 12),
    ];
    for (file, line, column) in expectations {
        let path = corpus("malformed")
            .into_iter()
            .find(|p| p.ends_with(file))
            .unwrap();
        let error = jsonc::set(&read(&path), KEY, &json!(SOCKET)).unwrap_err();
        assert_eq!(
            (error.line(), error.column()),
            (line, column),
            "{file}: {error}"
        );
    }
}

#[test]
fn every_malformed_file_is_an_error_and_stays_untouched() {
    for path in corpus("malformed") {
        let original = fs::read(&path).unwrap();
        let text = String::from_utf8(original.clone()).unwrap();
        assert!(jsonc::get(&text, KEY).is_err());
        let pure = jsonc::set(&text, KEY, &json!(SOCKET)).unwrap_err();

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.json");
        fs::write(&file, &original).unwrap();
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(old)
            .unwrap();

        let error = jsonc::set_in_file(&file, KEY, &json!(SOCKET)).unwrap_err();
        match &error {
            SettingsFileError::Malformed { path, error } => {
                assert_eq!(path, &file);
                assert_eq!(error, &pure);
            }
            other => panic!("expected Malformed, got {other:?}"),
        }
        assert_eq!(fs::read(&file).unwrap(), original, "bytes untouched");
        assert_eq!(
            fs::metadata(&file).unwrap().modified().unwrap(),
            old,
            "mtime untouched"
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            ["settings.json"],
            "no backup or temporary file left behind"
        );

        let message = error
            .to_string()
            .replace(&dir.path().display().to_string(), "[DIR]");
        assert!(message.contains("left untouched"));
        insta::assert_snapshot!(snapshot_name("malformed", &path), message);
    }
}

#[test]
fn only_what_vs_code_accepts_is_accepted() {
    let rejected = [
        "{a: 1}",
        "{'a': 1}",
        "{\"a\": 'x'}",
        "{\"a\": 0x1F}",
        "{\"a\": +1}",
        "{\"a\": .5}",
        "{\"a\": 5.}",
        "{\"a\": Infinity}",
        "{\"a\": NaN}",
        "{\"a\": undefined}",
        "{\"a\": \"\\x41\"}",
        "{\"a\": \"\\v\"}",
        "{\"a\": \"line\nbreak\"}",
        "{\"a\": 01}",
        "{\"a\": 1 \"b\": 2}",
        "{\"a\": 1,,}",
        "{,}",
        "{\"a\": [1 2]}",
        "{\"a\": 1}}",
        "{\"a\": 1} x",
        "[]",
        "\"s\"",
        "1",
        "null",
    ];
    for text in rejected {
        let error = jsonc::set(text, KEY, &json!(SOCKET));
        assert!(error.is_err(), "{text:?} was accepted: {error:?}");
    }
    let accepted = [
        "{}",
        "{\"a\": 1,}",
        "{\"a\": [1, 2,],}",
        "// c\n{ /* c */ \"a\": -0.5e-3 } // c\n/* c */",
        "{\"a\": \"\\u00e9\\n\\t\\\"\\\\\\/\"}",
    ];
    for text in accepted {
        let edit = jsonc::set(text, KEY, &json!(SOCKET));
        assert!(edit.is_ok(), "{text:?} was rejected: {edit:?}");
    }
}

#[test]
fn not_an_object_says_what_it_is() {
    let error = jsonc::set("// list\n[1]", KEY, &json!(SOCKET)).unwrap_err();
    assert_eq!(
        error,
        JsoncError::NotAnObject {
            line: 2,
            column: 1,
            found: "an array"
        }
    );
    assert!(
        error
            .to_string()
            .contains("VS Code settings are one JSON object")
    );
}

#[test]
fn an_unquoted_property_name_is_named_in_the_error() {
    for text in [
        "{\n  editor.fontSize: 12\n}",
        "{ \"a\": 1, $b : 2 }",
        "{ a_b: 1 }",
    ] {
        let error = jsonc::set(text, KEY, &json!(SOCKET)).unwrap_err();
        assert!(
            error.to_string().contains("is not in double quotes"),
            "{text:?}: {error}"
        );
    }
}
