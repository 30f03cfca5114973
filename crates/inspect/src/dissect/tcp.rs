//! TCP (RFC 9293): ports, sequence numbers, flags, window, options, payload length.

use std::net::IpAddr;

use super::{Dissector, LayerBuilder, Malformed, app, notes};
use crate::model::summary::{self, Summary};
use crate::model::{Protocol, TcpSummary, Value};

/// Every field name this module can emit: the filter rejects names outside
/// [`crate::filter::field_names`], and `field_registry_covers_fixtures` keeps this list honest.
pub(crate) const FIELDS: &[&str] = &[
    "tcp.ack_raw",
    "tcp.checksum",
    "tcp.dstport",
    "tcp.flags",
    "tcp.flags.ack",
    "tcp.flags.ae",
    "tcp.flags.cwr",
    "tcp.flags.ece",
    "tcp.flags.fin",
    "tcp.flags.push",
    "tcp.flags.res",
    "tcp.flags.reset",
    "tcp.flags.syn",
    "tcp.flags.urg",
    "tcp.hdr_len",
    "tcp.len",
    "tcp.option_kind",
    "tcp.option_len",
    "tcp.options.mss_val",
    "tcp.options.sack_le",
    "tcp.options.sack_perm",
    "tcp.options.sack_re",
    "tcp.options.timestamp.tsecr",
    "tcp.options.timestamp.tsval",
    "tcp.options.wscale.multiplier",
    "tcp.options.wscale.shift",
    "tcp.seq",
    "tcp.seq_raw",
    "tcp.srcport",
    "tcp.urgent_pointer",
    "tcp.window_size_value",
];

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    pub const OFF_FLAGS: usize = 12;
    pub const WINDOW: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
    pub const MIN_LEN: usize = 20;
    /// What an ICMP error quotes of a TCP header: ports and sequence number.
    pub const QUOTED_LEN: usize = 8;
}

/// Flag bits in the order Wireshark lists them, with their filter names.
const FLAGS: [(u16, &str, &str, &str); 9] = [
    (0x100, "tcp.flags.ae", "Accurate ECN", "AE"),
    (0x080, "tcp.flags.cwr", "Congestion window reduced", "CWR"),
    (0x040, "tcp.flags.ece", "ECN-Echo", "ECE"),
    (0x020, "tcp.flags.urg", "Urgent", "URG"),
    (0x010, "tcp.flags.ack", "Acknowledgment", "ACK"),
    (0x008, "tcp.flags.push", "Push", "PSH"),
    (0x004, "tcp.flags.reset", "Reset", "RST"),
    (0x002, "tcp.flags.syn", "Syn", "SYN"),
    (0x001, "tcp.flags.fin", "Fin", "FIN"),
];

pub(super) struct Decoded {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: std::ops::Range<usize>,
    pub tcp: TcpSummary,
}

pub(super) fn dissect(d: &mut Dissector, at: usize, end: usize) {
    let mut lb = d.layer(at, end, Protocol::Tcp);
    if d.quoted {
        let r = decode_quoted(&mut lb);
        d.push_result(lb, r);
        return;
    }
    let r = decode(&mut lb, d.wire_end);
    let Some(t) = d.push_result(lb, r) else {
        return;
    };
    if let Some(ep) = d.out.endpoints.as_mut() {
        ep.src_port = Some(t.src_port);
        ep.dst_port = Some(t.dst_port);
    }
    d.out.tcp = Some(t.tcp);
    d.out.payload = Some(t.payload.clone());
    if !t.payload.is_empty() && !d.fragment_head {
        app::dissect(d, app::Transport::Tcp, t.src_port, t.dst_port, t.payload);
    }
}

/// Decode the header; when even the fixed 20 bytes are cut short, the fields that fit are kept
/// and the error names the whole header, as "needs 20 bytes" is what a student can check.
fn decode(lb: &mut LayerBuilder, wire_end: usize) -> Result<(Decoded, Summary), Malformed> {
    decode_fields(lb, wire_end).map_err(|e| match e {
        Malformed::Truncated { .. } if lb.available() < field::MIN_LEN => {
            lb.truncated(field::MIN_LEN)
        }
        e => e,
    })
}

