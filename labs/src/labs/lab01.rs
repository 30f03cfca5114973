//! Lab 01, layers and encapsulation: one TCP echo exchange and one UDP exchange captured on
//! loopback, every byte of a frame labelled with its OSI and TCP/IP layer, the header overhead for
//! payloads of 1, 100 and 1400 bytes, and the two models side by side.

use netlab_echo::ImpairmentConfig;
use netlab_inspect::{Packet, Protocol};

use crate::capture::Recording;
use crate::packets::{self, LabPacket, text};
use crate::question::Question;
use crate::render;
use crate::servers::{self, Running};
use crate::session::Session;
use crate::{LabError, LabFuture, LabInfo};

pub const INFO: LabInfo = LabInfo {
    number: 1,
    slug: "layers",
    title: "Layers and encapsulation",
    minutes: 2,
    guide: include_str!("../../guides/01-layers.md"),
    run,
};

const HELLO: &[u8] = b"hello";
/// Payload sizes for the overhead table: tiny, typical small message, near a full Ethernet MTU.
const SIZES: [usize; 3] = [1, 100, 1400];

fn run(s: &mut Session) -> LabFuture<'_> {
    Box::pin(async move {
        s.explain("Layers in one picture")?;
        let tcp = servers::tcp_echo().await?;
        let udp = servers::udp_echo(ImpairmentConfig::default()).await?;
        s.act(&format!(
            "TCP echo server on {}, UDP echo server on {}; sending \"hello\" to each",
            tcp.addr, udp.addr
        ));
        let (echo, tcp_rec) = s
            .capture(
                "lab01-tcp",
                &[tcp.port()],
                servers::tcp_exchange(tcp.addr, &[HELLO]),
            )
            .await?;
        s.check_eq(
            "TCP echo returned hello",
            text(&echo.echoes),
            vec!["hello".to_string()],
        );
        let (echo, udp_rec) = s
            .capture(
                "lab01-udp",
                &[udp.port()],
                servers::udp_exchange(udp.addr, &[HELLO]),
            )
            .await?;
        s.check_eq(
            "UDP echo returned hello",
            text(&echo),
            vec!["hello".to_string()],
        );

        let tcp_pkts = tcp_exchange(s, &tcp_rec)?;
        labelled_frame(s, &tcp_pkts)?;
        checksums(s, &tcp_pkts)?;
        udp_frame(s, &udp_rec)?;
        overhead(s, &tcp, &udp).await?;
        tcp.stop();
        udp.stop();
        models(s)?;
        s.explain("What you learned")?;
        Ok(())
    })
}

/// The packet list of the TCP exchange, and the checks that it is a whole conversation.
fn tcp_exchange(s: &mut Session, rec: &Recording) -> Result<Vec<Packet>, LabError> {
    s.explain("A TCP echo exchange")?;
    let pkts = packets::dissect_all(rec);
    s.show(
        &format!("{} packets of one TCP conversation", pkts.len()),
        &packets::packet_table(&pkts, s.style()),
    );
    let flags: Vec<String> = pkts.iter().take(3).map(Packet::tcp_flags).collect();
    s.check_eq(
        "the conversation opens with SYN, SYN-ACK, ACK",
        flags,
        vec!["SYN".to_string(), "SYN, ACK".into(), "ACK".into()],
    );
    let fins = pkts.iter().filter(|p| p.flag("tcp.flags.fin")).count();
    s.check_eq("each side sends one FIN", fins, 2);
    let with_data: Vec<&Packet> = pkts.iter().filter(|p| p.payload_len() > 0).collect();
    s.check(
        "two packets carry hello (request and echo)",
        with_data.len() == 2 && with_data.iter().all(|p| p.payload() == HELLO),
        format!("{} packets with data", with_data.len()),
    );
    s.measure("tcp.packets", pkts.len(), "");
    Ok(pkts)
}

