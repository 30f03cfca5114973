//! Filter tests on dissections built by hand, so they pin the language, not the dissector.

use super::*;
use crate::model::{
    Dissection, Field, FlowAnnotation, Layer, LinkType, OsiLayer, Packet, RawPacket, TcpIpLayer,
    Timestamp,
};

fn field(name: &'static str, value: Value) -> Field {
    Field {
        name,
        label: name,
        value,
        offset: 0,
        len: 1,
    }
}

fn layer(protocol: Protocol, osi: OsiLayer, tcpip: TcpIpLayer, fields: Vec<Field>) -> Layer {
    Layer {
        osi,
        tcpip,
        protocol,
        summary: crate::model::Summary::default(),
        fields,
        byte_range: 0..0,
        reason: None,
        notes: vec![],
    }
}

/// An HTTP request from 127.0.0.1:43512 to 127.0.0.1:80, TTL 64, SYN clear, stream 3.
fn http_packet() -> Packet {
    tcp_packet(
        "127.0.0.1",
        "127.0.0.2",
        43512,
        80,
        false,
        Some(Protocol::Http),
    )
}

fn tcp_packet(
    src: &str,
    dst: &str,
    sport: u64,
    dport: u64,
    syn: bool,
    app: Option<Protocol>,
) -> Packet {
    let mut layers = vec![
        layer(
            Protocol::Ethernet,
            OsiLayer::DataLink,
            TcpIpLayer::Link,
            vec![field("eth.src", Value::Bytes(vec![0; 6]))],
        ),
        layer(
            Protocol::Ipv4,
            OsiLayer::Network,
            TcpIpLayer::Internet,
            vec![
                field("ip.src", Value::Text(src.into())),
                field("ip.dst", Value::Text(dst.into())),
                field("ip.ttl", Value::U64(64)),
            ],
        ),
        layer(
            Protocol::Tcp,
            OsiLayer::Transport,
            TcpIpLayer::Transport,
            vec![
                field("tcp.srcport", Value::U64(sport)),
                field("tcp.dstport", Value::U64(dport)),
                field("tcp.flags.syn", Value::Bool(syn)),
                field("tcp.flags.ack", Value::Bool(true)),
            ],
        ),
    ];
    if let Some(app) = app {
        layers.push(layer(
            app,
            OsiLayer::Application,
            TcpIpLayer::Application,
            vec![
                field("http.request.method", Value::Text("GET".into())),
                field("http.request.uri", Value::Text("/ws?room=1".into())),
            ],
        ));
    }
    Packet {
        number: 7,
        raw: RawPacket {
            ts: Timestamp::default(),
            link_type: LinkType::ETHERNET,
            orig_len: 120,
            bytes: vec![0; 100],
        },
        dissection: Dissection {
            layers,
            ..Default::default()
        },
        flow: Some(FlowAnnotation {
            stream: 3,
            ..Default::default()
        }),
    }
}

fn udp_packet() -> Packet {
    let mut p = http_packet();
    p.dissection.layers.truncate(2);
    p.dissection.layers.push(layer(
        Protocol::Udp,
        OsiLayer::Transport,
        TcpIpLayer::Transport,
        vec![
            field("udp.srcport", Value::U64(5353)),
            field("udp.dstport", Value::U64(53)),
        ],
    ));
    p.dissection.layers[1].fields[2].value = Value::U64(1);
    p
}

fn m(filter: &str, p: &Packet) -> bool {
    Filter::parse(filter)
        .unwrap_or_else(|e| panic!("{filter}: {e}"))
        .matches(p)
}