fn decode_fields(lb: &mut LayerBuilder, wire_end: usize) -> Result<(Decoded, Summary), Malformed> {
    let src_port = lb.u16(field::SRC_PORT, "tcp.srcport", "Source port")?;
    let dst_port = lb.u16(field::DST_PORT, "tcp.dstport", "Destination port")?;
    let seq = lb.u32(field::SEQ, "tcp.seq_raw", "Sequence number (raw)")?;
    let ack = lb.u32(field::ACK, "tcp.ack_raw", "Acknowledgment number (raw)")?;
    let off_flags = lb.read_u16(field::OFF_FLAGS)?;
    let hdr_len = usize::from(off_flags >> 12) * 4;
    lb.bits(
        field::OFF_FLAGS..field::OFF_FLAGS + 1,
        "tcp.hdr_len",
        "Header length",
        hdr_len as u64,
    );
    if hdr_len < field::MIN_LEN {
        return Err(lb.invalid(
            field::OFF_FLAGS,
            format!("header length {hdr_len} is below the minimum of 20 bytes"),
        ));
    }
    let flags = off_flags & 0x0fff;
    let fr = field::OFF_FLAGS..field::OFF_FLAGS + 2;
    lb.bits(fr.clone(), "tcp.flags", "Flags", flags.into());
    lb.bits(
        field::OFF_FLAGS..field::OFF_FLAGS + 1,
        "tcp.flags.res",
        "Reserved",
        ((flags >> 9) & 7).into(),
    );
    for (bit, name, label, _) in FLAGS {
        lb.flag(fr.clone(), name, label, flags & bit != 0);
    }
    let window = lb.u16(field::WINDOW, "tcp.window_size_value", "Window")?;
    lb.u16(field::CHECKSUM, "tcp.checksum", "Checksum")?;
    lb.u16(field::URGENT, "tcp.urgent_pointer", "Urgent pointer")?;
    // Options first, so that a header cut short keeps the options that fit.
    let wscale = options(lb, hdr_len);
    lb.need(hdr_len)?;
    lb.cover(hdr_len);
    lb.note(notes::CHECKSUM_NOT_VERIFIED);

    let payload = (lb.start() + hdr_len)..lb.limit();
    let len = payload.len();
    // The segment's length on the wire, from the IP length: more than `len` when the capture
    // kept only a prefix of the frame.
    let wire_len = wire_end.saturating_sub(payload.start).max(len);
    lb.field(
        hdr_len..hdr_len + len,
        "tcp.len",
        "Payload length",
        Value::U64(wire_len as u64),
    );
    if wire_len > len {
        lb.note_with(|| {
            format!("only {len} of the segment's {wire_len} payload bytes were captured")
        });
    }
    // `field` grows the range; the payload belongs to the next layer unless none claims it.
    lb.end = lb.start() + hdr_len;
    let tcp = TcpSummary {
        seq,
        ack,
        flags,
        window,
        payload_len: wire_len as u32,
        wscale,
    };
    let summary = Summary::Tcp(summary::Tcp {
        src: src_port,
        dst: dst_port,
        header: tcp,
        relative: None,
    });
    Ok((
        Decoded {
            src_port,
            dst_port,
            payload,
            tcp,
        },
        summary,
    ))
}

