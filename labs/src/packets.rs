//! Reading a lab's packets: dissect a [`Recording`] with netlab-inspect, find the packets a
//! question is about (the SYN, the first data segment, the datagram of 100 bytes), and show them
//! the way the labs teach: a packet list, a byte map (every byte of a frame labelled with its OSI
//! and TCP/IP layer) and a hex dump coloured by layer.

use netlab_inspect::flows::FlowTracker;
use netlab_inspect::{Dissection, Layer, Packet, Protocol};

use crate::capture::Recording;
use crate::render;
use crate::style::Style;

/// Dissects every packet of a recording, in order, through the flow tracker: netlab-inspect's
/// [`Packet`]s, numbered from 1 as in Wireshark.
pub fn dissect_all(rec: &Recording) -> Vec<Packet> {
    let mut tracker = FlowTracker::new();
    rec.packets
        .iter()
        .zip(1..)
        .map(|(raw, number)| tracker.packet(number, raw.clone()))
        .collect()
}

/// The questions the labs ask of a dissected packet, answered from its fields by their dotted
/// names (`tcp.flags.syn`) and from the flow tracker's annotation.
pub trait LabPacket {
    /// Relative sequence and acknowledgement numbers from the flow tracker (0 when absent).
    fn rel_seq_ack(&self) -> (u32, u32);
    /// A numeric field by its dotted name (`tcp.hdr_len`).
    fn num(&self, name: &str) -> Option<u64>;
    /// A one-bit field (`tcp.flags.syn`) that is set.
    fn flag(&self, name: &str) -> bool;
    fn is_tcp(&self) -> bool;
    fn is_udp(&self) -> bool;
    /// Transport payload bytes: `tcp.len` or the UDP payload length.
    fn payload_len(&self) -> u64;
    fn src_port(&self) -> Option<u64>;
    fn dst_port(&self) -> Option<u64>;
    /// `127.0.0.1:41234`.
    fn src(&self) -> String;
    fn dst(&self) -> String;
    /// TCP flags as Wireshark names them: `SYN, ACK`.
    fn tcp_flags(&self) -> String;
    /// The transport payload's bytes.
    fn payload(&self) -> &[u8];
    /// A short Info column: TCP flags and payload length (`[PSH, ACK] Len=5`), or the UDP
    /// payload length; other packets get their innermost layer's summary.
    fn info(&self) -> String;
    /// The innermost protocol's name.
    fn protocol(&self) -> &str;
}

impl LabPacket for Packet {
    fn rel_seq_ack(&self) -> (u32, u32) {
        let f = self.flow.as_ref();
        (
            f.and_then(|f| f.rel_seq).unwrap_or(0),
            f.and_then(|f| f.rel_ack).unwrap_or(0),
        )
    }

    fn num(&self, name: &str) -> Option<u64> {
        self.dissection.field(name).and_then(|f| f.value.as_u64())
    }

    fn flag(&self, name: &str) -> bool {
        self.num(name) == Some(1)
    }

    fn is_tcp(&self) -> bool {
        self.dissection.layer(Protocol::Tcp).is_some()
    }

    fn is_udp(&self) -> bool {
        self.dissection.layer(Protocol::Udp).is_some()
    }

    fn payload_len(&self) -> u64 {
        self.num("tcp.len")
            .or_else(|| self.num("udp.payload_len"))
            .unwrap_or(0)
    }

    fn src_port(&self) -> Option<u64> {
        self.num("tcp.srcport").or_else(|| self.num("udp.srcport"))
    }

    fn dst_port(&self) -> Option<u64> {
        self.num("tcp.dstport").or_else(|| self.num("udp.dstport"))
    }

    fn src(&self) -> String {
        endpoint(&self.dissection, "ip.src", self.src_port())
    }

    fn dst(&self) -> String {
        endpoint(&self.dissection, "ip.dst", self.dst_port())
    }

    fn tcp_flags(&self) -> String {
        let names = [
            ("tcp.flags.syn", "SYN"),
            ("tcp.flags.fin", "FIN"),
            ("tcp.flags.reset", "RST"),
            ("tcp.flags.push", "PSH"),
            ("tcp.flags.ack", "ACK"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(f, _)| self.flag(f))
            .map(|(_, n)| *n)
            .collect();
        set.join(", ")
    }

    fn payload(&self) -> &[u8] {
        let len = self.payload_len() as usize;
        let end = self.raw.bytes.len();
        &self.raw.bytes[end.saturating_sub(len)..]
    }

    fn info(&self) -> String {
        if self.is_tcp() {
            format!("[{}] Len={}", self.tcp_flags(), self.payload_len())
        } else if self.is_udp() {
            format!("Len={}", self.payload_len())
        } else {
            self.dissection
                .layers
                .last()
                .map(|l| l.summary.to_string())
                .unwrap_or_default()
        }
    }

    fn protocol(&self) -> &str {
        self.dissection
            .layers
            .last()
            .map_or("?", |l| l.protocol.name())
    }
}

fn endpoint(d: &Dissection, ip: &str, port: Option<u64>) -> String {
    let addr = d.field(ip).map(|f| f.value.to_string()).unwrap_or_default();
    match port {
        Some(p) => format!("{addr}:{p}"),
        None => addr,
    }
}

/// One labelled run of bytes in a frame: a header, or the application's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub range: std::ops::Range<usize>,
    /// `3 Network`.
    pub osi: String,
    /// `Internet`.
    pub tcpip: String,
    /// `IPv4 header`.
    pub what: String,
    /// The layer's protocol; `None` for the payload no layer decoded.
    pub protocol: Option<Protocol>,
}

