//! Lab 02, TCP: the three-way handshake with its sequence numbers, data and ACKs (and Linux's
//! quick ACKs at the start of a connection), the FIN teardown, a byte stream rather than messages
//! (three writes, one read; Nagle on, then TCP_NODELAY, and the stall Nagle and delayed ACKs make
//! together), the MSS a SYN announces against the large offloaded segments loopback shows, and a
//! connection identified by its 4-tuple. Every graded number is a computation with the student's
//! own values (an ISN, a byte count), checked against what the capture shows.

use std::time::Duration;

use netlab_inspect::Packet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::capture::{Recording, Source};
use crate::packets::{self, LabPacket, text};
use crate::question::Question;
use crate::render;
use crate::servers::{self, timed};
use crate::session::Session;
use crate::{LabError, LabFuture, LabInfo};

pub const INFO: LabInfo = LabInfo {
    number: 2,
    slug: "tcp",
    title: "TCP: handshake, byte stream, Nagle",
    minutes: 2,
    guide: include_str!("../../guides/02-tcp.md"),
    run,
};

const HELLO: &[u8] = b"hello";
const WRITES: [&[u8]; 3] = [b"one", b"two", b"three"];
/// The server reads this long after the writes: longer than Linux's longest delayed ACK
/// (200 ms), so whatever Nagle held back has been sent by then.
const READ_AFTER: Duration = Duration::from_millis(250);

fn run(s: &mut Session) -> LabFuture<'_> {
    Box::pin(async move {
        s.explain("The three-way handshake")?;
        let server = servers::tcp_echo().await?;
        s.act(&format!(
            "connecting to the echo server on {}, sending \"hello\", closing",
            server.addr
        ));
        let (exchange, rec) = s
            .capture(
                "lab02-tcp",
                &[server.port()],
                servers::tcp_exchange(server.addr, &[HELLO]),
            )
            .await?;
        server.stop();
        s.check_eq(
            "echo returned hello",
            text(&exchange.echoes),
            vec!["hello".to_string()],
        );
        let pkts = packets::dissect_all(&rec);
        let Some(conv) = Conversation::new(&pkts) else {
            s.check("the capture has a SYN", false, "no SYN found");
            return Ok(());
        };
        s.show(
            "The whole conversation, numbers raw and relative",
            &conv.table(&pkts, s.style()),
        );
        handshake(s, &pkts, &conv)?;
        data_and_acks(s, &pkts, &conv)?;
        teardown(s, &pkts, &conv)?;
        byte_stream(s).await?;
        segment_size(s).await?;
        four_tuple(s, &pkts, &rec, &exchange)?;
        s.explain("What you learned")?;
        Ok(())
    })
}

/// Who is who in a captured connection: the client's port and both initial sequence numbers.
struct Conversation {
    client_port: u64,
    client_isn: u64,
    server_isn: u64,
}

impl Conversation {
    fn new(pkts: &[Packet]) -> Option<Conversation> {
        let syn = pkts
            .iter()
            .find(|p| p.flag("tcp.flags.syn") && !p.flag("tcp.flags.ack"))?;
        let syn_ack = pkts
            .iter()
            .find(|p| p.flag("tcp.flags.syn") && p.flag("tcp.flags.ack"))?;
        Some(Conversation {
            client_port: syn.src_port()?,
            client_isn: syn.num("tcp.seq_raw")?,
            server_isn: syn_ack.num("tcp.seq_raw")?,
        })
    }

    fn is_client(&self, p: &Packet) -> bool {
        p.src_port() == Some(self.client_port)
    }

    /// Relative sequence and acknowledgement numbers, as netlab-inspect's flow tracker counts
    /// them (raw minus the sender's or the peer's initial sequence number).
    fn relative(&self, p: &Packet) -> (u64, u64) {
        let (seq, ack) = p.rel_seq_ack();
        (u64::from(seq), u64::from(ack))
    }

