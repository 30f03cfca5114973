//! Helpers the CLI end-to-end tests share: start the real `netlab` binary, run it to completion
//! under a deadline, read a child's output line by line.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_netlab");

/// `netlab ARGS` with colour off and logging at its default, so output is stable to assert on.
pub fn netlab(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("NO_COLOR", "1").env_remove("RUST_LOG");
    cmd
}

/// Runs to completion with `stdin` as its input, killed after 30 s so a hang fails the test
/// instead of CI.
pub fn run_with_input(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = netlab(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run netlab");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("netlab {args:?} did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// Each line a reader produces, delivered on a channel by a thread of its own, so a test can wait
/// for a line with a timeout.
pub fn read_lines(stdout: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}
