//! The workflow runner: plan, approval, execution, pause/adjust/resume/stop.
//!
//! A [`Runner`] drives one workflow: it starts the sandbox, asks the model for a plan, has the
//! user approve it through an [`Interaction`], then lets the model call tools until it calls
//! `finish`, the step budget runs out, or the user stops it. Every record goes to
//! `events.jsonl` ([`EventLog`]) before the next step starts, and to the [`Observer`] that prints
//! it; every executor action and HTTP request goes to `audit.jsonl`.
//!
//! What the model may do before the plan is approved: look (read, list, find, grep, GitLab).
//! Nothing that changes the project runs until the user said yes.
//!
//! Resuming ([`Runner::resume`]) rebuilds the conversation from the events. A turn whose tool
//! calls were cut short by a crash is completed: results already recorded are reused, a call
//! that was in flight and may have changed something is reported to the model as interrupted
//! (never silently run twice), and calls that only look, or ask the user, are run again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use dw_provider::{
    BoxFuture, CompletionRequest, Message, Provider, ToolCall, ToolDefinition, ToolResult,
};
use dw_runtime::engine::Engine;
use dw_runtime::sandbox::{MaskKind, Network};
use dw_runtime::secrets::Redactor;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::watch;

use crate::record::{Entry, InputKind, PlanStep, Record, Settings, StepStatus, WorkflowStatus};
use crate::sandbox::{Sandbox, SandboxOptions};
use crate::store::{AuditLog, EventLog, History, Lock, StoreError, Workflow, millis};
use crate::tools::{self, GitLabTools, Outcome, Tool};

/// The most tokens the model may write in one turn.
const MAX_TOKENS: u32 = 8192;

/// What the user decided about a proposed plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanDecision {
    /// Go ahead.
    Approve,
    /// Change it like this (sent to the model).
    Adjust(String),
    /// Stop the workflow.
    Cancel,
    /// No one can decide now: leave the workflow waiting for approval.
    Leave,
}

/// What the user decided in a pause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PauseDecision {
    /// Go on.
    Resume,
    /// Tell the model this (it may revise the plan), then go on.
    Adjust(String),
    /// Stop the workflow for good.
    Stop,
    /// Leave it paused; `dw workflows resume` goes on later.
    Leave,
}

/// The user, as the runner asks them things. Implemented by the terminal front end, and by
/// [`Unattended`] for `--yes`.
pub trait Interaction: Send {
    /// The model proposed `steps`: approve, adjust or cancel?
    fn approve_plan<'a>(&'a mut self, steps: &'a [PlanStep]) -> BoxFuture<'a, PlanDecision>;
    /// The model asks `question`; `None` leaves the workflow waiting for an answer.
    fn answer<'a>(&'a mut self, question: &'a str) -> BoxFuture<'a, Option<String>>;
    /// The user paused the workflow: what now?
    fn paused(&mut self) -> BoxFuture<'_, PauseDecision>;
    /// Text the user gave was refused (it contains a secret); they will be asked again.
    fn refused(&mut self, why: &str);
    /// A Duo workflow asks to run these tool calls: approve, reject or leave it waiting?
    /// Without an answer of its own an implementation leaves it waiting.
    fn approve_tool_call<'a>(
        &'a mut self,
        _request: &'a ToolCallRequest,
    ) -> BoxFuture<'a, ToolCallDecision> {
        Box::pin(std::future::ready(ToolCallDecision::Leave))
    }
}

/// Tool calls a Duo workflow wants the user to approve (TOOL_CALL_APPROVAL_REQUIRED).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCallRequest {
    /// The calls, with their arguments.
    pub tools: Vec<crate::record::RequestedTool>,
    /// What the agent says about them.
    pub text: String,
    /// Whether one of them may write to GitLab (anything but the known local and read-only
    /// tools counts as writing).
    pub writes_gitlab: bool,
    /// Whether `--yes` may approve them without asking: never for calls that write to GitLab,
    /// unless the workflow allows GitLab writes.
    pub auto_approvable: bool,
}

/// What the user decided about tool calls waiting for approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolCallDecision {
    /// Run them.
    Approve,
    /// Do not; the text tells the agent why or what to do instead.
    Reject(String),
    /// Stop the workflow.
    Cancel,
    /// No one can decide now: leave the workflow waiting.
    Leave,
}

/// The answers when no one is there: plans are approved (`--yes`), and so are a Duo
/// workflow's tool calls that do not write to GitLab (or all of them when GitLab writes are
/// allowed); questions and pauses leave the workflow waiting for `dw workflows resume`.
#[derive(Debug, Clone, Default)]
pub struct Unattended {
    /// Approve plans (`--yes`) rather than leaving them waiting.
    pub approve: bool,
}

impl Interaction for Unattended {
    fn approve_plan<'a>(&'a mut self, _steps: &'a [PlanStep]) -> BoxFuture<'a, PlanDecision> {
        let decision = if self.approve {
            PlanDecision::Approve
        } else {
            PlanDecision::Leave
        };
        Box::pin(std::future::ready(decision))
    }

