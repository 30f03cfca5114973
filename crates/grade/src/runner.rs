//! Running checks: one at a time, each under its own time limit and all under the total limit,
//! against a program the runner starts (and always stops) or one already running.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Instant;

use crate::check::{Check, Failure, Outcome};
use crate::error::GradeError;
use crate::exercises::{Checker, Exercise, Kind, Target};
use crate::process::{Program, describe, free_port, substitute};
use crate::report::{CheckReport, Report};

/// A boxed check, so that the exercises can keep their checks in plain function tables.
pub type BoxedOutcome = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// The time limits of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// All checks together; checks that would start after it fail as "not run".
    pub total: Duration,
    /// How long a started program may take to listen on its port.
    pub ready: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            total: Duration::from_secs(120),
            ready: Duration::from_secs(10),
        }
    }
}

/// Grades `target` on `exercise`. Failing checks are in the report; an error means nothing
/// could be graded (a usage error such as a missing `{port}`, or a command that cannot start).
pub async fn grade(
    exercise: &Exercise,
    target: &Target,
    limits: Limits,
) -> Result<Report, GradeError> {
    validate(exercise, target)?;
    let start = Instant::now();
    let checks = match (exercise.checker, target) {
        (Checker::Server(run), _) => grade_server(exercise.checks, target, limits, run).await?,
        (Checker::Client(run), Target::Command(command)) => run(command.clone(), limits).await?,
        (Checker::Client(_), Target::Addr(_)) => {
            return Err(GradeError::AddrForClient {
                exercise: exercise.name.to_string(),
            });
        }
    };
    Ok(Report {
        suite: exercise.name.to_string(),
        title: exercise.title.to_string(),
        checks,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn validate(exercise: &Exercise, target: &Target) -> Result<(), GradeError> {
    match (target, exercise.kind) {
        (Target::Addr(addr), _) if !addr.ip().is_loopback() => {
            Err(GradeError::NotLoopback { addr: *addr })
        }
        (Target::Addr(_), Kind::Client) => Err(GradeError::AddrForClient {
            exercise: exercise.name.to_string(),
        }),
        (Target::Command(c), Kind::Server) if !c.contains("{port}") => {
            Err(GradeError::MissingPlaceholder {
                placeholder: "{port}",
                why: "the grader picks a free port and your server must listen on it, e.g. --cmd \"./server {port}\"",
            })
        }
        (Target::Command(c), Kind::Client) if !c.contains("{server}") => {
            Err(GradeError::MissingPlaceholder {
                placeholder: "{server}",
                why: "the grader starts the server your program talks to and passes its address, e.g. --cmd \"./client {server}\"",
            })
        }
        _ => Ok(()),
    }
}

/// Runs checks under the total deadline and records their results.
pub struct Runner {
    deadline: Instant,
    total: Duration,
    pub results: Vec<CheckReport>,
}

impl Runner {
    pub fn new(total: Duration) -> Self {
        Runner {
            deadline: Instant::now() + total,
            total,
            results: Vec::new(),
        }
    }

    /// Runs one check under `min(its limit, what is left of the total)`; returns its outcome
    /// and how long it took, without recording it (the caller may add to the reason).
    pub async fn attempt(
        &self,
        check: &Check,
        run: impl Future<Output = Outcome>,
    ) -> (Outcome, f64) {
        let start = Instant::now();
        let left = self.deadline.saturating_duration_since(start);
        if left.is_zero() {
            let reason = format!(
                "not run: the total time limit of {} s was used up by the checks before it",
                self.total.as_secs()
            );
            return (Err(Failure::new(reason)), 0.0);
        }
        let limit = check.limit.min(left);
        let outcome = match tokio::time::timeout(limit, run).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Failure::new(format!(
                "no result within {} ms, the time limit of this check: the program stopped answering (or is far too slow)",
                limit.as_millis()
            ))),
        };
        (outcome, start.elapsed().as_secs_f64())
    }

    pub fn record(&mut self, check: &Check, outcome: Outcome, seconds: f64) -> bool {
        let passed = outcome.is_ok();
        self.results.push(CheckReport::of(check, outcome, seconds));
        passed
    }

    /// Records every check in `checks` as failed for the same reason (nothing to grade).
    pub fn fail_all(&mut self, checks: &[Check], failure: &Failure) {
        for check in checks {
            self.record(check, Err(failure.clone()), 0.0);
        }
    }
}

/// How long a failed check waits to see whether the program is exiting (a crash closes its
/// sockets a moment before the process is gone).
const EXIT_GRACE: Duration = Duration::from_millis(200);

/// Adds "the program crashed" to a failure when the program is gone: the reason a student
/// needs first, not the connection error it caused.
pub async fn note_exit(program: &mut Option<Program>, outcome: Outcome) -> Outcome {
    let Err(mut f) = outcome else {
        return outcome;
    };
    if let Some(p) = program.as_mut()
        && let Some(status) = p.wait_exit(EXIT_GRACE).await
    {
        let note = p.failure_after(&format!("the program {}", describe(status)));
        f.reason = format!("{}; {}", f.reason, note.reason);
    }
    Err(f)
}

/// The flow of every server exercise: start the program on a free port (or use `--addr`),
/// wait until it listens, run each check against it, stop it.
async fn grade_server(
    checks: &'static [Check],
    target: &Target,
    limits: Limits,
    run: fn(&'static str, SocketAddr) -> BoxedOutcome,
) -> Result<Vec<CheckReport>, GradeError> {
    let mut runner = Runner::new(limits.total);
    let (addr, mut program) = match target {
        Target::Addr(addr) => (*addr, None),
        Target::Command(template) => {
            let port = free_port()?;
            let program = Program::start(&substitute(template, Some(port), None))?;
            (SocketAddr::from(([127, 0, 0, 1], port)), Some(program))
        }
    };
    let ready = match program.as_mut() {
        Some(p) => p.wait_listening(addr, limits.ready).await,
        None => crate::wire::Conn::connect(addr, limits.ready)
            .await
            .map(drop)
            .map_err(|f| Failure::new(format!("nothing to grade: {}", f.reason))),
    };
    match ready {
        Err(failure) => runner.fail_all(checks, &failure),
        Ok(()) => {
            for check in checks {
                let (outcome, seconds) = runner.attempt(check, run(check.id, addr)).await;
                let outcome = note_exit(&mut program, outcome).await;
                runner.record(check, outcome, seconds);
            }
        }
    }
    if let Some(p) = program.as_mut() {
        p.stop().await;
    }
    Ok(runner.results)
}