/// Decode options from byte 20 to the header's end. A broken option ends the list with a note.
/// Returns the window scale shift, if the options announce one (the flow tracker needs it even
/// when no fields are recorded).
fn options(lb: &mut LayerBuilder, hdr_len: usize) -> Option<u8> {
    let mut at = field::MIN_LEN;
    let mut wscale = None;
    while at < hdr_len {
        let Ok(kind) = lb.read_u8(at) else {
            return wscale;
        };
        if kind == 0 {
            lb.field(
                at..at + 1,
                "tcp.option_kind",
                "End of option list",
                Value::U64(0),
            );
            return wscale;
        }
        if kind == 1 {
            lb.field(at..at + 1, "tcp.option_kind", "No-operation", Value::U64(1));
            at += 1;
            continue;
        }
        let len = lb.read_u8(at + 1).map(usize::from).unwrap_or(0);
        if len < 2 || at + len > hdr_len {
            lb.note_with(|| format!("TCP option {kind} at header offset {at} has a bad length {len}; options not decoded further"));
            return wscale;
        }
        lb.field(
            at..at + 1,
            "tcp.option_kind",
            option_label(kind),
            Value::U64(kind.into()),
        );
        lb.field(
            at + 1..at + 2,
            "tcp.option_len",
            "Option length",
            Value::U64(len as u64),
        );
        // Reads below stay inside `at..at + len`, checked just above against the header.
        if let Ok(Some(shift)) = one_option(lb, kind, at, len) {
            wscale = wscale.or(Some(shift));
        }
        at += len;
    }
    wscale
}

/// Decode one option's value; returns the shift of a window scale option.
fn one_option(
    lb: &mut LayerBuilder,
    kind: u8,
    at: usize,
    len: usize,
) -> Result<Option<u8>, Malformed> {
    match (kind, len) {
        (2, 4) => {
            lb.u16(at + 2, "tcp.options.mss_val", "MSS")?;
        }
        (3, 3) => {
            let shift = lb.u8(at + 2, "tcp.options.wscale.shift", "Window scale shift")?;
            lb.field(
                at + 2..at + 3,
                "tcp.options.wscale.multiplier",
                "Window multiplier",
                Value::U64(1u64 << shift.min(14)),
            );
            return Ok(Some(shift));
        }
        // Wireshark's field has no value of its own: it shows the option's two bytes.
        (4, 2) => lb.field_with(
            at..at + 2,
            "tcp.options.sack_perm",
            "SACK permitted",
            || Value::Bytes(vec![4, 2]),
        ),
        (5, _) => {
            let mut b = at + 2;
            while b + 8 <= at + len {
                lb.u32(b, "tcp.options.sack_le", "SACK left edge (raw)")?;
                lb.u32(b + 4, "tcp.options.sack_re", "SACK right edge (raw)")?;
                b += 8;
            }
        }
        (8, 10) => {
            lb.u32(at + 2, "tcp.options.timestamp.tsval", "Timestamp value")?;
            lb.u32(
                at + 6,
                "tcp.options.timestamp.tsecr",
                "Timestamp echo reply",
            )?;
        }
        _ => {}
    }
    Ok(None)
}

fn option_label(kind: u8) -> &'static str {
    match kind {
        2 => "Maximum segment size",
        3 => "Window scale",
        4 => "SACK permitted",
        5 => "SACK",
        8 => "Timestamps",
        28 => "User timeout",
        29 => "TCP-AO",
        30 => "Multipath TCP",
        34 => "TCP Fast Open cookie",
        _ => "Unknown option",
    }
}

/// The first 8 bytes of a TCP header, as quoted by an ICMP error.
fn decode_quoted(lb: &mut LayerBuilder) -> Result<((), String), Malformed> {
    lb.need(field::QUOTED_LEN)?;
    let src = lb.u16(field::SRC_PORT, "tcp.srcport", "Source port")?;
    let dst = lb.u16(field::DST_PORT, "tcp.dstport", "Destination port")?;
    // No flow to be relative to: Wireshark shows the raw number as `tcp.seq` here.
    let seq = lb.u32(field::SEQ, "tcp.seq", "Sequence number (raw)")?;
    lb.cover(lb.available());
    lb.note("quoted: an ICMP error carries only the first 8 bytes of the TCP header");
    Ok(((), format!("{src} → {dst} raw Seq={seq} (quoted)")))
}