    fn answer<'a>(&'a mut self, _question: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(std::future::ready(None))
    }

    fn paused(&mut self) -> BoxFuture<'_, PauseDecision> {
        Box::pin(std::future::ready(PauseDecision::Leave))
    }

    fn refused(&mut self, _why: &str) {}

    fn approve_tool_call<'a>(
        &'a mut self,
        request: &'a ToolCallRequest,
    ) -> BoxFuture<'a, ToolCallDecision> {
        let decision = if self.approve && request.auto_approvable {
            ToolCallDecision::Approve
        } else {
            ToolCallDecision::Leave
        };
        Box::pin(std::future::ready(decision))
    }
}

/// Receives every record as it is appended, to print it.
pub type Observer = Box<dyn FnMut(&Entry) + Send>;

/// Pause and stop requests, from signal handlers or another task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Control {
    state: Arc<watch::Sender<Request>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    None,
    Pause,
    Stop,
}

impl Default for Control {
    fn default() -> Self {
        Control::new()
    }
}

impl Control {
    /// No request yet.
    pub fn new() -> Control {
        Control {
            state: Arc::new(watch::Sender::new(Request::None)),
        }
    }

    /// Pause after the current action. A pause already asked for, and not yet begun, becomes
    /// a stop (the terminal's second Ctrl-C). Returns whether this was a stop.
    pub fn interrupt(&self) -> bool {
        let mut stop = false;
        self.state.send_modify(|state| {
            *state = match *state {
                Request::None => Request::Pause,
                Request::Pause | Request::Stop => {
                    stop = true;
                    Request::Stop
                }
            }
        });
        stop
    }

    /// Stop after the current action (or now, if the runner is waiting for the user or the
    /// model).
    pub fn stop(&self) {
        self.state.send_replace(Request::Stop);
    }

    fn current(&self) -> Request {
        *self.state.borrow()
    }

    pub(crate) fn clear_pause(&self) {
        self.state.send_if_modified(|state| {
            let was_pause = *state == Request::Pause;
            if was_pause {
                *state = Request::None;
            }
            was_pause
        });
    }

    /// Resolves once a pause or a stop is requested.
    pub(crate) async fn requested(&self) {
        let mut receiver = self.state.subscribe();
        // The sender lives as long as `self`: waiting cannot fail.
        let _ = receiver.wait_for(|state| *state != Request::None).await;
    }

    /// Resolves once a stop is requested.
    pub(crate) async fn stopped(&self) {
        let mut receiver = self.state.subscribe();
        let _ = receiver.wait_for(|state| *state == Request::Stop).await;
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// The workflow's status when the run ended.
    pub status: WorkflowStatus,
    /// Why it failed or stopped, or the summary when finished.
    pub detail: Option<String>,
    /// True when it failed because of the environment (the engine, the sandbox), not the work.
    pub environment_error: bool,
}

/// Why the runner could not even record what happened.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The state directory could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The workflow cannot be resumed.
    #[error(
        "workflow {id} is {status}; only a paused, failed, waiting or interrupted workflow can be resumed — start a new one with `dw run`"
    )]
    NotResumable {
        /// The workflow.
        id: String,
        /// Its status.
        status: WorkflowStatus,
    },
}

/// What the runner needs besides the workflow's own state.
pub struct Environment {
    /// The engine to start the sandbox on.
    pub engine: Engine,
    /// The executor binary (`None`: look for it as the sandbox does).
    pub executor: Option<PathBuf>,
    /// The model.
    pub provider: Arc<dyn Provider>,
    /// The GitLab project and client, when a project is known.
    pub gitlab: Option<GitLabTools>,
    /// Recognises secrets in the user's text and in tool output.
    pub redactor: Redactor,
    /// Pause and stop requests.
    pub control: Control,
    /// The user.
    pub interaction: Box<dyn Interaction>,
    /// Where records are printed.
    pub observer: Observer,
    /// The audit log (its providers' and GitLab client's hooks already write to it).
    pub audit: AuditLog,
}

/// How a turn ended.
enum End {
    Finished(String),
    Failed {
        reason: String,
        environment: bool,
    },
    Stopped(String),
    /// Left waiting: paused, for plan approval, or for an answer (the status says which).
    Left(WorkflowStatus),
}

/// One workflow being driven by this process.
pub struct Runner {
    workflow: Workflow,
    _lock: Lock,
    log: EventLog,
    settings: Settings,
    env: Environment,
    sandbox: Option<Sandbox>,
    tools: Vec<ToolDefinition>,
    conversation: Vec<Message>,
    plan: Vec<PlanStep>,
    approved: bool,
    status: WorkflowStatus,
    turns: u32,
    /// User text for the model, sent before its next turn.
    pending_user: Vec<String>,
    /// An answer given ahead (`resume --message` on a workflow waiting for one).
    preset_answer: Option<String>,
    /// A turn cut short by a crash or a wait: its calls, and results already recorded.
    pending_turn: Option<PendingTurn>,
}

struct PendingTurn {
    calls: Vec<ToolCall>,
    recorded: HashMap<String, ToolResult>,
    started: Vec<String>,
}

