//! `dw run --duo`: GitLab's Duo Workflow — its planner and model, the workflow visible in
//! GitLab — executed on dw's sandbox.
//!
//! A [`DuoRunner`] drives one workflow that already exists on the GitLab instance (its id is in
//! the workflow's [`DuoSettings`]). It starts the sandbox, opens a session with the Duo Workflow
//! Service ([`dw_duo::connect`], over the WebSocket through GitLab or gRPC straight to the
//! service) and carries out what the service asks for:
//!
//! - file, directory, search, command, shell-command and git actions run on the sandbox's
//!   executor, through the same tools and audit as `dw run` ([`tools::run_in_sandbox`]);
//! - `runHTTPRequest` is made by dw on the host, with the GitLab token (which never enters the
//!   sandbox), against the instance only, for paths under `/api/v4/` only, and only GET unless
//!   the workflow allows GitLab writes ([`check_http_request`]); a refused request is answered
//!   `403` with the reason;
//! - an action kind dw does not know (and `runMCPTool`: dw offers no MCP tools) is answered
//!   with an error, never a crash.
//!
//! Every action, refused or not, goes to the audit log; every action and its answer, every
//! checkpoint, the agent's new chat messages and its plan go to `events.jsonl` and the
//! [`Observer`], as the local runner's records do. Answers are redacted like the local
//! runner's tool results before they leave for the service.
//!
//! The service stops at PLAN_APPROVAL_REQUIRED, TOOL_CALL_APPROVAL_REQUIRED and INPUT_REQUIRED
//! and closes the stream; the user answers through the [`Interaction`] and the runner
//! reconnects with a `startRequest` carrying the approval, the rejection or (for input) the
//! answer as its goal. A dropped connection is retried with exponential backoff and the
//! workflow resumed by its id ([`Timing`]); credentials the service refuses over gRPC are
//! fetched again (`direct_access`). After the last retry the workflow fails, cleanly: status
//! `failed`, sandbox removed. Ctrl-C pauses (the session is closed; resuming reconnects), a
//! stop sends `stopWorkflow` to the service.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dw_duo::message::{
    ActionResult, ChatLogEntry, HttpResponse, NewCheckpoint, RunHttpRequest, StopWorkflow,
};
use dw_duo::{
    Action, ActionKind, ActionResponse, AnySession, Approval, CheckpointStatus, ClientEvent,
    GrpcTarget, Heartbeats, Retry, Session, StartRequest, Target, WebSocketTarget,
};
use dw_runtime::engine::Engine;
use dw_runtime::secrets::Redactor;
use serde_json::{Value, json};

use crate::record::{
    DuoSettings, Entry, InputKind, PlanStep, Record, RequestedTool, Settings, StepStatus,
    WorkflowStatus, timestamp,
};
use crate::runner::{
    Control, Interaction, Observer, PauseDecision, PlanDecision, RunOutcome, ToolCallDecision,
    ToolCallRequest, refuse_secrets,
};
use crate::sandbox::Sandbox;
use crate::store::{AuditLog, AuditRecord, EventLog, History, Lock, StoreError, Workflow, millis};
use crate::tools::{self, Tool};

/// What dw tells the service it can execute.
const CLIENT_CAPABILITIES: &[&str] = &["shell_command", "read_file_chunked"];

/// Tools of the service that act on the workspace (carried out by dw's executor) or keep the
/// agent's own notes: they never write to GitLab.
const LOCAL_TOOLS: &[&str] = &[
    "read_file",
    "read_files",
    "create_file_with_contents",
    "edit_file",
    "list_dir",
    "find_files",
    "grep",
    "mkdir",
    "run_command",
    "run_git_command",
    "run_read_only_git_command",
    "run_shell_command",
    "add_new_task",
    "remove_task",
    "update_task_description",
    "get_plan",
    "set_task_status",
    "handover_tool",
    "request_user_clarification_tool",
];

/// Name prefixes of the service's GitLab tools that only read.
const READ_ONLY_PREFIXES: &[&str] = &["get_", "list_", "read_", "search_", "gitlab_"];

/// Whether a tool of the service may write to GitLab: anything not known to be local or
/// read-only counts as writing (`create_merge_request_note`, `update_issue`, a tool added
/// upstream after this list was written …).
pub fn tool_writes_gitlab(name: &str) -> bool {
    let read_only = LOCAL_TOOLS.contains(&name)
        || (READ_ONLY_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
            && !name.contains("create")
            && !name.contains("update")
            && !name.contains("delete"))
        || name.ends_with("_search");
    !read_only
}

/// Whether dw makes a `runHTTPRequest` for the agent: `Ok` for a GET of a path under
/// `/api/v4/` (any method with `allow_writes`), else the reason it is refused.
///
/// The path is resolved against the GitLab instance by [`dw_duo::GitLab::api`], which refuses
/// anything that leaves it; this check also refuses dot segments (plain or percent-encoded),
/// backslashes, fragments and control characters, so that what is audited is what is asked.
pub fn check_http_request(method: &str, path: &str, allow_writes: bool) -> Result<(), String> {
    const WRITES: &[&str] = &["POST", "PUT", "PATCH", "DELETE"];
    let asked = format!("{method} {path}");
    let (route, _query) = path.split_once('?').unwrap_or((path, ""));
    let confined = route.starts_with("/api/v4/")
        && !path
            .chars()
            .any(|char| char.is_control() || char.is_whitespace() || matches!(char, '\\' | '#'))
        && route.split('/').skip(1).all(|segment| {
            let decoded = segment.replace("%2e", ".").replace("%2E", ".");
            !segment.is_empty() && decoded != "." && decoded != ".."
        });
    if !confined {
        return Err(format!(
            "dw refused {asked}: the agent may only call the GitLab REST API of this workflow's \
             instance, at paths under /api/v4/ (no `..`, no empty segments)"
        ));
    }
    if method == "GET" {
        return Ok(());
    }
    if !WRITES.contains(&method) {
        return Err(format!(
            "dw refused {asked}: dw makes only GET, POST, PUT, PATCH and DELETE requests"
        ));
    }
    if allow_writes {
        return Ok(());
    }
    Err(format!(
        "dw refused {asked}: GitLab is read-only for this workflow, dw makes only GET requests; \
         the user can allow writes by starting the workflow with `dw run --duo \
         --allow-gitlab-writes`"
    ))
}

/// How often, and how long, the runner waits on the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// How often a heartbeat is sent.
    pub heartbeat: Duration,
    /// The wait before the first reconnection; it doubles with every further attempt.
    pub first_retry: Duration,
    /// The longest wait between two attempts.
    pub max_retry: Duration,
    /// How many times in a row a connection may fail before the workflow fails.
    pub retries: u32,
    /// How long the service has to confirm a `stopWorkflow`.
    pub stop_grace: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            heartbeat: dw_duo::HEARTBEAT_PERIOD,
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(16),
            retries: 6,
            stop_grace: Duration::from_secs(10),
        }
    }
}

