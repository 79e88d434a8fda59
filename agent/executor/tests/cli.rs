//! The command line around `serve`: version, help, a bad root, and serving a script in-process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::Command;
use std::sync::{Arc, Mutex};

use dw_protocol::Outgoing;

fn dw_agent(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dw-agent"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn version_and_help_describe_the_binary() {
    let version = dw_agent(&["--version"]);
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8(version.stdout).unwrap(),
        format!("dw-agent {}\n", env!("CARGO_PKG_VERSION"))
    );
    let help = dw_agent(&["serve", "--help"]);
    assert!(help.status.success());
    // Whether clap wraps lines depends on the features the workspace build unifies: compare words.
    let help = String::from_utf8(help.stdout)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(help.contains("--root <DIR>"), "{help}");
    assert!(help.contains("[default: /workspace]"), "{help}");
}

#[test]
fn a_missing_root_is_an_environment_error() {
    let temp = tempfile::tempdir().unwrap();
    let missing = temp.path().join("missing");
    let output = dw_agent(&["serve", "--root", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("cannot open the workspace root"),
        "{stderr}"
    );
    assert!(stderr.contains("--root"), "{stderr}");
    assert_eq!(dw_agent(&["bogus"]).status.code(), Some(2));
}

/// Output shared with the test after the serve loop has returned.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().write(bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_script_piped_in_gets_every_answer_before_the_executor_exits() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(temp.path().join("a.txt"), "a").unwrap();
    let mut script = String::new();
    for id in 1..=50 {
        script += &format!("{{\"id\": {id}, \"op\": \"read_file\", \"path\": \"a.txt\"}}\n");
    }
    script += "{\"id\": 51, \"op\": \"hello\"}";
    let output = Shared::default();
    dw_agent::serve_with(temp.path(), std::io::Cursor::new(script), output.clone()).unwrap();
    let written = String::from_utf8(output.0.lock().unwrap().clone()).unwrap();
    let mut ids: Vec<u64> = written
        .lines()
        .map(|line| Outgoing::from_line(line).unwrap().id().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=51).collect::<Vec<_>>());
}
