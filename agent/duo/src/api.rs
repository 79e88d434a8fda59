//! GitLab's REST endpoints for Duo Workflow: create a workflow, get direct access.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, http_hint};
use crate::token::Token;

const WORKFLOWS: &str = "POST /api/v4/ai/duo_workflows/workflows";
const DIRECT_ACCESS: &str = "POST /api/v4/ai/duo_workflows/direct_access";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of an error body an [`Error::Api`] quotes.
const QUOTED_BODY_LIMIT: usize = 300;

/// A GitLab instance and the token to call it with.
///
/// The token goes out as `Authorization: Bearer`, which GitLab accepts for personal, project
/// and group access tokens as well as OAuth tokens. Every request is reported to the
/// [`HttpAudit`] hook, if one is set ([`GitLab::with_audit`]).
#[derive(Clone)]
pub struct GitLab {
    instance: Url,
    token: Token,
    http: reqwest::Client,
    /// For [`GitLab::api`]: follows no redirects, so an answer cannot send the token elsewhere.
    api: reqwest::Client,
    audit: Option<Arc<dyn HttpAudit>>,
}

impl std::fmt::Debug for GitLab {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("GitLab")
            .field("instance", &self.instance.as_str())
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// One HTTP request to GitLab, as the audit hook sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpExchange {
    /// `GET`, `POST` …
    pub method: String,
    /// The URL, without credentials (the token travels in a header, never in the URL).
    pub url: String,
    /// The status, or `None` when no answer came.
    pub status: Option<u16>,
    /// From sending the request to reading the whole body.
    pub duration: Duration,
}

/// Receives every [`HttpExchange`] a [`GitLab`] makes; the runner writes them to its audit log.
pub trait HttpAudit: Send + Sync {
    /// Called once per request, after it completed or failed.
    fn record(&self, exchange: &HttpExchange);
}

/// The answer to [`GitLab::api`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    /// The HTTP status.
    pub status: u16,
    /// The response headers (names lower case; `set-cookie` left out).
    pub headers: BTreeMap<String, String>,
    /// The body, as text (invalid UTF-8 replaced).
    pub body: String,
}

/// The body of `POST /api/v4/ai/duo_workflows/workflows`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NewWorkflow {
    /// The user's goal.
    pub goal: String,
    /// E.g. `software_development`.
    pub workflow_definition: String,
    /// Where the workflow runs, e.g. `ide` (a local client) or `web`.
    pub environment: String,
    /// The project's numeric ID or its URL-encoded path.
    pub project_id: String,
    /// Whether the agent may stop and ask the user (INPUT_REQUIRED).
    pub allow_agent_to_request_user: bool,
    /// The privileges the agent may use (GitLab's numeric privilege ids); absent means
    /// GitLab's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_privileges: Option<Vec<u32>>,
    /// The privileges used without asking; absent means GitLab's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_approved_agent_privileges: Option<Vec<u32>>,
}

/// What GitLab answers to a workflow creation (the fields dw uses).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CreatedWorkflow {
    /// The workflow's id, for `startRequest.workflowID` and the GitLab UI.
    pub id: u64,
    /// Its status, e.g. `created`, when GitLab says.
    #[serde(default)]
    pub status: Option<String>,
}

/// What `POST /api/v4/ai/duo_workflows/direct_access` answers: how to reach the Duo Workflow
/// Service directly over gRPC.
#[derive(Debug, Clone, Deserialize)]
pub struct DirectAccess {
    /// The service's address and credentials.
    pub duo_workflow_service: ServiceAccess,
    /// A short-lived OAuth token for the GitLab API, when GitLab issues one.
    #[serde(default)]
    pub gitlab_rails: Option<RailsAccess>,
}

/// `direct_access.duo_workflow_service`.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceAccess {
    /// The gRPC address: `host:port` (GitLab's form, e.g. `cloud.gitlab.com:443`) or a URL.
    pub base_url: String,
    /// The service token (a JWT), sent as `authorization: Bearer`.
    pub token: Token,
    /// Headers to send as gRPC metadata (`X-Gitlab-Instance-Id`, `X-Gitlab-Realm` …).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Whether to use TLS; GitLab sends `true` except for local development services.
    #[serde(default = "default_secure")]
    pub secure: bool,
}

fn default_secure() -> bool {
    true
}

/// `direct_access.gitlab_rails`.
#[derive(Debug, Clone, Deserialize)]
pub struct RailsAccess {
    /// The instance's URL.
    pub base_url: String,
    /// An OAuth token scoped to `ai_workflows`.
    pub token: Token,
}

impl GitLab {
    /// A client of the instance at `instance_url` (e.g. `https://gitlab.com`, or with a
    /// relative URL root such as `https://example.com/gitlab`).
    pub fn new(instance_url: &str, token: Token) -> Result<Self> {
        let instance = parse_instance_url(instance_url)?;
        let build = |redirects: reqwest::redirect::Policy| {
            reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .user_agent(concat!("dw/", env!("CARGO_PKG_VERSION")))
                .redirect(redirects)
                .build()
                .map_err(|source| Error::Request {
                    endpoint: "building the HTTP client",
                    source,
                })
        };
        Ok(Self {
            instance,
            token,
            http: build(reqwest::redirect::Policy::default())?,
            api: build(reqwest::redirect::Policy::none())?,
            audit: None,
        })
    }

