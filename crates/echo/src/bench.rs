//! The load generator: many connections, fixed-size messages, throughput and latency.
//!
//! Two modes:
//! - **ping-pong**: send one message, wait for its echo, repeat. Measures latency; throughput is
//!   bounded by one round trip per message per connection.
//! - **pipelined**: keep up to `depth` messages in flight per connection. Measures throughput;
//!   latency then includes queueing behind the earlier messages.
//!
//! Latency goes into an HDR histogram (3 significant digits, 1 ns to 60 s) so percentiles cost
//! no per-sample memory. MB/s counts payload echoed (each byte sent once and received once),
//! with 1 MB = 1,000,000 bytes. Progress is a shared counter of messages done, so a caller can
//! draw a progress bar without this crate knowing about terminals.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout, timeout_at};

use crate::{EchoError, MAX_UDP_PAYLOAD, Proto, sock};

/// How messages are sent on each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum BenchMode {
    PingPong,
    Pipelined { depth: usize },
}

/// When the run stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BenchLimit {
    /// Run for this long.
    Duration(Duration),
    /// Send this many messages in total, spread over the connections.
    Messages(u64),
}

/// What to measure.
#[derive(Clone, Debug, Serialize)]
pub struct BenchConfig {
    pub proto: Proto,
    pub target: SocketAddr,
    /// Concurrent connections (TCP) or sockets (UDP).
    pub connections: usize,
    /// Message size in bytes (UDP: at least 8, for the sequence number).
    pub size: usize,
    pub limit: BenchLimit,
    pub mode: BenchMode,
    /// UDP: a message not echoed within this is counted lost. TCP: a stall this long fails.
    pub timeout: Duration,
}

impl BenchConfig {
    /// One connection, 64-byte ping-pong for 2 seconds.
    pub fn new(proto: Proto, target: SocketAddr) -> Self {
        BenchConfig {
            proto,
            target,
            connections: 1,
            size: 64,
            limit: BenchLimit::Duration(Duration::from_secs(2)),
            mode: BenchMode::PingPong,
            timeout: Duration::from_secs(1),
        }
    }

    fn validate(&self) -> Result<(), EchoError> {
        let bad = |m: String| Err(EchoError::InvalidConfig(m));
        if self.connections == 0 {
            return bad("--connections must be at least 1".into());
        }
        if let BenchMode::Pipelined { depth: 0 } = self.mode {
            return bad("the pipeline --depth must be at least 1".into());
        }
        match self.proto {
            Proto::Tcp if self.size == 0 => bad("--size must be at least 1 byte".into()),
            Proto::Udp if self.size > MAX_UDP_PAYLOAD => {
                Err(EchoError::PayloadTooLarge { size: self.size })
            }
            Proto::Udp if self.size < 8 => {
                bad("over UDP --size must be at least 8 bytes (the sequence number)".into())
            }
            _ => Ok(()),
        }
    }
}

/// Latency percentiles in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

/// What a bench run measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchReport {
    pub proto: Proto,
    pub target: SocketAddr,
    pub connections: usize,
    pub size: usize,
    /// In JSON: `"mode": "ping_pong"`, or `"mode": "pipelined", "depth": N`.
    #[serde(flatten)]
    pub mode: BenchMode,
    /// Messages echoed back.
    pub messages: u64,
    /// UDP messages never echoed within the timeout.
    pub lost: u64,
    pub elapsed_s: f64,
    pub msgs_per_sec: f64,
    pub mb_per_sec: f64,
    pub latency: Latency,
}

/// One connection's tally.
struct Tally {
    hist: Histogram<u64>,
    messages: u64,
    lost: u64,
}

impl Tally {
    fn new() -> Self {
        let hist = Histogram::new_with_bounds(1, 60_000_000_000, 3)
            .expect("constant histogram bounds are valid");
        Tally {
            hist,
            messages: 0,
            lost: 0,
        }
    }

    fn record(&mut self, latency: Duration, progress: &AtomicU64) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.hist.saturating_record(ns.max(1));
        self.messages += 1;
        progress.fetch_add(1, Ordering::Relaxed);
    }
}

/// Hands out work: a deadline, or a shared count of messages still to send.
#[derive(Clone)]
struct Budget {
    deadline: Option<Instant>,
    remaining: Option<Arc<AtomicU64>>,
}

