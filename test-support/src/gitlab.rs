//! A fake GitLab instance on 127.0.0.1 (a random port), speaking the REST API's real shapes.
//! The same server, without a token, stands in for the model providers' HTTP APIs in the
//! `dw run` tests (a route per endpoint, a handler that answers from the request).
//!
//! A test adds the routes it needs, each with the answer GitLab documents for it, and reads back
//! every request the server received (method, path, query, headers, body):
//!
//! ```no_run
//! use dw_test_support::gitlab::{FakeGitLab, Reply, personal_access_token};
//!
//! let gitlab = FakeGitLab::builder()
//!     .token("glpat-0123456789abcdefghij")
//!     .route("GET", "/api/v4/personal_access_tokens/self",
//!            Reply::ok(personal_access_token("dw", &["read_api"], Some("2099-01-01"))))
//!     .start();
//! // … run dw with GITLAB_URL=gitlab.url() …
//! assert_eq!(gitlab.requests()[0].header("private-token"), Some("glpat-0123456789abcdefghij"));
//! ```
//!
//! Like GitLab, a server built with [`Builder::token`] answers `401 {"message":"401 Unauthorized"}`
//! to a request that carries neither `PRIVATE-TOKEN: <token>` nor `Authorization: Bearer <token>`,
//! and every path no route matches gets `404 {"error":"404 Not Found"}`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::engine::ServerThread;

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// `GET`, `POST` …
    pub method: String,
    /// The path, without the query (`/api/v4/projects/7`).
    pub path: String,
    /// The query string, if any (`per_page=20&page=2`).
    pub query: Option<String>,
    /// Every header, names lowercase, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "the body of {} {} is not JSON: {error}",
                self.method, self.path
            )
        })
    }

    /// The value of the `:name` segment of `pattern` in this request's path
    /// (`"/api/v4/projects/:id"` → `"7"`).
    pub fn param(&self, pattern: &str, name: &str) -> Option<String> {
        let wanted = format!(":{name}");
        pattern
            .split('/')
            .zip(self.path.split('/'))
            .find(|(segment, _)| *segment == wanted)
            .map(|(_, value)| value.to_owned())
    }
}

/// An answer: a status, a JSON body, and optionally a delay before it (to test deadlines).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
    /// How long to wait before answering.
    pub delay: Option<Duration>,
    /// Headers besides `content-type: application/json`.
    pub headers: Vec<(String, String)>,
}

impl Reply {
    /// `status` with `body`.
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body,
            delay: None,
            headers: Vec::new(),
        }
    }

    /// `200 OK` with `body`.
    pub fn ok(body: Value) -> Self {
        Self::json(200, body)
    }

    /// GitLab's answer to a missing, expired or revoked token.
    pub fn unauthorized() -> Self {
        Self::json(401, json!({"message": "401 Unauthorized"}))
    }

    /// Adds the header `name: value` (e.g. `retry-after`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Waits `delay` before answering.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

struct Route {
    method: String,
    pattern: String,
    handler: Handler,
}

impl Route {
    /// Exact segments, `:name` matching any one segment.
    fn matches(&self, request: &Recorded) -> bool {
        if !self.method.eq_ignore_ascii_case(&request.method) {
            return false;
        }
        let pattern: Vec<&str> = self.pattern.split('/').collect();
        let path: Vec<&str> = request.path.split('/').collect();
        pattern.len() == path.len()
            && pattern
                .iter()
                .zip(&path)
                .all(|(expected, actual)| expected.starts_with(':') || expected == actual)
    }
}

/// Builds a [`FakeGitLab`].
#[derive(Default)]
pub struct Builder {
    token: Option<String>,
    routes: Vec<Route>,
}

impl Builder {
    /// Requests must carry `token` (`PRIVATE-TOKEN` or `Authorization: Bearer`), else 401.
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    /// Answers `method path` with `reply`; `path` may hold `:name` segments.
    pub fn route(self, method: &str, path: &str, reply: Reply) -> Self {
        self.route_with(method, path, move |_| reply.clone())
    }

