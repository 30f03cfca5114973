//! The flow tracker: what one packet cannot say on its own.
//!
//! Feed it packets in capture order ([`FlowTracker::observe`]); for each TCP or UDP packet it
//! returns a [`FlowAnnotation`]: the stream index (numbered from 0 like Wireshark's
//! `tcp.stream`), sequence and acknowledgement numbers relative to each direction's initial
//! sequence number, and hints: the three steps of the handshake, the teardown, retransmissions,
//! duplicate ACKs, out-of-order segments and gaps. It also adds Wireshark's `tcp.stream`,
//! `tcp.seq`, `tcp.ack` (relative) and `udp.stream` fields to the dissection, and re-decodes a
//! payload as WebSocket once an HTTP 101 has switched the connection over ([`Reason::Upgrade`]).
//!
//! At the end, [`FlowTracker::conversations`] sums up each stream (packets and bytes each way,
//! start, duration), and a tracker made with [`FlowTracker::following`] returns the reassembled
//! payload of one stream, each direction in sequence order ([`FlowTracker::followed`]).
//!
//! The tracker is pure like the dissector: no clock, no I/O; time comes from the packets.
//!
//! ## What it remembers, and for how long
//!
//! Memory must not grow with the capture: a port scan or a flood from random ports would
//! otherwise leave the tracker holding millions of conversations. So it forgets a conversation,
//! as a firewall's connection table (Linux conntrack) does, once it is over or has been silent
//! for long enough, counted in capture time (the packets' timestamps, not the clock):
//!
//! | conversation | forgotten after its last packet | why this long |
//! |---|---|---|
//! | TCP, over (FIN both ways and the last one acknowledged, or reset) | [`OVER_LINGER`], 60 s | Linux's TIME_WAIT: late segments of it may still arrive |
//! | TCP, handshake not finished | [`OPENING_IDLE`], 120 s | conntrack's SYN_SENT |
//! | TCP, open (or closed one way only, or seen from the middle) | [`OPEN_IDLE`], 5 days | conntrack's established: a silent connection is still open (keepalive probes come every 2 hours) |
//! | UDP, one side has sent | [`UDP_ONE_WAY_IDLE`], 30 s | conntrack's `udp_timeout` |
//! | UDP, both sides have sent | [`UDP_IDLE`], 120 s | conntrack's `udp_timeout_stream` |
//!
//! A packet that comes later between the same addresses and ports starts a new stream, with a
//! note that says why. This is decided when the packet arrives, from the two timestamps, so it
//! does not depend on how full the table is.
//!
//! The table holds at most [`MAX_CONVERSATIONS`] at once, the last resort against a capture of
//! very many conversations within those times. When it is full, the tracker drops the
//! conversations past their time and, if that frees less than a quarter of the table, the least
//! recently seen ones until a quarter is free. Only then is a conversation forgotten early; the
//! first packet of a conversation after that carries a note that it may have been seen before
//! (its stream number and relative sequence numbers start again).
//!
//! Stream numbers keep counting: a forgotten stream's number is never given again. For
//! [`FlowTracker::conversations`], the summaries of the first [`LISTED_CONVERSATIONS`] streams are
//! kept whole and the others are added up in one `other` entry, so these are bounded too.
//! Wireshark and tshark forget nothing within a capture: their memory grows with it.
//!
//! [`Reason::Upgrade`]: crate::model::Reason::Upgrade

use std::net::SocketAddr;
use std::ops::Range;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::dissect::{AppProtocol, Context, dissect_into};
use crate::model::summary::{self, Summary};
use crate::model::{
    Dissection, Field, FieldDef, FixedField, FlowAnnotation, Layer, Packet, Protocol, RawPacket,
    TcpSummary, Timestamp, Value,
};

/// The fields the tracker adds to a dissection, each declared once; the filter's registry takes
/// their names from `field::NAMES`. Those with bytes sit at fixed places in the TCP header;
/// the others describe the whole segment and point at the header's start with length 0.
pub(crate) mod field {
    crate::model::fields! {
        TCP_STREAM = "tcp.stream", "Stream index";
        UDP_STREAM = "udp.stream", "Stream index";
        SEQ = "tcp.seq", "Sequence number (relative)", 4..8;
        ACK = "tcp.ack", "Acknowledgment number (relative)", 8..12;
        WINDOW_SIZE = "tcp.window_size", "Window (scaled)", 14..16;
        WINDOW_SCALEFACTOR = "tcp.window_size_scalefactor", "Window scale factor", 14..16;
        RETRANSMISSION = "tcp.analysis.retransmission", "Retransmission";
        LOST_SEGMENT = "tcp.analysis.lost_segment", "Previous segment not captured";
        OUT_OF_ORDER = "tcp.analysis.out_of_order", "Out of order";
        DUPLICATE_ACK = "tcp.analysis.duplicate_ack", "Duplicate ACK";
        ZERO_WINDOW = "tcp.analysis.zero_window", "Zero window";
    }
}

/// Sequence ranges remembered per direction to tell a retransmission (bytes seen before) from
/// an out-of-order segment (bytes never seen, arriving late). Old ranges are merged away past
/// this many, so memory per stream stays bounded.
const MAX_RANGES: usize = 64;

/// Largest reassembled payload kept per direction by follow-stream; beyond it bytes are
/// counted as missing instead of stored, so a huge stream cannot exhaust memory.
const MAX_FOLLOW: usize = 64 * 1024 * 1024;

/// The most conversations (TCP and UDP together) the tracker holds at once: far more than a
/// lesson's few dozen or a 10,000-connection benchmark, and about 11 MiB when full (measured
/// in docs/performance.md, "Inspector").
pub const MAX_CONVERSATIONS: usize = 16_384;

/// How long a TCP connection that is over (closed or reset) is remembered after its last packet,
/// in seconds of capture time: Linux's TIME_WAIT, during which late segments may still come.
pub const OVER_LINGER: u64 = 60;

