//! The dissector: a pure function from `(link type, bytes)` to a [`Dissection`].
//!
//! Each protocol lives in its own submodule and follows one pattern, in the smoltcp style: a
//! `field` module that declares each of the protocol's fields once (filter name, label and, for
//! a field at a fixed place, its byte range: [`FixedField`], else [`FieldDef`]), a
//! `LayerBuilder` that reads those fields with bounds checks and records each one as a
//! [`Field`] (name, label, value, frame offset, length), a `dissect` function that pushes the
//! finished [`Layer`] and hands the payload to the next protocol, and a builder that writes the
//! same byte ranges (the inverse of the parser). The `fields!` macro that declares the fields also
//! makes the module's `field::NAMES`; `FIELDS` gathers them for the filter
//! ([`crate::filter::field_names`]), which rejects any other name. Packet bytes are read only
//! through the builder's bounds-checked accessors (the few direct indexes elsewhere sit right
//! after the check that makes them safe), so hostile bytes can only ever produce a "malformed"
//! layer, never a panic; `tests/robustness.rs` and the fuzz targets in `crates/inspect/fuzz`
//! hold the dissector to that.
//!
//! # Submodules
//! - `link`: the link-type headers: Ethernet II, 802.1Q, BSD NULL/LOOP, Linux cooked SLL/SLL2, raw IP.
//! - `arp`: ARP over Ethernet/IPv4.
//! - `ipv4`, `ipv6`: the network layer (IPv4 options, fragments; IPv6 extension headers).
//! - `icmp`: ICMPv4 and ICMPv6, including the quoted header inside error messages.
//! - `tcp`, `udp`: the transport layer (TCP options, payload length).
//! - `app`: chooses an application protocol for a payload (by port, content or upgrade) and
//!   holds the small netlab protocols (echo, event frames).
//! - `http`, `websocket`, `dns`, `tls`: the application decoders.
//! - `socketio`: socket.io's Engine.IO and Socket.IO packets, in WebSocket frames and polling bodies.

mod app;
mod arp;
mod dns;
mod http;
pub(crate) mod icmp;
pub(crate) mod ipv4;
pub(crate) mod ipv6;
pub(crate) mod link;
mod socketio;
pub(crate) mod tcp;
mod tls;
pub(crate) mod udp;
mod websocket;

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use crate::model::{
    Dissection, Field, FieldDef, FixedField, Layer, LinkType, MacAddr, Protocol, Summary, Value,
};

pub use app::AppProtocol;

/// What the caller knows about the packet's flow that the bytes alone do not say. The flow
/// tracker fills it in; a plain [`dissect`] uses the default (nothing known).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Context {
    /// Decode the transport payload as this protocol, because an earlier packet on the same flow
    /// said so (an HTTP 101 Switching Protocols makes the rest of the flow WebSocket).
    pub upgraded: Option<AppProtocol>,
    /// Decode every header but record no fields and no notes: what a view that shows only
    /// summaries needs (the one-line view, `--stats`). Layers, byte ranges, summaries, reasons,
    /// `malformed` and the pulled-out endpoints are exactly those of a full dissection;
    /// `fields` and `notes` stay empty. This is Wireshark's trick of not building the tree
    /// when no one looks at it.
    pub summaries_only: bool,
}

/// Dissect one frame captured with the given link type. Never panics and never fails: what could
/// not be decoded ends the layer list as a "malformed" layer (see [`Dissection::malformed`]).
pub fn dissect(link_type: LinkType, bytes: &[u8]) -> Dissection {
    dissect_with(link_type, bytes, &Context::default())
}

/// [`dissect`] with what the flow tracker knows about the packet's flow.
pub fn dissect_with(link_type: LinkType, bytes: &[u8], ctx: &Context) -> Dissection {
    let mut out = Dissection {
        layers: Vec::with_capacity(5),
        ..Dissection::default()
    };
    dissect_into(link_type, bytes, ctx, &mut out);
    out
}

