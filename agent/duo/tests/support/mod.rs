//! A fake GitLab (REST + WebSocket) and a fake Duo Workflow Service (gRPC) on 127.0.0.1, both
//! replaying one action script, and the client side that answers it with canned results.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use dw_duo::grpc::convert::client_event_from_proto;
use dw_duo::grpc::proto;
use dw_duo::message::{
    EditFile, HttpResponse, NewCheckpoint, ReadFile, RunCommand, RunHttpRequest,
};
use dw_duo::{
    Action, ActionKind, ActionResponse, CheckpointStatus, ClientEvent, Heartbeats, Session,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub const GITLAB_TOKEN: &str = "glpat-TOPSECRET-0123456789";
pub const SERVICE_TOKEN: &str = "dws-jwt-TOPSECRET-abcdef";
pub const WORKFLOW_ID: u64 = 42;
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

/// What the service saw of one session.
#[derive(Debug)]
pub struct Played {
    pub start: Value,
    pub responses: Vec<Value>,
    pub heartbeats: usize,
}

/// The service side of the script, over channels: actions out, client events (as JSON) in.
/// Waits for at least one heartbeat before the final checkpoint.
async fn play(actions: mpsc::Sender<Action>, mut events: mpsc::Receiver<Value>) -> Played {
    let mut heartbeats = 0;
    let mut next_event = async |heartbeats: &mut usize| loop {
        let event = events
            .recv()
            .await
            .expect("the client ended the session early");
        if event.get("heartbeat").is_some() {
            *heartbeats += 1;
            continue;
        }
        return event;
    };
    let start = next_event(&mut heartbeats).await;
    let mut responses = Vec::new();
    let mut script = script();
    let finished = script.pop().unwrap();
    for action in script {
        let expects_response = action.kind.expects_response();
        actions.send(action).await.unwrap();
        if expects_response {
            responses.push(next_event(&mut heartbeats).await);
        }
    }
    while heartbeats == 0 {
        let event = events
            .recv()
            .await
            .expect("the client ended the session before a heartbeat");
        assert!(event.get("heartbeat").is_some(), "unexpected event {event}");
        heartbeats += 1;
    }
    actions.send(finished).await.unwrap();
    Played {
        start,
        responses,
        heartbeats,
    }
}

/// What the fake GitLab saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub created: Vec<Value>,
    pub socket_headers: Vec<HeaderMap>,
    pub socket_queries: Vec<Vec<(String, String)>>,
    pub grpc_metadata: Vec<tonic::metadata::MetadataMap>,
}

/// A fake GitLab and a fake Duo Workflow Service, each on its own 127.0.0.1 port.
pub struct Fakes {
    pub gitlab_url: String,
    pub seen: Arc<Mutex<Seen>>,
    played: mpsc::Receiver<Played>,
}

impl Fakes {
    pub async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (played_sender, played) = mpsc::channel(4);
        let grpc_address = start_service(seen.clone(), played_sender.clone()).await;
        let state = GitLabState {
            seen: seen.clone(),
            played: played_sender,
            grpc_address,
        };
        let app = axum::Router::new()
            .route("/api/v4/ai/duo_workflows/workflows", post(create_workflow))
            .route(
                "/api/v4/ai/duo_workflows/direct_access",
                post(direct_access),
            )
            .route("/api/v4/ai/duo_workflows/ws", get(socket))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            gitlab_url: format!("http://{address}"),
            seen,
            played,
        }
    }

    /// What the service saw of the next session that ran to its end.
    pub async fn played(&mut self) -> Played {
        tokio::time::timeout(Duration::from_secs(10), self.played.recv())
            .await
            .unwrap()
            .unwrap()
    }
}

#[derive(Clone)]
struct GitLabState {
    seen: Arc<Mutex<Seen>>,
    played: mpsc::Sender<Played>,
    grpc_address: SocketAddr,
}

/// GitLab's 401, quoting the credentials back, so that tests see the client redact them.
fn unauthorized(headers: &HeaderMap) -> Option<Response> {
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if authorization == format!("Bearer {GITLAB_TOKEN}") {
        return None;
    }
    let body =
        json!({"message": format!("401 Unauthorized: `{authorization}` is not a valid token")});
    Some((StatusCode::UNAUTHORIZED, Json(body)).into_response())
}

async fn create_workflow(
    State(state): State<GitLabState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refusal) = unauthorized(&headers) {
        return refusal;
    }
    state.seen.lock().unwrap().created.push(body);
    (
        StatusCode::CREATED,
        Json(json!({"id": WORKFLOW_ID, "status": "created", "project_id": 1})),
    )
        .into_response()
}

