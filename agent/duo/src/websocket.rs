//! The WebSocket route: `wss://<instance>/api/v4/ai/duo_workflows/ws`, one JSON object per frame.

use futures_util::{SinkExt, StreamExt};
use reqwest::Url;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::api::{GitLab, parse_instance_url};
use crate::error::{Error, Result};
use crate::message::{Action, ClientEvent};
use crate::session::Session;
use crate::token::Token;

const SOCKET_PATH: &str = "api/v4/ai/duo_workflows/ws";

/// Where and how to open the WebSocket.
///
/// Sends `authorization: Bearer <token>`, `origin` (the instance's origin unless set) and
/// `x-request-id` (generated unless set), as GitLab's own clients do.
#[derive(Debug, Clone)]
pub struct WebSocketTarget {
    /// The GitLab instance; `https` maps to `wss` and `http` to `ws`.
    pub instance_url: Url,
    /// The GitLab token.
    pub token: Token,
    /// The `origin` header; `None` sends the instance's origin.
    pub origin: Option<String>,
    /// The `x-request-id` header (GitLab's correlation id); `None` generates one per connection.
    pub request_id: Option<String>,
    /// The `project_id` query parameter, which GitLab uses to pick the namespace's settings.
    pub project_id: Option<String>,
    /// The `root_namespace_id` query parameter.
    pub root_namespace_id: Option<String>,
    /// The `user_selected_model_identifier` query parameter: the model the user picked.
    pub user_selected_model_identifier: Option<String>,
}

impl WebSocketTarget {
    /// The socket of `gitlab`'s instance, with its token and no optional parameters.
    pub fn new(gitlab: &GitLab) -> Self {
        Self {
            instance_url: gitlab.instance_url().clone(),
            token: gitlab.token().clone(),
            origin: None,
            request_id: None,
            project_id: None,
            root_namespace_id: None,
            user_selected_model_identifier: None,
        }
    }

    /// The socket URL: the instance's relative root kept, the scheme mapped, the query set.
    pub fn url(&self) -> Result<Url> {
        let instance = parse_instance_url(self.instance_url.as_str())?;
        let mut url = instance
            .join(SOCKET_PATH)
            .map_err(|error| invalid_url(&instance, error.to_string()))?;
        let scheme = if instance.scheme() == "https" {
            "wss"
        } else {
            "ws"
        };
        url.set_scheme(scheme)
            .map_err(|()| invalid_url(&instance, format!("cannot use the `{scheme}` scheme")))?;
        let query = [
            ("project_id", &self.project_id),
            ("root_namespace_id", &self.root_namespace_id),
            (
                "user_selected_model_identifier",
                &self.user_selected_model_identifier,
            ),
        ];
        for (name, value) in query {
            if let Some(value) = value {
                url.query_pairs_mut().append_pair(name, value);
            }
        }
        Ok(url)
    }

    /// Opens the socket (no event sent yet; [`crate::connect`] sends the `startRequest`).
    pub async fn connect(&self) -> Result<WebSocketSession> {
        let url = self.url()?;
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|source| connect_error(&url, source, "check the GitLab instance URL"))?;
        let origin = self
            .origin
            .clone()
            .unwrap_or_else(|| self.instance_url.origin().ascii_serialization());
        let request_id = self.request_id.clone().unwrap_or_else(generated_request_id);
        let headers = request.headers_mut();
        headers.insert(
            "authorization",
            header_value("authorization", &self.token.bearer())?,
        );
        headers.insert("origin", header_value("origin", &origin)?);
        headers.insert("x-request-id", header_value("x-request-id", &request_id)?);
        let (stream, _response) =
            tokio_tungstenite::connect_async(request)
                .await
                .map_err(|source| {
                    let hint = connect_hint(&source);
                    connect_error(&url, source, hint)
                })?;
        Ok(WebSocketSession {
            stream,
            closed: false,
        })
    }
}

/// An open WebSocket session.
#[derive(Debug)]
pub struct WebSocketSession {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    closed: bool,
}

impl Session for WebSocketSession {
    async fn send(&mut self, event: ClientEvent) -> Result<()> {
        if self.closed {
            return Err(Error::Closed);
        }
        let json = serde_json::to_string(&event).map_err(|source| Error::Decode {
            what: "a client event",
            source,
        })?;
        self.stream
            .send(Message::text(json))
            .await
            .map_err(stream_error)
    }

    async fn next(&mut self) -> Option<Result<Action>> {
        while !self.closed {
            let frame = match self.stream.next().await {
                None => break,
                Some(Ok(frame)) => frame,
                Some(Err(source)) => {
                    self.closed = true;
                    return match source {
                        tungstenite::Error::ConnectionClosed
                        | tungstenite::Error::AlreadyClosed => None,
                        source => Some(Err(stream_error(source))),
                    };
                }
            };
            let payload = match &frame {
                Message::Text(text) => text.as_bytes(),
                // GitLab's Workhorse may relay the service's JSON as binary frames.
                Message::Binary(bytes) => bytes.as_ref(),
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            };
            return Some(serde_json::from_slice::<Action>(payload).map_err(|source| {
                Error::Decode {
                    what: "an action",
                    source,
                }
            }));
        }
        self.closed = true;
        None
    }

    async fn close(&mut self) -> Result<()> {
        self.closed = true;
        match self.stream.close(None).await {
            Ok(())
            | Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                Ok(())
            }
            Err(source) => Err(stream_error(source)),
        }
    }
}

fn header_value(name: &str, value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value).map_err(|_| Error::InvalidHeader {
        name: name.to_owned(),
    })
}

fn generated_request_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    format!("dw-{}-{nanos:x}", std::process::id())
}

fn invalid_url(instance: &Url, reason: String) -> Error {
    Error::InvalidUrl {
        what: "Duo Workflow WebSocket URL",
        url: instance.to_string(),
        reason,
    }
}

fn connect_error(url: &Url, source: tungstenite::Error, hint: &'static str) -> Error {
    Error::WebSocketConnect {
        url: url.to_string(),
        source: Box::new(without_response_body(source)),
        hint,
    }
}

/// Keeps only the status of a refused handshake: the body and headers are the server's words
/// and could quote the request's credentials back.
fn without_response_body(error: tungstenite::Error) -> tungstenite::Error {
    match error {
        tungstenite::Error::Http(response) => {
            let mut bare = tungstenite::http::Response::new(None);
            *bare.status_mut() = response.status();
            tungstenite::Error::Http(Box::new(bare))
        }
        other => other,
    }
}

fn connect_hint(error: &tungstenite::Error) -> &'static str {
    match error {
        tungstenite::Error::Http(response) => crate::error::http_hint(response.status().as_u16()),
        tungstenite::Error::Tls(_) => {
            "the TLS handshake failed: check the instance's certificate and the system's CA store"
        }
        _ => "check the instance URL and the network, then retry",
    }
}

fn stream_error(source: tungstenite::Error) -> Error {
    match source {
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => Error::Closed,
        source => Error::WebSocket {
            source: Box::new(source),
        },
    }
}
