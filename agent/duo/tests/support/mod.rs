//! The action script the fake service (`dw_test_support::duo`) replays in these tests, and the
//! client side that answers it with canned results.

use std::time::Duration;

use dw_duo::message::{
    EditFile, HttpResponse, NewCheckpoint, ReadFile, RunCommand, RunHttpRequest,
};
use dw_duo::{
    Action, ActionKind, ActionResponse, CheckpointStatus, ClientEvent, Heartbeats, Session,
};
use dw_test_support::duo::{FakeDuo, Step};
use serde_json::{Value, json};

pub const GITLAB_TOKEN: &str = "glpat-TOPSECRET-0123456789";
const UNKNOWN_ACTION: &str = r#"{"requestID":"6","scheduleNotification":{"task_id":"t1","condition":"{\"type\":\"timer\"}","message":"check CI"}}"#;

/// The actions the service sends, in order.
pub fn script() -> Vec<Action> {
    let action = |id: &str, kind| Action {
        request_id: id.to_owned(),
        kind,
    };
    let checkpoint = |status: &str| {
        ActionKind::NewCheckpoint(NewCheckpoint {
            status: status.to_owned(),
            checkpoint: r#"{"channel_values":{"ui_chat_log":[]}}"#.to_owned(),
            goal: "Fix the failing test".to_owned(),
            errors: Vec::new(),
        })
    };
    vec![
        action("1", checkpoint("RUNNING")),
        action(
            "2",
            ActionKind::RunReadFile(ReadFile {
                filepath: "src/lib.rs".into(),
                offset: None,
                limit: None,
            }),
        ),
        action(
            "3",
            ActionKind::RunEditFile(EditFile {
                filepath: "src/lib.rs".into(),
                old_string: "a + b".into(),
                new_string: "a - b".into(),
            }),
        ),
        action(
            "4",
            ActionKind::RunCommand(RunCommand {
                program: "cargo".into(),
                arguments: vec!["test".into()],
                flags: vec!["--quiet".into()],
                timeout: None,
            }),
        ),
        action(
            "5",
            ActionKind::RunHttpRequest(RunHttpRequest {
                method: "GET".into(),
                path: "/api/v4/projects/1/merge_requests/7".into(),
                body: None,
            }),
        ),
        Action::from_json(serde_json::from_str(UNKNOWN_ACTION).unwrap()).unwrap(),
        action("7", checkpoint("FINISHED")),
    ]
}

/// A fake GitLab and service replaying [`script`], with a heartbeat awaited before the final
/// checkpoint.
pub fn fakes() -> FakeDuo {
    let mut steps: Vec<Step> = script().into_iter().map(Step::Send).collect();
    steps.insert(steps.len() - 1, Step::Heartbeat);
    FakeDuo::builder(GITLAB_TOKEN).script(steps).start()
}

/// The client's canned answer to an action (what dw's executor would produce).
pub fn answer(action: &Action) -> ActionResponse {
    let id = action.request_id.clone();
    match &action.kind {
        ActionKind::RunReadFile(_) => {
            ActionResponse::text(id, "pub fn sub(a: i32, b: i32) -> i32 { a + b }\n")
        }
        ActionKind::RunEditFile(edit) => {
            ActionResponse::text(id, format!("edited {}", edit.filepath))
        }
        ActionKind::RunCommand(_) => ActionResponse::text(id, "test result: ok. 1 passed"),
        ActionKind::RunHttpRequest(_) => ActionResponse::http(
            id,
            HttpResponse {
                status_code: 200,
                headers: [("content-type".to_owned(), "application/json".to_owned())].into(),
                body: r#"{"iid":7,"title":"Fix subtraction"}"#.to_owned(),
                error: String::new(),
            },
        ),
        _ => ActionResponse::unsupported(action),
    }
}

/// The `actionResponse`s the service must receive, as JSON on the wire. `unknown_kind` is the
/// name the client can give the unknown action: gRPC decoding drops the unknown member.
pub fn expected_responses(unknown_kind: &str) -> Vec<Value> {
    let unsupported = format!(
        "dw cannot execute the action `{unknown_kind}`: this client does not support it; continue without it"
    );
    vec![
        json!({"actionResponse": {"requestID": "2", "plainTextResponse": {"response": "pub fn sub(a: i32, b: i32) -> i32 { a + b }\n", "error": ""}}}),
        json!({"actionResponse": {"requestID": "3", "plainTextResponse": {"response": "edited src/lib.rs", "error": ""}}}),
        json!({"actionResponse": {"requestID": "4", "plainTextResponse": {"response": "test result: ok. 1 passed", "error": ""}}}),
        json!({"actionResponse": {"requestID": "5", "httpResponse": {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{\"iid\":7,\"title\":\"Fix subtraction\"}", "error": ""}}}),
        json!({"actionResponse": {"requestID": "6", "plainTextResponse": {"response": "", "error": unsupported}}}),
    ]
}

/// The client side: answers every action, sends heartbeats, collects checkpoint statuses until
/// the service ends the session.
pub async fn drive(session: &mut impl Session) -> Vec<CheckpointStatus> {
    let mut heartbeats = Heartbeats::every(Duration::from_millis(20));
    let mut statuses = Vec::new();
    loop {
        tokio::select! {
            action = session.next() => {
                let Some(action) = action else { break };
                let action = action.unwrap();
                match &action.kind {
                    ActionKind::NewCheckpoint(checkpoint) => statuses.push(checkpoint.status()),
                    _ => session.send(ClientEvent::ActionResponse(answer(&action))).await.unwrap(),
                }
            }
            heartbeat = heartbeats.tick() => session.send(heartbeat).await.unwrap(),
        }
    }
    statuses
}
