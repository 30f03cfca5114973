//! `netlab`: one binary, thin. It parses arguments, calls a library, and renders the result.
//! Each subcommand family lives in its own module: `echo` (echo servers and clients).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod inspect;
mod lab;

#[derive(Parser, Debug)]
#[command(
    name = "netlab",
    version,
    about = "A networking teaching toolkit: echo, inspect, events, labs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The guided labs: list them, run one.
    Lab {
        #[command(subcommand)]
        command: lab::LabCommand,
    },
    /// The packet inspector: read capture files, capture live, list interfaces.
    #[command(subcommand)]
    Inspect(inspect::InspectCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Lab { command } => lab::run(command),
        Command::Inspect(cmd) => match inspect::run(cmd) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => inspect::report(&e),
        },
    }
}
