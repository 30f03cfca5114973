//! netlab-labs: the lab engine and the numbered labs.
//!
//! A lab explains a concept in a few lines (from its guide, `labs/guides/NN-name.md`), runs a real
//! experiment on loopback with the netlab libraries, shows what happened, and asks questions whose
//! answers it just measured. The same code runs interactively for a student, unattended in CI
//! (`--ci`), as a JSON report (`--json`) and as a graded run (`--answers FILE`).
//!
//! # Modules
//! - [`session`]: the [`Session`] a lab drives: explain, act, show, measure, check, predict and
//!   reveal, ask; modes, hints, wrapping, exit codes.
//! - [`question`]: questions (multiple choice or a number), hints per try, and how an answer is
//!   checked.
//! - [`variant`]: per-student variants: the student's id (`--student`, `NETLAB_STUDENT`,
//!   `GITHUB_ACTOR`, `GITLAB_USER_LOGIN`) and the values derived from it.
//! - [`answers`]: the `--answers FILE` format for graded runs.
//! - [`report`]: the record of a run, printed as JSON lines with `--json`.
//! - [`guide`]: splits a guide at its `## ` headings and renders Markdown for a terminal.
//! - [`capture`]: live capture of the lab's loopback traffic, or the shipped captures when not
//!   permitted; `--pcap DIR`.
//! - [`packets`]: a recording dissected into netlab-inspect's `Packet`s, what the labs ask of
//!   one ([`packets::LabPacket`]: flags, ports, payload), the byte map (every byte labelled by
//!   layer), packet lists, hex dumps coloured by layer.
//! - [`servers`]: the experiments' echo servers (netlab-echo) and client exchanges, with timeouts.
//! - [`events`]: the event labs' servers (netlab-events, with their trace) and a client that
//!   sends and reads one frame at a time; the event frames of a capture.
//! - [`web`]: the web labs' chat server (netlab-web), HTTP written by hand, WebSocket frames,
//!   and one direction of a captured conversation put back together.
//! - [`options`]: the flags every lab takes, and the [`Mode`] they select.
//! - [`render`]: tables, the same way everywhere.
//! - [`style`]: colour that honours `NO_COLOR`.
//! - [`error`]: the crate's one error type, `LabError`.
//! - [`labs`]: the labs themselves, one module each, and their [`LabInfo`].
//!
//! # Writing a lab's questions: the engine's small API
//!
//! A lab's `run` drives its [`Session`]; four calls make a graded run fair and make students
//! reason (see labs/src/labs/lab03.rs for all of them in use):
//!
//! - `s.variant().pick("lab03.seed", 7, 1..=1_000_000)`: every value a question depends on
//!   (a seed, a size, a count, a number to compute with) comes from the student's variant: the
//!   default (7) in the shared practice variant, else a value in the range derived from the
//!   student's id and the key. `choose(key, &options)` picks one of a list. Values that change
//!   captured packets must keep their default when the capture is the shipped one (offline);
//!   ask a computation with the variant's number instead.
//! - `s.ask(question)`: choice questions get their options shuffled per student by the session
//!   itself, and an answers file must answer a choice by its letter; nothing to do in the lab.
//! - `Question::hint(..).hint(..)`: hints shown in turn after each wrong answer.
//! - `let p = s.predict("predict-id", "prompt")?;` before an experiment, then
//!   `s.reveal(p, measured, "unit")` after it: recorded in the report, never graded.
//!
//! Text is wrapped at word boundaries to the terminal's width by the session; a lab passes
//! prompts and hints as single lines.

pub mod answers;
pub mod capture;
pub mod error;
pub mod events;
pub mod guide;
pub mod labs;
pub mod options;
pub mod packets;
pub mod question;
pub mod render;
pub mod report;
pub mod servers;
pub mod session;
pub mod style;
pub mod variant;
pub mod web;

use std::future::Future;
use std::io::{BufRead, Write};
use std::pin::Pin;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

pub use error::LabError;
pub use options::{LabOptions, Mode};
pub use question::Question;
pub use session::Session;
pub use style::Style;

/// The future a lab's `run` function returns; it borrows the session for the whole run.
pub type LabFuture<'a> = Pin<Box<dyn Future<Output = Result<(), LabError>> + 'a>>;

/// What the engine and the CLI know about a lab before running it.
pub struct LabInfo {
    pub number: u32,
    /// The guide's file name without number and extension: `layers` for `01-layers.md`.
    pub slug: &'static str,
    pub title: &'static str,
    /// Rough time for an interactive run, for `netlab lab list`.
    pub minutes: u32,
    /// The guide's Markdown, embedded with `include_str!`.
    pub guide: &'static str,
    pub run: for<'a> fn(&'a mut Session) -> LabFuture<'a>,
}

impl LabInfo {
    /// The binary's name: `lab01`.
    pub fn binary(&self) -> String {
        format!("lab{:02}", self.number)
    }
}

/// Every lab, in order.
pub fn all() -> &'static [LabInfo] {
    labs::ALL
}

/// The lab with this number.
pub fn find(number: u32) -> Result<&'static LabInfo, LabError> {
    all()
        .iter()
        .find(|l| l.number == number)
        .ok_or(LabError::NoSuchLab(number))
}

/// The lab list as a table (for `netlab lab list`).
pub fn list_table(style: Style) -> String {
    let mut t = render::table(&["lab", "title", "minutes", "run it"], style);
    for lab in all() {
        t.add_row(vec![
            format!("{:02}", lab.number),
            lab.title.to_string(),
            lab.minutes.to_string(),
            format!("cargo run --release --bin {}", lab.binary()),
        ]);
    }
    t.to_string()
}

/// Runs a lab to the end against the given output and input. Returns the exit code
/// ([`session::exit`]); an `Err` is a runtime failure before the run could finish.
pub async fn run_with_io(
    lab: &LabInfo,
    options: LabOptions,
    style: Style,
    out: Box<dyn Write>,
    input: Box<dyn BufRead>,
) -> Result<u8, LabError> {
    let mut session = Session::new(lab.number, lab.guide, options, style, out, input)?;
    session.begin();
    (lab.run)(&mut session).await?;
    Ok(session.finish())
}

/// Runs a lab on the terminal (stdin, stdout) in a fresh tokio runtime: what the lab binaries and
/// `netlab lab run` call. Errors go to stderr with the exit code they deserve.
pub fn run(lab: &LabInfo, options: LabOptions) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(session::exit::FAILED);
        }
    };
    let result = runtime.block_on(run_with_io(
        lab,
        options,
        Style::detect(),
        Box::new(std::io::stdout()),
        Box::new(std::io::stdin().lock()),
    ));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(if e.is_usage() {
                session::exit::USAGE
            } else {
                session::exit::FAILED
            })
        }
    }
}

/// The whole `main` of a lab binary: parse the common flags, run lab `number`.
pub fn lab_main(number: u32) -> ExitCode {
    if let Some(code) = labs::lab10::serve_child_if_asked() {
        return code;
    }
    let lab = match find(number) {
        Ok(lab) => lab,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(session::exit::USAGE);
        }
    };
    let command = BinArgs::command()
        .bin_name(lab.binary())
        .about(format!("netlab lab {:02}: {}", lab.number, lab.title));
    let args = match BinArgs::from_arg_matches(&command.get_matches()) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    run(lab, args.options)
}

/// A lab binary's arguments: just the common flags.
#[derive(clap::Parser, Debug)]
struct BinArgs {
    #[command(flatten)]
    options: LabOptions,
}
