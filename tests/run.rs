#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `dw run` and `dw workflows` end to end: the real binary, the real engine and sandbox, and
//! local servers that speak the Anthropic, OpenAI and GitLab wire formats.
//!
//! Each test has its own state directory (`DW_STATE_DIR`) and home; the sandbox containers of
//! every workflow found there are removed when the test ends, also when it fails.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use dw_test_support::agent::dw_agent_binary;
use dw_test_support::gitlab::{FakeGitLab, Recorded, Reply};
use dw_test_support::workflow::{World, explain, image, json_lines, of_type};
use serde_json::{Value, json};

const ANTHROPIC_KEY: &str = "sk-ant-api03-RunTestKeyRunTestKey0123456789";
const OPENAI_KEY: &str = "sk-proj-RunTestKeyRunTestKey0123456789";
const GITLAB_TOKEN: &str = "glpat-RunTestToken0123456789";
/// The value of `API_SECRET` in the project's `.env`.
const ENV_SECRET: &str = "s3cr3t-from-the-dotenv-file";

fn world() -> World {
    World::new(env!("CARGO_BIN_EXE_dw"))
}

/// The number of assistant turns in a request's conversation: which turn the model is asked for.
fn turn(messages: &Value) -> usize {
    messages
        .as_array()
        .unwrap()
        .iter()
        .filter(|message| message["role"] == "assistant")
        .count()
}

/// A project with a typo, a test that fails until it is fixed, and a credential file.
fn typo_project(world: &World) {
    world.file("greeting.txt", "hello wrold\n");
    world.file(
        "test.sh",
        "grep -q 'hello world' greeting.txt && echo 'tests passed'\n",
    );
    world.file(".env", &format!("API_SECRET={ENV_SECRET}\n"));
    // A copy of the secret where the sandbox can read it: what a command prints must be
    // redacted before the model sees it.
    world.file("notes.txt", &format!("deploy with {ENV_SECRET}\n"));
}

fn anthropic_turn(text: &str, calls: &[(&str, &str, Value)]) -> Value {
    let mut content: Vec<Value> = Vec::new();
    if !text.is_empty() {
        content.push(json!({"type": "text", "text": text}));
    }
    for (id, name, input) in calls {
        content.push(json!({"type": "tool_use", "id": id, "name": name, "input": input}));
    }
    json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-test",
        "content": content,
        "stop_reason": if calls.is_empty() { "end_turn" } else { "tool_use" },
        "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 10}
    })
}

