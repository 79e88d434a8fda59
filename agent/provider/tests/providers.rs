#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The providers against fake Anthropic and OpenAI-compatible servers on 127.0.0.1, and the
//! script provider.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use dw_provider::{
    AnthropicConfig, AnthropicProvider, CompletionRequest, HttpAudit, HttpExchange, Message,
    OpenAiConfig, OpenAiProvider, Provider, ProviderError, RetryPolicy, ScriptProvider, StopReason,
    ToolDefinition, ToolResult,
};
use serde_json::{Value, json};

const ANTHROPIC_KEY: &str = "sk-ant-api03-TestKeyTestKeyTestKey0123";
const OPENAI_KEY: &str = "sk-proj-TestKeyTestKeyTestKey0123";

struct Canned {
    status: u16,
    headers: Vec<(&'static str, &'static str)>,
    body: Value,
}

fn canned(status: u16, body: Value) -> Canned {
    Canned {
        status,
        headers: Vec::new(),
        body,
    }
}

#[derive(Clone, Debug)]
struct Seen {
    path: String,
    headers: HeaderMap,
    body: Value,
}

#[derive(Clone, Default)]
struct Fake {
    answers: Arc<Mutex<VecDeque<Canned>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn answer(State(fake): State<Fake>, uri: Uri, headers: HeaderMap, body: String) -> Response {
    fake.seen.lock().unwrap().push(Seen {
        path: uri.path().to_owned(),
        headers,
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
    });
    let Some(canned) = fake.answers.lock().unwrap().pop_front() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no more canned answers").into_response();
    };
    let mut response = (
        StatusCode::from_u16(canned.status).unwrap(),
        [("content-type", "application/json")],
        canned.body.to_string(),
    )
        .into_response();
    for (name, value) in canned.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

#[derive(Default)]
struct Recorder(Mutex<Vec<HttpExchange>>);

impl HttpAudit for Recorder {
    fn record(&self, exchange: &HttpExchange) {
        self.0.lock().unwrap().push(exchange.clone());
    }
}

impl Recorder {
    fn all(&self) -> Vec<HttpExchange> {
        self.0.lock().unwrap().clone()
    }
}

async fn start(answers: Vec<Canned>) -> (Fake, String) {
    let fake = Fake {
        answers: Arc::new(Mutex::new(answers.into())),
        ..Fake::default()
    };
    let app = Router::new().fallback(answer).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, url)
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        delay_scale: 0.0,
        ..RetryPolicy::default()
    }
}

fn read_file_tool() -> ToolDefinition {
    ToolDefinition {
        name: "read_file".to_owned(),
        description: "Read a file of the workspace".to_owned(),
        input_schema: json!({
            "type": "object",
            "properties": {"path": {"type": "string", "description": "relative to /workspace"}},
            "required": ["path"]
        }),
    }
}

fn first_request() -> CompletionRequest {
    CompletionRequest {
        system: Some("You are dw's agent.".to_owned()),
        messages: vec![Message::user("Summarise README.md")],
        tools: vec![read_file_tool()],
        max_tokens: 1024,
    }
}

fn anthropic(url: &str, audit: Arc<Recorder>) -> AnthropicProvider {
    let mut config = AnthropicConfig::new(ANTHROPIC_KEY, "claude-test");
    config.base_url = format!("{url}/");
    config.retry = fast_retries();
    AnthropicProvider::new(config, audit).unwrap()
}

