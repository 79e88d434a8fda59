//! The messages of a Duo Workflow session, as dw's one model of them.
//!
//! The shapes follow GitLab's `contract/contract.proto` and its proto3 JSON mapping, which is
//! what the WebSocket route carries (one JSON object per frame): `camelCase` names where the
//! contract has them (`startRequest`, `requestID`, `workflowID`, `plainTextResponse`,
//! `runHTTPRequest` …) and the contract's explicit snake_case `json_name`s elsewhere
//! (`additional_context`, `preapproved_tools`, `search_directory`, `repository_url` …).
//! Reading is lenient the way protobuf JSON parsers are: absent fields take their default,
//! 64-bit integers may be numbers or strings, and the lowerCamelCase spellings of the
//! snake_case fields are accepted too. The gRPC route converts to and from these same types
//! (see [`crate::grpc`]).
//!
//! [`ClientEvent`] is what the client sends, [`Action`] what the service asks for. An action
//! kind this crate does not know decodes to [`ActionKind::Unknown`] with its raw JSON, never to
//! an error: answer it with [`ActionResponse::unsupported`].

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A message from the client to the service (the contract's `ClientEvent` oneof).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClientEvent {
    /// Starts, or after a reconnect resumes, the workflow. Always the first event of a session.
    #[serde(rename = "startRequest")]
    StartRequest(StartRequest),
    /// The result of an [`Action`].
    #[serde(rename = "actionResponse")]
    ActionResponse(ActionResponse),
    /// Keeps the session alive (see [`crate::Heartbeats`]).
    #[serde(rename = "heartbeat")]
    Heartbeat(Heartbeat),
    /// Asks the service to stop the workflow.
    #[serde(rename = "stopWorkflow")]
    StopWorkflow(StopWorkflow),
}

/// `startRequest`: which workflow to run or resume, and what the client can do.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StartRequest {
    /// The workflow id returned by [`crate::GitLab::create_workflow`], as a string.
    #[serde(rename = "workflowID")]
    pub workflow_id: String,
    /// The client's version.
    #[serde(rename = "clientVersion")]
    pub client_version: String,
    /// The workflow definition, e.g. `software_development` or `chat`.
    #[serde(rename = "workflowDefinition")]
    pub workflow_definition: String,
    /// The user's goal.
    pub goal: String,
    /// Free-form metadata, as a JSON-encoded string (e.g. `{"git_url":"…","git_sha":"…"}`).
    #[serde(rename = "workflowMetadata")]
    pub workflow_metadata: String,
    /// What this client can execute, e.g. `shell_command`.
    #[serde(rename = "clientCapabilities")]
    pub client_capabilities: Vec<String>,
    /// MCP tools the client offers.
    #[serde(rename = "mcpTools")]
    pub mcp_tools: Vec<McpTool>,
    /// Extra context items (files, issues, merge requests …).
    #[serde(rename = "additional_context", alias = "additionalContext")]
    pub additional_context: Vec<AdditionalContext>,
    /// Names of tools the user approved in advance.
    #[serde(rename = "preapproved_tools", alias = "preapprovedTools")]
    pub preapproved_tools: Vec<String>,
    /// The user's answer to a PLAN_APPROVAL_REQUIRED or TOOL_CALL_APPROVAL_REQUIRED checkpoint,
    /// sent with the `startRequest` that resumes the workflow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
}

impl StartRequest {
    /// A start request for `workflow_id` with `goal`, this crate's version as `clientVersion`
    /// and every other field empty.
    pub fn new(
        workflow_id: impl Into<String>,
        workflow_definition: impl Into<String>,
        goal: impl Into<String>,
    ) -> Self {
        Self {
            workflow_id: workflow_id.into(),
            client_version: env!("CARGO_PKG_VERSION").to_owned(),
            workflow_definition: workflow_definition.into(),
            goal: goal.into(),
            ..Self::default()
        }
    }
}

/// An MCP tool offered by the client (`mcpTools`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct McpTool {
    /// The tool's name.
    pub name: String,
    /// What the tool does, for the model.
    pub description: String,
    /// The JSON Schema of its input, JSON-encoded.
    #[serde(rename = "inputSchema")]
    pub input_schema: String,
}