impl Runner {
    /// A runner for a workflow just created (its settings appended by
    /// [`Store::create`](crate::store::Store::create)).
    pub fn new(
        workflow: Workflow,
        lock: Lock,
        log: EventLog,
        settings: Settings,
        env: Environment,
    ) -> Runner {
        let tools = tools::definitions(env.gitlab.is_some());
        let goal = goal_message(&settings);
        Runner {
            workflow,
            _lock: lock,
            log,
            settings,
            env,
            sandbox: None,
            tools,
            conversation: Vec::new(),
            plan: Vec::new(),
            approved: false,
            status: WorkflowStatus::Created,
            turns: 0,
            pending_user: vec![goal],
            preset_answer: None,
            pending_turn: None,
        }
    }

    /// A runner that goes on with a workflow from its `history`. `message` is the user's
    /// answer, when the workflow waits for one, else an adjustment for the model.
    pub fn resume(
        workflow: Workflow,
        lock: Lock,
        history: History,
        env: Environment,
        message: Option<String>,
    ) -> Result<Runner, RunError> {
        let status = history.status();
        if status.is_final() {
            return Err(RunError::NotResumable {
                id: workflow.id().to_owned(),
                status,
            });
        }
        let log = workflow.event_log()?;
        let mut conversation = Vec::new();
        let mut plan = Vec::new();
        let mut approved = false;
        // Tool results and calls recorded since the last conversation record.
        let mut recorded = HashMap::new();
        let mut started = Vec::new();
        let mut inputs = Vec::new();
        for entry in &history.entries {
            match &entry.record {
                Record::Conversation { message } => {
                    conversation.push(message.clone());
                    recorded.clear();
                    started.clear();
                    inputs.clear();
                }
                Record::Plan { steps } => plan.clone_from(steps),
                Record::Status {
                    status: WorkflowStatus::Running,
                    ..
                } => approved = true,
                Record::ToolCall { id, .. } => started.push(id.clone()),
                Record::ToolResult { id, ok, output, .. } => {
                    recorded.insert(
                        id.clone(),
                        ToolResult {
                            call_id: id.clone(),
                            content: output.clone(),
                            is_error: !ok,
                        },
                    );
                }
                Record::Input {
                    kind: InputKind::Adjust,
                    text,
                } => inputs.push(text.clone()),
                _ => {}
            }
        }
        let pending_turn = match conversation.last() {
            Some(Message::Assistant { tool_calls, .. }) if !tool_calls.is_empty() => {
                Some(PendingTurn {
                    calls: tool_calls.clone(),
                    recorded,
                    started,
                })
            }
            _ => None,
        };
        let mut pending_user = if conversation.is_empty() {
            vec![goal_message(&history.settings)]
        } else {
            Vec::new()
        };
        // Adjustments recorded after the last conversation message never reached the model.
        pending_user.extend(inputs.into_iter().map(|text| adjustment(&text)));
        let mut log = log;
        let mut preset_answer = None;
        if let Some(message) = message {
            if status == WorkflowStatus::InputRequired {
                // Recorded when the question is asked again and this answers it.
                preset_answer = Some(message);
            } else {
                log.append(&Record::Input {
                    kind: InputKind::Adjust,
                    text: message.clone(),
                })?;
                pending_user.push(adjustment(&message));
            }
        }
        let tools = tools::definitions(env.gitlab.is_some());
        Ok(Runner {
            workflow,
            _lock: lock,
            log,
            settings: history.settings,
            env,
            sandbox: None,
            tools,
            conversation,
            plan,
            approved,
            status,
            turns: 0,
            pending_user,
            preset_answer,
            pending_turn,
        })
    }

    /// The workflow's id.
    pub fn id(&self) -> &str {
        self.workflow.id()
    }

    /// Drives the workflow until it finishes, fails, stops or waits, removes the sandbox, and
    /// records the final status.
    pub async fn run(mut self) -> Result<RunOutcome, RunError> {
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
        let outcome = match end {
            End::Finished(summary) => {
                self.record(Record::Status {
                    status: WorkflowStatus::Finished,
                    reason: None,
                    summary: Some(summary.clone()),
                })?;
                RunOutcome {
                    status: WorkflowStatus::Finished,
                    detail: Some(summary),
                    environment_error: false,
                }
            }
            End::Failed {
                reason,
                environment,
            } => {
                self.record_status_with_reason(WorkflowStatus::Failed, &reason)?;
                RunOutcome {
                    status: WorkflowStatus::Failed,
                    detail: Some(reason),
                    environment_error: environment,
                }
            }
            End::Stopped(reason) => {
                self.record_status_with_reason(WorkflowStatus::Stopped, &reason)?;
                RunOutcome {
                    status: WorkflowStatus::Stopped,
                    detail: Some(reason),
                    environment_error: false,
                }
            }
            End::Left(status) => {
                // The waiting status was recorded when the wait began; repeat it as the last
                // line, so that `--json` readers see how the run ended.
                let reason = format!("resume with `dw workflows resume {}`", self.id());
                self.record_status_with_reason(status, &reason)?;
                RunOutcome {
                    status,
                    detail: Some(reason),
                    environment_error: false,
                }
            }
        };
        Ok(outcome)
    }