impl Timing {
    /// The wait before attempt `failures + 1`.
    fn backoff(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1));
        self.first_retry.saturating_mul(factor).min(self.max_retry)
    }
}

/// What a Duo runner needs besides the workflow's own state.
pub struct DuoEnvironment {
    /// The engine to start the sandbox on.
    pub engine: Engine,
    /// The executor binary (`None`: look for it as the sandbox does).
    pub executor: Option<PathBuf>,
    /// The GitLab instance and token (its requests already audited, see [`audit_hook`]).
    pub gitlab: dw_duo::GitLab,
    /// Recognises secrets in the user's text and in what is sent to the service.
    pub redactor: Redactor,
    /// Pause and stop requests.
    pub control: Control,
    /// The user.
    pub interaction: Box<dyn Interaction>,
    /// Where records are printed.
    pub observer: Observer,
    /// The audit log.
    pub audit: AuditLog,
    /// Heartbeats and reconnection.
    pub timing: Timing,
}

/// The audit hook for [`dw_duo::GitLab::with_audit`]: every request to GitLab, as an `http`
/// line of service `gitlab`.
pub fn audit_hook(audit: &AuditLog) -> Arc<dyn dw_duo::HttpAudit> {
    Arc::new(GitLabAudit(audit.clone()))
}

struct GitLabAudit(AuditLog);

impl dw_duo::HttpAudit for GitLabAudit {
    fn record(&self, exchange: &dw_duo::HttpExchange) {
        self.0.append(&http_record(
            "gitlab",
            &exchange.method,
            &exchange.url,
            exchange.status,
            exchange.duration,
        ));
    }
}

fn http_record(
    service: &str,
    method: &str,
    url: &str,
    status: Option<u16>,
    duration: Duration,
) -> AuditRecord {
    AuditRecord::Http {
        ts: timestamp(std::time::SystemTime::now()),
        service: service.to_owned(),
        method: method.to_owned(),
        url: url.to_owned(),
        status,
        duration_ms: millis(duration),
        attempt: 1,
        retry_in_ms: None,
    }
}

/// Why a Duo runner could not run or record what happened.
#[derive(Debug, thiserror::Error)]
pub enum DuoError {
    /// The state directory could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The workflow is not a Duo workflow.
    #[error("workflow {id} is not a Duo workflow; resume it with `dw workflows resume {id}`")]
    NotDuo {
        /// The workflow.
        id: String,
    },
    /// The workflow cannot be resumed.
    #[error(
        "workflow {id} is {status}; only a paused, failed, waiting or interrupted workflow can be resumed — start a new one with `dw run --duo`"
    )]
    NotResumable {
        /// The workflow.
        id: String,
        /// Its status.
        status: WorkflowStatus,
    },
    /// A message was given for a workflow that does not wait for one.
    #[error(
        "workflow {id} is {status}: Duo Workflow takes a message only while it waits for an answer or an approval; resume without --message"
    )]
    NoMessageExpected {
        /// The workflow.
        id: String,
        /// Its status.
        status: WorkflowStatus,
    },
}

/// How a run ended.
enum End {
    Finished(String),
    Failed { reason: String, environment: bool },
    Stopped(String),
    Left(WorkflowStatus),
}

/// How a session ended.
enum Served {
    /// The service closed the stream.
    Ended,
    /// The connection failed.
    Lost(dw_duo::Error),
    /// The user paused the workflow.
    Paused,
    /// The user stopped the workflow; the service was told.
    Stopped,
}

enum DriveError {
    Store(StoreError),
    Sandbox(String),
}

impl From<StoreError> for DriveError {
    fn from(error: StoreError) -> Self {
        DriveError::Store(error)
    }
}

/// What the next `startRequest` carries besides the workflow.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    None,
    Approval(Approval),
    Input(String),
}

/// What the last checkpoint said.
#[derive(Debug, Clone, Default)]
struct Last {
    status: Option<CheckpointStatus>,
    errors: Vec<String>,
    request: Option<String>,
    tool_calls: Vec<RequestedTool>,
}

/// One Duo workflow being driven by this process.
pub struct DuoRunner {
    workflow: Workflow,
    _lock: Lock,
    log: EventLog,
    settings: Settings,
    duo: DuoSettings,
    env: DuoEnvironment,
    sandbox: Option<Sandbox>,
    status: WorkflowStatus,
    /// How many chat messages the last checkpoint held (those were printed).
    messages: usize,
    plan: Vec<PlanStep>,
    last: Last,
    /// The agent's last message: the summary when the workflow finishes.
    summary: Option<String>,
    answer: Answer,
    /// A message given with `dw workflows resume --message`, for the first question.
    preset: Option<String>,
    /// Connections that failed in a row.
    failures: u32,
    /// The service's address and credentials, from `direct_access` (gRPC only).
    grpc: Option<GrpcTarget>,
}

impl DuoRunner {
    /// A runner for a Duo workflow just created (locally, with [`Store::create`], and on
    /// GitLab).
    ///
    /// [`Store::create`]: crate::store::Store::create
    pub fn new(
        workflow: Workflow,
        lock: Lock,
        log: EventLog,
        settings: Settings,
        env: DuoEnvironment,
    ) -> Result<DuoRunner, DuoError> {
        let duo = settings.duo.clone().ok_or_else(|| DuoError::NotDuo {
            id: workflow.id().to_owned(),
        })?;
        Ok(DuoRunner {
            workflow,
            _lock: lock,
            log,
            settings,
            duo,
            env,
            sandbox: None,
            status: WorkflowStatus::Created,
            messages: 0,
            plan: Vec::new(),
            last: Last::default(),
            summary: None,
            answer: Answer::None,
            preset: None,
            failures: 0,
            grpc: None,
        })
    }

    /// A runner that goes on with a Duo workflow from its `history`. `message` answers the
    /// agent's question, or rejects the plan or tool calls waiting for approval with these
    /// words.
    pub fn resume(
        workflow: Workflow,
        lock: Lock,
        history: History,
        env: DuoEnvironment,
        message: Option<String>,
    ) -> Result<DuoRunner, DuoError> {
        let id = workflow.id().to_owned();
        let status = history.status();
        if status.is_final() {
            return Err(DuoError::NotResumable { id, status });
        }
        let waits = matches!(
            status,
            WorkflowStatus::InputRequired
                | WorkflowStatus::PlanApprovalRequired
                | WorkflowStatus::ToolCallApprovalRequired
        );
        if message.is_some() && !waits {
            return Err(DuoError::NoMessageExpected { id, status });
        }
        let log = workflow.event_log()?;
        let mut runner = DuoRunner::new(workflow, lock, log, history.settings, env)?;
        runner.status = status;
        runner.preset = message;
        for entry in history.entries {
            match entry.record {
                Record::Plan { steps } => runner.plan = steps,
                Record::Message { text } => runner.summary = Some(text),
                Record::Checkpoint {
                    status,
                    messages,
                    errors,
                    request,
                    tool_calls,
                } => {
                    runner.messages = messages;
                    runner.last = Last {
                        status: Some(CheckpointStatus::parse(&status)),
                        errors,
                        request,
                        tool_calls,
                    };
                }
                _ => {}
            }
        }
        Ok(runner)
    }

