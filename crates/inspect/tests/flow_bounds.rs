//! What the flow tracker forgets, and when (the table in `flows.rs`'s module docs): a TCP
//! connection that is over, after its linger; a silent one, after its idle time; a UDP flow,
//! after its idle time; and, when the table is full, the least recently seen. All in capture
//! time, with packets built byte by byte, so each bound is seen from both sides: just inside it
//! nothing changes, just past it the next packet starts a new stream and says why.

use std::net::{IpAddr, Ipv4Addr};

use netlab_inspect::Protocol;
use netlab_inspect::craft::{self, Ipv4, Tcp, num};
use netlab_inspect::flows::{
    FlowTracker, LISTED_CONVERSATIONS, OPEN_IDLE, OVER_LINGER, UDP_IDLE, UDP_ONE_WAY_IDLE,
};
use netlab_inspect::model::{FlowAnnotation, LinkType, RawPacket, TcpSummary, Timestamp};
use proptest::prelude::*;

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];
const T0: i64 = 1_700_000_000;

/// A raw IPv4 packet (no link header) at `secs` after T0.
fn packet(secs: f64, ip: Vec<u8>) -> RawPacket {
    RawPacket {
        ts: Timestamp {
            secs: T0 + secs.trunc() as i64,
            nanos: (secs.fract() * 1e9) as u32,
        },
        link_type: LinkType::RAW,
        orig_len: ip.len() as u32,
        bytes: ip,
    }
}

/// A TCP segment between CLIENT:40000 and SERVER:80.
fn tcp(secs: f64, from_client: bool, flags: u16, seq: u32, ack: u32, payload: &[u8]) -> RawPacket {
    let (src, dst, sp, dp) = if from_client {
        (CLIENT, SERVER, 40_000, 80)
    } else {
        (SERVER, CLIENT, 80, 40_000)
    };
    let segment = Tcp {
        src_port: sp,
        dst_port: dp,
        seq,
        ack,
        flags,
        window: 65_535,
        options: Vec::new(),
    }
    .build(IpAddr::from(src), IpAddr::from(dst), payload);
    packet(secs, Ipv4::new(src, dst, num::IP_TCP).build(&segment))
}

/// A UDP datagram from CLIENT:`port` to SERVER:53, or back when `reply`.
fn udp(secs: f64, port: u16, reply: bool) -> RawPacket {
    let (src, dst, sp, dp) = if reply {
        (SERVER, CLIENT, 53, port)
    } else {
        (CLIENT, SERVER, port, 53)
    };
    let datagram = craft::udp(IpAddr::from(src), IpAddr::from(dst), sp, dp, b"hello");
    packet(secs, Ipv4::new(src, dst, num::IP_UDP).build(&datagram))
}

fn flow(t: &mut FlowTracker, p: &RawPacket) -> FlowAnnotation {
    t.process(p).1.expect("a TCP or UDP packet")
}

const SYN: u16 = TcpSummary::SYN;
const ACK: u16 = TcpSummary::ACK;
const FIN: u16 = TcpSummary::FIN;
const RST: u16 = TcpSummary::RST;
const PSH: u16 = TcpSummary::PSH;

/// The three steps of a handshake at 0 s (client ISN 1000, server ISN 5000).
fn handshake(t: &mut FlowTracker) {
    flow(t, &tcp(0.0, true, SYN, 1000, 0, b""));
    flow(t, &tcp(0.001, false, SYN | ACK, 5000, 1001, b""));
    flow(t, &tcp(0.002, true, ACK, 1001, 5001, b""));
}

/// A whole connection from `start`: handshake, 5 bytes each way, FIN both ways and the last ACK
/// (client ISN 1000, server ISN 5000). Its last packet is at `start + 0.007`.
fn connection(t: &mut FlowTracker, start: f64) -> Vec<FlowAnnotation> {
    [
        tcp(start, true, SYN, 1000, 0, b""),
        tcp(start + 0.001, false, SYN | ACK, 5000, 1001, b""),
        tcp(start + 0.002, true, ACK, 1001, 5001, b""),
        tcp(start + 0.003, true, PSH | ACK, 1001, 5001, b"hello"),
        tcp(start + 0.004, false, PSH | ACK, 5001, 1006, b"world"),
        tcp(start + 0.005, true, FIN | ACK, 1006, 5006, b""),
        tcp(start + 0.006, false, FIN | ACK, 5006, 1007, b""),
        tcp(start + 0.007, true, ACK, 1007, 5007, b""),
    ]
    .iter()
    .map(|p| flow(t, p))
    .collect()
}