    async fn drive(&mut self) -> Result<End, DriveError> {
        if let Err(reason) = self.start_sandbox().await {
            return Ok(End::Failed {
                reason,
                environment: true,
            });
        }
        if let Some(pending) = self.pending_turn.take()
            && let Some(end) = self.execute_turn(pending).await?
        {
            return Ok(end);
        }
        loop {
            if let Some(end) = self.between_steps().await? {
                return Ok(end);
            }
            self.flush_user_messages()?;
            if self.turns >= self.settings.max_steps {
                return Ok(End::Failed {
                    reason: format!(
                        "reached the step limit ({} model turns); resume with `dw workflows resume {}` to allow as many again",
                        self.settings.max_steps,
                        self.id()
                    ),
                    environment: false,
                });
            }
            let working = if self.approved {
                WorkflowStatus::Running
            } else {
                WorkflowStatus::Planning
            };
            self.set_status(working)?;
            let request = CompletionRequest {
                system: Some(system_prompt(&self.settings, self.env.gitlab.as_ref())),
                messages: self.conversation.clone(),
                tools: self.tools.clone(),
                max_tokens: MAX_TOKENS,
            };
            let provider = Arc::clone(&self.env.provider);
            let control = self.env.control.clone();
            let completion = tokio::select! {
                biased;
                () = control.requested() => continue,
                completion = provider.complete(&request) => completion,
            };
            let completion = match completion {
                Ok(completion) => completion,
                Err(error) => {
                    return Ok(End::Failed {
                        reason: format!("the model could not be asked: {error}"),
                        environment: false,
                    });
                }
            };
            self.turns += 1;
            let message = completion.to_message();
            self.record(Record::Conversation {
                message: message.clone(),
            })?;
            self.conversation.push(message);
            if !completion.text.trim().is_empty() {
                self.record(Record::Message {
                    text: completion.text.clone(),
                })?;
            }
            if completion.tool_calls.is_empty() {
                let summary = if completion.text.trim().is_empty() {
                    "The model ended its work without a summary.".to_owned()
                } else {
                    completion.text
                };
                return Ok(End::Finished(summary));
            }
            let turn = PendingTurn {
                calls: completion.tool_calls,
                recorded: HashMap::new(),
                started: Vec::new(),
            };
            if let Some(end) = self.execute_turn(turn).await? {
                return Ok(end);
            }
        }
    }

    async fn start_sandbox(&mut self) -> Result<(), String> {
        let sandbox = start_sandbox(
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
            eprintln!("warning: {}; `dw sandbox prune` removes it", chain(&error));
        }
    }

    /// Why the sandbox stopped answering while `tool` ran — the engine went away, or the
    /// executor did — and what to do next.
    async fn sandbox_lost(&self, tool: Tool, error: &crate::client::ClientError) -> String {
        let id = self.id();
        let engine = &self.env.engine;
        if engine
            .call("GET /_ping", engine.docker().ping())
            .await
            .is_err()
        {
            return format!(
                "the container engine at {} stopped answering while `{}` ran; start it again, \
                 then `dw workflows resume {id}` goes on in a new sandbox",
                engine.endpoint(),
                tool.name()
            );
        }
        let why = match error {
            crate::client::ClientError::Closed { reason, .. } => reason.clone(),
            other => other.to_string(),
        };
        format!(
            "the executor in the sandbox stopped while `{}` ran ({why}); `dw workflows resume \
             {id}` goes on in a new sandbox",
            tool.name()
        )
    }

    /// Honours a pause or stop asked for since the last step.
    async fn between_steps(&mut self) -> Result<Option<End>, DriveError> {
        match self.env.control.current() {
            Request::None => Ok(None),
            Request::Stop => Ok(Some(End::Stopped("stopped by the user".to_owned()))),
            Request::Pause => {
                self.env.control.clear_pause();
                match self.pause().await? {
                    Paused::Resume | Paused::Adjusted => Ok(None),
                    Paused::End(end) => Ok(Some(end)),
                }
            }
        }
    }

    async fn pause(&mut self) -> Result<Paused, DriveError> {
        let before = self.status;
        self.set_status(WorkflowStatus::Paused)?;
        loop {
            let control = self.env.control.clone();
            let decision = tokio::select! {
                decision = self.env.interaction.paused() => decision,
                () = control.stopped() => PauseDecision::Stop,
            };
            match decision {
                PauseDecision::Resume => {
                    self.set_status(before)?;
                    return Ok(Paused::Resume);
                }
                PauseDecision::Adjust(text) => {
                    if let Err(why) = self.check_user_text(&text) {
                        self.env.interaction.refused(&why);
                        continue;
                    }
                    self.record(Record::Input {
                        kind: InputKind::Adjust,
                        text: text.clone(),
                    })?;
                    self.pending_user.push(adjustment(&text));
                    self.set_status(before)?;
                    return Ok(Paused::Adjusted);
                }
                PauseDecision::Stop => {
                    return Ok(Paused::End(End::Stopped("stopped by the user".to_owned())));
                }
                PauseDecision::Leave => return Ok(Paused::End(End::Left(WorkflowStatus::Paused))),
            }
        }
    }

