//! Lab 03, UDP: datagrams with no handshake and their boundaries kept; the pinger against a
//! server that drops and delays (seeded per student) with loss and RTT statistics; datagrams
//! dropped on loopback by a full receive buffer, with the kernel's drop counter; a truncated
//! datagram and an ICMP port unreachable surfacing as "connection refused"; the same exchange
//! over TCP and UDP compared packet for packet; when UDP is the right choice.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use netlab_echo::{ImpairmentConfig, PingConfig, PingEvent, Proto};
use netlab_inspect::Packet;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use crate::packets::{self, LabPacket, text};
use crate::question::Question;
use crate::render;
use crate::servers::{self, timed};
use crate::session::Session;
use crate::{LabError, LabFuture, LabInfo};

pub const INFO: LabInfo = LabInfo {
    number: 3,
    slug: "udp",
    title: "UDP: datagrams, loss and delay",
    minutes: 2,
    guide: include_str!("../../guides/03-udp.md"),
    run,
};

const HELLO: &[u8] = b"hello";
const DATAGRAMS: [&[u8]; 3] = [b"one", b"two", b"three"];

/// The impaired server of one student's variant: the drop rate (20% in the practice variant),
/// the delay (20 ms plus up to 10 ms of jitter) and the seed that decides which probes are lost
/// (7) all vary per student, so the loss is not known before running.
fn impairment(s: &Session) -> ImpairmentConfig {
    let v = s.variant();
    ImpairmentConfig {
        drop: v.pick("lab03.drop-percent", 20, 10..=35) as f64 / 100.0,
        delay: Duration::from_millis(v.pick("lab03.delay-ms", 20, 15..=40)),
        jitter: Duration::from_millis(10),
        seed: v.pick("lab03.seed", 7, 1..=1_000_000),
        ..ImpairmentConfig::default()
    }
}

/// Probes (20 in the practice variant), 20 ms apart, 1 s to answer: about a second in all,
/// and a delayed reply (50 ms at most, plus whatever a busy machine adds) is never mistaken for a
/// lost one.
fn probes(s: &Session) -> u64 {
    s.variant().pick("lab03.probes", 20, 16..=30)
}

/// The receive buffer of the overflow experiment, as asked with SO_RCVBUF (Linux doubles it for
/// its bookkeeping), and the size of each datagram sent to it.
const SMALL_RCVBUF: usize = 4096;
const BURST_DATAGRAM: usize = 100;

fn run(s: &mut Session) -> LabFuture<'_> {
    Box::pin(async move {
        datagrams(s).await?;
        loss_and_delay(s).await?;
        buffer_overflow(s).await?;
        truncated_and_refused(s).await?;
        tcp_vs_udp(s).await?;
        s.explain("When UDP is the right choice")?;
        s.ask(
            Question::choice(
                "udp-use",
                "Which of these suits UDP best?",
                &["downloading a file", "a live voice call", "loading a web page"],
                1,
            )
            .hint("which one would rather skip a lost piece than wait for it?")
        .hint("a late piece of which one is worthless?")
            .why("A voice sample that arrives late is useless; retransmitting it only adds delay. Files and pages must arrive complete: over TCP, or over QUIC, which rebuilds reliability on top of UDP and carries HTTP/3 (a large share of web pages today). Plain UDP alone would not do for them."),
        )?;
        s.explain("What you learned")?;
        Ok(())
    })
}

