#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `dw run --duo` end to end: the real binary, the real engine and sandbox, and a fake GitLab
//! with Duo Workflow (REST and WebSocket) and a fake Duo Workflow Service (gRPC) on 127.0.0.1
//! that replay an action script (`dw_test_support::duo`).
//!
//! Each test has its own state directory (`DW_STATE_DIR`) and home; the sandbox containers of
//! every workflow found there are removed when the test ends, also when it fails.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dw_test_support::duo::{
    FakeDuo, SERVICE_TOKEN, Step, WORKFLOW_ID, chat, checkpoint, checkpoint_with, tool_request,
};
use dw_test_support::gitlab::Reply;
use dw_test_support::workflow::{
    World, explain, files_under, image, json_lines, of_type, statuses,
};
use serde_json::{Value, json};

const GITLAB_TOKEN: &str = "glpat-DuoTestToken0123456789";
const PROJECT: &str = "group/app";
const MERGE_REQUEST_PATH: &str = "/api/v4/projects/group%2Fapp/merge_requests/7";
const LIB: &str = "pub fn sub(a: i32, b: i32) -> i32 {\n    a + b\n}\n";

/// A [`World`] whose project's subtraction adds, with a test that fails until it is fixed, and
/// whose `dw` has the GitLab token and fast heartbeats and retries.
struct DuoWorld(World);

impl std::ops::Deref for DuoWorld {
    type Target = World;

    fn deref(&self) -> &World {
        &self.0
    }
}

impl DuoWorld {
    fn new() -> DuoWorld {
        let world = World::new(env!("CARGO_BIN_EXE_dw"));
        world.file("src/lib.rs", LIB);
        world.file(
            "test.sh",
            "grep -q 'a - b' src/lib.rs && echo 'tests passed'\n",
        );
        DuoWorld(world)
    }

    fn dw(&self) -> Command {
        let mut command = self.0.dw();
        command
            .env("GITLAB_TOKEN", GITLAB_TOKEN)
            .env("DW_DUO_HEARTBEAT_MS", "50")
            .env("DW_DUO_RETRY_MS", "50");
        command
    }

    /// `dw run --duo GOAL --workspace PROJECT --image IMAGE --gitlab-url URL
    /// --gitlab-project group/app --yes --json ARGS…`.
    fn run(&self, duo: &FakeDuo, args: &[&str]) -> Command {
        let mut command = self.dw();
        command
            .args(["run", "--duo", "Fix the subtraction", "--workspace"])
            .arg(&self.project)
            .args(["--image", &image(), "--gitlab-url", duo.url()])
            .args(["--gitlab-project", PROJECT, "--yes", "--json"])
            .args(args);
        command
    }
}

/// Asserts that `secret` is in no file under `dir`.
fn assert_nowhere_under(dir: &Path, secret: &str) {
    for entry in files_under(dir) {
        let text = String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).into_owned();
        assert!(
            !text.contains(secret),
            "the token is in {}",
            entry.display()
        );
    }
}

/// The text answer a `plainTextResponse` carried.
fn text(response: &Value) -> &str {
    response["actionResponse"]["plainTextResponse"]["response"]
        .as_str()
        .unwrap_or_else(|| panic!("not a text answer: {response}"))
}

