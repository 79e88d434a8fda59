#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The client against a fake GitLab on 127.0.0.1 that answers with the documented v4 shapes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use dw_gitlab::{
    GitLabClient, GitLabConfig, GitLabError, HttpAudit, HttpExchange, ProjectRef, parse_remote,
};
use serde_json::{Value, json};

const TOKEN: &str = "glpat-FakeTokenForTests0123";

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    uri: String,
    token: Option<String>,
}

#[derive(Clone, Default)]
struct Fake {
    seen: Arc<Mutex<Vec<Seen>>>,
}

#[derive(Default)]
struct Recorder(Mutex<Vec<HttpExchange>>);

impl HttpAudit for Recorder {
    fn record(&self, exchange: &HttpExchange) {
        self.0.lock().unwrap().push(exchange.clone());
    }
}

fn merge_request() -> Value {
    json!({
        "id": 1,
        "iid": 7,
        "project_id": 3,
        "title": "Fix the flaky parser test",
        "description": "Closes #12",
        "state": "opened",
        "created_at": "2024-05-01T09:00:00.000Z",
        "updated_at": "2024-05-02T10:00:00.000Z",
        "target_branch": "main",
        "source_branch": "fix-parser",
        "author": {"id": 1, "username": "admin", "name": "Administrator", "state": "active",
                   "web_url": "https://gitlab.example.com/admin"},
        "source_project_id": 3,
        "target_project_id": 3,
        "draft": false,
        "merge_status": "can_be_merged",
        "detailed_merge_status": "mergeable",
        "sha": "8888888888888888888888888888888888888888",
        "web_url": "https://gitlab.example.com/group/sub/project/-/merge_requests/7",
        "head_pipeline": {"id": 47, "iid": 3, "project_id": 3, "status": "failed",
                          "ref": "fix-parser", "sha": "8888888888888888888888888888888888888888"}
    })
}

fn diff(path: &str) -> Value {
    json!({
        "old_path": path,
        "new_path": path,
        "a_mode": "100644",
        "b_mode": "100644",
        "diff": "@@ -1 +1 @@\n-old\n+new\n",
        "new_file": false,
        "renamed_file": false,
        "deleted_file": false,
        "generated_file": false
    })
}

fn failed_job() -> Value {
    json!({
        "id": 1001,
        "status": "failed",
        "stage": "test",
        "name": "unit-tests",
        "ref": "fix-parser",
        "tag": false,
        "coverage": null,
        "allow_failure": false,
        "created_at": "2024-05-02T10:00:00.000Z",
        "started_at": "2024-05-02T10:00:05.000Z",
        "finished_at": "2024-05-02T10:02:05.000Z",
        "duration": 120.0,
        "queued_duration": 5.0,
        "failure_reason": "script_failure",
        "web_url": "https://gitlab.example.com/group/sub/project/-/jobs/1001",
        "pipeline": {"id": 47, "project_id": 3, "ref": "fix-parser",
                     "sha": "8888888888888888888888888888888888888888", "status": "failed"}
    })
}