#[test]
fn protocols_ports_hosts() {
    let h = http_packet();
    let u = udp_packet();
    for (f, want_h, want_u) in [
        ("", true, true),
        ("tcp", true, false),
        ("TCP", true, false),
        ("udp", false, true),
        ("http", true, false),
        ("eth and ip", true, true),
        ("ipv6", false, false),
        ("port 80", true, false),
        ("port 53", false, true),
        ("src port 43512", true, false),
        ("dst port 43512", false, false),
        ("host 127.0.0.2", true, true),
        ("src host 127.0.0.2", false, false),
        ("dst 127.0.0.2", true, true),
        ("host 127.0.0.9", false, false),
        ("host ::1", false, false),
        ("tcp port 80", true, false),
        ("udp port 80", false, false),
    ] {
        assert_eq!(m(f, &h), want_h, "{f:?} on the HTTP packet");
        assert_eq!(m(f, &u), want_u, "{f:?} on the UDP packet");
    }
}

#[test]
fn field_comparisons_and_bare_fields() {
    let h = http_packet();
    let syn = tcp_packet("10.0.0.1", "10.0.0.2", 1, 2, true, None);
    for (f, want_h, want_syn) in [
        ("tcp.flags.syn", false, true),
        ("tcp.flags.ack", true, true),
        ("not tcp.flags.syn", true, false),
        ("!tcp.flags.syn", true, false),
        ("tcp.flags.syn == 1", false, true),
        ("tcp.flags.syn == true", false, true),
        ("ip.ttl", true, true),
        ("dns.qry.name", false, false),
        ("ip.ttl == 64", true, true),
        ("ip.ttl eq 64", true, true),
        ("ip.ttl != 64", false, false),
        ("ip.ttl > 60", true, true),
        ("ip.ttl >= 64", true, true),
        ("ip.ttl < 64", false, false),
        ("ip.ttl <= 0x40", true, true),
        ("tcp.port == 80", true, false),
        ("tcp.port != 80", false, true),
        ("tcp.dstport == 2", false, true),
        ("ip.src == 127.0.0.1", true, false),
        ("ip.addr == 10.0.0.2", false, true),
        ("ip.src > 9.255.255.255", true, true),
        ("http.request.method == GET", true, false),
        ("http.request.method == \"GET\"", true, false),
        ("http.request.uri contains \"/ws\"", true, false),
        ("eth.src == 00:00:00:00:00:00", true, true),
        ("tcp.stream == 3", true, true),
        ("frame.len == 120", true, true),
        ("frame.cap_len < 120", true, true),
        ("frame.number == 7", true, true),
    ] {
        assert_eq!(m(f, &h), want_h, "{f:?} on the HTTP packet");
        assert_eq!(m(f, &syn), want_syn, "{f:?} on the SYN");
    }
}

#[test]
fn precedence_is_not_then_and_then_or() {
    let h = http_packet();
    let u = udp_packet();
    // "udp or tcp and port 53": and binds tighter, so this is udp or (tcp and port 53).
    assert!(m("udp or tcp and port 53", &u));
    assert!(!m("udp or tcp and port 53", &h));
    assert!(m("(udp or tcp) and port 80", &h));
    assert!(m("not udp and not port 53", &h));
    assert!(m("tcp && (port 1 || port 80)", &h));
    assert!(!m("!(tcp)", &h));
    assert!(m("not not tcp", &h));
}

fn err(filter: &str) -> (usize, String) {
    match Filter::parse(filter) {
        Err(InspectError::Filter { pos, rendered, .. }) => (pos, rendered),
        other => panic!("{filter:?} should not parse, got {other:?}"),
    }
}

#[test]
fn errors_point_at_the_bad_spot() {
    let (pos, r) = err("tcp and prot 80");
    assert_eq!(pos, 8);
    assert_eq!(
        r,
        "  tcp and prot 80\n          ^ unknown protocol or keyword 'prot'; did you mean 'port'?"
    );
    assert_eq!(err("tcp.port == ").0, 12);
    assert_eq!(err("(tcp or udp").0, 11);
    assert_eq!(err("tcp and").0, 7);
    assert_eq!(err("port 70000").0, 5);
    assert_eq!(err("host localhost").0, 5);
    assert_eq!(err("ip.ttl = 64").0, 7);
    assert_eq!(err("tpc.port == 80").0, 0);
    assert_eq!(err("tcp udp").0, 4);
    assert_eq!(err("tcp == 80").0, 4);
    assert_eq!(err("http.host == \"x").0, 13);
    assert_eq!(err("tcp $ udp").0, 4);
    let (_, r) = err("127.0.0.1");
    assert!(r.contains("write 'host 127.0.0.1'"), "{r}");
    let shown = Filter::parse("ip.ttl = 64").unwrap_err().to_string();
    assert_eq!(
        shown,
        "bad filter (at character 8):\n  ip.ttl = 64\n         ^ a single '=' is not an operator: use '=='"
    );
}

