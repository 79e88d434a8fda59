//! One interface over the two transports, and the function that opens either.

use std::future::Future;

use crate::error::Result;
use crate::grpc::{GrpcSession, GrpcTarget};
use crate::message::{Action, ClientEvent, StartRequest};
use crate::websocket::{WebSocketSession, WebSocketTarget};

/// An open workflow session: events go out, actions come in.
///
/// [`Session::next`] is cancel safe: it can lose a `tokio::select!` against a heartbeat tick
/// (see [`crate::Heartbeats`]) without losing an action.
pub trait Session: Send {
    /// Sends one event to the service.
    fn send(&mut self, event: ClientEvent) -> impl Future<Output = Result<()>> + Send;

    /// The next action; `None` once the service has ended the session cleanly (after a
    /// terminal or approval-required checkpoint). An `Err` says whether reconnecting helps
    /// ([`crate::Error::retry`]).
    fn next(&mut self) -> impl Future<Output = Option<Result<Action>>> + Send;

    /// Ends the client's side of the session.
    fn close(&mut self) -> impl Future<Output = Result<()>> + Send;
}

/// Where to connect: the GitLab instance's WebSocket, or the service's gRPC endpoint.
#[derive(Debug, Clone)]
pub enum Target {
    /// `wss://<instance>/api/v4/ai/duo_workflows/ws`, through GitLab (the default route).
    WebSocket(WebSocketTarget),
    /// The Duo Workflow Service's `ExecuteWorkflow` stream, with credentials from
    /// [`crate::GitLab::direct_access`].
    Grpc(GrpcTarget),
}

/// A session over either transport.
#[derive(Debug)]
pub enum AnySession {
    /// Over the WebSocket route (boxed: the socket's buffers are large).
    WebSocket(Box<WebSocketSession>),
    /// Over gRPC.
    Grpc(GrpcSession),
}

/// Opens a session and sends `start` as its first event.
///
/// Call it again to reconnect after a dropped connection or an approval-required checkpoint,
/// with the same workflow id (and, to answer an approval, `start.approval` set). For gRPC,
/// refresh the target from `direct_access` first when the error asks for fresh credentials.
pub async fn connect(target: &Target, start: StartRequest) -> Result<AnySession> {
    let mut session = match target {
        Target::WebSocket(target) => AnySession::WebSocket(Box::new(target.connect().await?)),
        Target::Grpc(target) => AnySession::Grpc(target.connect().await?),
    };
    session.send(ClientEvent::StartRequest(start)).await?;
    Ok(session)
}

impl Session for AnySession {
    async fn send(&mut self, event: ClientEvent) -> Result<()> {
        match self {
            Self::WebSocket(session) => session.send(event).await,
            Self::Grpc(session) => session.send(event).await,
        }
    }

    async fn next(&mut self) -> Option<Result<Action>> {
        match self {
            Self::WebSocket(session) => session.next().await,
            Self::Grpc(session) => session.next().await,
        }
    }

    async fn close(&mut self) -> Result<()> {
        match self {
            Self::WebSocket(session) => session.close().await,
            Self::Grpc(session) => session.close().await,
        }
    }
}