fn paged(body: Value, next_page: &str) -> Response {
    (
        [
            ("content-type", "application/json"),
            ("x-next-page", next_page),
            ("x-per-page", "30"),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn answer(
    State(fake): State<Fake>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    fake.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        uri: uri.to_string(),
        token: headers
            .get("private-token")
            .map(|value| value.to_str().unwrap().to_owned()),
    });
    if headers
        .get("private-token")
        .and_then(|value| value.to_str().ok())
        != Some(TOKEN)
    {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"message":"401 Unauthorized"}"#,
        )
            .into_response();
    }
    let query = uri.query().unwrap_or("");
    let page = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("page="))
        .unwrap_or("1");
    match uri.path() {
        "/api/v4/projects/group%2Fsub%2Fproject" | "/api/v4/projects/3" => axum::Json(json!({
            "id": 3,
            "name": "project",
            "path": "project",
            "path_with_namespace": "group/sub/project",
            "default_branch": "main",
            "web_url": "https://gitlab.example.com/group/sub/project"
        }))
        .into_response(),
        "/api/v4/projects/group%2Fsub%2Fproject/merge_requests/7" => {
            axum::Json(merge_request()).into_response()
        }
        "/api/v4/projects/group%2Fsub%2Fproject/merge_requests/7/diffs" => match page {
            "1" => paged(json!([diff("src/a.rs"), diff("src/b.rs")]), "2"),
            "2" => paged(json!([diff("src/c.rs")]), "3"),
            _ => paged(json!([diff("src/d.rs")]), ""),
        },
        "/api/v4/projects/group%2Fsub%2Fproject/merge_requests/7/pipelines" => paged(
            json!([{"id": 47, "iid": 3, "project_id": 3, "sha": "8888888888888888888888888888888888888888",
                    "ref": "fix-parser", "status": "failed", "source": "merge_request_event",
                    "created_at": "2024-05-02T10:00:00.000Z", "updated_at": "2024-05-02T10:02:05.000Z",
                    "web_url": "https://gitlab.example.com/group/sub/project/-/pipelines/47"}]),
            "",
        ),
        "/api/v4/projects/group%2Fsub%2Fproject/pipelines/47/jobs" => {
            if query.contains("scope%5B%5D=failed") || query.contains("scope[]=failed") {
                paged(json!([failed_job()]), "")
            } else {
                (StatusCode::BAD_REQUEST, r#"{"error":"scope missing"}"#).into_response()
            }
        }
        "/api/v4/projects/group%2Fsub%2Fproject/jobs/1001/trace" => (
            [("content-type", "text/plain")],
            "\u{1b}[0KRunning with gitlab-runner 17.0.0\n$ cargo test\ntest parser ... FAILED\nERROR: Job failed: exit code 101\n",
        )
            .into_response(),
        "/api/v4/projects/group%2Fsub%2Fproject/jobs/1002/trace" => {
            let mut log = "é".repeat(50_000);
            log.push_str("\nERROR: Job failed: exit code 1\n");
            ([("content-type", "text/plain")], log).into_response()
        }
        "/api/v4/projects/private%2Fproject" => {
            (StatusCode::FORBIDDEN, r#"{"message":"403 Forbidden"}"#).into_response()
        }
        "/api/v4/projects/moved%2Fproject" => (
            StatusCode::MOVED_PERMANENTLY,
            [("location", "https://elsewhere.invalid/api/v4/projects/moved%2Fproject")],
        )
            .into_response(),
        "/api/v4/projects/broken%2Fproject" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"message":"500 Internal Server Error"}"#,
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, r#"{"message":"404 Project Not Found"}"#).into_response(),
    }
}

struct World {
    fake: Fake,
    audit: Arc<Recorder>,
    url: String,
}

impl World {
    async fn start() -> World {
        let fake = Fake::default();
        let app = Router::new().fallback(answer).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        World {
            fake,
            audit: Arc::new(Recorder::default()),
            url,
        }
    }

    fn client(&self) -> GitLabClient {
        self.client_with(|_| {})
    }

    fn client_with(&self, adjust: impl FnOnce(&mut GitLabConfig)) -> GitLabClient {
        let mut config = GitLabConfig::new(format!("{}/", self.url), TOKEN);
        adjust(&mut config);
        GitLabClient::new(config, self.audit.clone()).unwrap()
    }

    fn seen(&self) -> Vec<Seen> {
        self.fake.seen.lock().unwrap().clone()
    }

    fn audited(&self) -> Vec<HttpExchange> {
        self.audit.0.lock().unwrap().clone()
    }
}

fn project() -> ProjectRef {
    ProjectRef::parse("group/sub/project")
}