    /// Runs the calls of one model turn, then records their results as one message.
    async fn execute_turn(&mut self, mut turn: PendingTurn) -> Result<Option<End>, DriveError> {
        let mut results = Vec::with_capacity(turn.calls.len());
        let mut end: Option<End> = None;
        let mut skip_reason: Option<String> = None;
        for (index, call) in turn.calls.iter().enumerate() {
            if let Some(result) = turn.recorded.remove(&call.id) {
                results.push(result);
                continue;
            }
            if skip_reason.is_none() && end.is_none() && index > 0 {
                match self.between_steps_mid_turn().await? {
                    MidTurn::Go => {}
                    MidTurn::Skip(reason) => skip_reason = Some(reason),
                    MidTurn::End(reason, finish) => {
                        skip_reason = Some(reason);
                        end = Some(finish);
                    }
                }
            }
            if let Some(reason) = skip_reason.as_ref() {
                let result = ToolResult::error(&call.id, reason.clone());
                self.record_result(call, &result, 0.0)?;
                results.push(result);
                continue;
            }
            let in_flight = turn.started.contains(&call.id);
            if !in_flight {
                self.record(Record::ToolCall {
                    id: call.id.clone(),
                    tool: call.name.clone(),
                    input: call.input.clone(),
                })?;
            }
            let started = Instant::now();
            let executed = if in_flight
                && Tool::from_name(&call.name).is_some_and(Tool::changes_things)
            {
                Executed::Done(Outcome::error(
                    "interrupted: dw stopped while this ran, so its effect is unknown; check the \
                     state of the project before you run it again",
                ))
            } else {
                match self.execute(call).await {
                    Err(DriveError::Sandbox(reason)) => {
                        // The call failed with its sandbox: record that, so that a resume tells
                        // the model instead of running the call again.
                        let result = ToolResult::error(
                            &call.id,
                            "interrupted: the sandbox stopped while this ran (its executor or the \
                             container engine went away), so its effect is unknown; check the \
                             state of the project before you run it again",
                        );
                        self.record_result(call, &result, millis(started.elapsed()))?;
                        return Err(DriveError::Sandbox(reason));
                    }
                    executed => executed?,
                }
            };
            let outcome = match executed {
                Executed::Done(outcome) => outcome,
                Executed::Ends(outcome, finish) => {
                    end = Some(finish);
                    skip_reason = Some("not run: the workflow ended before this call".to_owned());
                    outcome
                }
                Executed::Waits(status) => {
                    // The call stays unanswered; `resume` asks again.
                    return Ok(Some(End::Left(status)));
                }
            };
            let content = tools::cap(self.env.redactor.redact(&outcome.output).into_owned());
            let result = if outcome.ok {
                ToolResult::ok(&call.id, content)
            } else {
                ToolResult::error(&call.id, content)
            };
            self.record_result(call, &result, millis(started.elapsed()))?;
            results.push(result);
        }
        let message = Message::tool_results(results);
        self.record(Record::Conversation {
            message: message.clone(),
        })?;
        self.conversation.push(message);
        self.flush_user_messages()?;
        Ok(end)
    }

    async fn between_steps_mid_turn(&mut self) -> Result<MidTurn, DriveError> {
        match self.env.control.current() {
            Request::None => Ok(MidTurn::Go),
            Request::Stop => Ok(MidTurn::End(
                "not run: the user stopped the workflow".to_owned(),
                End::Stopped("stopped by the user".to_owned()),
            )),
            Request::Pause => {
                self.env.control.clear_pause();
                match self.pause().await? {
                    Paused::Resume => Ok(MidTurn::Go),
                    Paused::Adjusted => Ok(MidTurn::Skip(
                        "not run: the user paused the workflow and adjusted it (see their message)"
                            .to_owned(),
                    )),
                    Paused::End(end) => Ok(MidTurn::End(
                        "not run: the user paused the workflow before this call; call it again if it is still needed".to_owned(),
                        end,
                    )),
                }
            }
        }
    }

