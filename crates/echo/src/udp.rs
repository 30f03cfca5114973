//! The UDP echo server: each datagram comes back as one datagram, boundaries preserved.
//!
//! Unlike TCP there are no connections: one socket, one loop, `recv_from` then `send_to` the
//! address the datagram came from. Payloads of 0 to 65,507 bytes are echoed whole (65,527 over
//! IPv6, whose header is not counted in its payload length).
//!
//! Two optional stages sit between receive and reply:
//! - [`impair`](crate::impair): drop, delay (+ jitter), duplicate, reorder, seeded. Delayed
//!   replies wait in a queue bounded in bytes ([`DEFAULT_MAX_DELAYED_BYTES`]): beyond it a
//!   datagram is not answered, and counted in `delay_queue_full`, so that a flood at a long
//!   `--delay` cannot take the machine's memory.
//! - [`ratelimit`](crate::ratelimit): anti-reflection, on by default (see that module for why).
//!
//! With neither, the loop is the bare `recv_from`/`send_to` pair: a benchmark then measures
//! the socket, not the features.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::time::Instant;

use crate::impair::{Decision, Impairer, ImpairmentConfig};
use crate::ratelimit::{Limiter, RateLimit};
use crate::shutdown::Shutdown;
use crate::sock::{self, BufferSizes};
use crate::{DEFAULT_PORT, EchoError};

/// A reply held back for reordering goes out after the next reply, or after this long if no
/// other datagram comes: reordering is visible when datagrams are closer together than this.
pub const REORDER_HOLD: Duration = Duration::from_millis(200);

/// How many bytes of delayed replies the server holds at most, by default. 16 MiB is about 250
/// datagrams of 64 KB, or 11,000 of ping's size: far more than a lab sends.
pub const DEFAULT_MAX_DELAYED_BYTES: usize = 16 << 20;

/// What one delayed reply costs against that bound beyond its payload (its queue entry), so
/// that a flood of empty datagrams is bounded too.
pub const DELAY_ENTRY_COST: usize = 128;

/// The receive buffer: big enough for any UDP payload, IPv6's 65,527 bytes included. One byte
/// short and the kernel would cut the datagram without a word.
const RECV_BUFFER: usize = 65_536;

/// How a [`UdpEchoServer`] binds and behaves.
#[derive(Clone, Debug, Serialize)]
pub struct UdpConfig {
    /// Where to listen; port 0 asks the kernel for a free port.
    pub bind: SocketAddr,
    /// SO_RCVBUF / SO_SNDBUF. A bigger receive buffer drops fewer datagrams in bursts.
    pub buffers: BufferSizes,
    /// Per-source reply limit; `None` switches anti-reflection off (benchmarks only).
    pub anti_reflection: Option<RateLimit>,
    /// What to do to datagrams; the default does nothing.
    pub impairment: ImpairmentConfig,
}

impl UdpConfig {
    /// Defaults on 127.0.0.1 at `port` (0 for any free port): anti-reflection on, no impairment.
    pub fn loopback(port: u16) -> Self {
        UdpConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], port)),
            buffers: BufferSizes::default(),
            anti_reflection: Some(RateLimit::default()),
            impairment: ImpairmentConfig::default(),
        }
    }
}

impl Default for UdpConfig {
    fn default() -> Self {
        UdpConfig::loopback(DEFAULT_PORT)
    }
}

/// Live counters, readable while the server runs.
#[derive(Debug, Default)]
pub struct UdpStats {
    pub received: AtomicU64,
    pub replied: AtomicU64,
    pub dropped: AtomicU64,
    pub delayed: AtomicU64,
    pub duplicated: AtomicU64,
    pub reordered: AtomicU64,
    pub rate_limited: AtomicU64,
    pub delay_queue_full: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub errors: AtomicU64,
}

/// What a UDP server did, returned when it stops.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UdpSummary {
    /// Datagrams received.
    pub received: u64,
    /// Datagrams sent back (duplicates included).
    pub replied: u64,
    /// Dropped on purpose by the impairment.
    pub dropped: u64,
    /// Held for a delay before the reply.
    pub delayed: u64,
    /// Replies sent a second time.
    pub duplicated: u64,
    /// Replies held back to go out after the next one.
    pub reordered: u64,
    /// Replies not sent because the source exceeded its anti-reflection limit.
    pub rate_limited: u64,
    /// Not answered because the queue of delayed replies was full (see the module docs).
    pub delay_queue_full: u64,
    /// Payload bytes received.
    pub bytes_in: u64,
    /// Payload bytes sent.
    pub bytes_out: u64,
    /// Send or receive errors.
    pub errors: u64,
}

