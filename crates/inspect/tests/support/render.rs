//! A plain, complete text form of a dissection for snapshot tests: every layer, field, offset,
//! reason and note, so that any change to what the dissector says shows up in review.

#![allow(dead_code)]

use std::fmt::Write;

use netlab_inspect::model::Dissection;

pub fn dissection(out: &mut String, number: usize, frame: &[u8], d: &Dissection) {
    let _ = writeln!(out, "\n#{number} ({} bytes) {}", frame.len(), d.chain());
    if let Some(m) = &d.malformed {
        let _ = writeln!(out, "  MALFORMED: {m}");
    }
    for l in &d.layers {
        let _ = writeln!(
            out,
            "  L{} {} / TCP/IP {} [{}..{}] {}{}",
            l.osi.number(),
            l.protocol,
            l.tcpip.name(),
            l.byte_range.start,
            l.byte_range.end,
            l.summary,
            l.reason
                .as_ref()
                .map(|r| format!("  (reason: {r:?})"))
                .unwrap_or_default()
        );
        for f in &l.fields {
            let _ = writeln!(out, "    {} = {} @{}+{}", f.name, f.value, f.offset, f.len);
        }
        for n in &l.notes {
            let _ = writeln!(out, "    note: {n}");
        }
    }
}
