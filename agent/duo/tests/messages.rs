//! The messages against JSON shaped as GitLab's contract says, both transports' forms.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use dw_duo::grpc::convert::client_event_from_proto;
use dw_duo::grpc::proto;
use dw_duo::message::{ActionResult, Approval, ReadFile, RunHttpRequest};
use dw_duo::{Action, ActionKind, ActionResponse, CheckpointStatus, ClientEvent};
use prost::Message as _;
use serde_json::{Value, json};

fn fixture(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn client_events_round_trip_through_json_and_protobuf() {
    for wire in fixture("client_events.json") {
        let event: ClientEvent = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            wire,
            "JSON round trip"
        );

        let encoded = proto::ClientEvent::from(event.clone()).encode_to_vec();
        let decoded =
            client_event_from_proto(proto::ClientEvent::decode(encoded.as_slice()).unwrap())
                .unwrap();
        assert_eq!(decoded, event, "protobuf round trip");
    }
}

#[test]
fn actions_round_trip_through_json_and_protobuf() {
    for wire in fixture("actions.json") {
        let action: Action = serde_json::from_value(wire.clone()).unwrap();
        assert!(
            !matches!(action.kind, ActionKind::Unknown(_)),
            "{wire} decoded as unknown"
        );
        assert_eq!(
            serde_json::to_value(&action).unwrap(),
            wire,
            "JSON round trip"
        );

        let encoded = proto::Action::from(action.clone()).encode_to_vec();
        let decoded = Action::from(proto::Action::decode(encoded.as_slice()).unwrap());
        assert_eq!(decoded, action, "protobuf round trip");
    }
}

#[test]
fn the_issue_examples_decode_to_the_expected_values() {
    let actions: Vec<Action> =
        serde_json::from_value(Value::Array(fixture("actions.json"))).unwrap();
    assert_eq!(
        actions[2].kind,
        ActionKind::RunReadFile(ReadFile {
            filepath: "src/lib.rs".into(),
            offset: Some(10),
            limit: Some(20)
        })
    );
    assert_eq!(
        actions[9].kind,
        ActionKind::RunHttpRequest(RunHttpRequest {
            method: "GET".into(),
            path: "/api/v4/projects/1/merge_requests/7".into(),
            body: None
        })
    );
    let ActionKind::NewCheckpoint(running) = &actions[0].kind else {
        panic!("not a checkpoint")
    };
    assert_eq!(running.status(), CheckpointStatus::Running);
    let log = running.ui_chat_log().unwrap();
    assert_eq!(
        (log[0].message_type.as_str(), log[0].content.as_str()),
        ("agent", "Reading the code")
    );
    let ActionKind::NewCheckpoint(approval) = &actions[16].kind else {
        panic!("not a checkpoint")
    };
    assert!(approval.status().needs_user() && !approval.status().is_terminal());
    assert!(!actions[0].kind.expects_response() && actions[1].kind.expects_response());

    let events: Vec<ClientEvent> =
        serde_json::from_value(Value::Array(fixture("client_events.json"))).unwrap();
    let ClientEvent::StartRequest(rejected) = &events[2] else {
        panic!("not a start request")
    };
    assert_eq!(
        rejected.approval,
        Some(Approval::reject(
            "Do not push; open a draft merge request instead"
        ))
    );
}

#[test]
fn protobuf_json_quirks_are_accepted() {
    // What Go's protojson writes: int64 as strings, default values left out, and for
    // contracts without explicit json_name the lowerCamelCase names.
    let action: Action = serde_json::from_value(json!({
        "requestID": "1",
        "runReadFile": {"filepath": "a.rs", "offset": "3", "limit": "4"}
    }))
    .unwrap();
    assert_eq!(
        action.kind,
        ActionKind::RunReadFile(ReadFile {
            filepath: "a.rs".into(),
            offset: Some(3),
            limit: Some(4)
        })
    );

    let grep: Action = serde_json::from_value(
        json!({"requestID": "2", "grep": {"searchDirectory": "src", "pattern": "x"}}),
    )
    .unwrap();
    let ActionKind::Grep(grep) = grep.kind else {
        panic!("not grep")
    };
    assert_eq!(
        (grep.search_directory.as_str(), grep.case_insensitive),
        ("src", false)
    );

    let heartbeat: ClientEvent =
        serde_json::from_value(json!({"heartbeat": {"timestamp": "1767225600000"}})).unwrap();
    assert_eq!(
        heartbeat,
        ClientEvent::Heartbeat(dw_duo::message::Heartbeat {
            timestamp: 1_767_225_600_000
        })
    );

    let checkpoint: Action =
        serde_json::from_value(json!({"requestID": "3", "newCheckpoint": {}})).unwrap();
    let ActionKind::NewCheckpoint(checkpoint) = checkpoint.kind else {
        panic!("not a checkpoint")
    };
    assert!(checkpoint.ui_chat_log().unwrap().is_empty());
    assert_eq!(
        CheckpointStatus::parse("tool_call_approval_required"),
        CheckpointStatus::ToolCallApprovalRequired
    );
    assert_eq!(CheckpointStatus::parse("PAUSED").as_str(), "PAUSED");
}