impl UdpStats {
    /// A snapshot of the counters.
    pub fn summary(&self) -> UdpSummary {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        UdpSummary {
            received: get(&self.received),
            replied: get(&self.replied),
            dropped: get(&self.dropped),
            delayed: get(&self.delayed),
            duplicated: get(&self.duplicated),
            reordered: get(&self.reordered),
            rate_limited: get(&self.rate_limited),
            delay_queue_full: get(&self.delay_queue_full),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
            errors: get(&self.errors),
        }
    }
}

/// A bound UDP echo server, ready to [`run`](UdpEchoServer::run).
pub struct UdpEchoServer {
    socket: UdpSocket,
    local_addr: SocketAddr,
    config: UdpConfig,
    stats: Arc<UdpStats>,
    max_delayed_bytes: usize,
}

impl UdpEchoServer {
    /// Binds with `config`. Fails with a student-readable [`EchoError`].
    pub async fn bind(config: UdpConfig) -> Result<Self, EchoError> {
        config.impairment.validate()?;
        if let Some(limit) = config.anti_reflection {
            limit.validate()?;
        }
        let socket = sock::udp_socket(config.bind, config.buffers)?;
        let local_addr = socket
            .local_addr()
            .map_err(|e| EchoError::io("cannot read the bound address", e))?;
        Ok(UdpEchoServer {
            socket,
            local_addr,
            config,
            stats: Arc::default(),
            max_delayed_bytes: DEFAULT_MAX_DELAYED_BYTES,
        })
    }

    /// Bound the queue of delayed replies to `bytes` (counting [`DELAY_ENTRY_COST`] per reply)
    /// instead of [`DEFAULT_MAX_DELAYED_BYTES`].
    pub fn with_max_delayed_bytes(mut self, bytes: usize) -> Self {
        self.max_delayed_bytes = bytes;
        self
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The live counters.
    pub fn stats(&self) -> Arc<UdpStats> {
        Arc::clone(&self.stats)
    }

    /// Serves until `shutdown` fires and returns what happened. Replies still delayed at that
    /// moment are not sent.
    pub async fn run(self, mut shutdown: Shutdown) -> UdpSummary {
        let mut buf = vec![0u8; RECV_BUFFER];
        let mut stop = pin!(shutdown.wait());
        let mut stage = Stage {
            socket: &self.socket,
            stats: &self.stats,
            limiter: self.config.anti_reflection.map(Limiter::new),
            impairer: (!self.config.impairment.is_none())
                .then(|| Impairer::new(self.config.impairment.clone())),
            pending: BinaryHeap::new(),
            delayed_bytes: 0,
            max_delayed_bytes: self.max_delayed_bytes,
            held: None,
            order: 0,
        };
        loop {
            let next_due = stage.pending.peek().map(|Reverse(p)| p.due);
            let hold_due = stage.held.as_ref().map(|(_, due)| *due);
            tokio::select! {
                biased;
                _ = &mut stop => break,
                _ = sleep_until(next_due), if next_due.is_some() => stage.release_due().await,
                _ = sleep_until(hold_due), if hold_due.is_some() => stage.flush_held().await,
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((n, peer)) => {
                        stage.on_datagram(&buf[..n], peer).await;
                        stage.drain_ready(&mut buf).await;
                    }
                    Err(err) => note_recv_error(&self.stats, err),
                },
            }
        }
        self.stats.summary()
    }
}

async fn sleep_until(when: Option<Instant>) {
    if let Some(when) = when {
        tokio::time::sleep_until(when).await;
    }
}

fn note_recv_error(stats: &UdpStats, err: io::Error) {
    // Linux reports an ICMP "port unreachable" caused by an earlier reply (the client has gone)
    // on the next receive. That is the client's business, not a server error.
    if matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
    ) {
        tracing::debug!("earlier reply was refused: {err}");
        return;
    }
    stats.errors.fetch_add(1, Ordering::Relaxed);
    tracing::warn!("receive failed: {err}");
}