#[test]
fn required_ports_for_the_kernel_prefilter() {
    let ports = |f: &str| Filter::parse(f).unwrap().required_ports();
    assert_eq!(ports("udp port 53"), Some(vec![53]));
    assert_eq!(
        ports("tcp and (port 80 or tcp.port == 8080)"),
        Some(vec![80, 8080])
    );
    assert_eq!(ports("src port 7007 and not icmp"), Some(vec![7007]));
    assert_eq!(ports("port 1 or tcp"), None, "tcp alone may have any port");
    assert_eq!(ports("not port 22"), None);
    assert_eq!(ports("tcp.port > 80"), None);
    assert_eq!(ports(""), None);
}

#[test]
fn unknown_fields_are_errors_with_a_suggestion() {
    let shown = Filter::parse("tcp.prot == 80").unwrap_err().to_string();
    assert_eq!(
        shown,
        "bad filter (at character 1):\n  tcp.prot == 80\n  ^ unknown field 'tcp.prot'; did you mean 'tcp.port'?"
    );
    let (pos, r) = err("tcp and ip.tll > 60");
    assert_eq!(pos, 8);
    assert_eq!(
        r,
        "  tcp and ip.tll > 60\n          ^ unknown field 'ip.tll'; did you mean 'ip.ttl'?"
    );
    // A bare misspelled field is caught too, and case does not matter for the check.
    assert!(
        err("TCP.FLAGS.SNY")
            .1
            .contains("did you mean 'tcp.flags.syn'?")
    );
    // Nothing close: list what the protocol does have instead of a wild guess.
    let (_, r) = err("udp.nothing_like_this == 1");
    assert!(
        r.contains("known 'udp' fields: udp.checksum, udp.dstport"),
        "{r}"
    );
}

#[test]
fn known_fields_prefixes_and_virtual_fields_still_parse() {
    for f in [
        "tcp.port == 80",
        "ip.ttl > 60",
        "tcp.flags",
        "tcp.flags.syn",
        "tcp.options",
        "tcp.analysis.retransmission",
        "tcp.stream == 0",
        "ip.addr == 127.0.0.1",
        "ipv6.addr == ::1",
        "eth.addr == 00:00:00:00:00:00",
        "frame.len > 0",
        "dns.qry.name contains \"netlab\"",
        "http.request.uri contains \"/ws\"",
        "websocket.opcode == 1",
        "icmpv6.type == 128",
        "ah.next_header",
    ] {
        assert!(Filter::parse(f).is_ok(), "{f:?} should parse");
    }
    // A valid field still matches after the check.
    assert!(m("ip.ttl > 60", &http_packet()));
    assert!(m("tcp.port == 80", &http_packet()));
}

#[test]
fn only_protocol_names_need_no_fields() {
    for f in ["", "tcp", "not udp", "(http or dns) and not arp", "ws"] {
        assert!(!Filter::parse(f).unwrap().needs_fields(), "{f:?}");
    }
    for f in [
        "port 80",
        "tcp and host 127.0.0.1",
        "not tcp.flags.syn",
        "dns or frame.len > 60",
        "src port 53",
    ] {
        assert!(Filter::parse(f).unwrap().needs_fields(), "{f:?}");
    }
}

/// A field that stands for either of two names dissector fields the registry holds, so
/// `tcp.port` cannot silently look for a name nothing emits.
#[test]
fn either_fields_stand_for_registered_fields() {
    for (name, pair) in EITHER_FIELDS {
        for n in pair {
            assert!(field_names().contains(&n), "{name} stands for unknown {n}");
        }
    }
}
