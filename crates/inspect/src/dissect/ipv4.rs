//! IPv4 (RFC 791): header, options, fragments.

use super::{Dissector, IpPacket, LayerBuilder, Malformed, after_ip};
use crate::model::summary::{self, Summary};
use crate::model::{Protocol, Value};

/// The header's fields, each declared once: the parser reads them, the builder writes them,
/// and the filter's registry takes their names from `field::NAMES`.
pub(super) mod field {
    crate::model::fields! {
        VERSION = "ip.version", "Version", 0..1;
        HDR_LEN = "ip.hdr_len", "Header length", 0..1;
        DSFIELD = "ip.dsfield", "Differentiated services", 1..2;
        DSCP = "ip.dsfield.dscp", "DSCP", 1..2;
        ECN = "ip.dsfield.ecn", "ECN", 1..2;
        LEN = "ip.len", "Total length", 2..4;
        ID = "ip.id", "Identification", 4..6;
        FLAGS = "ip.flags", "Flags", 6..7;
        FLAG_RB = "ip.flags.rb", "Reserved bit", 6..7;
        FLAG_DF = "ip.flags.df", "Don't fragment", 6..7;
        FLAG_MF = "ip.flags.mf", "More fragments", 6..7;
        FRAG_OFFSET = "ip.frag_offset", "Fragment offset (8-byte units)", 6..8;
        TTL = "ip.ttl", "Time to live", 8..9;
        PROTO = "ip.proto", "Protocol", 9..10;
        CHECKSUM = "ip.checksum", "Header checksum", 10..12;
        SRC = "ip.src", "Source address", 12..16;
        DST = "ip.dst", "Destination address", 16..20;
        /// The label names the option: see `option_name`.
        OPT_TYPE = "ip.opt.type", "Option";
        OPT_LEN = "ip.opt.len", "Option length";
    }
    /// The flags (top 3 bits) and the fragment offset (13 bits).
    pub const FLAGS_FRAG: std::ops::Range<usize> = 6..8;
    pub const MIN_LEN: usize = 20;
}

/// A typical Ethernet MTU: a bigger IPv4 packet in a capture was not on the wire as one piece.
pub(super) const ETHERNET_MTU: usize = 1500;

pub(super) const GSO_NOTE: &str = "larger than a 1500-byte Ethernet MTU: on lo (MTU 65536) that is \
    normal; on a network card it means the kernel handed one big segment to the card to cut up \
    (GSO/TSO), and the capture saw it before the cut";

/// Decode the IPv4 packet at `at`, whose bytes end at `limit` at the latest.
pub(super) fn dissect(d: &mut Dissector, at: usize, limit: usize) {
    let mut lb = d.layer(at, limit, Protocol::Ipv4);
    let r = decode(&mut lb, d.quoted);
    if let Some(ip) = d.push_result(lb, r) {
        after_ip(d, ip);
    }
}

/// Decode the header; when even the fixed 20 bytes are cut short, the fields that fit are kept
/// and the error names the whole header.
fn decode(lb: &mut LayerBuilder, quoted: bool) -> Result<(IpPacket, Summary), Malformed> {
    decode_fields(lb, quoted).map_err(|e| match e {
        Malformed::Truncated { .. } if lb.available() < field::MIN_LEN => {
            lb.truncated(field::MIN_LEN)
        }
        e => e,
    })
}

