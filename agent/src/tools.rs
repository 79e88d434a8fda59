//! The tools the model gets: their definitions (names, descriptions, input schemas) and how the
//! ones that act are carried out — by the executor in the sandbox, or by the read-only GitLab
//! client on the host. The plan tools (`create_plan`, `update_plan`, `ask_user`, `finish`) are
//! the runner's own and are handled there.
//!
//! A tool's input is decoded into the executor protocol's own request types, which refuse
//! unknown fields: a misspelt option is an error the model sees, never a silent default.

use std::time::{Duration, Instant};

use dw_gitlab::{GitLabClient, GitLabError, ProjectRef};
use dw_protocol::request::{
    EditFile, FindFiles, Git, Grep, ListDir, Mkdir, ReadFile, RunCommand, WriteFile,
};
use dw_protocol::result::{CommandResult, EntryKind};
use dw_protocol::{ErrorKind, Operation};
use dw_provider::ToolDefinition;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::client::{Client, ClientError};
use crate::store::{AuditLog, AuditRecord, millis};

/// The most text of one tool result the model gets; longer output keeps its start and end.
pub const MAX_RESULT_BYTES: usize = 64 * 1024;

/// How long a command may run when the model sets no `timeout_ms`.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// Every tool, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// Executor: read a file.
    ReadFile,
    /// Executor: write a file.
    WriteFile,
    /// Executor: replace text in a file.
    EditFile,
    /// Executor: list a directory.
    ListDir,
    /// Executor: find files by glob.
    FindFiles,
    /// Executor: search file contents.
    Grep,
    /// Executor: create a directory.
    Mkdir,
    /// Executor: run a program.
    RunCommand,
    /// Executor: run git.
    Git,
    /// Runner: propose the plan.
    CreatePlan,
    /// Runner: change step statuses or the steps.
    UpdatePlan,
    /// Runner: ask the user a question.
    AskUser,
    /// Runner: end the workflow with a summary.
    Finish,
    /// GitLab: the project.
    GitLabGetProject,
    /// GitLab: a merge request.
    GitLabGetMergeRequest,
    /// GitLab: a merge request's diffs.
    GitLabGetMergeRequestDiffs,
    /// GitLab: a merge request's pipelines.
    GitLabListMergeRequestPipelines,
    /// GitLab: a pipeline's failed jobs.
    GitLabGetPipelineFailedJobs,
    /// GitLab: a job's log.
    GitLabGetJobLog,
}

const ALL: &[Tool] = &[
    Tool::ReadFile,
    Tool::WriteFile,
    Tool::EditFile,
    Tool::ListDir,
    Tool::FindFiles,
    Tool::Grep,
    Tool::Mkdir,
    Tool::RunCommand,
    Tool::Git,
    Tool::CreatePlan,
    Tool::UpdatePlan,
    Tool::AskUser,
    Tool::Finish,
    Tool::GitLabGetProject,
    Tool::GitLabGetMergeRequest,
    Tool::GitLabGetMergeRequestDiffs,
    Tool::GitLabListMergeRequestPipelines,
    Tool::GitLabGetPipelineFailedJobs,
    Tool::GitLabGetJobLog,
];