#[tokio::test]
async fn every_tool_reads_with_get_and_the_token() {
    let world = World::start().await;
    let client = world.client();

    let by_path = client.get_project(&project()).await.unwrap();
    assert_eq!(by_path["path_with_namespace"], "group/sub/project");
    let by_id = client.get_project(&ProjectRef::parse("3")).await.unwrap();
    assert_eq!(by_id["id"], 3);

    let merge_request = client.get_merge_request(&project(), 7).await.unwrap();
    assert_eq!(merge_request["iid"], 7);
    assert_eq!(merge_request["head_pipeline"]["id"], 47);

    let diffs = client.get_merge_request_diffs(&project(), 7).await.unwrap();
    let paths: Vec<&str> = diffs
        .items
        .iter()
        .map(|diff| diff["new_path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["src/a.rs", "src/b.rs", "src/c.rs", "src/d.rs"]);
    assert!(!diffs.truncated);

    let pipelines = client
        .list_merge_request_pipelines(&project(), 7)
        .await
        .unwrap();
    assert_eq!(pipelines.items[0]["status"], "failed");

    let jobs = client
        .get_pipeline_failed_jobs(&project(), 47)
        .await
        .unwrap();
    assert_eq!(jobs.items.len(), 1);
    assert_eq!(jobs.items[0]["failure_reason"], "script_failure");

    let log = client.get_job_log(&project(), 1001).await.unwrap();
    assert!(log.text.contains("ERROR: Job failed: exit code 101"));
    assert!(!log.truncated);
    assert_eq!(log.total_bytes, log.text.len() as u64);

    let seen = world.seen();
    for request in &seen {
        assert_eq!(request.method, Method::GET, "{request:?}");
        assert_eq!(request.token.as_deref(), Some(TOKEN), "{request:?}");
    }
    let uris: Vec<&str> = seen.iter().map(|request| request.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            "/api/v4/projects/group%2Fsub%2Fproject",
            "/api/v4/projects/3",
            "/api/v4/projects/group%2Fsub%2Fproject/merge_requests/7",
            "/api/v4/projects/group%2Fsub%2Fproject/merge_requests/7/diffs?page=1&per_page=30",
            "/api/v4/projects/group%2Fsub%2Fproject/merge_requests/7/diffs?page=2&per_page=30",
            "/api/v4/projects/group%2Fsub%2Fproject/merge_requests/7/diffs?page=3&per_page=30",
            "/api/v4/projects/group%2Fsub%2Fproject/merge_requests/7/pipelines?page=1&per_page=30",
            "/api/v4/projects/group%2Fsub%2Fproject/pipelines/47/jobs?scope%5B%5D=failed&page=1&per_page=30",
            "/api/v4/projects/group%2Fsub%2Fproject/jobs/1001/trace",
        ]
    );

    // One audit record per request, with the full URL, the status, and never the token.
    let audited = world.audited();
    assert_eq!(audited.len(), seen.len());
    for (exchange, request) in audited.iter().zip(&seen) {
        assert_eq!(exchange.method, "GET");
        assert_eq!(exchange.url, format!("{}{}", world.url, request.uri));
        assert_eq!(exchange.status, Some(200));
        assert!(!format!("{exchange:?}").contains(TOKEN));
    }
}

#[tokio::test]
async fn pagination_stops_at_the_bound_and_says_so() {
    let world = World::start().await;
    let client = world.client_with(|config| config.max_pages = 2);
    let diffs = client.get_merge_request_diffs(&project(), 7).await.unwrap();
    assert_eq!(diffs.items.len(), 3);
    assert!(diffs.truncated);
    assert_eq!(world.seen().len(), 2);
}

#[tokio::test]
async fn a_long_job_log_keeps_its_end_with_a_note() {
    let world = World::start().await;
    let client = world.client_with(|config| config.max_log_bytes = 1001);
    let log = client.get_job_log(&project(), 1002).await.unwrap();
    assert!(log.truncated);
    assert_eq!(
        log.total_bytes,
        100_000 + "\nERROR: Job failed: exit code 1\n".len() as u64
    );
    assert!(
        log.text
            .starts_with("[dw: job log truncated: showing the last ")
    );
    assert!(log.text.ends_with("ERROR: Job failed: exit code 1\n"));
    assert!(
        !log.text.contains('\u{fffd}'),
        "cut on a character boundary"
    );
    assert!(log.text.len() < 1001 + 100);
}

#[tokio::test]
async fn a_bad_token_is_explained_without_showing_it() {
    let world = World::start().await;
    let client = GitLabClient::new(
        GitLabConfig::new(&world.url, "glpat-WrongTokenWrongToken00"),
        world.audit.clone(),
    )
    .unwrap();
    let error = client.get_project(&project()).await.unwrap_err();
    assert!(
        matches!(error, GitLabError::Unauthorized { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("401"), "{message}");
    assert!(message.contains("read_api is enough"), "{message}");
    assert!(message.contains("GITLAB_TOKEN"), "{message}");
    assert!(!message.contains("WrongToken"), "{message}");
    assert_eq!(world.audited()[0].status, Some(401));
    assert!(!format!("{client:?}").contains("WrongToken"));
    assert!(!format!("{:?}", GitLabConfig::new("https://x.invalid", TOKEN)).contains(TOKEN));
}

#[tokio::test]
async fn forbidden_not_found_redirect_and_server_errors_teach() {
    let world = World::start().await;
    let client = world.client();

    let forbidden = client
        .get_project(&ProjectRef::parse("private/project"))
        .await
        .unwrap_err();
    assert!(matches!(forbidden, GitLabError::Forbidden { .. }));
    assert!(forbidden.to_string().contains("read_api scope is enough"));

    let missing = client.get_merge_request(&project(), 999).await.unwrap_err();
    assert!(matches!(
        missing,
        GitLabError::NotFound {
            what: "merge request",
            ..
        }
    ));
    assert!(missing.to_string().contains("cannot see it"), "{missing}");

    let moved = client
        .get_project(&ProjectRef::parse("moved/project"))
        .await
        .unwrap_err();
    assert!(
        matches!(moved, GitLabError::Redirected { status: 301, .. }),
        "{moved:?}"
    );
    assert!(moved.to_string().contains("elsewhere.invalid"));

    let broken = client
        .get_project(&ProjectRef::parse("broken/project"))
        .await
        .unwrap_err();
    assert!(matches!(broken, GitLabError::Status { status: 500, .. }));
    assert!(broken.to_string().contains("500 Internal Server Error"));

    let statuses: Vec<Option<u16>> = world
        .audited()
        .iter()
        .map(|exchange| exchange.status)
        .collect();
    assert_eq!(statuses, [Some(403), Some(404), Some(301), Some(500)]);
    // The redirect was not followed: four requests, all to the fake.
    assert_eq!(world.seen().len(), 4);
}

#[tokio::test]
async fn an_unreachable_instance_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let audit = Arc::new(Recorder::default());
    let mut config = GitLabConfig::new(format!("http://{address}"), TOKEN);
    config.timeout = Duration::from_secs(5);
    let client = GitLabClient::new(config, audit.clone()).unwrap();
    let error = client.get_project(&project()).await.unwrap_err();
    assert!(matches!(error, GitLabError::Network { .. }), "{error:?}");
    assert!(error.to_string().contains("cannot reach GitLab"), "{error}");
    assert_eq!(audit.0.lock().unwrap()[0].status, None);
}

#[test]
fn instance_urls_are_checked_and_normalised() {
    let audit = Arc::new(Recorder::default());
    let client = |url: &str| GitLabClient::new(GitLabConfig::new(url, TOKEN), audit.clone());
    assert_eq!(
        client("https://gitlab.example.com/api/v4/")
            .unwrap()
            .instance_url(),
        "https://gitlab.example.com"
    );
    assert_eq!(
        client("https://example.com/gitlab/")
            .unwrap()
            .instance_url(),
        "https://example.com/gitlab"
    );
    for bad in [
        "gitlab.example.com",
        "ftp://gitlab.example.com",
        "https://user:pw@gitlab.example.com",
    ] {
        let error = client(bad).unwrap_err();
        assert!(
            matches!(error, GitLabError::InvalidInstanceUrl { .. }),
            "{bad}"
        );
        assert!(!error.to_string().contains("pw@"), "{error}");
    }
    let error = GitLabClient::new(
        GitLabConfig::new("https://gitlab.example.com", " "),
        audit.clone(),
    )
    .unwrap_err();
    assert!(matches!(error, GitLabError::InvalidToken));
}

#[test]
fn project_refs() {
    assert_eq!(ProjectRef::parse("42"), ProjectRef::Id(42));
    assert_eq!(
        ProjectRef::parse("/group/project/"),
        ProjectRef::Path("group/project".to_owned())
    );
    assert_eq!(ProjectRef::from(7_u64).to_string(), "7");
}

#[test]
fn remote_urls() {
    let table = [
        (
            "git@gitlab.example.com:group/sub/project.git",
            "https://gitlab.example.com",
            "group/sub/project",
        ),
        (
            "gitlab.example.com:group/project",
            "https://gitlab.example.com",
            "group/project",
        ),
        (
            "https://gitlab.com/group/project.git",
            "https://gitlab.com",
            "group/project",
        ),
        (
            "https://gitlab.com/group/project",
            "https://gitlab.com",
            "group/project",
        ),
        (
            "https://oauth2:glpat-secret0000000000000@gitlab.com/group/project.git",
            "https://gitlab.com",
            "group/project",
        ),
        (
            "http://localhost:8080/group/project.git/",
            "http://localhost:8080",
            "group/project",
        ),
        (
            "ssh://git@host.example:2222/group/project.git",
            "https://host.example",
            "group/project",
        ),
        (
            "ssh://git@host.example/group/sub/deeper/project.git",
            "https://host.example",
            "group/sub/deeper/project",
        ),
    ];
    for (remote, instance, path) in table {
        let parsed = parse_remote(remote).unwrap_or_else(|error| panic!("{remote}: {error}"));
        assert_eq!(parsed.instance_url, instance, "{remote}");
        assert_eq!(parsed.project_path, path, "{remote}");
    }
    for bad in [
        "",
        "project",
        "/local/path/to/repo",
        "file:///srv/git/project.git",
        "git@gitlab.example.com:project.git",
        "https://gitlab.com/",
        "https://oauth2:glpat-secret0000000000000@gitlab.com/project",
    ] {
        let error = parse_remote(bad).unwrap_err();
        assert!(!error.to_string().contains("glpat-secret"), "{error}");
    }
}