/// The client's data frame: byte map, hex dump, questions on offsets and sizes.
fn labelled_frame(s: &mut Session, pkts: &[Packet]) -> Result<(), LabError> {
    s.explain("One frame, every byte labelled")?;
    let Some(p) = pkts.iter().find(|p| p.payload_len() > 0) else {
        s.check("a TCP packet with data was captured", false, "none found");
        return Ok(());
    };
    s.show(
        &format!(
            "Packet {}: the client sends \"hello\" ({} bytes)",
            p.number,
            p.raw.bytes.len()
        ),
        &packets::byte_map(p, s.style()),
    );
    s.show(
        "The same packet as a layer tree (fields with their offsets)",
        &packets::layer_tree(p, s.style()),
    );
    s.show(
        "The same bytes in hex (^^ marks the TCP header length field)",
        &packets::hex_dump(p, s.style(), Some("tcp.hdr_len")),
    );
    let segs = packets::segments(p);
    check_frame(s, p, Protocol::Tcp);
    let tcp_seg = segs.iter().find(|x| x.protocol == Some(Protocol::Tcp));
    let tcp_offset = tcp_seg.map_or(0, |x| x.range.start);
    let tcp_len = tcp_seg.map_or(0, |x| x.range.len());
    let (eth, ip) = (
        packets::header_bytes(p, Protocol::Ethernet),
        packets::header_bytes(p, Protocol::Ipv4),
    );
    s.measure("tcp.header_offset", tcp_offset, "bytes");
    s.measure("tcp.header_len", tcp_len, "bytes");
    // IPv4 options (0 in the practice variant; 4 to 40 bytes, in 4-byte words, per student).
    let ip_options = 4 * s.variant().pick("lab01.ip-option-words", 0, 1..=10);
    let (prompt, expected) = if ip_options == 0 {
        (
            "At which byte offset (counting from 0) does the TCP header start in this frame?"
                .to_string(),
            tcp_offset,
        )
    } else {
        (
            format!(
                "In this frame the TCP header starts at offset {tcp_offset}. At which offset would it start if the IPv4 header carried {ip_options} bytes of options?"
            ),
            tcp_offset + ip_options as usize,
        )
    };
    s.ask(
        Question::number("tcp-offset", &prompt, expected as f64)
            .hint("the headers before it are Ethernet and IPv4: add up their lengths")
            .hint("14 bytes of Ethernet, then the IPv4 header: 20 bytes plus any options")
            .why(&format!(
                "{eth} bytes of Ethernet (offsets 0-{}) and {} of IPv4 come first, so TCP starts at {expected}. The IPv4 header's IHL field (header length in 4-byte words) says where it ends.",
                eth - 1,
                ip + ip_options as usize
            )),
    )?;
    s.ask(
        Question::number(
            "tcp-header-len",
            "How many bytes long is the TCP header in this frame?",
            tcp_len as f64,
        )
        .unit("bytes")
        .hint("read the length of the TCP header row in the byte map")
        .hint("the data offset field counts 4-byte words: multiply it by 4")
        .why(&tcp_len_why(tcp_len)),
    )?;
    let ip_osi = p
        .dissection
        .layer(Protocol::Ipv4)
        .map_or(3, |l| usize::from(l.osi.number()));
    s.ask(
        Question::choice(
            "ip-osi-layer",
            "Which OSI layer does the IPv4 header belong to?",
            &["2 Data link", "3 Network", "4 Transport"],
            ip_osi.saturating_sub(2).min(2),
        )
        .hint("IP moves packets between networks, from one address to another")
        .hint("below transport (TCP), above the link (Ethernet)")
        .why("IP is the network layer (OSI 3), called the Internet layer in the TCP/IP model."),
    )?;
    Ok(())
}

