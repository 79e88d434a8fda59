//! One module per command: each takes its parsed arguments and returns a [`Status`].

pub mod doctor;
pub mod duo;
pub mod run;
pub mod runtimes;
pub mod sandbox;
pub mod setup;
pub mod workflows;

use dw_runtime::discovery::{self, DiscoveryEnv};
use dw_runtime::engine::Engine;

use crate::cli::GlobalArgs;

/// The engine dw uses, as `dw runtimes` chooses it.
pub async fn connect_engine(global: &GlobalArgs) -> anyhow::Result<Engine> {
    let env = DiscoveryEnv::from_process(global.host.clone())?;
    let found = discovery::discover(&env, dw_runtime::engine::default_deadline()).await;
    found
        .selected()
        .and_then(|runtime| runtime.engine.clone())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no container engine answers; run `dw runtimes` to see which engines dw tried and \
                 why each failed, or `dw setup` to install and start one"
            )
        })
}
