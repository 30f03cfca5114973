//! Helpers shared by the exercise tests: the binaries, the grader in a runtime, verdicts.
#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;
use std::time::{Duration, Instant};

use netlab_grade::{CheckReport, Limits, Report, Target, exercises};

/// The path of a reference solution's binary (built by cargo for these tests).
pub fn solution(name: &str) -> String {
    bin(&format!("solution-{name}"))
}

/// The path of a starter's binary.
pub fn starter(name: &str) -> String {
    bin(&format!("starter-{name}"))
}

fn bin(name: &str) -> String {
    // CARGO_BIN_EXE_<name> is only known at compile time per name; the binaries sit beside
    // each other, so derive the folder from one of them.
    let one = Path::new(env!("CARGO_BIN_EXE_solution-tcp-echo"));
    one.with_file_name(name).display().to_string()
}

/// `python3 FILE ARGS`, with FILE relative to labs/exercises/.
pub fn python(file_and_args: &str) -> String {
    format!("python3 {}/{file_and_args}", env!("CARGO_MANIFEST_DIR"))
}

/// Grades `command` on `exercise` with the default limits.
pub fn grade(exercise: &str, command: &str) -> Report {
    grade_with(exercise, command, Limits::default())
}

pub fn grade_with(exercise: &str, command: &str, limits: Limits) -> Report {
    let exercise = exercises::find(exercise).expect("a known exercise");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        // The grader enforces its own limits; this outer bound only keeps a grader bug from
        // hanging the test suite.
        tokio::time::timeout(
            limits.total + limits.ready + Duration::from_secs(30),
            netlab_grade::grade(&exercise, &Target::Command(command.to_string()), limits),
        )
        .await
        .expect("the grader finished within its limits")
        .expect("grading ran")
    })
}

/// A report and how long it took, with assertions that print the table when they fail.
pub struct Verdict {
    pub report: Report,
    pub took: Duration,
}

impl Verdict {
    pub fn of(exercise: &str, command: &str) -> Verdict {
        Verdict::with_limits(exercise, command, Limits::default())
    }

    pub fn with_ready(exercise: &str, command: &str, ready: Duration) -> Verdict {
        Verdict::with_limits(
            exercise,
            command,
            Limits {
                ready,
                ..Limits::default()
            },
        )
    }

    pub fn with_limits(exercise: &str, command: &str, limits: Limits) -> Verdict {
        let start = Instant::now();
        let report = grade_with(exercise, command, limits);
        Verdict {
            report,
            took: start.elapsed(),
        }
    }

    pub fn check(&self, id: &str) -> &CheckReport {
        self.report
            .checks
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no check {id} in\n{}", self.report.table(false)))
    }

    /// Every check failed, each with `text` in its reason.
    pub fn all_fail_with(&self, text: &str) {
        for c in &self.report.checks {
            let reason = c.reason.as_deref().unwrap_or("");
            assert!(
                !c.passed && reason.contains(text),
                "check {} should fail with {text:?}:\n{}",
                c.id,
                self.report.table(false)
            );
        }
    }

    /// The verdict came within `limit` (the sum of the time limits that apply, plus slack).
    pub fn within(&self, limit: Duration) {
        assert!(
            self.took < limit,
            "grading took {:?}, over {limit:?}:\n{}",
            self.took,
            self.report.table(false)
        );
    }
}
