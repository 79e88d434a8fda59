//! Every message type, written and read back, against the exact JSON the protocol documents.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use dw_protocol::request::{
    Cancel, EditFile, FindFiles, Git, Grep, Hello, ListDir, Mkdir, ReadFile, RunCommand, Shutdown,
    WriteFile,
};
use dw_protocol::result::{
    CancelResult, CommandResult, DirEntry, EditFileResult, Empty, EntryKind, FindFilesResult,
    GrepMatch, GrepResult, HelloResult, ListDirResult, ReadFileResult, WriteFileResult,
};
use dw_protocol::{ErrorKind, Event, Failure, Op, Operation, Outgoing, Request, Response, Stream};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The request serialises to exactly `expected`, and `expected` parses back to it.
fn assert_request(op: impl Into<Op>, expected: Value) {
    let request = Request::new(7, op);
    let line = request.to_line().unwrap();
    assert!(!line.contains('\n'));
    assert_eq!(serde_json::from_str::<Value>(&line).unwrap(), expected);
    assert_eq!(Request::from_line(&expected.to_string()).unwrap(), request);
    assert_eq!(expected["op"], request.op.name());
}

#[test]
fn every_request_has_the_documented_shape() {
    assert_request(Hello {}, json!({"id": 7, "op": "hello"}));
    assert_request(
        ReadFile {
            path: "src/main.rs".into(),
            offset: Some(10),
            limit: Some(20),
        },
        json!({"id": 7, "op": "read_file", "path": "src/main.rs", "offset": 10, "limit": 20}),
    );
    assert_request(
        ReadFile {
            path: "a".into(),
            ..ReadFile::default()
        },
        json!({"id": 7, "op": "read_file", "path": "a"}),
    );
    assert_request(
        WriteFile {
            path: "a/b.txt".into(),
            content: "line\n".into(),
            create_dirs: false,
        },
        json!({"id": 7, "op": "write_file", "path": "a/b.txt", "content": "line\n", "create_dirs": false}),
    );
    assert_request(
        EditFile {
            path: "a".into(),
            old: "x".into(),
            new: "y".into(),
            replace_all: true,
        },
        json!({"id": 7, "op": "edit_file", "path": "a", "old": "x", "new": "y", "replace_all": true}),
    );
    assert_request(
        ListDir { path: "src".into() },
        json!({"id": 7, "op": "list_dir", "path": "src"}),
    );
    assert_request(
        FindFiles {
            pattern: "*.rs".into(),
            path: Some("src".into()),
        },
        json!({"id": 7, "op": "find_files", "pattern": "*.rs", "path": "src"}),
    );
    assert_request(
        Grep {
            pattern: "fn main".into(),
            path: None,
            case_insensitive: true,
            max_matches: Some(5),
        },
        json!({"id": 7, "op": "grep", "pattern": "fn main", "case_insensitive": true, "max_matches": 5}),
    );
    assert_request(
        Mkdir { path: "a/b".into() },
        json!({"id": 7, "op": "mkdir", "path": "a/b"}),
    );
    assert_request(
        RunCommand {
            program: "cargo".into(),
            args: vec!["test".into()],
            cwd: Some("crate".into()),
            env: BTreeMap::from([("RUST_LOG".into(), "debug".into())]),
            stdin: Some("input".into()),
            timeout_ms: Some(1000),
            output_limit: Some(4096),
        },
        json!({
            "id": 7, "op": "run_command", "program": "cargo", "args": ["test"], "cwd": "crate",
            "env": {"RUST_LOG": "debug"}, "stdin": "input", "timeout_ms": 1000, "output_limit": 4096
        }),
    );
    assert_request(
        Git {
            args: vec!["status".into()],
            timeout_ms: None,
        },
        json!({"id": 7, "op": "git", "args": ["status"]}),
    );
    assert_request(
        Cancel { target: 3 },
        json!({"id": 7, "op": "cancel", "target": 3}),
    );
    assert_request(Shutdown {}, json!({"id": 7, "op": "shutdown"}));
}

