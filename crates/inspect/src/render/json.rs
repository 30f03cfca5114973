//! `--json`: one JSON object per packet, one per line. The schema is documented in
//! docs/src/inspect-json.md; it is our own (not the model's serde form) so it can stay stable
//! while the model grows.
//!
//! Written by hand rather than through serde's derive: a packet has dozens of fields and this
//! view runs on every packet of a capture, so keys are written as constant bytes, strings are
//! escaped only when they need it, and nothing is allocated per field. The output is exactly
//! what serde_json would print for the same structure (the snapshot test pins it).

use std::cell::RefCell;
use std::io::{self, Write};

use super::bytes::{self, num};
use super::{Clock, endpoints, info_pieces, top_protocol};
use crate::model::{Field, Layer, Packet, Reason, Value};

thread_local! {
    /// One object is built here, then written with one `write_all`: the buffer is reused from
    /// packet to packet instead of allocated (and grown past 4 KiB) for each.
    static BUF: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(16 * 1024));
}

/// Write one packet as one line of JSON.
pub fn write(w: &mut impl Write, p: &Packet, clock: &mut Clock) -> io::Result<()> {
    BUF.with(|buf| match buf.try_borrow_mut() {
        Ok(mut o) => {
            o.clear();
            object(&mut o, p, clock)?;
            w.write_all(&o)
        }
        // Only if a writer itself wrote JSON from inside `write_all`: use a fresh buffer.
        Err(_) => {
            let mut o = Vec::with_capacity(4096);
            object(&mut o, p, clock)?;
            w.write_all(&o)
        }
    })
}

fn object(o: &mut Vec<u8>, p: &Packet, clock: &mut Clock) -> io::Result<()> {
    clock.saw(p.raw.ts);
    o.extend_from_slice(b"{\"number\":");
    num(o, p.number);
    o.extend_from_slice(b",\"time\":\"");
    bytes::rfc3339_into(o, p.raw.ts);
    o.extend_from_slice(b"\",\"ts\":{\"secs\":");
    bytes::int(o, p.raw.ts.secs);
    o.extend_from_slice(b",\"nanos\":");
    num(o, u64::from(p.raw.ts.nanos));
    o.extend_from_slice(b"},\"time_relative\":");
    serde_json::to_writer(&mut *o, &clock.relative(p.raw.ts))?;
    o.extend_from_slice(b",\"link_type\":");
    num(o, u64::from(p.raw.link_type.0));
    o.extend_from_slice(b",\"orig_len\":");
    num(o, u64::from(p.raw.orig_len));
    o.extend_from_slice(b",\"cap_len\":");
    num(o, p.raw.bytes.len() as u64);
    o.extend_from_slice(b",\"src\":\"");
    if bytes::endpoint(o, p, true) {
        o.extend_from_slice(b"\",\"dst\":\"");
        bytes::endpoint(o, p, false);
        o.push(b'"');
    } else {
        // No pulled-out endpoints (ARP, bare Ethernet): the general path, which allocates.
        o.pop();
        let (src, dst) = endpoints(p);
        string(o, &src);
        o.extend_from_slice(b",\"dst\":");
        string(o, &dst);
    }
    o.extend_from_slice(b",\"protocol\":");
    string(o, top_protocol(p));
    o.extend_from_slice(b",\"chain\":\"");
    for (i, l) in p.dissection.layers.iter().enumerate() {
        if i > 0 {
            o.extend_from_slice(b" > ");
        }
        o.push(b'L');
        num(o, u64::from(l.osi.number()));
        o.push(b' ');
        escaped(o, l.protocol);
    }
    o.extend_from_slice(b"\",\"info\":\"");
    // Escaping piece by piece is escaping the whole: escapes are per character.
    info_pieces(p, |piece| escaped(o, piece));
    o.extend_from_slice(b"\",\"layers\":[");
    for (i, l) in p.dissection.layers.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        layer(o, l);
    }
    o.extend_from_slice(b"],\"flow\":");
    match &p.flow {
        Some(flow) => serde_json::to_writer(&mut *o, flow)?,
        None => o.extend_from_slice(b"null"),
    }
    o.extend_from_slice(b",\"malformed\":");
    match &p.dissection.malformed {
        Some(m) => string(o, m),
        None => o.extend_from_slice(b"null"),
    }
    o.extend_from_slice(b"}\n");
    Ok(())
}

