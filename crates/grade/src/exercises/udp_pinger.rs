//! Exercise 2, `udp-pinger`: a UDP client. The grader runs its own seeded lossy echo server
//! (netlab-echo's, with impairment); the student's pinger sends 20 probes to it and prints
//! loss and RTT statistics in a stated format, which are checked against what the server
//! really did.

use std::net::SocketAddr;
use std::time::Duration;

use netlab_echo::{ImpairmentConfig, UdpConfig, UdpEchoServer, UdpSummary, shutdown};
use tokio::time::Instant;

use super::{BoxedReports, Checker, Exercise, Kind};
use crate::check::{Check, Failure, Outcome, ensure};
use crate::error::GradeError;
use crate::process::{Program, describe, substitute};
use crate::report::CheckReport;
use crate::runner::{Limits, Runner};

/// Probes the pinger must send (`{count}` in the command).
pub const COUNT: u64 = 20;
/// The server's impairment: a fixed seed, so the same datagrams are lost on every run.
const SEED: u64 = 15;
const DROP: f64 = 0.25;
const DELAY: Duration = Duration::from_millis(5);
const JITTER: Duration = Duration::from_millis(10);
/// How long the pinger waits for each reply (stated in the README): no counted reply can have
/// taken longer. The RTT's upper bound is this, not the server's delay, because a busy CI
/// machine can hold a process for far longer than the server's 15 ms.
const REPLY_TIMEOUT: Duration = Duration::from_secs(1);
/// The pinger's whole run: 20 probes, a few lost at up to 1 s each.
const RUN_LIMIT: Duration = Duration::from_secs(30);

const HINT_FORMAT: &str = "print the two summary lines exactly as the README shows them, e.g. `20 probes sent, 15 replies, 25.0% loss` and `rtt min/avg/max = 5.123/10.456/14.789 ms`";

pub const CHECKS: &[Check] = &[
    Check {
        id: "runs",
        name: "runs to the end and exits with 0",
        points: 1,
        limit: RUN_LIMIT,
        hint: "wait at most 1 s for each reply, so that lost probes do not stop the pinger",
    },
    Check {
        id: "probes",
        name: "sends 20 probes",
        points: 2,
        limit: RUN_LIMIT,
        hint: "send one datagram per probe to the address given as {server}, as many as {count} says",
    },
    Check {
        id: "counts",
        name: "reports probes sent and replies received",
        points: 2,
        limit: RUN_LIMIT,
        hint: HINT_FORMAT,
    },
    Check {
        id: "loss",
        name: "loss percentage matches the server's drops",
        points: 2,
        limit: RUN_LIMIT,
        hint: "loss = (sent - replies) / sent * 100, printed with one decimal",
    },
    Check {
        id: "rtt",
        name: "RTT min/avg/max within the server's delay",
        points: 3,
        limit: RUN_LIMIT,
        hint: "measure from just before send to just after the reply arrives, in milliseconds; only replies count",
    },
];

pub const EXERCISE: Exercise = Exercise {
    name: "udp-pinger",
    title: "UDP pinger against a lossy server",
    kind: Kind::Client,
    folder: "labs/exercises/02-udp-pinger",
    example: "--cmd \"target/release/udp-pinger {server} {count}\"",
    checks: CHECKS,
    checker: Checker::Client(run),
};

fn run(command: String, limits: Limits) -> BoxedReports {
    Box::pin(grade(command, limits))
}

/// What the pinger printed, read from its two summary lines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Printed {
    pub sent: u64,
    pub replies: u64,
    pub loss: f64,
    pub rtt: Option<(f64, f64, f64)>,
}

/// Reads `N probes sent, M replies, L% loss` and `rtt min/avg/max = a/b/c ms` (the last of
/// each, so progress lines before them do not matter). The RTT line is absent when no reply came.
pub fn parse(stdout: &str) -> Option<Printed> {
    let counts = stdout.lines().rev().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [sent, "probes", "sent,", replies, "replies,", loss, "loss"] => Some((
                sent.parse().ok()?,
                replies.parse().ok()?,
                loss.strip_suffix('%')?.parse().ok()?,
            )),
            _ => None,
        }
    })?;
    let rtt = stdout.lines().rev().find_map(|line| {
        let rest = line.trim().strip_prefix("rtt min/avg/max = ")?;
        let numbers: Vec<f64> = rest
            .strip_suffix(" ms")?
            .split('/')
            .map(|n| n.parse().ok())
            .collect::<Option<_>>()?;
        match numbers.as_slice() {
            [min, avg, max] => Some((*min, *avg, *max)),
            _ => None,
        }
    });
    Some(Printed {
        sent: counts.0,
        replies: counts.1,
        loss: counts.2,
        rtt,
    })
}