/// The two checksums of the client's data frame, computed here from its bytes: the IPv4 header's
/// verifies; the TCP field holds only the pseudo-header's partial sum, for offload to finish.
fn checksums(s: &mut Session, pkts: &[Packet]) -> Result<(), LabError> {
    s.explain("Checksums: one finished, one left for later")?;
    let Some(p) = pkts.iter().find(|p| p.payload_len() > 0) else {
        return Ok(());
    };
    let Some(c) = frame_checksums(p) else {
        s.check(
            "the data frame has IPv4 and TCP headers",
            false,
            "not found",
        );
        return Ok(());
    };
    let mut t = render::table(
        &["checksum", "field holds", "computed over", "result"],
        s.style(),
    );
    let verifies = |sum: u16| {
        if sum == 0xffff {
            "verifies"
        } else {
            "does not verify"
        }
    };
    let partial = if c.pseudo_sum == c.tcp_field {
        "= the field: a partial sum"
    } else {
        "differs from the field"
    };
    let rows = [
        (
            "IPv4 header",
            c.ip_field,
            "the 20-byte IPv4 header",
            c.ip_sum,
            verifies(c.ip_sum),
        ),
        (
            "TCP",
            c.tcp_field,
            "pseudo-header + TCP header + data",
            c.tcp_sum,
            verifies(c.tcp_sum),
        ),
        (
            "TCP, pseudo-header only",
            c.tcp_field,
            "addresses, protocol 6, TCP length",
            c.pseudo_sum,
            partial,
        ),
    ];
    for (what, field, over, sum, result) in rows {
        t.add_row(vec![
            what.to_string(),
            format!("0x{field:04x}"),
            over.to_string(),
            format!("sum 0x{sum:04x}: {result}"),
        ]);
    }
    s.show(
        "Ones' complement sums over the client's data frame (0xffff means it verifies)",
        &t.to_string(),
    );
    s.measure("checksum.ip_verifies", c.ip_sum == 0xffff, "");
    s.measure("checksum.tcp_is_partial", c.pseudo_sum == c.tcp_field, "");
    s.check_eq("the IPv4 header checksum verifies", c.ip_sum, 0xffff);
    s.check(
        "the TCP checksum field holds the pseudo-header's partial sum",
        c.pseudo_sum == c.tcp_field && c.tcp_sum != 0xffff,
        format!(
            "field 0x{:04x}, pseudo-header sum 0x{:04x}",
            c.tcp_field, c.pseudo_sum
        ),
    );
    s.ask(
        Question::choice(
            "checksum-verifies",
            "Which checksum of this loopback frame verifies when you recompute it?",
            &[
                "only the IPv4 header's",
                "only the TCP checksum",
                "both",
                "neither: loopback skips every checksum",
            ],
            0,
        )
        .hint("read the result column of the table above")
        .hint("the IPv4 header is summed by the kernel itself; TCP's sum is left to a network card that lo does not have")
        .why("Linux computes the IPv4 header checksum in software (20 bytes, cheap). For TCP it writes only the sum of the pseudo-header, which a network card would complete over the data; on lo nothing completes it, and nothing checks it either, because the bytes never leave memory."),
    )?;
    Ok(())
}

/// Ones' complement sums (RFC 1071) over one IPv4/TCP frame. A correct checksum makes the sum
/// over its range 0xffff.
struct FrameChecksums {
    ip_field: u16,
    ip_sum: u16,
    tcp_field: u16,
    tcp_sum: u16,
    pseudo_sum: u16,
}

fn frame_checksums(p: &Packet) -> Option<FrameChecksums> {
    let segs = packets::segments(p);
    let ip = segs
        .iter()
        .find(|x| x.protocol == Some(Protocol::Ipv4))?
        .range
        .clone();
    let tcp_start = segs
        .iter()
        .find(|x| x.protocol == Some(Protocol::Tcp))?
        .range
        .start;
    let bytes = &p.raw.bytes;
    let ip_header = bytes.get(ip.clone())?;
    let total = usize::from(u16::from_be_bytes([ip_header[2], ip_header[3]]));
    let segment = bytes.get(tcp_start..ip.start + total)?;
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(ip_header.get(12..20)?);
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(segment.len() as u16).to_be_bytes());
    // craft::checksum returns the complement of the sum: undo it to show the sum itself.
    let sum = |parts: &[&[u8]]| !netlab_inspect::craft::checksum(parts);
    Some(FrameChecksums {
        ip_field: u16::from_be_bytes([ip_header[10], ip_header[11]]),
        ip_sum: sum(&[ip_header]),
        tcp_field: u16::from_be_bytes([*segment.get(16)?, *segment.get(17)?]),
        tcp_sum: sum(&[&pseudo, segment]),
        pseudo_sum: sum(&[&pseudo]),
    })
}