#[test]
fn a_closed_connection_is_remembered_for_its_linger_then_forgotten() {
    let mut t = FlowTracker::new();
    let notes = connection(&mut t, 0.0);
    assert!(
        notes[7].notes[0].contains("connection is closed"),
        "{notes:?}"
    );
    let end = 0.007;

    // The server's FIN again, just inside the linger: the same stream, a retransmission.
    let again = flow(
        &mut t,
        &tcp(
            end + OVER_LINGER as f64 - 1.0,
            false,
            FIN | ACK,
            5006,
            1007,
            b"",
        ),
    );
    assert_eq!((again.stream, again.rel_seq), (0, Some(6)));
    assert!(again.notes[0].starts_with("retransmission"), "{again:?}");

    // Once more, just past the linger after that packet: forgotten, a new stream that says so.
    let late = flow(
        &mut t,
        &tcp(
            end + 2.0 * OVER_LINGER as f64,
            false,
            FIN | ACK,
            5006,
            1007,
            b"",
        ),
    );
    assert_eq!(
        (late.stream, late.rel_seq, late.rel_ack),
        (1, Some(1), Some(1))
    );
    assert_eq!(
        late.notes[0],
        "new stream, the tracker forgot TCP stream 0: no packet for 61 s, longer than it \
         remembers a connection that is over (60 s); relative numbers start again here"
    );

    let convs = t.conversations();
    assert_eq!(convs.listed.len(), 2);
    assert_eq!(convs.other, None);
    let c0 = &convs.listed[0];
    assert_eq!((c0.stream, c0.state), (0, "closed"));
    assert_eq!((c0.a_to_b.packets, c0.b_to_a.packets), (5, 4));
    assert_eq!((convs.listed[1].stream, convs.listed[1].state), (1, "open"));
}

#[test]
fn a_new_syn_after_the_linger_is_a_new_connection_without_a_note() {
    let mut t = FlowTracker::new();
    connection(&mut t, 0.0);
    let second = connection(&mut t, 100.0);
    assert!(second.iter().all(|f| f.stream == 1));
    assert!(
        second[0].notes[0].starts_with("SYN, handshake 1/3"),
        "{second:?}"
    );
    assert_eq!(second[0].notes.len(), 1);
}

#[test]
fn a_reset_connection_is_over_too() {
    let mut t = FlowTracker::new();
    handshake(&mut t);
    let rst = flow(&mut t, &tcp(0.003, true, RST | ACK, 1001, 5001, b""));
    assert!(
        rst.notes[0].starts_with("RST, reset by the client"),
        "{rst:?}"
    );
    let inside = flow(&mut t, &tcp(59.0, false, ACK, 5001, 1001, b""));
    assert_eq!(inside.stream, 0);
    let past = flow(&mut t, &tcp(119.5, false, ACK, 5001, 1001, b""));
    assert_eq!(past.stream, 1);
    assert!(
        past.notes[0].contains("a connection that is over"),
        "{past:?}"
    );
}

#[test]
fn an_open_connection_is_remembered_through_days_of_silence() {
    let mut t = FlowTracker::new();
    handshake(&mut t);
    // Three days later (a keepalive, a late request): the same stream, numbers going on.
    let day3 = 3.0 * 24.0 * 3600.0;
    let later = flow(&mut t, &tcp(day3, true, PSH | ACK, 1001, 5001, b"hello"));
    assert_eq!(
        (later.stream, later.rel_seq, later.rel_ack),
        (0, Some(1), Some(1))
    );
    assert!(later.notes.is_empty(), "{later:?}");
    // Then more than OPEN_IDLE of silence: forgotten.
    let gone = flow(
        &mut t,
        &tcp(day3 + OPEN_IDLE as f64 + 1.0, false, ACK, 5001, 1006, b""),
    );
    assert_eq!(gone.stream, 1);
    assert!(
        gone.notes[0].contains("a silent open connection (432000 s)"),
        "{gone:?}"
    );
}

#[test]
fn a_handshake_that_never_finishes_is_forgotten_after_two_minutes() {
    let mut t = FlowTracker::new();
    flow(&mut t, &tcp(0.0, true, SYN, 1000, 0, b""));
    // The client retries its SYN within the two minutes: the same stream.
    let retry = flow(&mut t, &tcp(63.0, true, SYN, 1000, 0, b""));
    assert_eq!(retry.stream, 0);
    // A stray ACK long after: a new stream, with the reason.
    let stray = flow(&mut t, &tcp(63.0 + 121.0, true, ACK, 1001, 5001, b""));
    assert_eq!(stray.stream, 1);
    assert!(
        stray.notes[0].contains("still in its handshake (120 s)"),
        "{stray:?}"
    );
}

