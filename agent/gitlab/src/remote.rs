//! The GitLab instance and project behind a git remote URL.
//!
//! Understood forms:
//! - scp-like SSH: `git@gitlab.example.com:group/sub/project.git`
//! - `ssh://git@host:2222/group/project.git` (the SSH port says nothing about the web port, so
//!   the instance is `https://host`)
//! - `https://gitlab.com/group/project.git`, `http://host:8080/group/project` (credentials in
//!   the URL are dropped, never kept)
//!
//! An instance served under a relative path (`https://example.com/gitlab/…`) cannot be told
//! apart from a group named `gitlab`; such users set `GITLAB_URL` and `--gitlab-project`.

use reqwest::Url;

/// Where a remote's project lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteProject {
    /// The instance's web address, e.g. `https://gitlab.example.com`.
    pub instance_url: String,
    /// The project's full path, e.g. `group/sub/project`.
    pub project_path: String,
}

/// Why a remote URL names no GitLab project.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the git remote `{remote}` does not name a GitLab project ({reason}): pass --gitlab-project and --gitlab-url (or GITLAB_URL)"
)]
pub struct RemoteError {
    /// The remote as given, credentials removed.
    pub remote: String,
    /// What was wrong.
    pub reason: &'static str,
}

/// The instance and project path of a git remote URL.
pub fn parse_remote(remote: &str) -> Result<RemoteProject, RemoteError> {
    let remote = remote.trim();
    let error = |reason| RemoteError {
        remote: without_credentials(remote),
        reason,
    };
    let (instance_url, path) = if remote.contains("://") {
        let url = Url::parse(remote).map_err(|_| error("not a valid URL"))?;
        let host = url.host_str().ok_or_else(|| error("it has no host"))?;
        let instance_url = match url.scheme() {
            "https" | "http" => match url.port() {
                Some(port) => format!("{}://{host}:{port}", url.scheme()),
                None => format!("{}://{host}", url.scheme()),
            },
            "ssh" | "git+ssh" => format!("https://{host}"),
            _ => return Err(error("the scheme is not http, https or ssh")),
        };
        (instance_url, url.path().to_owned())
    } else {
        // scp-like: [user@]host:path
        let (authority, path) = remote
            .split_once(':')
            .ok_or_else(|| error("it is neither a URL nor user@host:path"))?;
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        if host.is_empty() || host.contains('/') || path.starts_with("//") {
            return Err(error("it is neither a URL nor user@host:path"));
        }
        (format!("https://{host}"), path.to_owned())
    };
    let path = path.trim_matches('/');
    let path = path
        .strip_suffix(".git")
        .unwrap_or(path)
        .trim_end_matches('/');
    if !path.contains('/') || path.split('/').any(str::is_empty) {
        return Err(error("the path is not namespace/project"));
    }
    Ok(RemoteProject {
        instance_url,
        project_path: path.to_owned(),
    })
}

fn without_credentials(remote: &str) -> String {
    match Url::parse(remote) {
        Ok(mut url) if url.password().is_some() || !url.username().is_empty() => {
            // Setting these only fails for URLs that cannot have credentials at all.
            let _ = url.set_password(None);
            let _ = url.set_username("");
            url.to_string()
        }
        _ => remote.to_owned(),
    }
}