/// Why the TCP header has the length it has in this frame.
fn tcp_len_why(len: usize) -> String {
    if len > 20 {
        format!(
            "20 bytes of fixed fields plus {} of options: Linux adds the timestamp option (10 bytes, \
             padded to 12) to nearly every segment.",
            len - 20
        )
    } else {
        "20 bytes: the fixed fields only, this segment carries no options.".to_string()
    }
}

/// Checks that the byte map of `p` is sound: contiguous, covering every byte, with the fixed
/// header sizes of Ethernet, IPv4 and UDP and a valid TCP header length.
fn check_frame(s: &mut Session, p: &Packet, transport: Protocol) {
    let segs = packets::segments(p);
    let contiguous = segs.windows(2).all(|w| w[0].range.end == w[1].range.start);
    let covers = segs.first().map(|x| x.range.start) == Some(0)
        && segs.last().map(|x| x.range.end) == Some(p.raw.bytes.len());
    s.check(
        &format!("{transport} frame: every byte labelled exactly once"),
        contiguous && covers,
        format!("{} segments over {} bytes", segs.len(), p.raw.bytes.len()),
    );
    s.check_eq(
        &format!("{transport} frame: Ethernet header is 14 bytes"),
        packets::header_bytes(p, Protocol::Ethernet),
        14,
    );
    s.check_eq(
        &format!("{transport} frame: IPv4 header is 20 bytes"),
        packets::header_bytes(p, Protocol::Ipv4),
        20,
    );
    let t = packets::header_bytes(p, transport);
    if transport == Protocol::Udp {
        s.check_eq("UDP header is 8 bytes", t, 8);
    } else {
        s.check(
            "TCP header is 20 to 60 bytes, a multiple of 4",
            (20..=60).contains(&t) && t % 4 == 0,
            format!("{t} bytes"),
        );
    }
}

fn udp_frame(s: &mut Session, rec: &Recording) -> Result<(), LabError> {
    s.explain("The same over UDP")?;
    let pkts = packets::dissect_all(rec);
    s.show(
        &format!("{} packets of the UDP exchange", pkts.len()),
        &packets::packet_table(&pkts, s.style()),
    );
    s.check(
        "UDP: one datagram each way, no handshake, no teardown",
        pkts.len() == 2 && pkts.iter().all(|p| p.is_udp() && p.payload() == HELLO),
        format!("{} packets", pkts.len()),
    );
    let Some(p) = pkts.first() else {
        return Ok(());
    };
    s.show(
        &format!(
            "Packet {}: \"hello\" over UDP ({} bytes)",
            p.number,
            p.raw.bytes.len()
        ),
        &packets::byte_map(p, s.style()),
    );
    s.show(
        "The same bytes in hex (^^ marks the UDP length field)",
        &packets::hex_dump(p, s.style(), Some("udp.length")),
    );
    check_frame(s, p, Protocol::Udp);
    s.check_eq(
        "UDP length field = 8 + payload",
        p.num("udp.length"),
        Some(8 + HELLO.len() as u64),
    );
    s.measure("udp.frame_len", p.raw.bytes.len(), "bytes");
    s.ask(
        Question::number(
            "udp-header-len",
            "How many bytes long is the UDP header?",
            packets::header_bytes(p, Protocol::Udp) as f64,
        )
        .unit("bytes")
        .hint("read the UDP header row of the byte map")
        .hint("four fields of 2 bytes each")
        .why("Four 2-byte fields: source port, destination port, length, checksum. UDP adds little more than ports to IP."),
    )?;
    let payload = s.variant().pick("lab01.udp-payload", 5, 6..=1472) as usize;
    let headers = packets::header_bytes(p, Protocol::Ethernet)
        + packets::header_bytes(p, Protocol::Ipv4)
        + packets::header_bytes(p, Protocol::Udp);
    let prompt = if payload == HELLO.len() {
        "How many bytes long is the whole UDP frame that carries \"hello\"?".to_string()
    } else {
        format!(
            "The frame that carries \"hello\" (5 bytes) is {} bytes long. How long would a UDP frame carrying {payload} bytes be?",
            p.raw.bytes.len()
        )
    };
    s.ask(
        Question::number("udp-frame-len", &prompt, (headers + payload) as f64)
            .unit("bytes")
            .hint("Ethernet + IPv4 + UDP headers + the data")
            .hint(&format!("14 + 20 + 8 + {payload}"))
            .why(&format!(
                "{headers} bytes of headers + {payload} of data = {} bytes: the headers are the same whatever the payload.",
                headers + payload
            )),
    )?;
    Ok(())
}