async fn datagrams(s: &mut Session) -> Result<(), LabError> {
    s.explain("Datagrams, no handshake")?;
    let server = servers::udp_echo(ImpairmentConfig::default()).await?;
    s.act(&format!(
        "sending \"one\", \"two\", \"three\" to the UDP echo server on {}, then reading",
        server.addr
    ));
    let (reads, rec) = s
        .capture(
            "lab03-datagrams",
            &[server.port()],
            send_then_read(server.addr),
        )
        .await?;
    server.stop();
    let pkts = packets::dissect_all(&rec);
    s.show(
        &format!("{} packets", pkts.len()),
        &packets::packet_table(&pkts, s.style()),
    );
    let mut t = render::table(&["recv() call", "returned"], s.style());
    for (i, r) in reads.iter().enumerate() {
        t.add_row(vec![
            (i + 1).to_string(),
            format!("{:?}", String::from_utf8_lossy(r)),
        ]);
    }
    s.show("What each recv() returned", &t.to_string());
    s.check_eq(
        "each recv() returned exactly one datagram",
        text(&reads),
        vec!["one".to_string(), "two".into(), "three".into()],
    );
    s.check(
        "no handshake: the first packet already carries data",
        pkts.first()
            .is_some_and(|p| p.is_udp() && p.payload_len() > 0),
        pkts.first().map(Packet::info).unwrap_or_default(),
    );
    s.check_eq("6 packets: 3 datagrams and 3 echoes", pkts.len(), 6);
    s.measure("udp.recv_calls", reads.len(), "");
    s.ask(
        Question::number(
            "recv-calls",
            "The client sent 3 datagrams before reading. How many recv() calls returned data?",
            reads.len() as f64,
        )
        .hint("look at the recv() table; compare with lab 02, where one TCP read got all three writes")
        .hint("count the rows of the recv() table")
        .why("Three: UDP keeps message boundaries, one send is one datagram is one recv."),
    )?;
    s.ask(
        Question::number(
            "udp-handshake-packets",
            "How many handshake packets came before the first datagram?",
            pkts.iter().take_while(|p| p.payload_len() == 0).count() as f64,
        )
        .hint("is the first packet in the list already carrying data?")
        .hint("UDP has no SYN: count the packets before the first one with Len > 0")
        .why("None: UDP has no connection to set up."),
    )?;
    Ok(())
}

/// Three sends back to back, then three receives: the boundaries survive the wait.
async fn send_then_read(addr: std::net::SocketAddr) -> Result<Vec<Vec<u8>>, LabError> {
    let socket = timed("binding a UDP socket", UdpSocket::bind("127.0.0.1:0")).await?;
    timed("connecting the UDP socket", socket.connect(addr)).await?;
    for d in DATAGRAMS {
        timed("sending", socket.send(d)).await?;
    }
    // Let every echo arrive and queue up before the first read.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut reads = Vec::new();
    for _ in DATAGRAMS {
        reads.push(servers::recv_one(&socket).await?);
    }
    Ok(reads)
}

async fn loss_and_delay(s: &mut Session) -> Result<(), LabError> {
    s.explain("Loss and delay")?;
    let imp = impairment(s);
    let count = probes(s);
    let delay_ms = imp.delay.as_millis();
    let (server, stats) = servers::udp_echo_with_stats(imp.clone()).await?;
    s.act(&format!(
        "pinging {} with {count} probes; the server drops {:.0}% and delays {delay_ms}-{} ms (seed {})",
        server.addr,
        imp.drop * 100.0,
        delay_ms + imp.jitter.as_millis(),
        imp.seed
    ));
    let config = PingConfig {
        count,
        interval: Duration::from_millis(20),
        timeout: Duration::from_millis(1000),
        ..PingConfig::new(Proto::Udp, server.addr)
    };
    let mut lines = Vec::new();
    let summary = tokio::time::timeout(
        Duration::from_secs(10),
        netlab_echo::ping(&config, |e| lines.push(event_line(e))),
    )
    .await
    .map_err(|_| LabError::Experiment("the pinger did not finish within 10 s".into()))?
    .map_err(|e| LabError::Experiment(e.to_string()))?;
    let dropped = stats.summary().dropped;
    server.stop();
    s.show("Each probe", &lines.join("\n"));
    let mut t = render::table(
        &["sent", "received", "loss %", "RTT min (ms)", "avg", "max"],
        s.style(),
    );
    let rtt = summary.rtt.clone();
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    t.add_row(vec![
        summary.sent.to_string(),
        summary.received.to_string(),
        format!("{:.1}", summary.loss_percent),
        f(rtt.as_ref().map(|r| r.min_ms)),
        f(rtt.as_ref().map(|r| r.avg_ms)),
        f(rtt.as_ref().map(|r| r.max_ms)),
    ]);
    s.show("Ping statistics", &t.to_string());
    s.measure("ping.loss_percent", summary.loss_percent, "%");
    s.measure(
        "ping.rtt_avg_ms",
        rtt.as_ref().map_or(0.0, |r| r.avg_ms),
        "ms",
    );
    s.check_eq(
        "every probe the server dropped was counted lost",
        summary.sent - summary.received,
        dropped,
    );
    s.check(
        &format!("RTT is at least the server's {delay_ms} ms delay"),
        rtt.as_ref().is_some_and(|r| r.min_ms >= delay_ms as f64),
        f(rtt.as_ref().map(|r| r.min_ms)),
    );
    s.ask(
        Question::number(
            "loss-percent",
            "What loss percentage did the pinger measure?",
            summary.loss_percent,
        )
        .tolerance(0.5)
        .unit("%")
        .hint("lost probes divided by sent probes, times 100: see the statistics table")
        .hint("count the \"lost\" lines, divide by the number of probes, times 100")
        .why(&format!(
            "The server drops each datagram with probability {:.0}%, so the measured loss is near that, but rarely exactly: which probes are lost is decided by a random generator (seeded per student here, so your run can be checked).",
            imp.drop * 100.0
        )),
    )?;
    s.ask(
        Question::choice(
            "rtt-floor",
            &format!("Why is no RTT below {delay_ms} ms, on a loopback that answers in microseconds?"),
            &[
                "UDP is slow",
                &format!("the server delays every reply by at least {delay_ms} ms"),
                "the pinger waits 20 ms between probes",
                "the kernel delays UDP acknowledgements",
            ],
            1,
        )
        .hint("what did the server do besides dropping?")
        .hint("the act line above the probes says what the server does to every reply")
        .why("The impairment adds 20 ms plus jitter to every reply; the rest of the path costs microseconds."),
    )?;
    Ok(())
}