    async fn execute(&mut self, call: &ToolCall) -> Result<Executed, DriveError> {
        let Some(tool) = Tool::from_name(&call.name) else {
            return Ok(Executed::Done(Outcome::error(format!(
                "there is no tool `{}`; use one of the tools you were given",
                call.name
            ))));
        };
        if tool.is_gitlab() && self.env.gitlab.is_none() {
            return Ok(Executed::Done(Outcome::error(
                "no GitLab project is known for this workflow",
            )));
        }
        if tool.changes_things() && !self.approved {
            return Ok(Executed::Done(Outcome::error(
                "the plan is not approved yet: nothing that changes the project may run before \
                 the user approves a plan; call create_plan and wait for its answer",
            )));
        }
        if tool.is_executor() {
            let Some(sandbox) = self.sandbox.as_ref() else {
                return Err(DriveError::Sandbox("the sandbox is not running".to_owned()));
            };
            let client = sandbox.client().clone();
            let control = self.env.control.clone();
            let started = Instant::now();
            let ran = tokio::select! {
                ran = tools::run_in_sandbox(&client, tool, &call.input, &self.env.audit) => ran,
                () = control.stopped() => {
                    self.env.audit.append(&crate::store::AuditRecord::Executor {
                        ts: crate::record::timestamp(std::time::SystemTime::now()),
                        op: tool.name().to_owned(),
                        target: tools::audit_target(tool, &call.input),
                        outcome: "interrupted".to_owned(),
                        duration_ms: millis(started.elapsed()),
                    });
                    return Ok(Executed::Done(Outcome::error(
                        "interrupted: the user stopped the workflow while this ran",
                    )));
                }
            };
            return match ran {
                Ok(outcome) => Ok(Executed::Done(outcome)),
                Err(error) => Err(DriveError::Sandbox(self.sandbox_lost(tool, &error).await)),
            };
        }
        if tool.is_gitlab() {
            let Some(gitlab) = self.env.gitlab.clone() else {
                return Ok(Executed::Done(Outcome::error(
                    "no GitLab project is known for this workflow",
                )));
            };
            let control = self.env.control.clone();
            return Ok(Executed::Done(tokio::select! {
                outcome = gitlab.run(tool, &call.input) => outcome,
                () = control.stopped() => Outcome::error("interrupted: the user stopped the workflow"),
            }));
        }
        match tool {
            Tool::CreatePlan => self.create_plan(&call.input).await,
            Tool::UpdatePlan => Ok(Executed::Done(self.update_plan(&call.input)?)),
            Tool::AskUser => self.ask_user(&call.input).await,
            Tool::Finish => {
                #[derive(Deserialize)]
                struct Finish {
                    summary: String,
                }
                match serde_json::from_value::<Finish>(call.input.clone()) {
                    Ok(Finish { summary }) => Ok(Executed::Ends(
                        Outcome {
                            ok: true,
                            output: "Finished.".to_owned(),
                        },
                        End::Finished(summary),
                    )),
                    Err(error) => Ok(Executed::Done(Outcome::error(format!(
                        "invalid input: {error}"
                    )))),
                }
            }
            _ => Ok(Executed::Done(Outcome::error(format!(
                "{} cannot be run here",
                tool.name()
            )))),
        }
    }

    async fn create_plan(&mut self, input: &Value) -> Result<Executed, DriveError> {
        #[derive(Deserialize)]
        struct Step {
            title: String,
        }
        #[derive(Deserialize)]
        struct CreatePlan {
            steps: Vec<Step>,
        }
        let steps = match serde_json::from_value::<CreatePlan>(input.clone()) {
            Ok(plan) if !plan.steps.is_empty() => plan.steps,
            Ok(_) => {
                return Ok(Executed::Done(Outcome::error(
                    "a plan needs at least one step",
                )));
            }
            Err(error) => {
                return Ok(Executed::Done(Outcome::error(format!(
                    "invalid input: {error}"
                ))));
            }
        };
        self.plan = steps
            .into_iter()
            .map(|step| PlanStep {
                title: step.title,
                status: StepStatus::Pending,
            })
            .collect();
        self.record(Record::Plan {
            steps: self.plan.clone(),
        })?;
        if self.approved {
            return Ok(Executed::Done(Outcome {
                ok: true,
                output: "Plan updated. Go on with it.".to_owned(),
            }));
        }
        self.set_status(WorkflowStatus::PlanApprovalRequired)?;
        loop {
            let control = self.env.control.clone();
            let plan = self.plan.clone();
            let decision = tokio::select! {
                decision = self.env.interaction.approve_plan(&plan) => decision,
                () = control.stopped() => PlanDecision::Cancel,
            };
            match decision {
                PlanDecision::Approve => {
                    self.approved = true;
                    self.set_status(WorkflowStatus::Running)?;
                    return Ok(Executed::Done(Outcome {
                        ok: true,
                        output: "The user approved the plan. Carry it out step by step: mark each \
                                 step in_progress and then done with update_plan, and call finish \
                                 with a summary at the end."
                            .to_owned(),
                    }));
                }
                PlanDecision::Adjust(text) => {
                    if let Err(why) = self.check_user_text(&text) {
                        self.env.interaction.refused(&why);
                        continue;
                    }
                    self.record(Record::Input {
                        kind: InputKind::Adjust,
                        text: text.clone(),
                    })?;
                    self.set_status(WorkflowStatus::Planning)?;
                    return Ok(Executed::Done(Outcome {
                        ok: true,
                        output: format!(
                            "The user did not approve this plan and asks for changes:\n{text}\n\
                             Call create_plan again with a revised plan."
                        ),
                    }));
                }
                PlanDecision::Cancel => {
                    return Ok(Executed::Ends(
                        Outcome::error("The user cancelled the workflow."),
                        End::Stopped("the user cancelled the plan".to_owned()),
                    ));
                }
                PlanDecision::Leave => {
                    return Ok(Executed::Waits(WorkflowStatus::PlanApprovalRequired));
                }
            }
        }
    }

