//! socket.io on the wire (fixture `socketio.pcap`, a session as socket.io-client makes it):
//! every Engine.IO and Socket.IO packet is labelled, in long-polling bodies and in WebSocket
//! frames, with its fields at the right bytes and the filter fields working.

use std::path::PathBuf;

use netlab_inspect::Protocol;
use netlab_inspect::capfile::CaptureReader;
use netlab_inspect::filter::Filter;
use netlab_inspect::flows::FlowTracker;
use netlab_inspect::model::{Layer, Packet, Value};

fn packets() -> Vec<Packet> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/socketio.pcap");
    let mut t = FlowTracker::new();
    CaptureReader::open(path)
        .unwrap()
        .packets()
        .enumerate()
        .map(|(i, raw)| t.packet(i as u64 + 1, raw.unwrap()))
        .collect()
}

fn of(p: &Packet, proto: Protocol) -> Vec<&Layer> {
    p.dissection
        .layers
        .iter()
        .filter(|l| l.protocol == proto)
        .collect()
}

/// The (unmasked, for a client frame) bytes a field covers, as text.
fn text(l: &Layer, name: &str) -> Option<String> {
    l.fields
        .iter()
        .find(|f| f.name == name)
        .map(|f| match &f.value {
            Value::Text(t) => t.clone(),
            Value::U64(n) => n.to_string(),
            other => format!("{other:?}"),
        })
}

#[test]
fn every_engineio_and_socketio_packet_is_labelled() {
    let ps = packets();
    // (packet number, Engine.IO types, Socket.IO summaries)
    let want: &[(u64, &[&str], &[&str])] = &[
        (5, &["open"], &[]),
        (
            6,
            &["message", "message"],
            &[
                "Socket.IO CONNECT /chat",
                "Socket.IO EVENT /chat \"join\" ack=0",
            ],
        ),
        (
            9,
            &["message", "message"],
            &["Socket.IO CONNECT /chat", "Socket.IO ACK /chat ack=0"],
        ),
        (15, &["ping"], &[]),
        (16, &["pong"], &[]),
        (17, &["upgrade"], &[]),
        (
            18,
            &["message"],
            &["Socket.IO EVENT /chat \"message\" ack=3"],
        ),
        (19, &["message"], &["Socket.IO EVENT /chat \"message\""]),
        (20, &["message"], &["Socket.IO ACK /chat ack=3"]),
        (
            21,
            &["message"],
            &["Socket.IO BINARY_EVENT / \"upload\" attachments=1"],
        ),
        (23, &["ping"], &[]),
        (24, &["pong"], &[]),
    ];
    for p in &ps {
        let engine: Vec<String> = of(p, Protocol::EngineIo)
            .iter()
            .map(|l| text(l, "engineio.type").unwrap())
            .collect();
        let socket: Vec<String> = of(p, Protocol::SocketIo)
            .iter()
            .map(|l| l.summary.to_string())
            .collect();
        match want.iter().find(|(n, _, _)| *n == p.number) {
            Some((_, e, s)) => {
                assert_eq!(engine, *e, "packet {}", p.number);
                assert_eq!(socket, *s, "packet {}", p.number);
            }
            None => assert!(
                engine.is_empty() && socket.is_empty(),
                "packet {} labelled {engine:?} {socket:?}",
                p.number
            ),
        }
    }
}

