//! `socket-setting` and `extension-version`: what VS Code needs to run GitLab Duo Workflow.

use std::path::{Path, PathBuf};

use dw_runtime::endpoint::Endpoint;
use dw_runtime::engine::Engine;
use dw_runtime::kind::RuntimeKind;
use dw_runtime::vscode::{self, DOCKER_SOCKET_SETTING, GITLAB_WORKFLOW_EXTENSION};
use futures_util::future::BoxFuture;

use crate::check::{CheckError, CheckResult};
use crate::context::Context;
use crate::finding::{Outcome, Status};

/// The oldest GitLab Workflow extension with Duo Workflow's Docker socket support.
pub const MINIMUM_EXTENSION: semver::Version = semver::Version::new(5, 16, 0);

const SETTINGS_FIX: &str =
    "run `dw setup --only settings` to write the engine's socket into every VS Code settings file";

/// `socket-setting`: the setting in every existing settings file, and where it points.
pub fn socket_setting(context: &Context) -> BoxFuture<'_, CheckResult> {
    Box::pin(async move {
        let files = vscode::existing_settings_files(&context.settings.user_dirs, context.os());
        if files.is_empty() {
            return Ok(Outcome::skip(
                "no VS Code settings file exists on this machine",
            ));
        }
        let checked = context
            .engine
            .as_ref()
            .map(|engine| engine.endpoint.clone());
        let mut worst = Status::Pass;
        let mut evidence = Vec::new();
        for file in &files {
            let (status, line) = assess_file(&file.path, checked.as_ref(), context).await?;
            worst = worst.max(status);
            evidence.push(format!("{} ({}): {line}", file.path.display(), file.owner));
        }
        let summary = match worst {
            Status::Pass => format!("{DOCKER_SOCKET_SETTING} points at the engine doctor checks"),
            Status::Warn => format!(
                "{DOCKER_SOCKET_SETTING} points at another engine than the one doctor checks"
            ),
            _ => format!("{DOCKER_SOCKET_SETTING} is missing or stale"),
        };
        let outcome = Outcome::new(worst, summary).evidence_lines(evidence);
        Ok(if worst == Status::Pass {
            outcome
        } else {
            outcome.fix(SETTINGS_FIX)
        })
    })
}

async fn assess_file(
    path: &Path,
    checked: Option<&Endpoint>,
    context: &Context,
) -> Result<(Status, String), CheckError> {
    let text = std::fs::read_to_string(path).map_err(|source| CheckError::Io {
        action: "read",
        target: path.to_owned(),
        source,
    })?;
    let value = match dw_runtime::jsonc::get(&text, DOCKER_SOCKET_SETTING) {
        Ok(value) => value,
        Err(error) => return Ok((Status::Fail, format!("cannot be read: {error}"))),
    };
    let Some(value) = value else {
        return Ok((Status::Fail, "the setting is missing".to_owned()));
    };
    let Some(address) = value.as_str() else {
        return Ok((
            Status::Fail,
            format!("the setting is not a string: {value}"),
        ));
    };
    let endpoint = match Endpoint::parse(address) {
        Ok(endpoint) => endpoint,
        Err(error) => return Ok((Status::Fail, error.to_string())),
    };
    if let Endpoint::Unix(socket) = &endpoint
        && !socket.exists()
    {
        return Ok((Status::Fail, format!("{address} does not exist (stale)")));
    }
    if let Some(checked) = checked
        && same_endpoint(&endpoint, checked)
    {
        return Ok((Status::Pass, format!("{address}, the engine doctor checks")));
    }
    match Engine::connect(&endpoint, RuntimeKind::Custom, context.settings.deadline).await {
        Ok(_) if checked.is_some() => Ok((
            Status::Warn,
            format!("{address} answers, but doctor checks another engine"),
        )),
        Ok(_) => Ok((Status::Pass, format!("{address} answers"))),
        Err(error) => Ok((Status::Fail, format!("{address} does not answer: {error}"))),
    }
}

fn same_endpoint(left: &Endpoint, right: &Endpoint) -> bool {
    match (left, right) {
        (Endpoint::Unix(left), Endpoint::Unix(right)) => canonical(left) == canonical(right),
        _ => left == right,
    }
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// `extension-version`: the GitLab Workflow extension, at least [`MINIMUM_EXTENSION`].
pub fn extension_version(context: &Context) -> BoxFuture<'_, CheckResult> {
    let home = context.settings.user_dirs.home.clone();
    Box::pin(async move {
        let installed = vscode::installed_extension(&home, GITLAB_WORKFLOW_EXTENSION);
        let evidence: Vec<String> = installed
            .iter()
            .map(|extension| {
                format!(
                    "{} {} in {} ({})",
                    GITLAB_WORKFLOW_EXTENSION,
                    extension.version,
                    extension.flavour,
                    extension.path.display()
                )
            })
            .collect();
        let install = format!(
            "`code --install-extension {GITLAB_WORKFLOW_EXTENSION}` (or the flavour's own command), then reload VS Code"
        );
        if installed.is_empty() {
            return Ok(Outcome::warn(format!("the GitLab Workflow extension ({GITLAB_WORKFLOW_EXTENSION}) is not installed in any VS Code flavour"))
                .evidence("it is needed to run GitLab Duo Workflow from VS Code; dw's own workflows do not need it")
                .fix(format!("install it: {install}")));
        }
        if let Some(recent) = installed
            .iter()
            .find(|extension| extension.version >= MINIMUM_EXTENSION)
        {
            return Ok(Outcome::pass(format!(
                "GitLab Workflow {} in {}",
                recent.version, recent.flavour
            ))
            .evidence_lines(evidence));
        }
        Ok(Outcome::fail(format!(
            "the GitLab Workflow extension is older than {MINIMUM_EXTENSION}"
        ))
        .evidence_lines(evidence)
        .fix(format!("update it: {install}")))
    })
}
