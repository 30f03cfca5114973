//! Every lab, run as a student's CI would run it: the real binary with `--ci` (and `--json`),
//! real servers on loopback. Labs that capture packets run twice: live (CI is root) and from the
//! shipped captures (`--offline`), so both paths stay working.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A lab must finish `--ci` in under 30 s (the budget); the limit here is looser only to
/// absorb a busy 2-core CI machine, and a hang still fails.
const LIMIT: Duration = Duration::from_secs(90);

/// Runs a lab binary with `args`, no stdin, killing it if it outlives [`LIMIT`].
pub fn run_lab(binary: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut child = Command::new(binary)
        .args(args)
        .envs(envs.iter().copied())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the lab binary");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("poll the lab").is_some() {
            return child.wait_with_output().expect("collect the lab's output");
        }
        if start.elapsed() > LIMIT {
            child.kill().ok();
            let out = child.wait_with_output().expect("collect the lab's output");
            panic!(
                "{binary} {args:?} ran over {LIMIT:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts a successful run and returns its JSON lines.
fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

#[test]
fn lab04_passes_ci_and_reports_every_check() {
    let out = run_lab(env!("CARGO_BIN_EXE_lab04"), &["--ci", "--json"], &[]);
    let lines = json_lines(&out);
    let summary = lines.last().expect("a summary line");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["checks_failed"], 0, "{summary}");
    assert!(summary["checks_passed"].as_u64().unwrap() >= 9, "{summary}");
    assert_eq!(summary["questions"], 5);
}

#[test]
fn lab04_graded_run_with_right_and_wrong_answers() {
    // The answers that do not depend on the machine; the two measured numbers are left out,
    // so the run must exit 3 (wrong or missing answers) and say which.
    let dir = std::env::temp_dir().join(format!("netlab-lab04-answers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("answers.txt");
    std::fs::write(
        &file,
        "accepted-port = b\nreuseaddr = a\nfour-tuple = a   # wrong on purpose\n",
    )
    .unwrap();
    let out = run_lab(
        env!("CARGO_BIN_EXE_lab04"),
        &["--answers", file.to_str().unwrap()],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("b: right"), "{stdout}");
    assert!(
        stdout.contains("a: wrong, the answer is c) the source port"),
        "{stdout}"
    );
    assert!(stdout.contains("no answer in the answers file"), "{stdout}");
    assert!(stdout.contains("2 of 5 right"), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_answers_file_is_a_usage_error() {
    let out = run_lab(
        env!("CARGO_BIN_EXE_lab04"),
        &["--answers", "/nonexistent/answers.txt"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot read the answers file"), "{stderr}");
}
