//! Conversions between the generated protobuf types and [`crate::message`].
//!
//! Client events and actions convert both ways (the client needs one direction, a test or fake
//! service the other). An action whose oneof is empty, which is how prost decodes a kind that
//! this subset of the contract does not list, becomes [`ActionKind::Unknown`] holding only
//! its `requestID`.

use super::proto;
use super::proto::action::Action as ProtoKind;
use super::proto::action_response::ResponseType;
use super::proto::approval::UserDecision;
use super::proto::client_event::Response as ProtoEvent;
use crate::message::{
    Action, ActionKind, ActionResponse, ActionResult, AdditionalContext, Approval, Approved,
    ClientEvent, EditFile, FindFiles, Grep, Heartbeat, HttpResponse, ListDirectory, McpTool, Mkdir,
    NewCheckpoint, PlainTextResponse, ReadFile, ReadFiles, Rejected, RunCommand, RunGitCommand,
    RunHttpRequest, RunMcpTool, RunShellCommand, StartRequest, StopWorkflow, WriteFile,
};

impl From<ClientEvent> for proto::ClientEvent {
    fn from(event: ClientEvent) -> Self {
        let response = match event {
            ClientEvent::StartRequest(start) => ProtoEvent::StartRequest(start.into()),
            ClientEvent::ActionResponse(response) => ProtoEvent::ActionResponse(response.into()),
            ClientEvent::Heartbeat(heartbeat) => ProtoEvent::Heartbeat(proto::HeartbeatRequest {
                timestamp: heartbeat.timestamp,
            }),
            ClientEvent::StopWorkflow(stop) => {
                ProtoEvent::StopWorkflow(proto::StopWorkflowRequest {
                    reason: stop.reason,
                })
            }
        };
        Self {
            response: Some(response),
        }
    }
}

/// The client event a protobuf message carries; `None` when its oneof is empty.
pub fn client_event_from_proto(event: proto::ClientEvent) -> Option<ClientEvent> {
    Some(match event.response? {
        ProtoEvent::StartRequest(start) => ClientEvent::StartRequest(start.into()),
        ProtoEvent::ActionResponse(response) => ClientEvent::ActionResponse(response.into()),
        ProtoEvent::Heartbeat(heartbeat) => ClientEvent::Heartbeat(Heartbeat {
            timestamp: heartbeat.timestamp,
        }),
        ProtoEvent::StopWorkflow(stop) => ClientEvent::StopWorkflow(StopWorkflow {
            reason: stop.reason,
        }),
    })
}

impl From<StartRequest> for proto::StartWorkflowRequest {
    fn from(start: StartRequest) -> Self {
        Self {
            client_version: start.client_version,
            workflow_id: start.workflow_id,
            workflow_definition: start.workflow_definition,
            goal: start.goal,
            workflow_metadata: start.workflow_metadata,
            client_capabilities: start.client_capabilities,
            mcp_tools: start.mcp_tools.into_iter().map(Into::into).collect(),
            additional_context: start
                .additional_context
                .into_iter()
                .map(Into::into)
                .collect(),
            approval: start.approval.map(Into::into),
            preapproved_tools: start.preapproved_tools,
        }
    }
}

impl From<proto::StartWorkflowRequest> for StartRequest {
    fn from(start: proto::StartWorkflowRequest) -> Self {
        Self {
            workflow_id: start.workflow_id,
            client_version: start.client_version,
            workflow_definition: start.workflow_definition,
            goal: start.goal,
            workflow_metadata: start.workflow_metadata,
            client_capabilities: start.client_capabilities,
            mcp_tools: start.mcp_tools.into_iter().map(Into::into).collect(),
            additional_context: start
                .additional_context
                .into_iter()
                .map(Into::into)
                .collect(),
            preapproved_tools: start.preapproved_tools,
            approval: start
                .approval
                .and_then(|approval| approval.user_decision)
                .map(Into::into),
        }
    }
}

impl From<McpTool> for proto::McpTool {
    fn from(tool: McpTool) -> Self {
        Self {
            name: tool.name,
            description: tool.description,
            input_schema: tool.input_schema,
        }
    }
}

impl From<proto::McpTool> for McpTool {
    fn from(tool: proto::McpTool) -> Self {
        Self {
            name: tool.name,
            description: tool.description,
            input_schema: tool.input_schema,
        }
    }
}