    /// The workflow's id.
    pub fn id(&self) -> &str {
        self.workflow.id()
    }

    /// Drives the workflow until it finishes, fails, stops or waits, removes the sandbox, and
    /// records the final status.
    pub async fn run(mut self) -> Result<RunOutcome, DuoError> {
        let end = match self.drive().await {
            Ok(end) => end,
            Err(DriveError::Store(error)) => {
                self.remove_sandbox().await;
                return Err(error.into());
            }
            Err(DriveError::Sandbox(reason)) => End::Failed {
                reason,
                environment: true,
            },
        };
        self.remove_sandbox().await;
        let (status, detail, environment_error, summary) = match end {
            End::Finished(summary) => (WorkflowStatus::Finished, summary, false, true),
            End::Failed {
                reason,
                environment,
            } => (WorkflowStatus::Failed, reason, environment, false),
            End::Stopped(reason) => (WorkflowStatus::Stopped, reason, false, false),
            End::Left(status) => (
                status,
                format!("resume with `dw workflows resume {}`", self.id()),
                false,
                false,
            ),
        };
        self.status = status;
        let (reason, summary_text) = if summary {
            (None, Some(detail.clone()))
        } else {
            (Some(detail.clone()), None)
        };
        self.record(Record::Status {
            status,
            reason,
            summary: summary_text,
        })?;
        Ok(RunOutcome {
            status,
            detail: Some(detail),
            environment_error,
        })
    }

    async fn drive(&mut self) -> Result<End, DriveError> {
        if let Err(reason) = self.start_sandbox().await {
            return Ok(End::Failed {
                reason,
                environment: true,
            });
        }
        if self
            .last
            .status
            .as_ref()
            .is_some_and(CheckpointStatus::needs_user)
            && self.status != WorkflowStatus::Paused
            && let Some(end) = self.ask().await?
        {
            return Ok(end);
        }
        loop {
            let mut session = match self.open().await? {
                Ok(session) => session,
                Err(end) => return Ok(end),
            };
            let served = self.serve(&mut session).await?;
            // The service may already have closed it; nothing depends on this succeeding.
            let _ = session.close().await;
            match served {
                Served::Ended => {
                    if let Some(end) = self.after_session().await? {
                        return Ok(end);
                    }
                }
                Served::Lost(error) if error.retry() == Retry::No => {
                    return Ok(End::Failed {
                        reason: format!("the Duo Workflow session failed: {error}"),
                        environment: true,
                    });
                }
                Served::Lost(error) => {
                    if error.retry() == Retry::WithFreshCredentials {
                        self.grpc = None;
                    }
                    if let Some(end) = self.back_off(&error.to_string()).await {
                        return Ok(end);
                    }
                }
                Served::Paused => match self.pause().await? {
                    PauseDecision::Resume | PauseDecision::Adjust(_) => {}
                    PauseDecision::Stop => {
                        self.notify_stop().await;
                        return Ok(End::Stopped("stopped by the user".to_owned()));
                    }
                    PauseDecision::Leave => return Ok(End::Left(WorkflowStatus::Paused)),
                },
                Served::Stopped => return Ok(End::Stopped("stopped by the user".to_owned())),
            }
        }
    }

    /// The service ended the session: the workflow is over, waits for the user, or the
    /// session ended early (which counts as a dropped connection).
    async fn after_session(&mut self) -> Result<Option<End>, DriveError> {
        let Some(status) = self.last.status.clone() else {
            return Ok(self
                .back_off("the service ended the session before the workflow began")
                .await);
        };
        let end = match status {
            CheckpointStatus::Finished => End::Finished(
                self.summary
                    .clone()
                    .unwrap_or_else(|| "Duo Workflow finished.".to_owned()),
            ),
            CheckpointStatus::Failed => End::Failed {
                reason: if self.last.errors.is_empty() {
                    "the Duo Workflow Service reported the workflow as failed; see it in GitLab"
                        .to_owned()
                } else {
                    format!(
                        "the Duo Workflow Service reported the workflow as failed: {}",
                        self.last.errors.join("; ")
                    )
                },
                environment: false,
            },
            CheckpointStatus::Stopped => End::Stopped("stopped in GitLab".to_owned()),
            status if status.needs_user() => return self.ask().await,
            _ => {
                return Ok(self
                    .back_off("the service ended the session before the workflow was over")
                    .await);
            }
        };
        Ok(Some(end))
    }

    /// One more failed connection: waits before the next attempt, or gives up.
    async fn back_off(&mut self, why: &str) -> Option<End> {
        self.failures += 1;
        if self.failures > self.env.timing.retries {
            return Some(End::Failed {
                reason: format!(
                    "lost the connection to the Duo Workflow Service ({why}) and could not get \
                     it back in {} attempts; `dw workflows resume {}` tries again",
                    self.env.timing.retries,
                    self.id()
                ),
                environment: true,
            });
        }
        let wait = self.env.timing.backoff(self.failures);
        let control = self.env.control.clone();
        tokio::select! {
            () = tokio::time::sleep(wait) => None,
            () = control.stopped() => Some(End::Stopped("stopped by the user".to_owned())),
        }
    }

    /// Where to connect; for gRPC, `direct_access` is asked the first time and whenever the
    /// service refused its credentials.
    async fn target(&mut self) -> Result<Target, dw_duo::Error> {
        if self.duo.transport != "grpc" {
            let socket = WebSocketTarget {
                project_id: self
                    .settings
                    .gitlab
                    .as_ref()
                    .map(|gitlab| gitlab.project.clone()),
                ..WebSocketTarget::new(&self.env.gitlab)
            };
            return Ok(Target::WebSocket(socket));
        }
        if let Some(target) = &self.grpc {
            return Ok(Target::Grpc(target.clone()));
        }
        let access = self.env.gitlab.direct_access().await?;
        let target = GrpcTarget::from_direct_access(&access.duo_workflow_service);
        self.grpc = Some(target.clone());
        Ok(Target::Grpc(target))
    }

