//! `git-project`: the workspace is a git repository with a GitLab remote and a branch.

use std::path::Path;

use futures_util::future::BoxFuture;

use crate::check::{CheckError, CheckResult};
use crate::context::Context;
use crate::finding::{Outcome, Status};

/// `git-project`.
pub fn git_project(context: &Context) -> BoxFuture<'_, CheckResult> {
    Box::pin(async move {
        let workspace = &context.settings.workspace;
        let inside = git(workspace, &["rev-parse", "--is-inside-work-tree"]).await?;
        if inside.as_deref() != Some("true") {
            return Ok(Outcome::fail(format!("{} is not a git repository", workspace.display()))
                .fix("run doctor in your project (`--workspace DIR`), or `git init` there and add the GitLab remote (`git remote add origin git@gitlab.com:group/project.git`)"));
        }
        let remotes = git(workspace, &["remote", "-v"]).await?.unwrap_or_default();
        let gitlab_host = context.settings.gitlab.host();
        let mut gitlab_remotes: Vec<String> = remotes
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let name = fields.next()?;
                let url = fields.next()?;
                let host = remote_host(url)?;
                let is_gitlab =
                    host.contains("gitlab") || gitlab_host.as_deref() == Some(host.as_str());
                is_gitlab.then(|| format!("remote {name}: {url}"))
            })
            .collect();
        gitlab_remotes.dedup();
        let branch = git(workspace, &["symbolic-ref", "--quiet", "--short", "HEAD"]).await?;
        let mut evidence = gitlab_remotes.clone();
        let mut problems = Vec::new();
        let mut fixes = Vec::new();
        if gitlab_remotes.is_empty() {
            problems.push("no GitLab remote");
            evidence.push(if remotes.is_empty() {
                "no remotes".to_owned()
            } else {
                format!(
                    "remotes: {}",
                    remotes
                        .lines()
                        .filter(|line| line.ends_with("(fetch)"))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            });
            fixes.push("add the project's GitLab remote: `git remote add origin git@gitlab.com:group/project.git` (set GITLAB_URL for a self-managed instance whose host name lacks \"gitlab\")");
        }
        match &branch {
            Some(branch) => evidence.push(format!("branch {branch}")),
            None => {
                problems.push("HEAD is detached");
                fixes.push("check out a branch: `git switch -c my-branch`");
            }
        }
        let status = if problems.is_empty() {
            Status::Pass
        } else {
            Status::Warn
        };
        let summary = if problems.is_empty() {
            format!(
                "a git repository with a GitLab remote, on branch {}",
                branch.unwrap_or_default()
            )
        } else {
            format!("a git repository, but {}", problems.join(" and "))
        };
        let outcome = Outcome::new(status, summary).evidence_lines(evidence);
        Ok(if fixes.is_empty() {
            outcome
        } else {
            outcome.fix(fixes.join("; "))
        })
    })
}

/// Runs git in `dir`; `None` when git exits unsuccessfully.
async fn git(dir: &Path, args: &[&str]) -> Result<Option<String>, CheckError> {
    let output = tokio::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .await
        .map_err(|source| CheckError::Io {
            action: "run git in",
            target: dir.to_owned(),
            source,
        })?;
    Ok(output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned()))
}

/// The host of a remote URL: `https://host/…`, `ssh://user@host:port/…`, `user@host:path`.
pub fn remote_host(url: &str) -> Option<String> {
    let authority = match url.split_once("://") {
        Some((_, rest)) => rest.split('/').next()?,
        None => url.split_once(':')?.0,
    };
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = host.split(':').next()?;
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_hosts_are_read_from_every_url_form() {
        assert_eq!(
            remote_host("git@gitlab.com:group/project.git").as_deref(),
            Some("gitlab.com")
        );
        assert_eq!(
            remote_host("https://gitlab.example.com/group/project.git").as_deref(),
            Some("gitlab.example.com")
        );
        assert_eq!(
            remote_host("ssh://git@code.corp:2222/group/project.git").as_deref(),
            Some("code.corp")
        );
        assert_eq!(
            remote_host("https://user:pw@GitHub.com/o/r").as_deref(),
            Some("github.com")
        );
    }
}
