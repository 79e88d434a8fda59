//! The checks, grouped by what they look at. Each is a function of the [`Context`](crate::Context)
//! named in [`CHECKS`](crate::CHECKS).

pub mod advisories;
pub mod engine;
pub mod git;
pub mod hardware;
pub mod isolation;
pub mod mounts;
pub mod resources;
pub mod secrets;
pub mod socket;
pub mod token;
pub mod vscode;

use crate::check::CheckError;
use crate::context::{Context, SelectedEngine};

/// The engine, for checks the table marks as needing one.
fn engine(context: &Context) -> Result<&SelectedEngine, CheckError> {
    context.engine.as_ref().ok_or(CheckError::NoEngine)
}

/// The configuration file of the engine's VM, when its runtime keeps one dw can read.
fn vm_config(
    context: &Context,
    engine: &SelectedEngine,
) -> Result<Option<crate::vm::VmConfig>, crate::vm::VmConfigError> {
    let discovery = &context.settings.discovery;
    let candidates = crate::vm::candidates(
        engine.kind,
        &engine.endpoint,
        &discovery.home,
        discovery.colima_home.as_deref(),
    );
    crate::vm::first_existing(&candidates)
}

/// `12.3 GiB`.
fn gibibytes(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}