    /// Reports every request to `audit` from now on.
    pub fn with_audit(mut self, audit: Arc<dyn HttpAudit>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// The instance's URL, always ending in `/`.
    pub fn instance_url(&self) -> &Url {
        &self.instance
    }

    /// The token this client sends.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// Creates a workflow; its id starts the session.
    pub async fn create_workflow(&self, workflow: &NewWorkflow) -> Result<CreatedWorkflow> {
        self.post(WORKFLOWS, "api/v4/ai/duo_workflows/workflows", workflow)
            .await
    }

    /// Asks for the Duo Workflow Service's address, a service token and the headers to send,
    /// for the gRPC route. The service token is short-lived: ask again before reconnecting.
    pub async fn direct_access(&self) -> Result<DirectAccess> {
        self.post(
            DIRECT_ACCESS,
            "api/v4/ai/duo_workflows/direct_access",
            &serde_json::json!({}),
        )
        .await
    }

    /// Makes a GitLab REST API request for the agent (`runHTTPRequest`) and returns GitLab's
    /// answer whatever its status. `path` is the path and query under the instance's root
    /// (`/api/v4/projects/1/merge_requests/7`); a path that would leave the instance is an
    /// error. Which methods and paths are allowed is the caller's policy, not this crate's.
    pub async fn api(&self, method: &str, path: &str, body: Option<&str>) -> Result<ApiResponse> {
        const ENDPOINT: &str = "a GitLab API request";
        let invalid = |reason: &str| Error::InvalidUrl {
            what: "GitLab API path",
            url: path.to_owned(),
            reason: reason.to_owned(),
        };
        let url = self
            .instance
            .join(path.trim_start_matches('/'))
            .map_err(|error| invalid(&error.to_string()))?;
        if url.origin() != self.instance.origin() || !url.path().starts_with(self.instance.path()) {
            return Err(invalid("it leaves the GitLab instance"));
        }
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| invalid("the method is not an HTTP method"))?;
        let mut request = self
            .api
            .request(method.clone(), url.clone())
            .header(reqwest::header::AUTHORIZATION, self.token.bearer());
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_owned());
        }
        let started = Instant::now();
        let answer = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .filter(|(name, _)| *name != reqwest::header::SET_COOKIE)
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = response.text().await?;
            Ok::<_, reqwest::Error>(ApiResponse {
                status,
                headers,
                body,
            })
        }
        .await;
        self.report(
            method.as_str(),
            &url,
            answer.as_ref().ok().map(|answer| answer.status),
            started,
        );
        answer.map_err(|source| Error::Request {
            endpoint: ENDPOINT,
            source,
        })
    }

    fn report(&self, method: &str, url: &Url, status: Option<u16>, started: Instant) {
        if let Some(audit) = &self.audit {
            audit.record(&HttpExchange {
                method: method.to_owned(),
                url: url.to_string(),
                status,
                duration: started.elapsed(),
            });
        }
    }

    async fn post<Body: Serialize, Answer: serde::de::DeserializeOwned>(
        &self,
        endpoint: &'static str,
        path: &str,
        body: &Body,
    ) -> Result<Answer> {
        let url = self
            .instance
            .join(path)
            .map_err(|error| Error::InvalidUrl {
                what: "GitLab instance URL",
                url: self.instance.to_string(),
                reason: error.to_string(),
            })?;
        let started = Instant::now();
        let answer = async {
            let response = self
                .http
                .post(url.clone())
                .header(reqwest::header::AUTHORIZATION, self.token.bearer())
                .json(body)
                .send()
                .await?;
            let status = response.status();
            Ok::<_, reqwest::Error>((status, response.text().await?))
        }
        .await;
        self.report(
            "POST",
            &url,
            answer.as_ref().ok().map(|(status, _)| status.as_u16()),
            started,
        );
        let (status, text) = answer.map_err(|source| Error::Request { endpoint, source })?;
        if !status.is_success() {
            return Err(Error::Api {
                endpoint,
                status: status.as_u16(),
                message: self.quote(&text),
                hint: http_hint(status.as_u16()),
            });
        }
        serde_json::from_str(&text).map_err(|source| Error::Decode {
            what: endpoint,
            source,
        })
    }

    /// The start of an error body, with the token taken out.
    fn quote(&self, body: &str) -> String {
        let message = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|json| json.get("message").or_else(|| json.get("error")).cloned())
            .map(|message| match message {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            })
            .unwrap_or_else(|| body.trim().to_owned());
        let shortened: String = message.chars().take(QUOTED_BODY_LIMIT).collect();
        let redacted = self.token.redact(&shortened);
        if redacted.is_empty() {
            "(no message)".to_owned()
        } else {
            redacted
        }
    }
}

/// Parses an instance URL and makes it end in `/`, so that joining keeps a relative URL root.
pub(crate) fn parse_instance_url(instance_url: &str) -> Result<Url> {
    let invalid = |reason: String| Error::InvalidUrl {
        what: "GitLab instance URL",
        url: instance_url.to_owned(),
        reason,
    };
    let mut url = Url::parse(instance_url).map_err(|error| invalid(error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "the scheme must be http or https, not `{}`",
            url.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Quote the URL without what it must not carry.
        let _ = (url.set_username(""), url.set_password(None));
        return Err(Error::InvalidUrl {
            what: "GitLab instance URL",
            url: url.to_string(),
            reason: "credentials in the URL are not allowed; pass the token separately".to_owned(),
        });
    }
    url.set_query(None);
    url.set_fragment(None);
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::parse_instance_url;

    #[test]
    fn instance_urls_keep_their_root_and_refuse_credentials() {
        assert_eq!(
            parse_instance_url("https://gitlab.com").unwrap().as_str(),
            "https://gitlab.com/"
        );
        assert_eq!(
            parse_instance_url("https://example.com/gitlab?x=1")
                .unwrap()
                .as_str(),
            "https://example.com/gitlab/"
        );
        assert!(parse_instance_url("ftp://example.com").is_err());
        let error = parse_instance_url("https://user:secret@example.com").unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(
            shown.contains("credentials") && !shown.contains("secret"),
            "{shown}"
        );
    }
}
