//! A world for end-to-end tests of `dw run` and `dw workflows`: a temp home, a project and a
//! state directory, the real `dw` binary pointed at them, and readers for what a workflow left
//! on disk. Dropping the world removes the sandbox containers of every workflow in its state
//! directory, also when the test failed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::agent::dw_agent_binary;
use crate::home::TempHome;

/// The sandbox image of the tests (`DW_TEST_IMAGE`, set by `scripts/test`).
pub fn image() -> String {
    crate::test_image()
}

/// A home with a `project/` and a `state/` directory, and the `dw` binary to run there.
pub struct World {
    /// The temp home (`HOME` of every command).
    pub home: TempHome,
    /// The project the workflows work on.
    pub project: PathBuf,
    /// `DW_STATE_DIR` of every command.
    pub state: PathBuf,
    dw: PathBuf,
}

impl World {
    /// A world running `dw` (an integration test passes `env!("CARGO_BIN_EXE_dw")`).
    pub fn new(dw: impl Into<PathBuf>) -> World {
        let home = TempHome::new();
        let project = home.dir("project");
        let state = home.dir("state");
        World {
            home,
            project,
            state,
            dw: dw.into(),
        }
    }

    /// Writes `contents` to `name` in the project.
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.project.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// A script for the script provider: one assistant turn per value.
    pub fn script(&self, turns: &[Value]) -> PathBuf {
        let path = self.home.join("script.jsonl");
        let text: Vec<String> = turns.iter().map(Value::to_string).collect();
        std::fs::write(&path, text.join("\n") + "\n").unwrap();
        path
    }

    /// `dw` with this world's home and state directory, the static executor, no colour, no
    /// stdin, and none of the model providers' or GitLab's settings of the machine.
    pub fn dw(&self) -> Command {
        let mut command = self.home.command(&self.dw);
        command
            .env("DW_STATE_DIR", &self.state)
            .env("DW_AGENT", dw_agent_binary())
            .env("NO_COLOR", "1")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("ANTHROPIC_BASE_URL")
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .env_remove("GITLAB_TOKEN")
            .env_remove("GITLAB_URL")
            .stdin(Stdio::null());
        command
    }

    /// `dw run GOAL --workspace PROJECT --image IMAGE ARGS…`.
    pub fn run(&self, goal: &str, args: &[&str]) -> Command {
        let mut command = self.dw();
        command
            .args(["run", goal, "--workspace"])
            .arg(&self.project)
            .args(["--image", &image()])
            .args(args);
        command
    }

    /// The ids of the workflows in the state directory, oldest first.
    pub fn workflow_ids(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.state.join("workflows")) else {
            return Vec::new();
        };
        let mut ids: Vec<String> = entries
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        ids.sort();
        ids
    }

    /// The id of the one workflow there is (panics when there are more or none).
    pub fn only_workflow(&self) -> String {
        let ids = self.workflow_ids();
        assert_eq!(ids.len(), 1, "{ids:?}");
        ids[0].clone()
    }

    /// The workflow's `events.jsonl`, line by line.
    pub fn events(&self, id: &str) -> Vec<Value> {
        json_file_lines(&self.state.join("workflows").join(id).join("events.jsonl"))
    }

    /// The workflow's `audit.jsonl`, line by line.
    pub fn audit(&self, id: &str) -> Vec<Value> {
        json_file_lines(&self.state.join("workflows").join(id).join("audit.jsonl"))
    }

    /// Every file under the state directory, concatenated (for "this secret is nowhere").
    pub fn state_text(&self) -> String {
        files_under(&self.state)
            .iter()
            .map(|path| String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned())
            .collect()
    }

    /// The containers of workflow `id` (label `dev.dw.workflow=<id>`), running or not.
    pub fn containers(&self, id: &str) -> Vec<String> {
        let output = Command::new("docker")
            .args(["ps", "-aq", "--filter"])
            .arg(format!("label=dev.dw.workflow={id}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for id in self.workflow_ids() {
            let containers = self.containers(&id);
            if !containers.is_empty() {
                let _ = Command::new("docker")
                    .args(["rm", "-f", "-v"])
                    .args(&containers)
                    .output();
            }
        }
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A JSON-lines file, parsed line by line (missing: no lines).
pub fn json_file_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// A command's status, stdout and stderr, for assertion messages.
pub fn explain(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The JSON lines a command printed (`dw run --json`).
pub fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect()
}

/// The records of one `type`.
pub fn of_type<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|record| record["type"] == kind)
        .collect()
}

/// The statuses the records went through, in order.
pub fn statuses(records: &[Value]) -> Vec<&str> {
    of_type(records, "status")
        .iter()
        .map(|record| record["status"].as_str().unwrap())
        .collect()
}
