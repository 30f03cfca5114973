//! Talking to a student's program safely: every read has a deadline and a byte bound, and when
//! a read comes up short the caller gets what did arrive and why it stopped, for the report.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use crate::check::Failure;

/// Bytes read per call: small enough that a flood is noticed quickly, big enough to be fast.
const CHUNK: usize = 16 * 1024;

/// Why a read stopped before it had what it waited for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The program closed the connection (end of stream).
    Closed,
    /// The connection broke (reset, typically because the program crashed or closed early).
    Broken(String),
    /// Nothing more came before the deadline.
    Timeout(Duration),
    /// More than the bound arrived without the expected end.
    TooLong(usize),
}

/// What came back before a read stopped short, and why it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Short {
    pub bytes: Vec<u8>,
    pub end: End,
}

impl Short {
    /// "waiting for the echo: the connection was closed after 3 bytes".
    pub fn reason(&self, waiting_for: &str) -> String {
        let after = match self.bytes.len() {
            0 => "before any byte came back".to_string(),
            1 => "after 1 byte".to_string(),
            n => format!("after {n} bytes"),
        };
        match &self.end {
            End::Closed => format!("{waiting_for}: the connection was closed {after}"),
            End::Broken(e) => format!("{waiting_for}: the connection broke ({e}) {after}"),
            End::Timeout(t) => format!(
                "{waiting_for}: no answer within {} ms ({} bytes came back)",
                t.as_millis(),
                self.bytes.len()
            ),
            End::TooLong(max) => {
                format!("{waiting_for}: more than {max} bytes came back without the expected end")
            }
        }
    }

    /// The failure for this short read: the reason and the bytes that did arrive.
    pub fn failure(self, waiting_for: &str) -> Failure {
        Failure::new(self.reason(waiting_for)).got(self.bytes)
    }
}

/// A TCP connection to the program with a read buffer, so that bytes after one answer (the next
/// pipelined response, say) are kept for the next read.
pub struct Conn {
    stream: TcpStream,
    pending: Vec<u8>,
}

impl Conn {
    /// Connects to `addr` (always a loopback address, checked before grading starts).
    pub async fn connect(addr: SocketAddr, within: Duration) -> Result<Conn, Failure> {
        match tokio::time::timeout(within, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                Ok(Conn {
                    stream,
                    pending: Vec::new(),
                })
            }
            Ok(Err(e)) => Err(Failure::new(format!("cannot connect to {addr}: {e}"))
                .hint("is the program still running and listening on the port it was given?")),
            Err(_) => Err(Failure::new(format!(
                "cannot connect to {addr}: no answer within {} ms",
                within.as_millis()
            ))),
        }
    }

    /// The stream, for checks that need to split it (write and read at once).
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Sends all of `bytes` before `within` runs out.
    pub async fn send(&mut self, bytes: &[u8], within: Duration) -> Result<(), Failure> {
        match tokio::time::timeout(within, self.stream.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Failure::new(format!(
                "sending {} bytes failed: {e} (did the program close the connection?)",
                bytes.len()
            ))
            .sent(&bytes[..bytes.len().min(64)])),
            Err(_) => Err(Failure::new(format!(
                "sending {} bytes took more than {} ms: the program is not reading",
                bytes.len(),
                within.as_millis()
            ))),
        }
    }

    /// Half-closes: the program reads end of stream, the connection stays open for its answer.
    pub async fn shutdown_write(&mut self) -> Result<(), Failure> {
        self.stream
            .shutdown()
            .await
            .map_err(|e| Failure::new(format!("half-closing the connection failed: {e}")))
    }

    /// Reads until `done` finds a complete unit in the buffer (it returns its length), and
    /// returns that unit; at most `max` bytes, until `within` runs out.
    pub async fn read_until(
        &mut self,
        max: usize,
        within: Duration,
        done: impl Fn(&[u8]) -> Option<usize>,
    ) -> Result<Vec<u8>, Short> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(n) = done(&self.pending) {
                let rest = self.pending.split_off(n.min(self.pending.len()));
                return Ok(std::mem::replace(&mut self.pending, rest));
            }
            if self.pending.len() >= max {
                return Err(self.short(End::TooLong(max)));
            }
            let room = (max - self.pending.len()).min(CHUNK);
            let start = self.pending.len();
            self.pending.resize(start + room, 0);
            let read = timeout_at(deadline, self.stream.read(&mut self.pending[start..])).await;
            let n = match read {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => {
                    self.pending.truncate(start);
                    return Err(self.short(End::Broken(e.to_string())));
                }
                Err(_) => {
                    self.pending.truncate(start);
                    return Err(self.short(End::Timeout(within)));
                }
            };
            self.pending.truncate(start + n);
            if n == 0 {
                return Err(self.short(End::Closed));
            }
        }
    }

    /// Exactly `n` bytes.
    pub async fn read_exact(&mut self, n: usize, within: Duration) -> Result<Vec<u8>, Short> {
        self.read_until(n, within, |b| (b.len() >= n).then_some(n))
            .await
    }

    /// One line, its `\n` included, at most `max` bytes.
    pub async fn read_line(&mut self, max: usize, within: Duration) -> Result<Vec<u8>, Short> {
        self.read_until(max, within, |b| {
            b.iter().position(|&c| c == b'\n').map(|i| i + 1)
        })
        .await
    }

    /// Waits for the program to close the connection. Any bytes before the close are returned
    /// (at most `max`); a connection still open at the deadline is a [`Short`] with a timeout.
    pub async fn read_to_close(&mut self, max: usize, within: Duration) -> Result<Vec<u8>, Short> {
        match self.read_until(max, within, |_| None).await {
            Err(Short {
                bytes,
                end: End::Closed,
            }) => Ok(bytes),
            // A reset after the data is also a close, as far as "did it close" goes.
            Err(Short {
                bytes,
                end: End::Broken(_),
            }) => Ok(bytes),
            other => other,
        }
    }

    fn short(&mut self, end: End) -> Short {
        Short {
            bytes: std::mem::take(&mut self.pending),
            end,
        }
    }
}
