//! The TCP echo server: one task per connection, every byte sent back unchanged.
//!
//! ```no_run
//! # async fn demo() -> Result<(), netlab_echo::EchoError> {
//! use netlab_echo::{shutdown, TcpConfig, TcpEchoServer};
//! let server = TcpEchoServer::bind(TcpConfig::loopback(0)).await?; // port 0: any free port
//! println!("listening on tcp {}", server.local_addr());
//! let (trigger, signal) = shutdown::channel();
//! let running = tokio::spawn(server.run(signal));
//! // ... talk to it ...
//! trigger.fire();
//! let summary = running.await.unwrap();
//! println!("{} connections", summary.connections);
//! # Ok(()) }
//! ```
//!
//! Policies, chosen to be easy to observe from a client:
//! - **Half-close**: when the client shuts its write side (FIN), the server echoes what it still
//!   has, then shuts its own write side. The client reads everything, then end of stream.
//! - **Maximum connections**: a connection beyond the limit is accepted and closed at once, so
//!   the client reads end of stream immediately (instead of hanging in the kernel's backlog).
//!   It is counted in `rejected`.
//! - **Idle timeout**: a connection that sends nothing for that long is closed (`idle_closed`).
//! - **Graceful shutdown**: stop accepting, let open connections finish until the drain deadline,
//!   then cut the rest (`aborted`), and return a [`TcpSummary`].

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};

use crate::shutdown::Shutdown;
use crate::sock::{self, BufferSizes};
use crate::{DEFAULT_PORT, EchoError};

/// How a [`TcpEchoServer`] binds and behaves.
#[derive(Clone, Debug, Serialize)]
pub struct TcpConfig {
    /// Where to listen; port 0 asks the kernel for a free port.
    pub bind: SocketAddr,
    /// How many finished handshakes the kernel queues before we `accept` them.
    pub backlog: u32,
    /// TCP_NODELAY: send small writes at once instead of waiting to coalesce them (Nagle).
    pub nodelay: bool,
    /// SO_RCVBUF / SO_SNDBUF for every connection.
    pub buffers: BufferSizes,
    /// Connections served at once; one more is accepted and closed at once.
    pub max_connections: usize,
    /// Close a connection that sent nothing for this long. `None`: never.
    pub idle_timeout: Option<Duration>,
    /// On shutdown, how long open connections may still run before they are cut.
    pub drain_timeout: Duration,
    /// Bytes read per `read` call: larger moves bulk data with fewer system calls.
    pub read_buffer: usize,
}

impl TcpConfig {
    /// Defaults on 127.0.0.1 at `port` (0 for any free port).
    pub fn loopback(port: u16) -> Self {
        TcpConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], port)),
            backlog: 1024,
            nodelay: true,
            buffers: BufferSizes::default(),
            max_connections: 1024,
            idle_timeout: Some(Duration::from_secs(300)),
            drain_timeout: Duration::from_secs(5),
            read_buffer: 64 * 1024,
        }
    }
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig::loopback(DEFAULT_PORT)
    }
}

/// Live counters, readable while the server runs (a lab can show them ticking).
#[derive(Debug, Default)]
pub struct TcpStats {
    pub accepted: AtomicU64,
    pub active: AtomicU64,
    pub rejected: AtomicU64,
    pub idle_closed: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub errors: AtomicU64,
}

/// What a TCP server did, returned when it stops.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TcpSummary {
    /// Connections accepted and served.
    pub connections: u64,
    /// Connections closed at once because `max_connections` were open.
    pub rejected: u64,
    /// Connections closed by the idle timeout.
    pub idle_closed: u64,
    /// Connections still open at the drain deadline, cut by the shutdown.
    pub aborted: u64,
    /// Bytes received from clients.
    pub bytes_in: u64,
    /// Bytes sent back.
    pub bytes_out: u64,
    /// Connections that ended with an I/O error (a reset, say).
    pub errors: u64,
}

/// A bound TCP echo server, ready to [`run`](TcpEchoServer::run).
pub struct TcpEchoServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    config: TcpConfig,
    stats: Arc<TcpStats>,
}

impl TcpEchoServer {
    /// Binds with `config`. Fails with a student-readable [`EchoError`] (address in use, ...).
    pub async fn bind(config: TcpConfig) -> Result<Self, EchoError> {
        if config.max_connections == 0 {
            return Err(EchoError::InvalidConfig(
                "max connections must be at least 1".into(),
            ));
        }
        let listener = sock::tcp_listener(config.bind, config.backlog, config.buffers)?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| EchoError::io("cannot read the bound address", e))?;
        Ok(TcpEchoServer {
            listener,
            local_addr,
            config,
            stats: Arc::default(),
        })
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The live counters.
    pub fn stats(&self) -> Arc<TcpStats> {
        Arc::clone(&self.stats)
    }

