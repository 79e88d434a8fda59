//! `dw sandbox`: the agent's sandbox by hand.

use crate::Status;
use crate::cli::{GlobalArgs, SandboxArgs};
use crate::output::Output;

pub async fn run(
    _args: &SandboxArgs,
    _global: &GlobalArgs,
    output: &Output,
) -> anyhow::Result<Status> {
    super::pending("sandbox", output)
}