impl From<AdditionalContext> for proto::AdditionalContext {
    fn from(context: AdditionalContext) -> Self {
        Self {
            category: context.category,
            id: context.id,
            content: context.content,
            metadata: context.metadata,
        }
    }
}

impl From<proto::AdditionalContext> for AdditionalContext {
    fn from(context: proto::AdditionalContext) -> Self {
        Self {
            category: context.category,
            id: context.id,
            content: context.content,
            metadata: context.metadata,
        }
    }
}

impl From<Approval> for proto::Approval {
    fn from(approval: Approval) -> Self {
        let decision = match approval {
            Approval::Approved(Approved {}) => UserDecision::Approval(proto::approval::Approved {}),
            Approval::Rejected(rejected) => UserDecision::Rejection(proto::approval::Rejected {
                message: rejected.message,
            }),
        };
        Self {
            user_decision: Some(decision),
        }
    }
}

impl From<UserDecision> for Approval {
    fn from(decision: UserDecision) -> Self {
        match decision {
            UserDecision::Approval(proto::approval::Approved {}) => Self::Approved(Approved {}),
            UserDecision::Rejection(rejected) => Self::Rejected(Rejected {
                message: rejected.message,
            }),
        }
    }
}

impl From<ActionResponse> for proto::ActionResponse {
    fn from(response: ActionResponse) -> Self {
        let response_type = match response.result {
            ActionResult::PlainText(text) => {
                ResponseType::PlainTextResponse(proto::PlainTextResponse {
                    response: text.response,
                    error: text.error,
                })
            }
            ActionResult::Http(http) => ResponseType::HttpResponse(proto::HttpResponse {
                headers: http.headers.into_iter().collect(),
                status_code: http.status_code,
                body: http.body,
                error: http.error,
            }),
        };
        Self {
            request_id: response.request_id,
            response_type: Some(response_type),
        }
    }
}

impl From<proto::ActionResponse> for ActionResponse {
    fn from(response: proto::ActionResponse) -> Self {
        let result = match response.response_type {
            Some(ResponseType::HttpResponse(http)) => ActionResult::Http(HttpResponse {
                status_code: http.status_code,
                headers: http.headers.into_iter().collect(),
                body: http.body,
                error: http.error,
            }),
            Some(ResponseType::PlainTextResponse(text)) => {
                ActionResult::PlainText(PlainTextResponse {
                    response: text.response,
                    error: text.error,
                })
            }
            None => ActionResult::PlainText(PlainTextResponse::default()),
        };
        Self {
            request_id: response.request_id,
            result,
        }
    }
}

impl From<proto::Action> for Action {
    fn from(action: proto::Action) -> Self {
        let kind = match action.action {
            Some(kind) => kind.into(),
            None => ActionKind::Unknown(serde_json::json!({ "requestID": action.request_id })),
        };
        Self {
            request_id: action.request_id,
            kind,
        }
    }
}

impl From<ProtoKind> for ActionKind {
    fn from(kind: ProtoKind) -> Self {
        match kind {
            ProtoKind::RunCommand(run) => Self::RunCommand(RunCommand {
                program: run.program,
                arguments: run.arguments,
                flags: run.flags,
                timeout: run.timeout,
            }),
            ProtoKind::RunHttpRequest(request) => Self::RunHttpRequest(RunHttpRequest {
                method: request.method,
                path: request.path,
                body: request.body,
            }),
            ProtoKind::RunReadFile(read) => Self::RunReadFile(ReadFile {
                filepath: read.filepath,
                offset: read.offset,
                limit: read.limit,
            }),
            ProtoKind::RunWriteFile(write) => Self::RunWriteFile(WriteFile {
                filepath: write.filepath,
                contents: write.contents,
            }),
            ProtoKind::RunGitCommand(git) => Self::RunGitCommand(RunGitCommand {
                command: git.command,
                arguments: git.arguments,
                repository_url: git.repository_url,
            }),
            ProtoKind::RunEditFile(edit) => Self::RunEditFile(EditFile {
                filepath: edit.filepath,
                old_string: edit.old_string,
                new_string: edit.new_string,
            }),
            ProtoKind::NewCheckpoint(checkpoint) => Self::NewCheckpoint(NewCheckpoint {
                status: checkpoint.status,
                checkpoint: checkpoint.checkpoint,
                goal: checkpoint.goal,
                errors: checkpoint.errors,
            }),
            ProtoKind::ListDirectory(list) => Self::ListDirectory(ListDirectory {
                directory: list.directory,
            }),
            ProtoKind::Grep(grep) => Self::Grep(Grep {
                search_directory: grep.search_directory,
                pattern: grep.pattern,
                case_insensitive: grep.case_insensitive,
            }),
            ProtoKind::FindFiles(find) => Self::FindFiles(FindFiles {
                name_pattern: find.name_pattern,
            }),
            ProtoKind::RunMcpTool(tool) => Self::RunMcpTool(RunMcpTool {
                name: tool.name,
                args: tool.args,
            }),
            ProtoKind::Mkdir(mkdir) => Self::Mkdir(Mkdir {
                directory_path: mkdir.directory_path,
            }),
            ProtoKind::RunReadFiles(read) => Self::RunReadFiles(ReadFiles {
                filepaths: read.filepaths,
            }),
            ProtoKind::RunShellCommand(shell) => Self::RunShellCommand(RunShellCommand {
                command: shell.command,
                timeout: shell.timeout,
            }),
        }
    }
}