/// The field names each protocol module declares in its `field` module (its `field::NAMES`),
/// for the filter's registry ([`crate::filter::field_names`]).
pub(crate) const FIELDS: [&[&str]; 13] = [
    app::field::NAMES,
    arp::field::NAMES,
    dns::field::NAMES,
    http::field::NAMES,
    icmp::field::NAMES,
    ipv4::field::NAMES,
    ipv6::field::NAMES,
    link::field::NAMES,
    socketio::field::NAMES,
    tcp::field::NAMES,
    tls::field::NAMES,
    udp::field::NAMES,
    websocket::field::NAMES,
];

/// Why a layer could not be decoded. It becomes the summary of a "malformed" layer; the
/// dissection itself never fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// The frame ends before the header does: a cut-off capture or a lying length field.
    #[error(
        "{protocol} truncated: needs {needed} bytes at frame offset {offset}, only {available} captured"
    )]
    Truncated {
        protocol: Protocol,
        offset: usize,
        needed: usize,
        available: usize,
    },
    /// A header field holds a value the protocol forbids.
    #[error("{protocol} invalid at frame offset {offset}: {what}")]
    Invalid {
        protocol: Protocol,
        offset: usize,
        what: Cow<'static, str>,
    },
}

impl Malformed {
    /// Frame offset where the problem starts.
    pub fn offset(&self) -> usize {
        match self {
            Malformed::Truncated { offset, .. } | Malformed::Invalid { offset, .. } => *offset,
        }
    }
}

/// Dissect into `out`, reusing the storage of what `out` held (the previous packet's
/// dissection): its layer list and each layer's field and note vectors. The result is exactly
/// what [`dissect_with`] returns; only the allocations differ. A reader that goes packet after
/// packet with one `Dissection` (the CLI's pipeline, through the flow tracker) then allocates
/// almost nothing per packet.
pub fn dissect_into(link_type: LinkType, bytes: &[u8], ctx: &Context, out: &mut Dissection) {
    // Everything but the layers starts afresh; the layers are overwritten one by one. The
    // pattern below fails to compile when a field is added, so none can be forgotten.
    let Dissection {
        layers: _,
        malformed,
        endpoints,
        tcp,
        payload,
        switches_to_websocket,
    } = out;
    *malformed = None;
    *endpoints = None;
    *tcp = None;
    *payload = None;
    *switches_to_websocket = false;
    let mut d = Dissector::new(bytes, *ctx, out);
    link::dissect(&mut d, link_type);
    d.finish();
}

/// The state of one dissection: the frame, the layers so far, and what the flow told us.
pub(crate) struct Dissector<'a, 'o> {
    frame: &'a [u8],
    /// Written in place (see [`dissect_into`]), not moved: a `Dissection` is 144 bytes.
    out: &'o mut Dissection,
    ctx: Context,
    /// How many layers this dissection has so far. `out.layers` may hold more: the previous
    /// packet's, whose vectors the next layers reuse (see [`dissect_into`]) and whose rest
    /// is dropped at the end.
    count: usize,
    /// True while decoding the packet quoted inside an ICMP error: that packet is cut short on
    /// purpose, its addresses are not the packet's own, and its payload is not an application.
    quoted: bool,
    /// True while decoding the transport header in the first fragment of a fragmented packet:
    /// the header is there, the rest of the payload is in later fragments.
    fragment_head: bool,
    /// Where the outermost IP packet (or ARP message) ends, to spot Ethernet padding after it.
    network_end: Option<usize>,
    /// Where the current IP packet ends according to its length field (which may be past the
    /// captured bytes): TCP reports its payload length on the wire from it.
    wire_end: usize,
}

impl<'a, 'o> Dissector<'a, 'o> {
    fn new(frame: &'a [u8], ctx: Context, out: &'o mut Dissection) -> Self {
        Dissector {
            frame,
            out,
            ctx,
            count: 0,
            quoted: false,
            fragment_head: false,
            network_end: None,
            wire_end: 0,
        }
    }

