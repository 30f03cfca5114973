//! `--detail`: the layer tree. Each layer says where it sits in both models, which bytes it
//! covers, why it was chosen (for application protocols), its fields with offsets, and notes.
//!
//! ```text
//! Frame 1: 74 bytes on the wire, 74 captured, 2026-11-26T05:06:00.000000000Z
//! ├─ L2 Data link · TCP/IP Link · Ethernet · bytes 0-13 (14)
//! │    Src: 00:00:00:00:00:00, Dst: 00:00:00:00:00:00, Type: IPv4
//! │    [0:6]   eth.dst      Destination    00:00:00:00:00:00
//! ```

use std::io::{self, Write};

use super::{Style, layer_color, rfc3339};
use crate::model::{Layer, Packet, Protocol, Reason};

/// Write the tree for one packet, followed by a blank line.
pub fn write(w: &mut impl Write, p: &Packet, style: Style) -> io::Result<()> {
    let header = format!(
        "Frame {}: {} bytes on the wire, {} captured, {}",
        p.number,
        p.raw.orig_len,
        p.raw.bytes.len(),
        rfc3339(p.raw.ts)
    );
    writeln!(w, "{}", style.bold(&header))?;
    let n = p.dissection.layers.len();
    for (i, layer) in p.dissection.layers.iter().enumerate() {
        let last = i + 1 == n && p.flow.is_none();
        write_layer(w, layer, last, style)?;
    }
    if let Some(flow) = &p.flow {
        let mut line = format!("Flow: stream {}", flow.stream);
        if let Some(s) = flow.rel_seq {
            line.push_str(&format!(", relative seq {s}"));
        }
        if let Some(a) = flow.rel_ack {
            line.push_str(&format!(", relative ack {a}"));
        }
        writeln!(w, "└─ {line}")?;
        for note in &flow.notes {
            writeln!(w, "     {} {note}", style.dim("hint:"))?;
        }
    }
    writeln!(w)
}

fn write_layer(w: &mut impl Write, l: &Layer, last: bool, style: Style) -> io::Result<()> {
    let (branch, stem) = if last {
        ("└─", "  ")
    } else {
        ("├─", "│ ")
    };
    let range = &l.byte_range;
    let bytes = if range.is_empty() {
        "no bytes".to_string()
    } else {
        format!("bytes {}-{} ({})", range.start, range.end - 1, range.len())
    };
    let title = format!(
        "L{} {} · TCP/IP {} · {} · {bytes}",
        l.osi.number(),
        l.osi.name(),
        l.tcpip.name(),
        l.protocol
    );
    let color = layer_color(l.osi, l.protocol == Protocol::Malformed);
    writeln!(w, "{branch} {}", style.paint(color, &title))?;
    if !l.summary.is_empty() {
        writeln!(w, "{stem}   {}", l.summary)?;
    }
    if let Some(reason) = &l.reason {
        let why = match reason {
            Reason::Port(p) => format!("chosen by port {p}"),
            Reason::Content => "chosen by content: the bytes look like this protocol".to_string(),
            Reason::Upgrade => {
                "chosen because an earlier packet on this flow upgraded it".to_string()
            }
        };
        writeln!(w, "{stem}   {} {why}", style.dim("why:"))?;
    }
    let name_width = l.fields.iter().map(|f| f.name.len()).max().unwrap_or(0);
    let label_width = l.fields.iter().map(|f| f.label.len()).max().unwrap_or(0);
    for f in &l.fields {
        let at = format!("[{}:{}]", f.offset, f.len);
        writeln!(
            w,
            "{stem}   {}  {:<name_width$}  {:<label_width$}  {}",
            style.dim(&format!("{at:<9}")),
            f.name,
            f.label,
            f.value
        )?;
    }
    for note in &l.notes {
        writeln!(w, "{stem}   {} {note}", style.dim("note:"))?;
    }
    Ok(())
}
