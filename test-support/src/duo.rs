//! A fake GitLab with Duo Workflow (REST and the WebSocket route) and a fake Duo Workflow
//! Service (the gRPC route), both on 127.0.0.1, replaying one script of [`Step`]s.
//!
//! The script is shared by every session, whichever its transport: a session begins with the
//! client's `startRequest` and plays steps from where the last session stopped, so a client
//! that reconnects (after an approval-required checkpoint, a [`Step::Close`], a [`Step::Drop`])
//! goes on with the workflow. An action that expects an answer is answered before the next step
//! plays; a session that ends while one is unanswered sends it again in the next session.
//!
//! ```no_run
//! use dw_test_support::duo::{FakeDuo, Step, checkpoint, chat};
//! use serde_json::json;
//!
//! let duo = FakeDuo::builder("glpat-…")
//!     .script(vec![
//!         checkpoint("1", "RUNNING", json!([chat("agent", "Reading the code")])),
//!         Step::action(json!({"requestID": "2", "runReadFile": {"filepath": "src/lib.rs"}})),
//!         checkpoint("3", "FINISHED", json!([])),
//!     ])
//!     .start();
//! // … run the client against duo.url() …
//! assert_eq!(duo.responses()[0]["actionResponse"]["requestID"], "2");
//! ```
//!
//! Like GitLab, the REST routes and the socket answer `401` to a request without
//! `Authorization: Bearer <token>` (quoting the credentials back, so that tests can check that
//! the client never repeats them); the gRPC service wants the service token that
//! `direct_access` hands out. Other REST paths are answered from the routes a test adds, else
//! `404`, and recorded.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dw_duo::grpc::convert::client_event_from_proto;
use dw_duo::grpc::proto;
use dw_duo::message::NewCheckpoint;
use dw_duo::{Action, ActionKind};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::engine::ServerThread;
use crate::gitlab::{Recorded, Reply};

/// The id the fake gives every workflow it creates.
pub const WORKFLOW_ID: u64 = 42;
/// The service token `direct_access` hands out, which the gRPC service wants.
pub const SERVICE_TOKEN: &str = "dws-jwt-TOPSECRET-abcdef";
/// The OAuth token `direct_access` hands out for the GitLab API (unused by dw).
pub const RAILS_TOKEN: &str = "oauth-TOPSECRET-rails";

/// One step of the service's side of a workflow.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send this action. One that expects an answer (every kind but `newCheckpoint`) is
    /// answered before the next step plays.
    Send(Action),
    /// Wait until the client sent a heartbeat in this session.
    Heartbeat,
    /// End the session cleanly (a WebSocket close frame; the end of the gRPC stream), as the
    /// service does after a terminal or approval-required checkpoint.
    Close,
    /// Drop the connection: the TCP connection closed without a close frame; over gRPC an
    /// `UNAVAILABLE` status.
    Drop,
    /// Drop the connection, and refuse every later one: the WebSocket handshake with this HTTP
    /// status, the gRPC call with `UNAVAILABLE`.
    Refuse(u16),
}

impl Step {
    /// Sends the action written as its wire JSON.
    pub fn action(json: Value) -> Step {
        Step::Send(Action::from_json(json).unwrap())
    }
}

/// A `newCheckpoint` action with `status` whose checkpoint holds `ui_chat_log`.
pub fn checkpoint(request_id: &str, status: &str, ui_chat_log: Value) -> Step {
    checkpoint_with(
        request_id,
        status,
        json!({"channel_values": {"ui_chat_log": ui_chat_log}}),
    )
}

/// A `newCheckpoint` action with `status` and this checkpoint (JSON-encoded on the wire).
pub fn checkpoint_with(request_id: &str, status: &str, checkpoint: Value) -> Step {
    Step::Send(Action {
        request_id: request_id.to_owned(),
        kind: ActionKind::NewCheckpoint(NewCheckpoint {
            status: status.to_owned(),
            checkpoint: checkpoint.to_string(),
            goal: String::new(),
            errors: Vec::new(),
        }),
    })
}