/// How long a TCP connection whose handshake has not finished is remembered, idle: conntrack's
/// SYN_SENT timeout.
pub const OPENING_IDLE: u64 = 120;

/// How long an open TCP connection is remembered, idle: 5 days, conntrack's established
/// timeout. A silent connection is still open (TCP keepalive probes every 2 hours by default).
pub const OPEN_IDLE: u64 = 5 * 24 * 60 * 60;

/// How long a UDP flow in which only one side has sent is remembered, idle: conntrack's
/// `udp_timeout`.
pub const UDP_ONE_WAY_IDLE: u64 = 30;

/// How long a UDP flow in which both sides have sent is remembered, idle: conntrack's
/// `udp_timeout_stream`.
pub const UDP_IDLE: u64 = 120;

/// Conversations whose summaries [`FlowTracker::conversations`] lists one by one (TCP streams
/// first, then UDP, each by stream number); the others are added up in one `other` entry.
pub const LISTED_CONVERSATIONS: usize = 1_000;

/// Tracks TCP and UDP streams across packets. See the module docs.
pub struct FlowTracker {
    /// Boxed, so that the table's own entries stay small: growing it then moves 72-byte
    /// entries, not whole streams, and its empty slots cost little. Hashed with rustc-hash's
    /// `FxHashMap`, several times faster than std's SipHash for these small keys (a lookup per
    /// packet); it is not keyed, so a capture crafted to collide would be slow to read, never
    /// wrong, with at most `max_conversations` entries to go through.
    tcp: FxHashMap<FlowKey, Box<TcpStream>>,
    udp: FxHashMap<FlowKey, Box<UdpStream>>,
    /// Streams numbered so far, the next one's number: never reused.
    tcp_streams: u32,
    udp_streams: u32,
    /// TCP and UDP packets observed: the order "least recently seen" is in.
    packets: u64,
    max_conversations: usize,
    /// Once a conversation has been forgotten to make room rather than because its time was
    /// up: the note for the first packet of every new conversation from then on.
    forgot_early: Option<String>,
    /// Summaries of the conversations forgotten so far.
    ended: Ended,
    follow: Option<Follow>,
    /// Dissect with [`Context::summaries_only`] and add no fields: for views that show only
    /// summaries. Stream indexes, relative numbers, hints and summaries stay the same.
    summaries_only: bool,
}

impl Default for FlowTracker {
    fn default() -> Self {
        FlowTracker {
            tcp: FxHashMap::default(),
            udp: FxHashMap::default(),
            tcp_streams: 0,
            udp_streams: 0,
            packets: 0,
            max_conversations: MAX_CONVERSATIONS,
            forgot_early: None,
            ended: Ended::default(),
            follow: None,
            summaries_only: false,
        }
    }
}

/// The summaries of forgotten conversations: whole for the first [`LISTED_CONVERSATIONS`]
/// streams of each protocol, added up for the rest.
#[derive(Default)]
struct Ended {
    listed: Vec<Conversation>,
    other: OtherConversations,
}

impl Ended {
    fn add(&mut self, c: Conversation) {
        if (c.stream as usize) < LISTED_CONVERSATIONS {
            self.listed.push(c);
        } else {
            self.other.add(&c);
        }
    }
}

/// Both directions of a flow map to one key: the two endpoints in a fixed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlowKey {
    lo: SocketAddr,
    hi: SocketAddr,
}

impl FlowKey {
    fn new(a: SocketAddr, b: SocketAddr) -> Self {
        if a <= b {
            FlowKey { lo: a, hi: b }
        } else {
            FlowKey { lo: b, hi: a }
        }
    }
}

/// Per-direction counters shared by TCP and UDP conversations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Traffic {
    pub packets: u64,
    /// Bytes of whole frames as on the wire (original length), as Wireshark counts them.
    pub bytes: u64,
    /// Transport payload bytes, without headers.
    pub payload_bytes: u64,
}

impl Traffic {
    fn add(&mut self, t: &Traffic) {
        self.packets += t.packets;
        self.bytes += t.bytes;
        self.payload_bytes += t.payload_bytes;
    }
}

/// One conversation: a TCP stream or a UDP flow, from its first packet to its last.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conversation {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// Stream index (`tcp.stream` or `udp.stream`).
    pub stream: u32,
    /// The endpoint that sent the first packet (the client, for TCP with a handshake).
    pub a: SocketAddr,
    pub b: SocketAddr,
    pub a_to_b: Traffic,
    pub b_to_a: Traffic,
    pub start: Timestamp,
    /// Seconds from the first to the last packet.
    pub duration: f64,
    /// What the conversation carried, as far as the dissector could tell (HTTP, WebSocket).
    pub application: Option<Protocol>,
    /// For TCP: "open", "closed" (FIN both ways), "reset" or "refused" (RST answering a SYN).
    pub state: &'static str,
}

/// What [`FlowTracker::conversations`] returns: bounded however many conversations there were.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversations {
    /// The first [`LISTED_CONVERSATIONS`] streams: TCP by stream index, then UDP.
    pub listed: Vec<Conversation>,
    /// The rest added up, if there were more.
    pub other: Option<OtherConversations>,
}

/// Conversations beyond the listed ones, added up: how many, and their traffic each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OtherConversations {
    pub conversations: u64,
    pub a_to_b: Traffic,
    pub b_to_a: Traffic,
}

impl OtherConversations {
    fn add(&mut self, c: &Conversation) {
        self.conversations += 1;
        self.a_to_b.add(&c.a_to_b);
        self.b_to_a.add(&c.b_to_a);
    }
}

/// The reassembled payload of one TCP stream, each direction in sequence order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowedStream {
    pub stream: u32,
    pub client: Option<SocketAddr>,
    pub server: Option<SocketAddr>,
    /// Client to server bytes, in sequence order, retransmissions counted once.
    pub client_data: Vec<u8>,
    pub server_data: Vec<u8>,
    /// Sequence ranges (relative, from 1) never captured; their bytes are zeros in the data.
    pub client_missing: Vec<Range<u32>>,
    pub server_missing: Vec<Range<u32>>,
    /// The data in the order it was first delivered: `(from_client, range in that side's data)`,
    /// for a conversation view that interleaves both sides.
    pub chunks: Vec<(bool, Range<usize>)>,
}