#[test]
fn udp_flows_are_forgotten_after_their_idle_time() {
    let mut t = FlowTracker::new();
    // One way only: 30 s.
    assert_eq!(flow(&mut t, &udp(0.0, 5000, false)).stream, 0);
    let inside = flow(&mut t, &udp(UDP_ONE_WAY_IDLE as f64, 5000, false));
    assert_eq!((inside.stream, inside.notes.len()), (0, 0));
    let past = flow(
        &mut t,
        &udp(2.0 * UDP_ONE_WAY_IDLE as f64 + 1.0, 5000, false),
    );
    assert_eq!(past.stream, 1);
    assert_eq!(
        past.notes,
        [
            "new stream, the tracker forgot UDP stream 0: no packet for 31 s, longer than it \
             remembers a one-way flow (30 s)"
        ]
    );
    // Both ways: 120 s.
    flow(&mut t, &udp(100.0, 6000, false));
    flow(&mut t, &udp(100.1, 6000, true));
    let inside = flow(&mut t, &udp(100.1 + UDP_IDLE as f64 - 1.0, 6000, false));
    assert_eq!(inside.stream, 2);
    let past = flow(&mut t, &udp(100.1 + 2.0 * UDP_IDLE as f64, 6000, true));
    assert_eq!(past.stream, 3);
    assert!(past.notes[0].contains("a two-way flow (120 s)"), "{past:?}");
    // Every stream is in the conversations, the forgotten ones too.
    let convs = t.conversations();
    let streams: Vec<u32> = convs.listed.iter().map(|c| c.stream).collect();
    assert_eq!(streams, [0, 1, 2, 3]);
    assert_eq!(convs.listed[2].b_to_a.packets, 1);
}

#[test]
fn a_full_table_forgets_the_least_recently_seen_first() {
    let mut t = FlowTracker::with_max_conversations(8);
    for port in 1..=8 {
        assert_eq!(
            flow(&mut t, &udp(0.0, port, false)).stream,
            u32::from(port) - 1
        );
    }
    // Flow 1 is seen again, so flow 2 is now the least recently seen.
    assert_eq!(flow(&mut t, &udp(0.1, 1, true)).stream, 0);
    // A ninth flow: the table is full and nothing is past its time, so the least recently seen
    // quarter of it goes: flows 2 and 3.
    let ninth = flow(&mut t, &udp(0.2, 9, false));
    assert_eq!(ninth.stream, 8);
    assert_eq!(flow(&mut t, &udp(0.3, 1, false)).stream, 0);
    let four = flow(&mut t, &udp(0.3, 4, false));
    assert_eq!((four.stream, four.notes.len()), (3, 0));
    let back = flow(&mut t, &udp(0.4, 2, false));
    assert_eq!(back.stream, 9, "a new number, never one given before");
    assert_eq!(
        back.notes,
        [
            "table full, may have been seen before: the tracker holds at most 8 conversations \
             and has had to forget some to make room, so this one may have had another stream \
             number, and its numbers start here"
        ]
    );
    // A TCP connection pushed out the same way: its next segment restarts relative numbers.
    let mut t = FlowTracker::with_max_conversations(2);
    handshake(&mut t);
    flow(&mut t, &tcp(0.003, true, PSH | ACK, 1001, 5001, b"hello"));
    flow(&mut t, &udp(0.004, 1, false));
    flow(&mut t, &udp(0.005, 2, false));
    let data = flow(&mut t, &tcp(0.006, true, PSH | ACK, 1006, 5001, b"again"));
    assert_eq!((data.stream, data.rel_seq), (1, Some(1)));
    assert!(
        data.notes[0].starts_with("table full, may have been seen before"),
        "{data:?}"
    );
}

#[test]
fn conversations_are_listed_up_to_a_bound_and_the_rest_added_up() {
    let total = LISTED_CONVERSATIONS as u16 + 500;
    // The same flows with the default table and with one that must forget all the time: the
    // summaries are the same, since no flow comes back.
    for max in [netlab_inspect::flows::MAX_CONVERSATIONS, 100] {
        let mut t = FlowTracker::with_max_conversations(max);
        for port in 0..total {
            flow(&mut t, &udp(f64::from(port) * 0.001, 10_000 + port, false));
            flow(&mut t, &udp(f64::from(port) * 0.001, 10_000 + port, true));
        }
        let convs = t.conversations();
        assert_eq!(convs.listed.len(), LISTED_CONVERSATIONS);
        assert!(
            convs
                .listed
                .iter()
                .enumerate()
                .all(|(i, c)| c.stream == i as u32 && c.protocol == Protocol::Udp)
        );
        let other = convs.other.expect("500 more");
        assert_eq!(other.conversations, 500);
        assert_eq!((other.a_to_b.packets, other.b_to_a.packets), (500, 500));
        assert_eq!(other.a_to_b.payload_bytes, 500 * 5);
    }
}

