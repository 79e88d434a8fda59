#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Load: four workflows at once, each on a workspace of its own with 500 executor actions
//! (script provider), on the machine's engine and one shared state directory.
//!
//! The test checks that nothing crosses between them (every answer names its own workspace,
//! every file lands in its own workspace) and that no container is left. The executor's round
//! trip under that load, beside the same workflow run alone, is what `load_figures` prints:
//!
//! ```text
//! cargo nextest run -p dw --test load --run-ignored only --no-capture
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use dw_test_support::agent::dw_agent_binary;
use dw_test_support::home::TempHome;
use dw_test_support::test_image;
use serde_json::{Value, json};

const WORKFLOWS: usize = 4;
/// Executor actions per workflow: this many rounds of four.
const ROUNDS: usize = 125;
/// Tool calls per model turn.
const CALLS_PER_TURN: usize = 50;

/// One state directory, and a workspace per workflow.
struct Load {
    home: TempHome,
    state: PathBuf,
}

/// One workflow's workspace, script and (once it ran) id.
struct Workload {
    marker: String,
    project: PathBuf,
    script: PathBuf,
}

impl Load {
    fn new() -> Load {
        let home = TempHome::new();
        let state = home.dir("state");
        Load { home, state }
    }

    /// A workspace holding `marker.txt` and an empty `notes/`, and a script of `ROUNDS` rounds
    /// of four executor actions: write a note, read it back, `cat marker.txt`, grep it.
    fn workload(&self, name: &str) -> Workload {
        let marker = format!("{name}-{}-{}", std::process::id(), nanos());
        let project = self.home.dir(format!("{name}/project"));
        std::fs::write(project.join("marker.txt"), format!("{marker}\n")).unwrap();
        std::fs::create_dir(project.join("notes")).unwrap();
        let mut calls = Vec::new();
        for round in 0..ROUNDS {
            let note = format!("notes/{round}.txt");
            calls.push(json!({"name": "write_file", "input": {"path": note, "content": format!("{marker} {round}\n")}}));
            calls.push(json!({"name": "read_file", "input": {"path": note}}));
            calls.push(
                json!({"name": "run_command", "input": {"program": "cat", "args": ["marker.txt"]}}),
            );
            calls.push(
                json!({"name": "grep", "input": {"pattern": "-[0-9]+-[0-9]+$", "path": "marker.txt"}}),
            );
        }
        let mut turns = vec![json!({"tool_calls": [
            {"name": "create_plan", "input": {"steps": [{"title": "Write, read and check notes"}]}}
        ]})];
        turns.extend(
            calls
                .chunks(CALLS_PER_TURN)
                .map(|chunk| json!({"tool_calls": chunk})),
        );
        turns.push(
            json!({"tool_calls": [{"name": "finish", "input": {"summary": "Notes checked."}}]}),
        );
        let script = self.home.join(format!("{name}/script.jsonl"));
        let text: Vec<String> = turns.iter().map(Value::to_string).collect();
        std::fs::write(&script, text.join("\n") + "\n").unwrap();
        Workload {
            marker,
            project,
            script,
        }
    }