/// One item of `additional_context`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdditionalContext {
    /// The kind of item, e.g. `file`, `issue`, `merge_request`.
    pub category: String,
    /// An identifier of the item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The item's text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// JSON-encoded metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

/// The user's decision on a pending plan or tool call: `{"approval": {}}` or
/// `{"rejection": {"message": "…"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Approval {
    /// Go ahead.
    #[serde(rename = "approval")]
    Approved(Approved),
    /// Do not; the message tells the agent why or what to do instead.
    #[serde(rename = "rejection")]
    Rejected(Rejected),
}

impl Approval {
    /// `{"approval": {}}`.
    pub fn approve() -> Self {
        Self::Approved(Approved {})
    }

    /// `{"rejection": {"message": …}}`.
    pub fn reject(message: impl Into<String>) -> Self {
        Self::Rejected(Rejected {
            message: Some(message.into()),
        })
    }
}

/// The payload of an approval; empty in this subset of the contract.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approved {}

/// The payload of a rejection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rejected {
    /// Why, for the agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `actionResponse`: the answer to the [`Action`] with the same `requestID`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionResponse {
    /// The `requestID` of the action answered.
    #[serde(rename = "requestID", default)]
    pub request_id: String,
    /// The answer.
    #[serde(flatten)]
    pub result: ActionResult,
}

impl ActionResponse {
    /// A successful plain-text answer (file contents, command output …).
    pub fn text(request_id: impl Into<String>, response: impl Into<String>) -> Self {
        Self::plain_text(
            request_id,
            PlainTextResponse {
                response: response.into(),
                error: String::new(),
            },
        )
    }

    /// A failed action: `plainTextResponse` with an empty `response` and `error` set.
    pub fn error(request_id: impl Into<String>, error: impl Into<String>) -> Self {
        Self::plain_text(
            request_id,
            PlainTextResponse {
                response: String::new(),
                error: error.into(),
            },
        )
    }

    /// The answer to an action this client cannot execute ([`ActionKind::Unknown`]).
    pub fn unsupported(action: &Action) -> Self {
        Self::error(
            action.request_id.clone(),
            format!(
                "dw cannot execute the action `{}`: this client does not support it; continue without it",
                action.kind.name()
            ),
        )
    }

    /// A `plainTextResponse`.
    pub fn plain_text(request_id: impl Into<String>, response: PlainTextResponse) -> Self {
        Self {
            request_id: request_id.into(),
            result: ActionResult::PlainText(response),
        }
    }

    /// An `httpResponse`, the answer to [`ActionKind::RunHttpRequest`].
    pub fn http(request_id: impl Into<String>, response: HttpResponse) -> Self {
        Self {
            request_id: request_id.into(),
            result: ActionResult::Http(response),
        }
    }
}

/// The two kinds of answer (`response_type` in the contract).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ActionResult {
    /// `plainTextResponse`.
    #[serde(rename = "plainTextResponse")]
    PlainText(PlainTextResponse),
    /// `httpResponse`.
    #[serde(rename = "httpResponse")]
    Http(HttpResponse),
}

/// `plainTextResponse`: output, or an error (empty on success).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlainTextResponse {
    /// What the action produced.
    pub response: String,
    /// Why it failed; empty on success.
    pub error: String,
}

/// `httpResponse`: the answer to a `runHTTPRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpResponse {
    /// The HTTP status code.
    #[serde(rename = "statusCode")]
    pub status_code: i32,
    /// The response headers.
    pub headers: BTreeMap<String, String>,
    /// The response body.
    pub body: String,
    /// A transport or policy error; empty on success.
    pub error: String,
}

/// `heartbeat`: the client is alive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Heartbeat {
    /// Milliseconds since the Unix epoch.
    #[serde(deserialize_with = "int64::required")]
    pub timestamp: i64,
}

/// `stopWorkflow`: stop, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StopWorkflow {
    /// Why the workflow is stopped.
    pub reason: String,
}

