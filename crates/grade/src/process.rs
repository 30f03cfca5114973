//! The student's program: started from a shell command in its own process group, its output
//! drained into bounded buffers, stopped as a whole group whatever it did.
//!
//! Why a process group: `--cmd "cargo run -- {port}"` or `--cmd "python3 server.py {port}"`
//! starts a shell, which starts the real program, which may start more. Signalling the shell
//! alone would leave the server running and the port taken; signalling the group reaches all.

use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::check::Failure;
use crate::error::GradeError;

/// Output kept from the start of each stream: enough for any honest program's report.
pub const HEAD_KEPT: usize = 64 * 1024;
/// Output kept from the end of each stream: where a crash message is.
pub const TAIL_KEPT: usize = 4 * 1024;
/// How long a program has to exit after SIGTERM before the group gets SIGKILL.
const TERM_GRACE: Duration = Duration::from_millis(500);
/// How often readiness is probed: a connect attempt every this long.
const READY_POLL: Duration = Duration::from_millis(25);

/// What a program wrote to one stream: the first bytes, the last bytes and the count. A flood
/// of megabytes is counted and dropped, never kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub head: Vec<u8>,
    pub tail: Vec<u8>,
    pub total: u64,
}

impl Captured {
    fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = HEAD_KEPT.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..room.min(bytes.len())]);
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > 2 * TAIL_KEPT {
            self.tail.drain(..self.tail.len() - TAIL_KEPT);
        }
    }

    /// The kept start of the stream, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.head).into_owned()
    }

    /// The last few lines, for "its stderr ends with: ...". A Rust panic message is shown
    /// instead of the backtrace after it, since the message is what says what went wrong.
    pub fn last_lines(&self, lines: usize) -> String {
        let start = self.tail.len().saturating_sub(TAIL_KEPT);
        let text = String::from_utf8_lossy(&self.tail[start..]);
        let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let from = match all.iter().rposition(|l| l.contains("panicked at")) {
            Some(panic) => panic..(panic + 2).min(all.len()),
            None => all.len().saturating_sub(lines)..all.len(),
        };
        all[from].join("\n")
    }
}

/// Replaces `{port}` and `{server}` (and any `extra` `{name}`) in a command template.
pub fn substitute(template: &str, port: Option<u16>, server: Option<SocketAddr>) -> String {
    let mut command = template.to_string();
    if let Some(port) = port {
        command = command.replace("{port}", &port.to_string());
    }
    if let Some(server) = server {
        command = command.replace("{server}", &server.to_string());
    }
    command
}

/// A port that was free a moment ago on 127.0.0.1. Another program could take it before the
/// student's does; on a CI machine that is rare enough, and the failure then says so.
pub fn free_port() -> Result<u16, GradeError> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| GradeError::Io {
            what: "find a free port on 127.0.0.1",
            source,
        })
}

/// A running student program.
pub struct Program {
    command: String,
    child: Child,
    group: Pid,
    stdout: Arc<Mutex<Captured>>,
    stderr: Arc<Mutex<Captured>>,
    drains: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
    /// Set once the group was signalled, so that `drop` does not signal a group id again.
    stopped: bool,
}