    fn table(&self, pkts: &[Packet], style: crate::Style) -> String {
        let mut t = render::table(
            &[
                "No.",
                "direction",
                "flags",
                "seq (raw)",
                "ack (raw)",
                "seq",
                "ack",
                "len",
            ],
            style,
        );
        // Numbers stay whole; direction and flags wrap at their spaces if they must.
        render::keep_whole(&mut t, &[0, 3, 4, 5, 6, 7]);
        for p in pkts {
            let (seq, ack) = self.relative(p);
            t.add_row(vec![
                p.number.to_string(),
                if self.is_client(p) {
                    "client → server"
                } else {
                    "server → client"
                }
                .into(),
                p.tcp_flags(),
                p.num("tcp.seq_raw").unwrap_or(0).to_string(),
                if p.flag("tcp.flags.ack") {
                    p.num("tcp.ack_raw").unwrap_or(0).to_string()
                } else {
                    "-".into()
                },
                seq.to_string(),
                if p.flag("tcp.flags.ack") {
                    ack.to_string()
                } else {
                    "-".into()
                },
                p.payload_len().to_string(),
            ]);
        }
        t.to_string()
    }
}

fn handshake(s: &mut Session, pkts: &[Packet], conv: &Conversation) -> Result<(), LabError> {
    let flags: Vec<String> = pkts.iter().take(3).map(Packet::tcp_flags).collect();
    s.check_eq(
        "handshake: SYN, SYN-ACK, ACK",
        flags,
        vec!["SYN".to_string(), "SYN, ACK".into(), "ACK".into()],
    );
    let syn_ack_ack = pkts.get(1).and_then(|p| p.num("tcp.ack_raw")).unwrap_or(0);
    let third_ack = pkts.get(2).and_then(|p| p.num("tcp.ack_raw")).unwrap_or(0);
    s.check_eq(
        "SYN-ACK acknowledges client ISN + 1",
        syn_ack_ack,
        (conv.client_isn + 1) & 0xffff_ffff,
    );
    s.check_eq(
        "third packet acknowledges server ISN + 1",
        third_ack,
        (conv.server_isn + 1) & 0xffff_ffff,
    );
    s.measure("tcp.client_isn", conv.client_isn, "");
    let isn = s
        .variant()
        .pick("lab02.isn", 4_294_967_000, 0..=u64::from(u32::MAX));
    s.ask(
        Question::number(
            "syn-ack-number",
            &format!(
                "In this capture the client's SYN carried sequence number {} and the SYN-ACK acknowledged {syn_ack_ack}. If a client's SYN carried sequence number {isn}, what acknowledgement number would the SYN-ACK carry?",
                conv.client_isn
            ),
            ((isn + 1) & 0xffff_ffff) as f64,
        )
        .hint("the SYN consumes one sequence number, though it carries no data byte")
        .hint("sequence numbers are 32 bits: after 4294967295 comes 0")
        .why("ISN + 1, modulo 2^32: the server says \"I got your SYN; the next sequence number I expect is the one after it\". The SYN carries no data, but it uses up one sequence number so that it can be acknowledged."),
    )?;
    Ok(())
}