/// The sequence: RUNNING, read, edit, a command (which waits for the test to look at
/// the sandbox, then runs the tests and prints its environment), a GET of a merge request, a
/// tool call to approve (the session ends), and after the reconnection FINISHED.
fn the_sequence() -> Vec<Step> {
    vec![
        checkpoint_with(
            "1",
            "RUNNING",
            json!({"channel_values": {
                "ui_chat_log": [chat("agent", "I will fix the subtraction.")],
                "plan": {"steps": [
                    {"id": "task-0", "description": "Fix sub in src/lib.rs", "status": "In Progress"},
                    {"id": "task-1", "description": "Run the tests", "status": "Not Started"}
                ]}
            }}),
        ),
        Step::action(json!({"requestID": "2", "runReadFile": {"filepath": "src/lib.rs"}})),
        Step::action(json!({"requestID": "3", "runEditFile": {
            "filepath": "src/lib.rs", "oldString": "a + b", "newString": "a - b"
        }})),
        Step::action(json!({"requestID": "4", "runCommand": {
            "program": "bash",
            "arguments": ["-c", "until [ -e go ]; do sleep 0.05; done; bash test.sh && env"],
            "flags": []
        }})),
        Step::action(json!({"requestID": "5", "runHTTPRequest": {
            "method": "GET", "path": MERGE_REQUEST_PATH
        }})),
        Step::Heartbeat,
        // The chat log of a checkpoint holds every message so far.
        checkpoint(
            "6",
            "TOOL_CALL_APPROVAL_REQUIRED",
            json!([
                chat("agent", "I will fix the subtraction."),
                chat(
                    "agent",
                    "The subtraction is fixed; let me run the tests once more."
                ),
                tool_request("run_command", json!({"program": "bash", "args": "test.sh"}))
            ]),
        ),
        Step::Close,
        checkpoint(
            "7",
            "RUNNING",
            json!([
                chat("agent", "I will fix the subtraction."),
                chat(
                    "agent",
                    "The subtraction is fixed; let me run the tests once more."
                ),
                tool_request("run_command", json!({"program": "bash", "args": "test.sh"}))
            ]),
        ),
        checkpoint(
            "8",
            "FINISHED",
            json!([
                chat("agent", "I will fix the subtraction."),
                chat(
                    "agent",
                    "The subtraction is fixed; let me run the tests once more."
                ),
                tool_request("run_command", json!({"program": "bash", "args": "test.sh"})),
                chat("agent", "Fixed the subtraction; the tests pass.")
            ]),
        ),
    ]
}

fn merge_request() -> Value {
    json!({"id": 70, "iid": 7, "project_id": 1, "title": "Fix subtraction", "state": "opened"})
}

