//! `dw setup`: compute the plan, print it or apply it.

use crate::Status;
use crate::cli::{GlobalArgs, SetupArgs};
use crate::output::Output;

pub async fn run(_args: &SetupArgs, _global: &GlobalArgs, output: &Output) -> anyhow::Result<Status> {
    super::pending("setup", output)
}