    /// Connects and sends the `startRequest`, retrying as the error says.
    async fn open(&mut self) -> Result<Result<AnySession, End>, DriveError> {
        loop {
            let started = Instant::now();
            let connected = match self.target().await {
                Ok(target) => {
                    let connected = dw_duo::connect(&target, self.start_request()).await;
                    self.audit_connection(&target, &connected, started);
                    connected
                }
                Err(error) => Err(error),
            };
            let error = match connected {
                Ok(session) => return Ok(Ok(session)),
                Err(error) => error,
            };
            match error.retry() {
                Retry::No => {
                    return Ok(Err(End::Failed {
                        reason: format!("cannot reach Duo Workflow: {error}"),
                        environment: true,
                    }));
                }
                Retry::WithFreshCredentials if self.duo.transport == "grpc" => self.grpc = None,
                Retry::WithFreshCredentials => {
                    return Ok(Err(End::Failed {
                        reason: format!("GitLab refused the token: {error}"),
                        environment: true,
                    }));
                }
                Retry::WithBackoff => {}
            }
            if let Some(end) = self.back_off(&error.to_string()).await {
                return Ok(Err(end));
            }
        }
    }

    fn audit_connection(
        &self,
        target: &Target,
        connected: &Result<AnySession, dw_duo::Error>,
        started: Instant,
    ) {
        let status = match connected {
            Ok(_) => Some(match target {
                Target::WebSocket(_) => 101,
                Target::Grpc(_) => 200,
            }),
            Err(error) => error.http_status(),
        };
        let (method, url) = match target {
            Target::WebSocket(socket) => (
                "GET",
                socket
                    .url()
                    .map_or_else(|_| socket.instance_url.to_string(), |url| url.to_string()),
            ),
            Target::Grpc(service) => (
                "POST",
                format!(
                    "{}/DuoWorkflow/ExecuteWorkflow",
                    service.url.trim_end_matches('/')
                ),
            ),
        };
        self.env.audit.append(&http_record(
            "duo-workflow",
            method,
            &url,
            status,
            started.elapsed(),
        ));
    }

    fn start_request(&self) -> StartRequest {
        start_request(&self.duo, &self.settings.goal, &self.answer)
    }

    /// Answers actions and sends heartbeats until the session ends, the user pauses or stops.
    async fn serve(&mut self, session: &mut AnySession) -> Result<Served, DriveError> {
        let mut heartbeats = Heartbeats::every(self.env.timing.heartbeat);
        let control = self.env.control.clone();
        loop {
            let action = tokio::select! {
                biased;
                () = control.stopped() => return self.stop_session(session, &mut heartbeats).await,
                () = control.requested() => {
                    control.clear_pause();
                    return Ok(Served::Paused);
                }
                heartbeat = heartbeats.tick() => {
                    if let Err(error) = session.send(heartbeat).await {
                        return Ok(Served::Lost(error));
                    }
                    continue;
                }
                next = session.next() => match next {
                    None => return Ok(Served::Ended),
                    Some(Err(error)) => return Ok(Served::Lost(error)),
                    Some(Ok(action)) => action,
                },
            };
            // The service accepted the startRequest: its answer was delivered.
            self.failures = 0;
            self.answer = Answer::None;
            if let ActionKind::NewCheckpoint(checkpoint) = &action.kind {
                self.checkpoint(checkpoint)?;
                continue;
            }
            let (response, interrupted) = {
                let execution = self.execute(&action);
                tokio::pin!(execution);
                loop {
                    tokio::select! {
                        executed = &mut execution => break executed?,
                        heartbeat = heartbeats.tick() => {
                            // A lost connection shows when the answer is sent.
                            let _ = session.send(heartbeat).await;
                        }
                    }
                }
            };
            if let Err(error) = session.send(ClientEvent::ActionResponse(response)).await {
                return Ok(Served::Lost(error));
            }
            if interrupted {
                return self.stop_session(session, &mut heartbeats).await;
            }
        }
    }

    /// Sends `stopWorkflow`, then records what the service says until it ends the session
    /// (or the grace period is over).
    async fn stop_session(
        &mut self,
        session: &mut AnySession,
        heartbeats: &mut Heartbeats,
    ) -> Result<Served, DriveError> {
        let stop = ClientEvent::StopWorkflow(StopWorkflow {
            reason: "stopped by the user with dw".to_owned(),
        });
        if session.send(stop).await.is_err() {
            return Ok(Served::Stopped);
        }
        let deadline = tokio::time::Instant::now() + self.env.timing.stop_grace;
        loop {
            let next = tokio::select! {
                next = session.next() => next,
                heartbeat = heartbeats.tick() => {
                    let _ = session.send(heartbeat).await;
                    continue;
                }
                () = tokio::time::sleep_until(deadline) => None,
            };
            match next {
                Some(Ok(Action {
                    kind: ActionKind::NewCheckpoint(checkpoint),
                    ..
                })) => self.checkpoint(&checkpoint)?,
                Some(Ok(action)) => {
                    let refused = ActionResponse::error(
                        action.request_id,
                        "not run: the user stopped the workflow",
                    );
                    let _ = session.send(ClientEvent::ActionResponse(refused)).await;
                }
                None | Some(Err(_)) => return Ok(Served::Stopped),
            }
        }
    }

    /// Tells the service the workflow is stopped when no session is open: connects, then
    /// stops at once. Best effort: the local state says stopped whatever the service answers.
    async fn notify_stop(&mut self) {
        let grace = self.env.timing.stop_grace;
        let attempt = async {
            let target = self.target().await.ok()?;
            let mut session = dw_duo::connect(&target, self.start_request()).await.ok()?;
            let mut heartbeats = Heartbeats::every(self.env.timing.heartbeat);
            let _ = self.stop_session(&mut session, &mut heartbeats).await;
            let _ = session.close().await;
            Some(())
        };
        if !matches!(tokio::time::timeout(grace, attempt).await, Ok(Some(()))) {
            eprintln!(
                "warning: could not tell the Duo Workflow Service that workflow {} stopped; it may \
                 still show as running in GitLab",
                self.duo.workflow_id
            );
        }
    }

