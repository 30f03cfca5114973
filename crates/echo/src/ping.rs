//! The pinger: probes with sequence numbers, then loss, duplicates, reordering and RTT figures.
//!
//! Each probe is `size` bytes: an 8-byte big-endian sequence number, then a filler derived from
//! it, so a reply can be matched to its probe and checked byte for byte. Over UDP probes go out
//! every `interval` whether or not replies came (as `ping` does); over TCP the stream keeps
//! order, so each probe waits for its reply, and the connect (the three-way handshake) is timed
//! on its own because it costs a round trip too.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout_at};

use crate::{EchoError, MAX_UDP_PAYLOAD, Proto, sock};

/// The smallest probe: the sequence number alone.
pub const MIN_PROBE: usize = 8;

/// What to ping and how.
#[derive(Clone, Debug, Serialize)]
pub struct PingConfig {
    pub proto: Proto,
    pub target: SocketAddr,
    /// Probes to send.
    pub count: u64,
    /// Time between probe starts.
    pub interval: Duration,
    /// How long to wait for each reply before calling it lost.
    pub timeout: Duration,
    /// Probe size in bytes (at least 8).
    pub size: usize,
}

impl PingConfig {
    /// Five 64-byte probes, 200 ms apart, 1 s timeout.
    pub fn new(proto: Proto, target: SocketAddr) -> Self {
        PingConfig {
            proto,
            target,
            count: 5,
            interval: Duration::from_millis(200),
            timeout: Duration::from_secs(1),
            size: 64,
        }
    }