/// A `ui_chat_log` message.
pub fn chat(message_type: &str, content: &str) -> Value {
    json!({
        "message_type": message_type,
        "content": content,
        "timestamp": "2026-01-01T00:00:00+00:00",
        "status": "success",
        "tool_info": null
    })
}

/// A `ui_chat_log` request to approve a tool call, as the service writes it.
pub fn tool_request(name: &str, args: Value) -> Value {
    json!({
        "message_type": "request",
        "content": format!("Run {name}"),
        "timestamp": "2026-01-01T00:00:00+00:00",
        "status": "success",
        "tool_info": {"name": name, "args": args}
    })
}

/// What the fake saw of one session.
#[derive(Debug, Clone, Default)]
pub struct SessionSeen {
    /// `websocket` or `grpc`.
    pub transport: &'static str,
    /// The handshake's headers (WebSocket) or the call's metadata (gRPC), names lower case.
    pub headers: Vec<(String, String)>,
    /// The socket URL's query parameters.
    pub query: Vec<(String, String)>,
    /// The client's first event, `{"startRequest": …}`.
    pub start: Value,
    /// Every `{"actionResponse": …}`, in order.
    pub responses: Vec<Value>,
    /// How many heartbeats came.
    pub heartbeats: usize,
    /// The `{"stopWorkflow": …}` event, if one came.
    pub stop: Option<Value>,
}

impl SessionSeen {
    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Everything the fake saw.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The bodies of `POST /api/v4/ai/duo_workflows/workflows`.
    pub created: Vec<Value>,
    /// How many times `direct_access` was called.
    pub direct_access: usize,
    /// Every session, in the order they began.
    pub sessions: Vec<SessionSeen>,
    /// Every other REST request.
    pub api: Vec<Recorded>,
}

/// Builds a [`FakeDuo`].
pub struct Builder {
    token: String,
    script: Vec<Step>,
    routes: Vec<(String, String, Reply)>,
}

impl Builder {
    /// The steps every session plays from.
    pub fn script(mut self, script: Vec<Step>) -> Self {
        self.script = script;
        self
    }

    /// Answers the REST request `method path` (exact path, query ignored) with `reply`.
    pub fn route(mut self, method: &str, path: &str, reply: Reply) -> Self {
        self.routes
            .push((method.to_owned(), path.to_owned(), reply));
        self
    }

    /// Starts both servers, each on a port of 127.0.0.1 the system picks.
    pub fn start(self) -> FakeDuo {
        let gitlab = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        gitlab.set_nonblocking(true).unwrap();
        let service = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        service.set_nonblocking(true).unwrap();
        let url = format!("http://{}", gitlab.local_addr().unwrap());
        let service_address = service.local_addr().unwrap();
        let shared = Arc::new(Shared {
            token: self.token,
            routes: self.routes,
            service_address,
            seen: Mutex::new(Seen::default()),
            player: Mutex::new(Player {
                script: self.script,
                position: 0,
                refusing: None,
            }),
        });
        let app = Router::new().fallback(rest).with_state(Arc::clone(&shared));
        let grpc = proto::duo_workflow_server::DuoWorkflowServer::new(FakeService {
            shared: Arc::clone(&shared),
        });
        let server = ServerThread::spawn(None, move |stopped| async move {
            let gitlab = tokio::net::TcpListener::from_std(gitlab).unwrap();
            let service = tokio::net::TcpListener::from_std(service).unwrap();
            let incoming = futures_util::stream::unfold(service, |listener| async move {
                let accepted = listener.accept().await.map(|(stream, _)| stream);
                Some((accepted, listener))
            });
            let rest = tokio::spawn(async move { axum::serve(gitlab, app).await });
            let grpc = tokio::spawn(
                tonic::transport::Server::builder()
                    .add_service(grpc)
                    .serve_with_incoming(incoming),
            );
            let _ = stopped.await;
            rest.abort();
            grpc.abort();
        });
        FakeDuo {
            url,
            service_address,
            shared,
            _server: server,
        }
    }
}

/// A running fake GitLab and Duo Workflow Service; dropping it stops both.
pub struct FakeDuo {
    url: String,
    service_address: SocketAddr,
    shared: Arc<Shared>,
    _server: ServerThread,
}