    /// A builder for a layer starting at `start` whose bytes end at `end` (clamped to the frame).
    #[inline]
    fn layer(&mut self, start: usize, end: usize, protocol: Protocol) -> LayerBuilder<'a> {
        let mut lb = LayerBuilder::new(self.frame, start, end, protocol);
        lb.keep = !self.ctx.summaries_only;
        if let Some(old) = self.out.layers.get_mut(self.count) {
            // The previous packet's layer at this depth: most often the same protocol, so its
            // field vector already has the right capacity.
            lb.fields = std::mem::take(&mut old.fields);
            lb.fields.clear();
            lb.notes = std::mem::take(&mut old.notes);
            lb.notes.clear();
        }
        lb
    }

    fn push(&mut self, layer: Layer) {
        match self.out.layers.get_mut(self.count) {
            Some(slot) => *slot = layer,
            None => self.out.layers.push(layer),
        }
        self.count += 1;
    }

    /// The layers decoded so far (`out.layers` may still hold the previous packet's after
    /// them).
    fn layers_mut(&mut self) -> &mut [Layer] {
        &mut self.out.layers[..self.count]
    }

    /// Let the last layer's bytes run on to `end` (clamped to the frame): a payload no layer
    /// of its own decodes belongs to the header before it.
    fn stretch_last(&mut self, end: usize) {
        let end = end.min(self.frame.len());
        if let Some(l) = self.layers_mut().last_mut() {
            l.byte_range.end = l.byte_range.end.max(end);
        }
    }

    /// Push a finished layer or, when decoding failed, a malformed layer that keeps the fields
    /// read before the failure. Returns whether decoding may continue.
    fn push_result<T, S: Into<Summary>>(
        &mut self,
        lb: LayerBuilder<'a>,
        r: Result<(T, S), Malformed>,
    ) -> Option<T> {
        match r {
            Ok((next, summary)) => {
                self.push(lb.finish(summary));
                Some(next)
            }
            Err(e) => {
                self.fail(lb, e);
                None
            }
        }
    }

    /// End the dissection with a "malformed" layer.
    fn fail(&mut self, lb: LayerBuilder<'a>, e: Malformed) {
        let layer = lb.malformed(&e, self.frame.len());
        if self.out.malformed.is_none() {
            self.out.malformed = Some(e.to_string());
        }
        self.push(layer);
    }

    /// Add a note to the most recent layer, made only when notes are kept (the notes added
    /// this way are formatted).
    fn note_last_with<N: Into<Cow<'static, str>>>(&mut self, note: impl FnOnce() -> N) {
        if self.ctx.summaries_only {
            return;
        }
        if let Some(l) = self.layers_mut().last_mut() {
            l.notes.push(note().into());
        }
    }

    fn finish(mut self) {
        self.out.layers.truncate(self.count);
        link::note_padding(&mut self);
    }
}

/// Reads one header with bounds checks and records what it reads as fields. Offsets given to
/// its methods are relative to the header's start; the fields it makes carry frame offsets.
pub(crate) struct LayerBuilder<'a> {
    /// The frame up to where this layer's bytes end (an IP packet's total length, say), so a
    /// read past the layer fails even when the frame goes on with padding.
    data: &'a [u8],
    start: usize,
    /// The end of the layer as decoded so far; `finish` uses it as the byte range's end.
    end: usize,
    protocol: Protocol,
    fields: Vec<Field>,
    notes: Vec<Cow<'static, str>>,
    reason: Option<crate::model::Reason>,
    /// Record fields and notes (false for [`Context::summaries_only`]).
    keep: bool,
    /// Fields not recorded because the layer already had [`MAX_FIELDS`].
    fields_left_out: usize,
}

/// Fields a layer records at most. Without a bound a crafted packet (an HTTP request of millions
/// of header lines, say) costs memory in proportion to its lines in every view that shows
/// fields; real layers have well under a hundred (a DNS message with many records a few hundred).
pub const MAX_FIELDS: usize = 1_000;

impl<'a> LayerBuilder<'a> {
    fn new(frame: &'a [u8], start: usize, end: usize, protocol: Protocol) -> Self {
        let end = end.min(frame.len());
        let data = frame.get(..end).unwrap_or(frame);
        LayerBuilder {
            data,
            start,
            end: start.min(end),
            protocol,
            fields: Vec::new(),
            notes: Vec::new(),
            reason: None,
            keep: true,
            fields_left_out: 0,
        }
    }

    /// Frame offset of the header's first byte.
    fn start(&self) -> usize {
        self.start
    }

    /// Bytes available from the header's start to the layer's end.
    fn available(&self) -> usize {
        self.data.len().saturating_sub(self.start)
    }

    /// Frame offset where the layer's bytes end.
    fn limit(&self) -> usize {
        self.data.len()
    }