    fn update_plan(&mut self, input: &Value) -> Result<Outcome, DriveError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct UpdatePlan {
            step: Option<usize>,
            status: Option<StepStatus>,
            steps: Option<Vec<PlanStep>>,
        }
        let update = match serde_json::from_value::<UpdatePlan>(input.clone()) {
            Ok(update) => update,
            Err(error) => return Ok(Outcome::error(format!("invalid input: {error}"))),
        };
        match update {
            UpdatePlan {
                steps: Some(steps),
                step: None,
                status: None,
            } if !steps.is_empty() => self.plan = steps,
            UpdatePlan {
                step: Some(step),
                status: Some(status),
                steps: None,
            } => {
                let count = self.plan.len();
                let Some(entry) = step
                    .checked_sub(1)
                    .and_then(|index| self.plan.get_mut(index))
                else {
                    return Ok(Outcome::error(format!(
                        "there is no step {step}: the plan has {count} steps, numbered from 1"
                    )));
                };
                entry.status = status;
            }
            _ => {
                return Ok(Outcome::error(
                    "give either `step` and `status`, or a non-empty `steps`",
                ));
            }
        }
        self.record(Record::Plan {
            steps: self.plan.clone(),
        })?;
        Ok(Outcome {
            ok: true,
            output: "Plan updated.".to_owned(),
        })
    }

    async fn ask_user(&mut self, input: &Value) -> Result<Executed, DriveError> {
        #[derive(Deserialize)]
        struct AskUser {
            question: String,
        }
        let question = match serde_json::from_value::<AskUser>(input.clone()) {
            Ok(AskUser { question }) => question,
            Err(error) => {
                return Ok(Executed::Done(Outcome::error(format!(
                    "invalid input: {error}"
                ))));
            }
        };
        let before = self.status;
        self.set_status(WorkflowStatus::InputRequired)?;
        loop {
            let answer = match self.preset_answer.take() {
                Some(answer) => Some(answer),
                None => {
                    let control = self.env.control.clone();
                    tokio::select! {
                        answer = self.env.interaction.answer(&question) => answer,
                        () = control.stopped() => {
                            return Ok(Executed::Ends(
                                Outcome::error("The user stopped the workflow instead of answering."),
                                End::Stopped("stopped by the user".to_owned()),
                            ));
                        }
                    }
                }
            };
            let Some(answer) = answer else {
                return Ok(Executed::Waits(WorkflowStatus::InputRequired));
            };
            if let Err(why) = self.check_user_text(&answer) {
                self.env.interaction.refused(&why);
                continue;
            }
            self.record(Record::Input {
                kind: InputKind::Answer,
                text: answer.clone(),
            })?;
            self.set_status(before)?;
            return Ok(Executed::Done(Outcome {
                ok: true,
                output: answer,
            }));
        }
    }

    /// Refuses user text that contains a secret, saying what was found (never the value).
    fn check_user_text(&self, text: &str) -> Result<(), String> {
        refuse_secrets(&self.env.redactor, text)
    }

    fn flush_user_messages(&mut self) -> Result<(), DriveError> {
        for text in std::mem::take(&mut self.pending_user) {
            let message = Message::user(text);
            self.record(Record::Conversation {
                message: message.clone(),
            })?;
            self.conversation.push(message);
        }
        Ok(())
    }

    fn set_status(&mut self, status: WorkflowStatus) -> Result<(), DriveError> {
        if self.status != status {
            self.status = status;
            self.record(Record::status(status))?;
        }
        Ok(())
    }

    fn record_status_with_reason(
        &mut self,
        status: WorkflowStatus,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.status = status;
        self.record(Record::Status {
            status,
            reason: Some(reason.to_owned()),
            summary: None,
        })
    }

    fn record_result(
        &mut self,
        call: &ToolCall,
        result: &ToolResult,
        duration_ms: f64,
    ) -> Result<(), StoreError> {
        self.record(Record::ToolResult {
            id: call.id.clone(),
            tool: call.name.clone(),
            ok: !result.is_error,
            output: result.content.clone(),
            duration_ms,
        })
    }

    fn record(&mut self, record: Record) -> Result<(), StoreError> {
        let entry = self.log.append(&record)?;
        (self.env.observer)(&entry);
        Ok(())
    }
}

enum Executed {
    Done(Outcome),
    Ends(Outcome, End),
    Waits(WorkflowStatus),
}

enum Paused {
    Resume,
    Adjusted,
    End(End),
}

