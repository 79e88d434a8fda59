//! Whole sessions against a fake GitLab and a fake Duo Workflow Service on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use dw_duo::{
    CheckpointStatus, GitLab, GrpcTarget, NewWorkflow, Retry, Session, StartRequest, Target, Token,
    WebSocketTarget, connect,
};
use dw_test_support::duo::{RAILS_TOKEN, SERVICE_TOKEN, WORKFLOW_ID};
use serde_json::json;
use support::{GITLAB_TOKEN, expected_responses, fakes};

fn new_workflow() -> NewWorkflow {
    NewWorkflow {
        goal: "Fix the failing test".into(),
        workflow_definition: "software_development".into(),
        environment: "ide".into(),
        project_id: "1".into(),
        allow_agent_to_request_user: true,
        ..NewWorkflow::default()
    }
}

fn start_request(workflow_id: u64) -> StartRequest {
    StartRequest {
        client_capabilities: vec!["shell_command".into()],
        ..StartRequest::new(
            workflow_id.to_string(),
            "software_development",
            "Fix the failing test",
        )
    }
}

#[tokio::test]
async fn a_websocket_session_creates_the_workflow_and_answers_every_action() {
    let fakes = fakes();
    let gitlab = GitLab::new(fakes.url(), Token::new(GITLAB_TOKEN)).unwrap();
    let workflow = gitlab.create_workflow(&new_workflow()).await.unwrap();
    assert_eq!(workflow.id, WORKFLOW_ID);

    let target = WebSocketTarget {
        request_id: Some("req-corr-1".into()),
        user_selected_model_identifier: Some("claude_sonnet".into()),
        ..WebSocketTarget::new(&gitlab)
    };
    let mut session = connect(&Target::WebSocket(target), start_request(workflow.id))
        .await
        .unwrap();
    let statuses = support::drive(&mut session).await;
    assert_eq!(
        statuses,
        [CheckpointStatus::Running, CheckpointStatus::Finished]
    );

    let seen = fakes.seen();
    let played = &seen.sessions[0];
    assert_eq!(played.responses, expected_responses("scheduleNotification"));
    assert!(played.heartbeats >= 1);
    assert_eq!(played.start["startRequest"]["workflowID"], "42");
    assert_eq!(
        played.start["startRequest"]["clientCapabilities"],
        json!(["shell_command"])
    );
    assert_eq!(
        seen.created,
        [json!({
            "goal": "Fix the failing test",
            "workflow_definition": "software_development",
            "environment": "ide",
            "project_id": "1",
            "allow_agent_to_request_user": true
        })]
    );
    assert_eq!(
        played.header("authorization"),
        Some(format!("Bearer {GITLAB_TOKEN}").as_str())
    );
    assert_eq!(played.header("origin"), Some(fakes.url()));
    assert_eq!(played.header("x-request-id"), Some("req-corr-1"));
    assert_eq!(
        played.query,
        [(
            "user_selected_model_identifier".to_owned(),
            "claude_sonnet".to_owned()
        )]
    );
}

#[tokio::test]
async fn a_grpc_session_uses_direct_access_and_answers_every_action() {
    let fakes = fakes();
    let gitlab = GitLab::new(fakes.url(), Token::new(GITLAB_TOKEN)).unwrap();
    let workflow = gitlab.create_workflow(&new_workflow()).await.unwrap();
    let access = gitlab.direct_access().await.unwrap();
    let target = GrpcTarget::from_direct_access(&access.duo_workflow_service);
    assert!(
        target.url.starts_with("http://127.0.0.1:"),
        "{}",
        target.url
    );

    let mut session = connect(&Target::Grpc(target), start_request(workflow.id))
        .await
        .unwrap();
    let statuses = support::drive(&mut session).await;
    assert_eq!(
        statuses,
        [CheckpointStatus::Running, CheckpointStatus::Finished]
    );

    let played = &fakes.sessions()[0];
    assert_eq!(played.responses, expected_responses("unknown"));
    assert!(played.heartbeats >= 1);
    assert_eq!(played.start["startRequest"]["workflowID"], "42");
    assert_eq!(
        played.header("authorization"),
        Some(format!("Bearer {SERVICE_TOKEN}").as_str())
    );
    assert_eq!(played.header("x-gitlab-authentication-type"), Some("oidc"));
    assert_eq!(
        played.header("x-gitlab-instance-id"),
        Some("ea8bf810-1d6f-4a6a-b4fd-93e8cbd8b57f")
    );
    assert_eq!(played.header("x-gitlab-realm"), Some("self-managed"));
}