    /// Check that `len` bytes of header are present (smoltcp's `check_len`).
    fn need(&self, len: usize) -> Result<(), Malformed> {
        if self.available() >= len {
            Ok(())
        } else {
            Err(self.truncated(len))
        }
    }

    #[cold]
    fn truncated(&self, needed: usize) -> Malformed {
        Malformed::Truncated {
            protocol: self.protocol,
            offset: self.start,
            needed,
            available: self.available(),
        }
    }

    fn invalid(&self, rel: usize, what: impl Into<Cow<'static, str>>) -> Malformed {
        Malformed::Invalid {
            protocol: self.protocol,
            offset: self.start + rel,
            what: what.into(),
        }
    }

    /// The bytes at `r` (relative to the header start), or a truncation error.
    #[inline(always)]
    fn slice(&self, r: Range<usize>) -> Result<&'a [u8], Malformed> {
        let abs = (self.start + r.start)..(self.start + r.end);
        self.data.get(abs).ok_or_else(|| self.truncated(r.end))
    }

    #[inline(always)]
    fn read_u8(&self, at: usize) -> Result<u8, Malformed> {
        Ok(self.slice(at..at + 1)?[0])
    }

    #[inline(always)]
    fn read_u16(&self, at: usize) -> Result<u16, Malformed> {
        let b = self.slice(at..at + 2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    #[inline(always)]
    fn read_u32(&self, at: usize) -> Result<u32, Malformed> {
        let b = self.slice(at..at + 4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// [`Self::field`] for values that cost an allocation (text, byte strings): `value` is
    /// only called when fields are recorded, so a summaries-only dissection never builds them.
    #[inline]
    fn field_with(&mut self, r: Range<usize>, f: FieldDef, value: impl FnOnce() -> Value) {
        if self.keep {
            self.field(r, f, value());
        } else {
            self.cover(r.end);
        }
    }

    /// Record the field `f` over `r` (relative) without reading it; the caller decoded the
    /// value.
    #[inline(always)]
    fn field(&mut self, r: Range<usize>, f: FieldDef, value: Value) {
        self.cover(r.end);
        if self.keep {
            self.push_field(r, f, value);
        }
    }

    /// The recording half of [`Self::field`].
    #[inline(always)]
    fn push_field(&mut self, r: Range<usize>, f: FieldDef, value: Value) {
        if self.fields.len() >= MAX_FIELDS {
            self.fields_left_out += 1;
            return;
        }
        if self.fields.capacity() == 0 {
            self.reserve_fields();
        }
        self.fields.push(Field {
            name: f.name,
            label: f.label,
            value,
            offset: self.start + r.start,
            len: r.end - r.start,
        });
    }

    /// The field vector is allocated on the first field, at the size this protocol needs, so it
    /// is neither grown nor allocated at all in a summaries-only dissection.
    #[cold]
    fn reserve_fields(&mut self) {
        self.fields.reserve_exact(field_capacity(self.protocol));
    }

    // Each reader comes twice: `u16(f)` reads a field at its fixed place (`f.bytes`), and
    // `u16_at(at, f)` one whose place the dissector found (an option, a record).

    /// Read a byte and record it as a numeric field.
    #[inline(always)]
    fn u8(&mut self, f: FixedField) -> Result<u8, Malformed> {
        debug_assert_eq!(f.bytes.len(), 1, "{}", f.name);
        self.u8_at(f.bytes.start, f.def())
    }

    #[inline(always)]
    fn u8_at(&mut self, at: usize, f: FieldDef) -> Result<u8, Malformed> {
        let v = self.read_u8(at)?;
        self.field(at..at + 1, f, Value::U64(v.into()));
        Ok(v)
    }

    /// Read a big-endian u16 and record it.
    #[inline(always)]
    fn u16(&mut self, f: FixedField) -> Result<u16, Malformed> {
        debug_assert_eq!(f.bytes.len(), 2, "{}", f.name);
        self.u16_at(f.bytes.start, f.def())
    }

    #[inline(always)]
    fn u16_at(&mut self, at: usize, f: FieldDef) -> Result<u16, Malformed> {
        let v = self.read_u16(at)?;
        self.field(at..at + 2, f, Value::U64(v.into()));
        Ok(v)
    }

    /// Read a big-endian u32 and record it.
    #[inline(always)]
    fn u32(&mut self, f: FixedField) -> Result<u32, Malformed> {
        debug_assert_eq!(f.bytes.len(), 4, "{}", f.name);
        self.u32_at(f.bytes.start, f.def())
    }

    #[inline(always)]
    fn u32_at(&mut self, at: usize, f: FieldDef) -> Result<u32, Malformed> {
        let v = self.read_u32(at)?;
        self.field(at..at + 4, f, Value::U64(v.into()));
        Ok(v)
    }

    /// Read a MAC address and record it.
    #[inline(always)]
    fn mac(&mut self, f: FixedField) -> Result<MacAddr, Malformed> {
        debug_assert_eq!(f.bytes.len(), 6, "{}", f.name);
        self.mac_at(f.bytes.start, f.def())
    }

    #[inline(always)]
    fn mac_at(&mut self, at: usize, f: FieldDef) -> Result<MacAddr, Malformed> {
        let b = self.slice(at..at + 6)?;
        let m = MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]]);
        self.field(at..at + 6, f, Value::Mac(m));
        Ok(m)
    }

    /// Read an IPv4 address and record it.
    #[inline(always)]
    fn ipv4(&mut self, f: FixedField) -> Result<Ipv4Addr, Malformed> {
        debug_assert_eq!(f.bytes.len(), 4, "{}", f.name);
        self.ipv4_at(f.bytes.start, f.def())
    }

    #[inline(always)]
    fn ipv4_at(&mut self, at: usize, f: FieldDef) -> Result<Ipv4Addr, Malformed> {
        let b = self.slice(at..at + 4)?;
        let a = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
        self.field(at..at + 4, f, Value::Ipv4(a));
        Ok(a)
    }

    /// Read an IPv6 address and record it.
    #[inline]
    fn ipv6(&mut self, f: FixedField) -> Result<Ipv6Addr, Malformed> {
        debug_assert_eq!(f.bytes.len(), 16, "{}", f.name);
        self.ipv6_at(f.bytes.start, f.def())
    }

    #[inline]
    fn ipv6_at(&mut self, at: usize, f: FieldDef) -> Result<Ipv6Addr, Malformed> {
        let b = self.slice(at..at + 16)?;
        let mut raw = [0u8; 16];
        raw.copy_from_slice(b);
        let a = Ipv6Addr::from(raw);
        self.field(at..at + 16, f, Value::Ipv6(a));
        Ok(a)
    }

    /// Record a field at its fixed place whose value the caller decoded (a bit field, a
    /// length).
    #[inline]
    fn fixed(&mut self, f: FixedField, value: Value) {
        let def = f.def();
        self.field(f.bytes, def, value);
    }

    /// Record a bit field that lives in the bytes of `f`.
    #[inline]
    fn bits(&mut self, f: FixedField, value: u64) {
        self.fixed(f, Value::U64(value));
    }

    /// Record a one-bit flag that lives in the bytes of `f`.
    #[inline]
    fn flag(&mut self, f: FixedField, set: bool) {
        self.fixed(f, Value::Bool(set));
    }

    /// Extend the layer's byte range to cover up to `rel` bytes from its start.
    #[inline]
    fn cover(&mut self, rel: usize) {
        self.end = self.end.max(self.start + rel).min(self.data.len());
    }

    #[inline]
    fn note(&mut self, note: impl Into<Cow<'static, str>>) {
        self.note_with(|| note);
    }

    /// [`Self::note`] for a note that has to be formatted: a summaries-only dissection keeps
    /// no notes, so it does not format them either.
    #[inline]
    fn note_with<N: Into<Cow<'static, str>>>(&mut self, note: impl FnOnce() -> N) {
        if self.keep {
            self.notes.push(note().into());
        }
    }

    fn reason(&mut self, reason: crate::model::Reason) {
        self.reason = Some(reason);
    }

    /// Say how many fields the [`MAX_FIELDS`] bound left out, if any.
    fn note_fields_left_out(&mut self) {
        let left_out = self.fields_left_out;
        if left_out > 0 {
            self.note_with(|| {
                format!(
                    "{left_out} more fields are not recorded: a layer keeps at most {MAX_FIELDS} \
                     (its bytes are still covered)"
                )
            });
        }
    }

    fn finish(mut self, summary: impl Into<Summary>) -> Layer {
        self.note_fields_left_out();
        Layer {
            osi: self.protocol.osi(),
            tcpip: self.protocol.tcpip(),
            protocol: self.protocol,
            summary: summary.into(),
            fields: self.fields,
            byte_range: self.start..self.end,
            reason: self.reason,
            notes: self.notes,
        }
    }

    /// The "malformed" layer that ends a broken dissection: it keeps the fields decoded before
    /// the problem and covers the rest of the frame, so a hex dump shows what was not decoded.
    fn malformed(mut self, e: &Malformed, frame_len: usize) -> Layer {
        self.note_fields_left_out();
        let mut notes = self.notes;
        if self.keep {
            notes.push(Cow::Owned(format!(
                "decoding stopped here; the {} bytes from offset {} on are not decoded",
                frame_len.saturating_sub(self.start),
                self.start
            )));
        }
        Layer {
            osi: self.protocol.osi(),
            tcpip: self.protocol.tcpip(),
            protocol: Protocol::Malformed,
            summary: Summary::from(format!("malformed: {e}")),
            fields: self.fields,
            byte_range: self.start.min(frame_len)..frame_len,
            reason: self.reason,
            notes,
        }
    }
}

