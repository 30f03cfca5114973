//! One line per packet, written as each packet arrives (so column widths are fixed, not fitted
//! to the whole capture as a table would be).
//!
//! ```text
//!   No.  Time        Source                 Destination            Proto   Len  Layers                                    Info
//!     1  0.000000    127.0.0.1:43512        127.0.0.1:7007         TCP      74  L2 Ethernet > L3 IPv4 > L4 TCP            [SYN] ...
//! ```

use std::cell::RefCell;
use std::io::{self, Write};

use super::recent::Recent;
use super::{
    Clock, LayerKey, Style, TimeFormat, bytes, endpoints, layer_color, layer_key, same_layers,
    top_protocol,
};
use crate::model::{Endpoints, Packet, Protocol};

/// Width of the layer-chain column: fits "L2 Ethernet > L3 IPv4 > L4 TCP > L7 HTTP".
const CHAIN_WIDTH: usize = 41;

/// The column header line.
pub fn header(w: &mut impl Write, time: TimeFormat, style: Style) -> io::Result<()> {
    let time_label = match time {
        TimeFormat::Abs => "Time (UTC)",
        TimeFormat::Rel => "Time",
        TimeFormat::Delta => "Delta",
    };
    let line = format!(
        "{:>5}  {:<15}  {:<21}  {:<21}  {:<9}  {:>5}  {:<CHAIN_WIDTH$}  Info",
        "No.", time_label, "Source", "Destination", "Protocol", "Len", "Layers"
    );
    writeln!(w, "{}", style.bold(&line))
}

thread_local! {
    /// The line is built here and written with one `write_all`; reused from packet to packet.
    static BUF: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
    /// The last Layers column written, padded, by the colour and the layers it was made for:
    /// consecutive packets mostly have the same one.
    static CHAIN: RefCell<Recent<(bool, Vec<LayerKey>), 1>> = RefCell::new(Recent::default());
    /// The address columns of recent conversations.
    static ENDPOINTS: RefCell<EndpointCache> = const { RefCell::new(EndpointCache::new()) };
}

/// The Source and Destination columns of recent packets, by their endpoints: a capture holds
/// few conversations and every packet of one has the same two columns (or the same swapped),
/// so copying them back is cheaper than writing two addresses and ports (7 % of the view's
/// instructions). Direct-mapped by the ports, which differ between conversations on one host.
struct EndpointCache {
    slots: Vec<Option<(Endpoints, Vec<u8>)>>,
}

const ENDPOINT_SLOTS: usize = 16;

impl EndpointCache {
    const fn new() -> Self {
        EndpointCache { slots: Vec::new() }
    }

    fn write(&mut self, o: &mut Vec<u8>, p: &Packet, e: Endpoints) {
        let ports = u32::from(e.src_port.unwrap_or(0)) ^ u32::from(e.dst_port.unwrap_or(0)) << 3;
        let index = (ports.wrapping_mul(0x9e37_79b9) >> 28) as usize % ENDPOINT_SLOTS;
        if let Some(Some((key, text))) = self.slots.get(index)
            && *key == e
        {
            o.extend_from_slice(text);
            return;
        }
        let start = o.len();
        endpoint_columns(o, p);
        if self.slots.is_empty() {
            self.slots.resize_with(ENDPOINT_SLOTS, || None);
        }
        let written = &o[start..];
        match &mut self.slots[index] {
            Some((key, text)) => {
                *key = e;
                text.clear();
                text.extend_from_slice(written);
            }
            empty => *empty = Some((e, written.to_vec())),
        }
    }
}

/// Both address columns for a packet with endpoints, padded, with the gap between them.
fn endpoint_columns(o: &mut Vec<u8>, p: &Packet) {
    // Addresses and ports are ASCII: their width is their length in bytes.
    let start = o.len();
    bytes::endpoint(o, p, true);
    pad_ascii(o, start, 21);
    o.extend_from_slice(b"  ");
    let start = o.len();
    bytes::endpoint(o, p, false);
    pad_ascii(o, start, 21);
}

/// One packet's line.
pub fn row(
    w: &mut impl Write,
    p: &Packet,
    clock: &mut Clock,
    time: TimeFormat,
    style: Style,
) -> io::Result<()> {
    BUF.with(|buf| match buf.try_borrow_mut() {
        Ok(mut o) => {
            o.clear();
            line(&mut o, p, clock, time, style);
            w.write_all(&o)
        }
        // Only if a writer itself wrote a line from inside `write_all`: use a fresh buffer.
        Err(_) => {
            let mut o = Vec::with_capacity(512);
            line(&mut o, p, clock, time, style);
            w.write_all(&o)
        }
    })
}

/// [`row`], appended to a buffer the caller writes out in large pieces.
pub fn row_into(o: &mut Vec<u8>, p: &Packet, clock: &mut Clock, time: TimeFormat, style: Style) {
    line(o, p, clock, time, style);
}