struct Follow {
    stream: u32,
    /// Client and server, once the stream has appeared.
    addrs: Option<(SocketAddr, SocketAddr)>,
    client: Reassembly,
    server: Reassembly,
    chunks: Vec<(bool, Range<usize>)>,
}

impl Follow {
    /// Add a segment's payload at relative sequence number `seq` of one side.
    fn deliver(&mut self, from_client: bool, seq: u32, bytes: &[u8]) {
        let side = if from_client {
            &mut self.client
        } else {
            &mut self.server
        };
        if let Some(r) = side.put(seq, bytes) {
            self.chunks.push((from_client, r));
        }
    }
}

#[derive(Default)]
struct Reassembly {
    data: Vec<u8>,
    have: Vec<Range<u32>>,
}

impl Reassembly {
    /// Place `bytes` at relative sequence number `seq` (data starts at 1). Returns the range
    /// of the data buffer that was new, if any.
    fn put(&mut self, seq: u32, bytes: &[u8]) -> Option<Range<usize>> {
        let start = seq.checked_sub(1)? as usize;
        let end = start.checked_add(bytes.len())?;
        if end > MAX_FOLLOW || bytes.is_empty() {
            return None;
        }
        let new = !covered(&self.have, seq..seq + bytes.len() as u32);
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        self.data[start..end].copy_from_slice(bytes);
        add_range(&mut self.have, seq..seq + bytes.len() as u32);
        new.then_some(start..end)
    }

    fn missing(&self) -> Vec<Range<u32>> {
        let mut gaps = Vec::new();
        let mut at = 1u32;
        for r in &self.have {
            if r.start > at {
                gaps.push(at..r.start);
            }
            at = at.max(r.end);
        }
        gaps
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handshake {
    /// No SYN seen: the capture started in the middle of the connection.
    Unknown,
    SynSent,
    SynAckSent,
    Established,
}

#[derive(Debug, Default)]
struct Direction {
    /// Initial sequence number: relative numbers count from it.
    isn: Option<u32>,
    /// Relative sequence number just past the furthest byte sent so far.
    next: Option<u32>,
    /// Relative ranges already sent, to recognise retransmissions.
    sent: Vec<Range<u32>>,
    last_ack: Option<u32>,
    last_window: u16,
    dup_acks: u32,
    /// Relative sequence number just past this direction's FIN.
    fin_end: Option<u32>,
    /// Window scale shift this side announced in its SYN (RFC 7323); used only when both
    /// sides announced one.
    wscale: Option<u8>,
    traffic: Traffic,
}

struct TcpStream {
    /// `tcp.stream`.
    stream: u32,
    client: SocketAddr,
    server: SocketAddr,
    /// `[client to server, server to client]`.
    dirs: [Direction; 2],
    handshake: Handshake,
    app: Option<AppProtocol>,
    /// An HTTP 101 Upgrade: websocket was seen; later payload is WebSocket.
    upgraded: bool,
    closed: bool,
    state: &'static str,
    start: Timestamp,
    /// The last packet's timestamp, and its place among the packets the tracker has seen.
    last: Timestamp,
    last_seen: u64,
}

impl TcpStream {
    /// Seconds of silence after which the connection is forgotten (see the module docs).
    fn idle_limit(&self) -> u64 {
        match self.handshake {
            _ if self.closed => OVER_LINGER,
            Handshake::SynSent | Handshake::SynAckSent => OPENING_IDLE,
            Handshake::Unknown | Handshake::Established => OPEN_IDLE,
        }
    }

    /// What [`Self::idle_limit`] applies to, for a note.
    fn idle_description(&self) -> &'static str {
        match self.handshake {
            _ if self.closed => "a connection that is over",
            Handshake::SynSent | Handshake::SynAckSent => "a connection still in its handshake",
            Handshake::Unknown | Handshake::Established => "a silent open connection",
        }
    }

    fn conversation(&self) -> Conversation {
        Conversation {
            protocol: Protocol::Tcp,
            stream: self.stream,
            a: self.client,
            b: self.server,
            a_to_b: self.dirs[0].traffic,
            b_to_a: self.dirs[1].traffic,
            start: self.start,
            duration: duration(self.start, self.last),
            application: self.app.map(AppProtocol::protocol),
            state: self.state,
        }
    }
}

struct UdpStream {
    /// `udp.stream`.
    stream: u32,
    a: SocketAddr,
    b: SocketAddr,
    traffic: [Traffic; 2],
    app: Option<AppProtocol>,
    start: Timestamp,
    last: Timestamp,
    last_seen: u64,
}

impl UdpStream {
    /// Seconds of silence after which the flow is forgotten (see the module docs).
    fn idle_limit(&self) -> u64 {
        if self.traffic[1].packets > 0 {
            UDP_IDLE
        } else {
            UDP_ONE_WAY_IDLE
        }
    }

    fn conversation(&self) -> Conversation {
        Conversation {
            protocol: Protocol::Udp,
            stream: self.stream,
            a: self.a,
            b: self.b,
            a_to_b: self.traffic[0],
            b_to_a: self.traffic[1],
            start: self.start,
            duration: duration(self.start, self.last),
            application: self.app.map(AppProtocol::protocol),
            state: "",
        }
    }
}

impl FlowTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// A tracker that holds at most `max` conversations at once instead of
    /// [`MAX_CONVERSATIONS`] (at least 1): for tests and experiments with the bound.
    pub fn with_max_conversations(max: usize) -> Self {
        FlowTracker {
            max_conversations: max.max(1),
            ..Self::default()
        }
    }

    /// A tracker that also reassembles the payload of TCP stream `stream` (see [`Self::followed`]).
    pub fn following(stream: u32) -> Self {
        FlowTracker {
            follow: Some(Follow {
                stream,
                addrs: None,
                client: Reassembly::default(),
                server: Reassembly::default(),
                chunks: Vec::new(),
            }),
            ..Self::default()
        }
    }

