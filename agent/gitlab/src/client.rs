//! The client: one method per read-only GitLab tool, every request a `GET`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{HeaderMap, HeaderValue, LOCATION};
use reqwest::{Response, StatusCode, Url};
use serde::Serialize;
use serde_json::Value;

use crate::audit::{HttpAudit, HttpExchange};
use crate::error::GitLabError;

/// How GitLab wants a project path in a URL: every `/` (and anything else unusual) encoded.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Items per page; GitLab's merge request diffs endpoint failed above 30 on older versions.
const PER_PAGE: u32 = 30;

/// Where the client connects and how much it reads.
#[derive(Clone)]
pub struct GitLabConfig {
    /// The instance, e.g. `https://gitlab.example.com` (a trailing `/api/v4` is accepted).
    pub instance_url: String,
    /// A personal, project or group access token; the `read_api` scope is enough.
    pub token: String,
    /// The time limit of each request, body included.
    pub timeout: Duration,
    /// At most this many pages of a paginated list are read; the rest is reported as truncated.
    pub max_pages: u32,
    /// A job log longer than this keeps its last `max_log_bytes` bytes (failures are at the end).
    pub max_log_bytes: usize,
}

impl GitLabConfig {
    /// A configuration with the default limits: 30 s per request, 20 pages, 64 KiB of job log.
    pub fn new(instance_url: impl Into<String>, token: impl Into<String>) -> GitLabConfig {
        GitLabConfig {
            instance_url: instance_url.into(),
            token: token.into(),
            timeout: Duration::from_secs(30),
            max_pages: 20,
            max_log_bytes: 64 * 1024,
        }
    }
}

impl fmt::Debug for GitLabConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("GitLabConfig")
            .field("instance_url", &self.instance_url)
            .field("token", &"[REDACTED]")
            .field("timeout", &self.timeout)
            .field("max_pages", &self.max_pages)
            .field("max_log_bytes", &self.max_log_bytes)
            .finish()
    }
}

/// A project, by numeric id or by full path (`group/subgroup/project`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ProjectRef {
    /// The numeric project id.
    Id(u64),
    /// The full path, with namespaces.
    Path(String),
}

impl ProjectRef {
    /// An id when `text` is all digits, a path otherwise (surrounding `/` removed).
    pub fn parse(text: &str) -> ProjectRef {
        let text = text.trim().trim_matches('/');
        match text.parse::<u64>() {
            Ok(id) => ProjectRef::Id(id),
            Err(_) => ProjectRef::Path(text.to_owned()),
        }
    }

    fn url_segment(&self) -> String {
        match self {
            ProjectRef::Id(id) => id.to_string(),
            ProjectRef::Path(path) => utf8_percent_encode(path, PATH_SEGMENT).to_string(),
        }
    }
}

impl From<u64> for ProjectRef {
    fn from(id: u64) -> ProjectRef {
        ProjectRef::Id(id)
    }
}

impl From<&str> for ProjectRef {
    fn from(text: &str) -> ProjectRef {
        ProjectRef::parse(text)
    }
}

impl fmt::Display for ProjectRef {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProjectRef::Id(id) => write!(formatter, "{id}"),
            ProjectRef::Path(path) => formatter.write_str(path),
        }
    }
}

/// The items of a paginated list, and whether pages were left unread.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listing {
    /// Every item read, in GitLab's order.
    pub items: Vec<Value>,
    /// True when more pages existed than [`GitLabConfig::max_pages`].
    pub truncated: bool,
}

/// A job's log, possibly only its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobLog {
    /// The log text (invalid UTF-8 replaced); when truncated, starts with a note that says so.
    pub text: String,
    /// True when only the last [`GitLabConfig::max_log_bytes`] bytes are kept.
    pub truncated: bool,
    /// The size of the whole log in bytes.
    pub total_bytes: u64,
}

/// A read-only GitLab REST v4 client. Cheap to clone.
#[derive(Clone)]
pub struct GitLabClient {
    http: reqwest::Client,
    instance_url: String,
    token: HeaderValue,
    audit: Arc<dyn HttpAudit>,
    timeout: Duration,
    max_pages: u32,
    max_log_bytes: usize,
}