#[test]
fn fields_sit_on_their_bytes() {
    let ps = packets();
    // Packet 20, server to client (unmasked): `43/chat,3[{"ok":true}]` in a WebSocket frame.
    let p = &ps[19];
    let sio = of(p, Protocol::SocketIo)[0];
    let at = |name: &str| {
        let f = sio.fields.iter().find(|f| f.name == name).unwrap();
        String::from_utf8_lossy(&p.raw.bytes[f.offset..f.offset + f.len]).into_owned()
    };
    assert_eq!(at("socketio.type"), "3");
    assert_eq!(at("socketio.nsp"), "/chat");
    assert_eq!(at("socketio.ack_id"), "3");
    assert_eq!(at("socketio.data"), r#"[{"ok":true}]"#);
    let eio = of(p, Protocol::EngineIo)[0];
    assert_eq!(eio.byte_range.len(), 1, "Engine.IO keeps its type digit");
    assert_eq!(p.raw.bytes[eio.byte_range.start], b'4');
    assert_eq!(sio.byte_range.start, eio.byte_range.end);
    assert_eq!(sio.byte_range.end, p.raw.bytes.len());
    // Packet 6, a POST body of two packets joined by 0x1e.
    let p = &ps[5];
    let layers = of(p, Protocol::EngineIo);
    let second = layers[1].byte_range.start;
    assert_eq!(p.raw.bytes[second - 1], 0x1e);
    let sio = of(p, Protocol::SocketIo)[1];
    let name = sio
        .fields
        .iter()
        .find(|f| f.name == "socketio.event")
        .unwrap();
    assert_eq!(
        &p.raw.bytes[name.offset..name.offset + name.len],
        br#""join""#
    );
    assert_eq!(text(sio, "socketio.event").as_deref(), Some("join"));
}

#[test]
fn filter_fields_pick_socketio_packets() {
    let ps = packets();
    let numbers = |f: &str| -> Vec<u64> {
        let f = Filter::parse(f).unwrap();
        ps.iter()
            .filter(|p| f.matches(p))
            .map(|p| p.number)
            .collect()
    };
    assert_eq!(numbers("socketio.event == \"message\""), [18, 19]);
    assert_eq!(numbers("socketio.ack_id == 3"), [18, 20]);
    assert_eq!(numbers("socketio.type == \"BINARY_EVENT\""), [21]);
    assert_eq!(numbers("socketio.attachments == 1"), [21]);
    assert_eq!(numbers("engineio.type == \"ping\""), [15, 23]);
    assert_eq!(
        numbers("socketio.nsp == \"/chat\" and socketio.type == \"CONNECT\""),
        [6, 9]
    );
    assert_eq!(numbers("engineio").len(), 12);
    assert_eq!(numbers("socketio"), [6, 9, 18, 19, 20, 21]);
}

/// A real session, captured with `netlab inspect live` on lo: socket.io-client 4.8 (Node) and
/// python-socketio 5 against `netlab events serve` (chat on port 17080, `--app conformance`
/// on 17081): the conformance scenario (upgrade, binary, two namespaces) and the recovery one,
/// over WebSocket and forced long-polling. Every segment with a payload gets an application
/// layer, and the only frames left without an Engine.IO layer are binary attachments and
/// WebSocket closes.
#[test]
fn a_live_capture_of_real_clients_is_labelled_throughout() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/socketio-live.pcapng");
    let mut t = FlowTracker::new();
    let mut socketio = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for raw in CaptureReader::open(path).unwrap().packets() {
        let raw = raw.unwrap();
        let (d, _) = t.process(&raw);
        let top = d.layers.last().unwrap();
        let tcp = d
            .layers
            .iter()
            .find(|l| l.protocol == Protocol::Tcp)
            .unwrap();
        let has_payload = tcp.byte_range.end < raw.bytes.len() || top.protocol != Protocol::Tcp;
        if !has_payload {
            continue;
        }
        assert!(d.malformed.is_none(), "{:?}", d.malformed);
        assert_ne!(
            top.protocol,
            Protocol::Tcp,
            "a payload without a label: {top:?}"
        );
        if top.protocol == Protocol::WebSocket {
            let s = top.summary.to_string();
            assert!(
                s.starts_with("Binary") || s.starts_with("Connection close"),
                "{s}"
            );
        }
        for l in d.layers.iter().filter(|l| l.protocol == Protocol::SocketIo) {
            socketio += 1;
            kinds.insert(text(l, "socketio.type").unwrap());
        }
    }
    assert!(socketio > 50, "{socketio} Socket.IO packets");
    let want = [
        "ACK",
        "BINARY_ACK",
        "BINARY_EVENT",
        "CONNECT",
        "DISCONNECT",
        "EVENT",
    ];
    assert!(want.iter().all(|k| kinds.contains(*k)), "{kinds:?}");
}
