//! Every lab, run as a student's CI would run it: the real binary with `--ci` (and `--json`),
//! real servers on loopback. Labs that capture packets run twice: live (CI is root) and from the
//! shipped captures (`--offline`), so both paths stay working.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A lab must finish `--ci` in under 30 s (the issue's budget); the limit here is looser only to
/// absorb a busy 2-core CI machine, and a hang still fails.
const LIMIT: Duration = Duration::from_secs(90);

/// Runs a lab binary with `args`, no stdin, killing it if it outlives [`LIMIT`].
pub fn run_lab(binary: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(binary);
    command.args(args).envs(envs.iter().copied());
    run_limited(command)
}

/// Runs a prepared command with NO_COLOR, no stdin and piped output; kills it and fails the test
/// if it outlives [`LIMIT`].
fn run_limited(mut command: Command) -> Output {
    let what = format!("{command:?}");
    // Whatever student id the test itself runs under (GITHUB_ACTOR in a CI), the labs here run
    // the practice variant unless a test sets NETLAB_STUDENT after this.
    for name in netlab_labs::variant::ENV_VARS {
        if !command.get_envs().any(|(k, _)| k == name) {
            command.env_remove(name);
        }
    }
    let mut child = command
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the lab");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("poll the lab").is_some() {
            return child.wait_with_output().expect("collect the lab's output");
        }
        if start.elapsed() > LIMIT {
            child.kill().ok();
            let out = child.wait_with_output().expect("collect the lab's output");
            panic!(
                "{what} ran over {LIMIT:?}\nstdout:\n{}\nstderr:\n{}",
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
    assert!(
        summary["checks_passed"].as_u64().unwrap() >= 11,
        "{summary}"
    );
    assert_eq!(summary["questions"], 6);
    assert_eq!(summary["predictions"], 1);
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
    assert!(stdout.contains("2 of 6 right"), "{stdout}");
    // The same file as a JSON report: right is true, wrong is false, not answered is null.
    let out = run_lab(
        env!("CARGO_BIN_EXE_lab04"),
        &["--answers", file.to_str().unwrap(), "--json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let correct: Vec<(String, serde_json::Value)> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["type"] == "answer")
        .map(|l| {
            (
                l["question"].as_str().unwrap().to_string(),
                l["correct"].clone(),
            )
        })
        .collect();
    let of = |id: &str| {
        correct
            .iter()
            .find(|(q, _)| q == id)
            .map(|(_, c)| c.clone())
    };
    assert_eq!(of("accepted-port"), Some(serde_json::Value::Bool(true)));
    assert_eq!(of("four-tuple"), Some(serde_json::Value::Bool(false)));
    assert_eq!(
        of("ephemeral-count"),
        Some(serde_json::Value::Null),
        "{stdout}"
    );
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

/// The `capture` events of a JSON report: (name, source, packets).
fn captures(lines: &[serde_json::Value]) -> Vec<(String, String, u64)> {
    lines
        .iter()
        .filter(|l| l["type"] == "capture")
        .map(|l| {
            (
                l["name"].as_str().unwrap_or_default().to_string(),
                l["source"].as_str().unwrap_or_default().to_string(),
                l["packets"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Asserts the run passed every check and answered nothing (a `--ci` run asks nobody).
fn assert_all_checks_pass(lines: &[serde_json::Value], min_checks: u64, questions: u64) {
    let summary = lines.last().expect("a summary line");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["checks_failed"], 0, "{summary}");
    assert!(
        summary["checks_passed"].as_u64().unwrap() >= min_checks,
        "{summary}"
    );
    assert_eq!(summary["questions"], questions, "{summary}");
}

/// Live capture path: CI runs as root, so every capture must be live there. Elsewhere the lab
/// falls back on its own; the test then says loudly that the live path was not exercised.
fn live_run(binary: &str, expected_captures: &[&str], min_checks: u64, questions: u64) {
    let out = run_lab(binary, &["--ci", "--json"], &[("NETLAB_OFFLINE", "")]);
    let lines = json_lines(&out);
    assert_all_checks_pass(&lines, min_checks, questions);
    let caps = captures(&lines);
    let names: Vec<&str> = caps.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, expected_captures);
    let denied = lines.iter().any(|l| {
        l["type"] == "capture"
            && l["reason"]
                .as_str()
                .is_some_and(|r| r.contains("CAP_NET_RAW"))
    });
    if denied {
        eprintln!(
            "\n*** SKIPPED: live-capture assertions for {binary}: no CAP_NET_RAW here (CI runs as \
             root and checks them). The shipped-capture fallback was exercised instead. ***\n"
        );
        return;
    }
    for (name, source, packets) in &caps {
        assert_eq!(source, "live", "capture {name} should be live as root");
        assert!(*packets > 0, "capture {name} is empty");
    }
}

/// Shipped-capture path: `--offline` reads labs/captures/, and every measured expectation must
/// hold on those files, which is the check that the shipped captures match what the lab expects.
fn offline_run(binary: &str, expected: &[(&str, u64)], min_checks: u64, questions: u64) {
    let out = run_lab(binary, &["--ci", "--json", "--offline"], &[]);
    let lines = json_lines(&out);
    assert_all_checks_pass(&lines, min_checks, questions);
    let caps: Vec<(String, u64)> = captures(&lines)
        .into_iter()
        .map(|(name, source, packets)| {
            assert_eq!(source, "shipped", "capture {name}");
            (name, packets)
        })
        .collect();
    let expected: Vec<(String, u64)> = expected.iter().map(|(n, p)| (n.to_string(), *p)).collect();
    assert_eq!(caps, expected);
}

#[test]
fn lab01_live() {
    live_run(
        env!("CARGO_BIN_EXE_lab01"),
        &["lab01-tcp", "lab01-udp", "lab01-sizes"],
        23,
        9,
    );
}

#[test]
fn lab01_offline_matches_the_shipped_captures() {
    offline_run(
        env!("CARGO_BIN_EXE_lab01"),
        &[("lab01-tcp", 10), ("lab01-udp", 2), ("lab01-sizes", 20)],
        23,
        9,
    );
}

#[test]
fn lab02_live() {
    live_run(
        env!("CARGO_BIN_EXE_lab02"),
        &["lab02-tcp", "lab02-nagle", "lab02-nodelay", "lab02-mss"],
        24,
        8,
    );
}

#[test]
fn lab02_offline_matches_the_shipped_captures() {
    offline_run(
        env!("CARGO_BIN_EXE_lab02"),
        &[
            ("lab02-tcp", 10),
            ("lab02-nagle", 14),
            ("lab02-nodelay", 15),
            ("lab02-mss", 14),
        ],
        23,
        8,
    );
}

#[test]
fn lab03_live() {
    live_run(
        env!("CARGO_BIN_EXE_lab03"),
        &["lab03-datagrams", "lab03-compare"],
        12,
        8,
    );
}

#[test]
fn lab03_offline_matches_the_shipped_captures() {
    offline_run(
        env!("CARGO_BIN_EXE_lab03"),
        &[("lab03-datagrams", 6), ("lab03-compare", 12)],
        12,
        8,
    );
}

#[test]
fn lab01_graded_run_with_the_offline_answers_scores_full_marks() {
    // Offline, the packets are the shipped ones, so the answers are known ahead: this is how an
    // instructor grades on any machine.
    let dir = std::env::temp_dir().join(format!("netlab-lab01-answers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("answers.txt");
    std::fs::write(
        &file,
        "tcp-offset = 34\ntcp-header-len = 32 bytes\nip-osi-layer = b\nchecksum-verifies = a\n\
         udp-header-len = 8\nudp-frame-len = 47\noverhead-tcp = 98.5%\nwire-bytes = 84\n\
         osi-no-header = c\n",
    )
    .unwrap();
    let out = run_lab(
        env!("CARGO_BIN_EXE_lab01"),
        &["--offline", "--answers", file.to_str().unwrap()],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("9 of 9 right"), "{stdout}");
    assert!(stdout.contains("recorded by an earlier run"), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Whether this process runs as root (uid 0), read from /proc so the test needs no `unsafe`.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

/// Runs `binary --ci` as a student without capture privilege: as root (CI), dropped to the
/// `nobody` user; as a normal user, as it is. `None` (said loudly) when `nobody` cannot run the
/// binary or read `capture`, the shipped capture it will fall back on.
fn run_unprivileged(binary: &str, capture: &str) -> Option<Output> {
    if !is_root() {
        return Some(run_lab(binary, &["--ci"], &[("NETLAB_OFFLINE", "")]));
    }
    // `nobody` must be able to run the binary and read the shipped captures (a checkout under a
    // private home directory may not allow it).
    let shipped = format!("{}/captures/{capture}.pcap", env!("CARGO_MANIFEST_DIR"));
    let reachable = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(["test", "-x", binary, "-a", "-r", &shipped])
        .status()
        .is_ok_and(|s| s.success());
    if !reachable {
        eprintln!(
            "\n*** SKIPPED: cannot run {binary} as `nobody` (no setpriv, or the checkout is not \
             readable by other users); the unprivileged path is untested here ***\n"
        );
        return None;
    }
    let mut command = Command::new("setpriv");
    command
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            binary,
            "--ci",
        ])
        .env_remove("NETLAB_OFFLINE");
    Some(run_limited(command))
}

#[test]
fn without_capture_privilege_the_lab_says_how_to_allow_it_and_finishes() {
    let Some(out) = run_unprivileged(env!("CARGO_BIN_EXE_lab01"), "lab01-tcp") else {
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("sudo setcap cap_net_raw+ep") && stdout.contains("lab01"),
        "{stdout}"
    );
    assert!(
        stdout.contains("recorded by an earlier run of this same lab"),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("Note: live capture needs").count(),
        1,
        "said once: {stdout}"
    );
    assert!(stdout.contains("Lab complete."), "{stdout}");
}

/// Runs a lab `--offline` in the practice variant with `typed` as what a student types at the
/// keyboard; fails the test if it outlives [`LIMIT`].
fn run_typed(binary: &str, typed: &str) -> Output {
    let mut command = Command::new(binary);
    for name in netlab_labs::variant::ENV_VARS {
        command.env_remove(name);
    }
    let mut child = command
        .arg("--offline")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the lab");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(typed.as_bytes()).expect("type the answers");
    }
    let start = Instant::now();
    while child.try_wait().expect("poll").is_none() {
        assert!(
            start.elapsed() < LIMIT,
            "interactive {binary} ran over {LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn lab01_interactive_with_typed_answers_gives_a_hint_then_accepts() {
    // What a student types: Enter after each explanation, one wrong answer, then right ones.
    // The prediction ("50") is typed after the Enter of its section; it is never graded.
    let typed = "\n\n\n30\n34\n32\nb\n\na\n\n8\n47\n\n50\n98\n\n84\n\nc\n\n";
    let out = run_typed(env!("CARGO_BIN_EXE_lab01"), typed);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(stdout.matches("[Enter] to continue").count(), 9, "{stdout}");
    assert!(
        stdout.contains("Not quite. Hint: the headers before it are Ethernet and IPv4"),
        "{stdout}"
    );
    assert!(stdout.contains("Right: 34."), "{stdout}");
    assert!(
        stdout.contains("[predict-overhead] you predicted: 50; measured: 98.5 %"),
        "{stdout}"
    );
    assert!(stdout.contains("9 of 9 right"), "{stdout}");
}

#[test]
fn pcap_dir_keeps_every_capture_the_lab_showed() {
    let dir = std::env::temp_dir().join(format!("netlab-lab03-pcap-{}", std::process::id()));
    let out = run_lab(
        env!("CARGO_BIN_EXE_lab03"),
        &[
            "--ci",
            "--json",
            "--offline",
            "--pcap",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    let lines = json_lines(&out);
    let caps = captures(&lines);
    assert_eq!(caps.len(), 2);
    for (name, _, packets) in caps {
        let path = dir.join(format!("{name}.pcap"));
        let kept = netlab_labs::capture::read_capture(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(kept.len() as u64, packets, "{name}");
        let shipped = netlab_labs::capture::read_capture(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("captures")
                .join(format!("{name}.pcap")),
        )
        .unwrap();
        let bytes = |v: &[netlab_inspect::RawPacket]| -> Vec<Vec<u8>> {
            v.iter().map(|p| p.bytes.clone()).collect()
        };
        assert_eq!(
            bytes(&kept),
            bytes(&shipped),
            "{name}: same frames written back"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_setcap_advice_works_for_an_unprivileged_user() {
    // What the lab tells a student to do, done: copy the binary somewhere `nobody` can run it,
    // grant CAP_NET_RAW with setcap, run it as `nobody`: every capture must then be live.
    if !is_root() {
        eprintln!(
            "\n*** SKIPPED: granting a capability needs root (CI runs this test as root) ***\n"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("netlab-setcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let binary = dir.join("lab01");
    std::fs::copy(env!("CARGO_BIN_EXE_lab01"), &binary).unwrap();
    let granted = Command::new("setcap")
        .arg("cap_net_raw+ep")
        .arg(&binary)
        .status()
        .is_ok_and(|s| s.success());
    let runnable = granted
        && Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "test",
                "-x",
            ])
            .arg(&binary)
            .status()
            .is_ok_and(|s| s.success());
    if !runnable {
        eprintln!(
            "\n*** SKIPPED: setcap or setpriv missing, or {} not usable by `nobody`; the setcap \
             advice is untested here ***\n",
            dir.display()
        );
        std::fs::remove_dir_all(&dir).ok();
        return;
    }
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&binary)
        .args(["--ci", "--json"])
        .env_remove("NETLAB_OFFLINE");
    let out = run_limited(command);
    std::fs::remove_dir_all(&dir).ok();
    let lines = json_lines(&out);
    let caps = captures(&lines);
    assert_eq!(caps.len(), 3, "{caps:?}");
    for (name, source, _) in caps {
        assert_eq!(source, "live", "{name}: setcap should allow live capture");
    }
}

/// An answers file with every answer a `--ci --json` run of `student`'s variant printed: a
/// choice by its letter, a number as printed. What a student who did the lab would hand in.
fn answers_of(binary: &str, student: &str, extra: &[&str]) -> String {
    let mut args = vec!["--ci", "--json"];
    args.extend_from_slice(extra);
    let out = run_lab(binary, &args, &[("NETLAB_STUDENT", student)]);
    let lines = json_lines(&out);
    assert_eq!(lines[0]["student"], student, "{}", lines[0]);
    let mut file = String::new();
    for l in lines.iter().filter(|l| l["type"] == "answer") {
        let expected = l["expected"].as_str().unwrap();
        assert_eq!(
            l["correct"],
            serde_json::Value::Null,
            "a --ci run answers nothing"
        );
        let answer = match expected.split_once(") ") {
            Some((letter, _)) if letter.len() == 1 => letter,
            _ => expected,
        };
        file.push_str(&format!("{} = {answer}\n", l["question"].as_str().unwrap()));
    }
    file
}

/// Grades `answers` against `student`'s variant; returns (exit code, stdout).
fn grade(binary: &str, student: &str, answers: &str, extra: &[&str]) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!(
        "netlab-grade-{}-{student}-{}",
        std::process::id(),
        binary.rsplit('/').next().unwrap()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("answers.txt");
    std::fs::write(&file, answers).unwrap();
    let mut args = vec!["--answers", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = run_lab(binary, &args, &[("NETLAB_STUDENT", student)]);
    std::fs::remove_dir_all(&dir).ok();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The fairness promise: a student's answers pass for that student's variant and fail for
/// another student's.
fn answers_pass_for_their_student_only(binary: &str, extra: &[&str]) {
    let ada = answers_of(binary, "ada", extra);
    let bob = answers_of(binary, "bob", extra);
    assert_ne!(ada, bob, "two students got the same answers");
    let questions = ada.lines().count();
    let (code, stdout) = grade(binary, "ada", &ada, extra);
    assert_eq!(code, Some(0), "ada's answers for ada:\n{ada}\n{stdout}");
    assert!(
        stdout.contains(&format!("{questions} of {questions} right")),
        "{stdout}"
    );
    let (code, stdout) = grade(binary, "bob", &ada, extra);
    assert_eq!(code, Some(3), "ada's answers for bob:\n{ada}\n{stdout}");
    assert!(stdout.contains("wrong, the answer is"), "{stdout}");
}

#[test]
fn lab01_answers_pass_for_their_student_only() {
    answers_pass_for_their_student_only(env!("CARGO_BIN_EXE_lab01"), &["--offline"]);
}

#[test]
fn lab02_answers_pass_for_their_student_only() {
    // Offline and live alike: every graded number is computed from the student's own values.
    answers_pass_for_their_student_only(env!("CARGO_BIN_EXE_lab02"), &["--offline"]);
}

#[test]
fn lab04_answers_pass_for_their_student_only() {
    answers_pass_for_their_student_only(env!("CARGO_BIN_EXE_lab04"), &[]);
}

#[test]
fn lab03_answers_pass_for_their_student_only() {
    // Live: the ping, the overflow and the refused datagram run for real in every mode.
    answers_pass_for_their_student_only(env!("CARGO_BIN_EXE_lab03"), &[]);
}

// ----- the event labs (08 to 10) -----------------------------------------------------------

/// The JSON report of an offline `--ci` run of the practice variant (no student id, whatever
/// the environment says), whose numbers the shipped captures and these tests fix.
fn practice_offline(binary: &str) -> Vec<serde_json::Value> {
    let mut command = Command::new(binary);
    command.args(["--ci", "--json", "--offline"]);
    for var in netlab_labs::variant::ENV_VARS {
        command.env_remove(var);
    }
    json_lines(&run_limited(command))
}

/// The value of the measurement `name` in a JSON report.
fn measured(lines: &[serde_json::Value], name: &str) -> serde_json::Value {
    lines
        .iter()
        .find(|l| l["type"] == "measurement" && l["name"] == name)
        .map(|l| l["value"].clone())
        .unwrap_or_else(|| panic!("no measurement {name}"))
}

#[test]
fn lab08_live() {
    live_run(env!("CARGO_BIN_EXE_lab08"), &["lab08-emit"], 14, 6);
}

#[test]
fn lab08_offline_matches_the_shipped_capture_and_fixes_the_counts() {
    offline_run(env!("CARGO_BIN_EXE_lab08"), &[("lab08-emit", 20)], 13, 6);
    // The practice variant: a burst of 24 into a queue of 32 where volatile events stop at
    // half, so 16 arrive and 8 are dropped; the promo frame is 72 bytes in the shipped capture.
    let lines = practice_offline(env!("CARGO_BIN_EXE_lab08"));
    assert_eq!(measured(&lines, "volatile.dropped"), 8);
    assert_eq!(measured(&lines, "promo.bytes"), 72);
    assert!(measured(&lines, "ack.round_trip").as_u64().unwrap() < 300_000);
}

#[test]
fn lab09_live() {
    live_run(env!("CARGO_BIN_EXE_lab09"), &["lab09-namespaces"], 11, 6);
}

#[test]
fn lab09_offline_matches_the_shipped_capture_and_fixes_the_matrix() {
    offline_run(
        env!("CARGO_BIN_EXE_lab09"),
        &[("lab09-namespaces", 15)],
        11,
        6,
    );
    let lines = practice_offline(env!("CARGO_BIN_EXE_lab09"));
    // Practice rooms: red = A, B, C; blue = C, D; /admin = D, E; C leaves red before the fifth.
    assert_eq!(
        measured(&lines, "rooms.receivers"),
        serde_json::json!([3, 2, 2, 5, 2, 2])
    );
    assert_eq!(measured(&lines, "namespaces.syn_packets"), 1);
}

#[test]
fn lab10_live() {
    live_run(env!("CARGO_BIN_EXE_lab10"), &["lab10-replay"], 17, 9);
}

#[test]
fn lab10_offline_counts_every_message_the_protocol_fixes() {
    offline_run(env!("CARGO_BIN_EXE_lab10"), &[("lab10-replay", 12)], 17, 9);
    let lines = practice_offline(env!("CARGO_BIN_EXE_lab10"));
    assert_eq!(measured(&lines, "default.arrived"), 0);
    // Two lost acks in the practice variant: 12 frames, 10 distinct.
    assert_eq!(measured(&lines, "retry.frames"), 12);
    assert_eq!(measured(&lines, "retry.unique"), 10);
    assert_eq!(measured(&lines, "bounded.recovered"), false);
    // Listener connect and join, producer connect, 10 publishes: one commit each.
    assert_eq!(measured(&lines, "durable.commits"), 13);
}

#[test]
fn event_labs_answers_pass_for_their_student_only() {
    for binary in [
        env!("CARGO_BIN_EXE_lab08"),
        env!("CARGO_BIN_EXE_lab09"),
        env!("CARGO_BIN_EXE_lab10"),
    ] {
        answers_pass_for_their_student_only(binary, &["--offline"]);
    }
}

/// What a student without capture privilege sees: the setcap advice, the shipped capture, a
/// complete run; for lab 10 also its child server started and killed by an unprivileged user.
#[test]
fn event_labs_run_unprivileged() {
    for (binary, capture) in [
        (env!("CARGO_BIN_EXE_lab08"), "lab08-emit"),
        (env!("CARGO_BIN_EXE_lab10"), "lab10-replay"),
    ] {
        let Some(out) = run_unprivileged(binary, capture) else {
            continue;
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{binary}: exit {:?}\n{stdout}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("sudo setcap cap_net_raw+ep"), "{stdout}");
        assert!(
            stdout.contains("recorded by an earlier run of this same lab"),
            "{stdout}"
        );
        assert!(stdout.contains("Lab complete."), "{stdout}");
    }
}

#[test]
fn lab10_child_server_serves_until_its_stdin_closes() {
    // Lab 10 re-executes its own binary with the hidden flag as the server it can SIGKILL; the
    // child must announce its address and serve.
    let mut child = Command::new(env!("CARGO_BIN_EXE_lab10"))
        .args(["--lab10-event-server", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child server");
    let mut first = String::new();
    {
        use std::io::BufRead;
        let stdout = child.stdout.take().unwrap();
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .expect("read the listening line");
    }
    let addr: std::net::SocketAddr = first
        .trim()
        .strip_prefix("listening on tcp ")
        .unwrap_or_else(|| panic!("{first:?}"))
        .parse()
        .unwrap();
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut hello = [0u8; 15];
    std::io::Read::read_exact(&mut conn, &mut hello).unwrap();
    assert_eq!(&hello, b"{\"type\":\"hello\"");
    // Closing its stdin ends the child: a lab that dies leaves no server behind.
    drop(child.stdin.take());
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < LIMIT,
            "the child server outlived its stdin"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn lab10_interactive_with_typed_answers_predicts_gets_a_hint_then_accepts() {
    // A student at the keyboard, practice variant: Enter after each explanation, a prediction,
    // one wrong answer, then the right ones.
    let typed = "\n3\n1\n0\nb\n\n12\n10\n\n10\n\nb\n\n10\n13\n\nb\n\n";
    let out = run_typed(env!("CARGO_BIN_EXE_lab10"), typed);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(stdout.matches("[Enter] to continue").count(), 7, "{stdout}");
    assert!(
        stdout.contains("you predicted: 3; measured: 0 messages"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Not quite. Hint: the last line above"),
        "{stdout}"
    );
    assert!(stdout.contains("9 of 9 right"), "{stdout}");
}

// ----- the web labs (05 to 07) -------------------------------------------------------------

/// A web lab run without capture privilege: the setcap advice once, the shipped captures, and
/// a finished lab.
fn web_lab_unprivileged(binary: &str, lab: &str, capture: &str) {
    let Some(out) = run_unprivileged(binary, capture) else {
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}",
        out.status.code()
    );
    assert!(
        stdout.contains("sudo setcap cap_net_raw+ep") && stdout.contains(lab),
        "{stdout}"
    );
    assert!(
        stdout.contains("recorded by an earlier run of this same lab"),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("Note: live capture needs").count(),
        1,
        "{stdout}"
    );
    assert!(stdout.contains("Lab complete."), "{stdout}");
}

#[test]
fn lab05_live() {
    live_run(
        env!("CARGO_BIN_EXE_lab05"),
        &["lab05-post", "lab05-keepalive", "lab05-close", "lab05-ask"],
        15,
        8,
    );
}

#[test]
fn lab05_offline_matches_the_shipped_captures() {
    // The packet counts are the recorded ones; the counts HTTP and TCP fix (1 and 10
    // handshakes, 2 and 1 round trips, 2 data packets each way while A waits) are the lab's own
    // checks, which must pass on these files as on a live run.
    offline_run(
        env!("CARGO_BIN_EXE_lab05"),
        &[
            ("lab05-post", 20),
            ("lab05-keepalive", 28),
            ("lab05-close", 100),
            ("lab05-ask", 13),
        ],
        15,
        8,
    );
}

#[test]
fn lab05_answers_pass_for_their_student_only() {
    answers_pass_for_their_student_only(env!("CARGO_BIN_EXE_lab05"), &["--offline"]);
}

#[test]
fn lab05_without_capture_privilege_finishes() {
    web_lab_unprivileged(env!("CARGO_BIN_EXE_lab05"), "lab05", "lab05-post");
}

#[test]
fn lab06_live() {
    live_run(env!("CARGO_BIN_EXE_lab06"), &["lab06-websocket"], 18, 8);
}

#[test]
fn lab06_offline_matches_the_shipped_captures() {
    // The counts RFC 6455 fixes are the lab's own checks (one upgrade GET and one 101 on one
    // connection, one ping and one pong, one close frame each way, every client frame masked
    // and no server frame), which must pass on the shipped file as on a live run.
    offline_run(
        env!("CARGO_BIN_EXE_lab06"),
        &[("lab06-websocket", 41)],
        18,
        8,
    );
}

#[test]
fn lab06_answers_pass_for_their_student_only() {
    answers_pass_for_their_student_only(env!("CARGO_BIN_EXE_lab06"), &["--offline"]);
}

#[test]
fn lab06_without_capture_privilege_finishes() {
    web_lab_unprivileged(env!("CARGO_BIN_EXE_lab06"), "lab06", "lab06-websocket");
}

const LAB07_CAPTURES: [&str; 6] = [
    "lab07-poll-1000ms",
    "lab07-poll-250ms",
    "lab07-longpoll",
    "lab07-sse",
    "lab07-websocket",
    "lab07-tcp",
];

#[test]
fn lab07_live() {
    live_run(env!("CARGO_BIN_EXE_lab07"), &LAB07_CAPTURES, 21, 6);
}

#[test]
fn lab07_offline_matches_the_shipped_captures() {
    // Exact where the transports fix them (one connection and one HTTP request, the upgrade,
    // for WebSocket; one connection and no request for TCP lines; every message delivered;
    // socket.io's polling request before its WebSocket request) are the lab's own checks; the
    // packet counts are the recorded ones.
    offline_run(
        env!("CARGO_BIN_EXE_lab07"),
        &[
            ("lab07-poll-1000ms", 35),
            ("lab07-poll-250ms", 67),
            ("lab07-longpoll", 57),
            ("lab07-sse", 55),
            ("lab07-websocket", 48),
            ("lab07-tcp", 34),
        ],
        21,
        6,
    );
}

#[test]
fn lab07_answers_pass_for_their_student_only() {
    answers_pass_for_their_student_only(env!("CARGO_BIN_EXE_lab07"), &["--offline"]);
}

#[test]
fn lab07_without_capture_privilege_finishes() {
    web_lab_unprivileged(env!("CARGO_BIN_EXE_lab07"), "lab07", "lab07-tcp");
}

#[test]
fn lab07_plots_are_svg_charts_of_the_run() {
    let dir = std::env::temp_dir().join(format!("netlab-lab07-plots-{}", std::process::id()));
    let out = run_lab(
        env!("CARGO_BIN_EXE_lab07"),
        &["--ci", "--offline", "--plots", dir.to_str().unwrap()],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for file in [
        "lab07-bytes-per-message.svg",
        "lab07-latency-p50.svg",
        "lab07-latency-p99.svg",
        "lab07-idle.svg",
    ] {
        let svg = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{file}"
        );
        assert!(svg.trim_end().ends_with("</svg>"), "{file}");
        // One bar per transport, each labelled.
        assert_eq!(svg.matches("<rect x=").count(), 6, "{file}");
        for name in [
            "short polling, 250 ms",
            "long-polling",
            "SSE + POST",
            "WebSocket",
            "TCP lines",
        ] {
            assert!(svg.contains(name), "{file}: {name}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