fn anthropic_error(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

#[tokio::test]
async fn anthropic_two_turns_with_a_rate_limit_in_between() {
    let rate_limited = Canned {
        status: 429,
        headers: vec![("retry-after", "1")],
        body: anthropic_error(
            "rate_limit_error",
            "Number of requests has exceeded your rate limit",
        ),
    };
    let tool_use = canned(
        200,
        json!({
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [
                {"type": "text", "text": "I'll read the README."},
                {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9",
                 "name": "read_file", "input": {"path": "README.md"}}
            ],
            "stop_reason": "tool_use",
            "stop_sequence": null,
            "usage": {"input_tokens": 120, "output_tokens": 40}
        }),
    );
    let end_turn = canned(
        200,
        json!({
            "id": "msg_02",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [{"type": "text", "text": "The README describes dw."}],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": {"input_tokens": 200, "output_tokens": 10}
        }),
    );
    let (fake, url) = start(vec![rate_limited, tool_use, end_turn]).await;
    let audit = Arc::new(Recorder::default());
    let provider = anthropic(&url, audit.clone());

    let mut request = first_request();
    let first = provider.complete(&request).await.unwrap();
    assert_eq!(first.text, "I'll read the README.");
    assert_eq!(first.stop_reason, StopReason::ToolUse);
    assert_eq!(first.tool_calls.len(), 1);
    assert_eq!(first.tool_calls[0].id, "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(first.tool_calls[0].input, json!({"path": "README.md"}));

    request.messages.push(first.to_message());
    request
        .messages
        .push(Message::tool_results(vec![ToolResult::ok(
            first.tool_calls[0].id.clone(),
            "# dw\nRuns an agent in a container.",
        )]));
    let second = provider.complete(&request).await.unwrap();
    assert_eq!(second.text, "The README describes dw.");
    assert_eq!(second.stop_reason, StopReason::EndTurn);
    assert!(second.tool_calls.is_empty());

    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "429, its retry, then the second turn");
    for request in &seen {
        assert_eq!(request.path, "/v1/messages");
        assert_eq!(request.headers["x-api-key"], ANTHROPIC_KEY);
        assert_eq!(request.headers["anthropic-version"], "2023-06-01");
        assert_eq!(request.headers["content-type"], "application/json");
    }
    let expected_first = json!({
        "model": "claude-test",
        "max_tokens": 1024,
        "system": "You are dw's agent.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Summarise README.md"}]}
        ],
        "tools": [{
            "name": "read_file",
            "description": "Read a file of the workspace",
            "input_schema": {
                "type": "object",
                "properties": {"path": {"type": "string", "description": "relative to /workspace"}},
                "required": ["path"]
            }
        }]
    });
    assert_eq!(seen[0].body, expected_first);
    assert_eq!(
        seen[1].body, expected_first,
        "the retry sends the same request"
    );
    assert_eq!(
        seen[2].body["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Summarise README.md"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "I'll read the README."},
                {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9",
                 "name": "read_file", "input": {"path": "README.md"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9",
                 "content": "# dw\nRuns an agent in a container.", "is_error": false}
            ]}
        ])
    );

    let audited = audit.all();
    let summary: Vec<(Option<u16>, u32, Option<Duration>)> = audited
        .iter()
        .map(|exchange| (exchange.status, exchange.attempt, exchange.retry_in))
        .collect();
    assert_eq!(
        summary,
        [
            (Some(429), 1, Some(Duration::from_secs(1))),
            (Some(200), 2, None),
            (Some(200), 1, None),
        ],
        "retry-after: 1 was honoured as the computed wait"
    );
    for exchange in &audited {
        assert_eq!(exchange.method, "POST");
        assert_eq!(exchange.url, format!("{url}/v1/messages"));
        assert!(!format!("{exchange:?}").contains(ANTHROPIC_KEY));
    }
    assert!(!format!("{provider:?}").contains(ANTHROPIC_KEY));
    assert!(!format!("{:?}", AnthropicConfig::new(ANTHROPIC_KEY, "m")).contains(ANTHROPIC_KEY));
}