    /// From now on dissect with [`Context::summaries_only`] (see the field of that name): the
    /// one-line view and `--stats` use it, as they show no fields and no notes.
    pub fn set_summaries_only(&mut self, on: bool) {
        self.summaries_only = on;
    }

    /// Dissect a packet and track it: the usual way to run the pipeline's first two steps.
    pub fn process(&mut self, raw: &RawPacket) -> (Dissection, Option<FlowAnnotation>) {
        let mut d = Dissection::default();
        let flow = self.process_into(raw, &mut d);
        (d, flow)
    }

    /// `raw` dissected and tracked, as the views take it: packet `number` of its capture
    /// (numbered from 1, as Wireshark does). For readers that keep whole packets: the labs, tests.
    pub fn packet(&mut self, number: u64, raw: RawPacket) -> Packet {
        let (dissection, flow) = self.process(&raw);
        Packet {
            number,
            raw,
            dissection,
            flow,
        }
    }

    /// [`Self::process`] into `d`, reusing the storage of the dissection `d` held (see
    /// [`dissect_into`]): for a reader going packet after packet with one
    /// `Dissection`, which then allocates almost nothing per packet.
    pub fn process_into(&mut self, raw: &RawPacket, d: &mut Dissection) -> Option<FlowAnnotation> {
        let mut ctx = Context {
            summaries_only: self.summaries_only,
            ..Context::default()
        };
        dissect_into(raw.link_type, &raw.bytes, &ctx, d);
        if self.summaries_only && d.endpoints.is_none() {
            // No IP endpoints (ARP, a malformed IP header, a link type without IP): the
            // Source and Destination columns then come from the fields, so record them.
            ctx.summaries_only = false;
            dissect_into(raw.link_type, &raw.bytes, &ctx, d);
        }
        self.observe(raw, d)
    }

    /// Track one packet, already dissected as `d`. Adds the flow fields to `d` (and re-decodes
    /// its payload when the flow was upgraded to WebSocket). Returns `None` for packets that
    /// are not TCP or UDP (or are fragments, or malformed before the transport header).
    pub fn observe(&mut self, raw: &RawPacket, d: &mut Dissection) -> Option<FlowAnnotation> {
        let ep = d.endpoints?;
        let (sp, dp) = (ep.src_port?, ep.dst_port?);
        let src = SocketAddr::new(ep.src, sp);
        let dst = SocketAddr::new(ep.dst, dp);
        match (ep.ip_proto, d.tcp) {
            (6, Some(tcp)) => Some(self.observe_tcp(raw, d, src, dst, tcp)),
            (17, _) => Some(self.observe_udp(raw, d, src, dst)),
            _ => None,
        }
    }

    fn observe_udp(
        &mut self,
        raw: &RawPacket,
        d: &mut Dissection,
        src: SocketAddr,
        dst: SocketAddr,
    ) -> FlowAnnotation {
        self.packets += 1;
        let key = FlowKey::new(src, dst);
        let mut notes = Vec::new();
        // A flow silent for longer than its idle time is over: this packet starts a new one.
        let past = self
            .udp
            .get(&key)
            .filter(|s| idle_past(s.last, raw.ts, s.idle_limit()));
        if let Some(s) = past {
            notes.push(format!(
                "new stream, the tracker forgot UDP stream {}: no packet for {}, longer than it \
                 remembers a {} flow ({} s)",
                s.stream,
                seconds(duration(s.last, raw.ts)),
                if s.traffic[1].packets > 0 {
                    "two-way"
                } else {
                    "one-way"
                },
                s.idle_limit()
            ));
            self.forget_udp(key);
        }
        if !self.udp.contains_key(&key) {
            self.make_room(raw.ts);
            if let Some(note) = self.forgot_early.as_ref().filter(|_| notes.is_empty()) {
                notes.push(note.clone());
            }
        }
        let streams = &mut self.udp_streams;
        let s = self.udp.entry(key).or_insert_with(|| {
            let stream = *streams;
            *streams += 1;
            Box::new(UdpStream {
                stream,
                a: src,
                b: dst,
                traffic: [Traffic::default(); 2],
                app: None,
                start: raw.ts,
                last: raw.ts,
                last_seen: 0,
            })
        });
        let dir = usize::from(src != s.a);
        let payload = d.payload.as_ref().map_or(0, |r| r.len() as u64);
        count(&mut s.traffic[dir], raw, payload);
        s.last = raw.ts;
        s.last_seen = self.packets;
        s.app = s.app.or_else(|| app_of(d));
        if !self.summaries_only {
            add_stream_field(d, Protocol::Udp, field::UDP_STREAM, s.stream);
        }
        FlowAnnotation {
            stream: s.stream,
            rel_seq: None,
            rel_ack: None,
            notes,
        }
    }