/// Sends payloads of [`SIZES`] over TCP and UDP, and tabulates each frame's headers.
async fn overhead(s: &mut Session, tcp: &Running, udp: &Running) -> Result<(), LabError> {
    s.explain("What the headers cost")?;
    let payloads: Vec<Vec<u8>> = SIZES.iter().map(|&n| vec![b'x'; n]).collect();
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let guess = s.predict(
        "predict-overhead",
        "Before measuring: what percentage of a TCP frame carrying 1 byte of data do you expect to be headers?",
    )?;
    s.act("sending 1, 100 and 1400 bytes over TCP, then over UDP");
    let (tcp_addr, udp_addr) = (tcp.addr, udp.addr);
    let (_, rec) = s
        .capture("lab01-sizes", &[tcp.port(), udp.port()], async {
            servers::tcp_exchange(tcp_addr, &refs).await?;
            servers::udp_exchange(udp_addr, &refs).await
        })
        .await?;
    let pkts = packets::dissect_all(&rec);
    let mut t = render::table(
        &[
            "protocol",
            "payload",
            "Ethernet",
            "IPv4",
            "TCP/UDP",
            "headers",
            "frame",
            "headers %",
        ],
        s.style(),
    );
    let mut tcp_small_headers = None;
    for proto in [Protocol::Tcp, Protocol::Udp] {
        for &size in &SIZES {
            // The request, not the echo: the first packet of this protocol with this payload.
            let found = pkts.iter().find(|p| {
                p.payload_len() == size as u64
                    && (if proto == Protocol::Tcp {
                        p.is_tcp()
                    } else {
                        p.is_udp()
                    })
            });
            let Some(p) = found else {
                s.check(
                    &format!("{proto} packet with {size} bytes captured"),
                    false,
                    "not found",
                );
                continue;
            };
            let (eth, ip, tr) = (
                packets::header_bytes(p, Protocol::Ethernet),
                packets::header_bytes(p, Protocol::Ipv4),
                packets::header_bytes(p, proto),
            );
            let headers = eth + ip + tr;
            let frame = p.raw.bytes.len();
            let percent = 100.0 * headers as f64 / frame as f64;
            if proto == Protocol::Tcp && size == 1 {
                tcp_small_headers = Some(headers as u64);
            }
            s.check_eq(
                &format!("{proto} {size} B: frame = headers + payload"),
                frame,
                headers + size,
            );
            s.measure(
                &format!("overhead.{}.{size}", proto.name().to_lowercase()),
                (percent * 10.0).round() / 10.0,
                "%",
            );
            t.add_row(vec![
                proto.to_string(),
                size.to_string(),
                eth.to_string(),
                ip.to_string(),
                tr.to_string(),
                headers.to_string(),
                frame.to_string(),
                format!("{percent:.1}"),
            ]);
        }
    }
    s.show("Header bytes per layer, measured", &t.to_string());
    let header_len = tcp_small_headers.unwrap_or(66);
    let one_byte = 100.0 * header_len as f64 / (header_len as f64 + 1.0);
    s.reveal(guess, (one_byte * 10.0).round() / 10.0, "%");
    let payload = s.variant().pick("lab01.tcp-payload", 1, 1..=200);
    let percent = 100.0 * header_len as f64 / (header_len as f64 + payload as f64);
    s.ask(
        Question::number(
            "overhead-tcp",
            &format!(
                "This run's small TCP frames carry {header_len} bytes of headers (Ethernet, IPv4, TCP with its options). For a {payload}-byte payload, what percentage of the frame is headers? (to the nearest whole number)"
            ),
            percent,
        )
        .tolerance(1.0)
        .unit("%")
        .hint("headers divided by the whole frame (headers + payload), times 100")
        .hint(&format!("{header_len} / ({header_len} + {payload}) x 100"))
        .why(&format!(
            "{header_len} / {} = {percent:.1}%: headers cost the same whatever the payload, so small messages are mostly overhead.",
            header_len + payload
        )),
    )?;
    wire_cost(s)
}

