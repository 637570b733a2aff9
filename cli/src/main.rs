//! The `datapact` binary: parses the command line, runs one command, prints its result, and
//! turns failures into one `error: ` line and the contract's exit code (1 failed, 2 bad input).

mod args;
mod chart;
mod commands;
mod failure;
mod output;
mod settings;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            if output::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let (code, message) = failure::describe(&err);
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}

fn run(cli: args::Cli) -> Result<ExitCode, anyhow::Error> {
    let settings = settings::Settings::resolve(cli.dir)?;
    commands::dispatch(&settings, cli.command)
}