    fn observe_tcp(
        &mut self,
        raw: &RawPacket,
        d: &mut Dissection,
        src: SocketAddr,
        dst: SocketAddr,
        tcp: TcpSummary,
    ) -> FlowAnnotation {
        self.packets += 1;
        let packets = self.packets;
        let summaries_only = self.summaries_only;
        let mut hints = Hints::default();
        let s = self.tcp_stream_for(src, dst, &tcp, raw.ts, &mut hints);
        s.last = raw.ts;
        s.last_seen = packets;
        let (index, client, server) = (s.stream, s.client, s.server);
        let from_client = src == client;
        let (me, peer) = if from_client { (0, 1) } else { (1, 0) };

        let (rel_seq, rel_ack) = relative_numbers(s, me, peer, &tcp, &mut hints);
        let scale = window_scale(s, me, peer, &tcp);
        handshake_notes(s, &tcp, from_client, rel_seq, rel_ack, &mut hints);
        sequence_notes(&mut s.dirs[me], &tcp, rel_seq, &mut hints);
        ack_notes(&mut s.dirs[me], &tcp, rel_ack, &mut hints);
        teardown_notes(s, &tcp, me, peer, rel_seq, rel_ack, from_client, &mut hints);
        count(&mut s.dirs[me].traffic, raw, u64::from(tcp.payload_len));
        track_application(s, raw, d, &tcp, &mut hints, summaries_only);
        if s.handshake == Handshake::Unknown
            && hints.notes.is_empty()
            && s.dirs[0].traffic.packets + s.dirs[1].traffic.packets == 1
        {
            hints.note(
                "first packet seen of a connection already open: relative numbers start here"
                    .to_string(),
            );
        }

        if let Some(f) = self.follow.as_mut().filter(|f| f.stream == index) {
            f.addrs.get_or_insert((client, server));
            let bytes = d
                .payload
                .as_ref()
                .and_then(|r| raw.bytes.get(r.clone()))
                .unwrap_or(&[]);
            // SYN takes sequence number 0 (relative): data starts at 1.
            let seq = rel_seq.wrapping_add(u32::from(tcp.has(TcpSummary::SYN)));
            f.deliver(from_client, seq, bytes);
        }

        let relative = Relative {
            seq: rel_seq,
            ack: rel_ack,
            scale,
        };
        if summaries_only {
            // No fields in this mode, but the summary is the same: it is kept as numbers, so
            // this costs a few stores (see `Summary`).
            if let Some(layer) = d.layers.iter_mut().find(|l| l.protocol == Protocol::Tcp) {
                relative_summary(layer, relative, &tcp, (src.port(), dst.port()));
            }
        } else {
            add_tcp_fields(d, index, relative, &tcp, (src.port(), dst.port()));
            add_analysis_fields(d, &hints.analysis);
        }
        FlowAnnotation {
            stream: index,
            rel_seq: Some(rel_seq),
            rel_ack,
            notes: hints.notes,
        }
    }

    /// The stream a segment belongs to: the one held for its addresses and ports, or a new one
    /// when none is held, when the one held is past its time (with a note, unless this is a
    /// SYN: a new connection anyway), or when a fresh SYN reuses the ports of a connection that
    /// has closed.
    fn tcp_stream_for(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        tcp: &TcpSummary,
        ts: Timestamp,
        hints: &mut Hints,
    ) -> &mut TcpStream {
        let key = FlowKey::new(src, dst);
        let syn = tcp.has(TcpSummary::SYN);
        let fresh_syn = syn && !tcp.has(TcpSummary::ACK);
        let mut noted = false;
        let held = self.tcp.get(&key).map(|s| {
            let past = idle_past(s.last, ts, s.idle_limit());
            if past && !syn {
                noted = true;
                hints.note(format!(
                    "new stream, the tracker forgot TCP stream {}: no packet for {}, longer than \
                     it remembers {} ({} s); relative numbers start again here",
                    s.stream,
                    seconds(duration(s.last, ts)),
                    s.idle_description(),
                    s.idle_limit()
                ));
            }
            let reused = fresh_syn && s.closed && s.dirs[0].isn != Some(tcp.seq);
            past || reused
        });
        if held != Some(false) {
            if held == Some(true) {
                self.forget_tcp(key);
            }
            self.make_room(ts);
            if let Some(note) = self.forgot_early.as_ref().filter(|_| !syn && !noted) {
                hints.note(note.clone());
            }
        }
        // Who sent the SYN is the client; without a SYN, the first sender stands in for it.
        let (client, server) = if syn && tcp.has(TcpSummary::ACK) {
            (dst, src)
        } else {
            (src, dst)
        };
        let streams = &mut self.tcp_streams;
        self.tcp.entry(key).or_insert_with(|| {
            let stream = *streams;
            *streams += 1;
            Box::new(TcpStream {
                stream,
                client,
                server,
                dirs: [Direction::default(), Direction::default()],
                handshake: Handshake::Unknown,
                app: None,
                upgraded: false,
                closed: false,
                state: "open",
                start: ts,
                last: ts,
                last_seen: 0,
            })
        })
    }

    fn forget_tcp(&mut self, key: FlowKey) {
        if let Some(s) = self.tcp.remove(&key) {
            self.ended.add(s.conversation());
        }
    }

    fn forget_udp(&mut self, key: FlowKey) {
        if let Some(s) = self.udp.remove(&key) {
            self.ended.add(s.conversation());
        }
    }

    /// Before a new conversation is added at capture time `now`: when the table is full, drop
    /// the conversations past their time and, if that frees less than a quarter of the table,
    /// the least recently seen ones until a quarter is free. Freeing a quarter at a time keeps
    /// the cost of the scan at a few steps per new conversation.
    fn make_room(&mut self, now: Timestamp) {
        if self.tcp.len() + self.udp.len() < self.max_conversations {
            return;
        }
        let keep = self.max_conversations - (self.max_conversations / 4).max(1);
        let mut seen: Vec<u64> = (self.tcp.values())
            .filter(|s| !idle_past(s.last, now, s.idle_limit()))
            .map(|s| s.last_seen)
            .chain(
                (self.udp.values())
                    .filter(|s| !idle_past(s.last, now, s.idle_limit()))
                    .map(|s| s.last_seen),
            )
            .collect();
        // Keep those seen after `threshold` (0 keeps all: every stream has seen a packet). Each
        // packet touches one conversation, so no two have the same `last_seen`, and exactly
        // `seen.len() - keep` are at or below the threshold.
        let threshold = match seen.len().checked_sub(keep + 1) {
            Some(nth) => {
                self.forgot_early
                    .get_or_insert_with(|| forgot_early_note(self.max_conversations));
                *seen.select_nth_unstable(nth).1
            }
            None => 0,
        };
        let ended = &mut self.ended;
        self.tcp.retain(|_, s| {
            let keep = s.last_seen > threshold && !idle_past(s.last, now, s.idle_limit());
            if !keep {
                ended.add(s.conversation());
            }
            keep
        });
        self.udp.retain(|_, s| {
            let keep = s.last_seen > threshold && !idle_past(s.last, now, s.idle_limit());
            if !keep {
                ended.add(s.conversation());
            }
            keep
        });
    }

