//! netlab-grade: the black-box grader behind `netlab grade`. It starts a student's program (in
//! any language), talks to it over loopback sockets only, and reports one row per check with
//! points, in the formats CI systems read: a table, JSON lines, JUnit XML and `Points X/Y`.
//!
//! ```text
//! netlab grade tcp-echo --cmd "target/release/tcp-echo {port}"
//! ```
//!
//! # Modules
//! - [`check`]: a check (name, points, time limit) and a [`Failure`]: what was sent, what was
//!   expected, what came back, and a hint.
//! - [`report`]: the results of one run and their four views: table, JSON lines, JUnit XML and
//!   the `Points X/Y` line. The labs' graded runs use it too.
//! - [`process`]: the student's program: `{port}`/`{server}` substitution, its own process
//!   group, output drained into bounded buffers, readiness, stopping the whole group.
//! - [`wire`]: reads with a deadline and a byte bound, so hostile programs cannot hang or flood
//!   the grader.
//! - [`runner`]: runs checks one by one under their time limits and the total limit.
//! - [`exercises`]: the six exercises and their checks, one module each.
//! - [`error`]: [`GradeError`], the crate's error type (usage errors and runtime errors).
//!
//! Safety rules, kept everywhere: every await has a deadline; every read is bounded; the
//! grader only ever connects to loopback; the student's whole process group is stopped at the
//! end, whatever happened.

pub mod check;
pub mod error;
pub mod exercises;
pub mod process;
pub mod report;
pub mod runner;
pub mod wire;

pub use check::{Check, Failure};
pub use error::GradeError;
pub use exercises::{Exercise, Kind, Target};
pub use report::{CheckReport, Report};
pub use runner::{Limits, grade};