/// A burst of datagrams to a socket with a small receive buffer that nobody reads: the kernel
/// keeps what fits and drops the rest, counting each drop for the socket (/proc/net/udp).
async fn buffer_overflow(s: &mut Session) -> Result<(), LabError> {
    s.explain("When the receiver does not keep up")?;
    let burst = s.variant().pick("lab03.burst", 1000, 300..=2000);
    let guess = s.predict(
        "predict-kept",
        &format!(
            "Both sockets are on this machine and nothing is impaired. Of {burst} datagrams of {BURST_DATAGRAM} bytes sent to a socket with a 4 KB receive buffer that does not read until the burst is over, how many do you expect it to find?"
        ),
    )?;
    s.act(&format!(
        "receiver with SO_RCVBUF = {SMALL_RCVBUF}, not reading; {burst} datagrams of {BURST_DATAGRAM} bytes sent at once; then the receiver reads"
    ));
    let run = tokio::task::spawn_blocking(move || overflow_run(burst))
        .await
        .map_err(|e| LabError::Experiment(format!("overflow task: {e}")))??;
    let mut t = render::table(&["", "datagrams"], s.style());
    t.add_row(vec![
        "sent (every send() succeeded)".into(),
        run.sent.to_string(),
    ]);
    t.add_row(vec![
        "found by the receiver's reads".into(),
        run.kept.to_string(),
    ]);
    t.add_row(vec![
        "the kernel's drop counter for the socket (/proc/net/udp)".into(),
        run.drops.map_or("-".into(), |d| d.to_string()),
    ]);
    s.show(
        &format!(
            "A 4 KB receive buffer (the kernel reports SO_RCVBUF = {} bytes: it doubles the value asked, for its bookkeeping)",
            run.rcvbuf
        ),
        &t.to_string(),
    );
    s.reveal(guess, run.kept, "datagrams");
    s.measure("overflow.sent", run.sent, "");
    s.measure("overflow.kept", run.kept, "");
    s.measure("overflow.drops", run.drops, "");
    s.check(
        "some datagrams are dropped on loopback when the buffer is full",
        run.kept < run.sent,
        format!("{} of {} kept", run.kept, run.sent),
    );
    if let Some(drops) = run.drops {
        s.check_eq(
            "kept + the kernel's drop count = sent",
            run.kept + drops,
            run.sent,
        );
    }
    s.ask(
        Question::choice(
            "overflow-where",
            "Where did the missing datagrams go?",
            &[
                "the receiving kernel dropped them: the socket's buffer was full",
                "they were lost on the wire",
                "send() failed for them",
                "the UDP checksum rejected them",
            ],
            0,
        )
        .hint("every send() succeeded, and loopback has no wire: which counter went up?")
        .hint("the drop counter belongs to the receiving socket")
        .why("A UDP socket queues datagrams until the program reads them, up to its receive buffer. When it is full the kernel drops each new datagram and counts it; nobody tells the sender. Loss is not only a property of networks: a slow reader causes it on one machine."),
    )?;
    Ok(())
}

