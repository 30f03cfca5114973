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
//! [`Reason::Upgrade`]: crate::model::Reason::Upgrade

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;

use serde::Serialize;

use crate::dissect::{AppProtocol, Context, dissect_into};
use crate::model::summary::{self, Summary};
use crate::model::{
    Dissection, Field, FieldDef, FixedField, FlowAnnotation, Layer, Protocol, RawPacket,
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

/// Tracks TCP and UDP streams across packets. See the module docs.
#[derive(Default)]
pub struct FlowTracker {
    tcp_index: StreamIndex,
    tcp: Vec<TcpStream>,
    udp_index: StreamIndex,
    udp: Vec<UdpStream>,
    follow: Option<Follow>,
    /// Dissect with [`Context::summaries_only`] and add no fields: for views that show only
    /// summaries. Stream indexes, relative numbers, hints and summaries stay the same.
    summaries_only: bool,
}

/// Stream index by conversation.
#[derive(Default)]
struct StreamIndex {
    map: HashMap<FlowKey, u32>,
}

impl StreamIndex {
    fn get(&self, key: FlowKey) -> Option<u32> {
        self.map.get(&key).copied()
    }

    fn insert(&mut self, key: FlowKey, i: u32) {
        self.map.insert(key, i);
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
    last: Timestamp,
}

struct UdpStream {
    a: SocketAddr,
    b: SocketAddr,
    traffic: [Traffic; 2],
    app: Option<AppProtocol>,
    start: Timestamp,
    last: Timestamp,
}

impl FlowTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// A tracker that also reassembles the payload of TCP stream `stream` (see [`Self::followed`]).
    pub fn following(stream: u32) -> Self {
        FlowTracker {
            follow: Some(Follow {
                stream,
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
        let key = FlowKey::new(src, dst);
        let next = self.udp.len() as u32;
        let index = self.udp_index.get(key).unwrap_or_else(|| {
            self.udp_index.insert(key, next);
            next
        });
        if index == next {
            self.udp.push(UdpStream {
                a: src,
                b: dst,
                traffic: [Traffic::default(); 2],
                app: None,
                start: raw.ts,
                last: raw.ts,
            });
        }
        let s = &mut self.udp[index as usize];
        let dir = usize::from(src != s.a);
        let payload = d.payload.as_ref().map_or(0, |r| r.len() as u64);
        count(&mut s.traffic[dir], raw, payload);
        s.last = raw.ts;
        s.app = s.app.or_else(|| app_of(d));
        if !self.summaries_only {
            add_stream_field(d, Protocol::Udp, field::UDP_STREAM, index);
        }
        FlowAnnotation {
            stream: index,
            rel_seq: None,
            rel_ack: None,
            notes: Vec::new(),
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
        let index = self.tcp_stream_for(src, dst, &tcp, raw.ts);
        let s = &mut self.tcp[index as usize];
        s.last = raw.ts;
        let from_client = src == s.client;
        let (me, peer) = if from_client { (0, 1) } else { (1, 0) };
        let mut hints = Hints::default();

        let (rel_seq, rel_ack) = relative_numbers(s, me, peer, &tcp, &mut hints);
        let scale = window_scale(s, me, peer, &tcp);
        handshake_notes(s, &tcp, from_client, rel_seq, rel_ack, &mut hints);
        sequence_notes(&mut s.dirs[me], &tcp, rel_seq, &mut hints);
        ack_notes(&mut s.dirs[me], &tcp, rel_ack, &mut hints);
        teardown_notes(s, &tcp, me, peer, rel_seq, rel_ack, from_client, &mut hints);
        count(&mut s.dirs[me].traffic, raw, u64::from(tcp.payload_len));
        track_application(s, raw, d, &tcp, &mut hints, self.summaries_only);
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
        if self.summaries_only {
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

    /// The stream index for a segment: the existing one for its 4-tuple, or a new one (also
    /// when a fresh SYN reuses the ports of a connection that has closed).
    fn tcp_stream_for(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        tcp: &TcpSummary,
        ts: Timestamp,
    ) -> u32 {
        let key = FlowKey::new(src, dst);
        let fresh_syn = tcp.has(TcpSummary::SYN) && !tcp.has(TcpSummary::ACK);
        if let Some(i) = self.tcp_index.get(key) {
            let s = &self.tcp[i as usize];
            let reused = fresh_syn && s.closed && s.dirs[0].isn != Some(tcp.seq);
            if !reused {
                return i;
            }
        }
        let i = self.tcp.len() as u32;
        self.tcp_index.insert(key, i);
        // Who sent the SYN is the client; without a SYN, the first sender stands in for it.
        let (client, server) = if tcp.has(TcpSummary::SYN) && tcp.has(TcpSummary::ACK) {
            (dst, src)
        } else {
            (src, dst)
        };
        self.tcp.push(TcpStream {
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
        });
        i
    }

    /// Every stream seen so far: TCP streams first, by index, then UDP flows.
    pub fn conversations(&self) -> Vec<Conversation> {
        let mut out = Vec::with_capacity(self.tcp.len() + self.udp.len());
        for (i, s) in self.tcp.iter().enumerate() {
            out.push(Conversation {
                protocol: Protocol::Tcp,
                stream: i as u32,
                a: s.client,
                b: s.server,
                a_to_b: s.dirs[0].traffic,
                b_to_a: s.dirs[1].traffic,
                start: s.start,
                duration: duration(s.start, s.last),
                application: s.app.map(AppProtocol::protocol),
                state: s.state,
            });
        }
        for (i, s) in self.udp.iter().enumerate() {
            out.push(Conversation {
                protocol: Protocol::Udp,
                stream: i as u32,
                a: s.a,
                b: s.b,
                a_to_b: s.traffic[0],
                b_to_a: s.traffic[1],
                start: s.start,
                duration: duration(s.start, s.last),
                application: s.app.map(AppProtocol::protocol),
                state: "",
            });
        }
        out
    }

    /// The followed stream's reassembled payload (for a tracker made with [`Self::following`]);
    /// `None` if the stream index never appeared.
    pub fn followed(&self) -> Option<FollowedStream> {
        let f = self.follow.as_ref()?;
        let s = self.tcp.get(f.stream as usize)?;
        Some(FollowedStream {
            stream: f.stream,
            client: Some(s.client),
            server: Some(s.server),
            client_data: f.client.data.clone(),
            server_data: f.server.data.clone(),
            client_missing: f.client.missing(),
            server_missing: f.server.missing(),
            chunks: f.chunks.clone(),
        })
    }
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
