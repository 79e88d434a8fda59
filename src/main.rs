//! `dw`: parse, set up output, run one command, exit with its status.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::output::Output;

/// How a command ended, as the process exit status users' scripts rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Everything the command set out to do is done (0).
    Success,
    /// The command ran and found problems (1).
    Problems,
    /// Usage or environment error: the command could not do its job (2).
    Error,
    /// The exit status of a program dw ran for the user (`dw sandbox exec`), passed through.
    Code(u8),
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> Self {
        match status {
            Status::Success => ExitCode::SUCCESS,
            Status::Problems => ExitCode::from(1),
            Status::Error => ExitCode::from(2),
            Status::Code(code) => ExitCode::from(code),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let output = Output::new(&cli.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            output.error(&anyhow::Error::new(error).context("cannot start the async runtime"));
            return Status::Error.into();
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Runtimes(args) => commands::runtimes::run(args, &cli.global, &output).await,
            Command::Setup(args) => commands::setup::run(args, &cli.global, &output).await,
            Command::Doctor(args) => commands::doctor::run(args, &cli.global, &output).await,
            Command::Run(args) => commands::run::run(args, &cli.global, &output).await,
            Command::Workflows(command) => {
                commands::workflows::run(command, &cli.global, &output).await
            }
            Command::Sandbox(args) => commands::sandbox::run(args, &cli.global, &output).await,
        }
    });
    match result {
        Ok(status) => status.into(),
        Err(error) => {
            output.error(&error);
            Status::Error.into()
        }
    }
}