/// The columns of `"{:>5}  {:<15}  {:<21}  {:<21}  {:<9}  {:>5}  {chain}  {info}"`, written in
/// place: the formatting machinery and a `String` per column cost more than the dissection.
fn line(o: &mut Vec<u8>, p: &Packet, clock: &mut Clock, time: TimeFormat, style: Style) {
    o.reserve(256);
    right(o, p.number, 5);
    o.extend_from_slice(b"  ");
    let start = o.len();
    clock.column_into(o, p.raw.ts, time);
    pad_ascii(o, start, 15);
    o.extend_from_slice(b"  ");
    let start = o.len();
    if let Some(e) = p.dissection.endpoints {
        ENDPOINTS.with(|cache| match cache.try_borrow_mut() {
            Ok(mut cache) => cache.write(o, p, e),
            Err(_) => endpoint_columns(o, p),
        });
    } else {
        // No pulled-out endpoints (ARP, bare Ethernet): the general path, which allocates.
        let (src, dst) = endpoints(p);
        o.extend_from_slice(src.as_bytes());
        pad_right(o, start, 21);
        o.extend_from_slice(b"  ");
        let start = o.len();
        o.extend_from_slice(dst.as_bytes());
        pad_right(o, start, 21);
    }
    o.extend_from_slice(b"  ");
    let malformed = p.dissection.malformed.is_some();
    let osi = p.dissection.top_layer().map(|l| l.osi);
    let code = match osi {
        Some(osi) if style.color => layer_color(osi, malformed),
        _ => "",
    };
    paint(o, code, |o| {
        let start = o.len();
        o.extend_from_slice(top_protocol(p).as_bytes());
        pad_ascii(o, start, 9);
    });
    o.extend_from_slice(b"  ");
    right(o, u64::from(p.raw.orig_len), 5);
    o.extend_from_slice(b"  ");
    CHAIN.with(|cache| match cache.try_borrow_mut() {
        Ok(mut cache) => {
            let layers = &p.dissection.layers;
            cache.write(
                o,
                |(color, keys)| *color == style.color && same_layers(keys, layers),
                || (style.color, layers.iter().map(layer_key).collect()),
                |o| chain(o, p, style),
            );
        }
        Err(_) => chain(o, p, style),
    });
    o.extend_from_slice(b"  ");
    bytes::info(o, p);
    o.push(b'\n');
}

/// `{:>width}` for a number: the padding first, as the digits can be counted.
fn right(o: &mut Vec<u8>, n: u64, width: usize) {
    spaces(o, width.saturating_sub(bytes::digits(n)));
    bytes::num(o, n);
}

/// `n` spaces of padding. Up to a column's width they are one fixed-size copy cut back to
/// `n` (a few stores), where a run of unknown length is a call to memset.
fn spaces(o: &mut Vec<u8>, n: usize) {
    const ROOM: usize = 48;
    if n <= ROOM {
        let at = o.len();
        o.extend_from_slice(&[b' '; ROOM]);
        o.truncate(at + n);
    } else {
        o.resize(o.len() + n, b' ');
    }
}

/// `{:<width}` for ASCII text written since `start` (one byte per character).
fn pad_ascii(o: &mut Vec<u8>, start: usize, width: usize) {
    let len = o.len() - start;
    spaces(o, width.saturating_sub(len));
}

/// The layer chain, each step in its layer's colour, padded to the column width.
fn chain(o: &mut Vec<u8>, p: &Packet, style: Style) {
    let mut chars = 0;
    for (i, l) in p.dissection.layers.iter().enumerate() {
        if i > 0 {
            o.extend_from_slice(b" > ");
            chars += 3;
        }
        let code = if style.color {
            layer_color(l.osi, l.protocol == Protocol::Malformed)
        } else {
            ""
        };
        paint(o, code, |o| {
            let start = o.len();
            o.push(b'L');
            bytes::num(o, u64::from(l.osi.number()));
            o.push(b' ');
            o.extend_from_slice(l.protocol.name().as_bytes());
            chars += char_count(&o[start..]);
        });
    }
    spaces(o, CHAIN_WIDTH.saturating_sub(chars));
}

/// What [`Style::paint`] does, in place: `text` wrapped in an SGR code unless `code` is empty.
fn paint(o: &mut Vec<u8>, code: &str, text: impl FnOnce(&mut Vec<u8>)) {
    if code.is_empty() {
        return text(o);
    }
    o.extend_from_slice(b"\x1b[");
    o.extend_from_slice(code.as_bytes());
    o.push(b'm');
    text(o);
    o.extend_from_slice(b"\x1b[0m");
}

/// Characters (not bytes) of UTF-8 text: `{:<N}` pads by characters.
fn char_count(text: &[u8]) -> usize {
    text.iter().filter(|&&b| (b as i8) >= -0x40).count()
}

/// `{:<width}` for the text written since `start`.
fn pad_right(o: &mut Vec<u8>, start: usize, width: usize) {
    let chars = char_count(&o[start..]);
    spaces(o, width.saturating_sub(chars));
}
