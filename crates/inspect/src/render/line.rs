//! One line per packet, written as each packet arrives (so column widths are fixed, not fitted
//! to the whole capture as a table would be).
//!
//! ```text
//!   No.  Time        Source                 Destination            Proto   Len  Layers                                    Info
//!     1  0.000000    127.0.0.1:43512        127.0.0.1:7007         TCP      74  L2 Ethernet > L3 IPv4 > L4 TCP            [SYN] ...
//! ```

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{
    Clock, Style, TimeFormat, endpoints, layer_color, push_endpoint, top_protocol, write_info,
};
use crate::model::{Packet, Protocol};

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

/// One packet's line: the columns of the header above, the time as [`Clock::column`] writes
/// it, the protocol and each step of the layer chain in its layer's colour.
///
/// The line is built with `push_str` into one `String`, numbers written by `itoa`, and padded by
/// hand, rather than with `write!`: this view runs on every packet of a capture, and
/// `core::fmt`'s machinery (a call per piece of the format string, a slow path for integers)
/// took more time than dissecting the packet (docs/performance.md).
pub fn row(
    w: &mut impl Write,
    p: &Packet,
    clock: &mut Clock,
    time: TimeFormat,
    style: Style,
) -> io::Result<()> {
    let mut line = String::with_capacity(200);
    let mut num = itoa::Buffer::new();
    pad_left(&mut line, num.format(p.number), 5);
    line.push_str("  ");
    let at = line.len();
    clock.write_column(&mut line, p.raw.ts, time);
    pad(&mut line, at, 15);
    line.push_str("  ");
    let at = line.len();
    match &p.dissection.endpoints {
        Some(e) => {
            push_endpoint(&mut line, e.src, e.src_port);
            pad(&mut line, at, 21);
            line.push_str("  ");
            let at = line.len();
            push_endpoint(&mut line, e.dst, e.dst_port);
            pad(&mut line, at, 21);
        }
        None => {
            let (src, dst) = endpoints(p);
            let _ = write!(line, "{src:<21}  {dst:<21}");
        }
    }
    line.push_str("  ");
    let top = p.dissection.top_layer();
    let code = match top {
        Some(top) if style.color => layer_color(top.osi, p.dissection.malformed.is_some()),
        _ => "",
    };
    paint(&mut line, code, |line| {
        let at = line.len();
        line.push_str(top_protocol(p));
        pad(line, at, 9);
    });
    line.push_str("  ");
    pad_left(&mut line, num.format(p.raw.orig_len), 5);
    line.push_str("  ");
    chain(&mut line, p, style);
    line.push_str("  ");
    write_info(&mut line, p);
    line.push('\n');
    w.write_all(line.as_bytes())
}

/// `text` right-aligned in `width` characters, as `{:>width}` does (ASCII text only).
fn pad_left(line: &mut String, text: &str, width: usize) {
    for _ in text.len()..width {
        line.push(' ');
    }
    line.push_str(text);
}

/// Pad what was written since `at` with spaces to `width` characters, as `{:<width}` does.
/// Only for ASCII text (times, addresses, protocol names), whose characters are its bytes.
fn pad(line: &mut String, at: usize, width: usize) {
    for _ in line.len() - at..width {
        line.push(' ');
    }
}

/// `text` wrapped in an ANSI colour code unless `code` is empty, as [`Style::paint`] does.
fn paint(line: &mut String, code: &str, text: impl FnOnce(&mut String)) {
    if code.is_empty() {
        return text(line);
    }
    let _ = write!(line, "\x1b[{code}m");
    text(line);
    line.push_str("\x1b[0m");
}

/// The layer chain, each step in its layer's colour, padded to the column width (by the
/// characters a reader sees, not the colour codes).
fn chain(line: &mut String, p: &Packet, style: Style) {
    let mut shown = 0;
    for (i, l) in p.dissection.layers.iter().enumerate() {
        if i > 0 {
            line.push_str(" > ");
            shown += 3;
        }
        let code = if style.color {
            layer_color(l.osi, l.protocol == Protocol::Malformed)
        } else {
            ""
        };
        paint(line, code, |line| {
            let at = line.len();
            line.push('L');
            line.push_str(itoa::Buffer::new().format(l.osi.number()));
            line.push(' ');
            line.push_str(l.protocol.name());
            // Protocol names are ASCII: a byte is a character.
            shown += line.len() - at;
        });
    }
    for _ in shown..CHAIN_WIDTH {
        line.push(' ');
    }
}