async fn direct_access(State(state): State<GitLabState>, headers: HeaderMap) -> Response {
    if let Some(refusal) = unauthorized(&headers) {
        return refusal;
    }
    let body = json!({
        "gitlab_rails": {"base_url": "http://127.0.0.1", "token": "oauth-TOPSECRET"},
        "duo_workflow_service": {
            "base_url": state.grpc_address.to_string(),
            "token": SERVICE_TOKEN,
            "headers": {
                "X-Gitlab-Host-Name": "127.0.0.1",
                "X-Gitlab-Instance-Id": "ea8bf810-1d6f-4a6a-b4fd-93e8cbd8b57f",
                "X-Gitlab-Realm": "self-managed",
                "X-Gitlab-Version": "18.0.0",
                "X-Gitlab-Global-User-Id": "us1PxRHEnhUNfwg"
            },
            "secure": false
        },
        "duo_workflow_executor": {"executor_binary_url": "http://127.0.0.1/executor.tar.gz", "version": "v0.0.13"},
        "workflow_metadata": {"extended_logging": false}
    });
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn socket(
    State(state): State<GitLabState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Some(refusal) = unauthorized(&headers) {
        return refusal;
    }
    {
        let mut seen = state.seen.lock().unwrap();
        seen.socket_headers.push(headers);
        seen.socket_queries.push(query);
    }
    upgrade.on_upgrade(move |socket| serve_socket(socket, state.played))
}

async fn serve_socket(mut socket: WebSocket, played: mpsc::Sender<Played>) {
    let (actions_sender, mut actions) = mpsc::channel::<Action>(8);
    let (events, events_receiver) = mpsc::channel::<Value>(8);
    let player = tokio::spawn(play(actions_sender, events_receiver));
    loop {
        tokio::select! {
            action = actions.recv() => match action {
                Some(action) => {
                    let frame = serde_json::to_string(&action).unwrap();
                    socket.send(Message::Text(frame.into())).await.unwrap();
                }
                None => break,
            },
            frame = socket.recv() => match frame {
                Some(Ok(Message::Text(text))) => {
                    // A closed player means the script is over; later heartbeats are dropped.
                    let _ = events.send(serde_json::from_str(text.as_str()).unwrap()).await;
                }
                Some(Ok(_)) => {}
                _ => break,
            },
        }
    }
    let _ = socket.send(Message::Close(None)).await;
    played.send(player.await.unwrap()).await.unwrap();
}

type ActionStream =
    Pin<Box<dyn futures_util::Stream<Item = Result<proto::Action, tonic::Status>> + Send>>;

struct FakeService {
    seen: Arc<Mutex<Seen>>,
    played: mpsc::Sender<Played>,
}

#[tonic::async_trait]
impl proto::duo_workflow_server::DuoWorkflow for FakeService {
    type ExecuteWorkflowStream = ActionStream;

    async fn execute_workflow(
        &self,
        request: tonic::Request<tonic::Streaming<proto::ClientEvent>>,
    ) -> Result<tonic::Response<ActionStream>, tonic::Status> {
        let authorization = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok());
        if authorization != Some(&format!("Bearer {SERVICE_TOKEN}")) {
            return Err(tonic::Status::unauthenticated("invalid service token"));
        }
        self.seen
            .lock()
            .unwrap()
            .grpc_metadata
            .push(request.metadata().clone());
        let mut inbound = request.into_inner();
        let (actions_sender, actions) = mpsc::channel::<Action>(8);
        let (events, events_receiver) = mpsc::channel::<Value>(8);
        tokio::spawn(async move {
            while let Ok(Some(event)) = inbound.message().await {
                let event = client_event_from_proto(event).unwrap();
                if events
                    .send(serde_json::to_value(event).unwrap())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        let played = self.played.clone();
        tokio::spawn(async move {
            played
                .send(play(actions_sender, events_receiver).await)
                .await
                .unwrap()
        });
        let stream = futures_util::stream::unfold(actions, |mut actions| async move {
            actions
                .recv()
                .await
                .map(|action| (Ok(proto::Action::from(action)), actions))
        });
        Ok(tonic::Response::new(Box::pin(stream)))
    }
}

async fn start_service(seen: Arc<Mutex<Seen>>, played: mpsc::Sender<Played>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let incoming = futures_util::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, _)| stream);
        Some((accepted, listener))
    });
    let service = proto::duo_workflow_server::DuoWorkflowServer::new(FakeService { seen, played });
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(incoming)
            .await
            .unwrap()
    });
    address
}
