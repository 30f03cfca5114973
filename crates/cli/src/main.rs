//! `netlab`: one binary, thin. It parses arguments, calls a library, and renders the result.
//!
//! # Modules
//! - `output`: the shared output frame: `--json` (one object per line) or tables, NO_COLOR,
//!   logging to stderr. Flatten `output::OutputArgs` into a command to get its `--json`.
//! - `exit`: errors to exit codes (0 ok, 1 runtime error, 2 usage error) and how they print.
//! - `signal`: waiting for Ctrl-C or SIGTERM, for servers that shut down gracefully.
//! - `echo`: `netlab echo ...`, TCP and UDP echo servers and clients.
//! - `events`: `netlab events ...`, the tiny event protocol: chat server, chat client, emit, listen.
//! - `inspect`: `netlab inspect ...`, the packet inspector.
//! - `lab`: `netlab lab ...`, the guided labs.
//! - `grade`: `netlab grade ...`, the black-box grader of the programming exercises.
//!
//! A family adds one variant to [`Command`] and one arm in `main`, and keeps everything else in
//! its own module. It returns `anyhow::Result<()>` and hands it to [`exit::finish`]: an error
//! wrapped with [`exit::usage`] exits with 2, any other with 1.

mod echo;
mod events;
mod exit;
mod grade;
mod inspect;
mod lab;
mod output;
mod signal;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "netlab",
    version,
    about = "A networking teaching toolkit: echo, inspect, events, labs",
    after_help = "Exit codes: 0 ok, 1 runtime error, 2 usage error.\n\
                  Results go to stdout (tables, or --json: one object per line); logs \
                  (RUST_LOG=info) and progress go to stderr.\n\
                  Colour is off when NO_COLOR is set or the output is not a terminal."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// TCP and UDP echo: serve, client, ping, bench, demo.
    #[command(subcommand)]
    Echo(echo::EchoCommand),
    /// The tiny event protocol: serve (the chat server), chat, emit, listen.
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// The guided labs: list them, run one.
    Lab {
        #[command(subcommand)]
        command: lab::LabCommand,
    },
    /// The packet inspector: read capture files, capture live, list interfaces.
    #[command(subcommand)]
    Inspect(inspect::InspectCommand),
    /// Grade a programming exercise from the outside: `netlab grade list`, then
    /// `netlab grade EXERCISE --cmd "..."`.
    Grade(grade::GradeArgs),
}

fn main() -> ExitCode {
    // `netlab lab run 10` starts this binary again as its killable event server.
    if let Some(code) = netlab_labs::labs::lab10::serve_child_if_asked() {
        return code;
    }
    // clap prints usage errors itself and exits with 2 (0 for --help and --version).
    let cli = Cli::parse();
    output::init_logging();
    match cli.command {
        Command::Echo(cmd) => exit::finish(output::block_on(echo::run(cmd))),
        Command::Events(cmd) => exit::finish(output::block_on(events::run(cmd))),
        Command::Lab { command } => lab::run(command),
        Command::Inspect(cmd) => exit::finish(inspect::run(cmd)),
        Command::Grade(args) => grade::run(args),
    }
}