impl Program {
    /// Starts `command` with `sh -c` in a new process group, stdin closed, output captured.
    pub fn start(command: &str) -> Result<Program, GradeError> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| GradeError::Spawn {
                command: command.to_string(),
                source,
            })?;
        let group = Pid::from_raw(child.id().unwrap_or(0) as i32);
        let stdout = Arc::new(Mutex::new(Captured::default()));
        let stderr = Arc::new(Mutex::new(Captured::default()));
        let mut drains = Vec::new();
        if let Some(out) = child.stdout.take() {
            drains.push(tokio::spawn(drain(out, stdout.clone())));
        }
        if let Some(err) = child.stderr.take() {
            drains.push(tokio::spawn(drain(err, stderr.clone())));
        }
        Ok(Program {
            command: command.to_string(),
            child,
            group,
            stdout,
            stderr,
            drains,
            status: None,
            stopped: false,
        })
    }

    pub fn command(&self) -> &str {
        &self.command
    }

    /// What the program wrote to stdout so far.
    pub fn stdout(&self) -> Captured {
        self.stdout
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// What the program wrote to stderr so far.
    pub fn stderr(&self) -> Captured {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The exit status, if the program has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits up to `within` for the program to exit on its own.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        if self.status.is_none()
            && let Ok(Ok(status)) = tokio::time::timeout(within, self.child.wait()).await
        {
            self.status = Some(status);
        }
        self.status
    }

    /// Waits until something accepts connections on `addr`; fails if the program exits first
    /// or `within` runs out. Each probe is one connection, closed at once.
    pub async fn wait_listening(
        &mut self,
        addr: SocketAddr,
        within: Duration,
    ) -> Result<(), Failure> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.exited() {
                return Err(self.failure_after(&format!(
                    "the program {} before it listened on {addr}",
                    describe(status)
                )));
            }
            if let Ok(Ok(_)) =
                tokio::time::timeout(READY_POLL * 4, tokio::net::TcpStream::connect(addr)).await
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(self.failure_after(&format!(
                    "the program did not listen on {addr} within {} s",
                    within.as_secs_f64()
                ))
                .hint("listen on 127.0.0.1 at the port the grader passes as {port}, and check that the command starts the program (try it in a shell)"));
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// A failure whose reason ends with what the program wrote to stderr last.
    pub fn failure_after(&mut self, reason: &str) -> Failure {
        let last = self.stderr().last_lines(5);
        if last.is_empty() {
            Failure::new(reason.to_string())
        } else {
            Failure::new(format!("{reason}; its stderr ends with:\n{last}"))
        }
    }

    /// Stops the whole process group: SIGTERM, a short grace, then SIGKILL. Returns the exit
    /// status if the program had exited by itself before.
    pub async fn stop(&mut self) -> Option<ExitStatus> {
        let before = self.exited();
        // The group may outlive its leader (a shell that exec'd nothing, a forked child).
        let _ = killpg(self.group, Signal::SIGTERM);
        let _ = self.wait_exit(TERM_GRACE).await;
        let _ = killpg(self.group, Signal::SIGKILL);
        let _ = self.wait_exit(TERM_GRACE).await;
        self.stopped = true;
        // The pipes close when the last process holding them is gone; do not wait forever for
        // a grandchild that escaped the group.
        for drain in self.drains.drain(..) {
            let abort = drain.abort_handle();
            if tokio::time::timeout(TERM_GRACE, drain).await.is_err() {
                abort.abort();
            }
        }
        before
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        // Whatever happened (a panic in a check, say), no student process outlives the grader.
        if !self.stopped {
            let _ = killpg(self.group, Signal::SIGKILL);
        }
    }
}

/// "exited with code 3", "was killed by signal 11 (a crash)".
pub fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        _ => "ended".to_string(),
    }
}

async fn drain(mut reader: impl tokio::io::AsyncRead + Unpin, into: Arc<Mutex<Captured>>) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = reader.read(&mut buf).await {
        if n == 0 {
            break;
        }
        into.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floods_are_counted_not_kept() {
        let mut c = Captured::default();
        for _ in 0..1000 {
            c.push(&[b'x'; 1000]);
        }
        c.push(b"\npanicked at the end\n");
        assert_eq!(c.total, 1_000_000 + 21);
        assert_eq!(c.head.len(), HEAD_KEPT);
        assert!(c.tail.len() <= 2 * TAIL_KEPT);
        assert!(c.last_lines(1).contains("panicked at the end"));
    }

    #[test]
    fn placeholders_are_substituted() {
        let server: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(
            substitute("srv --port {port} --to {server}", Some(80), Some(server)),
            "srv --port 80 --to 127.0.0.1:9"
        );
    }
}