    fn validate(&self) -> Result<(), EchoError> {
        if self.size < MIN_PROBE {
            return Err(EchoError::InvalidConfig(format!(
                "--size must be at least {MIN_PROBE} bytes (the sequence number), not {}",
                self.size
            )));
        }
        if self.proto == Proto::Udp && self.size > MAX_UDP_PAYLOAD {
            return Err(EchoError::PayloadTooLarge { size: self.size });
        }
        if self.count == 0 {
            return Err(EchoError::InvalidConfig(
                "--count must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// One thing that happened, reported as it happens (the per-probe lines).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PingEvent {
    /// TCP only: the handshake finished.
    Connected { connect_ms: f64 },
    /// A reply to a probe not yet answered.
    Reply { seq: u64, bytes: usize, rtt_ms: f64 },
    /// A second reply to the same probe (UDP duplication).
    Duplicate { seq: u64, rtt_ms: f64 },
    /// A reply that came after its probe had timed out.
    Late { seq: u64, rtt_ms: f64 },
    /// No reply within the timeout.
    Timeout { seq: u64 },
}

/// Round-trip times in milliseconds. mdev is the standard deviation, as Linux `ping` prints it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RttStats {
    pub min_ms: f64,
    pub avg_ms: f64,
    pub max_ms: f64,
    pub mdev_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl RttStats {
    /// The figures of a set of samples; `None` when there are none.
    pub fn from_samples(samples: &[Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let n = ms.len() as f64;
        let avg = ms.iter().sum::<f64>() / n;
        let var = (ms.iter().map(|x| x * x).sum::<f64>() / n - avg * avg).max(0.0);
        Some(RttStats {
            min_ms: ms[0],
            avg_ms: avg,
            max_ms: ms[ms.len() - 1],
            mdev_ms: var.sqrt(),
            p50_ms: percentile(&ms, 50.0),
            p99_ms: percentile(&ms, 99.0),
        })
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The result of a ping run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PingSummary {
    pub proto: Proto,
    pub target: SocketAddr,
    pub sent: u64,
    pub received: u64,
    pub loss_percent: f64,
    pub duplicates: u64,
    /// Replies that came after a reply to a later probe.
    pub reordered: u64,
    /// Replies that came after their timeout (counted as lost).
    pub late: u64,
    /// TCP only: the three-way handshake.
    pub connect_ms: Option<f64>,
    /// `None` when no reply came.
    pub rtt: Option<RttStats>,
}

/// Builds the probe for `seq`: the sequence number, then a filler that depends on it.
pub fn probe(seq: u64, size: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(size);
    bytes.extend_from_slice(&seq.to_be_bytes());
    bytes.extend((MIN_PROBE..size).map(|i| (seq as usize).wrapping_add(i) as u8));
    bytes
}

/// The sequence number of a reply, if it is a well-formed reply to one of our probes.
fn reply_seq(reply: &[u8], size: usize) -> Option<u64> {
    let seq = u64::from_be_bytes(reply.get(..MIN_PROBE)?.try_into().ok()?);
    (reply.len() == size && reply == probe(seq, size)).then_some(seq)
}

/// Bookkeeping shared by the TCP and UDP pingers.
struct Tracker<'a> {
    sent_at: Vec<Instant>,
    answered: Vec<bool>,
    timed_out: Vec<bool>,
    rtts: Vec<Duration>,
    duplicates: u64,
    reordered: u64,
    late: u64,
    highest: Option<u64>,
    on_event: &'a mut dyn FnMut(&PingEvent),
}

impl Tracker<'_> {
    fn sent(&mut self, now: Instant) -> u64 {
        self.sent_at.push(now);
        self.answered.push(false);
        self.timed_out.push(false);
        self.sent_at.len() as u64 - 1
    }

    fn reply(&mut self, seq: u64, bytes: usize, now: Instant) {
        let Some(&sent) = self.sent_at.get(seq as usize) else {
            return; // not a probe of ours
        };
        let i = seq as usize;
        let rtt = now - sent;
        let rtt_ms = rtt.as_secs_f64() * 1e3;
        let event = if self.answered[i] {
            self.duplicates += 1;
            PingEvent::Duplicate { seq, rtt_ms }
        } else if self.timed_out[i] {
            self.answered[i] = true;
            self.late += 1;
            PingEvent::Late { seq, rtt_ms }
        } else {
            self.answered[i] = true;
            if self.highest.is_some_and(|h| seq < h) {
                self.reordered += 1;
            }
            self.highest = self.highest.max(Some(seq));
            self.rtts.push(rtt);
            PingEvent::Reply { seq, bytes, rtt_ms }
        };
        (self.on_event)(&event);
    }

    fn time_out(&mut self, seq: u64) {
        let i = seq as usize;
        if !self.answered[i] && !self.timed_out[i] {
            self.timed_out[i] = true;
            (self.on_event)(&PingEvent::Timeout { seq });
        }
    }

    fn summary(&self, config: &PingConfig, connect: Option<Duration>) -> PingSummary {
        let sent = self.sent_at.len() as u64;
        let received = self.rtts.len() as u64;
        PingSummary {
            proto: config.proto,
            target: config.target,
            sent,
            received,
            loss_percent: if sent == 0 {
                0.0
            } else {
                (sent - received) as f64 * 100.0 / sent as f64
            },
            duplicates: self.duplicates,
            reordered: self.reordered,
            late: self.late,
            connect_ms: connect.map(|d| d.as_secs_f64() * 1e3),
            rtt: RttStats::from_samples(&self.rtts),
        }
    }
}

/// Pings `config.target`, calling `on_event` for each probe's fate, and returns the summary.
/// A run where every probe timed out still returns `Ok`: loss is a result, not an error.
pub async fn ping(
    config: &PingConfig,
    mut on_event: impl FnMut(&PingEvent),
) -> Result<PingSummary, EchoError> {
    config.validate()?;
    let mut tracker = Tracker {
        sent_at: Vec::new(),
        answered: Vec::new(),
        timed_out: Vec::new(),
        rtts: Vec::new(),
        duplicates: 0,
        reordered: 0,
        late: 0,
        highest: None,
        on_event: &mut on_event,
    };
    let connect = match config.proto {
        Proto::Udp => {
            ping_udp(config, &mut tracker).await?;
            None
        }
        Proto::Tcp => Some(ping_tcp(config, &mut tracker).await?),
    };
    Ok(tracker.summary(config, connect))
}

async fn ping_udp(config: &PingConfig, tracker: &mut Tracker<'_>) -> Result<(), EchoError> {
    let (target, proto) = (config.target, Proto::Udp);
    // Connected: replies come only from the target, and "no server there" is an error.
    let socket = sock::udp_client(target).await?;
    let mut buf = vec![0u8; MAX_UDP_PAYLOAD + 1];
    let mut outstanding: VecDeque<u64> = VecDeque::new();
    let start = Instant::now();
    for k in 0..config.count {
        let send_at = start + config.interval * k as u32;
        wait_replies(
            &socket,
            &mut buf,
            config,
            tracker,
            &mut outstanding,
            send_at,
        )
        .await?;
        let seq = tracker.sent(Instant::now());
        socket
            .send(&probe(seq, config.size))
            .await
            .map_err(|e| EchoError::from_io(target, proto, "cannot send to", e))?;
        outstanding.push_back(seq);
    }
    let end = Instant::now() + config.timeout;
    wait_replies(&socket, &mut buf, config, tracker, &mut outstanding, end).await
}

/// Receives replies until `until`, or until nothing is outstanding and `until` is the end.
async fn wait_replies(
    socket: &UdpSocket,
    buf: &mut [u8],
    config: &PingConfig,
    tracker: &mut Tracker<'_>,
    outstanding: &mut VecDeque<u64>,
    until: Instant,
) -> Result<(), EchoError> {
    loop {
        expire(config, tracker, outstanding);
        let deadline = outstanding
            .front()
            .map(|&seq| (tracker.sent_at[seq as usize] + config.timeout).min(until))
            .unwrap_or(until);
        if outstanding.is_empty() && tracker.sent_at.len() as u64 == config.count {
            return Ok(()); // everything answered: no need to wait for the end
        }
        match timeout_at(deadline, socket.recv(buf)).await {
            Err(_) if deadline >= until => return Ok(()),
            Err(_) => continue,
            Ok(Err(e)) => return Err(EchoError::from_io(config.target, Proto::Udp, "from", e)),
            Ok(Ok(n)) => {
                if let Some(seq) = reply_seq(&buf[..n], config.size) {
                    tracker.reply(seq, n, Instant::now());
                    outstanding.retain(|&s| s != seq);
                }
            }
        }
    }
}

fn expire(config: &PingConfig, tracker: &mut Tracker<'_>, outstanding: &mut VecDeque<u64>) {
    let now = Instant::now();
    while let Some(&seq) = outstanding.front() {
        if tracker.sent_at[seq as usize] + config.timeout > now {
            break;
        }
        outstanding.pop_front();
        tracker.time_out(seq);
    }
}

async fn ping_tcp(config: &PingConfig, tracker: &mut Tracker<'_>) -> Result<Duration, EchoError> {
    let (target, proto) = (config.target, Proto::Tcp);
    let started = Instant::now();
    let mut stream = match timeout_at(started + config.timeout, TcpStream::connect(target)).await {
        Err(_) => {
            return Err(EchoError::timeout(
                "the TCP handshake",
                config.timeout,
                proto,
            ));
        }
        Ok(Err(e)) => return Err(EchoError::from_io(target, proto, "cannot connect to", e)),
        Ok(Ok(stream)) => stream,
    };
    let connect = started.elapsed();
    (tracker.on_event)(&PingEvent::Connected {
        connect_ms: connect.as_secs_f64() * 1e3,
    });
    // Small probes must leave at once, not wait for Nagle's algorithm.
    stream
        .set_nodelay(true)
        .map_err(|e| EchoError::io("cannot set TCP_NODELAY", e))?;
    let mut pending = Vec::with_capacity(2 * config.size);
    let start = Instant::now();
    for k in 0..config.count {
        tokio::time::sleep_until(start + config.interval * k as u32).await;
        let seq = tracker.sent(Instant::now());
        stream
            .write_all(&probe(seq, config.size))
            .await
            .map_err(|e| EchoError::from_io(target, proto, "cannot send to", e))?;
        let deadline = Instant::now() + config.timeout;
        read_reply(&mut stream, &mut pending, config, tracker, seq, deadline).await?;
    }
    Ok(connect)
}

/// Reads replies until the one for `seq` (earlier, late ones are reported as late).
async fn read_reply(
    stream: &mut TcpStream,
    pending: &mut Vec<u8>,
    config: &PingConfig,
    tracker: &mut Tracker<'_>,
    seq: u64,
    deadline: Instant,
) -> Result<(), EchoError> {
    let (target, size) = (config.target, config.size);
    loop {
        if pending.len() >= size {
            let reply: Vec<u8> = pending.drain(..size).collect();
            let got = reply_seq(&reply, size).ok_or_else(|| EchoError::Mismatch {
                addr: target,
                detail: format!("probe {seq} came back altered"),
            })?;
            tracker.reply(got, size, Instant::now());
            if got >= seq {
                return Ok(());
            }
            continue;
        }
        // `read_buf` is cancel-safe: a timeout never loses bytes already read, so a late
        // reply is still found, whole, on the next probe.
        match timeout_at(deadline, stream.read_buf(pending)).await {
            Err(_) => {
                tracker.time_out(seq);
                return Ok(());
            }
            Ok(Ok(0)) => return Err(EchoError::ClosedEarly { addr: target }),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(EchoError::from_io(target, Proto::Tcp, "from", e)),
        }
    }
}
