//! `netlab grade` end to end: the real binary grading real programs (the Python reference
//! solution and deliberately broken servers from labs/exercises/), its four output formats and
//! its exit codes (0 all passed or --min-points reached, 1 otherwise, 2 usage error).

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{BIN, run_with_input};

fn run(args: &[&str]) -> Output {
    run_with_input(args, b"")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A path under labs/exercises/.
fn exercises(path: &str) -> String {
    format!("{}/../../labs/exercises/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn python_echo() -> String {
    format!(
        "python3 {} {{port}}",
        exercises("solutions/python/tcp_echo.py")
    )
}

fn broken(mode: &str) -> String {
    format!(
        "python3 {} {mode} {{port}}",
        exercises("tests/broken/broken_server.py")
    )
}

fn last_line(out: &Output) -> String {
    text(&out.stdout).lines().last().unwrap_or("").to_string()
}

#[test]
fn list_shows_every_exercise_with_its_points() {
    let out = run(&["grade", "list"]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!(text(&out.stdout));
    let json = run(&["grade", "list", "--json"]);
    let first: serde_json::Value =
        serde_json::from_str(text(&json.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["exercise"], "tcp-echo");
    assert_eq!(first["points"], 10);
}

#[test]
fn a_full_marks_run_ends_with_points_and_exits_0() {
    let out = run(&["grade", "tcp-echo", "--cmd", &python_echo()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    insta::assert_snapshot!(text(&out.stdout));
    assert_eq!(last_line(&out), "Points 10/10");
}

#[test]
fn a_wrong_server_shows_what_came_back_and_exits_1() {
    let out = run(&["grade", "tcp-echo", "--cmd", &broken("wrong")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(last_line(&out), "Points 0/10");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("got: \"HELLO, NETLAB\\n\""), "{stdout}");
    assert!(stdout.contains("hex: 48 45 4c 4c 4f"), "{stdout}");
    assert!(
        stdout.contains("hint: read from the connection"),
        "{stdout}"
    );
}

#[test]
fn min_points_decides_the_exit_code() {
    // The crashing server earns the first check's 1 point before it dies.
    let crash = broken("crash");
    let enough = run(&["grade", "tcp-echo", "--cmd", &crash, "--min-points", "1"]);
    assert_eq!(enough.status.code(), Some(0), "{}", text(&enough.stdout));
    assert_eq!(last_line(&enough), "Points 1/10");
    let short = run(&["grade", "tcp-echo", "--cmd", &crash, "--min-points", "2"]);
    assert_eq!(short.status.code(), Some(1));
}

#[test]
fn json_is_one_object_per_check_then_a_summary() {
    let out = run(&["grade", "tcp-echo", "--cmd", &broken("wrong"), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect();
    assert_eq!(lines.len(), 6);
    assert!(lines[..5].iter().all(|l| l["type"] == "check"));
    assert_eq!(lines[0]["got"]["text"], "HELLO, NETLAB\\n");
    assert_eq!(lines[5]["type"], "summary");
    assert_eq!(lines[5]["points"], 0);
    assert_eq!(lines[5]["max_points"], 10);
    assert_eq!(text(&out.stderr).trim_end(), "Points 0/10");
}

#[test]
fn junit_has_the_elements_ci_systems_require() {
    let dir = std::env::temp_dir().join(format!("netlab-grade-junit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.xml");
    let out = run(&[
        "grade",
        "tcp-echo",
        "--cmd",
        &broken("crash"),
        "--junit",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(&file).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    assert_eq!(suites.len(), 1);
    let suite = suites[0];
    assert_eq!(suite.tag_name().name(), "testsuite");
    // The attributes the JUnit schema requires of a testsuite.
    for attr in [
        "name",
        "tests",
        "failures",
        "errors",
        "time",
        "timestamp",
        "hostname",
    ] {
        assert!(
            suite.attribute(attr).is_some(),
            "testsuite lacks {attr}:\n{xml}"
        );
    }
    assert_eq!(suite.attribute("name"), Some("tcp-echo"));
    assert_eq!(suite.attribute("tests"), Some("5"));
    assert_eq!(suite.attribute("failures"), Some("4"));
    let elements: Vec<_> = suite.children().filter(|n| n.is_element()).collect();
    assert_eq!(
        elements[0].tag_name().name(),
        "properties",
        "properties come first"
    );
    let names: Vec<&str> = elements.iter().map(|n| n.tag_name().name()).collect();
    assert_eq!(names.iter().filter(|n| **n == "testcase").count(), 5);
    assert!(names.ends_with(&["system-out", "system-err"]), "{names:?}");
    let cases: Vec<_> = elements
        .iter()
        .filter(|n| n.tag_name().name() == "testcase")
        .collect();
    for case in &cases {
        for attr in ["name", "classname", "time"] {
            assert!(case.attribute(attr).is_some(), "testcase lacks {attr}");
        }
        case.attribute("time").unwrap().parse::<f64>().unwrap();
    }
    let failures: Vec<_> = cases
        .iter()
        .filter_map(|c| c.children().find(|n| n.has_tag_name("failure")))
        .collect();
    assert_eq!(failures.len(), 4);
    assert!(failures.iter().all(|f| f.attribute("message").is_some()));
    assert!(failures[0].text().unwrap().contains("exited with code 3"));
    let points = elements[0]
        .children()
        .find(|p| p.attribute("name") == Some("points"))
        .unwrap();
    assert_eq!(points.attribute("value"), Some("1"));
}

#[test]
fn addr_grades_a_server_that_is_already_running() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new("python3")
        .arg(exercises("solutions/python/tcp_echo.py"))
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Readiness: the server prints its address once it listens.
    let lines = common::read_lines(server.stdout.take().unwrap());
    let first = lines.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(first.starts_with("listening on"), "{first}");
    let addr = format!("127.0.0.1:{port}");
    let out = run(&["grade", "tcp-echo", "--addr", &addr]);
    server.kill().unwrap();
    server.wait().unwrap();
    drop(lines);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(last_line(&out), "Points 10/10");
}

#[test]
fn usage_errors_exit_2_and_say_what_to_do() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["grade", "no-such", "--cmd", "x {port}"],
            "netlab grade list",
        ),
        (
            &["grade", "tcp-echo", "--cmd", "./server"],
            "must contain `{port}`",
        ),
        (&["grade", "tcp-echo"], "--cmd \"COMMAND\""),
        (
            &["grade", "tcp-echo", "--addr", "192.0.2.1:80"],
            "not a loopback address",
        ),
        (&["grade", "tcp-echo", "--addr", "nonsense:x"], "--addr"),
    ];
    for (args, message) in cases {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(message),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_flood_is_drained_and_the_run_still_ends() {
    let start = Instant::now();
    let out = Command::new(BIN)
        .args([
            "grade",
            "tcp-echo",
            "--cmd",
            &broken("flood"),
            "--time-limit",
            "20",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(last_line(&out), "Points 0/10");
    assert!(out.stdout.len() < 64 * 1024, "the report stays small");
    assert!(start.elapsed() < Duration::from_secs(30));
}

/// The commands of the Classroom template (the workflow's `command:` lines and the
/// autograding.json `run` entries), each run with `sh -c` in a checkout where the student's
/// binary is `target/release/tcp-echo` and `netlab` is on PATH, as CI runs them.
#[test]
fn classroom_template_commands_grade_as_ci_would() {
    let workflow =
        std::fs::read_to_string(exercises("classroom/.github/workflows/classroom.yml")).unwrap();
    let mut commands: Vec<(String, Option<String>)> = workflow
        .lines()
        .filter_map(|l| l.trim().strip_prefix("command: "))
        .map(|c| (c.to_string(), None))
        .collect();
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(exercises("classroom/.github/classroom/autograding.json"))
            .unwrap(),
    )
    .unwrap();
    for test in config["tests"].as_array().unwrap() {
        assert_eq!(test["comparison"], "included");
        let expected = test["output"].as_str().map(String::from);
        commands.push((test["run"].as_str().unwrap().to_string(), expected));
    }
    assert_eq!(commands.len(), 2, "one command in each file");

    let bin_dir = std::path::Path::new(BIN).parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (program, full_marks) in [
        (exercises("solutions/python/tcp_echo.py"), true),
        (
            format!("{} wrong", exercises("tests/broken/broken_server.py")),
            false,
        ),
    ] {
        let checkout = std::env::temp_dir().join(format!(
            "netlab-classroom-{}-{full_marks}",
            std::process::id()
        ));
        let release = checkout.join("target/release");
        std::fs::create_dir_all(&release).unwrap();
        let student = release.join("tcp-echo");
        std::fs::write(
            &student,
            format!("#!/bin/sh\nexec python3 {program} \"$@\"\n"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&student, std::fs::Permissions::from_mode(0o755)).unwrap();
        for (command, expected) in &commands {
            let out = Command::new("sh")
                .arg("-c")
                .arg(command)
                .current_dir(&checkout)
                .env("PATH", &path)
                .env("NO_COLOR", "1")
                .output()
                .unwrap();
            let stdout = text(&out.stdout);
            if full_marks {
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "{command}:\n{stdout}{}",
                    text(&out.stderr)
                );
                assert_eq!(last_line(&out), "Points 10/10");
                if let Some(expected) = expected {
                    assert!(stdout.contains(expected.as_str()), "{command}: {stdout}");
                }
            } else {
                assert_eq!(
                    out.status.code(),
                    Some(1),
                    "{command}: a failing program fails the step"
                );
                assert_eq!(last_line(&out), "Points 0/10");
            }
        }
        if full_marks {
            let junit = std::fs::read_to_string(checkout.join("netlab-grade.xml")).unwrap();
            assert!(junit.contains("<testsuite name=\"tcp-echo\""), "{junit}");
        }
        std::fs::remove_dir_all(&checkout).ok();
    }
}

/// A graded lab run (`--answers`) reports as `netlab grade` does: `Points X/Y` last, the same
/// JUnit XML with `--junit`, and the points on stderr with `--json`.
#[test]
fn graded_labs_report_points_and_junit_like_the_grader() {
    let dir = std::env::temp_dir().join(format!("netlab-lab-junit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let answers = dir.join("answers.txt");
    std::fs::write(&answers, "# nothing answered yet\n").unwrap();
    let junit = dir.join("lab.xml");
    let (answers, junit_path) = (answers.to_str().unwrap(), junit.to_str().unwrap());
    let out = run(&[
        "lab",
        "run",
        "1",
        "--offline",
        "--answers",
        answers,
        "--junit",
        junit_path,
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let last = last_line(&out);
    assert!(last.starts_with("Points 0/"), "{last}");
    let questions: u32 = last["Points 0/".len()..].parse().unwrap();
    assert!(questions > 0);
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("name"), Some("lab01"));
    let failures = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .count();
    assert!(
        failures as u32 >= questions,
        "every unanswered question fails"
    );
    assert!(xml.contains("no answer (add `"), "{xml}");

    let json = run(&[
        "lab",
        "run",
        "1",
        "--offline",
        "--answers",
        answers,
        "--json",
    ]);
    assert_eq!(json.status.code(), Some(3));
    assert!(text(&json.stdout).lines().all(|l| l.starts_with('{')));
    assert_eq!(
        text(&json.stderr).trim_end(),
        format!("Points 0/{questions}")
    );
    std::fs::remove_dir_all(&dir).ok();
}