fn decode_fields(lb: &mut LayerBuilder, quoted: bool) -> Result<(IpPacket, Summary), Malformed> {
    let b0 = lb.read_u8(field::VERSION.bytes.start)?;
    let (version, ihl) = (b0 >> 4, usize::from(b0 & 0x0f) * 4);
    lb.bits(field::VERSION, version.into());
    if version != 4 {
        return Err(lb.invalid(0, format!("version {version} in an IPv4 header")));
    }
    lb.bits(field::HDR_LEN, ihl as u64);
    if ihl < field::MIN_LEN {
        return Err(lb.invalid(
            0,
            format!("header length {ihl} is below the minimum of 20 bytes"),
        ));
    }
    let ds = lb.u8(field::DSFIELD)?;
    lb.bits(field::DSCP, (ds >> 2).into());
    lb.bits(field::ECN, (ds & 3).into());
    let total = usize::from(lb.u16(field::LEN)?);
    lb.u16(field::ID)?;
    let ff = lb.read_u16(field::FLAGS_FRAG.start)?;
    let (df, mf, offset) = (ff & 0x4000 != 0, ff & 0x2000 != 0, ff & 0x1fff);
    lb.bits(field::FLAGS, (ff >> 13).into());
    lb.flag(field::FLAG_RB, ff & 0x8000 != 0);
    lb.flag(field::FLAG_DF, df);
    lb.flag(field::FLAG_MF, mf);
    lb.bits(field::FRAG_OFFSET, offset.into());
    let ttl = lb.u8(field::TTL)?;
    let proto = lb.u8(field::PROTO)?;
    lb.u16(field::CHECKSUM)?;
    let src = lb.ipv4(field::SRC)?;
    let dst = lb.ipv4(field::DST)?;
    options(lb, ihl);
    lb.need(ihl)?;
    lb.cover(ihl);

    let start = lb.start();
    let payload_end = if total == 0 {
        lb.note(
            "total length 0: with TCP segmentation offload the card fills it in later; the \
            rest of the frame is taken as the packet",
        );
        lb.limit()
    } else if total < ihl {
        return Err(lb.invalid(
            field::LEN.bytes.start,
            format!("total length {total} is shorter than the {ihl}-byte header"),
        ));
    } else {
        if total > lb.available() {
            let here = lb.available();
            lb.note_with(|| if quoted {
                std::borrow::Cow::Borrowed("quoted packet: an ICMP error carries only the start of the packet that caused it")
            } else {
                std::borrow::Cow::Owned(format!(
                    "only {here} of the packet's {total} bytes were captured (snap length or a cut-off frame)"
                ))
            });
        } else if total > ETHERNET_MTU && !quoted {
            lb.note(GSO_NOTE);
        }
        (start + total).min(lb.limit())
    };
    let fragment = mf || offset != 0;
    if fragment {
        lb.note_with(|| format!(
            "fragment: bytes {}.. of the original payload{}; this inspector does not reassemble \
             IP fragments, so the payload is shown as bytes",
            usize::from(offset) * 8,
            if mf {
                ", more fragments follow"
            } else {
                ", the last fragment"
            }
        ));
    }
    if quoted {
        lb.note("copy of the IP header of the packet that caused the ICMP error above");
    }
    let summary = Summary::Ipv4(summary::Ipv4 {
        src,
        dst,
        ttl,
        proto,
        proto_name: proto_name(proto),
        fragment: fragment.then_some((offset, mf)),
    });
    Ok((
        IpPacket {
            src: src.into(),
            dst: dst.into(),
            proto,
            header_end: start + ihl,
            payload_end,
            wire_end: if total == 0 {
                payload_end
            } else {
                start + total
            },
            fragment,
            first_fragment: fragment && offset == 0,
            opaque: false,
        },
        summary,
    ))
}

/// Decode the options between byte 20 and the header's end. A broken option ends the list with
/// a note; the rest of the packet is still decoded, as its length fields are intact.
fn options(lb: &mut LayerBuilder, ihl: usize) {
    let mut at = field::MIN_LEN;
    while at < ihl {
        let Ok(kind) = lb.read_u8(at) else { return };
        let f = field::OPT_TYPE.labelled(option_name(kind));
        lb.field(at..at + 1, f, Value::U64(kind.into()));
        match kind {
            0 => return,
            1 => at += 1,
            _ => {
                let len = lb.read_u8(at + 1).map(usize::from).unwrap_or(0);
                if len < 2 || at + len > ihl {
                    lb.note_with(|| format!("IP option {kind} at header offset {at} has a bad length {len}; options not decoded further"));
                    return;
                }
                lb.field(at + 1..at + 2, field::OPT_LEN, Value::U64(len as u64));
                at += len;
            }
        }
    }
}

fn option_name(kind: u8) -> &'static str {
    match kind {
        0 => "Option: End of options list",
        1 => "Option: No-operation",
        7 => "Option: Record route",
        68 => "Option: Timestamp",
        130 => "Option: Security",
        131 => "Option: Loose source route",
        137 => "Option: Strict source route",
        148 => "Option: Router alert",
        _ => "Option: unknown",
    }
}