/// What the overflow experiment saw.
struct Overflow {
    sent: u64,
    kept: u64,
    /// The socket's `drops` column in /proc/net/udp; `None` off Linux.
    drops: Option<u64>,
    /// SO_RCVBUF as the kernel reports it.
    rcvbuf: usize,
}

/// Blocking sockets (one call per line, as the lab describes it), run off the async runtime.
fn overflow_run(burst: u64) -> Result<Overflow, LabError> {
    let io = |what: &'static str| LabError::io(what);
    let receiver = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
        .map_err(io("creating the receiver"))?;
    receiver
        .set_recv_buffer_size(SMALL_RCVBUF)
        .map_err(io("setting SO_RCVBUF"))?;
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    receiver
        .bind(&loopback.into())
        .map_err(io("binding the receiver"))?;
    let rcvbuf = receiver
        .recv_buffer_size()
        .map_err(io("reading SO_RCVBUF"))?;
    let receiver: std::net::UdpSocket = receiver.into();
    let addr = receiver
        .local_addr()
        .map_err(io("the receiver's address"))?;
    let sender = std::net::UdpSocket::bind(loopback).map_err(io("binding the sender"))?;
    sender.connect(addr).map_err(io("connecting the sender"))?;
    let datagram = [b'x'; BURST_DATAGRAM];
    for _ in 0..burst {
        sender.send(&datagram).map_err(io("sending a datagram"))?;
    }
    // Only now does the receiver read: what is queued is all it will ever get.
    receiver
        .set_nonblocking(true)
        .map_err(io("making the receiver non-blocking"))?;
    let mut buf = [0u8; 2048];
    let mut kept = 0;
    loop {
        match receiver.recv(&mut buf) {
            Ok(_) => kept += 1,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => return Err(LabError::Experiment(format!("receiving: {e}"))),
        }
    }
    Ok(Overflow {
        sent: burst,
        kept,
        drops: udp_drops(addr.port()),
        rcvbuf,
    })
}

/// The `drops` column of the /proc/net/udp line for 127.0.0.1:`port` (its last column; addresses
/// are hex, 0100007F:1F5F).
fn udp_drops(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/udp").ok()?;
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        (cols.get(1) == Some(&local.as_str()))
            .then(|| cols.last()?.parse().ok())
            .flatten()
    })
}