/// A request from the service: what to do, and the id to answer with.
///
/// Decoding never fails on an unknown or unreadable action kind: it becomes
/// [`ActionKind::Unknown`] with the raw JSON, so the client can answer with an error.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// The id the [`ActionResponse`] must carry (`requestID`).
    pub request_id: String,
    /// What to do.
    pub kind: ActionKind,
}

/// The action kinds of the contract's `Action.action` oneof, plus [`ActionKind::Unknown`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ActionKind {
    /// Read one file.
    #[serde(rename = "runReadFile")]
    RunReadFile(ReadFile),
    /// Read several files.
    #[serde(rename = "runReadFiles")]
    RunReadFiles(ReadFiles),
    /// Create or overwrite a file.
    #[serde(rename = "runWriteFile")]
    RunWriteFile(WriteFile),
    /// Replace a string in a file.
    #[serde(rename = "runEditFile")]
    RunEditFile(EditFile),
    /// Run a shell command line.
    #[serde(rename = "runShellCommand")]
    RunShellCommand(RunShellCommand),
    /// Run a program with arguments.
    #[serde(rename = "runCommand")]
    RunCommand(RunCommand),
    /// Run a git command.
    #[serde(rename = "runGitCommand")]
    RunGitCommand(RunGitCommand),
    /// Call the GitLab API (made by the client, on the host).
    #[serde(rename = "runHTTPRequest")]
    RunHttpRequest(RunHttpRequest),
    /// List a directory.
    #[serde(rename = "listDirectory")]
    ListDirectory(ListDirectory),
    /// Search file contents.
    #[serde(rename = "grep")]
    Grep(Grep),
    /// Find files by name.
    #[serde(rename = "findFiles")]
    FindFiles(FindFiles),
    /// Create a directory.
    #[serde(rename = "mkdir")]
    Mkdir(Mkdir),
    /// Call an MCP tool the client offered.
    #[serde(rename = "runMCPTool")]
    RunMcpTool(RunMcpTool),
    /// The workflow's state changed; nothing to execute and nothing to answer.
    #[serde(rename = "newCheckpoint")]
    NewCheckpoint(NewCheckpoint),
    /// A kind this client does not know, or a known kind whose payload it could not read.
    /// Holds the action's raw JSON (over gRPC, only `requestID` survives). Answer with
    /// [`ActionResponse::unsupported`].
    #[serde(skip)]
    Unknown(serde_json::Value),
}

/// The JSON names of the known kinds, in the order the contract numbers them.
const KNOWN_KINDS: &[&str] = &[
    "runCommand",
    "runHTTPRequest",
    "runReadFile",
    "runWriteFile",
    "runGitCommand",
    "runEditFile",
    "newCheckpoint",
    "listDirectory",
    "grep",
    "findFiles",
    "runMCPTool",
    "mkdir",
    "runReadFiles",
    "runShellCommand",
];

impl ActionKind {
    /// The kind's JSON name (`runReadFile` …); for an unknown kind, the name it arrived with.
    pub fn name(&self) -> &str {
        match self {
            Self::RunReadFile(_) => "runReadFile",
            Self::RunReadFiles(_) => "runReadFiles",
            Self::RunWriteFile(_) => "runWriteFile",
            Self::RunEditFile(_) => "runEditFile",
            Self::RunShellCommand(_) => "runShellCommand",
            Self::RunCommand(_) => "runCommand",
            Self::RunGitCommand(_) => "runGitCommand",
            Self::RunHttpRequest(_) => "runHTTPRequest",
            Self::ListDirectory(_) => "listDirectory",
            Self::Grep(_) => "grep",
            Self::FindFiles(_) => "findFiles",
            Self::Mkdir(_) => "mkdir",
            Self::RunMcpTool(_) => "runMCPTool",
            Self::NewCheckpoint(_) => "newCheckpoint",
            Self::Unknown(raw) => raw
                .as_object()
                .and_then(|object| object.keys().find(|key| key.as_str() != "requestID"))
                .map_or("unknown", String::as_str),
        }
    }