fn layer(o: &mut Vec<u8>, l: &Layer) {
    o.extend_from_slice(b"{\"protocol\":");
    string(o, l.protocol);
    o.extend_from_slice(b",\"osi\":");
    num(o, u64::from(l.osi.number()));
    o.extend_from_slice(b",\"osi_name\":");
    string(o, l.osi.name());
    o.extend_from_slice(b",\"tcpip\":");
    string(o, l.tcpip.name());
    o.extend_from_slice(b",\"summary\":");
    string(o, &l.summary);
    o.extend_from_slice(b",\"start\":");
    num(o, l.byte_range.start as u64);
    o.extend_from_slice(b",\"end\":");
    num(o, l.byte_range.end as u64);
    match &l.reason {
        None => {}
        Some(Reason::Port(p)) => {
            o.extend_from_slice(b",\"reason\":{\"by\":\"port\",\"port\":");
            num(o, u64::from(*p));
            o.push(b'}');
        }
        Some(Reason::Content) => o.extend_from_slice(b",\"reason\":{\"by\":\"content\"}"),
        Some(Reason::Upgrade) => o.extend_from_slice(b",\"reason\":{\"by\":\"upgrade\"}"),
    }
    o.extend_from_slice(b",\"notes\":[");
    for (i, n) in l.notes.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        string(o, n);
    }
    o.extend_from_slice(b"],\"fields\":[");
    for (i, f) in l.fields.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        field(o, f);
    }
    o.extend_from_slice(b"]}");
}

/// Numbers and booleans stay JSON numbers and booleans; bytes become "aa:bb:cc" like Wireshark
/// prints them; everything else (text, addresses) is its display text.
fn field(o: &mut Vec<u8>, f: &Field) {
    o.extend_from_slice(b"{\"name\":");
    string(o, f.name);
    o.extend_from_slice(b",\"label\":");
    string(o, f.label);
    o.extend_from_slice(b",\"value\":");
    match &f.value {
        Value::Bool(true) => o.extend_from_slice(b"true"),
        Value::Bool(false) => o.extend_from_slice(b"false"),
        Value::U64(n) => num(o, *n),
        Value::Text(t) => string(o, t),
        // Addresses and bytes: ASCII display text, never escaped.
        other => {
            o.push(b'"');
            bytes::value(o, other);
            o.push(b'"');
        }
    }
    o.extend_from_slice(b",\"offset\":");
    num(o, f.offset as u64);
    o.extend_from_slice(b",\"len\":");
    num(o, f.len as u64);
    o.push(b'}');
}

/// A JSON string with the escapes serde_json uses: `\"`, `\\`, `\b \f \n \r \t`, other control
/// characters as `\u00XX`; everything else (UTF-8 included) as is.
fn string(o: &mut Vec<u8>, s: &str) {
    o.push(b'"');
    escaped(o, s);
    o.push(b'"');
}

/// The inside of a JSON string: `s` with serde_json's escapes, without the quotes.
fn escaped(o: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Almost every string needs no escape; this branch-free scan vectorizes.
    if !bytes.iter().fold(false, |bad, &b| {
        bad | (b < 0x20) | (b == b'"') | (b == b'\\')
    }) {
        o.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        o.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            o.extend_from_slice(b"\\u00");
            o.push(HEX[usize::from(b >> 4)]);
            o.push(HEX[usize::from(b & 0xf)]);
        } else {
            o.extend_from_slice(escape);
        }
        start = i + 1;
    }
    o.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_like_serde_json() {
        for s in [
            "plain",
            "quote \" and \\ back",
            "\n\r\t\x08\x0c\x01\x1f",
            "é → ✓",
            "",
        ] {
            let mut o = Vec::new();
            string(&mut o, s);
            assert_eq!(
                String::from_utf8(o).unwrap(),
                serde_json::to_string(s).unwrap(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn numbers_print_like_serde_json() {
        for n in [0u64, 7, 10, 65535, u64::MAX] {
            let mut o = Vec::new();
            num(&mut o, n);
            assert_eq!(String::from_utf8(o).unwrap(), n.to_string());
        }
    }
}
