//! Lab 02, TCP: the three-way handshake with its sequence numbers, data and ACKs, the FIN
//! teardown, a byte stream rather than messages (three writes, one read; Nagle on, then
//! TCP_NODELAY), and the socket as its 4-tuple.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::capture::{Recording, Source};
use crate::packets::{self, Pkt, text};
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
        teardown(s, &pkts)?;
        byte_stream(s).await?;
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
    fn new(pkts: &[Pkt]) -> Option<Conversation> {
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

    fn is_client(&self, p: &Pkt) -> bool {
        p.src_port() == Some(self.client_port)
    }

    /// Relative sequence and acknowledgement numbers, as netlab-inspect's flow tracker counts
    /// them (raw minus the sender's or the peer's initial sequence number).
    fn relative(&self, p: &Pkt) -> (u64, u64) {
        let (seq, ack) = p.rel_seq_ack();
        (u64::from(seq), u64::from(ack))
    }

    fn table(&self, pkts: &[Pkt], style: crate::Style) -> String {
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

fn handshake(s: &mut Session, pkts: &[Pkt], conv: &Conversation) -> Result<(), LabError> {
    let flags: Vec<String> = pkts.iter().take(3).map(Pkt::tcp_flags).collect();
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
    s.ask(
        Question::number(
            "syn-ack-number",
            &format!(
                "The client's SYN carried sequence number {}. What acknowledgement number does the SYN-ACK carry?",
                conv.client_isn
            ),
            syn_ack_ack as f64,
        )
        .hint("the SYN itself counts as one byte of the client's stream")
        .why("ISN + 1: the server says \"I got your SYN, the next byte I expect is the one after it\"."),
    )?;
    Ok(())
}

fn data_and_acks(s: &mut Session, pkts: &[Pkt], conv: &Conversation) -> Result<(), LabError> {
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
    s.ask(
        Question::number(
            "hello-ack",
            "The client sent hello (5 bytes) starting at relative sequence 1. What relative ACK number does the server answer with?",
            ack as f64,
        )
        .hint("an ACK names the next byte expected: bytes 1 to 5 arrived")
        .why("1 + 5 = 6: bytes 1 to 5 are acknowledged, byte 6 is next."),
    )?;
    Ok(())
}

fn teardown(s: &mut Session, pkts: &[Pkt]) -> Result<(), LabError> {
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
        pkts.last().map(Pkt::tcp_flags).as_deref() == Some("ACK"),
        pkts.last().map(Pkt::tcp_flags).unwrap_or_default(),
    );
    s.measure("tcp.teardown_packets", count, "");
    s.ask(
        Question::number(
            "teardown-packets",
            "How many packets did the teardown take here, from the first FIN to the end?",
            count as f64,
        )
        .hint("count the rows from the first one with FIN to the last one in the table above")
        .why("FIN, ACK of it, FIN the other way, ACK of that: four, or three when the second FIN rides on the first ACK."),
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
}

async fn byte_stream(s: &mut Session) -> Result<(), LabError> {
    s.explain("A byte stream, not messages")?;
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
        let segments = data_segments(&packets::dissect_all(&rec));
        runs.push(WriteRun {
            first_read,
            reads,
            all,
            segments,
        });
    }
    let mut t = render::table(
        &[
            "client socket",
            "writes",
            "data segments on the wire",
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
    s.measure("nagle.segments", nagle, "");
    s.measure("nodelay.segments", nodelay, "");
    s.ask(
        Question::number(
            "reads-needed",
            "The client made 3 writes. How many reads did the server need to get all 11 bytes?",
            runs[0].reads as f64,
        )
        .hint("look at the last columns: what did the server's first read return?")
        .why("One: TCP delivers a stream of bytes, and everything that arrived is returned by one read. Message boundaries are not kept."),
    )?;
    s.ask(
        Question::number(
            "nagle-segments",
            "With Nagle on, how many data segments carried the three writes in this run?",
            nagle as f64,
        )
        .hint("read the Nagle row of the table")
        .why("Usually 2: \"one\" goes at once; \"two\" and \"three\" wait for its ACK, which the server delays, and then leave together. TCP_NODELAY sends each write at once: 3."),
    )?;
    Ok(())
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
/// loss probe may resend the last one while the ACK is delayed; a resend is not a new segment).
fn data_segments(pkts: &[Pkt]) -> usize {
    let Some(syn) = pkts
        .iter()
        .find(|p| p.flag("tcp.flags.syn") && !p.flag("tcp.flags.ack"))
    else {
        return 0;
    };
    let client = syn.src_port();
    let mut seqs: Vec<u64> = pkts
        .iter()
        .filter(|p| p.src_port() == client && p.payload_len() > 0 && p.payload() != b"?")
        .filter_map(|p| p.num("tcp.seq_raw"))
        .collect();
    seqs.sort_unstable();
    seqs.dedup();
    seqs.len()
}

fn four_tuple(
    s: &mut Session,
    pkts: &[Pkt],
    rec: &Recording,
    exchange: &servers::TcpExchange,
) -> Result<(), LabError> {
    s.explain("A socket is a 4-tuple")?;
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
        .why("The 4-tuple. Change any one of the four and it is another connection."),
    )?;
    Ok(())
}