impl Tool {
    /// The name the model calls it by.
    pub fn name(self) -> &'static str {
        match self {
            Tool::ReadFile => "read_file",
            Tool::WriteFile => "write_file",
            Tool::EditFile => "edit_file",
            Tool::ListDir => "list_dir",
            Tool::FindFiles => "find_files",
            Tool::Grep => "grep",
            Tool::Mkdir => "mkdir",
            Tool::RunCommand => "run_command",
            Tool::Git => "git",
            Tool::CreatePlan => "create_plan",
            Tool::UpdatePlan => "update_plan",
            Tool::AskUser => "ask_user",
            Tool::Finish => "finish",
            Tool::GitLabGetProject => "gitlab_get_project",
            Tool::GitLabGetMergeRequest => "gitlab_get_merge_request",
            Tool::GitLabGetMergeRequestDiffs => "gitlab_get_merge_request_diffs",
            Tool::GitLabListMergeRequestPipelines => "gitlab_list_merge_request_pipelines",
            Tool::GitLabGetPipelineFailedJobs => "gitlab_get_pipeline_failed_jobs",
            Tool::GitLabGetJobLog => "gitlab_get_job_log",
        }
    }

    /// The tool called `name`.
    pub fn from_name(name: &str) -> Option<Tool> {
        ALL.iter().copied().find(|tool| tool.name() == name)
    }

    /// Whether it is run on GitLab (and offered only when a project is known).
    pub fn is_gitlab(self) -> bool {
        matches!(
            self,
            Tool::GitLabGetProject
                | Tool::GitLabGetMergeRequest
                | Tool::GitLabGetMergeRequestDiffs
                | Tool::GitLabListMergeRequestPipelines
                | Tool::GitLabGetPipelineFailedJobs
                | Tool::GitLabGetJobLog
        )
    }

    /// Whether it can change the workspace (or anything else): refused until the plan is
    /// approved.
    pub fn changes_things(self) -> bool {
        matches!(
            self,
            Tool::WriteFile | Tool::EditFile | Tool::Mkdir | Tool::RunCommand | Tool::Git
        )
    }

    /// Whether the executor runs it.
    pub fn is_executor(self) -> bool {
        matches!(
            self,
            Tool::ReadFile
                | Tool::WriteFile
                | Tool::EditFile
                | Tool::ListDir
                | Tool::FindFiles
                | Tool::Grep
                | Tool::Mkdir
                | Tool::RunCommand
                | Tool::Git
        )
    }

    fn description(self) -> &'static str {
        match self {
            Tool::ReadFile => {
                "Read a UTF-8 text file of the project. Paths are relative to the project root. \
                 Reads at most 1 MiB unless `limit` says otherwise; use `offset` (bytes) to read on."
            }
            Tool::WriteFile => {
                "Create or replace a file of the project with exactly `content` (written \
                 atomically; missing parent directories are created)."
            }
            Tool::EditFile => {
                "Replace the exact text `old` by `new` in a file. `old` must occur exactly once \
                 unless `replace_all` is true; include enough context to make it unique."
            }
            Tool::ListDir => {
                "List one directory of the project (default: the root), sorted by name."
            }
            Tool::FindFiles => {
                "Find files by glob (`*.rs`, `src/**/*.ts`), honouring .gitignore. Paths are \
                 relative to the project root."
            }
            Tool::Grep => {
                "Search file contents for a regular expression (Rust regex syntax), honouring \
                 .gitignore. Returns path, line number and text of each match."
            }
            Tool::Mkdir => "Create a directory of the project and any missing parents.",
            Tool::RunCommand => {
                "Run a program in the project root inside the sandbox (no shell unless you run \
                 one, e.g. program `bash` with args [\"-c\", \"...\"]). Returns the exit code and \
                 the combined output. The sandbox has no network unless the user allowed it."
            }
            Tool::Git => "Run git with `args` in the project root, e.g. [\"status\", \"--short\"].",
            Tool::CreatePlan => {
                "Propose the plan: the ordered steps you will take to reach the goal. The user \
                 approves it, or asks for changes (then call create_plan again). Nothing that \
                 changes the project may run before a plan is approved."
            }
            Tool::UpdatePlan => {
                "Update the plan: set the status of step `step` (1-based), or replace all `steps` \
                 (titles and statuses). Mark a step in_progress when you start it and done when \
                 it is done."
            }
            Tool::AskUser => {
                "Ask the user a question when you cannot go on without their answer. Never ask \
                 for passwords, tokens or other credentials."
            }
            Tool::Finish => "End the workflow with a summary of what was done.",
            Tool::GitLabGetProject => "Read the GitLab project (read-only).",
            Tool::GitLabGetMergeRequest => {
                "Read a merge request of the GitLab project (read-only)."
            }
            Tool::GitLabGetMergeRequestDiffs => {
                "Read the diffs of a merge request of the GitLab project (read-only)."
            }
            Tool::GitLabListMergeRequestPipelines => {
                "List the CI pipelines of a merge request, newest first (read-only)."
            }
            Tool::GitLabGetPipelineFailedJobs => "List the failed jobs of a pipeline (read-only).",
            Tool::GitLabGetJobLog => "Read a CI job's log; long logs keep their end (read-only).",
        }
    }

    fn input_schema(self) -> Value {
        let string = json!({"type": "string"});
        let integer = json!({"type": "integer", "minimum": 0});
        let boolean = json!({"type": "boolean"});
        let step_status = json!({"type": "string", "enum": ["pending", "in_progress", "done", "skipped", "failed"]});
        let object = |properties: Value, required: &[&str]| json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false});
        let mr = || {
            object(
                json!({"merge_request_iid": {"type": "integer", "minimum": 1, "description": "The merge request's IID (the number after !); default: the one the workflow is about"}}),
                &[],
            )
        };
        match self {
            Tool::ReadFile => object(
                json!({"path": string, "offset": integer, "limit": integer}),
                &["path"],
            ),
            Tool::WriteFile => object(
                json!({"path": string, "content": string, "create_dirs": boolean}),
                &["path", "content"],
            ),
            Tool::EditFile => object(
                json!({"path": string, "old": string, "new": string, "replace_all": boolean}),
                &["path", "old", "new"],
            ),
            Tool::ListDir => object(json!({"path": string}), &[]),
            Tool::FindFiles => object(json!({"pattern": string, "path": string}), &["pattern"]),
            Tool::Grep => object(
                json!({"pattern": string, "path": string, "case_insensitive": boolean, "max_matches": integer}),
                &["pattern"],
            ),
            Tool::Mkdir => object(json!({"path": string}), &["path"]),
            Tool::RunCommand => object(
                json!({
                    "program": string,
                    "args": {"type": "array", "items": string},
                    "cwd": string,
                    "stdin": string,
                    "timeout_ms": integer,
                }),
                &["program"],
            ),
            Tool::Git => object(
                json!({"args": {"type": "array", "items": string}, "timeout_ms": integer}),
                &["args"],
            ),
            Tool::CreatePlan => object(
                json!({"steps": {"type": "array", "minItems": 1, "items": object(json!({"title": string}), &["title"])}}),
                &["steps"],
            ),
            Tool::UpdatePlan => object(
                json!({
                    "step": {"type": "integer", "minimum": 1},
                    "status": step_status,
                    "steps": {"type": "array", "items": object(json!({"title": string, "status": step_status}), &["title"])},
                }),
                &[],
            ),
            Tool::AskUser => object(json!({"question": string}), &["question"]),
            Tool::Finish => object(json!({"summary": string}), &["summary"]),
            Tool::GitLabGetProject => object(json!({}), &[]),
            Tool::GitLabGetMergeRequest
            | Tool::GitLabGetMergeRequestDiffs
            | Tool::GitLabListMergeRequestPipelines => mr(),
            Tool::GitLabGetPipelineFailedJobs => object(
                json!({"pipeline_id": {"type": "integer", "minimum": 1}}),
                &["pipeline_id"],
            ),
            Tool::GitLabGetJobLog => object(
                json!({"job_id": {"type": "integer", "minimum": 1}}),
                &["job_id"],
            ),
        }
    }

    /// Its definition for the model.
    pub fn definition(self) -> ToolDefinition {
        ToolDefinition {
            name: self.name().to_owned(),
            description: self.description().to_owned(),
            input_schema: self.input_schema(),
        }
    }
}