    /// Records a checkpoint: its new chat messages, its plan, the checkpoint itself and the
    /// status it means.
    fn checkpoint(&mut self, checkpoint: &NewCheckpoint) -> Result<(), StoreError> {
        let status = checkpoint.status();
        let mut errors = checkpoint.errors.clone();
        let log = checkpoint.ui_chat_log().unwrap_or_else(|error| {
            errors.push(format!(
                "dw could not read the checkpoint's chat log: {error}"
            ));
            Vec::new()
        });
        let new: Vec<&ChatLogEntry> = log.iter().skip(self.messages).collect();
        for entry in &new {
            if entry.message_type == "agent" && !entry.content.trim().is_empty() {
                let text = self.env.redactor.redact(&entry.content).into_owned();
                self.summary = Some(text.clone());
                self.record(Record::Message { text })?;
            }
        }
        let plan: Vec<PlanStep> = checkpoint
            .plan()
            .unwrap_or_default()
            .into_iter()
            .map(|step| PlanStep {
                title: step.description,
                status: step_status(&step.status),
            })
            .collect();
        if !plan.is_empty() && plan != self.plan {
            self.plan.clone_from(&plan);
            self.record(Record::Plan { steps: plan })?;
        }
        let tool_calls = if status == CheckpointStatus::ToolCallApprovalRequired {
            requested_tools(&new, &log)
        } else {
            Vec::new()
        };
        let request = status
            .needs_user()
            .then(|| {
                log.iter()
                    .rev()
                    .find(|entry| entry.message_type == "request" && entry.tool_info.is_none())
                    .or_else(|| log.iter().rev().find(|entry| entry.is_for_the_user()))
                    .map(|entry| self.env.redactor.redact(&entry.content).into_owned())
            })
            .flatten();
        self.messages = self.messages.max(log.len());
        self.record(Record::Checkpoint {
            status: checkpoint.status.clone(),
            messages: log.len(),
            errors: errors.clone(),
            request: request.clone(),
            tool_calls: tool_calls.clone(),
        })?;
        if let Some(local) = workflow_status(&status) {
            self.set_status(local)?;
        }
        self.last = Last {
            status: Some(status),
            errors,
            request,
            tool_calls,
        };
        Ok(())
    }

    /// Asks the user what the last checkpoint waits for, and sets the next session's answer.
    async fn ask(&mut self) -> Result<Option<End>, DriveError> {
        let control = self.env.control.clone();
        loop {
            let (text, approval, input) = match self.last.status {
                Some(CheckpointStatus::PlanApprovalRequired) => {
                    self.set_status(WorkflowStatus::PlanApprovalRequired)?;
                    let decision = match self.preset.take() {
                        Some(text) => PlanDecision::Adjust(text),
                        None => {
                            let plan = self.plan.clone();
                            tokio::select! {
                                decision = self.env.interaction.approve_plan(&plan) => decision,
                                () = control.stopped() => PlanDecision::Cancel,
                            }
                        }
                    };
                    match decision {
                        PlanDecision::Approve => ("the plan".to_owned(), true, false),
                        PlanDecision::Adjust(text) => (text, false, false),
                        PlanDecision::Cancel => return Ok(Some(self.cancel().await)),
                        PlanDecision::Leave => {
                            return Ok(Some(End::Left(WorkflowStatus::PlanApprovalRequired)));
                        }
                    }
                }
                Some(CheckpointStatus::ToolCallApprovalRequired) => {
                    self.set_status(WorkflowStatus::ToolCallApprovalRequired)?;
                    let request = self.tool_call_request();
                    let decision = match self.preset.take() {
                        Some(text) => ToolCallDecision::Reject(text),
                        None => tokio::select! {
                            decision = self.env.interaction.approve_tool_call(&request) => decision,
                            () = control.stopped() => ToolCallDecision::Cancel,
                        },
                    };
                    match decision {
                        ToolCallDecision::Approve => {
                            let names: Vec<&str> = request
                                .tools
                                .iter()
                                .map(|tool| tool.name.as_str())
                                .collect();
                            (format!("tool calls: {}", names.join(", ")), true, false)
                        }
                        ToolCallDecision::Reject(text) => (text, false, false),
                        ToolCallDecision::Cancel => return Ok(Some(self.cancel().await)),
                        ToolCallDecision::Leave => {
                            return Ok(Some(End::Left(WorkflowStatus::ToolCallApprovalRequired)));
                        }
                    }
                }
                Some(CheckpointStatus::InputRequired) => {
                    self.set_status(WorkflowStatus::InputRequired)?;
                    let question = self
                        .last
                        .request
                        .clone()
                        .unwrap_or_else(|| "Duo Workflow waits for your input.".to_owned());
                    let answer = match self.preset.take() {
                        Some(text) => Some(text),
                        None => tokio::select! {
                            answer = self.env.interaction.answer(&question) => answer,
                            () = control.stopped() => return Ok(Some(self.cancel().await)),
                        },
                    };
                    match answer {
                        Some(text) => (text, false, true),
                        None => return Ok(Some(End::Left(WorkflowStatus::InputRequired))),
                    }
                }
                _ => return Ok(None),
            };
            if approval {
                self.record(Record::Input {
                    kind: InputKind::Approve,
                    text,
                })?;
                self.answer = Answer::Approval(Approval::approve());
            } else {
                if let Err(why) = refuse_secrets(&self.env.redactor, &text) {
                    self.env.interaction.refused(&why);
                    continue;
                }
                let kind = if input {
                    InputKind::Answer
                } else {
                    InputKind::Reject
                };
                self.record(Record::Input {
                    kind,
                    text: text.clone(),
                })?;
                self.answer = if input {
                    Answer::Input(text)
                } else {
                    Answer::Approval(Approval::reject(text))
                };
            }
            self.set_status(WorkflowStatus::Running)?;
            // Answered: a session that ends before the service says more is a dropped one,
            // not a second question.
            self.last.status = Some(CheckpointStatus::Running);
            return Ok(None);
        }
    }

    fn tool_call_request(&self) -> ToolCallRequest {
        let writes_gitlab = self
            .last
            .tool_calls
            .iter()
            .any(|tool| tool_writes_gitlab(&tool.name));
        ToolCallRequest {
            tools: self.last.tool_calls.clone(),
            text: self.last.request.clone().unwrap_or_default(),
            writes_gitlab,
            auto_approvable: !writes_gitlab || self.duo.allow_gitlab_writes,
        }
    }

    /// The user cancelled while the workflow waited for them: the service is told.
    async fn cancel(&mut self) -> End {
        if matches!(
            self.last.status,
            Some(
                CheckpointStatus::PlanApprovalRequired | CheckpointStatus::ToolCallApprovalRequired
            )
        ) {
            self.answer = Answer::Approval(Approval::reject("The user cancelled the workflow."));
        }
        self.notify_stop().await;
        End::Stopped("the user cancelled the workflow".to_owned())
    }

    async fn pause(&mut self) -> Result<PauseDecision, DriveError> {
        let before = self.status;
        self.set_status(WorkflowStatus::Paused)?;
        let control = self.env.control.clone();
        loop {
            let decision = tokio::select! {
                decision = self.env.interaction.paused() => decision,
                () = control.stopped() => PauseDecision::Stop,
            };
            match decision {
                PauseDecision::Resume => {
                    self.set_status(before)?;
                    return Ok(PauseDecision::Resume);
                }
                PauseDecision::Adjust(_) => self.env.interaction.refused(
                    "Duo Workflow takes no adjustments while it runs: resume it, and answer it \
                     when it asks, or reject its plan or tool calls with your words",
                ),
                decision => return Ok(decision),
            }
        }
    }

