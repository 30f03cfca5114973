//! Lab 03, UDP: datagrams with no handshake and their boundaries kept; the pinger against a
//! server that drops and delays (seeded) with loss and RTT statistics; the same exchange over TCP
//! and UDP compared packet for packet; when UDP is the right choice.

use std::time::Duration;

use netlab_echo::{ImpairmentConfig, PingConfig, PingEvent, Proto};
use tokio::net::UdpSocket;

use crate::packets::{self, Pkt, text};
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

/// The impaired server: 20% drop, 20 ms delay plus up to 10 ms jitter, fixed seed.
fn impairment() -> ImpairmentConfig {
    ImpairmentConfig {
        drop: 0.2,
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(10),
        seed: 7,
        ..ImpairmentConfig::default()
    }
}

/// 20 probes, 20 ms apart, 500 ms to answer: about a second in all, and a delayed reply (30 ms
/// at most, plus whatever a busy machine adds) is never mistaken for a lost one.
const PROBES: u64 = 20;

fn run(s: &mut Session) -> LabFuture<'_> {
    Box::pin(async move {
        datagrams(s).await?;
        loss_and_delay(s).await?;
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
            .why("A voice sample that arrives late is useless; retransmitting it only adds delay. Files and pages must arrive complete, which is TCP's job."),
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
        pkts.first().map(Pkt::info).unwrap_or_default(),
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
        .why("Three: UDP keeps message boundaries, one send is one datagram is one recv."),
    )?;
    s.ask(
        Question::number(
            "udp-handshake-packets",
            "How many handshake packets came before the first datagram?",
            pkts.iter().take_while(|p| p.payload_len() == 0).count() as f64,
        )
        .hint("is the first packet in the list already carrying data?")
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
    let imp = impairment();
    let (server, stats) = servers::udp_echo_with_stats(imp.clone()).await?;
    s.act(&format!(
        "pinging {} with {PROBES} probes; the server drops 20% and delays 20-30 ms (seed {})",
        server.addr, imp.seed
    ));
    let config = PingConfig {
        count: PROBES,
        interval: Duration::from_millis(20),
        timeout: Duration::from_millis(500),
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
        "some probes lost, most answered",
        summary.received < summary.sent && summary.received >= summary.sent / 2,
        format!("{} of {}", summary.received, summary.sent),
    );
    s.check(
        "RTT is at least the server's 20 ms delay",
        rtt.as_ref().is_some_and(|r| r.min_ms >= 20.0),
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
        .why("The server drops each datagram with probability 20%, so over 20 probes the measured loss is near 20%, but rarely exactly: loss is random."),
    )?;
    s.ask(
        Question::choice(
            "rtt-floor",
            "Why is no RTT below 20 ms, on a loopback that answers in microseconds?",
            &[
                "UDP is slow",
                "the server delays every reply by at least 20 ms",
                "the pinger waits 20 ms between probes",
            ],
            1,
        )
        .hint("what did the server do besides dropping?")
        .why("The impairment adds 20 ms plus jitter to every reply; the rest of the path costs microseconds."),
    )?;
    Ok(())
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
    let (tcp_pkts, udp_pkts): (Vec<&Pkt>, Vec<&Pkt>) = pkts.iter().partition(|p| p.is_tcp());
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
        Question::number(
            "tcp-packets",
            "How many packets did the TCP exchange take, for the same 5 bytes each way?",
            tcp_pkts.len() as f64,
        )
        .hint("read the Totals table")
        .why("3 for the handshake, 2 with data (and maybe ACKs), 3 or 4 for the teardown: several times UDP's 2."),
    )?;
    Ok(())
}