impl fmt::Debug for GitLabClient {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("GitLabClient")
            .field("instance_url", &self.instance_url)
            .field("token", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl GitLabClient {
    /// A client for `config`, reporting every request to `audit`.
    pub fn new(
        config: GitLabConfig,
        audit: Arc<dyn HttpAudit>,
    ) -> Result<GitLabClient, GitLabError> {
        let instance_url = normalise_instance_url(&config.instance_url)?;
        let mut token =
            HeaderValue::from_str(config.token.trim()).map_err(|_| GitLabError::InvalidToken)?;
        if token.is_empty() {
            return Err(GitLabError::InvalidToken);
        }
        token.set_sensitive(true);
        let http = reqwest::Client::builder()
            // A redirect would carry PRIVATE-TOKEN to wherever it points: never follow one.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("dw/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| GitLabError::Network {
                url: instance_url.clone(),
                source: source.without_url(),
            })?;
        Ok(GitLabClient {
            http,
            instance_url,
            token,
            audit,
            timeout: config.timeout,
            max_pages: config.max_pages.max(1),
            max_log_bytes: config.max_log_bytes,
        })
    }

    /// The instance's address, normalised (no trailing `/`, no `/api/v4`).
    pub fn instance_url(&self) -> &str {
        &self.instance_url
    }

    /// `GET /projects/:id`.
    pub async fn get_project(&self, project: &ProjectRef) -> Result<Value, GitLabError> {
        let url = self.url(&format!("projects/{}", project.url_segment()), &[])?;
        self.get_json(url, "project").await.map(|(value, _)| value)
    }

    /// `GET /projects/:id/merge_requests/:merge_request_iid`.
    pub async fn get_merge_request(
        &self,
        project: &ProjectRef,
        merge_request_iid: u64,
    ) -> Result<Value, GitLabError> {
        let path = format!(
            "projects/{}/merge_requests/{merge_request_iid}",
            project.url_segment()
        );
        let url = self.url(&path, &[])?;
        self.get_json(url, "merge request")
            .await
            .map(|(value, _)| value)
    }

    /// `GET /projects/:id/merge_requests/:merge_request_iid/diffs`, every page up to the bound.
    pub async fn get_merge_request_diffs(
        &self,
        project: &ProjectRef,
        merge_request_iid: u64,
    ) -> Result<Listing, GitLabError> {
        let path = format!(
            "projects/{}/merge_requests/{merge_request_iid}/diffs",
            project.url_segment()
        );
        self.get_pages(&path, &[], "merge request").await
    }

    /// `GET /projects/:id/merge_requests/:merge_request_iid/pipelines`, newest first.
    pub async fn list_merge_request_pipelines(
        &self,
        project: &ProjectRef,
        merge_request_iid: u64,
    ) -> Result<Listing, GitLabError> {
        let path = format!(
            "projects/{}/merge_requests/{merge_request_iid}/pipelines",
            project.url_segment()
        );
        self.get_pages(&path, &[], "merge request").await
    }

    /// `GET /projects/:id/pipelines/:pipeline_id/jobs?scope[]=failed`.
    pub async fn get_pipeline_failed_jobs(
        &self,
        project: &ProjectRef,
        pipeline_id: u64,
    ) -> Result<Listing, GitLabError> {
        let path = format!(
            "projects/{}/pipelines/{pipeline_id}/jobs",
            project.url_segment()
        );
        self.get_pages(&path, &[("scope[]", "failed")], "pipeline")
            .await
    }