    /// The streams seen so far: the first [`LISTED_CONVERSATIONS`] one by one (TCP streams
    /// first, by index, then UDP flows), and the rest added up.
    pub fn conversations(&self) -> Conversations {
        let mut all = self.ended.listed.clone();
        let mut other = self.ended.other;
        let live = (self.tcp.values().map(|s| s.conversation()))
            .chain(self.udp.values().map(|s| s.conversation()));
        for c in live {
            if (c.stream as usize) < LISTED_CONVERSATIONS {
                all.push(c);
            } else {
                other.add(&c);
            }
        }
        all.sort_by_key(|c| (c.protocol != Protocol::Tcp, c.stream));
        if all.len() > LISTED_CONVERSATIONS {
            for c in all.drain(LISTED_CONVERSATIONS..) {
                other.add(&c);
            }
        }
        Conversations {
            listed: all,
            other: (other.conversations > 0).then_some(other),
        }
    }

    /// How many TCP streams have been numbered so far (`tcp.stream` runs from 0 to one less).
    pub fn tcp_streams(&self) -> u32 {
        self.tcp_streams
    }

    /// The followed stream's reassembled payload (for a tracker made with [`Self::following`]);
    /// `None` if the stream index never appeared.
    pub fn followed(&self) -> Option<FollowedStream> {
        let f = self.follow.as_ref()?;
        let (client, server) = f.addrs?;
        Some(FollowedStream {
            stream: f.stream,
            client: Some(client),
            server: Some(server),
            client_data: f.client.data.clone(),
            server_data: f.server.data.clone(),
            client_missing: f.client.missing(),
            server_missing: f.server.missing(),
            chunks: f.chunks.clone(),
        })
    }
}

/// The note on the first packet of a conversation once the tracker has had to forget
/// conversations before their time (made once, then copied). The one-line view shows the
/// words before the colon.
fn forgot_early_note(max: usize) -> String {
    format!(
        "table full, may have been seen before: the tracker holds at most {max} conversations \
         and has had to forget some to make room, so this one may have had another stream \
         number, and its numbers start here"
    )
}

/// Whether a conversation last seen at `last` is past `limit` seconds of silence at `now`.
/// A timestamp earlier than `last` counts as no time passed.
fn idle_past(last: Timestamp, now: Timestamp, limit: u64) -> bool {
    duration(last, now) > limit as f64
}

/// A duration for a note: whole seconds.
fn seconds(secs: f64) -> String {
    format!("{secs:.0} s")
}

/// What the tracker says about one segment: notes for people, and Wireshark's
/// `tcp.analysis.*` flags for filters (`tcp.analysis.retransmission` works as in Wireshark).
#[derive(Default)]
struct Hints {
    notes: Vec<String>,
    analysis: Vec<FieldDef>,
}

impl Hints {
    fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    fn flag(&mut self, f: FieldDef) {
        self.analysis.push(f);
    }
}

/// Add the `tcp.analysis.*` flags to the TCP layer. They describe the segment, not bytes of it,
/// so they point at the header's start with length 0, like `tcp.stream`.
fn add_analysis_fields(d: &mut Dissection, flags: &[FieldDef]) {
    if flags.is_empty() {
        return;
    }
    let Some(layer) = d.layers.iter_mut().find(|l| l.protocol == Protocol::Tcp) else {
        return;
    };
    let offset = layer.byte_range.start;
    layer.fields.extend(flags.iter().map(|f| Field {
        name: f.name,
        label: f.label,
        value: Value::Bool(true),
        offset,
        len: 0,
    }));
}

/// Relative sequence and acknowledgement numbers: from the SYN's sequence number, or, when the
/// capture started mid-connection, from the first number seen (data starts at 1 either way).
fn relative_numbers(
    s: &mut TcpStream,
    me: usize,
    peer: usize,
    tcp: &TcpSummary,
    hints: &mut Hints,
) -> (u32, Option<u32>) {
    let syn = tcp.has(TcpSummary::SYN);
    if syn && s.dirs[me].isn == Some(tcp.seq) && tcp.payload_len == 0 {
        hints.note("retransmission (SYN sent again: no answer yet)".to_string());
        hints.flag(field::RETRANSMISSION);
    }
    let first = if syn {
        tcp.seq
    } else {
        tcp.seq.wrapping_sub(1)
    };
    let isn = *s.dirs[me].isn.get_or_insert(first);
    let rel_ack = tcp.has(TcpSummary::ACK).then(|| {
        let peer_isn = *s.dirs[peer].isn.get_or_insert(tcp.ack.wrapping_sub(1));
        tcp.ack.wrapping_sub(peer_isn)
    });
    (tcp.seq.wrapping_sub(isn), rel_ack)
}

/// The shift that scales this segment's window: the one its sender announced in its SYN, once
/// both sides announced one (RFC 7323); SYNs themselves are never scaled.
fn window_scale(s: &mut TcpStream, me: usize, peer: usize, tcp: &TcpSummary) -> Option<u8> {
    let syn = tcp.has(TcpSummary::SYN);
    if syn {
        s.dirs[me].wscale = tcp.wscale.map(|v| v.min(14));
    }
    match (s.dirs[me].wscale, s.dirs[peer].wscale) {
        (Some(mine), Some(_)) if !syn => Some(mine),
        _ => None,
    }
}

/// The connection's application: HTTP, then WebSocket after a 101, whose payloads are then
/// decoded again with that knowledge.
fn track_application(
    s: &mut TcpStream,
    raw: &RawPacket,
    d: &mut Dissection,
    tcp: &TcpSummary,
    hints: &mut Hints,
    summaries_only: bool,
) {
    if s.upgraded && tcp.payload_len > 0 && d.layer(Protocol::WebSocket).is_none() {
        let ctx = Context {
            upgraded: Some(AppProtocol::WebSocket),
            summaries_only,
        };
        dissect_into(raw.link_type, &raw.bytes, &ctx, d);
    }
    let app = app_of(d);
    if let Some(app) = app {
        if s.app.is_none() || app == AppProtocol::WebSocket {
            s.app = Some(app);
        }
    }
    if app == Some(AppProtocol::Http) && d.switches_to_websocket {
        s.upgraded = true;
        hints.note("HTTP 101: the connection switches to WebSocket from the next byte".to_string());
    }
}