#[test]
fn an_anthropic_workflow_reads_edits_tests_and_finishes() {
    let world = world();
    typo_project(&world);
    let turns = [
        anthropic_turn(
            "Let me look at the greeting.",
            &[("toolu_1", "read_file", json!({"path": "greeting.txt"}))],
        ),
        anthropic_turn(
            "",
            &[(
                "toolu_2",
                "create_plan",
                json!({"steps": [{"title": "Fix the typo"}, {"title": "Run the tests"}]}),
            )],
        ),
        anthropic_turn(
            "",
            &[
                (
                    "toolu_3",
                    "update_plan",
                    json!({"step": 1, "status": "in_progress"}),
                ),
                (
                    "toolu_4",
                    "edit_file",
                    json!({"path": "greeting.txt", "old": "wrold", "new": "world"}),
                ),
            ],
        ),
        anthropic_turn(
            "",
            &[(
                "toolu_5",
                "run_command",
                json!({"program": "bash", "args": ["-c", "cat notes.txt; bash test.sh"]}),
            )],
        ),
        anthropic_turn(
            "",
            &[(
                "toolu_6",
                "finish",
                json!({"summary": "Fixed the typo; the tests pass."}),
            )],
        ),
    ];
    let throttled = Arc::new(AtomicBool::new(false));
    let server = {
        let throttled = Arc::clone(&throttled);
        FakeGitLab::builder()
            .route_with("POST", "/v1/messages", move |request: &Recorded| {
                if !throttled.swap(true, Ordering::SeqCst) {
                    return Reply::json(
                        429,
                        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Number of requests has exceeded your rate limit"}}),
                    )
                    .header("retry-after", "1");
                }
                let body = request.json();
                Reply::ok(turns[turn(&body["messages"])].clone())
            })
            .start()
    };

    let output = world
        .run("Fix the typo in greeting.txt", &["--yes", "--json"])
        .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        .env("ANTHROPIC_BASE_URL", server.url())
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    assert_eq!(
        std::fs::read_to_string(world.project.join("greeting.txt")).unwrap(),
        "hello world\n"
    );
    let records = json_lines(&output);
    assert_eq!(
        records.last().unwrap(),
        &json!({"ts": records.last().unwrap()["ts"], "type": "status", "status": "finished", "summary": "Fixed the typo; the tests pass."})
    );
    let results = of_type(&records, "tool_result");
    let test_run = results
        .iter()
        .find(|result| result["tool"] == "run_command")
        .unwrap();
    assert_eq!(test_run["ok"], true);
    let test_output = test_run["output"].as_str().unwrap();
    assert!(test_output.starts_with("exit code 0"), "{test_output}");
    assert!(test_output.contains("tests passed"), "{test_output}");
    assert!(
        test_output.contains("deploy with [REDACTED]"),
        "{test_output}"
    );

    // What dw sent: the key and version headers, the tools with their schemas, and every
    // tool_result paired with the tool_use before it.
    let requests = server.requests();
    assert_eq!(requests.len(), 6, "one 429, then five turns");
    for request in &requests {
        assert_eq!(request.header("x-api-key"), Some(ANTHROPIC_KEY));
        assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    }
    let first = requests[1].json();
    let tools: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    for expected in [
        "read_file",
        "write_file",
        "edit_file",
        "list_dir",
        "find_files",
        "grep",
        "mkdir",
        "run_command",
        "git",
        "create_plan",
        "update_plan",
        "ask_user",
        "finish",
    ] {
        assert!(
            tools.contains(&expected),
            "{expected} missing from {tools:?}"
        );
    }
    assert!(!tools.iter().any(|tool| tool.starts_with("gitlab_")));
    let read_file = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tool| tool["name"] == "read_file")
        .unwrap();
    assert_eq!(read_file["input_schema"]["required"], json!(["path"]));
    assert_eq!(
        first["messages"][0]["content"][0]["text"],
        "Goal: Fix the typo in greeting.txt"
    );
    let last = requests[5].json();
    let messages = last["messages"].as_array().unwrap();
    for (index, message) in messages.iter().enumerate() {
        if message["role"] != "assistant" {
            continue;
        }
        let uses: Vec<&Value> = message["content"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|block| block["type"] == "tool_use")
            .map(|block| &block["id"])
            .collect();
        let answers: Vec<&Value> = messages[index + 1]["content"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|block| block["type"] == "tool_result")
            .map(|block| &block["tool_use_id"])
            .collect();
        assert_eq!(uses, answers, "tool results answer the tool uses in order");
    }
    let sent = serde_json::to_string(&last).unwrap();
    assert!(sent.contains("deploy with [REDACTED]"));
    assert!(
        !sent.contains(ENV_SECRET),
        "the .env value reached the model"
    );

    // The audit log: the 429 and its retry after the server's one second, the executor actions.
    let id = world.only_workflow();
    let audit = world.audit(&id);
    let http: Vec<&Value> = audit.iter().filter(|line| line["kind"] == "http").collect();
    assert_eq!(http.len(), 6);
    assert_eq!(http[0]["status"], 429);
    assert_eq!(http[0]["retry_in_ms"], 1000.0);
    assert_eq!(http[1]["attempt"], 2);
    assert!(http.iter().all(|line| line["service"] == "anthropic"
        && line["method"] == "POST"
        && line["url"] == format!("{}/v1/messages", server.url())));
    let ops: Vec<&str> = audit
        .iter()
        .filter(|line| line["kind"] == "executor")
        .map(|line| line["op"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        ["start_sandbox", "read_file", "edit_file", "run_command"]
    );
    let state = world.state_text();
    assert!(
        !state.contains(ANTHROPIC_KEY),
        "the key reached the state directory"
    );
    assert!(
        !state.contains(ENV_SECRET),
        "the .env value reached the state directory"
    );
    assert!(world.containers(&id).is_empty(), "the sandbox was removed");
}