impl From<Action> for proto::Action {
    fn from(action: Action) -> Self {
        Self {
            request_id: action.request_id,
            action: proto_kind(action.kind),
        }
    }
}

/// The protobuf oneof for a kind; `None` for [`ActionKind::Unknown`], which has no field.
fn proto_kind(kind: ActionKind) -> Option<ProtoKind> {
    Some(match kind {
        ActionKind::RunCommand(run) => ProtoKind::RunCommand(proto::RunCommandAction {
            program: run.program,
            arguments: run.arguments,
            flags: run.flags,
            timeout: run.timeout,
        }),
        ActionKind::RunHttpRequest(request) => ProtoKind::RunHttpRequest(proto::RunHttpRequest {
            method: request.method,
            path: request.path,
            body: request.body,
        }),
        ActionKind::RunReadFile(read) => ProtoKind::RunReadFile(proto::ReadFile {
            filepath: read.filepath,
            limit: read.limit,
            offset: read.offset,
        }),
        ActionKind::RunWriteFile(write) => ProtoKind::RunWriteFile(proto::WriteFile {
            filepath: write.filepath,
            contents: write.contents,
        }),
        ActionKind::RunGitCommand(git) => ProtoKind::RunGitCommand(proto::RunGitCommand {
            command: git.command,
            arguments: git.arguments,
            repository_url: git.repository_url,
        }),
        ActionKind::RunEditFile(edit) => ProtoKind::RunEditFile(proto::EditFile {
            filepath: edit.filepath,
            old_string: edit.old_string,
            new_string: edit.new_string,
        }),
        ActionKind::NewCheckpoint(checkpoint) => ProtoKind::NewCheckpoint(proto::NewCheckpoint {
            status: checkpoint.status,
            checkpoint: checkpoint.checkpoint,
            goal: checkpoint.goal,
            errors: checkpoint.errors,
        }),
        ActionKind::ListDirectory(list) => ProtoKind::ListDirectory(proto::ListDirectory {
            directory: list.directory,
        }),
        ActionKind::Grep(grep) => ProtoKind::Grep(proto::Grep {
            search_directory: grep.search_directory,
            pattern: grep.pattern,
            case_insensitive: grep.case_insensitive,
        }),
        ActionKind::FindFiles(find) => ProtoKind::FindFiles(proto::FindFiles {
            name_pattern: find.name_pattern,
        }),
        ActionKind::RunMcpTool(tool) => ProtoKind::RunMcpTool(proto::RunMcpTool {
            name: tool.name,
            args: tool.args,
        }),
        ActionKind::Mkdir(mkdir) => ProtoKind::Mkdir(proto::Mkdir {
            directory_path: mkdir.directory_path,
        }),
        ActionKind::RunReadFiles(read) => ProtoKind::RunReadFiles(proto::ReadFiles {
            filepaths: read.filepaths,
        }),
        ActionKind::RunShellCommand(shell) => ProtoKind::RunShellCommand(proto::RunShellCommand {
            command: shell.command,
            timeout: shell.timeout,
        }),
        ActionKind::Unknown(_) => return None,
    })
}