impl FakeDuo {
    /// A fake that wants `token` (the GitLab token) on REST requests and the socket.
    pub fn builder(token: &str) -> Builder {
        Builder {
            token: token.to_owned(),
            script: Vec::new(),
            routes: Vec::new(),
        }
    }

    /// The instance's URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The gRPC service's address, as `direct_access` hands it out.
    pub fn service_address(&self) -> SocketAddr {
        self.service_address
    }

    /// Everything seen so far.
    pub fn seen(&self) -> Seen {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Every session so far.
    pub fn sessions(&self) -> Vec<SessionSeen> {
        self.seen().sessions
    }

    /// Every `actionResponse` of every session, in order.
    pub fn responses(&self) -> Vec<Value> {
        self.sessions()
            .into_iter()
            .flat_map(|session| session.responses)
            .collect()
    }

    /// How many steps of the script have been played.
    pub fn played(&self) -> usize {
        self.shared.player.lock().unwrap().position
    }
}

struct Shared {
    token: String,
    routes: Vec<(String, String, Reply)>,
    service_address: SocketAddr,
    seen: Mutex<Seen>,
    player: Mutex<Player>,
}

struct Player {
    script: Vec<Step>,
    position: usize,
    refusing: Option<u16>,
}

impl Shared {
    fn step(&self) -> Option<Step> {
        let player = self.player.lock().unwrap();
        player.script.get(player.position).cloned()
    }

    fn advance(&self) {
        self.player.lock().unwrap().position += 1;
    }

    fn refusing(&self) -> Option<u16> {
        self.player.lock().unwrap().refusing
    }

    fn session(&self, seen: SessionSeen) -> usize {
        let mut all = self.seen.lock().unwrap();
        all.sessions.push(seen);
        all.sessions.len() - 1
    }

    fn update(&self, index: usize, change: impl FnOnce(&mut SessionSeen)) {
        change(&mut self.seen.lock().unwrap().sessions[index]);
    }

    /// GitLab's 401, quoting the credentials back.
    fn unauthorized(&self, headers: &HeaderMap) -> Option<Response> {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        if authorization == format!("Bearer {}", self.token) {
            return None;
        }
        let body =
            json!({"message": format!("401 Unauthorized: `{authorization}` is not a valid token")});
        Some((StatusCode::UNAUTHORIZED, Json(body)).into_response())
    }
}

async fn rest(State(shared): State<Arc<Shared>>, request: Request<Body>) -> Response {
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    if parts.method == "GET" && path == "/api/v4/ai/duo_workflows/ws" {
        if let Some(status) = shared.refusing() {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return (status, Json(json!({"message": "unavailable"}))).into_response();
        }
        if let Some(refusal) = shared.unauthorized(&parts.headers) {
            return refusal;
        }
        let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(upgrade) => upgrade,
            Err(rejection) => return rejection.into_response(),
        };
        let seen = SessionSeen {
            transport: "websocket",
            headers: header_pairs(&parts.headers),
            query: parts
                .uri
                .query()
                .map(|query| {
                    query
                        .split('&')
                        .filter_map(|pair| pair.split_once('='))
                        .map(|(name, value)| (name.to_owned(), value.to_owned()))
                        .collect()
                })
                .unwrap_or_default(),
            ..SessionSeen::default()
        };
        return upgrade.on_upgrade(move |socket| serve_socket(socket, shared, seen));
    }
    if let Some(refusal) = shared.unauthorized(&parts.headers) {
        return refusal;
    }
    let body = to_bytes(body, 16 << 20).await.unwrap_or_default();
    match (parts.method.as_str(), path.as_str()) {
        ("POST", "/api/v4/ai/duo_workflows/workflows") => {
            let created = serde_json::from_slice(&body).unwrap_or(Value::Null);
            shared.seen.lock().unwrap().created.push(created);
            let answer = json!({"id": WORKFLOW_ID, "status": "created", "project_id": 1});
            (StatusCode::CREATED, Json(answer)).into_response()
        }
        ("POST", "/api/v4/ai/duo_workflows/direct_access") => {
            shared.seen.lock().unwrap().direct_access += 1;
            (
                StatusCode::CREATED,
                Json(direct_access(shared.service_address)),
            )
                .into_response()
        }
        (method, _) => {
            let recorded = Recorded {
                method: method.to_owned(),
                path: path.clone(),
                query: parts.uri.query().map(str::to_owned),
                headers: header_pairs(&parts.headers),
                body: body.to_vec(),
            };
            shared.seen.lock().unwrap().api.push(recorded);
            let reply = shared
                .routes
                .iter()
                .find(|(known, route, _)| known.eq_ignore_ascii_case(method) && *route == path)
                .map(|(_, _, reply)| reply.clone())
                .unwrap_or_else(|| Reply::json(404, json!({"message": "404 Not Found"})));
            let mut response = (
                StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                Json(reply.body),
            )
                .into_response();
            for (name, value) in &reply.headers {
                if let (Ok(name), Ok(value)) = (
                    header::HeaderName::from_bytes(name.as_bytes()),
                    header::HeaderValue::from_str(value),
                ) {
                    response.headers_mut().append(name, value);
                }
            }
            response
        }
    }
}

