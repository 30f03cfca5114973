//! The flow tracker on the committed fixtures: stream indexes, relative numbers, handshake and
//! teardown, retransmission / out-of-order / duplicate-ACK hints, the WebSocket upgrade,
//! conversations and follow-stream.

#[path = "support/render.rs"]
mod render;

use std::fmt::Write;
use std::path::PathBuf;

use netlab_inspect::Protocol;
use netlab_inspect::capfile::CaptureReader;
use netlab_inspect::flows::FlowTracker;
use netlab_inspect::model::{Dissection, FlowAnnotation, RawPacket, Reason, Value};

fn read(name: &str) -> Vec<RawPacket> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.pcap"));
    CaptureReader::open(path)
        .unwrap()
        .packets()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

fn track(t: &mut FlowTracker, name: &str) -> Vec<(Dissection, Option<FlowAnnotation>)> {
    read(name).iter().map(|p| t.process(p)).collect()
}

/// One line per packet: the stream, relative numbers, the top layer's summary and the hints.
fn annotations(rows: &[(Dissection, Option<FlowAnnotation>)]) -> String {
    let mut out = String::new();
    for (i, (d, f)) in rows.iter().enumerate() {
        let top = d
            .layers
            .last()
            .map(|l| format!("{}: {}", l.protocol, l.summary))
            .unwrap_or_default();
        match f {
            Some(f) => {
                let _ = writeln!(
                    out,
                    "#{} stream {} seq {:?} ack {:?} | {top}",
                    i + 1,
                    f.stream,
                    f.rel_seq,
                    f.rel_ack
                );
                for n in &f.notes {
                    let _ = writeln!(out, "    {n}");
                }
            }
            None => {
                let _ = writeln!(out, "#{} - | {top}", i + 1);
            }
        }
    }
    out
}

#[test]
fn tcp_hints_on_the_flows_fixture() {
    let mut t = FlowTracker::new();
    let rows = track(&mut t, "tcp-flows");
    let notes = |n: usize| rows[n - 1].1.as_ref().unwrap().notes.join(" / ");
    assert!(notes(1).starts_with("SYN, handshake 1/3"));
    assert!(notes(2).starts_with("SYN-ACK, handshake 2/3"));
    assert!(notes(3).starts_with("ACK, handshake 3/3"));
    assert!(notes(5).starts_with("retransmission"), "{}", notes(5));
    assert!(
        notes(7).starts_with("previous segment not captured: 5 bytes"),
        "{}",
        notes(7)
    );
    assert!(notes(8).starts_with("duplicate ACK #1"), "{}", notes(8));
    assert!(notes(9).starts_with("out of order"), "{}", notes(9));
    assert!(notes(14).contains("connection is closed"), "{}", notes(14));
    assert!(
        notes(16).starts_with("RST, connection refused"),
        "{}",
        notes(16)
    );
    // The same hints as Wireshark's tcp.analysis.* fields, for filters.
    let flagged = |n: usize, name: &str| {
        rows[n - 1].0.field(name).map(|f| f.value.clone()) == Some(Value::Bool(true))
    };
    assert!(flagged(5, "tcp.analysis.retransmission"));
    assert!(flagged(7, "tcp.analysis.lost_segment"));
    assert!(flagged(8, "tcp.analysis.duplicate_ack"));
    assert!(flagged(9, "tcp.analysis.out_of_order"));
    assert!(
        !flagged(4, "tcp.analysis.retransmission"),
        "the first copy is not a retransmission"
    );
    // The client's ISN is 0xfffffff0: relative numbers must survive the wrap past 2^32.
    let f4 = rows[3].1.as_ref().unwrap();
    assert_eq!((f4.stream, f4.rel_seq, f4.rel_ack), (0, Some(1), Some(1)));
    assert_eq!(rows[3].0.field("tcp.seq").unwrap().value, Value::U64(1));
    assert_eq!(rows[3].0.field("tcp.stream").unwrap().value, Value::U64(0));
    assert_eq!(rows[14].1.as_ref().unwrap().stream, 1);
    insta::assert_snapshot!("tcp-flows-annotations", annotations(&rows));

    let conv = t.conversations().listed;
    assert_eq!(conv.len(), 2);
    assert_eq!((conv[0].a.port(), conv[0].b.port()), (41000, 9000));
    assert_eq!((conv[0].a_to_b.packets, conv[0].b_to_a.packets), (8, 6));
    assert_eq!(conv[0].b_to_a.payload_bytes, 4000);
    assert_eq!(conv[0].state, "closed");
    assert_eq!(conv[1].state, "refused");
    assert!(
        (conv[0].duration - 0.013).abs() < 1e-9,
        "{}",
        conv[0].duration
    );
}

