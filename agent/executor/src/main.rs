//! `dw-agent`: parses the command line and hands over to [`dw_agent::serve`].
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The executor of dw's sandbox: file, search and command actions on one workspace, as JSON
/// lines over stdin and stdout.
#[derive(Debug, Parser)]
#[command(name = "dw-agent", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve requests: one JSON object per line on stdin, responses and events as JSON lines on
    /// stdout, until stdin ends or a `shutdown` request.
    Serve {
        /// The workspace root; every path in a request is confined beneath it.
        #[arg(long, value_name = "DIR", default_value = "/workspace")]
        root: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { root } => match dw_agent::serve(&root) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("dw-agent: {error}");
                ExitCode::from(2)
            }
        },
    }
}
