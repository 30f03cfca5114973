//! TCP (RFC 9293): ports, sequence numbers, flags, window, options, payload length.

use std::net::IpAddr;

use super::{Dissector, LayerBuilder, Malformed, app, notes};
use crate::model::summary::{self, Summary};
use crate::model::{Protocol, TcpSummary, Value};

/// The header's fields, each declared once: the parser reads them, the builder writes them,
/// and the filter's registry takes their names from `field::NAMES`. The flags share the
/// two bytes of data offset and flags.
pub(crate) mod field {
    crate::model::fields! {
        SRC_PORT = "tcp.srcport", "Source port", 0..2;
        DST_PORT = "tcp.dstport", "Destination port", 2..4;
        SEQ_RAW = "tcp.seq_raw", "Sequence number (raw)", 4..8;
        /// An ICMP error quotes the sequence number with no flow to be relative to, so
        /// Wireshark shows the raw number as `tcp.seq` there.
        SEQ_QUOTED = "tcp.seq", "Sequence number (raw)", 4..8;
        ACK_RAW = "tcp.ack_raw", "Acknowledgment number (raw)", 8..12;
        HDR_LEN = "tcp.hdr_len", "Header length", 12..13;
        FLAGS = "tcp.flags", "Flags", 12..14;
        FLAGS_RES = "tcp.flags.res", "Reserved", 12..13;
        FLAG_AE = "tcp.flags.ae", "Accurate ECN", 12..14;
        FLAG_CWR = "tcp.flags.cwr", "Congestion window reduced", 12..14;
        FLAG_ECE = "tcp.flags.ece", "ECN-Echo", 12..14;
        FLAG_URG = "tcp.flags.urg", "Urgent", 12..14;
        FLAG_ACK = "tcp.flags.ack", "Acknowledgment", 12..14;
        FLAG_PUSH = "tcp.flags.push", "Push", 12..14;
        FLAG_RESET = "tcp.flags.reset", "Reset", 12..14;
        FLAG_SYN = "tcp.flags.syn", "Syn", 12..14;
        FLAG_FIN = "tcp.flags.fin", "Fin", 12..14;
        WINDOW = "tcp.window_size_value", "Window", 14..16;
        CHECKSUM = "tcp.checksum", "Checksum", 16..18;
        URGENT = "tcp.urgent_pointer", "Urgent pointer", 18..20;
        /// The label names the kind: see `option_label`.
        OPTION_KIND = "tcp.option_kind", "Option kind";
        OPTION_LEN = "tcp.option_len", "Option length";
        MSS = "tcp.options.mss_val", "MSS";
        WSCALE_SHIFT = "tcp.options.wscale.shift", "Window scale shift";
        WSCALE_MULTIPLIER = "tcp.options.wscale.multiplier", "Window multiplier";
        SACK_PERM = "tcp.options.sack_perm", "SACK permitted";
        SACK_LE = "tcp.options.sack_le", "SACK left edge (raw)";
        SACK_RE = "tcp.options.sack_re", "SACK right edge (raw)";
        TSVAL = "tcp.options.timestamp.tsval", "Timestamp value";
        TSECR = "tcp.options.timestamp.tsecr", "Timestamp echo reply";
        PAYLOAD_LEN = "tcp.len", "Payload length";
    }
    /// The data offset (header length in 32-bit words, top 4 bits) and the 12 flag bits.
    pub const OFF_FLAGS: std::ops::Range<usize> = 12..14;
    pub const MIN_LEN: usize = 20;
    /// What an ICMP error quotes of a TCP header: ports and sequence number.
    pub const QUOTED_LEN: usize = 8;
}