fn data_and_acks(s: &mut Session, pkts: &[Packet], conv: &Conversation) -> Result<(), LabError> {
    s.explain("Data and acknowledgements")?;
    let Some(data_at) = pkts
        .iter()
        .position(|p| conv.is_client(p) && p.payload_len() > 0)
    else {
        s.check("the client's data was captured", false, "no data segment");
        return Ok(());
    };
    let data = &pkts[data_at];
    let (seq, _) = conv.relative(data);
    s.check_eq("client's first data byte is relative seq 1", seq, 1);
    s.check_eq("client sent 5 bytes", data.payload_len(), 5);
    let reply = pkts[data_at + 1..]
        .iter()
        .find(|p| !conv.is_client(p) && p.flag("tcp.flags.ack"));
    let ack = reply.map_or(0, |p| conv.relative(p).1);
    s.check_eq("server acknowledges byte 6", ack, 6);
    let (ack_at, echo_at) = (
        pkts[data_at + 1..]
            .iter()
            .find(|p| !conv.is_client(p) && p.flag("tcp.flags.ack"))
            .map(|p| (p.number, p.payload_len())),
        pkts[data_at + 1..]
            .iter()
            .find(|p| !conv.is_client(p) && p.payload_len() > 0)
            .map(|p| p.number),
    );
    let separate = matches!((ack_at, echo_at), (Some((a, 0)), Some(e)) if a < e);
    s.check(
        "hello is acknowledged by a bare ACK before the echo (quick ACK)",
        separate,
        format!(
            "bare ACK in packet {}, echo in packet {}",
            ack_at.map_or("-".into(), |(n, _)| n.to_string()),
            echo_at.map_or("-".into(), |n| n.to_string())
        ),
    );
    let sent = s.variant().pick("lab02.bytes", 5, 2..=1400);
    s.ask(
        Question::number(
            "data-ack",
            &format!(
                "Here the client sent hello (5 bytes) from relative sequence 1, and the server acknowledged 6. If the client had sent {sent} bytes from relative sequence 1, what relative ACK number would the server answer with?"
            ),
            (sent + 1) as f64,
        )
        .hint("an ACK names the next byte expected, not the last one received")
        .hint(&format!("bytes 1 to {sent} arrived"))
        .why(&format!(
            "1 + {sent} = {}: bytes 1 to {sent} are acknowledged, byte {} is the next one expected.",
            sent + 1,
            sent + 1
        )),
    )?;
    s.ask(
        Question::choice(
            "two-acks",
            &format!(
                "In the table, the server acknowledged hello with a bare ACK (packet {}) and sent the echo in the next packet, instead of letting the echo carry the ACK. Why?",
                ack_at.map_or(0, |(n, _)| n)
            ),
            &[
                "a new Linux connection starts in quick-ACK mode: the kernel acknowledges at once, before the echo server has even read hello",
                "TCP does not allow an ACK on a segment that carries data",
                "the client's PSH flag demands a separate ACK",
                "the echo was too large to carry an ACK",
            ],
            0,
        )
        .hint("every data segment in the table has the ACK flag: data and ACKs can travel together")
        .hint("who sends the ACK, the kernel or the echo program, and which of them is faster?")
        .why("Linux acknowledges the first segments of a connection immediately (quick-ACK mode) to let the sender's window grow; only later does it delay ACKs, hoping to send them with a reply. So at the start of this connection the ACK went alone, microseconds before the echo."),
    )?;
    Ok(())
}

fn teardown(s: &mut Session, pkts: &[Packet], conv: &Conversation) -> Result<(), LabError> {
    s.explain("Closing with FIN")?;
    let first_fin = pkts.iter().position(|p| p.flag("tcp.flags.fin"));
    let fins = pkts.iter().filter(|p| p.flag("tcp.flags.fin")).count();
    let count = first_fin.map_or(0, |i| pkts.len() - i);
    s.check_eq("one FIN from each side", fins, 2);
    s.check(
        "teardown takes 3 or 4 packets",
        (3..=4).contains(&count),
        format!("{count} packets"),
    );
    s.check(
        "the last packet is a bare ACK",
        pkts.last().map(Packet::tcp_flags).as_deref() == Some("ACK"),
        pkts.last().map(Packet::tcp_flags).unwrap_or_default(),
    );
    // The client's FIN has relative seq 6 (after hello's 5 bytes); its ACK says 7.
    let client_fin = pkts
        .iter()
        .find(|p| conv.is_client(p) && p.flag("tcp.flags.fin"));
    let fin_seq = client_fin.map_or(0, |p| conv.relative(p).0);
    let fin_acked = pkts
        .iter()
        .filter(|p| !conv.is_client(p) && p.flag("tcp.flags.ack"))
        .map(|p| conv.relative(p).1)
        .max()
        .unwrap_or(0);
    s.check_eq("the client's FIN is at relative seq 6", fin_seq, 6);
    s.check_eq("the server acknowledges the FIN with 7", fin_acked, 7);
    s.measure("tcp.teardown_packets", count, "");
    let sent = s.variant().pick("lab02.fin-bytes", 5, 1..=5000);
    s.ask(
        Question::number(
            "fin-ack",
            &format!(
                "Here the client sent 5 bytes, its FIN had relative sequence {fin_seq} and was acknowledged with {fin_acked}. A client opens a connection, sends {sent} bytes, then closes. What relative ACK number acknowledges its FIN?"
            ),
            (sent + 2) as f64,
        )
        .hint("count the sequence numbers used: the SYN's, the data's, the FIN's")
        .hint(&format!("the data is bytes 1 to {sent}; the FIN takes the next number"))
        .why(&format!(
            "The SYN used 0, the data 1 to {sent}, the FIN {}: it carries no data byte but consumes one sequence number, so its ACK is {}.",
            sent + 1,
            sent + 2
        )),
    )?;
    Ok(())
}

