//! One line per packet, written as each packet arrives (so column widths are fixed, not fitted
//! to the whole capture as a table would be).
//!
//! ```text
//!   No.  Time        Source                 Destination            Proto   Len  Layers                                    Info
//!     1  0.000000    127.0.0.1:43512        127.0.0.1:7007         TCP      74  L2 Ethernet > L3 IPv4 > L4 TCP            [SYN] ...
//! ```

use std::io::{self, Write};

use super::{Clock, Style, TimeFormat, endpoints, info, layer_color, top_protocol};
use crate::model::Packet;

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

/// One packet's line.
pub fn row(
    w: &mut impl Write,
    p: &Packet,
    clock: &mut Clock,
    time: TimeFormat,
    style: Style,
) -> io::Result<()> {
    let (src, dst) = endpoints(p);
    let proto = top_protocol(p);
    let malformed = p.dissection.malformed.is_some();
    let osi = p
        .dissection
        .layers
        .iter()
        .rev()
        .find(|l| l.protocol != "malformed")
        .map(|l| l.osi);
    let proto_cell = format!("{proto:<9}");
    let proto_cell = match osi {
        Some(osi) => style.paint(layer_color(osi, malformed), &proto_cell),
        None => proto_cell,
    };
    writeln!(
        w,
        "{:>5}  {:<15}  {:<21}  {:<21}  {}  {:>5}  {}  {}",
        p.number,
        clock.column(p.raw.ts, time),
        src,
        dst,
        proto_cell,
        p.raw.orig_len,
        chain(p, style),
        info(p)
    )
}

/// The layer chain, each step in its layer's colour, padded to the column width.
fn chain(p: &Packet, style: Style) -> String {
    let plain = p.dissection.chain();
    let pad = CHAIN_WIDTH.saturating_sub(plain.chars().count());
    if !style.color {
        return format!("{plain}{}", " ".repeat(pad));
    }
    let parts: Vec<String> = p
        .dissection
        .layers
        .iter()
        .map(|l| {
            let text = format!("L{} {}", l.osi.number(), l.protocol);
            style.paint(layer_color(l.osi, l.protocol == "malformed"), &text)
        })
        .collect();
    format!("{}{}", parts.join(" > "), " ".repeat(pad))
}