enum MidTurn {
    Go,
    Skip(String),
    End(String, End),
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

/// Starts the sandbox of the workflow with `settings` (the configuration's limits and mask
/// rules, its network setting, its workflow label) and audits the start; shared with the Duo
/// runner.
pub(crate) async fn start_sandbox(
    engine: &Engine,
    executor: Option<&PathBuf>,
    settings: &Settings,
    audit: &AuditLog,
) -> Result<Sandbox, String> {
    let config = crate::config::Config::load().map_err(|error| error.to_string())?;
    let mut options = SandboxOptions::configured(&settings.image, &settings.workspace, &config);
    options.network = if settings.allow_network {
        Network::Bridge
    } else {
        Network::None
    };
    options.workflow_id = Some(settings.id.clone());
    options.executor = executor.cloned();
    let spec = options
        .spec()
        .map_err(|error| format!("cannot prepare the sandbox: {error}"))?;
    let started = Instant::now();
    let sandbox = Sandbox::start(engine, spec)
        .await
        .map_err(|error| format!("cannot start the sandbox: {}", chain(&error)))?;
    audit.append(&crate::store::AuditRecord::Executor {
        ts: crate::record::timestamp(std::time::SystemTime::now()),
        op: "start_sandbox".to_owned(),
        target: sandbox.id().to_owned(),
        outcome: "ok".to_owned(),
        duration_ms: millis(started.elapsed()),
    });
    Ok(sandbox)
}

/// Refuses `text` when it contains a secret: the error names what kinds were found and why
/// they must not be given to the agent (never the values).
pub fn refuse_secrets(redactor: &Redactor, text: &str) -> Result<(), String> {
    let findings = redactor.find(text);
    if findings.is_empty() {
        return Ok(());
    }
    let mut kinds: Vec<&str> = findings
        .iter()
        .map(|finding| finding.kind.description())
        .collect();
    kinds.dedup();
    Err(format!(
        "it contains {}: never give the agent credentials — whatever the model sees can end up \
         in its output, in logs and at the model provider. Remove it and refer to the secret by \
         name (the sandbox hides credential files and dw keeps keys on the host)",
        kinds.join(" and ")
    ))
}

/// A redactor for the built-in patterns, the values of the workspace's credential files
/// (`.env` and the like: `KEY=value` lines; the files of masked directories too) and `extra`
/// values such as the provider key and the GitLab token.
pub fn workspace_redactor(
    workspace: &Path,
    masks: &[dw_runtime::sandbox::Mask],
    extra: &[String],
) -> Redactor {
    const MAX_FILE: u64 = 256 * 1024;
    let mut values: Vec<String> = extra.to_vec();
    let mut read = |path: &Path| {
        let small = std::fs::symlink_metadata(path)
            .is_ok_and(|meta| meta.is_file() && meta.len() <= MAX_FILE);
        if let Some(text) = small.then(|| std::fs::read_to_string(path).ok()).flatten() {
            values.extend(dw_runtime::secrets::dotenv_secret_values(&text));
        }
    };
    for mask in masks {
        let path = workspace.join(&mask.path);
        match mask.kind {
            MaskKind::File => read(&path),
            MaskKind::Directory => {
                for entry in ignore::WalkBuilder::new(&path)
                    .standard_filters(false)
                    .follow_links(false)
                    .max_depth(Some(3))
                    .build()
                    .filter_map(Result::ok)
                {
                    read(entry.path());
                }
            }
        }
    }
    Redactor::new(values)
}

fn goal_message(settings: &Settings) -> String {
    let mut text = format!("Goal: {}", settings.goal);
    if let Some(gitlab) = &settings.gitlab {
        text.push_str(&format!(
            "\n\nGitLab project: {} on {}",
            gitlab.project, gitlab.url
        ));
        if let Some(merge_request) = gitlab.merge_request {
            text.push_str(&format!(
                "\nThe goal is about merge request !{merge_request}; read it with the gitlab_* tools."
            ));
        }
    }
    text
}

fn adjustment(text: &str) -> String {
    format!(
        "The user adjusts the workflow:\n{text}\nTake this into account; revise the plan with \
         create_plan if it changes the steps."
    )
}

fn system_prompt(settings: &Settings, gitlab: Option<&GitLabTools>) -> String {
    let network = if settings.allow_network {
        "The sandbox has network access."
    } else {
        "The sandbox has no network access: commands that download things will fail."
    };
    let gitlab = if gitlab.is_some() {
        " The gitlab_* tools read the GitLab project (read-only); you cannot write to GitLab."
    } else {
        ""
    };
    format!(
        "You are dw's coding agent. You work on the user's project, which is mounted at \
         /workspace in a sandbox container; every file and command tool acts there, with paths \
         relative to the project root. {network} Credential files of the project are hidden \
         and secrets in tool output are replaced by [REDACTED]; never ask the user for \
         credentials.{gitlab}\n\n\
         How to work: first look at the project as far as you need to (read_file, list_dir, \
         find_files, grep), then call create_plan with the ordered steps you will take. The user \
         approves the plan or asks for changes; nothing that changes the project can run before \
         approval. Then carry out the plan: mark each step in_progress and done with \
         update_plan, check your work (run the tests when there are some), and call finish with \
         a short summary of what you did. Use ask_user only when you cannot go on without an \
         answer."
    )
}

pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_second_interrupt_stops_and_a_stop_is_final() {
        let control = Control::new();
        assert!(!control.interrupt());
        assert_eq!(control.current(), Request::Pause);
        assert!(control.interrupt());
        assert_eq!(control.current(), Request::Stop);
        control.clear_pause();
        assert_eq!(control.current(), Request::Stop);
    }

    #[test]
    fn secrets_in_user_text_are_refused_without_echoing_them() {
        let redactor = Redactor::new(["s3cr3t-value-from-env"]);
        let token = format!("glpat-{}", "a1B2c3D4e5F6g7H8i9J0");
        let why = refuse_secrets(&redactor, &format!("use {token}")).unwrap_err();
        assert!(why.contains("a GitLab token"), "{why}");
        assert!(!why.contains(&token));
        assert!(refuse_secrets(&redactor, "the s3cr3t-value-from-env please").is_err());
        assert!(refuse_secrets(&redactor, "fix the failing test").is_ok());
    }
}