/// One run of the three-writes experiment.
struct WriteRun {
    /// What the server's first read returned.
    first_read: Vec<u8>,
    /// Reads the server needed to collect all 11 bytes.
    reads: usize,
    /// Every byte the server read, in order.
    all: Vec<u8>,
    /// Distinct data segments from the client after the warm-up (retransmissions not counted).
    segments: usize,
    /// From the first write's segment to the next data segment, in ms (`None` with one segment).
    stall_ms: Option<f64>,
}

async fn byte_stream(s: &mut Session) -> Result<(), LabError> {
    s.explain("A byte stream, not messages")?;
    let guess = s.predict(
        "predict-segments",
        "Before the run: how many data segments will the three writes make with Nagle on, and how many with TCP_NODELAY? (e.g. 3 and 3)",
    )?;
    let mut runs = Vec::new();
    for nodelay in [false, true] {
        let name = if nodelay {
            "lab02-nodelay"
        } else {
            "lab02-nagle"
        };
        s.act(&format!(
            "one request/response, then write(\"one\"), write(\"two\"), write(\"three\") with {}",
            if nodelay {
                "TCP_NODELAY"
            } else {
                "Nagle on (the default)"
            }
        ));
        let listener = timed("binding a server", TcpListener::bind("127.0.0.1:0")).await?;
        let addr = listener
            .local_addr()
            .map_err(|e| LabError::Experiment(format!("server address: {e}")))?;
        let ((all, first_read, reads), rec) = s
            .capture(name, &[addr.port()], three_writes(listener, nodelay))
            .await?;
        let (segments, stall_ms) = data_segments(&packets::dissect_all(&rec));
        runs.push(WriteRun {
            first_read,
            reads,
            all,
            segments,
            stall_ms,
        });
    }
    let mut t = render::table(
        &[
            "client socket",
            "writes",
            "data segments on the wire",
            "1st to 2nd segment (ms)",
            "server's first read",
            "reads",
        ],
        s.style(),
    );
    for (run, label) in runs.iter().zip(["Nagle on", "TCP_NODELAY"]) {
        t.add_row(vec![
            label.to_string(),
            "3".to_string(),
            run.segments.to_string(),
            run.stall_ms.map_or("-".into(), |ms| format!("{ms:.1}")),
            format!("{:?}", String::from_utf8_lossy(&run.first_read)),
            run.reads.to_string(),
        ]);
    }
    s.show("Three writes, counted", &t.to_string());
    for (run, label) in runs.iter().zip(["Nagle", "TCP_NODELAY"]) {
        s.check_eq(
            &format!("{label}: all 11 bytes arrive, in order"),
            String::from_utf8_lossy(&run.all).into_owned(),
            "onetwothree".to_string(),
        );
        s.check(
            &format!("{label}: fewer reads than writes (boundaries not kept)"),
            run.reads < WRITES.len(),
            format!("{} reads for {} writes", run.reads, WRITES.len()),
        );
        s.check(
            &format!("{label}: 1 to 3 data segments"),
            (1..=3).contains(&run.segments),
            format!("{}", run.segments),
        );
    }
    let (nagle, nodelay) = (runs[0].segments, runs[1].segments);
    s.reveal(guess, format!("{nagle} and {nodelay}"), "");
    s.measure("nagle.segments", nagle, "");
    s.measure("nodelay.segments", nodelay, "");
    s.measure(
        "nagle.stall_ms",
        runs[0].stall_ms.map(|ms| (ms * 10.0).round() / 10.0),
        "ms",
    );
    s.ask(
        Question::number(
            "reads-needed",
            "The client made 3 writes. How many reads did the server need to get all 11 bytes?",
            runs[0].reads as f64,
        )
        .hint("look at the last columns: what did the server's first read return?")
        .hint("if the first read returned all 11 bytes, how many more reads were needed?")
        .why("One: TCP delivers a stream of bytes, and everything that arrived is returned by one read. Message boundaries are not kept."),
    )?;
    let stall = runs[0]
        .stall_ms
        .map_or("some".to_string(), |ms| format!("{ms:.0}"));
    s.ask(
        Question::choice(
            "nagle-stall",
            &format!(
                "With Nagle on, the second data segment left {stall} ms after the first, although all three writes were made at once. What held it back?"
            ),
            &[
                "Nagle kept \"two\" and \"three\" until \"one\" was acknowledged, and the server's kernel delayed that ACK (delayed ACK, about 40 ms)",
                "the server had not called read() yet",
                "loopback takes about 40 ms to deliver a segment",
                "the congestion window allows one segment per 40 ms",
            ],
            0,
        )
        .hint("look at the Nagle capture: which packet comes just before the second data segment?")
        .hint("Nagle sends a small segment only when nothing is unacknowledged; who sends the ACK, and when?")
        .why("Nagle waits for the ACK of the outstanding small segment; the receiver, past its quick-ACK start, delays ACKs (40 ms minimum on Linux) hoping to send them with a reply. Each waits for the other: that stall is why request/response protocols set TCP_NODELAY."),
    )?;
    Ok(())
}

