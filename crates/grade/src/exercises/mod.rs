//! The exercises: each module has its checks (id, name, points, time limit, hint) and the code
//! that runs them. Server exercises share one flow ([`Checker::Server`]: start, wait until it
//! listens, run each check over a fresh connection); client exercises bring the server the
//! student's program talks to ([`Checker::Client`]).
//!
//! Adding a check: add a [`Check`] to the module's `CHECKS` and an arm for its id in the
//! module's `run`; the points of an exercise are the sum of its checks' points.

pub mod chat_bot;
pub mod framing;
pub mod http;
pub mod tcp_echo;
pub mod udp_pinger;
pub mod websocket;

use std::net::SocketAddr;
use std::pin::Pin;

use crate::check::Check;
use crate::error::GradeError;
use crate::report::CheckReport;
use crate::runner::{BoxedOutcome, Limits};

/// What is graded: a command the grader starts, or a program already listening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `--cmd`: a shell command with `{port}` (servers) or `{server}` (clients).
    Command(String),
    /// `--addr`: a server already running on a loopback address.
    Addr(SocketAddr),
}

/// Whether the student writes a server (the grader connects) or a client (the grader serves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Server,
    Client,
}

/// The check results of a whole client run, boxed so that exercises fit in one table.
pub type BoxedReports = Pin<Box<dyn Future<Output = Result<Vec<CheckReport>, GradeError>> + Send>>;

/// A client exercise's whole run: the command and the limits in, the check results out.
pub type ClientRun = fn(String, Limits) -> BoxedReports;

/// How an exercise's checks are run.
#[derive(Clone, Copy)]
pub enum Checker {
    /// One check at a time against the program's address, by check id.
    Server(fn(&'static str, SocketAddr) -> BoxedOutcome),
    /// The exercise runs everything itself (it starts the server the client talks to).
    Client(ClientRun),
}

/// One exercise.
#[derive(Clone, Copy)]
pub struct Exercise {
    /// Its name on the command line: `netlab grade tcp-echo`.
    pub name: &'static str,
    pub title: &'static str,
    pub kind: Kind,
    /// The folder under labs/exercises/ with its README and starter.
    pub folder: &'static str,
    /// What `--cmd` typically looks like, for `netlab grade list`.
    pub example: &'static str,
    pub checks: &'static [Check],
    pub checker: Checker,
}

impl Exercise {
    pub fn points(&self) -> u32 {
        self.checks.iter().map(|c| c.points).sum()
    }
}

/// Every exercise, in course order.
pub fn all() -> Vec<Exercise> {
    vec![
        tcp_echo::EXERCISE,
        udp_pinger::EXERCISE,
        framing::EXERCISE,
        http::EXERCISE,
        websocket::EXERCISE,
        chat_bot::EXERCISE,
    ]
}

/// The exercise named `name`.
pub fn find(name: &str) -> Result<Exercise, GradeError> {
    all()
        .into_iter()
        .find(|e| e.name == name)
        .ok_or_else(|| GradeError::UnknownExercise(name.to_string()))
}