#[tokio::test]
async fn anthropic_tool_results_come_first_and_errors_are_flagged() {
    let (fake, url) = start(vec![canned(
        200,
        json!({"content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn"}),
    )])
    .await;
    let provider = anthropic(&url, Arc::new(Recorder::default()));
    let mut request = first_request();
    request.messages.push(Message::Assistant {
        text: String::new(),
        tool_calls: vec![dw_provider::ToolCall {
            id: "toolu_1".to_owned(),
            name: "read_file".to_owned(),
            input: json!({"path": "missing"}),
        }],
    });
    request
        .messages
        .push(Message::tool_results(vec![ToolResult::error(
            "toolu_1",
            "no such file",
        )]));
    // The user adjusts the plan right after the results: one user message, results first.
    request
        .messages
        .push(Message::user("Look in docs/ instead"));
    provider.complete(&request).await.unwrap();
    let body = fake.seen.lock().unwrap()[0].body.clone();
    assert_eq!(
        body["messages"][1],
        json!({"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "missing"}}
        ]})
    );
    assert_eq!(
        body["messages"][2],
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "no such file", "is_error": true},
            {"type": "text", "text": "Look in docs/ instead"}
        ]})
    );
    assert_eq!(body["messages"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn anthropic_bad_key_names_the_variable_and_is_not_retried() {
    let (fake, url) = start(vec![canned(
        401,
        anthropic_error("authentication_error", "invalid x-api-key"),
    )])
    .await;
    let audit = Arc::new(Recorder::default());
    let error = anthropic(&url, audit.clone())
        .complete(&first_request())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::Unauthorized { status: 401, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("ANTHROPIC_API_KEY"), "{message}");
    assert!(
        message.contains("authentication_error: invalid x-api-key"),
        "{message}"
    );
    assert!(!message.contains(ANTHROPIC_KEY), "{message}");
    assert!(!format!("{error:?}").contains(ANTHROPIC_KEY));
    assert_eq!(fake.seen.lock().unwrap().len(), 1);
    assert_eq!(audit.all()[0].status, Some(401));
}

#[tokio::test]
async fn anthropic_bad_request_quotes_the_api_and_never_the_key() {
    let (_fake, url) = start(vec![canned(
        400,
        anthropic_error(
            "invalid_request_error",
            &format!("model: claude-nope not found (key {ANTHROPIC_KEY})"),
        ),
    )])
    .await;
    let error = anthropic(&url, Arc::new(Recorder::default()))
        .complete(&first_request())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::Rejected { status: 400, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("invalid_request_error: model: claude-nope not found"),
        "{message}"
    );
    assert!(!message.contains(ANTHROPIC_KEY), "{message}");
}

#[tokio::test]
async fn anthropic_overloaded_until_attempts_run_out() {
    let overloaded = || canned(529, anthropic_error("overloaded_error", "Overloaded"));
    let (fake, url) = start(vec![overloaded(), overloaded(), overloaded()]).await;
    let audit = Arc::new(Recorder::default());
    let mut config = AnthropicConfig::new(ANTHROPIC_KEY, "claude-test");
    config.base_url = url;
    config.retry = RetryPolicy {
        max_attempts: 3,
        ..fast_retries()
    };
    let error = AnthropicProvider::new(config, audit.clone())
        .unwrap()
        .complete(&first_request())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ProviderError::Unavailable {
                status: 529,
                attempts: 3,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("overloaded_error: Overloaded"));
    assert_eq!(fake.seen.lock().unwrap().len(), 3);
    let waits: Vec<Option<Duration>> = audit
        .all()
        .iter()
        .map(|exchange| exchange.retry_in)
        .collect();
    assert_eq!(
        waits,
        [
            Some(Duration::from_secs(1)),
            Some(Duration::from_secs(2)),
            None
        ],
        "exponential backoff without retry-after; the last attempt is not retried"
    );
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_explained() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let audit = Arc::new(Recorder::default());
    let mut config = OpenAiConfig::new(format!("http://{address}/v1?api-key=query-secret"), "m");
    config.retry = RetryPolicy {
        max_attempts: 2,
        ..fast_retries()
    };
    let error = OpenAiProvider::new(config, audit.clone())
        .unwrap()
        .complete(&first_request())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::Unreachable { attempts: 2, .. }),
        "{error:?}"
    );
    let audited = audit.all();
    assert_eq!(audited.len(), 2);
    assert_eq!(audited[0].status, None);
    assert!(
        audited[0].url.contains("api-key=%5BREDACTED%5D"),
        "{}",
        audited[0].url
    );
    assert!(!error.to_string().contains("query-secret"), "{error}");
}

fn openai(url: &str, audit: Arc<Recorder>) -> OpenAiProvider {
    let mut config = OpenAiConfig::new(format!("{url}/v1"), "qwen2.5-coder");
    config.api_key = Some(OPENAI_KEY.to_owned());
    config.retry = fast_retries();
    OpenAiProvider::new(config, audit).unwrap()
}