/// GitLab's answer to `direct_access`, pointing at the fake service.
fn direct_access(service: SocketAddr) -> Value {
    json!({
        "gitlab_rails": {"base_url": "http://127.0.0.1", "token": RAILS_TOKEN},
        "duo_workflow_service": {
            "base_url": service.to_string(),
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
    })
}

fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// What the player tells a transport to do.
enum Out {
    Action(Action),
    Close,
    Drop,
}

/// How a wait for the client ended.
enum Heard {
    /// The event waited for.
    Event(Value),
    /// The client is gone, or asked to stop (the session is over).
    Over,
}

/// The service's side of one session, whatever its transport: client events (as JSON) in,
/// [`Out`]s out.
async fn play(
    shared: Arc<Shared>,
    index: usize,
    out: mpsc::Sender<Out>,
    mut events: mpsc::Receiver<Value>,
) {
    let Heard::Event(start) = next_event(&shared, index, &out, &mut events, Wait::Answer).await
    else {
        return;
    };
    shared.update(index, |seen| seen.start = start);
    while let Some(step) = shared.step() {
        match step {
            Step::Send(action) => {
                let expects_response = action.kind.expects_response();
                if out.send(Out::Action(action)).await.is_err() {
                    return;
                }
                if expects_response {
                    let Heard::Event(response) =
                        next_event(&shared, index, &out, &mut events, Wait::Answer).await
                    else {
                        return;
                    };
                    shared.update(index, |seen| seen.responses.push(response));
                }
                shared.advance();
            }
            Step::Heartbeat => {
                while shared.seen.lock().unwrap().sessions[index].heartbeats == 0 {
                    if let Heard::Over =
                        next_event(&shared, index, &out, &mut events, Wait::Heartbeat).await
                    {
                        return;
                    }
                }
                shared.advance();
            }
            Step::Close => {
                shared.advance();
                let _ = out.send(Out::Close).await;
                return;
            }
            Step::Drop => {
                shared.advance();
                let _ = out.send(Out::Drop).await;
                return;
            }
            Step::Refuse(status) => {
                shared.player.lock().unwrap().refusing = Some(status);
                shared.advance();
                let _ = out.send(Out::Drop).await;
                return;
            }
        }
    }
    let _ = out.send(Out::Close).await;
}

/// What [`next_event`] waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// The client's next event other than a heartbeat.
    Answer,
    /// The next heartbeat.
    Heartbeat,
}