    /// Whether the service expects an [`ActionResponse`] (every kind but `newCheckpoint`).
    pub fn expects_response(&self) -> bool {
        !matches!(self, Self::NewCheckpoint(_))
    }
}

impl Action {
    /// Reads an action from its JSON form. Fails only when `value` is not a JSON object; an
    /// unknown or unreadable kind becomes [`ActionKind::Unknown`].
    pub fn from_json(value: serde_json::Value) -> crate::Result<Self> {
        let object = value.as_object().ok_or_else(|| crate::Error::Decode {
            what: "an action",
            source: serde::de::Error::custom("an action must be a JSON object"),
        })?;
        let request_id = match object.get("requestID") {
            Some(serde_json::Value::String(id)) => id.clone(),
            Some(serde_json::Value::Number(id)) => id.to_string(),
            _ => String::new(),
        };
        let kind = object
            .iter()
            .find(|(key, _)| KNOWN_KINDS.contains(&key.as_str()))
            .and_then(|(key, payload)| {
                let tagged = serde_json::Value::Object(serde_json::Map::from_iter([(
                    key.clone(),
                    payload.clone(),
                )]));
                serde_json::from_value::<ActionKind>(tagged).ok()
            })
            .unwrap_or(ActionKind::Unknown(value));
        Ok(Self { request_id, kind })
    }

    /// The action's JSON form, as the service sends it.
    pub fn to_json(&self) -> serde_json::Value {
        let mut object = match &self.kind {
            ActionKind::Unknown(raw) => match raw.as_object() {
                Some(object) => object.clone(),
                None => return raw.clone(),
            },
            known => match serde_json::to_value(known) {
                Ok(serde_json::Value::Object(object)) => object,
                // Every known kind is a struct of strings, integers and lists: it always
                // serializes to an object.
                _ => serde_json::Map::new(),
            },
        };
        object.insert(
            "requestID".to_owned(),
            serde_json::Value::String(self.request_id.clone()),
        );
        serde_json::Value::Object(object)
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Self::from_json(value).map_err(serde::de::Error::custom)
    }
}

/// `runReadFile`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReadFile {
    /// The file, relative to the project.
    pub filepath: String,
    /// The 1-based line to start at; absent means the start.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "int64::optional"
    )]
    pub offset: Option<i64>,
    /// The most lines to return; absent means all.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "int64::optional"
    )]
    pub limit: Option<i64>,
}

/// `runReadFiles`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReadFiles {
    /// The files, relative to the project.
    pub filepaths: Vec<String>,
}

/// `runWriteFile`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WriteFile {
    /// The file, relative to the project.
    pub filepath: String,
    /// Its new contents.
    pub contents: String,
}

/// `runEditFile`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EditFile {
    /// The file, relative to the project.
    pub filepath: String,
    /// The exact text to replace.
    #[serde(rename = "oldString")]
    pub old_string: String,
    /// Its replacement.
    #[serde(rename = "newString")]
    pub new_string: String,
}

/// `runShellCommand`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunShellCommand {
    /// The command line.
    pub command: String,
    /// The time limit in seconds (the service's `timeout`); absent means the client's default.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "int64::optional"
    )]
    pub timeout: Option<i64>,
}

/// `runCommand`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunCommand {
    /// The program.
    pub program: String,
    /// Positional arguments.
    pub arguments: Vec<String>,
    /// Option flags.
    pub flags: Vec<String>,
    /// The time limit in seconds (the service's `timeout`); absent means the client's default.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "int64::optional"
    )]
    pub timeout: Option<i64>,
}

/// `runGitCommand`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunGitCommand {
    /// The git subcommand, e.g. `status`.
    pub command: String,
    /// Further arguments, as one string (the contract's `optional string`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
    /// The repository's URL.
    #[serde(rename = "repository_url", alias = "repositoryUrl")]
    pub repository_url: String,
}

/// `runHTTPRequest`: a GitLab API call, relative to the instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunHttpRequest {
    /// The HTTP method, e.g. `GET`.
    pub method: String,
    /// The path and query, e.g. `/api/v4/projects/1/merge_requests/2`.
    pub path: String,
    /// The request body; absent for methods without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// `listDirectory`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListDirectory {
    /// The directory, relative to the project.
    pub directory: String,
}