pub(crate) fn proto_name(proto: u8) -> &'static str {
    match proto {
        1 => "ICMP",
        2 => "IGMP",
        6 => "TCP",
        17 => "UDP",
        41 => "IPv6",
        47 => "GRE",
        50 => "ESP",
        51 => "AH",
        58 => "ICMPv6",
        132 => "SCTP",
        _ => "unknown",
    }
}

// ---- building: the inverse of the parser above, for fixtures, tests and lessons ----

/// An IPv4 header to build. `options` must be a multiple of 4 bytes long.
#[derive(Debug, Clone)]
pub struct Ipv4Header {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub proto: u8,
    pub ttl: u8,
    pub id: u16,
    pub dont_fragment: bool,
    pub more_fragments: bool,
    /// Fragment offset in 8-byte units.
    pub frag_offset: u16,
    pub options: Vec<u8>,
}

impl Ipv4Header {
    /// A header with TTL 64, DF set and no options, as Linux sends on loopback.
    pub fn new(src: [u8; 4], dst: [u8; 4], proto: u8) -> Self {
        Ipv4Header {
            src,
            dst,
            proto,
            ttl: 64,
            id: 0x1234,
            dont_fragment: true,
            more_fragments: false,
            frag_offset: 0,
            options: Vec::new(),
        }
    }

    /// The header (with its checksum) followed by `payload`.
    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        let ihl = field::MIN_LEN + self.options.len();
        let total = (ihl + payload.len()) as u16;
        let flags_offset = (u16::from(self.dont_fragment) << 14)
            | (u16::from(self.more_fragments) << 13)
            | (self.frag_offset & 0x1fff);
        let mut h = vec![0; ihl];
        h[0] = 0x40 | (ihl / 4) as u8; // version 4 and the header length in 32-bit words
        // DSCP and ECN stay zero.
        h[field::LEN.bytes].copy_from_slice(&total.to_be_bytes());
        h[field::ID.bytes].copy_from_slice(&self.id.to_be_bytes());
        h[field::FLAGS_FRAG].copy_from_slice(&flags_offset.to_be_bytes());
        h[field::TTL.bytes.start] = self.ttl;
        h[field::PROTO.bytes.start] = self.proto;
        h[field::SRC.bytes].copy_from_slice(&self.src);
        h[field::DST.bytes].copy_from_slice(&self.dst);
        h[field::MIN_LEN..].copy_from_slice(&self.options);
        // The checksum covers the header with its own checksum bytes still zero.
        let sum = super::checksum(&[&h]);
        h[field::CHECKSUM.bytes].copy_from_slice(&sum.to_be_bytes());
        h.extend_from_slice(payload);
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::dissect;
    use crate::model::LinkType;

    /// A header built here reads back as the values it was built from, at RFC 791's offsets.
    #[test]
    fn a_header_built_here_dissects_to_its_fields() {
        let mut h = Ipv4Header::new([127, 0, 0, 1], [192, 0, 2, 7], 17);
        h.ttl = 3;
        h.id = 0xbeef;
        h.options = vec![1, 1, 1, 0]; // three NOPs and an end of list
        let packet = h.build(&[0; 8]);
        let d = dissect(LinkType::IPV4, &packet);
        let ip = d.layer(Protocol::Ipv4).expect("an IPv4 layer");
        assert_eq!(ip.byte_range, 0..24);
        let f = |name| d.field(name).expect(name);
        assert_eq!(f("ip.hdr_len").value, Value::U64(24));
        assert_eq!(f("ip.len").value, Value::U64(32));
        assert_eq!(f("ip.id").value, Value::U64(0xbeef));
        assert_eq!(f("ip.flags.df").value, Value::Bool(true));
        assert_eq!(
            (f("ip.ttl").value.clone(), f("ip.ttl").offset),
            (Value::U64(3), 8)
        );
        assert_eq!(f("ip.proto").value, Value::U64(17));
        assert_eq!(
            f("ip.src").value,
            Value::Ipv4(std::net::Ipv4Addr::LOCALHOST)
        );
        assert_eq!((f("ip.dst").offset, f("ip.dst").len), (16, 4));
        // The checksum the builder wrote verifies: summing the header with it gives zero.
        assert_eq!(super::super::checksum(&[&packet[..24]]), 0);
    }
}