    /// Serves until `shutdown` fires, drains, and returns what happened.
    pub async fn run(self, mut shutdown: Shutdown) -> TcpSummary {
        let mut connections = JoinSet::new();
        let config = Arc::new(self.config);
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                // Reap finished tasks so the set (and the active count) stays accurate.
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        admit(&mut connections, stream, peer, &config, &self.stats);
                    }
                    // accept errors (out of file descriptors, a connection reset while queued)
                    // concern one connection: report and keep serving.
                    Err(err) => {
                        self.stats.errors.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!("accept failed: {err}");
                    }
                },
            }
        }
        drop(self.listener); // stop accepting: new clients are now refused by the kernel
        let aborted = drain(&mut connections, config.drain_timeout).await;
        summarize(&self.stats, aborted)
    }
}

fn admit(
    connections: &mut JoinSet<()>,
    stream: TcpStream,
    peer: SocketAddr,
    config: &Arc<TcpConfig>,
    stats: &Arc<TcpStats>,
) {
    // `active` drops the moment a connection task ends, whereas the JoinSet still holds a
    // finished task until it is reaped: counting the set could reject a client for nothing.
    let active = stats.active.load(Ordering::Relaxed);
    if active >= config.max_connections as u64 {
        stats.rejected.fetch_add(1, Ordering::Relaxed);
        tracing::info!("{peer}: rejected, {active} connections open");
        drop(stream); // closes: the client reads end of stream at once
        return;
    }
    stats.accepted.fetch_add(1, Ordering::Relaxed);
    stats.active.fetch_add(1, Ordering::Relaxed);
    let (config, stats) = (Arc::clone(config), Arc::clone(stats));
    connections.spawn(async move {
        if let Err(err) = serve_connection(stream, &config, &stats).await {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            tracing::info!("{peer}: {err}");
        }
        stats.active.fetch_sub(1, Ordering::Relaxed);
    });
}

/// Waits for open connections up to `deadline`, then cuts the rest; returns how many were cut.
async fn drain(connections: &mut JoinSet<()>, deadline: Duration) -> u64 {
    let all_done = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(deadline, all_done).await.is_ok() {
        return 0;
    }
    let left = connections.len() as u64;
    connections.shutdown().await; // aborts and waits, so every socket is closed on return
    left
}

fn summarize(stats: &TcpStats, aborted: u64) -> TcpSummary {
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    TcpSummary {
        connections: get(&stats.accepted),
        rejected: get(&stats.rejected),
        idle_closed: get(&stats.idle_closed),
        aborted,
        bytes_in: get(&stats.bytes_in),
        bytes_out: get(&stats.bytes_out),
        errors: get(&stats.errors),
    }
}

/// Echoes one connection until the client's FIN, the idle timeout, or an error.
async fn serve_connection(
    mut stream: TcpStream,
    config: &TcpConfig,
    stats: &TcpStats,
) -> std::io::Result<()> {
    stream.set_nodelay(config.nodelay)?;
    let mut buf = vec![0u8; config.read_buffer.max(1)];
    let mut idle = IdleTimer::new(config.idle_timeout);
    loop {
        let n = tokio::select! {
            read = stream.read(&mut buf) => read?,
            () = idle.expired() => {
                stats.idle_closed.fetch_add(1, Ordering::Relaxed);
                return Ok(()); // dropping the stream closes it
            }
        };
        if n == 0 {
            // Half-close: the client will send no more. Everything read is already echoed,
            // so shut our write side too; the client sees end of stream after the last byte.
            return stream.shutdown().await;
        }
        idle.touch();
        stats.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
        stream.write_all(&buf[..n]).await?;
        stats.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// The idle timeout, cheap on the hot path: a read only notes the time; the one timer is moved
/// when it fires early. (A fresh `timeout` around every read would register and cancel a timer
/// per read, which costs measurably with many busy connections.)
struct IdleTimer {
    limit: Option<Duration>,
    last_activity: Instant,
    sleep: Pin<Box<Sleep>>,
}

impl IdleTimer {
    fn new(limit: Option<Duration>) -> Self {
        let now = Instant::now();
        // With no limit the timer is never polled; a far deadline keeps the type simple.
        let first = now + limit.unwrap_or(Duration::from_secs(86_400));
        IdleTimer {
            limit,
            last_activity: now,
            sleep: Box::pin(tokio::time::sleep_until(first)),
        }
    }

    fn touch(&mut self) {
        self.last_activity = Instant::now();
    }

    /// Completes once nothing happened for `limit`; never, without a limit.
    async fn expired(&mut self) {
        let Some(limit) = self.limit else {
            return std::future::pending().await;
        };
        loop {
            self.sleep.as_mut().await;
            let deadline = self.last_activity + limit;
            if Instant::now() >= deadline {
                return;
            }
            self.sleep.as_mut().reset(deadline);
        }
    }
}
