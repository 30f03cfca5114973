//! `netlab grade list` and `netlab grade EXERCISE --cmd "..." | --addr HOST:PORT`: the
//! black-box grader of the programming exercises (labs/exercises/). The checks, the process
//! handling and the report formats are in netlab-grade; this module parses and prints.
//!
//! Exit codes: 0 when every check passed (or `--min-points N` was reached), 1 otherwise, 2 for
//! usage errors (an unknown exercise, a command without `{port}`, an address off this machine).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use comfy_table::Cell;
use netlab_grade::{Limits, Report, Target, exercises};

use crate::exit::usage;
use crate::output::{self, Output};

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    netlab grade list\n  \
    netlab grade tcp-echo --cmd \"target/release/tcp-echo {port}\"\n  \
    netlab grade tcp-echo --cmd \"python3 echo.py {port}\" --junit report.xml\n  \
    netlab grade udp-pinger --cmd \"target/release/udp-pinger {server} {count}\"\n  \
    netlab grade http --addr 127.0.0.1:8080\n\n\
    The last line is `Points X/Y` (GitHub Classroom's autograding reads it).\n\
    Exit codes: 0 every check passed (or --min-points reached), 1 otherwise, 2 usage error.")]
pub struct GradeArgs {
    /// The exercise to grade (`list` shows them all with their points).
    exercise: String,
    /// The command that starts your program; `{port}` becomes the port your server must listen
    /// on, `{server}` the address of the grader's server your client must talk to (and `{count}` the probes of udp-pinger).
    #[arg(long, value_name = "COMMAND", conflicts_with = "addr")]
    cmd: Option<String>,
    /// Grade a server that is already running on this loopback address instead.
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<String>,
    /// One JSON object per check, then a summary, instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write the results as JUnit XML to FILE (CI systems display it).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Exit with 0 when at least N points were earned, even if some checks failed.
    #[arg(long, value_name = "N")]
    min_points: Option<u32>,
    /// Time limit for all checks together, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    time_limit: u64,
    /// How long the program may take to start listening, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    ready_timeout: u64,
}

pub fn run(args: GradeArgs) -> ExitCode {
    let out = Output::from_env(args.json);
    if args.exercise == "list" {
        list(out);
        return ExitCode::SUCCESS;
    }
    match output::block_on_value(grade(&args)) {
        Ok(report) => print(&args, out, &report),
        Err(err) => crate::exit::report(&err),
    }
}

async fn grade(args: &GradeArgs) -> anyhow::Result<Report> {
    let exercise = exercises::find(&args.exercise).map_err(usage)?;
    let target = match (&args.cmd, &args.addr) {
        (Some(cmd), None) => Target::Command(cmd.clone()),
        (None, Some(addr)) => Target::Addr(
            netlab_echo::parse_addr(addr, 0)
                .map_err(usage)
                .context("reading --addr")?,
        ),
        _ => {
            return Err(usage(format!(
                "say what to grade: --cmd \"COMMAND\" to start your program, or --addr HOST:PORT for one already running (e.g. {})",
                exercise.example
            )));
        }
    };
    let limits = Limits {
        total: Duration::from_secs(args.time_limit),
        ready: Duration::from_secs(args.ready_timeout),
    };
    netlab_grade::grade(&exercise, &target, limits)
        .await
        .map_err(|e| {
            if e.is_usage() {
                usage(e)
            } else {
                anyhow::Error::new(e)
            }
        })
}

fn print(args: &GradeArgs, out: Output, report: &Report) -> ExitCode {
    if let Some(path) = &args.junit
        && let Err(e) = std::fs::write(path, report.junit())
    {
        eprintln!(
            "error: cannot write the JUnit report to {}: {e}; check that its folder exists",
            path.display()
        );
        return ExitCode::from(crate::exit::RUNTIME);
    }
    if out.json {
        report.json_lines().iter().for_each(|l| out.line(l));
        // stdout stays one JSON object per line; the CI log still shows the points.
        eprintln!("{}", report.points_line());
    } else {
        out.line(format!("{}: {}", report.suite, report.title));
        out.print_table(&report.table(out.color));
        out.line(report.points_line());
    }
    if report.success(args.min_points) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::RUNTIME)
    }
}

fn list(out: Output) {
    let all = exercises::all();
    if out.json {
        for e in &all {
            out.json_line(&serde_json::json!({
                "exercise": e.name,
                "title": e.title,
                "points": e.points(),
                "checks": e.checks.iter().map(|c| serde_json::json!({
                    "id": c.id, "name": c.name, "points": c.points,
                    "time_limit_ms": c.limit.as_millis() as u64,
                })).collect::<Vec<_>>(),
                "folder": e.folder,
                "example": e.example,
            }));
        }
        return;
    }
    let mut table = out.table(["exercise", "title", "points", "checks", "grade it with"]);
    for e in &all {
        let checks: Vec<String> = e
            .checks
            .iter()
            .map(|c| format!("{} ({})", c.name, c.points))
            .collect();
        table.add_row([
            Cell::new(e.name),
            Cell::new(format!("{}\n{}", e.title, e.folder)),
            Cell::new(e.points()),
            Cell::new(checks.join("\n")),
            Cell::new(format!("netlab grade {} {}", e.name, e.example)),
        ]);
    }
    out.print_table(&table);
}