/// `grep`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Grep {
    /// Where to search, relative to the project.
    #[serde(rename = "search_directory", alias = "searchDirectory")]
    pub search_directory: String,
    /// What to search for.
    pub pattern: String,
    /// Whether case is ignored.
    #[serde(rename = "case_insensitive", alias = "caseInsensitive")]
    pub case_insensitive: bool,
}

/// `findFiles`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FindFiles {
    /// The file name pattern (a glob).
    #[serde(rename = "name_pattern", alias = "namePattern")]
    pub name_pattern: String,
}

/// `mkdir`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Mkdir {
    /// The directory to create, with its parents.
    #[serde(rename = "directory_path", alias = "directoryPath")]
    pub directory_path: String,
}

/// `runMCPTool`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunMcpTool {
    /// The tool's name.
    pub name: String,
    /// Its arguments, JSON-encoded.
    pub args: String,
}

/// `newCheckpoint`: the workflow's state after a step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewCheckpoint {
    /// The workflow status, e.g. `RUNNING` (see [`NewCheckpoint::status`]).
    pub status: String,
    /// The checkpoint, JSON-encoded (see [`NewCheckpoint::ui_chat_log`]).
    pub checkpoint: String,
    /// The workflow's goal.
    pub goal: String,
    /// Errors since the last checkpoint.
    pub errors: Vec<String>,
}

impl NewCheckpoint {
    /// The status, parsed.
    pub fn status(&self) -> CheckpointStatus {
        CheckpointStatus::parse(&self.status)
    }

    /// The agent's messages: `channel_values.ui_chat_log` of the checkpoint. An empty or
    /// message-less checkpoint has none.
    pub fn ui_chat_log(&self) -> crate::Result<Vec<ChatLogEntry>> {
        if self.checkpoint.trim().is_empty() {
            return Ok(Vec::new());
        }
        let checkpoint: serde_json::Value =
            serde_json::from_str(&self.checkpoint).map_err(|source| crate::Error::Decode {
                what: "a checkpoint",
                source,
            })?;
        match checkpoint.pointer("/channel_values/ui_chat_log") {
            None | Some(serde_json::Value::Null) => Ok(Vec::new()),
            Some(log) => {
                serde_json::from_value(log.clone()).map_err(|source| crate::Error::Decode {
                    what: "a checkpoint's ui_chat_log",
                    source,
                })
            }
        }
    }

    /// The agent's plan: `channel_values.plan.steps` of the checkpoint. A checkpoint without
    /// one has none.
    pub fn plan(&self) -> crate::Result<Vec<PlanStep>> {
        if self.checkpoint.trim().is_empty() {
            return Ok(Vec::new());
        }
        let checkpoint: serde_json::Value =
            serde_json::from_str(&self.checkpoint).map_err(|source| crate::Error::Decode {
                what: "a checkpoint",
                source,
            })?;
        match checkpoint.pointer("/channel_values/plan/steps") {
            None | Some(serde_json::Value::Null) => Ok(Vec::new()),
            Some(steps) => {
                serde_json::from_value(steps.clone()).map_err(|source| crate::Error::Decode {
                    what: "a checkpoint's plan",
                    source,
                })
            }
        }
    }
}

/// One step of a checkpoint's plan (`channel_values.plan.steps`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanStep {
    /// What the step does.
    pub description: String,
    /// `Not Started`, `In Progress`, `Completed` or `Cancelled`.
    pub status: String,
}

/// A tool call the agent asks the user to approve: a `request` message of the chat log that
/// names a tool (`tool_info`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestedTool {
    /// The tool's name, e.g. `run_command` or `create_merge_request_note`.
    pub name: String,
    /// Its arguments, as the model gave them.
    pub args: serde_json::Value,
}