#[tokio::test]
async fn openai_compatible_two_turns_with_arguments_as_a_json_string() {
    let tool_calls = canned(
        200,
        json!({
            "id": "chatcmpl-123",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "qwen2.5-coder",
            "choices": [{
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": null,
                    "tool_calls": [{
                        "id": "call_abc123",
                        "type": "function",
                        "function": {"name": "read_file", "arguments": "{\"path\":\"README.md\"}"}
                    }]
                },
                "logprobs": null,
                "finish_reason": "tool_calls"
            }],
            "usage": {"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99}
        }),
    );
    let rate_limited = Canned {
        status: 429,
        headers: vec![("retry-after", "2")],
        body: json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}),
    };
    let stop = canned(
        200,
        json!({
            "id": "chatcmpl-124",
            "object": "chat.completion",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "Done."},
                "finish_reason": "stop"
            }]
        }),
    );
    let (fake, url) = start(vec![tool_calls, rate_limited, stop]).await;
    let audit = Arc::new(Recorder::default());
    let provider = openai(&url, audit.clone());

    let mut request = first_request();
    let first = provider.complete(&request).await.unwrap();
    assert_eq!(first.stop_reason, StopReason::ToolUse);
    assert_eq!(first.text, "");
    assert_eq!(first.tool_calls[0].id, "call_abc123");
    assert_eq!(first.tool_calls[0].input, json!({"path": "README.md"}));

    request.messages.push(first.to_message());
    request
        .messages
        .push(Message::tool_results(vec![ToolResult::ok(
            "call_abc123",
            "# dw",
        )]));
    let second = provider.complete(&request).await.unwrap();
    assert_eq!(second.text, "Done.");
    assert_eq!(second.stop_reason, StopReason::EndTurn);

    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    for request in &seen {
        assert_eq!(request.path, "/v1/chat/completions");
        assert_eq!(
            request.headers["authorization"],
            format!("Bearer {OPENAI_KEY}").as_str()
        );
        assert_eq!(request.headers["content-type"], "application/json");
    }
    assert_eq!(
        seen[0].body,
        json!({
            "model": "qwen2.5-coder",
            "max_tokens": 1024,
            "messages": [
                {"role": "system", "content": "You are dw's agent."},
                {"role": "user", "content": "Summarise README.md"}
            ],
            "tools": [{
                "type": "function",
                "function": {
                    "name": "read_file",
                    "description": "Read a file of the workspace",
                    "parameters": {
                        "type": "object",
                        "properties": {"path": {"type": "string", "description": "relative to /workspace"}},
                        "required": ["path"]
                    }
                }
            }]
        })
    );
    assert_eq!(
        seen[2].body["messages"],
        json!([
            {"role": "system", "content": "You are dw's agent."},
            {"role": "user", "content": "Summarise README.md"},
            {"role": "assistant", "content": null, "tool_calls": [{
                "id": "call_abc123",
                "type": "function",
                "function": {"name": "read_file", "arguments": "{\"path\":\"README.md\"}"}
            }]},
            {"role": "tool", "tool_call_id": "call_abc123", "content": "# dw"}
        ])
    );
    let summary: Vec<(Option<u16>, Option<Duration>)> = audit
        .all()
        .iter()
        .map(|exchange| (exchange.status, exchange.retry_in))
        .collect();
    assert_eq!(
        summary,
        [
            (Some(200), None),
            (Some(429), Some(Duration::from_secs(2))),
            (Some(200), None)
        ]
    );
    assert!(!format!("{provider:?}").contains(OPENAI_KEY));
}

#[tokio::test]
async fn openai_compatible_local_server_without_key_or_ids() {
    let (fake, url) = start(vec![canned(
        200,
        json!({"choices": [{"message": {"content": "", "tool_calls": [
            {"type": "function", "function": {"name": "list_dir", "arguments": ""}},
            {"type": "function", "function": {"name": "grep", "arguments": "{not json"}}
        ]}, "finish_reason": "stop"}]}),
    )])
    .await;
    let provider = OpenAiProvider::new(
        OpenAiConfig::new(format!("{url}/v1"), "local"),
        Arc::new(Recorder::default()),
    )
    .unwrap();
    let completion = provider.complete(&first_request()).await.unwrap();
    assert_eq!(completion.stop_reason, StopReason::ToolUse);
    assert_eq!(completion.tool_calls[0].id, "call_1");
    assert_eq!(completion.tool_calls[0].input, json!({}));
    assert_eq!(completion.tool_calls[1].id, "call_2");
    assert_eq!(completion.tool_calls[1].input, json!("{not json"));
    assert!(
        fake.seen.lock().unwrap()[0]
            .headers
            .get("authorization")
            .is_none()
    );
}

