//! What a workflow's `events.jsonl` holds: one [`Entry`] per line, appended as things happen.
//!
//! The file is the workflow's state: its settings (the first record, [`Record::Created`]), every
//! status change, plan, model message, tool call and tool result, and the conversation with the
//! model exactly as it was sent ([`Record::Conversation`]), so that `dw workflows resume` can
//! rebuild it after anything short of a lost disk. `dw run --json` prints the same records (all
//! but the conversation and the settings), one per line.

use std::path::PathBuf;

use dw_provider::Message;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a workflow is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowStatus {
    /// Its directory exists; nothing has run yet.
    Created,
    /// The model is exploring the project and writing a plan.
    Planning,
    /// A plan waits for the user's approval.
    PlanApprovalRequired,
    /// A tool call waits for the user's approval (Duo Workflow's TOOL_CALL_APPROVAL_REQUIRED).
    ToolCallApprovalRequired,
    /// The approved plan is being executed.
    Running,
    /// The user paused it; `dw workflows resume` goes on.
    Paused,
    /// The model asked the user a question that has no answer yet.
    InputRequired,
    /// The model finished, with a summary.
    Finished,
    /// It could not go on (an error, or `--max-steps`); `resume` may retry.
    Failed,
    /// The user stopped it; it cannot be resumed.
    Stopped,
}

impl WorkflowStatus {
    /// The stable name (`plan_approval_required`).
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Created => "created",
            WorkflowStatus::Planning => "planning",
            WorkflowStatus::PlanApprovalRequired => "plan_approval_required",
            WorkflowStatus::ToolCallApprovalRequired => "tool_call_approval_required",
            WorkflowStatus::Running => "running",
            WorkflowStatus::Paused => "paused",
            WorkflowStatus::InputRequired => "input_required",
            WorkflowStatus::Finished => "finished",
            WorkflowStatus::Failed => "failed",
            WorkflowStatus::Stopped => "stopped",
        }
    }

    /// Finished or stopped: nothing more will happen to it.
    pub fn is_final(self) -> bool {
        matches!(self, WorkflowStatus::Finished | WorkflowStatus::Stopped)
    }

    /// A dw process works on it while it has this status (it may have been killed since).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            WorkflowStatus::Created
                | WorkflowStatus::Planning
                | WorkflowStatus::PlanApprovalRequired
                | WorkflowStatus::ToolCallApprovalRequired
                | WorkflowStatus::Running
        )
    }
}

impl std::fmt::Display for WorkflowStatus {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Where one step of the plan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Not started.
    #[default]
    Pending,
    /// Being worked on.
    InProgress,
    /// Done.
    Done,
    /// Left out on purpose.
    Skipped,
    /// Tried, and did not work.
    Failed,
}

impl StepStatus {
    /// The stable name (`in_progress`).
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::InProgress => "in_progress",
            StepStatus::Done => "done",
            StepStatus::Skipped => "skipped",
            StepStatus::Failed => "failed",
        }
    }
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStep {
    /// What the step does, in the model's words.
    pub title: String,
    /// Where it is.
    #[serde(default)]
    pub status: StepStatus,
}

/// The GitLab project a workflow may read, when one is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitLabTarget {
    /// The instance (`https://gitlab.com`).
    pub url: String,
    /// The project's numeric id or full path.
    pub project: String,
    /// The merge request the goal is about (`--mr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_request: Option<u64>,
}

/// What a Duo workflow (`dw run --duo`) needs to be resumed: which workflow of the GitLab
/// instance it is (the instance and project are the workflow's [`GitLabTarget`]), and how to
/// reach the Duo Workflow Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuoSettings {
    /// The workflow's id on the GitLab instance.
    pub workflow_id: u64,
    /// The workflow definition, e.g. `software_development`.
    pub definition: String,
    /// `websocket` (through GitLab) or `grpc` (straight to the service).
    pub transport: String,
    /// Whether the agent may make GitLab API requests other than GET.
    #[serde(default)]
    pub allow_gitlab_writes: bool,
}

/// A workflow's settings, fixed when it is created. Secrets are not settings: keys and tokens
/// are read from the environment again on every start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The workflow id.
    pub id: String,
    /// What the user asked for.
    pub goal: String,
    /// The project directory, absolute.
    pub workspace: PathBuf,
    /// `anthropic`, `openai` or `script`.
    pub provider: String,
    /// The model's name (the script's path for `script`).
    pub model: String,
    /// The script of the `script` provider, absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<PathBuf>,
    /// The sandbox image.
    pub image: String,
    /// Whether the sandbox has a network.
    pub allow_network: bool,
    /// How many model turns one `run` or `resume` may take.
    pub max_steps: u32,
    /// The GitLab project, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitlab: Option<GitLabTarget>,
    /// For a Duo workflow (provider `duo`): the workflow on GitLab and the transport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duo: Option<DuoSettings>,
}

/// Who a piece of user text is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// A change to the plan, asked for at approval or in a pause.
    Adjust,
    /// The answer to the model's `ask_user` question.
    Answer,
    /// The user approved a Duo plan or tool call (the text says which).
    Approve,
    /// The user rejected a Duo plan or tool call, with this message for the agent.
    Reject,
}