    /// Carries out one action and returns its answer, and whether the user stopped the
    /// workflow while it ran.
    async fn execute(&mut self, action: &Action) -> Result<(ActionResponse, bool), DriveError> {
        let tool = action.kind.name().to_owned();
        let id = action.request_id.clone();
        self.record(Record::ToolCall {
            id: id.clone(),
            tool: tool.clone(),
            input: payload(action),
        })?;
        let started = Instant::now();
        let control = self.env.control.clone();
        let (response, interrupted) = tokio::select! {
            carried = self.carry_out(action) => (carried?, false),
            () = control.stopped() => {
                self.env.audit.append(&AuditRecord::Executor {
                    ts: timestamp(std::time::SystemTime::now()),
                    op: tool.clone(),
                    target: target(action),
                    outcome: "interrupted".to_owned(),
                    duration_ms: millis(started.elapsed()),
                });
                let interrupted = ActionResponse::error(
                    id.clone(),
                    "interrupted: the user stopped the workflow while this ran",
                );
                (interrupted, true)
            }
        };
        let (ok, output) = match &response.result {
            ActionResult::PlainText(text) if text.error.is_empty() => (true, text.response.clone()),
            ActionResult::PlainText(text) => (false, text.error.clone()),
            ActionResult::Http(http) if http.error.is_empty() => (
                http.status_code < 400,
                format!("HTTP {}\n{}", http.status_code, http.body),
            ),
            ActionResult::Http(http) => (false, http.error.clone()),
        };
        self.record(Record::ToolResult {
            id,
            tool,
            ok,
            output: tools::cap(output),
            duration_ms: millis(started.elapsed()),
        })?;
        Ok((response, interrupted))
    }

    async fn carry_out(&mut self, action: &Action) -> Result<ActionResponse, DriveError> {
        let id = action.request_id.clone();
        let (tool, input) = match &action.kind {
            ActionKind::RunReadFile(read) => {
                let text = self
                    .sandbox_text(Tool::ReadFile, json!({"path": read.filepath}))
                    .await?;
                return Ok(match text {
                    Ok(content) => {
                        ActionResponse::text(id, lines(&content, read.offset, read.limit))
                    }
                    Err(error) => ActionResponse::error(id, error),
                });
            }
            ActionKind::RunReadFiles(read) => {
                let mut files = serde_json::Map::new();
                for path in &read.filepaths {
                    let text = self
                        .sandbox_text(Tool::ReadFile, json!({"path": path}))
                        .await?;
                    let entry = match text {
                        Ok(content) => json!({"content": content}),
                        Err(error) => json!({"error": error}),
                    };
                    files.insert(path.clone(), entry);
                }
                return Ok(ActionResponse::text(id, Value::Object(files).to_string()));
            }
            ActionKind::RunWriteFile(write) => (
                Tool::WriteFile,
                json!({"path": write.filepath, "content": write.contents}),
            ),
            ActionKind::RunEditFile(edit) => (
                Tool::EditFile,
                json!({"path": edit.filepath, "old": edit.old_string, "new": edit.new_string}),
            ),
            ActionKind::RunShellCommand(shell) => (
                Tool::RunCommand,
                with_timeout(
                    json!({"program": "bash", "args": ["-c", shell.command]}),
                    shell.timeout,
                ),
            ),
            ActionKind::RunCommand(command) => {
                let args: Vec<&String> = command.flags.iter().chain(&command.arguments).collect();
                (
                    Tool::RunCommand,
                    with_timeout(
                        json!({"program": command.program, "args": args}),
                        command.timeout,
                    ),
                )
            }
            ActionKind::RunGitCommand(git) => {
                let mut args = vec![git.command.clone()];
                args.extend(split_words(git.arguments.as_deref().unwrap_or_default()));
                (Tool::Git, json!({"args": args}))
            }
            ActionKind::ListDirectory(list) => {
                let path = if list.directory.is_empty() {
                    "."
                } else {
                    list.directory.as_str()
                };
                (Tool::ListDir, json!({"path": path}))
            }
            ActionKind::Grep(grep) => {
                let mut input =
                    json!({"pattern": grep.pattern, "case_insensitive": grep.case_insensitive});
                if !grep.search_directory.is_empty() {
                    input["path"] = json!(grep.search_directory);
                }
                (Tool::Grep, input)
            }
            ActionKind::FindFiles(find) => (Tool::FindFiles, json!({"pattern": find.name_pattern})),
            ActionKind::Mkdir(mkdir) => (Tool::Mkdir, json!({"path": mkdir.directory_path})),
            ActionKind::RunHttpRequest(request) => return Ok(self.http(id, request).await),
            ActionKind::RunMcpTool(mcp) => {
                return Ok(self.refuse(
                    action,
                    &mcp.name,
                    "dw offers no MCP tools to Duo Workflow; continue without this tool",
                ));
            }
            ActionKind::NewCheckpoint(_) | ActionKind::Unknown(_) => {
                let answer = ActionResponse::unsupported(action);
                let reason = match &answer.result {
                    ActionResult::PlainText(text) => text.error.clone(),
                    ActionResult::Http(http) => http.error.clone(),
                };
                self.audit_refusal(action.kind.name(), "", &reason);
                return Ok(answer);
            }
        };
        Ok(match self.sandbox_text(tool, input).await? {
            Ok(text) => ActionResponse::text(id, text),
            Err(error) => ActionResponse::error(id, error),
        })
    }

    /// Runs an executor tool; the text for the service (redacted, capped), or its error.
    async fn sandbox_text(
        &mut self,
        tool: Tool,
        input: Value,
    ) -> Result<Result<String, String>, DriveError> {
        let Some(sandbox) = self.sandbox.as_ref() else {
            return Err(DriveError::Sandbox("the sandbox is not running".to_owned()));
        };
        let client = sandbox.client().clone();
        let outcome = tools::run_in_sandbox(&client, tool, &input, &self.env.audit)
            .await
            .map_err(|error| {
                DriveError::Sandbox(format!(
                    "the sandbox stopped answering while `{}` ran: {error}; `dw workflows \
                     resume {}` goes on in a new sandbox",
                    tool.name(),
                    self.id()
                ))
            })?;
        let text = tools::cap(self.env.redactor.redact(&outcome.output).into_owned());
        Ok(if outcome.ok { Ok(text) } else { Err(text) })
    }