impl Budget {
    fn new(limit: BenchLimit, start: Instant) -> Self {
        match limit {
            BenchLimit::Duration(d) => Budget {
                deadline: Some(start + d),
                remaining: None,
            },
            BenchLimit::Messages(n) => Budget {
                deadline: None,
                remaining: Some(Arc::new(AtomicU64::new(n))),
            },
        }
    }

    /// Claims one message; false when the run is over.
    fn take(&self) -> bool {
        if let Some(deadline) = self.deadline {
            return Instant::now() < deadline;
        }
        self.remaining.as_ref().is_some_and(|r| {
            r.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
        })
    }
}

/// Runs the benchmark. `progress` counts messages echoed so far, for a progress bar.
pub async fn run_bench(
    config: &BenchConfig,
    progress: Arc<AtomicU64>,
) -> Result<BenchReport, EchoError> {
    config.validate()?;
    let conns = connect_all(config).await?;
    let start = Instant::now();
    let budget = Budget::new(config.limit, start);
    let mut workers = tokio::task::JoinSet::new();
    for conn in conns {
        let (config, budget, progress) = (config.clone(), budget.clone(), progress.clone());
        workers.spawn(async move { conn.run(&config, &budget, &progress).await });
    }
    let mut total = Tally::new();
    while let Some(joined) = workers.join_next().await {
        let tally = joined.map_err(|e| EchoError::io("a bench task failed", e.into()))??;
        total
            .hist
            .add(&tally.hist)
            .expect("histograms with equal bounds always merge");
        total.messages += tally.messages;
        total.lost += tally.lost;
    }
    Ok(report(config, &total, start.elapsed()))
}

fn report(config: &BenchConfig, total: &Tally, elapsed: Duration) -> BenchReport {
    let secs = elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
    let us = |ns: u64| ns as f64 / 1e3;
    let h = &total.hist;
    let latency = if h.is_empty() {
        Latency::default()
    } else {
        Latency {
            mean_us: h.mean() / 1e3,
            p50_us: us(h.value_at_quantile(0.50)),
            p90_us: us(h.value_at_quantile(0.90)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
        }
    };
    BenchReport {
        proto: config.proto,
        target: config.target,
        connections: config.connections,
        size: config.size,
        mode: config.mode,
        messages: total.messages,
        lost: total.lost,
        elapsed_s: secs,
        msgs_per_sec: total.messages as f64 / secs,
        mb_per_sec: (total.messages * config.size as u64) as f64 / secs / 1e6,
        latency,
    }
}

/// An open connection (or connected UDP socket), before the clock starts.
enum Conn {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

async fn connect_all(config: &BenchConfig) -> Result<Vec<Conn>, EchoError> {
    let mut conns = Vec::with_capacity(config.connections);
    for _ in 0..config.connections {
        conns.push(connect(config).await?);
    }
    Ok(conns)
}

async fn connect(config: &BenchConfig) -> Result<Conn, EchoError> {
    let (target, proto) = (config.target, config.proto);
    let map = |e| EchoError::from_io(target, proto, "cannot connect to", e);
    match proto {
        Proto::Tcp => {
            let stream = timeout(config.timeout, TcpStream::connect(target))
                .await
                .map_err(|_| EchoError::timeout("the TCP handshake", config.timeout, proto))?
                .map_err(map)?;
            stream
                .set_nodelay(true)
                .map_err(|e| EchoError::io("cannot set TCP_NODELAY", e))?;
            Ok(Conn::Tcp(stream))
        }
        Proto::Udp => Ok(Conn::Udp(sock::udp_client(target).await?)),
    }
}

impl Conn {
    async fn run(
        self,
        config: &BenchConfig,
        budget: &Budget,
        progress: &AtomicU64,
    ) -> Result<Tally, EchoError> {
        match (self, config.mode) {
            (Conn::Tcp(s), BenchMode::PingPong) => tcp_ping_pong(s, config, budget, progress).await,
            (Conn::Tcp(s), BenchMode::Pipelined { depth }) => {
                tcp_pipelined(s, depth, config, budget, progress).await
            }
            (Conn::Udp(s), BenchMode::PingPong) => udp_window(s, 1, config, budget, progress).await,
            (Conn::Udp(s), BenchMode::Pipelined { depth }) => {
                udp_window(s, depth, config, budget, progress).await
            }
        }
    }
}

fn tcp_error(config: &BenchConfig, e: std::io::Error) -> EchoError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        return EchoError::ClosedEarly {
            addr: config.target,
        };
    }
    EchoError::from_io(config.target, Proto::Tcp, "echo from", e)
}