/// Fields a layer usually has, so its vector is allocated once instead of grown.
fn field_capacity(protocol: Protocol) -> usize {
    match protocol {
        // 20 header fields and flags, options, and the flow tracker's 4 more.
        Protocol::Tcp => 48,
        Protocol::Ipv4 | Protocol::Ipv6 | Protocol::Dns | Protocol::Http | Protocol::Tls => 24,
        _ => 8,
    }
}

/// Text for a payload preview: printable ASCII kept, everything else shown as `.`, cut at `max`
/// characters with an ellipsis, as the last column of a hex dump does.
pub(crate) fn preview(bytes: &[u8], max: usize) -> String {
    let mut s: String = bytes
        .iter()
        .take(max)
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    if bytes.len() > max {
        s.push_str("...");
    }
    s
}

/// A run of units one after another in a TCP payload (TLS records, WebSocket frames), each a
/// layer of its own: decoded until the payload ends, a unit fails or `max` have been decoded,
/// and what is left is noted rather than decoded, so a segment of a thousand tiny frames costs
/// no more than `max` layers.
pub(crate) struct Units {
    protocol: Protocol,
    max: usize,
    /// What the units are called in the note: "records", "frames".
    what: &'static str,
}

impl Units {
    /// `each` decodes one unit from its layer builder, pushes its layer (or fails the
    /// dissection) and returns where the next unit starts, or `None` to stop.
    fn decode<'a, 'o>(
        &self,
        d: &mut Dissector<'a, 'o>,
        payload: Range<usize>,
        reason: &crate::model::Reason,
        mut each: impl FnMut(&mut Dissector<'a, 'o>, LayerBuilder<'a>) -> Option<usize>,
    ) {
        let mut at = payload.start;
        for _ in 0..self.max {
            if at >= payload.end {
                return;
            }
            let mut lb = d.layer(at, payload.end, self.protocol);
            lb.reason(reason.clone());
            match each(d, lb) {
                Some(next) => at = next,
                None => return,
            }
        }
        if at < payload.end {
            let (left, what) = (payload.end - at, self.what);
            d.note_last_with(|| {
                format!("{left} more bytes of {what} in this segment are not decoded")
            });
        }
    }
}

/// Shared note texts: fixed strings, so adding one to a layer does not allocate.
pub(crate) mod notes {
    // Offload (CHECKSUM_PARTIAL): the kernel stores the pseudo-header's sum in the field and
    // the card adds the rest; lo has no card, and its receiver does not check.
    pub const CHECKSUM_NOT_VERIFIED: &str = "checksum not verified: with checksum offload the kernel \
        writes only the pseudo-header's part and leaves the rest to the network card (on lo nothing \
        completes it), so captured values are often wrong without anything being broken";
    pub const OSI_APPLICATION: &str = "OSI would split this into session (5), presentation (6) and \
        application (7); on the Internet all three live inside the application, so TCP/IP calls it \
        one Application layer";
    pub const OSI_SESSION: &str = "a WebSocket connection outlives any single message and frames \
        the byte stream into messages: OSI would call that a session (5); TCP/IP has no such layer, \
        it is part of the application";
}

/// What an IP layer (v4 or v6) tells the layers after it.
pub(crate) struct IpPacket {
    src: std::net::IpAddr,
    dst: std::net::IpAddr,
    /// The transport protocol (for IPv6: after the last extension header).
    proto: u8,
    header_end: usize,
    /// End of the packet's bytes in this capture.
    payload_end: usize,
    /// End of the packet by its length field, possibly past the captured bytes.
    wire_end: usize,
    /// A fragment: only the first holds the transport header.
    fragment: bool,
    first_fragment: bool,
    /// The payload cannot be decoded at all (IPv6 "no next header", ESP).
    opaque: bool,
}

/// After an IP header: note the packet's endpoints (outermost IP only), then decode the
/// transport, or leave a fragment's payload as bytes.
fn after_ip(d: &mut Dissector, ip: IpPacket) {
    if !d.quoted && d.out.endpoints.is_none() {
        d.out.endpoints = Some(crate::model::Endpoints {
            src: ip.src,
            dst: ip.dst,
            ip_proto: ip.proto,
            src_port: None,
            dst_port: None,
        });
        d.network_end = Some(ip.payload_end);
    }
    d.wire_end = ip.wire_end;
    if ip.first_fragment {
        fragment_head(d, ip.proto, ip.header_end, ip.payload_end);
    } else if ip.fragment || ip.opaque {
        // A later fragment is a piece of payload with no header of its own (this inspector
        // does not reassemble): leave it undecoded, as bytes.
        if let Some(l) = d.layers_mut().last_mut() {
            l.byte_range.end = ip.payload_end;
        }
    } else {
        transport(d, ip.proto, ip.header_end, ip.payload_end);
    }
}

/// Decode the transport header at the start of a first fragment (offset 0, more to come), as
/// Wireshark does without reassembly; the payload stays undecoded, as it is incomplete.
fn fragment_head(d: &mut Dissector, proto: u8, at: usize, end: usize) {
    d.fragment_head = true;
    transport(d, proto, at, end);
    d.fragment_head = false;
    d.stretch_last(end);
}

/// Hand an IP payload (`at..end`) to the transport protocol numbered `proto`.
fn transport(d: &mut Dissector, proto: u8, at: usize, end: usize) {
    match proto {
        6 => tcp::dissect(d, at, end),
        17 => udp::dissect(d, at, end),
        1 => icmp::dissect_v4(d, at, end),
        58 => icmp::dissect_v6(d, at, end),
        other => {
            let len = end.min(d.frame.len()).saturating_sub(at);
            d.note_last_with(|| {
                format!(
                    "protocol {other} ({}) is not decoded: {len} bytes of payload follow",
                    ipv4::proto_name(other)
                )
            });
            d.stretch_last(end);
        }
    }
}

/// The Internet checksum (RFC 1071) over the concatenation of `parts`: the one's complement of
/// the one's complement sum of 16-bit words. Summing a header that holds its own correct
/// checksum gives 0.
pub fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for part in parts {
        for &b in *part {
            match odd.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The TCP, UDP and ICMPv6 checksum: the segment plus a pseudo-header of the addresses, the
/// protocol and the length, so that a segment delivered to the wrong address fails it.
fn transport_checksum(
    src: std::net::IpAddr,
    dst: std::net::IpAddr,
    proto: u8,
    segment: &[u8],
) -> u16 {
    use std::net::IpAddr;
    let len = segment.len() as u32;
    let sum = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut p = Vec::with_capacity(12);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&[0, proto]);
            p.extend_from_slice(&(len as u16).to_be_bytes());
            checksum(&[&p, segment])
        }
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V6(a) => a.octets(),
                IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            };
            let mut p = Vec::with_capacity(40);
            p.extend_from_slice(&v6(s));
            p.extend_from_slice(&v6(d));
            p.extend_from_slice(&len.to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, proto]);
            checksum(&[&p, segment])
        }
    };
    // UDP sends a computed 0 as 0xffff (0 means "no checksum").
    if sum == 0 && proto == 17 { 0xffff } else { sum }
}