/// The client's next event of the kind `wait` says (heartbeats are counted either way). A
/// `stopWorkflow` is recorded and answered as the service does: a STOPPED checkpoint, then the
/// end.
async fn next_event(
    shared: &Shared,
    index: usize,
    out: &mpsc::Sender<Out>,
    events: &mut mpsc::Receiver<Value>,
    wait: Wait,
) -> Heard {
    loop {
        let Some(event) = events.recv().await else {
            return Heard::Over;
        };
        if event.get("heartbeat").is_some() {
            shared.update(index, |seen| seen.heartbeats += 1);
            if wait == Wait::Heartbeat {
                return Heard::Event(event);
            }
            continue;
        }
        if event.get("stopWorkflow").is_some() {
            shared.update(index, |seen| seen.stop = Some(event));
            let Step::Send(stopped) = checkpoint("stopped", "STOPPED", json!([])) else {
                unreachable!("checkpoint() makes a Send step")
            };
            let _ = out.send(Out::Action(stopped)).await;
            let _ = out.send(Out::Close).await;
            return Heard::Over;
        }
        return Heard::Event(event);
    }
}

async fn serve_socket(mut socket: WebSocket, shared: Arc<Shared>, seen: SessionSeen) {
    let index = shared.session(seen);
    let (out, mut outgoing) = mpsc::channel::<Out>(16);
    let (events, incoming) = mpsc::channel::<Value>(64);
    tokio::spawn(play(Arc::clone(&shared), index, out, incoming));
    loop {
        tokio::select! {
            next = outgoing.recv() => match next {
                Some(Out::Action(action)) => {
                    let frame = serde_json::to_string(&action).unwrap();
                    if socket.send(Message::Text(frame.into())).await.is_err() {
                        return;
                    }
                }
                Some(Out::Drop) => return,
                Some(Out::Close) | None => {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
            },
            frame = socket.recv() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let _ = events.send(serde_json::from_str(text.as_str()).unwrap()).await;
                }
                Some(Ok(Message::Binary(bytes))) => {
                    let _ = events.send(serde_json::from_slice(&bytes).unwrap()).await;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                _ => return,
            },
        }
    }
}

type ActionStream =
    Pin<Box<dyn futures_util::Stream<Item = Result<proto::Action, tonic::Status>> + Send>>;

struct FakeService {
    shared: Arc<Shared>,
}

#[tonic::async_trait]
impl proto::duo_workflow_server::DuoWorkflow for FakeService {
    type ExecuteWorkflowStream = ActionStream;

    async fn execute_workflow(
        &self,
        request: tonic::Request<tonic::Streaming<proto::ClientEvent>>,
    ) -> Result<tonic::Response<ActionStream>, tonic::Status> {
        if self.shared.refusing().is_some() {
            return Err(tonic::Status::unavailable("the service is unavailable"));
        }
        let authorization = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok());
        if authorization != Some(&format!("Bearer {SERVICE_TOKEN}")) {
            return Err(tonic::Status::unauthenticated("invalid service token"));
        }
        let headers = request
            .metadata()
            .iter()
            .filter_map(|entry| match entry {
                tonic::metadata::KeyAndValueRef::Ascii(name, value) => Some((
                    name.as_str().to_owned(),
                    value.to_str().unwrap_or_default().to_owned(),
                )),
                tonic::metadata::KeyAndValueRef::Binary(..) => None,
            })
            .collect();
        let index = self.shared.session(SessionSeen {
            transport: "grpc",
            headers,
            ..SessionSeen::default()
        });
        let mut inbound = request.into_inner();
        let (out, outgoing) = mpsc::channel::<Out>(16);
        let (events, incoming) = mpsc::channel::<Value>(64);
        tokio::spawn(async move {
            while let Ok(Some(event)) = inbound.message().await {
                let Some(event) = client_event_from_proto(event) else {
                    continue;
                };
                if events
                    .send(serde_json::to_value(event).unwrap())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        tokio::spawn(play(Arc::clone(&self.shared), index, out, incoming));
        let stream = futures_util::stream::unfold(Some(outgoing), |outgoing| async move {
            let mut outgoing = outgoing?;
            match outgoing.recv().await {
                Some(Out::Action(action)) => {
                    Some((Ok(proto::Action::from(action)), Some(outgoing)))
                }
                Some(Out::Drop) => Some((
                    Err(tonic::Status::unavailable("the connection was dropped")),
                    None,
                )),
                Some(Out::Close) | None => None,
            }
        });
        Ok(tonic::Response::new(Box::pin(stream)))
    }
}