fn handshake_notes(
    s: &mut TcpStream,
    tcp: &TcpSummary,
    from_client: bool,
    rel_seq: u32,
    rel_ack: Option<u32>,
    hints: &mut Hints,
) {
    let (syn, ack) = (tcp.has(TcpSummary::SYN), tcp.has(TcpSummary::ACK));
    if syn && !ack {
        s.handshake = Handshake::SynSent;
        hints.note(
            "SYN, handshake 1/3: the client asks to connect and picks its initial sequence number"
                .to_string(),
        );
    } else if syn && ack {
        s.handshake = Handshake::SynAckSent;
        hints.note(
            "SYN-ACK, handshake 2/3: the server accepts and picks its own initial sequence number"
                .to_string(),
        );
    } else if s.handshake == Handshake::SynAckSent
        && from_client
        && ack
        && rel_seq == 1
        && rel_ack == Some(1)
        && !tcp.has(TcpSummary::RST)
    {
        s.handshake = Handshake::Established;
        let mut n = "ACK, handshake 3/3: the connection is established".to_string();
        if tcp.payload_len > 0 {
            n.push_str(" (this ACK already carries data)");
        }
        hints.note(n);
    }
}

/// Retransmission, out-of-order and gap hints from where this segment's bytes fall.
fn sequence_notes(dir: &mut Direction, tcp: &TcpSummary, rel_seq: u32, hints: &mut Hints) {
    // SYN and FIN each take one sequence number, like a byte of data.
    let len =
        tcp.payload_len + u32::from(tcp.has(TcpSummary::SYN)) + u32::from(tcp.has(TcpSummary::FIN));
    if len == 0 || tcp.has(TcpSummary::RST) {
        return;
    }
    let seg = rel_seq..rel_seq.wrapping_add(len);
    if let Some(next) = dir.next {
        let ahead = seg.start.wrapping_sub(next) as i32;
        if ahead > 0 {
            hints.note(format!("previous segment not captured: {ahead} bytes before this one are missing (lost, or not seen by the capture)"));
            hints.flag(field::LOST_SEGMENT);
        } else if ahead < 0 && !tcp.has(TcpSummary::SYN) {
            if covered(&dir.sent, seg.clone()) {
                hints.note(
                    "retransmission: these bytes were sent before (the sender saw no ACK in time)"
                        .to_string(),
                );
                hints.flag(field::RETRANSMISSION);
            } else {
                hints.note(
                    "out of order: these bytes come after later ones were already sent".to_string(),
                );
                hints.flag(field::OUT_OF_ORDER);
            }
        }
    }
    add_range(&mut dir.sent, seg.clone());
    let end = seg.end;
    dir.next = Some(match dir.next {
        Some(n) if (end.wrapping_sub(n) as i32) < 0 => n,
        _ => end,
    });
}

/// Duplicate ACKs: the same acknowledgement and window again, with no data: the receiver saying
/// "I am still missing what comes next" (three of them trigger fast retransmit).
fn ack_notes(dir: &mut Direction, tcp: &TcpSummary, rel_ack: Option<u32>, hints: &mut Hints) {
    let Some(ack) = rel_ack else { return };
    let pure =
        tcp.payload_len == 0 && !tcp.has(TcpSummary::SYN | TcpSummary::FIN | TcpSummary::RST);
    if pure && dir.last_ack == Some(ack) && dir.last_window == tcp.window {
        dir.dup_acks += 1;
        hints.note(format!(
            "duplicate ACK #{}: the receiver still waits for byte {ack}",
            dir.dup_acks
        ));
        hints.flag(field::DUPLICATE_ACK);
    } else if dir.last_ack != Some(ack) {
        dir.dup_acks = 0;
    }
    if tcp.window == 0 && !tcp.has(TcpSummary::RST) {
        hints.note("zero window: the receiver's buffer is full, the sender must wait".to_string());
        hints.flag(field::ZERO_WINDOW);
    }
    dir.last_ack = Some(ack);
    dir.last_window = tcp.window;
}

#[allow(clippy::too_many_arguments)]
fn teardown_notes(
    s: &mut TcpStream,
    tcp: &TcpSummary,
    me: usize,
    peer: usize,
    rel_seq: u32,
    rel_ack: Option<u32>,
    from_client: bool,
    hints: &mut Hints,
) {
    let side = if from_client { "client" } else { "server" };
    if tcp.has(TcpSummary::RST) {
        let refused = s.handshake == Handshake::SynSent && !from_client;
        s.state = if refused { "refused" } else { "reset" };
        s.closed = true;
        hints.note(if refused {
            "RST, connection refused: nothing listens on this port".to_string()
        } else {
            format!("RST, reset by the {side}: the connection is aborted")
        });
        return;
    }
    if tcp.has(TcpSummary::FIN) {
        let fin_end = rel_seq.wrapping_add(tcp.payload_len).wrapping_add(1);
        let first = s.dirs[peer].fin_end.is_none();
        if s.dirs[me].fin_end.is_none() {
            s.dirs[me].fin_end = Some(fin_end);
            hints.note(format!(
                "FIN, teardown: the {side} has no more data to send{}",
                if first {
                    " (the other side may still send)"
                } else {
                    " (both sides have now closed)"
                }
            ));
        }
    }
    // The ACK of the second FIN ends the connection.
    if let (Some(peer_fin), Some(_), Some(ack)) =
        (s.dirs[peer].fin_end, s.dirs[me].fin_end, rel_ack)
    {
        if ack == peer_fin && !s.closed && !tcp.has(TcpSummary::FIN) {
            s.closed = true;
            s.state = "closed";
            hints.note("ACK of the last FIN: the connection is closed".to_string());
        }
    }
}

