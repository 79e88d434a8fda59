//! One module per command: each takes its parsed arguments and returns a [`Status`].

pub mod doctor;
pub mod runtimes;
pub mod sandbox;
pub mod setup;

use crate::Status;
use crate::output::Output;

/// A command that this build does not implement yet: say so and exit 2.
pub fn pending(name: &str, output: &Output) -> anyhow::Result<Status> {
    let message = format!("`dw {name}` is not yet available in this build of dw");
    if output.json() {
        output.json_value(&serde_json::json!({ "error": { "message": message, "causes": [] } }))?;
    } else {
        eprintln!("{message}");
    }
    Ok(Status::Error)
}