#[test]
fn follow_finds_its_stream_after_others_were_forgotten() {
    let mut t = FlowTracker::following(1);
    connection(&mut t, 0.0);
    connection(&mut t, 100.0);
    let f = t.followed().expect("stream 1");
    assert_eq!(f.client_data, b"hello");
    assert_eq!(f.server_data, b"world");
    assert_eq!(t.tcp_streams(), 2);
    assert!(FlowTracker::following(2).followed().is_none());
}

proptest! {
    /// Flows that come back within their idle time (all within 28 s here) keep the stream they started with, whatever
    /// the order; with a table smaller than the flows, numbers are still never given twice and
    /// every packet is counted in exactly one conversation.
    #[test]
    fn streams_within_the_bounds_are_stable(
        steps in proptest::collection::vec((0u16..12, any::<bool>(), 0.0f64..0.14), 1..200),
        max in 1usize..16,
    ) {
        let mut roomy = FlowTracker::new();
        let mut tight = FlowTracker::with_max_conversations(max);
        let mut first_seen: Vec<u16> = Vec::new();
        let mut tight_streams: Vec<(u16, u32)> = Vec::new();
        let mut now = 0.0;
        for &(port, reply, gap) in &steps {
            now += gap;
            let p = udp(now, port, reply);
            let f = flow(&mut roomy, &p);
            if !first_seen.contains(&port) {
                first_seen.push(port);
            }
            let expected = first_seen.iter().position(|&q| q == port).unwrap() as u32;
            prop_assert_eq!(f.stream, expected);
            prop_assert!(f.notes.is_empty());
            let g = flow(&mut tight, &p);
            // A number is only ever used for one flow.
            prop_assert!(tight_streams.iter().all(|&(q, s)| s != g.stream || q == port));
            tight_streams.push((port, g.stream));
        }
        for t in [&roomy, &tight] {
            let convs = t.conversations();
            let counted: u64 = convs.listed.iter().map(|c| c.a_to_b.packets + c.b_to_a.packets).sum();
            prop_assert_eq!(counted, steps.len() as u64);
        }
    }
}

/// The IPv4 endpoints used above, to keep the builders honest.
#[test]
fn the_packets_are_what_they_claim() {
    let mut t = FlowTracker::new();
    let (d, f) = t.process(&udp(0.0, 5000, false));
    let ep = d.endpoints.unwrap();
    assert_eq!(ep.src, IpAddr::V4(Ipv4Addr::from(CLIENT)));
    assert_eq!(ep.dst_port, Some(53));
    assert_eq!(f.unwrap().stream, 0);
}

proptest! {
    /// Any mix of TCP segments (any flags and numbers) and UDP datagrams on a few ports, at
    /// times that jump far ahead or go backwards, through a table of 1 to 6 conversations:
    /// nothing panics, a stream number belongs to one pair of ports, and every packet is in
    /// exactly one conversation.
    #[test]
    fn any_packets_at_any_times_keep_the_tracker_consistent(
        steps in proptest::collection::vec(
            (any::<bool>(), 0u16..5, any::<bool>(), any::<u16>(), any::<u32>(), -1_000i64..1_000_000),
            1..150,
        ),
        max in 1usize..7,
    ) {
        let mut t = FlowTracker::with_max_conversations(max);
        let mut owners: Vec<(bool, u32, u16)> = Vec::new();
        let mut now = 0i64;
        for &(is_tcp, port, from_client, flags, seq, jump) in &steps {
            now = now.saturating_add(jump);
            let secs = now as f64;
            let p = if is_tcp {
                let (sp, dp) = if from_client { (40_000 + port, 80) } else { (80, 40_000 + port) };
                let (src, dst) = if from_client { (CLIENT, SERVER) } else { (SERVER, CLIENT) };
                let segment = Tcp {
                    src_port: sp,
                    dst_port: dp,
                    seq,
                    ack: seq.rotate_left(7),
                    flags: flags & 0x0fff,
                    window: flags,
                    options: Vec::new(),
                }
                .build(IpAddr::from(src), IpAddr::from(dst), b"");
                packet(secs, Ipv4::new(src, dst, num::IP_TCP).build(&segment))
            } else {
                udp(secs, 40_000 + port, !from_client)
            };
            let f = flow(&mut t, &p);
            match owners.iter().find(|&&(tcp, s, _)| tcp == is_tcp && s == f.stream) {
                Some(&(_, _, owner)) => prop_assert_eq!(owner, port),
                None => owners.push((is_tcp, f.stream, port)),
            }
        }
        let convs = t.conversations();
        let counted: u64 = convs.listed.iter().map(|c| c.a_to_b.packets + c.b_to_a.packets).sum();
        prop_assert_eq!(counted, steps.len() as u64);
        prop_assert_eq!(convs.listed.len(), owners.len());
    }
}