/// Runs the sequence over `transport` and checks everything the two transports share: the
/// answers, the files, the records, the audit log, and that the token went nowhere but to
/// GitLab.
fn runs_the_sequence(transport: &str) -> FakeDuo {
    let world = DuoWorld::new();
    let duo = FakeDuo::builder(GITLAB_TOKEN)
        .script(the_sequence())
        .route("GET", MERGE_REQUEST_PATH, Reply::ok(merge_request()))
        .start();
    let mut child = world
        .run(&duo, &["--transport", transport])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The command waits for `go`: look at the sandbox while it runs.
    let deadline = Instant::now() + Duration::from_secs(120);
    let id = loop {
        assert!(Instant::now() < deadline, "the command never started");
        let started = duo
            .sessions()
            .first()
            .is_some_and(|session| session.responses.len() == 2);
        if started && let [id] = world.workflow_ids().as_slice() {
            break id.clone();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let containers = world.containers(&id);
    assert_eq!(containers.len(), 1, "one sandbox runs");
    let inspect = Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{json .Config.Env}}",
            &containers[0],
        ])
        .output()
        .unwrap();
    let environment = String::from_utf8_lossy(&inspect.stdout);
    assert!(
        inspect.status.success() && environment.starts_with('['),
        "{environment}"
    );
    assert!(!environment.contains(GITLAB_TOKEN), "{environment}");
    assert!(!environment.contains(SERVICE_TOKEN), "{environment}");
    std::fs::write(world.project.join("go"), "").unwrap();

    let stdout = BufReader::new(child.stdout.take().unwrap());
    let records: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(&line.unwrap()).unwrap())
        .collect();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{records:#?}",
        explain(&output)
    );

    // What dw answered, action by action.
    let responses = duo.responses();
    assert_eq!(responses.len(), 4, "{responses:#?}");
    assert_eq!(
        responses[0],
        json!({"actionResponse": {"requestID": "2", "plainTextResponse": {"response": LIB, "error": ""}}})
    );
    assert_eq!(
        responses[1],
        json!({"actionResponse": {"requestID": "3", "plainTextResponse": {"response": "Replaced 1 occurrence in src/lib.rs.", "error": ""}}})
    );
    assert_eq!(responses[2]["actionResponse"]["requestID"], "4");
    let command = text(&responses[2]);
    assert!(command.starts_with("exit code 0\n"), "{command}");
    assert!(command.contains("tests passed"), "{command}");
    assert!(
        command.contains("PATH="),
        "the environment was printed: {command}"
    );
    assert!(!command.contains(GITLAB_TOKEN), "{command}");
    assert!(
        !command.contains("[REDACTED]"),
        "nothing needed redacting: the token is not in the sandbox at all: {command}"
    );
    let http = &responses[3]["actionResponse"];
    assert_eq!(http["requestID"], "5");
    assert_eq!(http["httpResponse"]["statusCode"], 200);
    assert_eq!(http["httpResponse"]["error"], "");
    assert_eq!(
        http["httpResponse"]["headers"]["content-type"],
        "application/json"
    );
    assert_eq!(
        serde_json::from_str::<Value>(http["httpResponse"]["body"].as_str().unwrap()).unwrap(),
        merge_request()
    );

    // The workspace.
    assert_eq!(
        std::fs::read_to_string(world.project.join("src/lib.rs")).unwrap(),
        LIB.replace("a + b", "a - b")
    );

    // Two sessions: the second resumes the workflow with the approval.
    let seen = duo.seen();
    assert_eq!(
        seen.created,
        [json!({
            "goal": "Fix the subtraction",
            "workflow_definition": "software_development",
            "environment": "ide",
            "project_id": PROJECT,
            "allow_agent_to_request_user": true
        })]
    );
    assert_eq!(seen.sessions.len(), 2, "{:#?}", seen.sessions);
    for session in &seen.sessions {
        assert_eq!(session.transport, transport);
        let start = &session.start["startRequest"];
        assert_eq!(start["workflowID"], WORKFLOW_ID.to_string());
        assert_eq!(start["workflowDefinition"], "software_development");
        assert_eq!(start["goal"], "Fix the subtraction");
        assert_eq!(
            start["clientCapabilities"],
            json!(["shell_command", "read_file_chunked"])
        );
    }
    assert_eq!(seen.sessions[0].start["startRequest"].get("approval"), None);
    assert_eq!(
        seen.sessions[1].start["startRequest"]["approval"],
        json!({"approval": {}})
    );
    assert!(seen.sessions[0].heartbeats >= 1, "heartbeats were sent");
    // The one GitLab API request dw made for the agent, with the token.
    assert_eq!(seen.api.len(), 1, "{:?}", seen.api);
    assert_eq!(seen.api[0].method, "GET");
    assert_eq!(seen.api[0].path, MERGE_REQUEST_PATH);
    assert_eq!(
        seen.api[0].header("authorization"),
        Some(format!("Bearer {GITLAB_TOKEN}").as_str())
    );

    // The records: `dw run`'s, with checkpoints.
    let last = records.last().unwrap();
    assert_eq!(last["status"], "finished", "{last}");
    assert_eq!(last["summary"], "Fixed the subtraction; the tests pass.");
    assert_eq!(
        statuses(&records),
        [
            "running",
            "tool_call_approval_required",
            "running",
            "finished"
        ]
    );
    let messages: Vec<&str> = of_type(&records, "message")
        .iter()
        .map(|message| message["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "I will fix the subtraction.",
            "The subtraction is fixed; let me run the tests once more.",
            "Fixed the subtraction; the tests pass."
        ]
    );
    assert_eq!(
        of_type(&records, "plan")[0]["steps"],
        json!([
            {"title": "Fix sub in src/lib.rs", "status": "in_progress"},
            {"title": "Run the tests", "status": "pending"}
        ])
    );
    let checkpoints: Vec<&Value> = of_type(&records, "checkpoint");
    let checkpoint_statuses: Vec<&str> = checkpoints
        .iter()
        .map(|checkpoint| checkpoint["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        checkpoint_statuses,
        [
            "RUNNING",
            "TOOL_CALL_APPROVAL_REQUIRED",
            "RUNNING",
            "FINISHED"
        ]
    );
    assert_eq!(
        checkpoints[1]["tool_calls"],
        json!([{"name": "run_command", "args": {"program": "bash", "args": "test.sh"}}])
    );
    let calls: Vec<(&str, &str)> = of_type(&records, "tool_call")
        .iter()
        .map(|call| (call["id"].as_str().unwrap(), call["tool"].as_str().unwrap()))
        .collect();
    assert_eq!(
        calls,
        [
            ("2", "runReadFile"),
            ("3", "runEditFile"),
            ("4", "runCommand"),
            ("5", "runHTTPRequest")
        ]
    );
    assert_eq!(
        of_type(&records, "tool_call")[0]["input"],
        json!({"filepath": "src/lib.rs"})
    );
    assert!(
        of_type(&records, "tool_result")
            .iter()
            .all(|result| result["ok"] == true)
    );
    let events = world.events(&id);
    assert_eq!(
        of_type(&events, "input")
            .iter()
            .map(|input| (
                input["kind"].as_str().unwrap(),
                input["text"].as_str().unwrap()
            ))
            .collect::<Vec<_>>(),
        [("approve", "tool calls: run_command")]
    );
    assert_eq!(events[0]["workflow"]["duo"]["workflow_id"], WORKFLOW_ID);
    assert_eq!(events[0]["workflow"]["duo"]["transport"], transport);

    // The audit log: the executor's actions, every request to GitLab and the service.
    let audit = world.audit(&id);
    let ops: Vec<&str> = audit
        .iter()
        .filter(|line| line["kind"] == "executor")
        .map(|line| line["op"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        ["start_sandbox", "read_file", "edit_file", "run_command"]
    );
    let requests: Vec<(&str, &str, String, &Value)> = audit
        .iter()
        .filter(|line| line["kind"] == "http")
        .map(|line| {
            let url = line["url"].as_str().unwrap();
            let path = url.split_once("//").unwrap().1;
            let path = &path[path.find('/').unwrap_or(path.len())..];
            (
                line["service"].as_str().unwrap(),
                line["method"].as_str().unwrap(),
                path.to_owned(),
                &line["status"],
            )
        })
        .collect();
    assert!(
        requests.contains(&(
            "gitlab",
            "POST",
            "/api/v4/ai/duo_workflows/workflows".to_owned(),
            &json!(201)
        )),
        "{requests:#?}"
    );
    assert!(
        requests.contains(&("gitlab", "GET", MERGE_REQUEST_PATH.to_owned(), &json!(200))),
        "{requests:#?}"
    );
    let connections = requests
        .iter()
        .filter(|(service, ..)| *service == "duo-workflow")
        .count();
    assert_eq!(connections, 2, "{requests:#?}");

    // The token went to GitLab and nowhere else.
    for dir in [&world.project, &world.state] {
        assert_nowhere_under(dir, GITLAB_TOKEN);
    }
    assert!(!String::from_utf8_lossy(&output.stderr).contains(GITLAB_TOKEN));
    assert!(world.containers(&id).is_empty(), "the sandbox was removed");
    duo
}

#[test]
fn the_websocket_route_runs_the_workflow_on_the_sandbox() {
    let duo = runs_the_sequence("websocket");
    let sessions = duo.sessions();
    let first = &sessions[0];
    assert_eq!(
        first.header("authorization"),
        Some(format!("Bearer {GITLAB_TOKEN}").as_str())
    );
    assert_eq!(first.header("origin"), Some(duo.url()));
    assert!(first.header("x-request-id").is_some());
    assert_eq!(
        first.query,
        [("project_id".to_owned(), "group%2Fapp".to_owned())]
    );
    assert_eq!(duo.seen().direct_access, 0);
}

#[test]
fn the_grpc_route_runs_the_workflow_on_the_sandbox() {
    let duo = runs_the_sequence("grpc");
    let seen = duo.seen();
    assert_eq!(
        seen.direct_access, 1,
        "the service token was asked for once"
    );
    for session in &seen.sessions {
        assert_eq!(
            session.header("authorization"),
            Some(format!("Bearer {SERVICE_TOKEN}").as_str())
        );
        assert_eq!(session.header("x-gitlab-realm"), Some("self-managed"));
    }
}

#[test]
fn writes_to_gitlab_paths_outside_the_api_and_unknown_actions_are_refused() {
    let world = DuoWorld::new();
    let duo = FakeDuo::builder(GITLAB_TOKEN)
        .script(vec![
            checkpoint("1", "RUNNING", json!([])),
            Step::action(json!({"requestID": "2", "runHTTPRequest": {
                "method": "POST", "path": "/api/v4/projects/1/issues", "body": "{\"title\":\"x\"}"
            }})),
            Step::action(json!({"requestID": "3", "runHTTPRequest": {
                "method": "GET", "path": "/api/v4/../../users/sign_in"
            }})),
            Step::action(json!({"requestID": "4", "scheduleNotification": {
                "task_id": "t1", "condition": "{}", "message": "check CI"
            }})),
            // A tool call that writes to GitLab: --yes does not approve it.
            checkpoint(
                "5",
                "TOOL_CALL_APPROVAL_REQUIRED",
                json!([tool_request(
                    "create_merge_request_note",
                    json!({"merge_request_iid": 7, "body": "Fixed"})
                )]),
            ),
            Step::Close,
            checkpoint(
                "6",
                "FINISHED",
                json!([
                    tool_request(
                        "create_merge_request_note",
                        json!({"merge_request_iid": 7, "body": "Fixed"})
                    ),
                    chat("agent", "Done without a note.")
                ]),
            ),
        ])
        .start();

    let output = world.run(&duo, &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", explain(&output));
    let records = json_lines(&output);
    let last = records.last().unwrap();
    assert_eq!(last["status"], "tool_call_approval_required", "{last}");

    let responses = duo.responses();
    assert_eq!(responses.len(), 3, "{responses:#?}");
    let write = &responses[0]["actionResponse"];
    assert_eq!(write["requestID"], "2");
    assert_eq!(write["httpResponse"]["statusCode"], 403);
    let error = write["httpResponse"]["error"].as_str().unwrap();
    assert!(
        error.contains("POST /api/v4/projects/1/issues")
            && error.contains("read-only")
            && error.contains("--allow-gitlab-writes"),
        "{error}"
    );
    let outside = &responses[1]["actionResponse"];
    assert_eq!(outside["httpResponse"]["statusCode"], 403);
    assert!(
        outside["httpResponse"]["error"]
            .as_str()
            .unwrap()
            .contains("paths under /api/v4/"),
        "{outside}"
    );
    assert_eq!(
        responses[2],
        json!({"actionResponse": {"requestID": "4", "plainTextResponse": {"response": "", "error": "dw cannot execute the action `scheduleNotification`: this client does not support it; continue without it"}}})
    );
    assert!(duo.seen().api.is_empty(), "no request reached GitLab's API");
    assert_eq!(
        duo.sessions().len(),
        1,
        "the write was left waiting, not approved"
    );

    let id = world.only_workflow();
    let audit = world.audit(&id);
    let refused: Vec<(String, String)> = audit
        .iter()
        .filter(|line| line["kind"] == "refused")
        .map(|line| {
            (
                line["action"].as_str().unwrap().to_owned(),
                line["target"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            (
                "runHTTPRequest".to_owned(),
                "POST /api/v4/projects/1/issues".to_owned()
            ),
            (
                "runHTTPRequest".to_owned(),
                "GET /api/v4/../../users/sign_in".to_owned()
            ),
            ("scheduleNotification".to_owned(), String::new()),
        ]
    );
    let results: Vec<bool> = of_type(&records, "tool_result")
        .iter()
        .map(|result| result["ok"].as_bool().unwrap())
        .collect();
    assert_eq!(results, [false, false, false]);
    assert!(world.containers(&id).is_empty());

    // The user rejects the note when resuming; the workflow goes on without it.
    let resumed = world
        .dw()
        .args(["workflows", "resume", &id, "--json", "--message"])
        .arg("Do not comment on the merge request")
        .output()
        .unwrap();
    assert_eq!(resumed.status.code(), Some(0), "{}", explain(&resumed));
    assert_eq!(
        json_lines(&resumed).last().unwrap()["summary"],
        "Done without a note."
    );
    let sessions = duo.sessions();
    assert_eq!(sessions.len(), 2);
    assert_eq!(
        sessions[1].start["startRequest"]["approval"],
        json!({"rejection": {"message": "Do not comment on the merge request"}})
    );
}

#[test]
fn a_dropped_connection_is_resumed_with_the_workflow_id() {
    let world = DuoWorld::new();
    let duo = FakeDuo::builder(GITLAB_TOKEN)
        .script(vec![
            checkpoint("1", "RUNNING", json!([])),
            Step::action(json!({"requestID": "2", "runReadFile": {"filepath": "src/lib.rs"}})),
            Step::Drop,
            Step::action(json!({"requestID": "3", "runWriteFile": {
                "filepath": "NOTES.md", "contents": "after the reconnection\n"
            }})),
            checkpoint("4", "FINISHED", json!([chat("agent", "Wrote the notes.")])),
        ])
        .start();

    let output = world.run(&duo, &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    assert_eq!(
        std::fs::read_to_string(world.project.join("NOTES.md")).unwrap(),
        "after the reconnection\n"
    );
    let sessions = duo.sessions();
    assert_eq!(sessions.len(), 2, "{sessions:#?}");
    for session in &sessions {
        assert_eq!(
            session.start["startRequest"]["workflowID"],
            WORKFLOW_ID.to_string()
        );
    }
    assert_eq!(duo.seen().created.len(), 1, "the same workflow was resumed");
    assert_eq!(
        json_lines(&output).last().unwrap()["summary"],
        "Wrote the notes."
    );
}

#[test]
fn a_connection_that_does_not_come_back_fails_the_workflow_and_removes_the_sandbox() {
    let world = DuoWorld::new();
    let duo = FakeDuo::builder(GITLAB_TOKEN)
        .script(vec![
            checkpoint("1", "RUNNING", json!([])),
            Step::action(json!({"requestID": "2", "runReadFile": {"filepath": "src/lib.rs"}})),
            Step::Refuse(503),
        ])
        .start();

    let output = world.run(&duo, &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    let records = json_lines(&output);
    let last = records.last().unwrap();
    assert_eq!(last["status"], "failed", "{last}");
    let reason = last["reason"].as_str().unwrap();
    assert!(
        reason.contains("lost the connection to the Duo Workflow Service")
            && reason.contains("6 attempts")
            && reason.contains("dw workflows resume"),
        "{reason}"
    );
    let id = world.only_workflow();
    assert!(world.containers(&id).is_empty(), "the sandbox was removed");
    let attempts: Vec<Value> = world
        .audit(&id)
        .into_iter()
        .filter(|line| line["service"] == "duo-workflow")
        .collect();
    assert_eq!(attempts.len(), 7, "the first connection and six retries");
    assert!(attempts[1..].iter().all(|line| line["status"] == 503));

    let shown = world
        .dw()
        .args(["workflows", "show", &id, "--json"])
        .output()
        .unwrap();
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["status"], "failed");
    assert_eq!(shown["provider"], "duo");
    assert_eq!(shown["duo"]["workflow_id"], WORKFLOW_ID);
}
