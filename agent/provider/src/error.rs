//! What can go wrong asking a model, and what to do about it.

use std::path::PathBuf;

/// An error from a provider. Messages never contain the API key.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The key's environment variable is unset or empty.
    #[error(
        "{env_var} is not set: export your {provider} API key as {env_var}, or pick another --provider"
    )]
    MissingKey {
        /// The provider's display name.
        provider: &'static str,
        /// The variable to set.
        env_var: &'static str,
    },
    /// The key cannot be sent as an HTTP header (control characters, newline).
    #[error(
        "the {provider} API key in {env_var} contains characters a header cannot carry: copy it again without line breaks or quotes"
    )]
    InvalidKey {
        /// The provider's display name.
        provider: &'static str,
        /// The variable it came from.
        env_var: &'static str,
    },
    /// The base URL is not an `http(s)://` URL.
    #[error("the {provider} base URL `{url}` is not valid ({reason}): fix {env_var}")]
    InvalidBaseUrl {
        /// The provider's display name.
        provider: &'static str,
        /// The variable it came from.
        env_var: &'static str,
        /// The URL as given, credentials elided.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The HTTP client could not be set up (TLS roots).
    #[error("cannot set up an HTTP client for {provider}: {source}")]
    Client {
        /// The provider's display name.
        provider: &'static str,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// 401: the key was refused.
    #[error(
        "{provider} refused the API key ({status}: {message}): check {env_var}; it may be mistyped, revoked or for another organisation"
    )]
    Unauthorized {
        /// The provider's display name.
        provider: &'static str,
        /// The variable the key came from.
        env_var: &'static str,
        /// The HTTP status.
        status: u16,
        /// The API's message.
        message: String,
    },
    /// A status that retrying will not fix (400, 403, 404, 413, 422, …).
    #[error(
        "{provider} rejected the request ({status}: {message}): check --model and the request size; if it persists this is a bug in dw"
    )]
    Rejected {
        /// The provider's display name.
        provider: &'static str,
        /// The HTTP status.
        status: u16,
        /// The API's message.
        message: String,
    },
    /// Still 429/5xx after every attempt.
    #[error(
        "{provider} is unavailable ({status}: {message}) after {attempts} attempts: wait and `dw workflows resume`, or check the provider's status page and your rate limits"
    )]
    Unavailable {
        /// The provider's display name.
        provider: &'static str,
        /// The last HTTP status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// The API's last message.
        message: String,
    },
    /// No response after every attempt (connection refused, DNS, timeout).
    #[error(
        "cannot reach {provider} at {url} after {attempts} attempts: {source}. Check the network and the base URL; a local server must be running"
    )]
    Unreachable {
        /// The provider's display name.
        provider: &'static str,
        /// The URL, without secrets.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last cause.
        #[source]
        source: reqwest::Error,
    },
    /// A successful status with a body that is not the documented shape.
    #[error(
        "{provider} answered with a response dw does not understand ({reason}): check that the base URL points at the provider's API, not a proxy or web page"
    )]
    InvalidResponse {
        /// The provider's display name.
        provider: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The script file cannot be read.
    #[error("cannot read the script {path}: {source}")]
    ScriptRead {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line of the script is not a turn.
    #[error(
        "{path}:{line}: not a script turn ({reason}); each line is {{\"text\": \"…\", \"tool_calls\": [{{\"name\": \"…\", \"input\": {{…}}}}]}}"
    )]
    ScriptLine {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// The workflow asked for more turns than the script has.
    #[error(
        "the script {path} has {turns} turns and the workflow asked for turn {requested}: add turns, or end the script with a turn without tool calls"
    )]
    ScriptExhausted {
        /// The file.
        path: PathBuf,
        /// Turns in the script.
        turns: usize,
        /// The 1-based turn asked for.
        requested: usize,
    },
}