// ---- building: the inverse of the parser above, for fixtures, tests and lessons ----

/// A TCP header to build. `options` must be a multiple of 4 bytes long.
#[derive(Debug, Clone, Default)]
pub struct TcpHeader {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    /// The 12 flag bits, as in [`TcpSummary`].
    pub flags: u16,
    pub window: u16,
    pub options: Vec<u8>,
}

impl TcpHeader {
    /// The segment with its checksum over the pseudo-header of `src` and `dst`.
    pub fn build(&self, src: IpAddr, dst: IpAddr, payload: &[u8]) -> Vec<u8> {
        let hl = field::MIN_LEN + self.options.len();
        let mut h = Vec::with_capacity(hl + payload.len());
        h.extend_from_slice(&self.src_port.to_be_bytes());
        h.extend_from_slice(&self.dst_port.to_be_bytes());
        h.extend_from_slice(&self.seq.to_be_bytes());
        h.extend_from_slice(&self.ack.to_be_bytes());
        h.extend_from_slice(&(((hl as u16 / 4) << 12) | (self.flags & 0x0fff)).to_be_bytes());
        h.extend_from_slice(&self.window.to_be_bytes());
        h.extend_from_slice(&[0, 0, 0, 0]); // checksum (filled in below), urgent pointer
        h.extend_from_slice(&self.options);
        h.extend_from_slice(payload);
        let sum = super::transport_checksum(src, dst, 6, &h);
        h[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&sum.to_be_bytes());
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::dissect;
    use crate::dissect::ipv4::Ipv4Header;
    use crate::model::LinkType;

    /// A SYN built here, next to the parser that reads it: its bytes and its fields side by
    /// side.
    #[test]
    fn a_syn_built_here_dissects_to_its_fields() {
        let lo = IpAddr::from([127, 0, 0, 1]);
        let syn = TcpHeader {
            src_port: 43512,
            dst_port: 7007,
            seq: 1000,
            flags: TcpSummary::SYN,
            window: 65495,
            options: vec![2, 4, 0xff, 0xd7], // MSS 65495
            ..TcpHeader::default()
        }
        .build(lo, lo, b"");
        assert_eq!(
            syn,
            [
                0xa9, 0xf8, 0x1b, 0x5f, // ports 43512 and 7007
                0, 0, 0x03, 0xe8, // sequence number 1000
                0, 0, 0, 0, // acknowledgement number
                0x60, 0x02, // header length 6 words (24 bytes), flags: SYN
                0xff, 0xd7, // window 65495
                syn[16], syn[17], // checksum
                0, 0, // urgent pointer
                2, 4, 0xff, 0xd7, // option: maximum segment size 65495
            ]
        );
        let packet = Ipv4Header::new([127, 0, 0, 1], [127, 0, 0, 1], 6).build(&syn);
        let d = dissect(LinkType::IPV4, &packet);
        let tcp = d.layer(Protocol::Tcp).expect("a TCP layer");
        assert_eq!(tcp.byte_range, 20..44);
        let f = |name| d.field(name).expect(name);
        assert_eq!(
            (f("tcp.srcport").value.clone(), f("tcp.srcport").offset),
            (Value::U64(43512), 20)
        );
        assert_eq!(f("tcp.dstport").value, Value::U64(7007));
        assert_eq!(f("tcp.seq_raw").value, Value::U64(1000));
        assert_eq!(f("tcp.hdr_len").value, Value::U64(24));
        assert_eq!(f("tcp.flags.syn").value, Value::Bool(true));
        assert_eq!(f("tcp.flags.ack").value, Value::Bool(false));
        assert_eq!(f("tcp.window_size_value").value, Value::U64(65495));
        assert_eq!(f("tcp.option_kind").value, Value::U64(2));
        assert_eq!(f("tcp.len").value, Value::U64(0));
        assert_eq!(d.tcp.map(|t| t.flags), Some(TcpSummary::SYN));
    }
}