/// A reply waiting for its time.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    due: Instant,
    order: u64, // arrival order breaks ties, so equal delays keep their order
    peer: SocketAddr,
    data: Vec<u8>,
    duplicate: bool,
    reorder: bool,
}

fn delay_cost(reply: &Pending) -> usize {
    DELAY_ENTRY_COST + reply.data.len()
}

/// The reply path: impairment, then reordering, then the rate limit, then the socket.
struct Stage<'a> {
    socket: &'a UdpSocket,
    stats: &'a UdpStats,
    limiter: Option<Limiter>,
    impairer: Option<Impairer>,
    pending: BinaryHeap<Reverse<Pending>>,
    /// What `pending` holds, counted as [`DELAY_ENTRY_COST`] plus the payload per reply.
    delayed_bytes: usize,
    max_delayed_bytes: usize,
    held: Option<(Pending, Instant)>,
    order: u64,
}

/// Datagrams taken per wake-up without going back to `select!`: fewer polls of the timers and
/// the shutdown signal under load, and still a bounded wait before a shutdown is seen.
const DRAIN_BATCH: usize = 32;

impl Stage<'_> {
    /// Echoes the datagrams already queued in the socket, up to [`DRAIN_BATCH`].
    async fn drain_ready(&mut self, buf: &mut [u8]) {
        for _ in 0..DRAIN_BATCH {
            match self.socket.try_recv_from(buf) {
                Ok((n, peer)) => self.on_datagram(&buf[..n], peer).await,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) => note_recv_error(self.stats, err),
            }
        }
    }

    async fn on_datagram(&mut self, data: &[u8], peer: SocketAddr) {
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        self.stats
            .bytes_in
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        let Some(impairer) = self.impairer.as_mut() else {
            // Fast path: no copy, no queue.
            self.send_one(data, peer).await;
            return;
        };
        let decision: Decision = impairer.decide();
        if decision.drop {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.order += 1;
        let reply = Pending {
            due: Instant::now() + decision.delay,
            order: self.order,
            peer,
            data: data.to_vec(),
            duplicate: decision.duplicate,
            reorder: decision.reorder,
        };
        if decision.delay.is_zero() {
            self.deliver(reply).await;
        } else if self.delayed_bytes + delay_cost(&reply) > self.max_delayed_bytes {
            self.stats.delay_queue_full.fetch_add(1, Ordering::Relaxed);
        } else {
            self.stats.delayed.fetch_add(1, Ordering::Relaxed);
            self.delayed_bytes += delay_cost(&reply);
            self.pending.push(Reverse(reply));
        }
    }

    async fn release_due(&mut self) {
        let now = Instant::now();
        while self.pending.peek().is_some_and(|Reverse(p)| p.due <= now) {
            if let Some(Reverse(reply)) = self.pending.pop() {
                self.delayed_bytes -= delay_cost(&reply);
                self.deliver(reply).await;
            }
        }
    }

    async fn flush_held(&mut self) {
        if let Some((reply, _)) = self.held.take() {
            self.send(&reply).await;
        }
    }

    /// Sends a reply, unless it is to be held back; a held reply goes out right after.
    async fn deliver(&mut self, reply: Pending) {
        if reply.reorder && self.held.is_none() {
            self.stats.reordered.fetch_add(1, Ordering::Relaxed);
            self.held = Some((reply, Instant::now() + REORDER_HOLD));
            return;
        }
        self.send(&reply).await;
        self.flush_held().await;
    }

    async fn send(&mut self, reply: &Pending) {
        self.send_one(&reply.data, reply.peer).await;
        if reply.duplicate {
            self.stats.duplicated.fetch_add(1, Ordering::Relaxed);
            self.send_one(&reply.data, reply.peer).await;
        }
    }

    /// The only place that sends: the reply is the request's own bytes, so it is never larger
    /// than the request, and every copy (duplicates too) pays a token.
    async fn send_one(&mut self, data: &[u8], peer: SocketAddr) {
        if let Some(limiter) = self.limiter.as_mut()
            && !limiter.allow(peer.ip(), std::time::Instant::now())
        {
            self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match self.socket.send_to(data, peer).await {
            Ok(n) => {
                self.stats.replied.fetch_add(1, Ordering::Relaxed);
                self.stats.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(err) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::info!("reply to {peer} failed: {err}");
            }
        }
    }
}