/// The definitions the model gets: every tool, the GitLab ones only `with_gitlab`.
pub fn definitions(with_gitlab: bool) -> Vec<ToolDefinition> {
    ALL.iter()
        .filter(|tool| with_gitlab || !tool.is_gitlab())
        .map(|tool| tool.definition())
        .collect()
}

/// What a tool returned, before redaction and capping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Whether it worked (a command that ran counts as working whatever its exit code; the
    /// code is in the output).
    pub ok: bool,
    /// The text for the model.
    pub output: String,
}

impl Outcome {
    fn ok(output: impl Into<String>) -> Outcome {
        Outcome {
            ok: true,
            output: output.into(),
        }
    }

    /// A failure with this explanation.
    pub fn error(output: impl Into<String>) -> Outcome {
        Outcome {
            ok: false,
            output: output.into(),
        }
    }
}

/// Runs an executor tool in the sandbox and writes the action to the audit log.
///
/// Only for tools whose [`Tool::is_executor`] is true.
pub async fn run_in_sandbox(
    client: &Client,
    tool: Tool,
    input: &Value,
    audit: &AuditLog,
) -> Result<Outcome, ClientError> {
    let started = Instant::now();
    let (target, result) = match tool {
        Tool::ReadFile => executor::<ReadFile>(client, input, |r| r.path.clone(), |read, result| {
            let mut text = result.content;
            if result.truncated {
                text.push_str(&format!(
                    "\n[dw: only part of {} was read: the file has {} bytes; read on with offset/limit]",
                    read.path, result.size
                ));
            }
            text
        })
        .await,
        Tool::WriteFile => executor::<WriteFile>(client, input, |w| w.path.clone(), |write, result| {
            format!("Wrote {} bytes to {}.", result.bytes, write.path)
        })
        .await,
        Tool::EditFile => executor::<EditFile>(client, input, |e| e.path.clone(), |edit, result| {
            format!(
                "Replaced {} occurrence{} in {}.",
                result.replacements,
                if result.replacements == 1 { "" } else { "s" },
                edit.path
            )
        })
        .await,
        Tool::ListDir => executor::<ListDir>(client, input, |l| l.path.clone(), |_, result| {
            if result.entries.is_empty() {
                return "(empty directory)".to_owned();
            }
            result
                .entries
                .iter()
                .map(|entry| match entry.kind {
                    EntryKind::Dir => format!("{}/", entry.name),
                    EntryKind::Symlink => format!("{} (symlink)", entry.name),
                    EntryKind::File => format!("{} ({} bytes)", entry.name, entry.size),
                    EntryKind::Other => format!("{} (special file)", entry.name),
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .await,
        Tool::FindFiles => executor::<FindFiles>(client, input, |f| f.pattern.clone(), |_, result| {
            let mut text = if result.paths.is_empty() {
                "(no files match)".to_owned()
            } else {
                result.paths.join("\n")
            };
            if result.truncated {
                text.push_str("\n[dw: more files match; narrow the pattern]");
            }
            text
        })
        .await,
        Tool::Grep => executor::<Grep>(client, input, |g| g.pattern.clone(), |_, result| {
            let mut text = if result.matches.is_empty() {
                "(no matches)".to_owned()
            } else {
                result
                    .matches
                    .iter()
                    .map(|found| format!("{}:{}: {}", found.path, found.line, found.text))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            if result.truncated {
                text.push_str("\n[dw: more lines match; narrow the pattern or the path]");
            }
            text
        })
        .await,
        Tool::Mkdir => executor::<Mkdir>(client, input, |m| m.path.clone(), |mkdir, _| {
            format!("Created {}.", mkdir.path)
        })
        .await,
        Tool::RunCommand => {
            let input = with_default_timeout(input);
            executor::<RunCommand>(
                client,
                &input,
                |run| command_line(&run.program, &run.args),
                |_, result| command_output(&result),
            )
            .await
        }
        Tool::Git => {
            let input = with_default_timeout(input);
            executor::<Git>(
                client,
                &input,
                |git| command_line("git", &git.args),
                |_, result| command_output(&result),
            )
            .await
        }
        _ => (
            String::new(),
            Ok(Outcome::error(format!("{} is not an executor tool", tool.name()))),
        ),
    };
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(Denied::Invalid(message)) => Outcome::error(message),
        Err(Denied::Client(ClientError::Failed { failure, .. })) => {
            Outcome::error(format!("{} ({})", failure.message, failure.kind.as_str()))
        }
        Err(Denied::Client(error)) => {
            audit.append(&AuditRecord::Executor {
                ts: crate::record::timestamp(std::time::SystemTime::now()),
                op: tool.name().to_owned(),
                target,
                outcome: "executor gone".to_owned(),
                duration_ms: millis(started.elapsed()),
            });
            return Err(error);
        }
    };
    audit.append(&AuditRecord::Executor {
        ts: crate::record::timestamp(std::time::SystemTime::now()),
        op: tool.name().to_owned(),
        target,
        outcome: audit_outcome(&outcome),
        duration_ms: millis(started.elapsed()),
    });
    Ok(outcome)
}

enum Denied {
    Invalid(String),
    Client(ClientError),
}

/// Decodes `input` as `O`, runs it, and describes the result with `describe`.
async fn executor<O>(
    client: &Client,
    input: &Value,
    target: impl FnOnce(&O) -> String,
    describe: impl FnOnce(&O, O::Output) -> String,
) -> (String, Result<Outcome, Denied>)
where
    O: Operation + DeserializeOwned + Clone,
{
    let op: O = match serde_json::from_value(input.clone()) {
        Ok(op) => op,
        Err(error) => {
            return (
                String::new(),
                Err(Denied::Invalid(format!("invalid input: {error}"))),
            );
        }
    };
    let target = target(&op);
    let result = match client.call(op.clone()).await {
        Ok(result) => Ok(Outcome::ok(describe(&op, result))),
        Err(error) => Err(Denied::Client(error)),
    };
    (target, result)
}

/// What the audit log names as the target of an executor tool call, from its raw input (for
/// calls that never got a result, such as one interrupted by a stop).
pub fn audit_target(tool: Tool, input: &Value) -> String {
    let text = |name: &str| input.get(name).and_then(Value::as_str).unwrap_or_default();
    let args = |name: &str| -> Vec<String> {
        input
            .get(name)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    match tool {
        Tool::RunCommand => command_line(text("program"), &args("args")),
        Tool::Git => command_line("git", &args("args")),
        Tool::FindFiles | Tool::Grep => text("pattern").to_owned(),
        _ => text("path").to_owned(),
    }
}

fn with_default_timeout(input: &Value) -> Value {
    let mut input = input.clone();
    if let Value::Object(map) = &mut input {
        map.entry("timeout_ms")
            .or_insert_with(|| json!(DEFAULT_COMMAND_TIMEOUT.as_millis()));
    }
    input
}

fn command_line(program: &str, args: &[String]) -> String {
    std::iter::once(program)
        .chain(args.iter().map(String::as_str))
        .map(|word| {
            if !word.is_empty()
                && word
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&byte))
            {
                word.to_owned()
            } else {
                format!("'{}'", word.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn command_output(result: &CommandResult) -> String {
    let status = match (result.exit_code, result.signal, result.timed_out) {
        (_, _, true) => "timed out and was killed".to_owned(),
        (Some(code), _, _) => format!("exit code {code}"),
        (None, Some(signal), _) => format!("killed by signal {signal}"),
        (None, None, _) => "ended without an exit code".to_owned(),
    };
    let mut text = status;
    if !result.output.is_empty() {
        text.push('\n');
        text.push_str(&result.output);
    }
    if result.truncated {
        text.push_str("\n[dw: the output went on beyond the cap and was cut]");
    }
    text
}

fn audit_outcome(outcome: &Outcome) -> String {
    if !outcome.ok {
        // The error's kind, in parentheses at the end, or a plain "error".
        return outcome
            .output
            .rsplit_once('(')
            .and_then(|(_, kind)| kind.strip_suffix(')'))
            .filter(|kind| is_error_kind(kind))
            .map_or_else(|| "error".to_owned(), str::to_owned);
    }
    match outcome.output.lines().next() {
        Some(first) if first.starts_with("exit code ") => {
            format!("exit {}", &first["exit code ".len()..])
        }
        Some(first) if first.starts_with("timed out") || first.starts_with("killed by") => {
            first.to_owned()
        }
        _ => "ok".to_owned(),
    }
}

fn is_error_kind(kind: &str) -> bool {
    serde_json::from_value::<ErrorKind>(json!(kind)).is_ok()
}

/// The GitLab project a workflow may read, and the client that reads it.
#[derive(Debug, Clone)]
pub struct GitLabTools {
    /// The client (GET only).
    pub client: GitLabClient,
    /// The project.
    pub project: ProjectRef,
    /// The merge request the goal is about, the default of the MR tools.
    pub merge_request: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoInput {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeRequestInput {
    merge_request_iid: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineInput {
    pipeline_id: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobInput {
    job_id: u64,
}

impl GitLabTools {
    /// Runs a GitLab tool. Requests are audited by the client's hook.
    pub async fn run(&self, tool: Tool, input: &Value) -> Outcome {
        match self.try_run(tool, input).await {
            Ok(outcome) => outcome,
            Err(message) => Outcome::error(message),
        }
    }

    async fn try_run(&self, tool: Tool, input: &Value) -> Result<Outcome, String> {
        let gitlab = |error: GitLabError| error.to_string();
        let project = &self.project;
        let text = match tool {
            Tool::GitLabGetProject => {
                decode::<NoInput>(input)?;
                pretty(&self.client.get_project(project).await.map_err(gitlab)?)
            }
            Tool::GitLabGetMergeRequest => {
                let iid = self.merge_request_iid(decode::<MergeRequestInput>(input)?)?;
                pretty(
                    &self
                        .client
                        .get_merge_request(project, iid)
                        .await
                        .map_err(gitlab)?,
                )
            }
            Tool::GitLabGetMergeRequestDiffs => {
                let iid = self.merge_request_iid(decode::<MergeRequestInput>(input)?)?;
                listing(
                    self.client
                        .get_merge_request_diffs(project, iid)
                        .await
                        .map_err(gitlab)?,
                )
            }
            Tool::GitLabListMergeRequestPipelines => {
                let iid = self.merge_request_iid(decode::<MergeRequestInput>(input)?)?;
                listing(
                    self.client
                        .list_merge_request_pipelines(project, iid)
                        .await
                        .map_err(gitlab)?,
                )
            }
            Tool::GitLabGetPipelineFailedJobs => {
                let PipelineInput { pipeline_id } = decode(input)?;
                listing(
                    self.client
                        .get_pipeline_failed_jobs(project, pipeline_id)
                        .await
                        .map_err(gitlab)?,
                )
            }
            Tool::GitLabGetJobLog => {
                let JobInput { job_id } = decode(input)?;
                self.client
                    .get_job_log(project, job_id)
                    .await
                    .map_err(gitlab)?
                    .text
            }
            _ => return Err(format!("{} is not a GitLab tool", tool.name())),
        };
        Ok(Outcome::ok(text))
    }

    fn merge_request_iid(&self, input: MergeRequestInput) -> Result<u64, String> {
        input
            .merge_request_iid
            .or(self.merge_request)
            .ok_or_else(|| {
                "no merge request given: pass merge_request_iid (the workflow is about none)"
                    .to_owned()
            })
    }
}

fn decode<T: DeserializeOwned>(input: &Value) -> Result<T, String> {
    // Some models send `null` for a tool without parameters.
    let input = if input.is_null() {
        json!({})
    } else {
        input.clone()
    };
    serde_json::from_value(input).map_err(|error| format!("invalid input: {error}"))
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

fn listing(listing: dw_gitlab::Listing) -> String {
    let mut text = pretty(&Value::Array(listing.items));
    if listing.truncated {
        text.push_str("\n[dw: more pages exist than were read]");
    }
    text
}

/// `text` cut to [`MAX_RESULT_BYTES`], keeping its start and end (where errors usually are).
pub fn cap(text: String) -> String {
    if text.len() <= MAX_RESULT_BYTES {
        return text;
    }
    let half = MAX_RESULT_BYTES / 2;
    let mut head_end = half;
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = text.len() - half;
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    format!(
        "{}\n[dw: {} bytes left out of the middle]\n{}",
        &text[..head_end],
        tail_start - head_end,
        &text[tail_start..]
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_tool_has_a_unique_name_and_an_object_schema() {
        let mut names: Vec<&str> = ALL.iter().map(|tool| tool.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        for tool in ALL {
            assert_eq!(Tool::from_name(tool.name()), Some(*tool));
            assert_eq!(tool.definition().input_schema["type"], "object");
        }
        assert_eq!(definitions(false).len(), 13);
        assert_eq!(definitions(true).len(), 19);
    }

    #[test]
    fn commands_are_quoted_for_the_audit_log() {
        assert_eq!(
            command_line("bash", &["-c".into(), "echo 'hi' > x".into()]),
            r#"bash -c 'echo '\''hi'\'' > x'"#
        );
        assert_eq!(command_line("cargo", &["test".into()]), "cargo test");
    }

    #[test]
    fn long_output_keeps_its_start_and_end() {
        let text = format!("{}é{}", "a".repeat(MAX_RESULT_BYTES), "z".repeat(100));
        let capped = cap(text);
        assert!(capped.len() < MAX_RESULT_BYTES + 100);
        assert!(capped.starts_with('a'));
        assert!(capped.ends_with("zzz"));
        assert!(capped.contains("left out of the middle"));
    }

    #[test]
    fn audit_outcomes_name_exit_codes_and_error_kinds() {
        assert_eq!(audit_outcome(&Outcome::ok("exit code 3\nboom")), "exit 3");
        assert_eq!(audit_outcome(&Outcome::ok("hello")), "ok");
        assert_eq!(
            audit_outcome(&Outcome::error("no such file: x (not_found)")),
            "not_found"
        );
        assert_eq!(audit_outcome(&Outcome::error("invalid input: x")), "error");
    }
}