/// Two more ways UDP surprises: a datagram longer than the read buffer is cut, and a datagram to
/// a port where nobody listens comes back as an ICMP error that a connected socket reports.
async fn truncated_and_refused(s: &mut Session) -> Result<(), LabError> {
    s.explain("Truncated and refused")?;
    s.act("a 9-byte datagram read with a 4-byte buffer; then a datagram to a port nobody listens on, from a connected and from an unconnected socket");
    let run = tokio::task::spawn_blocking(refused_run)
        .await
        .map_err(|e| LabError::Experiment(format!("refused task: {e}")))??;
    let mut t = render::table(&["what the program did", "what it got"], s.style());
    t.add_row(vec![
        "recv() with a 4-byte buffer, datagram \"truncated\"".into(),
        format!("{:?}", String::from_utf8_lossy(&run.truncated)),
    ]);
    t.add_row(vec![
        "the next recv(), 64-byte buffer".into(),
        format!(
            "{:?} (the rest of \"truncated\" is gone)",
            String::from_utf8_lossy(&run.next)
        ),
    ]);
    t.add_row(vec![
        "connected socket: send() to a closed port, then recv()".into(),
        run.connected.clone(),
    ]);
    t.add_row(vec![
        "unconnected socket: send_to() the same port, then recv_from()".into(),
        run.unconnected.clone(),
    ]);
    s.show("What the socket calls returned", &t.to_string());
    s.measure("udp.truncated_to", run.truncated.len(), "bytes");
    s.measure("udp.connected_error", run.connected.clone(), "");
    s.measure("udp.refused_after_us", run.refused_after_us, "µs");
    s.check_eq(
        "a 4-byte buffer gets the first 4 bytes",
        String::from_utf8_lossy(&run.truncated).into_owned(),
        "trun".to_string(),
    );
    s.check_eq(
        "the next recv() gets the next datagram",
        String::from_utf8_lossy(&run.next).into_owned(),
        "next".to_string(),
    );
    s.check(
        "the connected socket reports connection refused",
        run.refused,
        run.connected.clone(),
    );
    s.ask(
        Question::choice(
            "udp-refused",
            "UDP has no connection, yet recv() on the connected socket failed with \"connection refused\". Why?",
            &[
                "the receiving kernel answered with an ICMP port unreachable, which the kernel reports on the connected socket",
                "UDP did a handshake that the server rejected",
                "the server read the datagram and reset the connection",
                "the sender's buffer was full",
            ],
            0,
        )
        .hint("nobody was listening on that port: what does a kernel send back then?")
        .hint("an unconnected socket cannot tell which of its destinations an ICMP error is about")
        .why("A datagram to a port with no socket makes the receiving kernel send ICMP \"port unreachable\". Linux matches it to a connected UDP socket (its 4-tuple is known) and the next call returns ECONNREFUSED; an unconnected socket hears nothing (unless it set IP_RECVERR), so its recv_from() just waits. On a real network the ICMP may also be filtered, and then nobody hears anything."),
    )?;
    Ok(())
}

struct Refused {
    truncated: Vec<u8>,
    next: Vec<u8>,
    connected: String,
    unconnected: String,
    refused: bool,
    refused_after_us: u64,
}

fn refused_run() -> Result<Refused, LabError> {
    let io = |what: &'static str| LabError::io(what);
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    // Truncation: two datagrams queued, the first read with a buffer too small for it.
    let receiver = std::net::UdpSocket::bind(loopback).map_err(io("binding a receiver"))?;
    let sender = std::net::UdpSocket::bind(loopback).map_err(io("binding a sender"))?;
    let to = receiver.local_addr().map_err(io("receiver address"))?;
    sender.send_to(b"truncated", to).map_err(io("sending"))?;
    sender.send_to(b"next", to).map_err(io("sending"))?;
    receiver
        .set_read_timeout(Some(servers::STEP_TIMEOUT))
        .map_err(io("read timeout"))?;
    let mut small = [0u8; 4];
    let n = receiver.recv(&mut small).map_err(io("receiving"))?;
    let truncated = small[..n].to_vec();
    let mut big = [0u8; 64];
    let n = receiver.recv(&mut big).map_err(io("receiving"))?;
    let next = big[..n].to_vec();
    // A port nobody listens on: bind one, note it, close it.
    let closed = std::net::UdpSocket::bind(loopback)
        .and_then(|s| s.local_addr())
        .map_err(io("finding a free port"))?;
    let describe = |r: std::io::Result<usize>| match r {
        Ok(n) => format!("{n} bytes"),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            "error: connection refused (ECONNREFUSED)".to_string()
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            "nothing: no reply, no error (300 ms)".to_string()
        }
        Err(e) => format!("error: {e}"),
    };
    let connected = std::net::UdpSocket::bind(loopback).map_err(io("binding"))?;
    connected.connect(closed).map_err(io("connecting"))?;
    // The error comes back in microseconds; the generous timeout only matters on a loaded
    // machine, and an error ends the wait at once.
    connected
        .set_read_timeout(Some(servers::STEP_TIMEOUT))
        .map_err(io("read timeout"))?;
    let start = Instant::now();
    connected.send(b"anyone?").map_err(io("sending"))?;
    let result = connected.recv(&mut big);
    let refused_after_us = start.elapsed().as_micros() as u64;
    let refused = matches!(&result, Err(e) if e.kind() == ErrorKind::ConnectionRefused);
    let connected = describe(result);
    let unconnected = std::net::UdpSocket::bind(loopback).map_err(io("binding"))?;
    unconnected
        .set_read_timeout(Some(Duration::from_millis(300)))
        .map_err(io("read timeout"))?;
    unconnected
        .send_to(b"anyone?", closed)
        .map_err(io("sending"))?;
    let unconnected = describe(unconnected.recv_from(&mut big).map(|(n, _)| n));
    Ok(Refused {
        truncated,
        next,
        connected,
        unconnected,
        refused,
        refused_after_us,
    })
}