/// What a capture does not show: the bytes a real Ethernet wire adds to each frame.
fn wire_cost(s: &mut Session) -> Result<(), LabError> {
    s.explain("What a capture does not show")?;
    let payload = s.variant().pick("lab01.wire-payload", 1, 1..=60);
    let captured = 14 + 20 + 8 + payload;
    let wire = (captured + FCS).max(MIN_FRAME) + PREAMBLE + GAP;
    let mut t = render::table(&["on the wire", "bytes", "in a capture?"], s.style());
    let rows: [(&str, String, &str); 5] = [
        ("preamble and start delimiter", PREAMBLE.to_string(), "no"),
        (
            "the frame: headers and payload",
            "as captured".into(),
            "yes",
        ),
        (
            "padding up to the 64-byte minimum (with FCS)",
            "0 to 46".into(),
            "no (sent, stripped on receipt)",
        ),
        ("frame check sequence (CRC-32)", FCS.to_string(), "no"),
        ("inter-frame gap (idle)", GAP.to_string(), "no"),
    ];
    for (what, bytes, captured) in rows {
        t.add_row(vec![what.to_string(), bytes, captured.to_string()]);
    }
    s.show("What Ethernet adds around every frame", &t.to_string());
    s.measure("wire.payload", payload, "bytes");
    s.ask(
        Question::number(
            "wire-bytes",
            &format!(
                "A UDP datagram with a {payload}-byte payload is captured as a {captured}-byte frame (14 Ethernet + 20 IPv4 + 8 UDP + {payload}). How many byte times does it occupy on a real Ethernet wire, counting FCS, padding, preamble and gap?"
            ),
            wire as f64,
        )
        .unit("bytes")
        .hint("add the 4-byte FCS, then pad to 64 if smaller, then add 8 of preamble and 12 of gap")
        .hint(&format!("max({captured} + 4, 64) + 8 + 12"))
        .why(&format!(
            "max({captured} + {FCS}, {MIN_FRAME}) + {PREAMBLE} + {GAP} = {wire}: a tiny payload costs at least 84 byte times on the wire, however small it is."
        )),
    )?;
    Ok(())
}

/// Ethernet on the wire: frame check sequence, minimum frame (with FCS), preamble with start
/// delimiter, and the inter-frame gap, in bytes (IEEE 802.3).
const FCS: u64 = 4;
const MIN_FRAME: u64 = 64;
const PREAMBLE: u64 = 8;
const GAP: u64 = 12;

fn models(s: &mut Session) -> Result<(), LabError> {
    s.explain("OSI and TCP/IP side by side")?;
    s.ask(
        Question::choice(
            "osi-no-header",
            "Which OSI layers had no header of their own in the frames you captured?",
            &["2 and 3", "4 and 7", "5 and 6"],
            2,
        )
        .hint("look at the OSI column of the byte maps: which numbers never appear alone?")
        .hint("which layers does the side-by-side table say live inside the application?")
        .why("Session (5) and presentation (6) happen inside applications and their libraries (TLS, encodings), not in separate headers. That is where OSI fits the Internet badly."),
    )?;
    Ok(())
}
