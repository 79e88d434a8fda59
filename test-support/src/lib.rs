//! Test helpers for dw: the world a test builds and tears down.
//!
//! - [`engine`]: a fake Engine API on a unix socket that replays recorded `/version`, `/info` and
//!   `/containers/json` answers of real runtimes, and listeners that misbehave on purpose (silent,
//!   not HTTP, gone);
//! - [`gitlab`]: a fake GitLab instance on 127.0.0.1 speaking the REST API's real shapes;
//! - [`duo`]: a fake GitLab with Duo Workflow (REST and WebSocket) and a fake Duo Workflow
//!   Service (gRPC) on 127.0.0.1, replaying a script of actions;
//! - [`home`]: a temporary home directory with runtimes' sockets, Docker contexts and VS Code
//!   settings in their real places, and the environment a `dw` process needs to use it;
//! - [`agent`]: the static `dw-agent` executor binary the sandbox mounts;
//! - [`workflow`]: a world for `dw run` tests (home, project, state directory) and readers of
//!   what a workflow leaves on disk;
//! - [`docker`]: guards that remove every container and network a test labelled, also on panic;
//! - [`private_engine`]: a `dockerd` of a test's own, which it may stop, kill and start again;
//! - [`proxy`]: a TCP proxy that holds a transfer midway (a pull caught under way);
//! - [`watch`]: inotify on a directory, to strike while another process writes there.
//!
//! Helpers panic with a message on set-up failures: a test that cannot build its world must fail
//! loudly, never pass.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod agent;
pub mod docker;
pub mod duo;
pub mod engine;
pub mod gitlab;
pub mod home;
pub mod private_engine;
pub mod proxy;
pub mod watch;
pub mod workflow;

/// The image the tests use: `DW_TEST_IMAGE`, set by `scripts/test`, else the name it builds.
pub fn test_image() -> String {
    std::env::var("DW_TEST_IMAGE")
        .unwrap_or_else(|_| "dw-test/workflow-generic-image:v0.0.4".to_owned())
}

/// The socket of this machine's real engine.
pub const REAL_ENGINE_SOCKET: &str = "/var/run/docker.sock";
