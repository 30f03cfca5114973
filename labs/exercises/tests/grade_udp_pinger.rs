//! Exercise 2 (udp-pinger) graded by the real grader against its own seeded lossy UDP echo
//! server: the solution gets full marks, the starter and broken pingers fail the right checks.

mod common;

use std::time::Duration;

use common::{Verdict, grade, python, solution, starter};
use netlab_grade::Limits;

#[test]
fn the_solution_gets_full_marks() {
    let report = grade(
        "udp-pinger",
        &format!("{} {{server}} {{count}}", solution("udp-pinger")),
    );
    assert_eq!(
        report.points_line(),
        "Points 10/10",
        "{}",
        report.table(false)
    );
}

#[test]
fn the_starter_sends_nothing_and_fails_everything() {
    let v = Verdict::of(
        "udp-pinger",
        &format!("{} {{server}} {{count}}", starter("udp-pinger")),
    );
    v.all_fail_with("");
    let runs = v.check("runs").reason.as_deref().unwrap();
    assert!(
        runs.contains("exited with code 101") && runs.contains("not yet implemented"),
        "{runs}"
    );
    let probes = v.check("probes").reason.as_deref().unwrap();
    assert!(probes.contains("received 0 datagrams"), "{probes}");
}

#[test]
fn a_pinger_that_hides_loss_fails_counts_and_loss() {
    let v = Verdict::of(
        "udp-pinger",
        &python("tests/broken/bad_pinger.py lossless {server} {count}"),
    );
    for passing in ["runs", "probes"] {
        assert!(v.check(passing).passed, "{}", v.report.table(false));
    }
    for failing in ["counts", "loss"] {
        assert!(!v.check(failing).passed, "{}", v.report.table(false));
    }
    let loss = v.check("loss").reason.as_deref().unwrap();
    assert!(
        loss.contains("printed 0.0% loss; the server dropped"),
        "{loss}"
    );
}

#[test]
fn rtt_in_the_wrong_unit_fails_the_rtt_check_only() {
    let v = Verdict::of(
        "udp-pinger",
        &python("tests/broken/bad_pinger.py seconds {server} {count}"),
    );
    assert_eq!(v.report.points(), 7, "{}", v.report.table(false));
    assert!(!v.check("rtt").passed);
}

#[test]
fn a_pinger_that_never_exits_is_stopped_at_the_time_limit() {
    // The probes alone can take a few seconds (each lost one waits out its 1 s timeout), so the
    // limit leaves room for them on a loaded machine before the program is cut off.
    let limits = Limits {
        total: Duration::from_secs(10),
        ..Limits::default()
    };
    let v = Verdict::with_limits(
        "udp-pinger",
        &python("tests/broken/bad_pinger.py hang {server} {count}"),
        limits,
    );
    let runs = v.check("runs").reason.as_deref().unwrap();
    assert!(runs.contains("still running after 10 s"), "{runs}");
    assert!(
        v.check("probes").passed,
        "the probes were sent before it hung"
    );
    v.within(Duration::from_secs(20));
}

#[test]
fn a_command_without_server_is_a_usage_error() {
    let exercise = netlab_grade::exercises::find("udp-pinger").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt
        .block_on(netlab_grade::grade(
            &exercise,
            &netlab_grade::Target::Command("pinger {port}".into()),
            Limits::default(),
        ))
        .unwrap_err();
    assert!(
        err.is_usage() && err.to_string().contains("{server}"),
        "{err}"
    );
    let addr = rt
        .block_on(netlab_grade::grade(
            &exercise,
            &netlab_grade::Target::Addr("127.0.0.1:9".parse().unwrap()),
            Limits::default(),
        ))
        .unwrap_err();
    assert!(addr.to_string().contains("use --cmd"), "{addr}");
}
