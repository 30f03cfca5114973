//! Hand-built packets for renderer tests: real bytes with the fields a dissector would report,
//! so the views are pinned independently of the dissector's own tests.

// `..Default::default()` keeps these building when the model's Dissection gains fields.
#![allow(clippy::needless_update)]

use crate::model::{
    Dissection, Field, FlowAnnotation, Layer, LinkType, OsiLayer, Packet, Protocol, RawPacket,
    Reason, TcpIpLayer, Timestamp, Value,
};

fn f(name: &'static str, label: &'static str, value: Value, offset: usize, len: usize) -> Field {
    Field {
        name,
        label,
        value,
        offset,
        len,
    }
}

fn layer(
    protocol: Protocol,
    osi: OsiLayer,
    tcpip: TcpIpLayer,
    range: std::ops::Range<usize>,
    summary: &str,
    fields: Vec<Field>,
) -> Layer {
    Layer {
        osi,
        tcpip,
        protocol,
        summary: summary.into(),
        fields,
        byte_range: range,
        reason: None,
        notes: vec![],
    }
}

pub const T0: i64 = 1_764_133_560;

/// Frame bytes: Ethernet (zero MACs) / IPv4 127.0.0.1 -> 127.0.0.1 / TCP 43512 -> 80 PSH,ACK /
/// "GET / HTTP/1.1\r\nHost: x\r\n\r\n".
pub fn http_bytes() -> Vec<u8> {
    let payload = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut b = vec![0u8; 12];
    b.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 20 + payload.len()) as u16;
    b.extend_from_slice(&[0x45, 0x00]);
    b.extend_from_slice(&total.to_be_bytes());
    b.extend_from_slice(&[0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00]);
    b.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
    b.extend_from_slice(&43512u16.to_be_bytes());
    b.extend_from_slice(&80u16.to_be_bytes());
    b.extend_from_slice(&0x1000u32.to_be_bytes());
    b.extend_from_slice(&0x2000u32.to_be_bytes());
    b.extend_from_slice(&[0x50, 0x18, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00]);
    b.extend_from_slice(payload);
    b
}

pub fn http_packet() -> Packet {
    let bytes = http_bytes();
    let n = bytes.len();
    let mut eth = layer(
        Protocol::Ethernet,
        OsiLayer::DataLink,
        TcpIpLayer::Link,
        0..14,
        "Src: 00:00:00:00:00:00, Dst: 00:00:00:00:00:00, Type: IPv4 (0x0800)",
        vec![
            f("eth.dst", "Destination", Value::Bytes(vec![0; 6]), 0, 6),
            f("eth.src", "Source", Value::Bytes(vec![0; 6]), 6, 6),
            f("eth.type", "Type", Value::U64(0x0800), 12, 2),
        ],
    );
    eth.notes
        .push("zero MAC addresses: a loopback frame never reaches a real network card".into());
    let ip = layer(
        Protocol::Ipv4,
        OsiLayer::Network,
        TcpIpLayer::Internet,
        14..34,
        "Src: 127.0.0.1, Dst: 127.0.0.1, TTL 64, Proto TCP (6), Len 67",
        vec![
            f("ip.version", "Version", Value::U64(4), 14, 1),
            f("ip.hdr_len", "Header length", Value::U64(20), 14, 1),
            f("ip.len", "Total length", Value::U64(67), 16, 2),
            f("ip.ttl", "Time to live", Value::U64(64), 22, 1),
            f("ip.proto", "Protocol", Value::U64(6), 23, 1),
            f(
                "ip.src",
                "Source address",
                Value::Text("127.0.0.1".into()),
                26,
                4,
            ),
            f(
                "ip.dst",
                "Destination address",
                Value::Text("127.0.0.1".into()),
                30,
                4,
            ),
        ],
    );
    let mut tcp = layer(
        Protocol::Tcp,
        OsiLayer::Transport,
        TcpIpLayer::Transport,
        34..54,
        "43512 → 80 [PSH, ACK] Seq=1 Ack=1 Win=65535 Len=27",
        vec![
            f("tcp.srcport", "Source port", Value::U64(43512), 34, 2),
            f("tcp.dstport", "Destination port", Value::U64(80), 36, 2),
            f(
                "tcp.seq_raw",
                "Sequence number (raw)",
                Value::U64(0x1000),
                38,
                4,
            ),
            f(
                "tcp.ack_raw",
                "Acknowledgment number (raw)",
                Value::U64(0x2000),
                42,
                4,
            ),
            f("tcp.flags.syn", "Syn", Value::Bool(false), 47, 1),
            f("tcp.flags.push", "Push", Value::Bool(true), 47, 1),
            f("tcp.flags.ack", "Acknowledgment", Value::Bool(true), 47, 1),
            f("tcp.window_size_value", "Window", Value::U64(65535), 48, 2),
            f("tcp.len", "Payload length", Value::U64(27), 54, 27),
        ],
    );
    tcp.notes
        .push("checksum not verified: the kernel leaves it to the network card (offload)".into());
    let mut http = layer(
        Protocol::Http,
        OsiLayer::Application,
        TcpIpLayer::Application,
        54..n,
        "GET / HTTP/1.1",
        vec![
            f(
                "http.request.method",
                "Method",
                Value::Text("GET".into()),
                54,
                3,
            ),
            f("http.request.uri", "URI", Value::Text("/".into()), 58, 1),
            f(
                "http.request.version",
                "Version",
                Value::Text("HTTP/1.1".into()),
                60,
                8,
            ),
            f("http.host", "Host", Value::Text("x".into()), 76, 1),
        ],
    );
    http.reason = Some(Reason::Port(80));
    Packet {
        number: 4,
        raw: RawPacket {
            ts: Timestamp {
                secs: T0,
                nanos: 500_000_000,
            },
            link_type: LinkType::ETHERNET,
            orig_len: n as u32,
            bytes,
        },
        dissection: Dissection {
            layers: vec![eth, ip, tcp, http],
            ..Default::default()
        },
        flow: Some(FlowAnnotation {
            stream: 0,
            rel_seq: Some(1),
            rel_ack: Some(1),
            notes: vec!["request".into()],
        }),
    }
}

/// An Ethernet frame whose IPv4 header is cut after 10 bytes, 250 µs after [`http_packet`].
pub fn truncated_packet() -> Packet {
    let mut bytes = http_bytes();
    bytes.truncate(24);
    let eth = layer(
        Protocol::Ethernet,
        OsiLayer::DataLink,
        TcpIpLayer::Link,
        0..14,
        "Src: 00:00:00:00:00:00, Dst: 00:00:00:00:00:00, Type: IPv4 (0x0800)",
        vec![f("eth.type", "Type", Value::U64(0x0800), 12, 2)],
    );
    let why = "IPv4 truncated: needs 20 bytes at frame offset 14, only 10 captured";
    let bad = layer(
        Protocol::Malformed,
        OsiLayer::Network,
        TcpIpLayer::Internet,
        14..24,
        why,
        vec![],
    );
    Packet {
        number: 5,
        raw: RawPacket {
            ts: Timestamp {
                secs: T0,
                nanos: 500_250_000,
            },
            link_type: LinkType::ETHERNET,
            orig_len: 81,
            bytes,
        },
        dissection: Dissection {
            layers: vec![eth, bad],
            malformed: Some(why.to_string()),
            ..Default::default()
        },
        flow: None,
    }
}