async fn grade(command: String, limits: Limits) -> Result<Vec<CheckReport>, GradeError> {
    let mut config = UdpConfig::loopback(0);
    config.impairment = ImpairmentConfig {
        drop: DROP,
        delay: DELAY,
        jitter: JITTER,
        seed: SEED,
        ..ImpairmentConfig::default()
    };
    let server = UdpEchoServer::bind(config)
        .await
        .map_err(|e| GradeError::Server {
            what: "UDP echo",
            message: e.to_string(),
        })?;
    let addr: SocketAddr = server.local_addr();
    let stats = server.stats();
    let (trigger, signal) = shutdown::channel();
    let serving = tokio::spawn(server.run(signal));

    let command = substitute(&command, None, Some(addr)).replace("{count}", &COUNT.to_string());
    let mut program = Program::start(&command)?;
    let start = Instant::now();
    let status = program.wait_exit(RUN_LIMIT.min(limits.total)).await;
    let seconds = start.elapsed().as_secs_f64();
    program.stop().await;
    let truth = stats.summary();
    trigger.fire();
    let _ = serving.await;

    let mut runner = Runner::new(limits.total);
    let stdout = program.stdout();
    let printed = parse(&stdout.text());
    let ran = match status {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(program.failure_after(&format!("the pinger {}", describe(s)))),
        None => Err(Failure::new(format!(
            "the pinger was still running after {} s and was stopped",
            RUN_LIMIT.min(limits.total).as_secs()
        ))),
    };
    let results: [Outcome; 5] = [
        ran,
        ensure(truth.received == COUNT, || {
            Failure::new(format!(
                "the server received {} datagrams; {COUNT} probes were asked for",
                truth.received
            ))
        }),
        counts(printed, &truth, &stdout.head),
        loss(printed, &truth),
        rtt(printed),
    ];
    for (check, outcome) in CHECKS.iter().zip(results) {
        runner.record(check, outcome, seconds);
    }
    Ok(runner.results)
}

fn printed_or_fail(printed: Option<Printed>, stdout: &[u8]) -> Result<Printed, Failure> {
    printed.ok_or_else(|| {
        let tail = &stdout[stdout.len().saturating_sub(120)..];
        Failure::new("no line `N probes sent, M replies, L% loss` in the pinger's output")
            .expected("20 probes sent, 15 replies, 25.0% loss\n")
            .got(tail)
            .hint(HINT_FORMAT)
    })
}

fn counts(printed: Option<Printed>, truth: &UdpSummary, stdout: &[u8]) -> Outcome {
    let p = printed_or_fail(printed, stdout)?;
    ensure(p.sent == COUNT && p.replies == truth.replied, || {
        Failure::new(format!(
            "printed {} sent and {} replies; the server received {} and replied to {}",
            p.sent, p.replies, truth.received, truth.replied
        ))
    })
}

fn loss(printed: Option<Printed>, truth: &UdpSummary) -> Outcome {
    let Some(p) = printed else {
        return Err(Failure::new("no loss line to check (see the check above)"));
    };
    let real = 100.0 * (COUNT.saturating_sub(truth.replied)) as f64 / COUNT as f64;
    ensure((p.loss - real).abs() <= 0.5, || {
        Failure::new(format!(
            "printed {:.1}% loss; the server dropped {} of {COUNT} probes, {real:.1}%",
            p.loss, truth.dropped
        ))
    })
}

fn rtt(printed: Option<Printed>) -> Outcome {
    let Some((min, avg, max)) = printed.and_then(|p| p.rtt) else {
        return Err(Failure::new(
            "no line `rtt min/avg/max = a/b/c ms` in the pinger's output",
        ));
    };
    let low = DELAY.as_secs_f64() * 1000.0 * 0.9;
    let high = REPLY_TIMEOUT.as_secs_f64() * 1000.0;
    ensure(
        low <= min && min <= avg && avg <= max && max <= high,
        || {
            Failure::new(format!(
                "printed rtt {min}/{avg}/{max} ms; every reply was held {}-{} ms by the server and waited for at most {high:.0} ms, so expected {low:.1} <= min <= avg <= max <= {high:.0}",
                DELAY.as_millis(),
                (DELAY + JITTER).as_millis()
            ))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_stated_format_and_ignores_progress_lines() {
        let out = "reply 1 in 6.1 ms\n20 probes sent, 15 replies, 25.0% loss\nrtt min/avg/max = 5.123/10.456/14.789 ms\n";
        assert_eq!(
            parse(out),
            Some(Printed {
                sent: 20,
                replies: 15,
                loss: 25.0,
                rtt: Some((5.123, 10.456, 14.789))
            })
        );
        assert_eq!(parse("20 sent\n"), None);
        assert_eq!(
            parse("3 probes sent, 0 replies, 100% loss\n").unwrap().rtt,
            None
        );
    }
}