    /// `GET /projects/:id/jobs/:job_id/trace`: the job's log as text, its end kept when long.
    pub async fn get_job_log(
        &self,
        project: &ProjectRef,
        job_id: u64,
    ) -> Result<JobLog, GitLabError> {
        let path = format!("projects/{}/jobs/{job_id}/trace", project.url_segment());
        let url = self.url(&path, &[])?;
        let started = Instant::now();
        let result = self.read_log(&url).await;
        self.record(&url, &result, started);
        result.map(|(log, _)| log)
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, GitLabError> {
        let text = format!("{}/api/v4/{path}", self.instance_url);
        let mut url = Url::parse(&text).map_err(|error| GitLabError::InvalidInstanceUrl {
            url: self.instance_url.clone(),
            reason: error.to_string(),
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// The only way this crate builds a request: a `GET` with the token header.
    fn get(&self, url: &Url) -> reqwest::RequestBuilder {
        self.http
            .get(url.clone())
            .header("PRIVATE-TOKEN", self.token.clone())
    }

    async fn get_pages(
        &self,
        path: &str,
        query: &[(&str, &str)],
        what: &'static str,
    ) -> Result<Listing, GitLabError> {
        let mut items = Vec::new();
        let mut page: u32 = 1;
        let per_page = PER_PAGE.to_string();
        loop {
            let page_text = page.to_string();
            let mut pairs = query.to_vec();
            pairs.extend([
                ("page", page_text.as_str()),
                ("per_page", per_page.as_str()),
            ]);
            let url = self.url(path, &pairs)?;
            let (value, headers) = self.get_json(url.clone(), what).await?;
            match value {
                Value::Array(page_items) => items.extend(page_items),
                _ => {
                    return Err(GitLabError::InvalidResponse {
                        url: url.to_string(),
                        reason: "expected a JSON array".to_owned(),
                    });
                }
            }
            let next = headers
                .get("x-next-page")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u32>().ok());
            match next {
                Some(next) if next > page && page < self.max_pages => page = next,
                Some(next) if next > page => {
                    return Ok(Listing {
                        items,
                        truncated: true,
                    });
                }
                _ => {
                    return Ok(Listing {
                        items,
                        truncated: false,
                    });
                }
            }
        }
    }

    async fn get_json(
        &self,
        url: Url,
        what: &'static str,
    ) -> Result<(Value, HeaderMap), GitLabError> {
        let started = Instant::now();
        let result = self.read_json(&url, what).await;
        self.record(&url, &result, started);
        result.map(|(value, headers, _)| (value, headers))
    }

    async fn read_json(
        &self,
        url: &Url,
        what: &'static str,
    ) -> Result<(Value, HeaderMap, u16), GitLabError> {
        let response = self.send(url, what).await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|error| self.transport_error(url, error))?;
        let value =
            serde_json::from_slice(&body).map_err(|error| GitLabError::InvalidResponse {
                url: url.to_string(),
                reason: error.to_string(),
            })?;
        Ok((value, headers, status))
    }

    async fn read_log(&self, url: &Url) -> Result<(JobLog, u16), GitLabError> {
        let mut response = self.send(url, "job").await?;
        let status = response.status().as_u16();
        let limit = self.max_log_bytes;
        let mut tail: Vec<u8> = Vec::new();
        let mut total_bytes: u64 = 0;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.transport_error(url, error))?
        {
            total_bytes += chunk.len() as u64;
            tail.extend_from_slice(&chunk);
            // Trim in batches so a long log costs linear time, not a copy per chunk.
            if tail.len() > limit.saturating_mul(2).max(64 * 1024) {
                tail.drain(..tail.len() - limit);
            }
        }
        let truncated = total_bytes > limit as u64;
        if truncated {
            tail.drain(..tail.len().saturating_sub(limit));
            // Do not start in the middle of a UTF-8 sequence.
            let continuation = tail
                .iter()
                .take(3)
                .take_while(|byte| **byte & 0xC0 == 0x80)
                .count();
            tail.drain(..continuation);
        }
        let log = String::from_utf8_lossy(&tail);
        let text = if truncated {
            format!(
                "[dw: job log truncated: showing the last {} of {total_bytes} bytes]\n{log}",
                tail.len()
            )
        } else {
            log.into_owned()
        };
        Ok((
            JobLog {
                text,
                truncated,
                total_bytes,
            },
            status,
        ))
    }

    /// Sends the request and turns every unsuccessful status into a teaching error.
    async fn send(&self, url: &Url, what: &'static str) -> Result<Response, GitLabError> {
        let response = self
            .get(url)
            .send()
            .await
            .map_err(|error| self.transport_error(url, error))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let url_text = url.to_string();
        let error = match status {
            StatusCode::UNAUTHORIZED => GitLabError::Unauthorized { url: url_text },
            StatusCode::FORBIDDEN => GitLabError::Forbidden { url: url_text },
            StatusCode::NOT_FOUND => GitLabError::NotFound {
                what,
                url: url_text,
            },
            StatusCode::TOO_MANY_REQUESTS => GitLabError::RateLimited { url: url_text },
            status if status.is_redirection() => GitLabError::Redirected {
                url: url_text,
                status: status.as_u16(),
                location: response
                    .headers()
                    .get(LOCATION)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("(no Location header)")
                    .to_owned(),
            },
            status => {
                let body = response.text().await.unwrap_or_default();
                GitLabError::Status {
                    url: url_text,
                    status: status.as_u16(),
                    message: error_message(&body),
                }
            }
        };
        // The failed exchange is audited by the caller, with its status.
        Err(error)
    }

    fn transport_error(&self, url: &Url, error: reqwest::Error) -> GitLabError {
        if error.is_timeout() {
            GitLabError::Timeout {
                url: url.to_string(),
                seconds: self.timeout.as_secs(),
            }
        } else {
            GitLabError::Network {
                url: url.to_string(),
                source: error.without_url(),
            }
        }
    }

    fn record<T>(&self, url: &Url, result: &Result<T, GitLabError>, started: Instant)
    where
        T: HasStatus,
    {
        let status = match result {
            Ok(value) => Some(value.status()),
            Err(error) => status_of(error),
        };
        self.audit.record(&HttpExchange {
            method: "GET",
            url: url.to_string(),
            status,
            duration: started.elapsed(),
        });
    }
}

/// The status of a successful read, for the audit record.
trait HasStatus {
    fn status(&self) -> u16;
}

impl HasStatus for (Value, HeaderMap, u16) {
    fn status(&self) -> u16 {
        self.2
    }
}

impl HasStatus for (JobLog, u16) {
    fn status(&self) -> u16 {
        self.1
    }
}

fn status_of(error: &GitLabError) -> Option<u16> {
    match error {
        GitLabError::Unauthorized { .. } => Some(401),
        GitLabError::Forbidden { .. } => Some(403),
        GitLabError::NotFound { .. } => Some(404),
        GitLabError::RateLimited { .. } => Some(429),
        GitLabError::Redirected { status, .. } | GitLabError::Status { status, .. } => {
            Some(*status)
        }
        // The body was not JSON, but the status was a success.
        GitLabError::InvalidResponse { .. } => Some(200),
        GitLabError::InvalidInstanceUrl { .. }
        | GitLabError::InvalidToken
        | GitLabError::Timeout { .. }
        | GitLabError::Network { .. } => None,
    }
}

/// GitLab's error bodies are `{"message": …}` (a string or an object of field errors) or
/// `{"error": …}`; anything else is quoted briefly.
fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let field = parsed
        .as_ref()
        .and_then(|value| value.get("message").or_else(|| value.get("error")));
    match field {
        Some(Value::String(message)) => message.clone(),
        Some(other) => other.to_string(),
        None => body.chars().take(200).collect::<String>().trim().to_owned(),
    }
}

fn normalise_instance_url(text: &str) -> Result<String, GitLabError> {
    let invalid = |reason: &str| GitLabError::InvalidInstanceUrl {
        url: without_credentials(text),
        reason: reason.to_owned(),
    };
    let url = Url::parse(text.trim()).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "it contains credentials; put the token in GITLAB_TOKEN instead",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or a fragment"));
    }
    let trimmed = url.as_str().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/api/v4").unwrap_or(trimmed);
    Ok(trimmed.to_owned())
}

/// `text` with anything between `scheme://` and `@` elided, for messages.
fn without_credentials(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://…{}", &rest[at..]),
        None => text.to_owned(),
    }
}