#[test]
fn unknown_or_unreadable_action_kinds_decode_and_get_an_error_answer() {
    let wire = json!({
        "requestID": "99",
        "scheduleNotification": {"task_id": "t", "condition": "{}", "message": "later"}
    });
    let action: Action = serde_json::from_value(wire.clone()).unwrap();
    assert_eq!(action.request_id, "99");
    assert_eq!(action.kind, ActionKind::Unknown(wire.clone()));
    assert_eq!(action.kind.name(), "scheduleNotification");
    assert_eq!(
        serde_json::to_value(&action).unwrap(),
        wire,
        "the raw JSON is kept"
    );

    let unreadable: Action =
        serde_json::from_value(json!({"requestID": "100", "runReadFile": {"filepath": 7}}))
            .unwrap();
    assert!(matches!(unreadable.kind, ActionKind::Unknown(_)));

    let answer = serde_json::to_value(ClientEvent::ActionResponse(ActionResponse::unsupported(
        &action,
    )))
    .unwrap();
    assert_eq!(answer["actionResponse"]["requestID"], "99");
    assert_eq!(
        answer["actionResponse"]["plainTextResponse"]["response"],
        ""
    );
    let error = answer["actionResponse"]["plainTextResponse"]["error"]
        .as_str()
        .unwrap();
    assert!(error.contains("scheduleNotification"), "{error}");
}

/// An upstream `Action` with a oneof member this subset does not list (field 17,
/// `scheduleNotification`), hand-encoded the way the real service sends it.
#[derive(Clone, PartialEq, prost::Message)]
struct UpstreamAction {
    #[prost(string, tag = "1")]
    request_id: String,
    #[prost(message, optional, tag = "17")]
    schedule_notification: Option<UpstreamScheduleNotification>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct UpstreamScheduleNotification {
    #[prost(string, tag = "1")]
    task_id: String,
}

#[test]
fn an_unknown_protobuf_action_kind_becomes_unknown_with_its_request_id() {
    let upstream = UpstreamAction {
        request_id: "7".into(),
        schedule_notification: Some(UpstreamScheduleNotification {
            task_id: "t".into(),
        }),
    };
    let decoded = proto::Action::decode(upstream.encode_to_vec().as_slice()).unwrap();
    assert_eq!(decoded.action, None);
    let action = Action::from(decoded);
    assert_eq!(action.request_id, "7");
    assert_eq!(action.kind, ActionKind::Unknown(json!({"requestID": "7"})));
    let answer = ActionResponse::unsupported(&action);
    assert!(matches!(answer.result, ActionResult::PlainText(ref text) if !text.error.is_empty()));
}

#[test]
fn a_checkpoint_carries_the_plan_and_the_tool_calls_to_approve() {
    let checkpoint = dw_duo::message::NewCheckpoint {
        status: "TOOL_CALL_APPROVAL_REQUIRED".into(),
        checkpoint: json!({"channel_values": {
            "plan": {"steps": [{"id": "task-0", "description": "Run the tests", "status": "In Progress"}]},
            "ui_chat_log": [
                {"message_type": "agent", "content": "Running the tests", "timestamp": null, "status": null, "tool_info": null},
                {"message_type": "request", "content": "Run command: cargo test", "timestamp": null, "status": "success",
                 "tool_info": {"name": "run_command", "args": {"program": "cargo", "args": "test"}}}
            ]
        }})
        .to_string(),
        ..Default::default()
    };
    let plan = checkpoint.plan().unwrap();
    assert_eq!(
        (plan[0].description.as_str(), plan[0].status.as_str()),
        ("Run the tests", "In Progress")
    );
    let log = checkpoint.ui_chat_log().unwrap();
    assert!(log[0].is_for_the_user() && log[0].requested_tool().is_none());
    let requested = log[1].requested_tool().unwrap();
    assert_eq!(requested.name, "run_command");
    assert_eq!(requested.args, json!({"program": "cargo", "args": "test"}));
    let empty = dw_duo::message::NewCheckpoint::default();
    assert!(empty.plan().unwrap().is_empty());
}
