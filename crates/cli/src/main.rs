//! `netlab`: one binary, thin. It parses arguments, calls a library, and renders the result.
//!
//! # Modules
//! - `output`: the shared frame every family uses: `--json` or tables, NO_COLOR, logging.
//! - `exit`: errors to exit codes (0 ok, 1 runtime error, 2 usage error) and how they print.
//! - `signal`: waiting for Ctrl-C or SIGTERM, for servers that shut down gracefully.
//! - `echo`: `netlab echo ...`, TCP and UDP echo servers and clients.
//!
//! A family adds one variant to [`Command`] and one arm to `dispatch`, and keeps everything else
//! in its own module. It returns `anyhow::Result<()>`; an error wrapped with
//! [`exit::usage`] exits with 2, any other with 1.

mod echo;
mod exit;
mod output;
mod signal;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use output::Output;

#[derive(Parser, Debug)]
#[command(
    name = "netlab",
    version,
    about = "A networking teaching toolkit: echo, inspect, events, labs",
    after_help = "Exit codes: 0 ok, 1 runtime error, 2 usage error.\n\
                  Results go to stdout, logs (RUST_LOG=info) and progress to stderr.\n\
                  Colour is off when NO_COLOR is set or the output is not a terminal."
)]
struct Cli {
    /// Print results as JSON, one object per line, instead of tables.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// TCP and UDP echo: serve, client, ping, bench, demo.
    #[command(subcommand)]
    Echo(echo::EchoCommand),
}

async fn dispatch(command: Command, out: &Output) -> anyhow::Result<()> {
    match command {
        Command::Echo(cmd) => echo::run(cmd, out).await,
    }
}

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with 2 (0 for --help and --version).
    let cli = Cli::parse();
    output::init_logging();
    let out = Output::from_env(cli.json);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => return exit::report(&anyhow::Error::new(err).context("cannot start tokio")),
    };
    match runtime.block_on(dispatch(cli.command, &out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => exit::report(&err),
    }
}