/// Splits a frame into its headers and payload, each labelled with both models' layers. The
/// segments are contiguous and cover every captured byte.
pub fn segments(p: &Packet) -> Vec<Segment> {
    let layers = &p.dissection.layers;
    let mut out = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let start = layer.byte_range.start;
        let next = layers.get(i + 1).map(|l| l.byte_range.start);
        let header_end = match next {
            Some(n) => n,
            None => start + header_len(p, layer).unwrap_or(layer.byte_range.len()),
        }
        .min(p.raw.bytes.len());
        out.push(Segment {
            range: start..header_end,
            osi: format!("{} {}", layer.osi.number(), layer.osi.name()),
            tcpip: layer.tcpip.name().to_string(),
            what: if layer.tcpip == netlab_inspect::TcpIpLayer::Application {
                format!("{} data", layer.protocol)
            } else {
                format!("{} header", layer.protocol)
            },
            protocol: Some(layer.protocol),
        });
    }
    let covered = out.last().map_or(0, |s| s.range.end);
    if covered < p.raw.bytes.len() {
        out.push(Segment {
            range: covered..p.raw.bytes.len(),
            osi: "5-7 Session, Presentation, Application".into(),
            tcpip: "Application".into(),
            what: "payload: the application's bytes".into(),
            protocol: None,
        });
    }
    out
}

/// The header length of a transport layer that is the last layer (its range includes payload).
fn header_len(p: &Packet, layer: &Layer) -> Option<usize> {
    match layer.protocol {
        Protocol::Tcp => p.num("tcp.hdr_len").map(|n| n as usize),
        Protocol::Udp => Some(8),
        _ => None,
    }
}

/// Header bytes of one protocol in this frame (0 if absent).
pub fn header_bytes(p: &Packet, protocol: Protocol) -> usize {
    segments(p)
        .iter()
        .filter(|s| s.protocol == Some(protocol) && s.what.ends_with(" header"))
        .map(|s| s.range.len())
        .sum()
}

/// A packet list: number, time since the first packet, endpoints, protocol, length, info.
pub fn packet_table(pkts: &[Packet], style: Style) -> String {
    let mut t = render::table(
        &[
            "No.",
            "Time\n(ms)",
            "Source",
            "Destination",
            "Proto",
            "Length",
            "Info",
        ],
        style,
    );
    // Short headers and whole addresses: at 80 columns only Info wraps (at its spaces).
    render::keep_whole(&mut t, &[0, 1, 2, 3, 4, 5]);
    let t0 = pkts.first().map_or(0.0, |p| p.raw.ts.as_secs_f64());
    for p in pkts {
        t.add_row(vec![
            p.number.to_string(),
            format!("{:.3}", (p.raw.ts.as_secs_f64() - t0) * 1000.0),
            p.src(),
            p.dst(),
            p.protocol().to_string(),
            p.raw.bytes.len().to_string(),
            p.info(),
        ]);
    }
    t.to_string()
}

/// The byte map: every byte of the frame in exactly one row.
pub fn byte_map(p: &Packet, style: Style) -> String {
    let mut t = render::table(
        &["bytes", "length", "what", "OSI layer", "TCP/IP layer"],
        style,
    );
    render::keep_whole(&mut t, &[0, 1]);
    for s in segments(p) {
        t.add_row(vec![
            format!("{}..{}", s.range.start, s.range.end.saturating_sub(1)),
            s.range.len().to_string(),
            s.what,
            s.osi,
            s.tcpip,
        ]);
    }
    t.add_row(vec![
        "(none)".to_string(),
        "0".to_string(),
        "the signal on a wire: no bytes in a capture".to_string(),
        "1 Physical".to_string(),
        "Link".to_string(),
    ]);
    t.to_string()
}

/// A hex dump by netlab-inspect's renderer: bytes coloured by layer, a letter row naming each
/// byte's layer when there is no colour, and the bytes of the field `highlight` marked.
pub fn hex_dump(p: &Packet, style: Style, highlight: Option<&str>) -> String {
    let packet = Packet {
        number: p.number,
        raw: p.raw.clone(),
        dissection: with_data_layer(p),
        flow: p.flow.clone(),
    };
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = netlab_inspect::render::hex::write(&mut out, &packet, style.inspect(), highlight);
    String::from_utf8_lossy(&out).into_owned()
}

/// The layer tree by netlab-inspect's renderer: each layer with both models' names, its bytes,
/// its fields with offsets, and notes on capture artefacts.
pub fn layer_tree(p: &Packet, style: Style) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = netlab_inspect::render::tree::write(&mut out, p, style.inspect());
    String::from_utf8_lossy(&out).into_owned()
}

/// The dissection with the transport payload split off as its own "Data" layer, so the hex
/// dump colours the application's bytes apart from the TCP or UDP header, as the byte map does.
fn with_data_layer(p: &Packet) -> Dissection {
    let mut d = p.dissection.clone();
    let Some(last) = d.layers.last_mut() else {
        return d;
    };
    let Some(hdr) = header_len(p, last) else {
        return d;
    };
    let split = last.byte_range.start + hdr;
    if split >= last.byte_range.end {
        return d;
    }
    let data = split..last.byte_range.end;
    last.byte_range.end = split;
    d.layers.push(Layer {
        osi: netlab_inspect::OsiLayer::Application,
        tcpip: netlab_inspect::TcpIpLayer::Application,
        protocol: Protocol::Data,
        summary: format!("{} bytes of application data", data.len()).into(),
        fields: Vec::new(),
        byte_range: data,
        reason: None,
        notes: Vec::new(),
    });
    d
}

/// Byte strings as text, for checks whose detail a student reads.
pub fn text(chunks: &[Vec<u8>]) -> Vec<String> {
    chunks
        .iter()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}
