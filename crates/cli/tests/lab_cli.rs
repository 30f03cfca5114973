//! `netlab lab list` and `netlab lab run N`: the same labs as the lab binaries, through the CLI.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `netlab` with `args`, no stdin, killed if it hangs.
fn netlab(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netlab");
    let start = Instant::now();
    while child.try_wait().expect("poll netlab").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            panic!("netlab {args:?} ran over 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("netlab output")
}

#[test]
fn lab_list_json_names_every_lab_and_its_binary() {
    let out = netlab(&["lab", "list", "--json"]);
    assert!(out.status.success());
    let labs: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let numbers: Vec<u64> = labs.iter().map(|l| l["lab"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert_eq!(labs[0]["binary"], "lab01");
    assert_eq!(labs[0]["guide"], "labs/guides/01-layers.md");
}

#[test]
fn lab_list_table_shows_how_to_run_each_lab() {
    let out = netlab(&["lab", "list"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("cargo run --release --bin lab01"),
        "{stdout}"
    );
    assert!(stdout.contains("Sockets and ports"), "{stdout}");
}

#[test]
fn lab_run_ci_runs_the_lab_in_process() {
    let out = netlab(&["lab", "run", "4", "--ci", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("a summary")).unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["checks_failed"], 0, "{summary}");
}

#[test]
fn lab_run_10_restarts_netlab_as_its_killable_event_server() {
    // Lab 10 SIGKILLs an event server it started as a child process: under `netlab lab run` that
    // child is netlab itself with a hidden flag (a lab never shells out to `netlab`'s commands).
    let out = netlab(&["lab", "run", "10", "--ci", "--json", "--offline"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let commits = lines
        .iter()
        .find(|l| l["type"] == "measurement" && l["name"] == "durable.commits")
        .expect("the durability step ran");
    assert_eq!(commits["value"], 13, "{commits}");
    assert_eq!(lines.last().unwrap()["checks_failed"], 0);
}

#[test]
fn lab_run_of_an_unknown_lab_is_a_usage_error() {
    let out = netlab(&["lab", "run", "42"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("there is no lab 42"));
}