/// One message of a checkpoint's `ui_chat_log`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatLogEntry {
    /// `agent`, `user`, `tool`, `request` or `workflow_end`.
    pub message_type: String,
    /// The text.
    pub content: String,
    /// When it was written (ISO 8601).
    pub timestamp: Option<String>,
    /// For tool messages: `success`, `failure` …
    pub status: Option<String>,
    /// For tool messages: the tool's name and arguments.
    pub tool_info: Option<serde_json::Value>,
}

impl ChatLogEntry {
    /// Whether the agent wrote it to the user (`agent`), or asks the user something
    /// (`request`: a question, or what waits for approval).
    pub fn is_for_the_user(&self) -> bool {
        matches!(self.message_type.as_str(), "agent" | "request")
    }

    /// The tool call this `request` message asks approval for, when it names one.
    pub fn requested_tool(&self) -> Option<RequestedTool> {
        if self.message_type != "request" {
            return None;
        }
        let info = self.tool_info.as_ref()?;
        let name = info.get("name")?.as_str()?.to_owned();
        let args = info.get("args").cloned().unwrap_or(serde_json::Value::Null);
        Some(RequestedTool { name, args })
    }
}

/// A workflow status as carried by `newCheckpoint.status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointStatus {
    /// `CREATED`.
    Created,
    /// `RUNNING`.
    Running,
    /// `FINISHED`: done.
    Finished,
    /// `FAILED`.
    Failed,
    /// `STOPPED`.
    Stopped,
    /// `INPUT_REQUIRED`: the agent asks the user something.
    InputRequired,
    /// `PLAN_APPROVAL_REQUIRED`: the service closes the stream; resume with an approval.
    PlanApprovalRequired,
    /// `TOOL_CALL_APPROVAL_REQUIRED`: the service closes the stream; resume with an approval.
    ToolCallApprovalRequired,
    /// Anything else, as sent.
    Other(String),
}

/// The statuses this crate names, with their wire spelling.
const STATUSES: &[(&str, CheckpointStatus)] = &[
    ("CREATED", CheckpointStatus::Created),
    ("RUNNING", CheckpointStatus::Running),
    ("FINISHED", CheckpointStatus::Finished),
    ("FAILED", CheckpointStatus::Failed),
    ("STOPPED", CheckpointStatus::Stopped),
    ("INPUT_REQUIRED", CheckpointStatus::InputRequired),
    (
        "PLAN_APPROVAL_REQUIRED",
        CheckpointStatus::PlanApprovalRequired,
    ),
    (
        "TOOL_CALL_APPROVAL_REQUIRED",
        CheckpointStatus::ToolCallApprovalRequired,
    ),
];

impl CheckpointStatus {
    /// Parses a status, ignoring case (the service's own enum is lower case).
    pub fn parse(status: &str) -> Self {
        STATUSES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(status))
            .map_or_else(
                || Self::Other(status.to_owned()),
                |(_, parsed)| parsed.clone(),
            )
    }

    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(status) => status,
            known => STATUSES
                .iter()
                .find(|(_, parsed)| parsed == known)
                .map_or("", |(name, _)| name),
        }
    }

    /// Whether the workflow is over: FINISHED, FAILED or STOPPED.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Finished | Self::Failed | Self::Stopped)
    }

    /// Whether the workflow waits for the user: input, plan approval or tool-call approval.
    pub fn needs_user(&self) -> bool {
        matches!(
            self,
            Self::InputRequired | Self::PlanApprovalRequired | Self::ToolCallApprovalRequired
        )
    }
}

/// Protobuf JSON writes 64-bit integers as strings and accepts numbers too.
mod int64 {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrString {
        Number(i64),
        String(String),
    }

    fn parse<E: serde::de::Error>(value: NumberOrString) -> Result<i64, E> {
        match value {
            NumberOrString::Number(number) => Ok(number),
            NumberOrString::String(text) => text.parse().map_err(E::custom),
        }
    }

    pub(super) fn required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        parse(NumberOrString::deserialize(deserializer)?)
    }

    pub(super) fn optional<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<i64>, D::Error> {
        Option::<NumberOrString>::deserialize(deserializer)?
            .map(parse)
            .transpose()
    }
}