#[test]
fn omitted_parameters_take_their_documented_defaults() {
    let parse = |line: &str| Request::from_line(line).unwrap().op;
    assert_eq!(
        parse(r#"{"id": 1, "op": "write_file", "path": "a", "content": ""}"#),
        Op::WriteFile(WriteFile {
            path: "a".into(),
            content: String::new(),
            create_dirs: true,
        })
    );
    assert_eq!(
        parse(r#"{"id": 1, "op": "list_dir"}"#),
        Op::ListDir(ListDir { path: ".".into() })
    );
    assert_eq!(
        parse(r#"{"id": 1, "op": "run_command", "program": "ls"}"#),
        Op::RunCommand(RunCommand {
            program: "ls".into(),
            ..RunCommand::default()
        })
    );
    assert_eq!(
        parse(r#"{"op": "edit_file", "path": "a", "old": "x", "new": "y", "id": 1}"#),
        Op::EditFile(EditFile {
            path: "a".into(),
            old: "x".into(),
            new: "y".into(),
            replace_all: false,
        })
    );
}

#[test]
fn a_malformed_line_keeps_its_id_when_it_has_one() {
    let cases = [
        ("not json", None),
        ("", None),
        ("[1, 2]", None),
        ("[7]", None),
        (" \t[7, \"hello\"]", None),
        (r#"{"id": 7, "id": 8, "op": "hello"}"#, None),
        (" \t{\"id\": 7}", Some(7)),
        (r#"{"op": "hello"}"#, None),
        (r#"{"id": -1, "op": "hello"}"#, None),
        (r#"{"id": "7", "op": "hello"}"#, None),
        (r#"{"id": 7, "op": "bogus"}"#, Some(7)),
        (r#"{"id": 7}"#, Some(7)),
        (r#"{"id": 7, "op": "read_file"}"#, Some(7)),
        (r#"{"id": 7, "op": "read_file", "path": 3}"#, Some(7)),
        (
            r#"{"id": 7, "op": "read_file", "path": "a", "lmit": 3}"#,
            Some(7),
        ),
        (r#"{"id": 7, "op": "hello", "extra": true}"#, Some(7)),
        (r#"{"id": 7, "op": "cancel", "target": "x"}"#, Some(7)),
    ];
    for (line, id) in cases {
        let malformed = Request::from_line(line).expect_err(line);
        assert_eq!(malformed.id, id, "{line}");
        assert!(!malformed.message.is_empty());
    }
}

/// The response serialises to exactly `expected`, and parses back both typed and as a line
/// of the executor's output.
fn assert_response<T>(result: T, expected_result: Value)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug + Clone,
{
    let response = Response::success(7, result);
    let line = response.to_line().unwrap();
    let expected = json!({"id": 7, "ok": true, "result": expected_result});
    assert_eq!(serde_json::from_str::<Value>(&line).unwrap(), expected);
    assert_eq!(
        serde_json::from_str::<Response<T>>(&line).unwrap(),
        response
    );
    let Outgoing::Response(untyped) = Outgoing::from_line(&line).unwrap() else {
        panic!("{line} is not read as a response");
    };
    assert_eq!(untyped.decode::<T>().unwrap(), response);
}

/// Ties each result type to its op, so that the table below covers [`Operation::Output`].
fn output_of<O: Operation>(output: O::Output) -> O::Output {
    output
}

#[test]
fn every_result_has_the_documented_shape() {
    assert_response(
        output_of::<Hello>(HelloResult {
            version: "0.1.0".into(),
            root: "/workspace".into(),
            pid: 42,
        }),
        json!({"version": "0.1.0", "root": "/workspace", "pid": 42}),
    );
    assert_response(
        output_of::<ReadFile>(ReadFileResult {
            content: "hi".into(),
            size: 2,
            truncated: false,
        }),
        json!({"content": "hi", "size": 2, "truncated": false}),
    );
    assert_response(
        output_of::<WriteFile>(WriteFileResult { bytes: 5 }),
        json!({"bytes": 5}),
    );
    assert_response(
        output_of::<EditFile>(EditFileResult { replacements: 2 }),
        json!({"replacements": 2}),
    );
    assert_response(
        output_of::<ListDir>(ListDirResult {
            entries: vec![
                DirEntry {
                    name: "a".into(),
                    kind: EntryKind::File,
                    size: 3,
                },
                DirEntry {
                    name: "b".into(),
                    kind: EntryKind::Dir,
                    size: 4096,
                },
                DirEntry {
                    name: "c".into(),
                    kind: EntryKind::Symlink,
                    size: 1,
                },
                DirEntry {
                    name: "d".into(),
                    kind: EntryKind::Other,
                    size: 0,
                },
            ],
        }),
        json!({"entries": [
            {"name": "a", "kind": "file", "size": 3},
            {"name": "b", "kind": "dir", "size": 4096},
            {"name": "c", "kind": "symlink", "size": 1},
            {"name": "d", "kind": "other", "size": 0},
        ]}),
    );
    assert_response(
        output_of::<FindFiles>(FindFilesResult {
            paths: vec!["src/lib.rs".into()],
            truncated: true,
        }),
        json!({"paths": ["src/lib.rs"], "truncated": true}),
    );
    assert_response(
        output_of::<Grep>(GrepResult {
            matches: vec![GrepMatch {
                path: "src/lib.rs".into(),
                line: 3,
                text: "fn main() {}".into(),
            }],
            truncated: false,
        }),
        json!({"matches": [{"path": "src/lib.rs", "line": 3, "text": "fn main() {}"}], "truncated": false}),
    );
    assert_response(output_of::<Mkdir>(Empty {}), json!({}));
    assert_response(
        output_of::<RunCommand>(CommandResult {
            exit_code: Some(1),
            signal: None,
            timed_out: false,
            output: "error\n".into(),
            truncated: false,
        }),
        json!({"exit_code": 1, "signal": null, "timed_out": false, "output": "error\n", "truncated": false}),
    );
    assert_response(
        output_of::<Git>(CommandResult {
            exit_code: None,
            signal: Some(9),
            timed_out: true,
            output: String::new(),
            truncated: true,
        }),
        json!({"exit_code": null, "signal": 9, "timed_out": true, "output": "", "truncated": true}),
    );
    assert_response(
        output_of::<Cancel>(CancelResult { cancelled: true }),
        json!({"cancelled": true}),
    );
    assert_response(output_of::<Shutdown>(Empty {}), json!({}));
}

const EVERY_KIND: [(ErrorKind, &str); 14] = [
    (ErrorKind::InvalidRequest, "invalid_request"),
    (ErrorKind::OutsideWorkspace, "outside_workspace"),
    (ErrorKind::NotFound, "not_found"),
    (ErrorKind::AlreadyExists, "already_exists"),
    (ErrorKind::NotADirectory, "not_a_directory"),
    (ErrorKind::IsADirectory, "is_a_directory"),
    (ErrorKind::Binary, "binary"),
    (ErrorKind::NoMatch, "no_match"),
    (ErrorKind::Ambiguous, "ambiguous"),
    (ErrorKind::TooLarge, "too_large"),
    (ErrorKind::ResourceExhausted, "resource_exhausted"),
    (ErrorKind::Io, "io"),
    (ErrorKind::Timeout, "timeout"),
    (ErrorKind::Cancelled, "cancelled"),
];

#[test]
fn every_error_kind_has_the_documented_shape() {
    for (kind, name) in EVERY_KIND {
        assert_eq!(kind.as_str(), name);
        let response: Response = Response::failure(Some(7), Failure::new(kind, "why"));
        let line = response.to_line().unwrap();
        let expected = json!({"id": 7, "ok": false, "error": {"kind": name, "message": "why"}});
        assert_eq!(serde_json::from_str::<Value>(&line).unwrap(), expected);
        assert_eq!(Response::from_line(&line).unwrap(), response);
        assert_eq!(
            Outgoing::from_line(&line).unwrap(),
            Outgoing::Response(response)
        );
    }
}

#[test]
fn an_unattributable_failure_has_a_null_id() {
    let response: Response = Response::failure(
        None,
        Failure::new(ErrorKind::InvalidRequest, "not a valid request"),
    );
    let line = response.to_line().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&line).unwrap(),
        json!({"id": null, "ok": false, "error": {"kind": "invalid_request", "message": "not a valid request"}})
    );
    let parsed = Outgoing::from_line(&line).unwrap();
    assert_eq!(parsed.id(), None);
    assert_eq!(parsed, Outgoing::Response(response));
}

#[test]
fn a_failed_response_decodes_to_its_failure_whatever_the_result_type() {
    let line = r#"{"id": 3, "ok": false, "error": {"kind": "no_match", "message": "absent"}}"#;
    let decoded = Response::from_line(line)
        .unwrap()
        .decode::<EditFileResult>()
        .unwrap();
    assert_eq!(
        decoded.outcome,
        Err(Failure::new(ErrorKind::NoMatch, "absent"))
    );
}

#[test]
fn inconsistent_responses_are_refused() {
    for line in [
        r#"{"id": 1, "ok": true}"#,
        r#"{"id": 1, "ok": false}"#,
        r#"{"id": 1, "ok": true, "result": {}, "error": {"kind": "io", "message": ""}}"#,
        r#"{"id": 1, "ok": false, "result": {}}"#,
        r#"{"id": 1, "result": {}}"#,
        r#"{"id": 1, "ok": false, "error": {"kind": "unheard_of", "message": ""}}"#,
    ] {
        assert!(Outgoing::from_line(line).is_err(), "{line}");
    }
}

#[test]
fn events_have_the_documented_shape() {
    for (stream, name) in [(Stream::Stdout, "stdout"), (Stream::Stderr, "stderr")] {
        let event = Event {
            id: 7,
            event: stream,
            data: "line 1\nline \"2\"\n".into(),
        };
        let line = event.to_line().unwrap();
        assert!(!line.contains('\n'));
        assert_eq!(
            serde_json::from_str::<Value>(&line).unwrap(),
            json!({"id": 7, "event": name, "data": "line 1\nline \"2\"\n"})
        );
        let parsed = Outgoing::from_line(&line).unwrap();
        assert_eq!(parsed.id(), Some(7));
        assert_eq!(parsed, Outgoing::Event(event));
    }
    assert!(Outgoing::from_line(r#"{"id": 7, "event": "stdin", "data": ""}"#).is_err());
}

/// A small deterministic generator, so that the mutation test needs no dependency and
/// reproduces exactly.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// `Request::from_line` is the executor's fuzzing entry point: whatever bytes arrive, it
/// answers without panicking, and whatever it accepts survives a round trip unchanged.
#[test]
fn mutated_lines_never_panic_and_accepted_ones_round_trip() {
    let seeds = [
        r#"{"id": 1, "op": "read_file", "path": "a", "offset": 2, "limit": 3}"#,
        r#"{"id": 2, "op": "run_command", "program": "sh", "args": ["-c", "x"], "env": {"A": "b"}}"#,
        r#"{"id": 3, "op": "edit_file", "path": "é", "old": "\u0000", "new": "\n", "replace_all": true}"#,
        r#"{"id": 4, "op": "cancel", "target": 18446744073709551615}"#,
    ];
    let alphabet = br#"{}[]",:0123456789 -.eE\u"abnop_tidlr"#;
    let mut random = XorShift(0x5eed);
    for round in 0..20_000 {
        let mut bytes = seeds[round % seeds.len()].as_bytes().to_vec();
        for _ in 0..=random.below(4) {
            let at = random.below(bytes.len() + 1);
            match random.below(3) {
                0 if at < bytes.len() => {
                    bytes.remove(at);
                }
                1 => bytes.insert(at, alphabet[random.below(alphabet.len())]),
                _ => bytes.truncate(at),
            }
        }
        let Ok(line) = std::str::from_utf8(&bytes) else {
            continue;
        };
        if let Ok(request) = Request::from_line(line) {
            let again = Request::from_line(&request.to_line().unwrap()).unwrap();
            assert_eq!(again, request, "{line}");
        }
    }
}