fn event_line(e: &PingEvent) -> String {
    match e {
        PingEvent::Connected { connect_ms } => format!("connected in {connect_ms:.2} ms"),
        PingEvent::Reply { seq, bytes, rtt_ms } => {
            format!("seq {seq}: {bytes} bytes back in {rtt_ms:.1} ms")
        }
        PingEvent::Duplicate { seq, rtt_ms } => {
            format!("seq {seq}: duplicate after {rtt_ms:.1} ms")
        }
        PingEvent::Late { seq, rtt_ms } => format!("seq {seq}: late, after {rtt_ms:.1} ms"),
        PingEvent::Timeout { seq } => format!("seq {seq}: lost (no reply)"),
    }
}

async fn tcp_vs_udp(s: &mut Session) -> Result<(), LabError> {
    s.explain("TCP and UDP, packet for packet")?;
    let tcp = servers::tcp_echo().await?;
    let udp = servers::udp_echo(ImpairmentConfig::default()).await?;
    s.act("sending \"hello\" and reading the echo, over TCP, then over UDP");
    let (tcp_addr, udp_addr) = (tcp.addr, udp.addr);
    let (_, rec) = s
        .capture("lab03-compare", &[tcp.port(), udp.port()], async {
            servers::tcp_exchange(tcp_addr, &[HELLO]).await?;
            servers::udp_exchange(udp_addr, &[HELLO]).await
        })
        .await?;
    tcp.stop();
    udp.stop();
    let pkts = packets::dissect_all(&rec);
    let (tcp_pkts, udp_pkts): (Vec<&Packet>, Vec<&Packet>) = pkts.iter().partition(|p| p.is_tcp());
    let mut t = render::table(
        &["protocol", "packets", "bytes on the wire", "of which data"],
        s.style(),
    );
    for (name, list) in [("TCP", &tcp_pkts), ("UDP", &udp_pkts)] {
        let bytes: usize = list.iter().map(|p| p.raw.bytes.len()).sum();
        let data: u64 = list.iter().map(|p| p.payload_len()).sum();
        t.add_row(vec![
            name.to_string(),
            list.len().to_string(),
            bytes.to_string(),
            data.to_string(),
        ]);
    }
    s.show(
        "The same exchange, both ways",
        &packets::packet_table(&pkts, s.style()),
    );
    s.show("Totals", &t.to_string());
    s.check_eq("UDP: 2 packets", udp_pkts.len(), 2);
    s.check(
        "TCP: handshake + data + teardown, 8 to 10 packets",
        (8..=10).contains(&tcp_pkts.len()),
        format!("{}", tcp_pkts.len()),
    );
    s.measure("compare.tcp_packets", tcp_pkts.len(), "");
    s.measure("compare.udp_packets", udp_pkts.len(), "");
    s.ask(
        Question::choice(
            "tcp-extra",
            &format!(
                "TCP needed {} packets for what UDP did in {}. What are the extra packets for?",
                tcp_pkts.len(),
                udp_pkts.len()
            ),
            &[
                "setting up the connection, acknowledging the data and closing it",
                "checksums, which UDP does not have",
                "port numbers, which UDP carries in the IP header",
                "splitting hello into smaller segments",
            ],
            0,
        )
        .hint("read the flags column: SYN, ACK, FIN")
        .hint("UDP has ports and a checksum too; what has it not got?")
        .why("3 packets of handshake, ACKs for the data, and 3 or 4 of teardown: several times UDP's 2. For a long transfer the setup is paid once, and the acknowledgements buy reliability."),
    )?;
    Ok(())
}