    /// Answers `method path` with what `handler` makes of the request.
    pub fn route_with(
        mut self,
        method: &str,
        path: &str,
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> Self {
        self.routes.push(Route {
            method: method.to_owned(),
            pattern: path.to_owned(),
            handler: Arc::new(handler),
        });
        self
    }

    /// Starts the server on 127.0.0.1 on a port the system picks.
    pub fn start(self) -> FakeGitLab {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .unwrap_or_else(|error| panic!("cannot listen on 127.0.0.1: {error}"));
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(Shared {
            token: self.token,
            routes: self.routes,
            requests: Arc::clone(&requests),
        });
        let app = Router::new().fallback(answer).with_state(state);
        let server = ServerThread::axum(None, app, move || {
            tokio::net::TcpListener::from_std(listener).unwrap()
        });
        FakeGitLab {
            url: format!("http://{address}"),
            requests,
            _server: server,
        }
    }
}

/// A running fake GitLab; dropping it stops it.
pub struct FakeGitLab {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    _server: ServerThread,
}

impl FakeGitLab {
    /// A builder with no token requirement and no routes.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The instance's base URL (`http://127.0.0.1:PORT`), what `GITLAB_URL` would be.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

struct Shared {
    token: Option<String>,
    routes: Vec<Route>,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

async fn answer(State(shared): State<Arc<Shared>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 16 << 20).await.unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    shared.requests.lock().unwrap().push(recorded.clone());
    let reply = if !authorized(shared.token.as_deref(), &recorded) {
        Reply::unauthorized()
    } else {
        shared
            .routes
            .iter()
            .find(|route| route.matches(&recorded))
            .map(|route| (route.handler)(&recorded))
            .unwrap_or_else(|| Reply::json(404, json!({"error": "404 Not Found"})))
    };
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    let mut response = (
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        reply.body.to_string(),
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

fn authorized(token: Option<&str>, request: &Recorded) -> bool {
    let Some(token) = token else { return true };
    request.header("private-token") == Some(token)
        || request
            .header("authorization")
            .and_then(|value| value.strip_prefix("Bearer "))
            == Some(token)
}

/// The body of `GET /api/v4/personal_access_tokens/self` as GitLab documents it
/// (<https://docs.gitlab.com/api/personal_access_tokens/>): `expires_at` is a date
/// (`2099-01-01`) or `null`; `active` is false once the token expired.
pub fn personal_access_token(name: &str, scopes: &[&str], expires_at: Option<&str>) -> Value {
    json!({
        "id": 4,
        "name": name,
        "revoked": false,
        "created_at": "2025-07-23T14:31:47.729Z",
        "description": "Test Token description",
        "scopes": scopes,
        "user_id": 24,
        "last_used_at": "2025-10-06T17:58:37.550Z",
        "active": true,
        "expires_at": expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str) -> Recorded {
        Recorded {
            method: method.to_owned(),
            path: path.to_owned(),
            query: None,
            headers: vec![("private-token".to_owned(), "secret".to_owned())],
            body: Vec::new(),
        }
    }

    #[test]
    fn routes_match_exact_segments_and_parameters() {
        let route = Route {
            method: "GET".to_owned(),
            pattern: "/api/v4/projects/:id/issues".to_owned(),
            handler: Arc::new(|_| Reply::ok(Value::Null)),
        };
        assert!(route.matches(&request("GET", "/api/v4/projects/7/issues")));
        assert!(!route.matches(&request("POST", "/api/v4/projects/7/issues")));
        assert!(!route.matches(&request("GET", "/api/v4/projects/7")));
        let recorded = request("GET", "/api/v4/projects/7/issues");
        assert_eq!(
            recorded
                .param("/api/v4/projects/:id/issues", "id")
                .as_deref(),
            Some("7")
        );
        assert_eq!(recorded.header("PRIVATE-TOKEN"), Some("secret"));
        assert!(authorized(Some("secret"), &recorded));
        assert!(!authorized(Some("other"), &recorded));
    }
}