    /// `runHTTPRequest`: made on the host, if the policy allows it.
    async fn http(&mut self, id: String, request: &RunHttpRequest) -> ActionResponse {
        let method = request.method.to_ascii_uppercase();
        if let Err(reason) =
            check_http_request(&method, &request.path, self.duo.allow_gitlab_writes)
        {
            self.audit_refusal(
                "runHTTPRequest",
                &format!("{method} {}", request.path),
                &reason,
            );
            return ActionResponse::http(
                id,
                HttpResponse {
                    status_code: 403,
                    headers: Default::default(),
                    body: String::new(),
                    error: reason,
                },
            );
        }
        let answer = self
            .env
            .gitlab
            .api(&method, &request.path, request.body.as_deref())
            .await;
        let response = match answer {
            Ok(answer) => HttpResponse {
                status_code: i32::from(answer.status),
                headers: answer.headers,
                body: self.env.redactor.redact(&answer.body).into_owned(),
                error: String::new(),
            },
            Err(error) => HttpResponse {
                status_code: 0,
                headers: Default::default(),
                body: String::new(),
                error: format!("dw could not make the request: {error}"),
            },
        };
        ActionResponse::http(id, response)
    }

    fn refuse(&self, action: &Action, target: &str, reason: &str) -> ActionResponse {
        self.audit_refusal(action.kind.name(), target, reason);
        ActionResponse::error(action.request_id.clone(), reason)
    }

    fn audit_refusal(&self, action: &str, target: &str, reason: &str) {
        self.env.audit.append(&AuditRecord::Refused {
            ts: timestamp(std::time::SystemTime::now()),
            action: action.to_owned(),
            target: target.to_owned(),
            reason: reason.to_owned(),
        });
    }

    async fn start_sandbox(&mut self) -> Result<(), String> {
        let sandbox = crate::runner::start_sandbox(
            &self.env.engine,
            self.env.executor.as_ref(),
            &self.settings,
            &self.env.audit,
        )
        .await?;
        self.sandbox = Some(sandbox);
        Ok(())
    }

    async fn remove_sandbox(&mut self) {
        if let Some(sandbox) = self.sandbox.take()
            && let Err(error) = sandbox.remove().await
        {
            eprintln!(
                "warning: {}; `dw sandbox prune` removes it",
                crate::runner::chain(&error)
            );
        }
    }

    fn set_status(&mut self, status: WorkflowStatus) -> Result<(), StoreError> {
        if self.status != status {
            self.status = status;
            self.record(Record::status(status))?;
        }
        Ok(())
    }

    fn record(&mut self, record: Record) -> Result<(), StoreError> {
        let entry: Entry = self.log.append(&record)?;
        (self.env.observer)(&entry);
        Ok(())
    }
}

/// Tells the Duo Workflow Service that the workflow of `settings` is stopped when no dw process
/// drives it (`dw workflows stop` of a waiting or interrupted workflow): connects, rejects a
/// pending approval, sends `stopWorkflow`, and waits up to `timing.stop_grace` for the service
/// to end the session.
pub async fn stop_remote(
    settings: &Settings,
    status: WorkflowStatus,
    gitlab: &dw_duo::GitLab,
    timing: &Timing,
) -> Result<(), String> {
    let duo = settings
        .duo
        .as_ref()
        .ok_or_else(|| format!("workflow {} is not a Duo workflow", settings.id))?;
    let answer = match status {
        WorkflowStatus::PlanApprovalRequired | WorkflowStatus::ToolCallApprovalRequired => {
            Answer::Approval(Approval::reject("The user stopped the workflow."))
        }
        _ => Answer::None,
    };
    let attempt = async {
        let target = if duo.transport == "grpc" {
            let access = gitlab.direct_access().await?;
            Target::Grpc(GrpcTarget::from_direct_access(&access.duo_workflow_service))
        } else {
            Target::WebSocket(WebSocketTarget {
                project_id: settings
                    .gitlab
                    .as_ref()
                    .map(|gitlab| gitlab.project.clone()),
                ..WebSocketTarget::new(gitlab)
            })
        };
        let mut session =
            dw_duo::connect(&target, start_request(duo, &settings.goal, &answer)).await?;
        let stop = ClientEvent::StopWorkflow(StopWorkflow {
            reason: "stopped by the user with dw".to_owned(),
        });
        session.send(stop).await?;
        // Whatever the service still sends is not carried out: the workflow is stopped.
        while let Some(Ok(_)) = session.next().await {}
        let _ = session.close().await;
        Ok::<_, dw_duo::Error>(())
    };
    match tokio::time::timeout(timing.stop_grace, attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!(
            "the service did not end the session within {} s",
            timing.stop_grace.as_secs()
        )),
    }
}

/// The `startRequest` that starts or resumes the workflow, with the user's answer.
fn start_request(duo: &DuoSettings, goal: &str, answer: &Answer) -> StartRequest {
    let mut start = StartRequest::new(duo.workflow_id.to_string(), duo.definition.clone(), goal);
    start.client_capabilities = CLIENT_CAPABILITIES
        .iter()
        .map(|capability| (*capability).to_owned())
        .collect();
    start.workflow_metadata = json!({"client": "dw"}).to_string();
    match answer {
        Answer::None => {}
        Answer::Approval(approval) => start.approval = Some(approval.clone()),
        // The service reads the goal of a resuming startRequest as the user's answer.
        Answer::Input(text) => start.goal.clone_from(text),
    }
    start
}

/// The local status a checkpoint status means; `None` for the ones the end of the run records
/// (finished, failed, stopped) and for those that change nothing.
fn workflow_status(status: &CheckpointStatus) -> Option<WorkflowStatus> {
    match status {
        CheckpointStatus::Running => Some(WorkflowStatus::Running),
        CheckpointStatus::PlanApprovalRequired => Some(WorkflowStatus::PlanApprovalRequired),
        CheckpointStatus::ToolCallApprovalRequired => {
            Some(WorkflowStatus::ToolCallApprovalRequired)
        }
        CheckpointStatus::InputRequired => Some(WorkflowStatus::InputRequired),
        CheckpointStatus::Other(other) if other.eq_ignore_ascii_case("PAUSED") => {
            Some(WorkflowStatus::Paused)
        }
        _ => None,
    }
}

/// The service's step statuses (`Not Started`, `In Progress`, `Completed`, `Cancelled`).
fn step_status(status: &str) -> StepStatus {
    match status.to_ascii_lowercase().replace(['_', ' '], "").as_str() {
        "inprogress" => StepStatus::InProgress,
        "completed" | "done" => StepStatus::Done,
        "cancelled" | "canceled" | "skipped" => StepStatus::Skipped,
        "failed" => StepStatus::Failed,
        _ => StepStatus::Pending,
    }
}

/// The tool calls a TOOL_CALL_APPROVAL_REQUIRED checkpoint asks about: the new requests that
/// name a tool, else the last run of them in the log.
fn requested_tools(new: &[&ChatLogEntry], log: &[ChatLogEntry]) -> Vec<RequestedTool> {
    let convert = |tool: dw_duo::message::RequestedTool| RequestedTool {
        name: tool.name,
        args: tool.args,
    };
    let fresh: Vec<RequestedTool> = new
        .iter()
        .filter_map(|entry| entry.requested_tool())
        .map(convert)
        .collect();
    if !fresh.is_empty() {
        return fresh;
    }
    let mut trailing: Vec<RequestedTool> = log
        .iter()
        .rev()
        .map_while(ChatLogEntry::requested_tool)
        .map(convert)
        .collect();
    trailing.reverse();
    trailing
}