#[tokio::test]
async fn tokens_never_appear_in_debug_output_or_errors() {
    let fakes = fakes();
    let gitlab = GitLab::new(fakes.url(), Token::new(GITLAB_TOKEN)).unwrap();
    let access = gitlab.direct_access().await.unwrap();
    let target = GrpcTarget::from_direct_access(&access.duo_workflow_service);
    let shown = format!(
        "{gitlab:?} {access:?} {target:?} {:?}",
        WebSocketTarget::new(&gitlab)
    );
    for secret in [GITLAB_TOKEN, SERVICE_TOKEN, RAILS_TOKEN] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }

    // The fake GitLab quotes the credentials it refuses back in its 401 body.
    let wrong = "glpat-WRONG-TOPSECRET";
    let refused = GitLab::new(fakes.url(), Token::new(wrong)).unwrap();
    let error = refused.create_workflow(&new_workflow()).await.unwrap_err();
    assert_eq!(error.retry(), Retry::WithFreshCredentials);
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(wrong), "{shown}");
    assert!(
        shown.contains("HTTP 401") && shown.contains("GITLAB_TOKEN"),
        "{shown}"
    );

    let socket = WebSocketTarget::new(&refused);
    let error = connect(&Target::WebSocket(socket), start_request(1))
        .await
        .unwrap_err();
    assert_eq!(error.retry(), Retry::WithFreshCredentials);
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(wrong), "{shown}");
    assert!(shown.contains("401"), "{shown}");

    let mut service = target.clone();
    service.token = Token::new("dws-WRONG-TOPSECRET");
    let mut session = connect(&Target::Grpc(service), start_request(1))
        .await
        .unwrap();
    let error = session.next().await.unwrap().unwrap_err();
    assert_eq!(error.retry(), Retry::WithFreshCredentials);
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("dws-WRONG-TOPSECRET"), "{shown}");
    assert!(shown.contains("Unauthenticated"), "{shown}");
}

#[tokio::test]
async fn an_unreachable_service_is_a_retryable_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let gitlab = GitLab::new(&format!("http://{address}"), Token::new(GITLAB_TOKEN)).unwrap();
    let error = gitlab.create_workflow(&new_workflow()).await.unwrap_err();
    assert_eq!(error.retry(), Retry::WithBackoff, "{error}");
    let error = connect(
        &Target::WebSocket(WebSocketTarget::new(&gitlab)),
        start_request(1),
    )
    .await
    .unwrap_err();
    assert_eq!(error.retry(), Retry::WithBackoff, "{error}");
    let target = GrpcTarget {
        url: format!("http://{address}"),
        token: Token::new(SERVICE_TOKEN),
        metadata: Default::default(),
    };
    let error = connect(&Target::Grpc(target), start_request(1))
        .await
        .unwrap_err();
    assert_eq!(error.retry(), Retry::WithBackoff, "{error}");
    assert!(!format!("{error:?}").contains(SERVICE_TOKEN));
}

#[test]
fn websocket_urls_map_the_scheme_and_keep_the_relative_root() {
    let gitlab = GitLab::new("https://example.com/gitlab", Token::new("t")).unwrap();
    let target = WebSocketTarget {
        project_id: Some("7".into()),
        ..WebSocketTarget::new(&gitlab)
    };
    assert_eq!(
        target.url().unwrap().as_str(),
        "wss://example.com/gitlab/api/v4/ai/duo_workflows/ws?project_id=7"
    );
    let local = GitLab::new("http://127.0.0.1:8080", Token::new("t")).unwrap();
    assert_eq!(
        WebSocketTarget::new(&local).url().unwrap().as_str(),
        "ws://127.0.0.1:8080/api/v4/ai/duo_workflows/ws"
    );
}