#[tokio::test]
async fn openai_compatible_bad_key() {
    let (_fake, url) = start(vec![canned(
        401,
        json!({"error": {"message": "Incorrect API key provided: sk-proj-***0123.", "type": "invalid_request_error", "code": "invalid_api_key"}}),
    )])
    .await;
    let error = openai(&url, Arc::new(Recorder::default()))
        .complete(&first_request())
        .await
        .unwrap_err();
    assert!(matches!(error, ProviderError::Unauthorized { .. }));
    assert!(error.to_string().contains("OPENAI_API_KEY"), "{error}");
}

fn script_request(assistant_turns: usize) -> CompletionRequest {
    let mut request = first_request();
    for _ in 0..assistant_turns {
        request.messages.push(Message::Assistant {
            text: "…".to_owned(),
            tool_calls: Vec::new(),
        });
    }
    request
}

#[tokio::test]
async fn script_replays_turns_and_says_when_it_runs_out() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("demo.jsonl");
    std::fs::write(
        &path,
        concat!(
            r#"{"text": "Reading.", "tool_calls": [{"name": "read_file", "input": {"path": "README.md"}}, {"name": "list_dir"}]}"#,
            "\n\n",
            r#"{"text": "All done."}"#,
            "\n"
        ),
    )
    .unwrap();
    let provider = ScriptProvider::load(&path).unwrap();
    assert_eq!(provider.turns().len(), 2);

    let first = provider.complete(&script_request(0)).await.unwrap();
    assert_eq!(first.text, "Reading.");
    assert_eq!(first.stop_reason, StopReason::ToolUse);
    let calls: Vec<(&str, &str, &Value)> = first
        .tool_calls
        .iter()
        .map(|call| (call.id.as_str(), call.name.as_str(), &call.input))
        .collect();
    assert_eq!(
        calls,
        [
            ("script_1_1", "read_file", &json!({"path": "README.md"})),
            ("script_1_2", "list_dir", &json!({})),
        ]
    );

    let last = provider.complete(&script_request(1)).await.unwrap();
    assert_eq!(last.text, "All done.");
    assert_eq!(last.stop_reason, StopReason::EndTurn);
    assert!(last.tool_calls.is_empty());

    let error = provider.complete(&script_request(2)).await.unwrap_err();
    assert!(
        matches!(
            error,
            ProviderError::ScriptExhausted {
                turns: 2,
                requested: 3,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("has 2 turns"), "{error}");
}

#[test]
fn a_malformed_script_line_is_named_at_load_time() {
    let error = ScriptProvider::parse(
        "demo.jsonl",
        "{\"text\": \"ok\"}\n\n{\"text\": \"missing quote}\n",
    )
    .unwrap_err();
    assert!(
        matches!(error, ProviderError::ScriptLine { line: 3, .. }),
        "{error:?}"
    );
    assert!(error.to_string().starts_with("demo.jsonl:3: "), "{error}");

    let typo = ScriptProvider::parse("demo.jsonl", "{\"tool_call\": []}\n").unwrap_err();
    assert!(
        matches!(typo, ProviderError::ScriptLine { line: 1, .. }),
        "{typo:?}"
    );

    let missing = ScriptProvider::load("/nonexistent/dw-script.jsonl").unwrap_err();
    assert!(matches!(missing, ProviderError::ScriptRead { .. }));
}

#[test]
fn providers_are_usable_as_trait_objects() {
    let script = ScriptProvider::parse("inline", "{\"text\": \"hi\"}").unwrap();
    let providers: Vec<Box<dyn Provider>> = vec![Box::new(script)];
    assert_eq!(providers[0].name(), "script");
}