/// What an action acts on, for the audit log: its path, command line or request.
fn target(action: &Action) -> String {
    match &action.kind {
        ActionKind::RunReadFile(read) => read.filepath.clone(),
        ActionKind::RunReadFiles(read) => read.filepaths.join(" "),
        ActionKind::RunWriteFile(write) => write.filepath.clone(),
        ActionKind::RunEditFile(edit) => edit.filepath.clone(),
        ActionKind::RunShellCommand(shell) => shell.command.clone(),
        ActionKind::RunCommand(command) => std::iter::once(&command.program)
            .chain(&command.flags)
            .chain(&command.arguments)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        ActionKind::RunGitCommand(git) => format!(
            "git {} {}",
            git.command,
            git.arguments.as_deref().unwrap_or_default()
        )
        .trim_end()
        .to_owned(),
        ActionKind::RunHttpRequest(request) => format!("{} {}", request.method, request.path),
        ActionKind::ListDirectory(list) => list.directory.clone(),
        ActionKind::Grep(grep) => grep.pattern.clone(),
        ActionKind::FindFiles(find) => find.name_pattern.clone(),
        ActionKind::Mkdir(mkdir) => mkdir.directory_path.clone(),
        ActionKind::RunMcpTool(mcp) => mcp.name.clone(),
        ActionKind::NewCheckpoint(_) | ActionKind::Unknown(_) => String::new(),
    }
}

/// An action's payload, as recorded for its `tool_call`: the kind's own object, or for an
/// unknown kind the whole action.
fn payload(action: &Action) -> Value {
    let mut json = action.to_json();
    if let Value::Object(object) = &mut json {
        object.remove("requestID");
        if !matches!(action.kind, ActionKind::Unknown(_)) && object.len() == 1 {
            return object.values().next().cloned().unwrap_or(Value::Null);
        }
    }
    json
}

/// `limit` lines of `content` from line `offset` (0-based), as `read_file_chunked` reads.
fn lines(content: &str, offset: Option<i64>, limit: Option<i64>) -> String {
    if offset.is_none() && limit.is_none() {
        return content.to_owned();
    }
    let skip = usize::try_from(offset.unwrap_or(0)).unwrap_or(0);
    let take = limit
        .and_then(|limit| usize::try_from(limit).ok())
        .unwrap_or(usize::MAX);
    content
        .split_inclusive('\n')
        .skip(skip)
        .take(take)
        .collect()
}

/// Adds `timeout_ms` from the service's timeout in seconds.
fn with_timeout(mut input: Value, seconds: Option<i64>) -> Value {
    if let Some(seconds) = seconds.filter(|seconds| *seconds > 0) {
        input["timeout_ms"] = json!(seconds.saturating_mul(1000));
    }
    input
}

/// Splits a command line into words as a POSIX shell would, without expanding anything:
/// single quotes, double quotes (with `\"` and `\\`) and backslash escapes.
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(char) = chars.next() {
        match char {
            '\'' => {
                in_word = true;
                word.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some(escaped @ ('"' | '\\' | '$' | '`')) => word.push(escaped),
                            Some(other) => {
                                word.push('\\');
                                word.push(other);
                            }
                            None => word.push('\\'),
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(escaped) = chars.next() {
                    word.push(escaped);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn only_gets_under_api_v4_pass_unless_writes_are_allowed() {
        assert!(check_http_request("GET", "/api/v4/projects/1/merge_requests/7", false).is_ok());
        assert!(
            check_http_request("GET", "/api/v4/projects/g%2Fp/issues?state=opened", false).is_ok()
        );
        let refused = check_http_request("POST", "/api/v4/projects/1/issues", false).unwrap_err();
        assert!(
            refused.contains("read-only") && refused.contains("--allow-gitlab-writes"),
            "{refused}"
        );
        assert!(check_http_request("POST", "/api/v4/projects/1/issues", true).is_ok());
        assert!(check_http_request("TRACE", "/api/v4/projects", true).is_err());
        for outside in [
            "/users/sign_in",
            "/api/v3/projects",
            "api/v4/projects",
            "/api/v4/../../admin",
            "/api/v4/%2e%2e/admin",
            "/api/v4/%2E%2E/admin",
            "/api/v4//evil",
            "//evil.example/api/v4/x",
            "/api/v4/projects\\..\\x",
            "/api/v4/projects#x",
            "/api/v4/projects 1",
            "http://evil.example/api/v4/projects",
        ] {
            let refused = check_http_request("GET", outside, false).unwrap_err();
            assert!(refused.contains("/api/v4/"), "{outside}: {refused}");
        }
    }

    #[test]
    fn gitlab_writing_tools_are_the_ones_not_known_to_read() {
        for local in [
            "run_command",
            "edit_file",
            "get_merge_request",
            "list_issues",
            "gitlab_issue_search",
        ] {
            assert!(!tool_writes_gitlab(local), "{local}");
        }
        for writing in [
            "create_merge_request_note",
            "update_issue",
            "create_commit",
            "get_and_delete_things",
            "some_new_tool",
        ] {
            assert!(tool_writes_gitlab(writing), "{writing}");
        }
    }

    #[test]
    fn git_arguments_split_like_a_shell() {
        assert_eq!(split_words("--oneline -5"), ["--oneline", "-5"]);
        assert_eq!(
            split_words(r#"-m 'fix the "thing"' "a b" c\ d"#),
            ["-m", r#"fix the "thing""#, "a b", "c d"]
        );
        assert_eq!(split_words(r#"'' "x\"y""#), ["", "x\"y"]);
        assert!(split_words("   ").is_empty());
    }

    #[test]
    fn chunked_reads_count_lines_from_zero() {
        let text = "a\nb\nc\nd";
        assert_eq!(lines(text, None, None), text);
        assert_eq!(lines(text, Some(1), Some(2)), "b\nc\n");
        assert_eq!(lines(text, Some(3), None), "d");
        assert_eq!(lines(text, Some(9), Some(1)), "");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let timing = Timing::default();
        let waits: Vec<u64> = (1..=7).map(|n| timing.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 16, 16]);
    }

    #[test]
    fn payloads_drop_the_request_id() {
        let action =
            Action::from_json(json!({"requestID": "2", "runReadFile": {"filepath": "a"}})).unwrap();
        assert_eq!(payload(&action), json!({"filepath": "a"}));
        let unknown =
            Action::from_json(json!({"requestID": "3", "teleport": {"to": "x"}})).unwrap();
        assert_eq!(payload(&unknown), json!({"teleport": {"to": "x"}}));
    }
}