/// Flag bits in the order Wireshark lists them, with their fields.
const FLAGS: [(u16, crate::model::FixedField); 9] = [
    (0x100, field::FLAG_AE),
    (0x080, field::FLAG_CWR),
    (0x040, field::FLAG_ECE),
    (0x020, field::FLAG_URG),
    (0x010, field::FLAG_ACK),
    (0x008, field::FLAG_PUSH),
    (0x004, field::FLAG_RESET),
    (0x002, field::FLAG_SYN),
    (0x001, field::FLAG_FIN),
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
    let src_port = lb.u16(field::SRC_PORT)?;
    let dst_port = lb.u16(field::DST_PORT)?;
    let seq = lb.u32(field::SEQ_RAW)?;
    let ack = lb.u32(field::ACK_RAW)?;
    let off_flags = lb.read_u16(field::OFF_FLAGS.start)?;
    let hdr_len = usize::from(off_flags >> 12) * 4;
    lb.bits(field::HDR_LEN, hdr_len as u64);
    if hdr_len < field::MIN_LEN {
        return Err(lb.invalid(
            field::OFF_FLAGS.start,
            format!("header length {hdr_len} is below the minimum of 20 bytes"),
        ));
    }
    let flags = off_flags & 0x0fff;
    lb.bits(field::FLAGS, flags.into());
    lb.bits(field::FLAGS_RES, ((flags >> 9) & 7).into());
    for (bit, f) in FLAGS {
        lb.flag(f, flags & bit != 0);
    }
    let window = lb.u16(field::WINDOW)?;
    lb.u16(field::CHECKSUM)?;
    lb.u16(field::URGENT)?;
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
        field::PAYLOAD_LEN,
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
            let f = field::OPTION_KIND.labelled("End of option list");
            lb.field(at..at + 1, f, Value::U64(0));
            return wscale;
        }
        if kind == 1 {
            let f = field::OPTION_KIND.labelled("No-operation");
            lb.field(at..at + 1, f, Value::U64(1));
            at += 1;
            continue;
        }
        let len = lb.read_u8(at + 1).map(usize::from).unwrap_or(0);
        if len < 2 || at + len > hdr_len {
            lb.note_with(|| format!("TCP option {kind} at header offset {at} has a bad length {len}; options not decoded further"));
            return wscale;
        }
        let f = field::OPTION_KIND.labelled(option_label(kind));
        lb.field(at..at + 1, f, Value::U64(kind.into()));
        lb.field(at + 1..at + 2, field::OPTION_LEN, Value::U64(len as u64));
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
            lb.u16_at(at + 2, field::MSS)?;
        }
        (3, 3) => {
            let shift = lb.u8_at(at + 2, field::WSCALE_SHIFT)?;
            let multiplier = 1u64 << shift.min(14);
            lb.field(
                at + 2..at + 3,
                field::WSCALE_MULTIPLIER,
                Value::U64(multiplier),
            );
            return Ok(Some(shift));
        }
        // Wireshark's field has no value of its own: it shows the option's two bytes.
        (4, 2) => lb.field_with(at..at + 2, field::SACK_PERM, || Value::Bytes(vec![4, 2])),
        (5, _) => {
            let mut b = at + 2;
            while b + 8 <= at + len {
                lb.u32_at(b, field::SACK_LE)?;
                lb.u32_at(b + 4, field::SACK_RE)?;
                b += 8;
            }
        }
        (8, 10) => {
            lb.u32_at(at + 2, field::TSVAL)?;
            lb.u32_at(at + 6, field::TSECR)?;
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
    let src = lb.u16(field::SRC_PORT)?;
    let dst = lb.u16(field::DST_PORT)?;
    let seq = lb.u32(field::SEQ_QUOTED)?;
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
        let mut h = vec![0; hl + payload.len()];
        h[field::SRC_PORT.bytes].copy_from_slice(&self.src_port.to_be_bytes());
        h[field::DST_PORT.bytes].copy_from_slice(&self.dst_port.to_be_bytes());
        h[field::SEQ_RAW.bytes].copy_from_slice(&self.seq.to_be_bytes());
        h[field::ACK_RAW.bytes].copy_from_slice(&self.ack.to_be_bytes());
        let off_flags = ((hl as u16 / 4) << 12) | (self.flags & 0x0fff);
        h[field::OFF_FLAGS].copy_from_slice(&off_flags.to_be_bytes());
        h[field::WINDOW.bytes].copy_from_slice(&self.window.to_be_bytes());
        // The checksum (filled in below) and the urgent pointer stay zero.
        h[field::MIN_LEN..hl].copy_from_slice(&self.options);
        h[hl..].copy_from_slice(payload);
        let sum = super::transport_checksum(src, dst, 6, &h);
        h[field::CHECKSUM.bytes].copy_from_slice(&sum.to_be_bytes());
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