/// One thing that happened to a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// The workflow was created with these settings (always the first record).
    Created {
        /// The settings.
        workflow: Settings,
    },
    /// Its status changed.
    Status {
        /// The new status.
        status: WorkflowStatus,
        /// Why, for `failed`, `stopped` and `paused` (a sentence for people).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The model's summary, for `finished`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary: Option<String>,
    },
    /// The plan, whole, after it was made or changed.
    Plan {
        /// Its steps, in order.
        steps: Vec<PlanStep>,
    },
    /// What the model said to the user.
    Message {
        /// The text.
        text: String,
    },
    /// The model asked for a tool.
    ToolCall {
        /// The call's id (the provider's).
        id: String,
        /// The tool.
        tool: String,
        /// Its input, as the model gave it.
        input: Value,
    },
    /// A tool's outcome, as the model sees it (secrets already redacted).
    ToolResult {
        /// The call's id.
        id: String,
        /// The tool.
        tool: String,
        /// Whether it worked.
        ok: bool,
        /// Its output or error, as text.
        output: String,
        /// How long it took, in milliseconds.
        duration_ms: f64,
    },
    /// Text from the user beyond the goal: an adjustment or an answer.
    Input {
        /// Which.
        kind: InputKind,
        /// The text.
        text: String,
    },
    /// A message of the conversation with the model, as sent; for resuming.
    Conversation {
        /// The message.
        message: Message,
    },
    /// A Duo workflow's checkpoint (`newCheckpoint`), without the agent's internal state: its
    /// new chat messages are [`Record::Message`]s and its plan a [`Record::Plan`].
    Checkpoint {
        /// The status as the service sent it (`RUNNING`, `TOOL_CALL_APPROVAL_REQUIRED` …).
        status: String,
        /// How many messages its chat log holds (those beyond the last checkpoint's are new).
        messages: usize,
        /// Errors the service reported since the last checkpoint.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        errors: Vec<String>,
        /// What the agent asks the user, when it waits for an answer or an approval.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<String>,
        /// The tool calls that wait for approval (TOOL_CALL_APPROVAL_REQUIRED).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<RequestedTool>,
    },
}

/// A tool call a Duo workflow asks the user to approve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestedTool {
    /// The tool (`run_command`, `create_merge_request_note` …).
    pub name: String,
    /// Its arguments.
    pub args: Value,
}

impl Record {
    /// Whether `dw run --json` prints this record (the conversation and settings are internal).
    pub fn is_shown(&self) -> bool {
        !matches!(self, Record::Conversation { .. } | Record::Created { .. })
    }

    /// A status record without reason or summary.
    pub fn status(status: WorkflowStatus) -> Record {
        Record::Status {
            status,
            reason: None,
            summary: None,
        }
    }
}

/// A [`Record`] with the time it was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// When, in RFC 3339 UTC with milliseconds.
    pub ts: String,
    /// What.
    #[serde(flatten)]
    pub record: Record,
}

impl Entry {
    /// `record`, stamped now.
    pub fn now(record: Record) -> Entry {
        Entry {
            ts: timestamp(std::time::SystemTime::now()),
            record,
        }
    }
}

/// `time` in RFC 3339 UTC with milliseconds, as every dw log writes it.
pub fn timestamp(time: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn records_have_the_documented_json_shapes() {
        let plan = Record::Plan {
            steps: vec![PlanStep {
                title: "Read the README".into(),
                status: StepStatus::InProgress,
            }],
        };
        assert_eq!(
            serde_json::to_value(&plan).unwrap(),
            serde_json::json!({"type": "plan", "steps": [{"title": "Read the README", "status": "in_progress"}]})
        );
        let status = Record::status(WorkflowStatus::PlanApprovalRequired);
        assert_eq!(
            serde_json::to_value(&status).unwrap(),
            serde_json::json!({"type": "status", "status": "plan_approval_required"})
        );
        let entry = Entry {
            ts: "2026-11-23T12:00:00.000Z".into(),
            record: Record::ToolResult {
                id: "c1".into(),
                tool: "read_file".into(),
                ok: true,
                output: "hi".into(),
                duration_ms: 0.5,
            },
        };
        let line = serde_json::to_string(&entry).unwrap();
        assert_eq!(
            line,
            r#"{"ts":"2026-11-23T12:00:00.000Z","type":"tool_result","id":"c1","tool":"read_file","ok":true,"output":"hi","duration_ms":0.5}"#
        );
        assert_eq!(serde_json::from_str::<Entry>(&line).unwrap(), entry);
    }

    #[test]
    fn the_conversation_round_trips() {
        let entry = Entry::now(Record::Conversation {
            message: Message::user("hello"),
        });
        let line = serde_json::to_string(&entry).unwrap();
        assert_eq!(serde_json::from_str::<Entry>(&line).unwrap(), entry);
        assert!(!entry.record.is_shown());
    }
}