/// The MSS the client announces (TCP_MAXSEG before connect) and the segments loopback shows.
const MSS: u32 = 1000;
/// Bytes the MSS experiment sends in one write: enough for several segments.
const MSS_WRITE: usize = 20_000;
/// The timestamp option Linux puts on every segment (10 bytes, padded to 12).
const TIMESTAMPS: u64 = 12;

async fn segment_size(s: &mut Session) -> Result<(), LabError> {
    s.explain("Segment size: the MSS and offload")?;
    let listener = timed("binding a server", TcpListener::bind("127.0.0.1:0")).await?;
    let addr = listener
        .local_addr()
        .map_err(|e| LabError::Experiment(format!("server address: {e}")))?;
    s.act(&format!(
        "client sets TCP_MAXSEG = {MSS} before connect(), then writes {MSS_WRITE} bytes at once"
    ));
    let (received, rec) = s
        .capture("lab02-mss", &[addr.port()], mss_transfer(listener))
        .await?;
    let pkts = packets::dissect_all(&rec);
    let Some(conv) = Conversation::new(&pkts) else {
        s.check("the capture has a SYN", false, "no SYN found");
        return Ok(());
    };
    let syn_mss = |syn_ack: bool| {
        pkts.iter()
            .find(|p| p.flag("tcp.flags.syn") && p.flag("tcp.flags.ack") == syn_ack)
            .and_then(|p| p.num("tcp.options.mss_val"))
    };
    let data: Vec<u64> = pkts
        .iter()
        .filter(|p| conv.is_client(p) && p.payload_len() > 0)
        .map(Packet::payload_len)
        .collect();
    let largest = data.iter().copied().max().unwrap_or(0);
    let mut t = render::table(&["", "bytes"], s.style());
    let show = |v: Option<u64>| v.map_or("-".into(), |v| v.to_string());
    t.add_row(vec!["MSS in the client's SYN".into(), show(syn_mss(false))]);
    t.add_row(vec![
        "MSS in the server's SYN-ACK".into(),
        show(syn_mss(true)),
    ]);
    t.add_row(vec![
        "data per segment on a wire (MSS - 12 of timestamps)".into(),
        (u64::from(MSS) - TIMESTAMPS).to_string(),
    ]);
    t.add_row(vec![
        "data segments in the capture".into(),
        format!(
            "{} of {}",
            data.len(),
            data.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ]);
    s.show(
        "What the handshake promised, and what lo carried",
        &t.to_string(),
    );
    s.measure("mss.syn", syn_mss(false), "bytes");
    s.measure("mss.largest_segment", largest, "bytes");
    s.check_eq("all the data arrived", received, MSS_WRITE);
    s.check_eq(
        "the client's SYN announces the MSS it was given",
        syn_mss(false),
        Some(u64::from(MSS)),
    );
    let per_segment = u64::from(MSS) - TIMESTAMPS;
    let whole = data.len().saturating_sub(1);
    s.check(
        "every data segment but the last is a whole number of MSS-sized pieces",
        data[..whole].iter().all(|n| n % per_segment == 0),
        format!("{data:?}, pieces of {per_segment}"),
    );
    let v = s.variant();
    let mss = v.pick("lab02.mss", 1000, 536..=1460);
    let gso = v.pick("lab02.gso-bytes", 4940, 2000..=60_000);
    let pieces = gso.div_ceil(mss - TIMESTAMPS);
    s.ask(
        Question::number(
            "wire-segments",
            &format!(
                "A connection's SYN announced MSS {mss}, and every segment carries the 12-byte timestamp option. The kernel hands the network card one offloaded segment of {gso} data bytes. How many segments does the card put on the wire?"
            ),
            pieces as f64,
        )
        .hint("the data in one wire segment is the MSS minus the options")
        .hint(&format!("{gso} / ({mss} - 12), rounded up"))
        .why(&format!(
            "{mss} - 12 = {} data bytes per wire segment, and {gso} bytes need {pieces} of them (the last one shorter). On lo nobody cuts them, which is why captures there show segments far larger than the MSS.",
            mss - TIMESTAMPS
        )),
    )?;
    Ok(())
}

/// Connects with TCP_MAXSEG set, writes [`MSS_WRITE`] bytes, and returns how many the server read.
async fn mss_transfer(listener: TcpListener) -> Result<usize, LabError> {
    let addr = listener
        .local_addr()
        .map_err(|e| LabError::Experiment(e.to_string()))?;
    let socket = tokio::net::TcpSocket::new_v4()
        .map_err(|e| LabError::Experiment(format!("socket: {e}")))?;
    // tokio has no TCP_MAXSEG setter: set it through socket2 on the same descriptor.
    socket2::SockRef::from(&socket)
        .set_mss(MSS)
        .map_err(|e| LabError::Experiment(format!("TCP_MAXSEG: {e}")))?;
    let mut client = timed("connecting", socket.connect(addr)).await?;
    let (mut conn, _) = timed("accepting", listener.accept()).await?;
    let reader = tokio::spawn(async move {
        let mut all = Vec::new();
        timed("the server's read", conn.read_to_end(&mut all))
            .await
            .map(|_| all.len())
    });
    timed("writing", client.write_all(&[b'm'; MSS_WRITE])).await?;
    timed("closing", client.shutdown()).await?;
    let received = timed("the reader", async {
        reader.await.map_err(std::io::Error::other)
    })
    .await??;
    drop(client);
    Ok(received)
}

/// The experiment behind [`byte_stream`]: returns every byte the server read, what its first
/// read got, and how many reads it took.
async fn three_writes(
    listener: TcpListener,
    nodelay: bool,
) -> Result<(Vec<u8>, Vec<u8>, usize), LabError> {
    let addr = listener
        .local_addr()
        .map_err(|e| LabError::Experiment(e.to_string()))?;
    let mut client = timed("connecting", TcpStream::connect(addr)).await?;
    client
        .set_nodelay(nodelay)
        .map_err(|e| LabError::Experiment(format!("TCP_NODELAY: {e}")))?;
    let (mut conn, _) = timed("accepting", listener.accept()).await?;
    // One request/response round: from now on Linux delays the server's ACKs, hoping to send
    // them with a response, which is what gives Nagle something to hold.
    let mut one = [0u8; 1];
    timed("warm-up write", client.write_all(b"?")).await?;
    timed("warm-up read", conn.read_exact(&mut one)).await?;
    timed("warm-up reply", conn.write_all(b"!")).await?;
    timed("warm-up echo", client.read_exact(&mut one)).await?;
    tokio::time::sleep(Duration::from_millis(10)).await;
    for w in WRITES {
        timed("writing", client.write_all(w)).await?;
    }
    tokio::time::sleep(READ_AFTER).await;
    let total: usize = WRITES.iter().map(|w| w.len()).sum();
    let (mut all, mut first, mut reads) = (Vec::new(), Vec::new(), 0);
    while all.len() < total {
        let mut buf = vec![0u8; 64];
        let n = timed("the server's read", conn.read(&mut buf)).await?;
        if n == 0 {
            break;
        }
        if reads == 0 {
            first = buf[..n].to_vec();
        }
        all.extend_from_slice(&buf[..n]);
        reads += 1;
    }
    drop(conn);
    servers::close_tcp(client).await?;
    Ok((all, first, reads))
}

/// Client data segments after the 1-byte warm-up, counted once per sequence number (Linux's tail
/// loss probe may resend the last one while the ACK is delayed; a resend is not a new segment),
/// and the time from the first of them to the second, in ms.
fn data_segments(pkts: &[Packet]) -> (usize, Option<f64>) {
    let Some(syn) = pkts
        .iter()
        .find(|p| p.flag("tcp.flags.syn") && !p.flag("tcp.flags.ack"))
    else {
        return (0, None);
    };
    let client = syn.src_port();
    let mut seen: Vec<(u64, f64)> = Vec::new();
    for p in pkts
        .iter()
        .filter(|p| p.src_port() == client && p.payload_len() > 0 && p.payload() != b"?")
    {
        if let Some(seq) = p.num("tcp.seq_raw") {
            if !seen.iter().any(|(s, _)| *s == seq) {
                seen.push((seq, p.raw.ts.as_secs_f64()));
            }
        }
    }
    let stall = match seen.as_slice() {
        [(_, first), (_, second), ..] => Some((second - first) * 1000.0),
        _ => None,
    };
    (seen.len(), stall)
}

fn four_tuple(
    s: &mut Session,
    pkts: &[Packet],
    rec: &Recording,
    exchange: &servers::TcpExchange,
) -> Result<(), LabError> {
    s.explain("A connection is identified by its 4-tuple")?;
    let Some(syn) = pkts.first() else {
        return Ok(());
    };
    let (src, dst) = (syn.src(), syn.dst());
    let same_pair = pkts
        .iter()
        .all(|p| (p.src() == src && p.dst() == dst) || (p.src() == dst && p.dst() == src));
    s.check(
        "every packet carries the same 4-tuple (or its mirror)",
        same_pair,
        format!("{src} <-> {dst}"),
    );
    let mut t = render::table(
        &["seen by", "client address:port", "server address:port"],
        s.style(),
    );
    t.add_row(vec![
        "the capture (first SYN)".into(),
        src.clone(),
        dst.clone(),
    ]);
    t.add_row(vec![
        "the client socket (local_addr, peer_addr)".into(),
        exchange.local.to_string(),
        exchange.peer.to_string(),
    ]);
    s.show("One connection, two views", &t.to_string());
    if rec.source == Source::Live {
        s.check_eq(
            "the capture's 4-tuple is the socket's",
            (src, dst),
            (exchange.local.to_string(), exchange.peer.to_string()),
        );
    } else {
        s.say("(The capture above was recorded by an earlier run, so its ports differ from your socket's.)");
    }
    s.ask(
        Question::choice(
            "connection-id",
            "What identifies one TCP connection on a machine?",
            &[
                "the server's port",
                "the client's port",
                "source address, source port, destination address, destination port",
            ],
            2,
        )
        .hint("a server port is shared by all its clients, and a client port can be reused towards other servers")
        .hint("one server port, many connections: what else must differ between them?")
        .why("The 4-tuple. Change any one of the four and it is another connection."),
    )?;
    Ok(())
}
