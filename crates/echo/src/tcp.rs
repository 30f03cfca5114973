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
//!   It is counted in `rejected`. The default stays below the process's descriptor limit
//!   ([`default_max_connections`]), since every connection holds a descriptor.
//! - **Out of descriptors**: if `accept` fails anyway (`ulimit -n` reached, say), the server
//!   pauses [`ACCEPT_BACKOFF`] before the next try instead of spinning on the queued connection,
//!   logs once per [`ACCEPT_LOG_INTERVAL`] with a count, and recovers as connections close.
//! - **Idle timeout**: a connection that sends nothing for that long is closed (`idle_closed`),
//!   within a quarter of the timeout (at most 1 s) after it expires; see [`idle`](mod@crate::idle).
//!   A connection stuck writing to a client that never reads counts as idle too.
//! - **Graceful shutdown**: stop accepting, let open connections finish until the drain deadline,
//!   then cut the rest (`aborted`), and return a [`TcpSummary`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::idle::{self, Activity, IdleWatch};
use crate::shutdown::Shutdown;
use crate::sock::{self, BufferSizes};
use crate::{DEFAULT_PORT, EchoError};

/// After a failed `accept`, wait this long before the next. Out of descriptors, `accept` fails at
/// once for as long as a connection waits in the queue: retrying without a pause takes a whole
/// core and writes millions of warnings.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Failed accepts are logged at most once per this interval, with how many there were.
pub const ACCEPT_LOG_INTERVAL: Duration = Duration::from_secs(5);

/// Descriptors left for everything but connections: the listener, the runtime's own, stdio.
const RESERVED_FDS: u64 = 64;

/// 1,024 connections, or fewer if the process may not open that many descriptors (its soft
/// `RLIMIT_NOFILE`, what `ulimit -n` shows, less a reserve for everything else): with a limit
/// above that, descriptors run out before the limit is reached and `accept` fails instead.
pub fn default_max_connections() -> usize {
    let soft = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(u64::MAX, |(soft, _)| soft);
    soft.saturating_sub(RESERVED_FDS).clamp(1, 1024) as usize
}

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
    /// Default: [`default_max_connections`].
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
            max_connections: default_max_connections(),
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
        let mut idle = config.idle_timeout.map(IdleWatch::new);
        let period = config.idle_timeout.map(idle::sweep_period);
        let mut sweep = tokio::time::interval(period.unwrap_or(Duration::from_secs(3600)));
        sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Set after a failed accept: no accept until then (see ACCEPT_BACKOFF).
        let mut paused_until: Option<Instant> = None;
        let mut failures = AcceptFailures::default();
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                // Reap finished tasks so the set stays small and the watch list accurate.
                Some(ended) = connections.join_next_with_id(), if !connections.is_empty() => {
                    let id = match ended {
                        Ok((id, ())) => id,
                        Err(err) => err.id(),
                    };
                    if let Some(idle) = idle.as_mut() {
                        idle.forget(id);
                    }
                }
                _ = sweep.tick(), if idle.is_some() => {
                    if let Some(idle) = idle.as_mut() {
                        let closed = idle.sweep(Instant::now());
                        self.stats.idle_closed.fetch_add(closed, Ordering::Relaxed);
                    }
                }
                _ = tokio::time::sleep_until(paused_until.unwrap_or_else(Instant::now)),
                    if paused_until.is_some() => paused_until = None,
                accepted = self.listener.accept(), if paused_until.is_none() => match accepted {
                    Ok((stream, peer)) => {
                        admit(&mut connections, idle.as_mut(), stream, peer, &config, &self.stats);
                    }
                    // Out of file descriptors, or a connection reset while queued: keep serving
                    // the open connections, and pause before the next accept (their closing is
                    // what frees descriptors).
                    Err(err) => {
                        self.stats.errors.fetch_add(1, Ordering::Relaxed);
                        let now = Instant::now();
                        failures.note(&err, now);
                        paused_until = Some(now + ACCEPT_BACKOFF);
                    }
                },
            }
        }
        drop(self.listener); // stop accepting: new clients are now refused by the kernel
        let aborted = drain(&mut connections, config.drain_timeout).await;
        summarize(&self.stats, aborted)
    }
}

/// Failed accepts since the last report, reported once per [`ACCEPT_LOG_INTERVAL`].
#[derive(Default)]
struct AcceptFailures {
    unreported: u64,
    next_report: Option<Instant>,
}

impl AcceptFailures {
    fn note(&mut self, err: &std::io::Error, now: Instant) {
        self.unreported += 1;
        if self.next_report.is_some_and(|t| now < t) {
            return;
        }
        tracing::warn!(
            "accept failed ({err}), {} time(s) since the last report; pausing {ACCEPT_BACKOFF:?} \
             after each failure. Out of file descriptors? Raise `ulimit -n` or lower \
             --max-connections",
            self.unreported
        );
        self.unreported = 0;
        self.next_report = Some(now + ACCEPT_LOG_INTERVAL);
    }
}

/// Counts a connection out of `active` however its task ends, aborted included.
struct ActiveGuard(Arc<TcpStats>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

fn admit(
    connections: &mut JoinSet<()>,
    idle: Option<&mut IdleWatch>,
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
    let guard = ActiveGuard(Arc::clone(stats));
    let activity = Arc::new(Activity::default());
    let (config, stats, reads) = (Arc::clone(config), Arc::clone(stats), Arc::clone(&activity));
    let task = connections.spawn(async move {
        let _guard = guard;
        if let Err(err) = serve_connection(stream, &config, &stats, &reads).await {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            tracing::info!("{peer}: {err}");
        }
    });
    if let Some(idle) = idle {
        idle.watch(activity, task, Instant::now());
    }
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

/// Echoes one connection until the client's FIN or an error (the idle sweep may abort it).
async fn serve_connection(
    mut stream: TcpStream,
    config: &TcpConfig,
    stats: &TcpStats,
    reads: &Activity,
) -> std::io::Result<()> {
    stream.set_nodelay(config.nodelay)?;
    let mut buf = vec![0u8; config.read_buffer.max(1)];
    loop {
        let n = stream.read(&mut buf).await?;
        reads.touch();
        if n == 0 {
            // Half-close: the client will send no more. Everything read is already echoed,
            // so shut our write side too; the client sees end of stream after the last byte.
            return stream.shutdown().await;
        }
        stats.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
        stream.write_all(&buf[..n]).await?;
        stats.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
    }
}