#[test]
fn follow_stream_reassembles_each_direction_in_sequence_order() {
    let mut t = FlowTracker::following(0);
    track(&mut t, "tcp-flows");
    let f = t.followed().unwrap();
    // "hello" was sent twice and "third" before "world": the bytes come out once, in order.
    assert_eq!(f.client_data, b"helloworldthird");
    assert_eq!(f.server_data, vec![b'x'; 4000]);
    assert!(f.client_missing.is_empty() && f.server_missing.is_empty());
    let order: Vec<(bool, usize)> = f.chunks.iter().map(|(c, r)| (*c, r.start)).collect();
    assert_eq!(order, vec![(true, 0), (true, 10), (true, 5), (false, 0)]);
    assert!(FlowTracker::following(7).followed().is_none());
}

#[test]
fn websocket_frames_are_decoded_after_the_101_upgrade() {
    let mut t = FlowTracker::new();
    let rows = track(&mut t, "http-websocket");
    // Without the flow, frame 11 is just TCP payload; with it, WebSocket chosen by Upgrade.
    let (d, f) = &rows[10];
    let ws = d.layer(Protocol::WebSocket).expect("frame 11 is WebSocket");
    assert_eq!(ws.reason, Some(Reason::Upgrade));
    assert_eq!(f.as_ref().unwrap().stream, 1);
    let ev = d
        .layer(Protocol::Events)
        .expect("the frame carries an event");
    assert_eq!(
        d.field("events.type").unwrap().value,
        Value::Text("hello".into())
    );
    assert_eq!(ev.reason, Some(Reason::Content));
    let masked = &rows[11].0;
    assert_eq!(
        masked.field("websocket.mask").unwrap().value,
        Value::Bool(true)
    );
    assert_eq!(
        masked.field("events.type").unwrap().value,
        Value::Text("event".into())
    );
    assert!(
        rows[9]
            .1
            .as_ref()
            .unwrap()
            .notes
            .iter()
            .any(|n| n.contains("WebSocket"))
    );
    let conv = t.conversations().listed;
    assert_eq!(conv[0].application, Some(Protocol::Http));
    assert_eq!(conv[1].application, Some(Protocol::WebSocket));
    insta::assert_snapshot!("http-websocket-annotations", annotations(&rows));

    // The upgrade and the frames after it in full: what `--detail` shows for them.
    let raw = read("http-websocket");
    let mut full = String::new();
    for n in 10..=13 {
        render::dissection(&mut full, n, &raw[n - 1].bytes, &rows[n - 1].0);
    }
    insta::assert_snapshot!("http-websocket-upgraded-frames", full);
}

#[test]
fn udp_flows_get_stream_indexes_and_conversations() {
    let mut t = FlowTracker::new();
    let rows = track(&mut t, "dns");
    let streams: Vec<u32> = rows
        .iter()
        .map(|(_, f)| f.as_ref().unwrap().stream)
        .collect();
    assert_eq!(streams, vec![0, 0, 1, 1, 2]);
    assert_eq!(rows[0].0.field("udp.stream").unwrap().value, Value::U64(0));
    let conv = t.conversations().listed;
    assert_eq!(conv.len(), 3);
    assert!(
        conv.iter()
            .all(|c| c.protocol == Protocol::Udp && c.application == Some(Protocol::Dns))
    );
    assert_eq!((conv[0].a_to_b.packets, conv[0].b_to_a.packets), (1, 1));
}

#[test]
fn packets_without_ports_get_no_annotation() {
    let mut t = FlowTracker::new();
    let rows = track(&mut t, "vlan-arp");
    assert!(
        rows[2].1.is_none() && rows[3].1.is_none(),
        "ARP has no flow"
    );
    let rows = track(&mut t, "ipv4-options-fragments");
    assert!(
        rows[1].1.is_some(),
        "the first fragment holds the UDP header"
    );
    assert!(
        rows[2].1.is_none(),
        "a later fragment has no transport header to track"
    );
}
