//! What can go wrong talking to GitLab, and what to do about it.

/// An error from a GitLab request. Messages never contain the token.
#[derive(Debug, thiserror::Error)]
pub enum GitLabError {
    /// The instance URL is not an `http(s)://` URL.
    #[error(
        "the GitLab instance URL `{url}` is not valid ({reason}): set GITLAB_URL or --gitlab-url to the instance's address, e.g. https://gitlab.example.com"
    )]
    InvalidInstanceUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The token is empty or cannot be sent as a header.
    #[error(
        "the GitLab token is empty or contains characters a header cannot carry: set GITLAB_TOKEN to a personal, project or group access token with the read_api scope"
    )]
    InvalidToken,
    /// 401: the token is missing, expired or revoked.
    #[error(
        "GitLab refused the token (401 Unauthorized) for {url}: GITLAB_TOKEN is missing, expired or revoked. Create an access token with the read_api scope (read_api is enough: dw only reads) and set GITLAB_TOKEN"
    )]
    Unauthorized {
        /// The URL requested.
        url: String,
    },
    /// 403: the token is valid but may not read this.
    #[error(
        "GitLab denied access (403 Forbidden) to {url}: the token lacks a scope or its user lacks a role. The read_api scope is enough for every dw tool, with at least Reporter access to the project"
    )]
    Forbidden {
        /// The URL requested.
        url: String,
    },
    /// 404: not there, or not visible to the token's user (GitLab does not tell which).
    #[error(
        "GitLab has no {what} at {url}, or the token's user cannot see it (GitLab answers 404 for both): check the project id or path and the number, and that the token's user is a member of the project"
    )]
    NotFound {
        /// What was asked for ("merge request", "job", …).
        what: &'static str,
        /// The URL requested.
        url: String,
    },
    /// A redirect, which dw does not follow: it would send the token to another address.
    #[error(
        "GitLab answered {url} with a redirect ({status}) to `{location}`: dw does not follow redirects with your token. Set GITLAB_URL to the instance's canonical address"
    )]
    Redirected {
        /// The URL requested.
        url: String,
        /// The status (301, 302, …).
        status: u16,
        /// The `Location` header.
        location: String,
    },
    /// 429: GitLab's rate limit.
    #[error(
        "GitLab rate-limited the request to {url} (429 Too Many Requests): wait a minute and retry, or ask the instance's administrators about its API rate limits"
    )]
    RateLimited {
        /// The URL requested.
        url: String,
    },
    /// Any other unsuccessful status.
    #[error("GitLab answered {url} with {status}: {message}")]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status.
        status: u16,
        /// GitLab's `message` or `error`, or the start of the body.
        message: String,
    },
    /// The request did not complete in time.
    #[error(
        "GitLab did not answer {url} within {seconds} s: check that the instance is reachable from this machine (VPN, proxy) and retry"
    )]
    Timeout {
        /// The URL requested.
        url: String,
        /// The time limit.
        seconds: u64,
    },
    /// The connection failed.
    #[error(
        "cannot reach GitLab at {url}: {source}. Check GITLAB_URL, the network (VPN, proxy) and that the instance is up"
    )]
    Network {
        /// The URL requested.
        url: String,
        /// The cause (without the URL, which is above).
        #[source]
        source: reqwest::Error,
    },
    /// The body is not the JSON GitLab documents.
    #[error(
        "GitLab's answer to {url} is not the expected JSON ({reason}): is GITLAB_URL the instance's address rather than a proxy or login page?"
    )]
    InvalidResponse {
        /// The URL requested.
        url: String,
        /// What was wrong with it.
        reason: String,
    },
}