#[test]
fn an_openai_compatible_server_gets_tool_calls_answered_by_tool_messages() {
    let world = world();
    typo_project(&world);
    let call = |id: &str, name: &str, arguments: Value| json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments.to_string()}});
    let turns = [
        json!({"role": "assistant", "content": null, "tool_calls": [
            call("call_1", "create_plan", json!({"steps": [{"title": "Fix the typo"}]}))
        ]}),
        json!({"role": "assistant", "content": "Fixing it.", "tool_calls": [
            call("call_2", "edit_file", json!({"path": "greeting.txt", "old": "wrold", "new": "world"})),
            call("call_3", "run_command", json!({"program": "bash", "args": ["test.sh"]}))
        ]}),
        json!({"role": "assistant", "content": "Fixed the typo; the tests pass."}),
    ];
    let server = FakeGitLab::builder()
        .route_with("POST", "/v1/chat/completions", move |request: &Recorded| {
            let body = request.json();
            let message = turns[turn(&body["messages"])].clone();
            let finish = if message.get("tool_calls").is_some() {
                "tool_calls"
            } else {
                "stop"
            };
            Reply::ok(json!({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "local",
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
            }))
        })
        .start();

    let output = world
        .run(
            "Fix the typo",
            &[
                "--provider",
                "openai",
                "--model",
                "local-model",
                "--yes",
                "--json",
            ],
        )
        .env("OPENAI_API_KEY", OPENAI_KEY)
        .env("OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    assert_eq!(
        std::fs::read_to_string(world.project.join("greeting.txt")).unwrap(),
        "hello world\n"
    );
    let records = json_lines(&output);
    assert_eq!(
        records.last().unwrap()["summary"],
        "Fixed the typo; the tests pass."
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    let last = requests[2].json();
    assert_eq!(last["model"], "local-model");
    assert_eq!(last["messages"][0]["role"], "system");
    let tool_messages: Vec<(&str, &str)> = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|message| message["role"] == "tool")
        .map(|message| {
            (
                message["tool_call_id"].as_str().unwrap(),
                message["content"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(tool_messages.len(), 3);
    assert_eq!(tool_messages[0].0, "call_1");
    assert!(tool_messages[0].1.contains("approved"));
    assert_eq!(
        tool_messages[1],
        ("call_2", "Replaced 1 occurrence in greeting.txt.")
    );
    assert_eq!(tool_messages[2].0, "call_3");
    assert!(tool_messages[2].1.starts_with("exit code 0"));
    assert!(!world.state_text().contains(OPENAI_KEY));
}

#[test]
fn nothing_changes_before_the_plan_is_approved_and_max_steps_fails_the_workflow() {
    let world = world();
    world.file("a.txt", "one\n");
    let script = world.script(&[
        json!({"tool_calls": [{"name": "write_file", "input": {"path": "a.txt", "content": "changed\n"}}]}),
        json!({"tool_calls": [{"name": "list_dir", "input": {}}]}),
        json!({"tool_calls": [{"name": "list_dir", "input": {}}]}),
        json!({"text": "never reached"}),
    ]);
    let output = world
        .run(
            "Change a.txt",
            &[
                "--script",
                script.to_str().unwrap(),
                "--yes",
                "--json",
                "--max-steps",
                "3",
            ],
        )
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1), "{}", explain(&output));
    assert_eq!(
        std::fs::read_to_string(world.project.join("a.txt")).unwrap(),
        "one\n"
    );
    let records = json_lines(&output);
    let write = of_type(&records, "tool_result")[0];
    assert_eq!(write["ok"], false);
    assert!(
        write["output"].as_str().unwrap().contains("not approved"),
        "{write}"
    );
    let last = records.last().unwrap();
    assert_eq!(last["status"], "failed");
    assert!(
        last["reason"].as_str().unwrap().contains("step limit (3"),
        "{last}"
    );
    let statuses: Vec<&str> = of_type(&records, "status")
        .iter()
        .map(|record| record["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["planning", "failed"]);
}

#[test]
fn the_plan_is_adjusted_at_the_terminal_then_approved() {
    let world = world();
    world.file("a.txt", "one\n");
    let script = world.script(&[
        json!({"tool_calls": [{"name": "create_plan", "input": {"steps": [{"title": "Edit a.txt"}]}}]}),
        json!({"text": "Revised.", "tool_calls": [{"name": "create_plan", "input": {"steps": [{"title": "Edit a.txt"}, {"title": "Add b.txt"}]}}]}),
        json!({"tool_calls": [{"name": "write_file", "input": {"path": "b.txt", "content": "two\n"}}, {"name": "finish", "input": {"summary": "Done."}}]}),
    ]);
    let command = format!(
        "{} run 'Edit a.txt' --workspace {} --image {} --script {}",
        env!("CARGO_BIN_EXE_dw"),
        world.project.display(),
        image(),
        script.display()
    );
    let mut terminal = world.home.command("/usr/bin/script");
    terminal
        .args(["-qfec", &command, "/dev/null"])
        .env("DW_STATE_DIR", &world.state)
        .env("DW_AGENT", dw_agent_binary())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut running = terminal.spawn().unwrap();
    running
        .stdin
        .take()
        .unwrap()
        .write_all(b"a\nAlso add b.txt with the word two\ny\n")
        .unwrap();
    let output = running.wait_with_output().unwrap();

    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(screen.contains("Approve this plan?"), "{screen}");
    assert!(screen.contains("What should change?"), "{screen}");
    assert!(screen.contains("[ ] 2. Add b.txt"), "{screen}");
    assert_eq!(
        std::fs::read_to_string(world.project.join("b.txt")).unwrap(),
        "two\n"
    );
    let id = world.only_workflow();
    let events = world.events(&id);
    let inputs = of_type(&events, "input");
    assert_eq!(
        inputs,
        [
            &json!({"ts": inputs[0]["ts"], "type": "input", "kind": "adjust", "text": "Also add b.txt with the word two"})
        ]
    );
    // The model was told what to change, as the result of its first create_plan.
    let told = of_type(&events, "tool_result")[0]["output"]
        .as_str()
        .unwrap();
    assert!(
        told.contains("asks for changes:\nAlso add b.txt with the word two"),
        "{told}"
    );
    let statuses: Vec<&str> = of_type(&events, "status")
        .iter()
        .map(|record| record["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "planning",
            "plan_approval_required",
            "planning",
            "plan_approval_required",
            "running",
            "finished"
        ]
    );
}

#[test]
fn the_gitlab_tools_only_ever_read() {
    let world = world();
    let project = "group/app";
    let encoded = "group%2Fapp";
    let gitlab = FakeGitLab::builder()
        .token(GITLAB_TOKEN)
        .route(
            "GET",
            &format!("/api/v4/projects/{encoded}"),
            Reply::ok(json!({"id": 7, "path_with_namespace": project, "default_branch": "main"})),
        )
        .route(
            "GET",
            &format!("/api/v4/projects/{encoded}/merge_requests/5"),
            Reply::ok(json!({"id": 50, "iid": 5, "project_id": 7, "title": "Fix the parser", "state": "opened", "source_branch": "fix", "target_branch": "main"})),
        )
        .route(
            "GET",
            &format!("/api/v4/projects/{encoded}/merge_requests/5/diffs"),
            Reply::ok(json!([{"old_path": "src/parse.rs", "new_path": "src/parse.rs", "diff": "@@ -1 +1 @@\n-a\n+b\n", "new_file": false, "renamed_file": false, "deleted_file": false}])),
        )
        .route(
            "GET",
            &format!("/api/v4/projects/{encoded}/merge_requests/5/pipelines"),
            Reply::ok(json!([{"id": 77, "iid": 12, "project_id": 7, "sha": "abc", "ref": "fix", "status": "failed"}])),
        )
        .route(
            "GET",
            &format!("/api/v4/projects/{encoded}/pipelines/77/jobs"),
            Reply::ok(json!([{"id": 901, "name": "test", "stage": "test", "status": "failed"}])),
        )
        .route_with(
            "GET",
            &format!("/api/v4/projects/{encoded}/jobs/901/trace"),
            |_| Reply::ok(json!("error[E0308]: mismatched types")),
        )
        .start();
    let script = world.script(&[
        json!({"tool_calls": [
            {"name": "gitlab_get_project", "input": {}},
            {"name": "gitlab_get_merge_request", "input": {}},
            {"name": "gitlab_get_merge_request_diffs", "input": {"merge_request_iid": 5}},
            {"name": "gitlab_list_merge_request_pipelines", "input": {}},
            {"name": "gitlab_get_pipeline_failed_jobs", "input": {"pipeline_id": 77}},
            {"name": "gitlab_get_job_log", "input": {"job_id": 901}}
        ]}),
        json!({"text": "The parser has a type error."}),
    ]);
    let output = world
        .run(
            "Why does the pipeline of !5 fail?",
            &[
                "--script",
                script.to_str().unwrap(),
                "--gitlab-project",
                project,
                "--gitlab-url",
                gitlab.url(),
                "--mr",
                "5",
                "--yes",
                "--json",
            ],
        )
        .env("GITLAB_TOKEN", GITLAB_TOKEN)
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    let records = json_lines(&output);
    let results = of_type(&records, "tool_result");
    assert_eq!(results.len(), 6);
    for result in &results {
        assert_eq!(result["ok"], true, "{result}");
    }
    assert!(
        results[1]["output"]
            .as_str()
            .unwrap()
            .contains("Fix the parser")
    );
    assert!(
        results[4]["output"]
            .as_str()
            .unwrap()
            .contains("\"id\": 901")
    );
    assert!(
        results[5]["output"]
            .as_str()
            .unwrap()
            .contains("mismatched types")
    );
    let requests = gitlab.requests();
    assert_eq!(requests.len(), 6);
    for request in &requests {
        assert_eq!(request.method, "GET", "{request:?}");
        assert_eq!(request.header("private-token"), Some(GITLAB_TOKEN));
    }
    assert!(
        requests[4]
            .query
            .as_deref()
            .unwrap_or_default()
            .contains("scope%5B%5D=failed"),
        "{:?}",
        requests[4]
    );
    let id = world.only_workflow();
    let gitlab_audit: Vec<Value> = world
        .audit(&id)
        .into_iter()
        .filter(|line| line["service"] == "gitlab")
        .collect();
    assert_eq!(gitlab_audit.len(), 6);
    assert!(
        gitlab_audit
            .iter()
            .all(|line| line["method"] == "GET" && line["status"] == 200)
    );
    assert!(!world.state_text().contains(GITLAB_TOKEN));
}

#[test]
fn a_goal_with_a_token_is_refused_and_nothing_is_created() {
    let world = world();
    let script = world.script(&[json!({"text": "done"})]);
    let output = world
        .run(
            &format!("use {GITLAB_TOKEN} to push the fix"),
            &["--script", script.to_str().unwrap(), "--yes"],
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the goal was refused"), "{stderr}");
    assert!(stderr.contains("a GitLab token"), "{stderr}");
    assert!(!stderr.contains(GITLAB_TOKEN), "{stderr}");
    assert!(world.workflow_ids().is_empty());

    world.file(".env", &format!("API_SECRET={ENV_SECRET}\n"));
    let output = world
        .run(
            &format!("the password is {ENV_SECRET}"),
            &["--script", script.to_str().unwrap(), "--yes"],
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    assert!(world.workflow_ids().is_empty());
}

/// Starts `dw run --json` with a script whose second turn runs a command that blocks, and
/// reads its output until that command is running in the sandbox.
fn run_until_blocked(world: &World) -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    let script = world.script(&[
        json!({"tool_calls": [{"name": "create_plan", "input": {"steps": [{"title": "Wait"}]}}]}),
        json!({"tool_calls": [{"name": "run_command", "input": {"program": "sleep", "args": ["600"]}}]}),
        json!({"tool_calls": [{"name": "write_file", "input": {"path": "after.txt", "content": "resumed\n"}}]}),
        json!({"tool_calls": [{"name": "finish", "input": {"summary": "Went on after the interruption."}}]}),
    ]);
    let mut child = world
        .run(
            "Wait a while",
            &["--script", script.to_str().unwrap(), "--yes", "--json"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "dw ended before the command ran"
        );
        let record: Value = serde_json::from_str(&line).unwrap();
        if record["type"] == "tool_call" && record["tool"] == "run_command" {
            break;
        }
    }
    (child, stdout)
}

#[test]
fn a_killed_run_resumes_from_its_events_and_its_sandbox_is_reaped() {
    let world = world();
    let (mut child, _stdout) = run_until_blocked(&world);
    let id = world.only_workflow();
    assert_eq!(world.containers(&id).len(), 1);
    child.kill().unwrap(); // SIGKILL: no clean-up of any kind
    child.wait().unwrap();

    let listed = world
        .dw()
        .args(["workflows", "list", "--json"])
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["status"], "running");
    assert_eq!(listed[0]["running"], false);

    let output = world
        .dw()
        .args(["workflows", "resume", &id, "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    let records = json_lines(&output);
    let interrupted = of_type(&records, "tool_result")[0];
    assert_eq!(interrupted["tool"], "run_command");
    assert_eq!(interrupted["ok"], false);
    assert!(
        interrupted["output"]
            .as_str()
            .unwrap()
            .starts_with("interrupted"),
        "{interrupted}"
    );
    assert_eq!(records.last().unwrap()["status"], "finished");
    assert_eq!(
        std::fs::read_to_string(world.project.join("after.txt")).unwrap(),
        "resumed\n"
    );
    assert!(
        world.containers(&id).is_empty(),
        "the killed run's sandbox and the resumed one are gone"
    );
    // Finished workflows stay finished.
    let again = world
        .dw()
        .args(["workflows", "resume", &id])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2), "{}", explain(&again));
}

#[test]
fn workflows_stop_from_another_process_stops_a_running_workflow() {
    let world = world();
    let (child, stdout) = run_until_blocked(&world);
    let id = world.only_workflow();
    let follow = world
        .dw()
        .args(["workflows", "logs", &id, "--follow"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();

    let stop = world
        .dw()
        .args(["workflows", "stop", &id, "--json"])
        .output()
        .unwrap();
    assert_eq!(stop.status.code(), Some(0), "{}", explain(&stop));
    assert_eq!(
        serde_json::from_slice::<Value>(&stop.stdout).unwrap(),
        json!({"id": id, "status": "stopped"})
    );

    let rest: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(&line.unwrap()).unwrap())
        .collect();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", explain(&output));
    let last = rest.last().unwrap();
    assert_eq!(last["status"], "stopped", "{rest:?}");
    assert!(!world.project.join("after.txt").exists());
    assert!(world.containers(&id).is_empty());

    let show = world
        .dw()
        .args(["workflows", "show", &id, "--json"])
        .output()
        .unwrap();
    let show: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(show["status"], "stopped");
    assert_eq!(show["running"], false);
    assert_eq!(
        show["plan"],
        json!([{"title": "Wait", "status": "pending"}])
    );

    // `logs --follow` printed the actions as they came and ended with the workflow.
    let followed = follow.wait_with_output().unwrap();
    let followed = String::from_utf8_lossy(&followed.stdout);
    assert!(followed.contains("start_sandbox"), "{followed}");
    assert!(
        followed.contains("run_command  sleep 600 interrupted"),
        "{followed}"
    );
}

#[test]
fn ctrl_c_pauses_after_the_current_action_and_resume_takes_an_adjustment() {
    let world = world();
    let script = world.script(&[
        json!({"tool_calls": [{"name": "create_plan", "input": {"steps": [{"title": "Wait for go"}]}}]}),
        json!({"tool_calls": [{"name": "run_command", "input": {"program": "bash", "args": ["-c", "while [ ! -e go ]; do sleep 0.05; done; echo released"]}}]}),
        json!({"tool_calls": [{"name": "write_file", "input": {"path": "after.txt", "content": "resumed\n"}}]}),
        json!({"tool_calls": [{"name": "finish", "input": {"summary": "Done after the pause."}}]}),
    ]);
    let mut child = world
        .run(
            "Wait for go",
            &["--script", script.to_str().unwrap(), "--yes", "--json"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut records = Vec::new();
    let mut line = String::new();
    while !records
        .iter()
        .any(|record: &Value| record["type"] == "tool_call" && record["tool"] == "run_command")
    {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "dw ended early");
        records.push(serde_json::from_str(&line).unwrap());
    }
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no pause notice");
        if line.contains("Pausing after the current action") {
            break;
        }
    }
    // The action in flight goes on to its end: release it.
    std::fs::write(world.project.join("go"), "").unwrap();
    let status = child.wait().unwrap();
    records.extend(
        stdout
            .lines()
            .map(|line| serde_json::from_str::<Value>(&line.unwrap()).unwrap()),
    );
    assert_eq!(status.code(), Some(1), "{records:?}");
    let command = of_type(&records, "tool_result")
        .into_iter()
        .find(|result| result["tool"] == "run_command")
        .unwrap();
    assert_eq!(command["ok"], true, "{command}");
    assert!(command["output"].as_str().unwrap().contains("released"));
    let last = records.last().unwrap();
    assert_eq!(last["status"], "paused", "{last}");
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .contains("dw workflows resume")
    );
    assert!(!world.project.join("after.txt").exists());

    let id = world.only_workflow();
    let resumed = world
        .dw()
        .args([
            "workflows",
            "resume",
            &id,
            "--message",
            "Keep it short",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(resumed.status.code(), Some(0), "{}", explain(&resumed));
    assert_eq!(json_lines(&resumed).last().unwrap()["status"], "finished");
    assert!(world.project.join("after.txt").exists());
    let events = world.events(&id);
    let told = events.iter().any(|event| {
        event["type"] == "conversation"
            && event["message"]["role"] == "user"
            && event["message"]["text"]
                .as_str()
                .is_some_and(|text| text.contains("Keep it short"))
    });
    assert!(told, "the adjustment reached the model's conversation");
    assert_eq!(of_type(&events, "input").len(), 1);
}

#[test]
fn a_question_waits_for_an_answer_given_on_resume() {
    let world = world();
    let script = world.script(&[
        json!({"tool_calls": [{"name": "create_plan", "input": {"steps": [{"title": "Ask"}]}}]}),
        json!({"tool_calls": [{"name": "ask_user", "input": {"question": "Which port should the server use?"}}]}),
        json!({"tool_calls": [{"name": "finish", "input": {"summary": "Configured."}}]}),
    ]);
    let output = world
        .run(
            "Configure the server",
            &["--script", script.to_str().unwrap(), "--yes", "--json"],
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", explain(&output));
    let records = json_lines(&output);
    assert_eq!(records.last().unwrap()["status"], "input_required");
    let id = world.only_workflow();

    let output = world
        .dw()
        .args(["workflows", "resume", &id, "--message", "8080", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    let records = json_lines(&output);
    let answer = of_type(&records, "tool_result")
        .into_iter()
        .find(|result| result["tool"] == "ask_user")
        .unwrap();
    assert_eq!(answer["output"], "8080");
    assert_eq!(records.last().unwrap()["status"], "finished");
    let inputs = of_type(&world.events(&id), "input")
        .into_iter()
        .map(|input| (input["kind"].clone(), input["text"].clone()))
        .collect::<Vec<_>>();
    assert_eq!(inputs, [(json!("answer"), json!("8080"))]);
}