    fn start(&self, workload: &Workload) -> Child {
        self.home
            .command(env!("CARGO_BIN_EXE_dw"))
            .env("DW_STATE_DIR", &self.state)
            .env("DW_AGENT", dw_agent_binary())
            .env("NO_COLOR", "1")
            .args(["run", "Check the notes", "--json", "--yes", "--workspace"])
            .arg(&workload.project)
            .args(["--image", &test_image(), "--max-steps", "50", "--script"])
            .arg(&workload.script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Runs the workloads at once; the id of each one's workflow, in order.
    fn run_together(&self, workloads: &[Workload]) -> Vec<String> {
        let children: Vec<Child> = workloads.iter().map(|load| self.start(load)).collect();
        for child in children {
            let output = child.wait_with_output().unwrap();
            assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
            let records = json_lines(&output);
            assert_eq!(records.last().unwrap()["status"], "finished");
        }
        workloads
            .iter()
            .map(|workload| self.workflow_on(&workload.project))
            .collect()
    }

    /// The id of the one workflow that worked on `project`.
    fn workflow_on(&self, project: &std::path::Path) -> String {
        let entries = std::fs::read_dir(self.state.join("workflows")).unwrap();
        let found: Vec<String> = entries
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|id| {
                self.lines(id, "events.jsonl")[0]["workflow"]["workspace"]
                    == project.display().to_string()
            })
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        found[0].clone()
    }

    fn lines(&self, id: &str, file: &str) -> Vec<Value> {
        let path = self.state.join("workflows").join(id).join(file);
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// The executor's round trips per op, in milliseconds, from the workflow's audit log.
    fn round_trips(&self, id: &str) -> BTreeMap<String, Vec<f64>> {
        let mut trips: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for line in self.lines(id, "audit.jsonl") {
            if line["kind"] == "executor" && line["op"] != "start_sandbox" {
                trips
                    .entry(line["op"].as_str().unwrap().to_owned())
                    .or_default()
                    .push(line["duration_ms"].as_f64().unwrap());
            }
        }
        trips
    }
}

fn nanos() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

fn explain(output: &Output) -> String {
    format!(
        "status {:?}\nstdout (end):\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .join("\n"),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect()
}

fn containers(id: &str) -> Vec<String> {
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

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

/// Every result of the workflow answers for its own workspace, and its notes are all there.
fn assert_no_cross_talk(load: &Load, id: &str, workload: &Workload, others: &[&Workload]) {
    let events = load.lines(id, "events.jsonl");
    let settings = &events[0]["workflow"];
    assert_eq!(
        settings["workspace"],
        workload.project.display().to_string()
    );
    let results: Vec<&Value> = events
        .iter()
        .filter(|event| event["type"] == "tool_result" && event["tool"] != "create_plan")
        .filter(|event| event["tool"] != "finish")
        .collect();
    assert_eq!(results.len(), 4 * ROUNDS);
    for (index, result) in results.iter().enumerate() {
        assert_eq!(result["ok"], true, "{result}");
        let output = result["output"].as_str().unwrap();
        let round = index / 4;
        match index % 4 {
            0 => assert_eq!(
                output,
                format!(
                    "Wrote {} bytes to notes/{round}.txt.",
                    workload.marker.len() + format!(" {round}\n").len()
                )
            ),
            1 => assert_eq!(output, format!("{} {round}\n", workload.marker)),
            2 => assert!(
                output.ends_with(&format!("\n{}\n", workload.marker)),
                "{output}"
            ),
            _ => assert!(output.contains(&workload.marker), "{output}"),
        }
        for other in others {
            assert!(
                !output.contains(&other.marker),
                "workflow {id} saw another workspace: {output}"
            );
        }
    }
    let notes = std::fs::read_dir(workload.project.join("notes")).unwrap();
    let mut count = 0;
    for note in notes {
        let text = std::fs::read_to_string(note.unwrap().path()).unwrap();
        assert!(text.starts_with(&format!("{} ", workload.marker)), "{text}");
        count += 1;
    }
    assert_eq!(count, ROUNDS);
    let executor_actions = load
        .lines(id, "audit.jsonl")
        .iter()
        .filter(|line| line["kind"] == "executor" && line["op"] != "start_sandbox")
        .count();
    assert_eq!(executor_actions, 4 * ROUNDS);
}

#[test]
fn four_workflows_at_once_keep_to_their_own_sandboxes_and_leave_no_container() {
    let load = Load::new();
    let workloads: Vec<Workload> = (0..WORKFLOWS)
        .map(|index| load.workload(&format!("load{index}")))
        .collect();
    let ids = load.run_together(&workloads);

    let mut sandboxes: Vec<String> = Vec::new();
    for (index, (id, workload)) in ids.iter().zip(&workloads).enumerate() {
        let others: Vec<&Workload> = workloads
            .iter()
            .enumerate()
            .filter(|(other, _)| *other != index)
            .map(|(_, other)| other)
            .collect();
        assert_no_cross_talk(&load, id, workload, &others);
        sandboxes.extend(
            load.lines(id, "audit.jsonl")
                .iter()
                .filter(|line| line["op"] == "start_sandbox")
                .map(|line| line["target"].as_str().unwrap().to_owned()),
        );
        assert!(containers(id).is_empty(), "workflow {id} left a container");
    }
    sandboxes.sort();
    sandboxes.dedup();
    assert_eq!(
        sandboxes.len(),
        WORKFLOWS,
        "one sandbox each: {sandboxes:?}"
    );
}

/// The executor's round-trip medians per op: one workflow alone, then four at once.
#[test]
#[ignore = "a measure, not a check: run it with --run-ignored only --no-capture"]
fn load_figures() {
    let load = Load::new();
    let alone = load.workload("alone");
    let idle_id = load.run_together(std::slice::from_ref(&alone)).remove(0);
    let idle = load.round_trips(&idle_id);

    let workloads: Vec<Workload> = (0..WORKFLOWS)
        .map(|index| load.workload(&format!("busy{index}")))
        .collect();
    let ids = load.run_together(&workloads);
    let mut loaded: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for id in &ids {
        for (op, trips) in load.round_trips(id) {
            loaded.entry(op).or_default().extend(trips);
        }
    }

    println!(
        "executor round trip, median of {} actions per op alone and {} under load of {WORKFLOWS} workflows",
        ROUNDS,
        ROUNDS * WORKFLOWS
    );
    println!(
        "{:<12} {:>10} {:>12} {:>7}",
        "op", "idle ms", "loaded ms", "ratio"
    );
    let mut all_idle = Vec::new();
    let mut all_loaded = Vec::new();
    for (op, trips) in &idle {
        let mut idle_trips = trips.clone();
        let mut loaded_trips = loaded.get(op).cloned().unwrap_or_default();
        all_idle.extend(&idle_trips);
        all_loaded.extend(&loaded_trips);
        let (idle_median, loaded_median) = (median(&mut idle_trips), median(&mut loaded_trips));
        println!(
            "{op:<12} {idle_median:>10.3} {loaded_median:>12.3} {:>6.2}×",
            loaded_median / idle_median
        );
    }
    let (idle_median, loaded_median) = (median(&mut all_idle), median(&mut all_loaded));
    println!(
        "{:<12} {idle_median:>10.3} {loaded_median:>12.3} {:>6.2}×",
        "all",
        loaded_median / idle_median
    );
}