/// What the tracker knows about a segment beyond its header.
#[derive(Clone, Copy)]
struct Relative {
    seq: u32,
    ack: Option<u32>,
    /// The sender's window scale shift, once both sides agreed to scale.
    scale: Option<u8>,
}

impl Relative {
    /// The segment's window in bytes: the header's value, scaled once scaling is agreed.
    fn window(&self, tcp: &TcpSummary) -> u32 {
        u32::from(tcp.window) << self.scale.unwrap_or(0)
    }
}

/// Add `tcp.stream`, the relative `tcp.seq` / `tcp.ack` at the raw fields' bytes and the scaled
/// window, then rewrite the TCP summary with these numbers, as Wireshark shows them.
fn add_tcp_fields(
    d: &mut Dissection,
    stream: u32,
    rel: Relative,
    tcp: &TcpSummary,
    ports: (u16, u16),
) {
    let Some(layer) = d.layers.iter_mut().find(|l| l.protocol == Protocol::Tcp) else {
        return;
    };
    // The header layout is fixed, so the raw fields' bytes are known without searching.
    let start = layer.byte_range.start;
    let fixed = |f: FixedField, value: u64| Field {
        name: f.name,
        label: f.label,
        value: Value::U64(value),
        offset: start + f.bytes.start,
        len: f.bytes.len(),
    };
    let window = rel.window(tcp);
    // Without the ACK flag the number means nothing; Wireshark still shows it, unrelativised.
    let ack = rel.ack.unwrap_or(tcp.ack);
    let relative = [
        stream_field(field::TCP_STREAM, stream, start),
        fixed(field::SEQ, rel.seq.into()),
        fixed(field::ACK, ack.into()),
    ];
    // After the ports, where Wireshark lists the stream index and sequence numbers.
    let pos = layer.fields.len().min(2);
    layer.fields.splice(pos..pos, relative);
    let scaled = fixed(field::WINDOW_SIZE, window.into());
    let factor = rel
        .scale
        .map(|shift| fixed(field::WINDOW_SCALEFACTOR, 1 << shift));
    // Next to the raw window. Inserted in place: no temporary vector per TCP segment.
    let pos = layer
        .fields
        .iter()
        .position(|f| f.name == crate::dissect::tcp::field::WINDOW.name)
        .map_or(layer.fields.len(), |i| i + 1);
    layer.fields.insert(pos, scaled);
    if let Some(factor) = factor {
        layer.fields.insert(pos + 1, factor);
    }
    relative_summary(layer, rel, tcp, ports);
}

/// Give the TCP layer's summary the relative numbers and the scaled window.
fn relative_summary(layer: &mut Layer, rel: Relative, tcp: &TcpSummary, ports: (u16, u16)) {
    let relative = Some(summary::Relative {
        seq: rel.seq,
        ack: rel.ack.unwrap_or(0),
        window: rel.window(tcp),
    });
    match &mut layer.summary {
        Summary::Tcp(s) => s.relative = relative,
        other => {
            *other = Summary::Tcp(summary::Tcp {
                src: ports.0,
                dst: ports.1,
                header: *tcp,
                relative,
            })
        }
    }
}

fn add_stream_field(d: &mut Dissection, protocol: Protocol, f: FieldDef, stream: u32) {
    if let Some(layer) = d.layers.iter_mut().find(|l| l.protocol == protocol) {
        let start = layer.byte_range.start;
        layer.fields.push(stream_field(f, stream, start));
    }
}

/// A stream index describes the whole segment, not bytes of it: it points at the header's start
/// with length 0.
fn stream_field(f: FieldDef, stream: u32, start: usize) -> Field {
    Field {
        name: f.name,
        label: f.label,
        value: Value::U64(stream.into()),
        offset: start,
        len: 0,
    }
}

fn count(t: &mut Traffic, raw: &RawPacket, payload: u64) {
    t.packets += 1;
    t.bytes += u64::from(raw.orig_len);
    t.payload_bytes += payload;
}

fn covered(ranges: &[Range<u32>], r: Range<u32>) -> bool {
    ranges
        .iter()
        .any(|have| have.start <= r.start && r.end <= have.end)
}

/// Insert `r` into a sorted list of disjoint ranges, merging neighbours.
fn add_range(ranges: &mut Vec<Range<u32>>, r: Range<u32>) {
    if r.start >= r.end {
        return;
    }
    let pos = ranges.partition_point(|x| x.start < r.start);
    ranges.insert(pos, r);
    let mut merged: Vec<Range<u32>> = Vec::with_capacity(ranges.len());
    for x in ranges.drain(..) {
        match merged.last_mut() {
            Some(last) if x.start <= last.end => last.end = last.end.max(x.end),
            _ => merged.push(x),
        }
    }
    // Bound memory: fold the oldest (lowest) ranges together when there are too many holes.
    while merged.len() > MAX_RANGES {
        let second = merged.remove(1);
        merged[0].end = second.end;
    }
    *ranges = merged;
}

fn app_of(d: &Dissection) -> Option<AppProtocol> {
    d.layers.iter().rev().find_map(|l| match l.protocol {
        Protocol::Http => Some(AppProtocol::Http),
        Protocol::WebSocket => Some(AppProtocol::WebSocket),
        Protocol::Dns => Some(AppProtocol::Dns),
        Protocol::Tls => Some(AppProtocol::Tls),
        Protocol::Echo => Some(AppProtocol::Echo),
        Protocol::Events => Some(AppProtocol::Events),
        _ => None,
    })
}

/// Seconds from `a` to `b`, computed on the integer parts first: epoch seconds as an f64 would
/// lose the sub-microsecond digits.
fn duration(a: Timestamp, b: Timestamp) -> f64 {
    let secs = b.secs.saturating_sub(a.secs) as f64;
    let nanos = f64::from(b.nanos) - f64::from(a.nanos);
    (secs + nanos / 1e9).max(0.0)
}