async fn tcp_ping_pong(
    mut stream: TcpStream,
    config: &BenchConfig,
    budget: &Budget,
    progress: &AtomicU64,
) -> Result<Tally, EchoError> {
    let message = vec![0xA5u8; config.size];
    let mut echo = vec![0u8; config.size];
    let mut tally = Tally::new();
    while budget.take() {
        let sent = Instant::now();
        let round_trip = async {
            stream.write_all(&message).await?;
            stream.read_exact(&mut echo).await
        };
        timeout(config.timeout, round_trip)
            .await
            .map_err(|_| EchoError::timeout("an echo", config.timeout, Proto::Tcp))?
            .map_err(|e| tcp_error(config, e))?;
        tally.record(sent.elapsed(), progress);
    }
    Ok(tally)
}

/// Writer and reader run side by side; a channel of send times, `depth` long, is both the
/// record of what is in flight and the brake on the writer.
async fn tcp_pipelined(
    stream: TcpStream,
    depth: usize,
    config: &BenchConfig,
    budget: &Budget,
    progress: &AtomicU64,
) -> Result<Tally, EchoError> {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Instant>(depth);
    let message = vec![0xA5u8; config.size];
    let writer = async move {
        while budget.take() {
            if tx.send(Instant::now()).await.is_err() {
                break; // the reader failed; its error is the one to report
            }
            wr.write_all(&message).await?;
        }
        wr.shutdown().await // half-close: the server echoes the rest, then closes
    };
    let reader = async move {
        let mut echo = vec![0u8; config.size];
        let mut tally = Tally::new();
        while let Some(sent) = rx.recv().await {
            timeout(config.timeout, rd.read_exact(&mut echo))
                .await
                .map_err(|_| EchoError::timeout("an echo", config.timeout, Proto::Tcp))?
                .map_err(|e| tcp_error(config, e))?;
            tally.record(sent.elapsed(), progress);
        }
        Ok::<_, EchoError>(tally)
    };
    let (written, tally) = tokio::join!(writer, reader);
    let tally = tally?;
    written.map_err(|e| tcp_error(config, e))?;
    Ok(tally)
}

/// UDP with up to `depth` datagrams in flight (1 = ping-pong). Each datagram starts with its
/// sequence number, so a late echo is never taken for the current one.
async fn udp_window(
    socket: UdpSocket,
    depth: usize,
    config: &BenchConfig,
    budget: &Budget,
    progress: &AtomicU64,
) -> Result<Tally, EchoError> {
    let mut message = vec![0x5Au8; config.size];
    let mut echo = vec![0u8; MAX_UDP_PAYLOAD + 1];
    let mut in_flight: VecDeque<(u64, Instant)> = VecDeque::with_capacity(depth);
    let mut tally = Tally::new();
    let (mut seq, mut more) = (0u64, true);
    let io_err = |e| EchoError::from_io(config.target, Proto::Udp, "echo from", e);
    loop {
        while more && in_flight.len() < depth {
            more = budget.take();
            if more {
                message[..8].copy_from_slice(&seq.to_be_bytes());
                socket.send(&message).await.map_err(io_err)?;
                in_flight.push_back((seq, Instant::now()));
                seq += 1;
            }
        }
        let Some(&(_, oldest)) = in_flight.front() else {
            return Ok(tally);
        };
        match timeout_at(oldest + config.timeout, socket.recv(&mut echo)).await {
            Err(_) => {
                in_flight.pop_front();
                tally.lost += 1;
            }
            Ok(Err(e)) => return Err(io_err(e)),
            Ok(Ok(n)) if n >= 8 => {
                let got = u64::from_be_bytes(echo[..8].try_into().expect("8 bytes"));
                if let Some(i) = in_flight.iter().position(|&(s, _)| s == got) {
                    let (_, sent) = in_flight.remove(i).expect("index from position");
                    tally.record(sent.elapsed(), progress);
                }
            }
            Ok(Ok(_)) => {} // too short to be ours
        }
    }
}
