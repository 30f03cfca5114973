//! Exercise 1 (tcp-echo) graded by the real grader: the reference solutions (Rust and Python)
//! get full marks, the untouched starter fails, and each broken server gets the right verdict
//! within its time limits.

mod common;

use std::time::Duration;

use common::{Verdict, grade, python, solution, starter};

#[test]
fn the_rust_solution_gets_full_marks() {
    let report = grade("tcp-echo", &format!("{} {{port}}", solution("tcp-echo")));
    assert_eq!(
        report.points_line(),
        "Points 10/10",
        "{}",
        report.table(false)
    );
}

#[test]
fn the_python_solution_gets_full_marks() {
    let report = grade("tcp-echo", &python("solutions/python/tcp_echo.py {port}"));
    assert_eq!(
        report.points_line(),
        "Points 10/10",
        "{}",
        report.table(false)
    );
}

#[test]
fn the_starter_fails_every_check_with_the_panic_shown() {
    let report = grade("tcp-echo", &format!("{} {{port}}", starter("tcp-echo")));
    assert_eq!(report.points(), 0, "{}", report.table(false));
    let first = report.checks[0].reason.as_deref().unwrap();
    assert!(first.contains("not yet implemented"), "{first}");
}

#[test]
fn a_server_that_never_listens_fails_every_check_with_its_exit() {
    let v = Verdict::of(
        "tcp-echo",
        &python("tests/broken/broken_server.py never {port}"),
    );
    v.all_fail_with("before it listened");
    v.all_fail_with("exited with code 4");
    v.all_fail_with("not listening today");
}

#[test]
fn a_command_that_never_listens_fails_after_the_ready_timeout() {
    let v = Verdict::with_ready("tcp-echo", "sleep 60 # {port}", Duration::from_secs(2));
    v.all_fail_with("did not listen on 127.0.0.1:");
    v.within(Duration::from_secs(10));
}

#[test]
fn a_server_that_answers_wrongly_fails_with_the_bytes_shown() {
    let v = Verdict::of(
        "tcp-echo",
        &python("tests/broken/broken_server.py wrong {port}"),
    );
    let line = v.check("line");
    assert!(!line.passed);
    assert_eq!(line.got.as_ref().unwrap().text, "HELLO, NETLAB\\n");
    assert_eq!(line.expected.as_ref().unwrap().text, "hello, netlab\\n");
    assert!(line.reason.as_deref().unwrap().contains("byte 0 differs"));
    v.all_fail_with("differs");
}

#[test]
fn a_server_that_hangs_fails_each_check_at_its_time_limit() {
    let v = Verdict::of(
        "tcp-echo",
        &python("tests/broken/broken_server.py silent {port}"),
    );
    v.all_fail_with("");
    assert!(
        v.check("line")
            .reason
            .as_deref()
            .unwrap()
            .contains("no answer within 2000 ms")
    );
    let mib = v.check("megabyte").reason.as_deref().unwrap();
    assert!(mib.contains("0 of 1048576 bytes came back"), "{mib}");
    // Five checks with limits of 3+3+10+5+3 s (each read waits at most 2 s, 8 s for 1 MiB),
    // plus starting and stopping the program.
    v.within(Duration::from_secs(35));
}

#[test]
fn a_server_that_crashes_mid_check_is_reported_as_crashed() {
    let v = Verdict::of(
        "tcp-echo",
        &python("tests/broken/broken_server.py crash {port}"),
    );
    assert!(
        v.check("line").passed,
        "the first 14 bytes are echoed before the crash"
    );
    let binary = v.check("binary");
    assert!(!binary.passed);
    let reason = binary.reason.as_deref().unwrap();
    assert!(
        reason.contains("the program exited with code 3"),
        "{reason}"
    );
    assert_eq!(v.report.points(), 1);
}

#[test]
fn a_server_that_floods_garbage_fails_without_flooding_the_grader() {
    let v = Verdict::of(
        "tcp-echo",
        &python("tests/broken/broken_server.py flood {port}"),
    );
    v.all_fail_with("");
    assert_eq!(v.report.points(), 0);
    let line = v.check("line");
    assert!(
        line.reason.as_deref().unwrap().contains("differs"),
        "{line:?}"
    );
    // 64 bytes shown at most, whatever came.
    assert!(line.got.as_ref().unwrap().hex.len() <= 3 * 64);
    v.within(Duration::from_secs(35));
}

#[test]
fn the_whole_process_group_is_stopped_even_a_server_in_the_background() {
    // The shell runs the server in the background and itself waits in `sleep`: stopping only
    // the shell would leave the server listening.
    let dir = std::env::temp_dir().join(format!("netlab-grade-group-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port_file = dir.join("port");
    let command = format!(
        "{} & echo {{port}} > {}; sleep 600",
        python("solutions/python/tcp_echo.py {port}"),
        port_file.display()
    );
    let report = grade("tcp-echo", &command);
    assert_eq!(
        report.points_line(),
        "Points 10/10",
        "{}",
        report.table(false)
    );
    let port: u16 = std::fs::read_to_string(&port_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    // The server dies with the group; the kernel closes its socket as the process goes.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the background server still listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
