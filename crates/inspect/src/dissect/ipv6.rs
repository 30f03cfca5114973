//! IPv6 (RFC 8200): the fixed header and the chain of extension headers after it.

use super::{Dissector, IpPacket, LayerBuilder, Malformed, after_ip, ipv4};
use crate::model::{FixedField, Protocol, Value};

/// The header's fields, each declared once: the parser reads them, the builder writes them,
/// and the filter's registry takes their names from `field::NAMES`. The extension headers'
/// fields are at fixed places in their own header, whose place varies (`offset_by`).
pub(super) mod field {
    crate::model::fields! {
        /// Wireshark also gives IPv6 packets `ip.version`, so `ip.version == 6` works as a
        /// filter.
        IP_VERSION = "ip.version", "Version", 0..1;
        VERSION = "ipv6.version", "Version", 0..1;
        TCLASS = "ipv6.tclass", "Traffic class", 0..2;
        FLOW = "ipv6.flow", "Flow label", 1..4;
        PLEN = "ipv6.plen", "Payload length", 4..6;
        NXT = "ipv6.nxt", "Next header", 6..7;
        HLIM = "ipv6.hlim", "Hop limit", 7..8;
        SRC = "ipv6.src", "Source address", 8..24;
        DST = "ipv6.dst", "Destination address", 24..40;
        HOPOPTS_NXT = "ipv6.hopopts.nxt", "Hop-by-hop options", 0..1;
        HOPOPTS_LEN = "ipv6.hopopts.len", "Length", 1..2;
        DSTOPTS_NXT = "ipv6.dstopts.nxt", "Destination options", 0..1;
        DSTOPTS_LEN = "ipv6.dstopts.len", "Length", 1..2;
        ROUTING_NXT = "ipv6.routing.nxt", "Routing header: next header", 0..1;
        ROUTING_LEN = "ipv6.routing.len", "Length", 1..2;
        ROUTING_TYPE = "ipv6.routing.type", "Routing type", 2..3;
        ROUTING_SEGLEFT = "ipv6.routing.segleft", "Segments left", 3..4;
        FRAG_NXT = "ipv6.fraghdr.nxt", "Fragment header: next header", 0..1;
        FRAG_OFFSET = "ipv6.fraghdr.offset", "Fragment offset (8-byte units)", 2..4;
        FRAG_MORE = "ipv6.fraghdr.more", "More fragments", 3..4;
        FRAG_IDENT = "ipv6.fraghdr.ident", "Identification", 4..8;
        AH_NXT = "ah.next_header", "Authentication header: next header", 0..1;
    }
    /// Version (4 bits), traffic class (8) and flow label (20).
    pub const VTF: std::ops::Range<usize> = 0..4;
    pub const LEN: usize = 40;
}

mod next {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const NO_NEXT: u8 = 59;
    pub const DEST_OPTS: u8 = 60;
}

pub(super) fn dissect(d: &mut Dissector, at: usize, limit: usize) {
    let mut lb = d.layer(at, limit, Protocol::Ipv6);
    let r = decode(&mut lb, d.quoted);
    if let Some(ip) = d.push_result(lb, r) {
        after_ip(d, ip);
    }
}

/// Decode the header; when even the fixed 40 bytes are cut short, the fields that fit are kept
/// and the error names the whole header.
fn decode(lb: &mut LayerBuilder, quoted: bool) -> Result<(IpPacket, String), Malformed> {
    decode_fields(lb, quoted).map_err(|e| match e {
        Malformed::Truncated { .. } if lb.available() < field::LEN => lb.truncated(field::LEN),
        e => e,
    })
}

fn decode_fields(lb: &mut LayerBuilder, quoted: bool) -> Result<(IpPacket, String), Malformed> {
    let vtf = lb.read_u32(field::VTF.start)?;
    let version = vtf >> 28;
    lb.bits(field::IP_VERSION, version.into());
    lb.bits(field::VERSION, version.into());
    if version != 6 {
        return Err(lb.invalid(0, format!("version {version} in an IPv6 header")));
    }
    lb.bits(field::TCLASS, ((vtf >> 20) & 0xff).into());
    lb.bits(field::FLOW, (vtf & 0xf_ffff).into());
    let plen = usize::from(lb.u16(field::PLEN)?);
    let mut nxt = lb.u8(field::NXT)?;
    let hlim = lb.u8(field::HLIM)?;
    let src = lb.ipv6(field::SRC)?;
    let dst = lb.ipv6(field::DST)?;
    lb.cover(field::LEN);

    let start = lb.start();
    let payload_end = if plen == 0 {
        lb.note("payload length 0: a jumbogram or segmentation offload; the rest of the frame is taken as the payload");
        lb.limit()
    } else {
        if field::LEN + plen > lb.available() {
            let here = lb.available();
            lb.note_with(|| if quoted {
                std::borrow::Cow::Borrowed("quoted packet: an ICMPv6 error carries only the start of the packet that caused it")
            } else {
                std::borrow::Cow::Owned(format!(
                    "only {here} of the packet's {} bytes were captured (snap length or a cut-off frame)",
                    field::LEN + plen
                ))
            });
        } else if field::LEN + plen > ipv4::ETHERNET_MTU && !quoted {
            lb.note(ipv4::GSO_NOTE);
        }
        (start + field::LEN + plen).min(lb.limit())
    };

    let mut at = field::LEN;
    let (mut fragment, mut first_fragment) = (false, false);
    let mut chain = String::new();
    // Every extension header is at least 8 bytes, so this loop ends; the cap keeps a hostile
    // chain of hundreds of empty headers from costing more than a real packet.
    for _ in 0..16 {
        let step = match nxt {
            next::HOP_BY_HOP => options_header(lb, at, field::HOPOPTS_NXT, field::HOPOPTS_LEN)?,
            next::DEST_OPTS => options_header(lb, at, field::DSTOPTS_NXT, field::DSTOPTS_LEN)?,
            next::ROUTING => routing_header(lb, at)?,
            next::FRAGMENT => {
                (fragment, first_fragment) = fragment_header(lb, at)?;
                8
            }
            next::AH => auth_header(lb, at)?,
            _ => break,
        };
        chain.push_str(ext_name(nxt));
        chain.push_str(", ");
        nxt = lb.read_u8(at)?;
        at += step;
        lb.cover(at);
    }
    if at > payload_end.saturating_sub(start) {
        return Err(lb.invalid(field::LEN, "extension headers run past the payload length"));
    }
    if quoted {
        lb.note("copy of the IPv6 header of the packet that caused the ICMPv6 error above");
    }
    if nxt == next::ESP {
        lb.note("ESP: the rest is encrypted (IPsec) and cannot be decoded");
    }
    let summary = format!(
        "Src: {src}, Dst: {dst}, Hop limit: {hlim}, {chain}Next header: {} ({nxt})",
        ipv4::proto_name(nxt)
    );
    Ok((
        IpPacket {
            src: src.into(),
            dst: dst.into(),
            proto: nxt,
            header_end: start + at,
            payload_end,
            wire_end: if plen == 0 {
                payload_end
            } else {
                start + field::LEN + plen
            },
            fragment,
            first_fragment,
            opaque: nxt == next::NO_NEXT || nxt == next::ESP,
        },
        summary,
    ))
}

/// Hop-by-hop and destination options share one layout: next header, length in 8-byte units
/// not counting the first 8, then options.
fn options_header(
    lb: &mut LayerBuilder,
    at: usize,
    nxt: FixedField,
    len_field: FixedField,
) -> Result<usize, Malformed> {
    lb.u8(nxt.offset_by(at))?;
    let len_field = len_field.offset_by(at);
    let len = (usize::from(lb.read_u8(len_field.bytes.start)?) + 1) * 8;
    lb.fixed(len_field, Value::U64(len as u64));
    lb.slice(at..at + len)?;
    Ok(len)
}

fn routing_header(lb: &mut LayerBuilder, at: usize) -> Result<usize, Malformed> {
    lb.u8(field::ROUTING_NXT.offset_by(at))?;
    let len = (usize::from(lb.read_u8(at + 1)?) + 1) * 8;
    lb.fixed(field::ROUTING_LEN.offset_by(at), Value::U64(len as u64));
    lb.u8(field::ROUTING_TYPE.offset_by(at))?;
    lb.u8(field::ROUTING_SEGLEFT.offset_by(at))?;
    lb.slice(at..at + len)?;
    Ok(len)
}

/// The 8-byte fragment header. Returns whether this is a real fragment (an atomic fragment,
/// offset 0 and no more to come, holds the whole packet) and whether it is the first one.
fn fragment_header(lb: &mut LayerBuilder, at: usize) -> Result<(bool, bool), Malformed> {
    lb.slice(at..at + 8)?;
    lb.u8(field::FRAG_NXT.offset_by(at))?;
    let off_m = lb.read_u16(at + field::FRAG_OFFSET.bytes.start)?;
    let (offset, more) = (off_m >> 3, off_m & 1 == 1);
    lb.bits(field::FRAG_OFFSET.offset_by(at), offset.into());
    lb.flag(field::FRAG_MORE.offset_by(at), more);
    lb.u32(field::FRAG_IDENT.offset_by(at))?;
    let fragment = offset != 0 || more;
    if fragment {
        lb.note_with(|| format!(
            "fragment: bytes {}.. of the original payload{}; this inspector does not reassemble \
             fragments, so the payload is shown as bytes",
            usize::from(offset) * 8,
            if more {
                ", more fragments follow"
            } else {
                ", the last fragment"
            }
        ));
    }
    Ok((fragment, fragment && offset == 0))
}

fn auth_header(lb: &mut LayerBuilder, at: usize) -> Result<usize, Malformed> {
    lb.u8(field::AH_NXT.offset_by(at))?;
    // AH counts its length in 4-byte units, minus 2 (RFC 4302), unlike the other headers.
    let len = (usize::from(lb.read_u8(at + 1)?) + 2) * 4;
    lb.slice(at..at + len)?;
    Ok(len)
}

fn ext_name(nxt: u8) -> &'static str {
    match nxt {
        next::HOP_BY_HOP => "Hop-by-hop options",
        next::ROUTING => "Routing",
        next::FRAGMENT => "Fragment",
        next::DEST_OPTS => "Destination options",
        next::AH => "AH",
        _ => "unknown",
    }
}

// ---- building: the inverse of the parser above, for fixtures, tests and lessons ----

/// An IPv6 header followed by `rest` (extension headers, then the transport). `next` is the
/// type of the first header in `rest`.
pub fn build_ipv6(src: [u8; 16], dst: [u8; 16], next: u8, hop_limit: u8, rest: &[u8]) -> Vec<u8> {
    let mut h = vec![0; field::LEN + rest.len()];
    // Version 6; traffic class and flow label stay zero.
    h[field::VTF].copy_from_slice(&0x6000_0000u32.to_be_bytes());
    h[field::PLEN.bytes].copy_from_slice(&(rest.len() as u16).to_be_bytes());
    h[field::NXT.bytes.start] = next;
    h[field::HLIM.bytes.start] = hop_limit;
    h[field::SRC.bytes].copy_from_slice(&src);
    h[field::DST.bytes].copy_from_slice(&dst);
    h[field::LEN..].copy_from_slice(rest);
    h
}

/// An extension header of the options layout (hop-by-hop, destination options) holding `next`
/// and padding (PadN) up to 8 bytes, followed by `rest`.
pub fn build_options_header(next: u8, rest: &[u8]) -> Vec<u8> {
    let mut h = vec![0; 8 + rest.len()];
    h[field::HOPOPTS_NXT.bytes.start] = next;
    // The length stays 0: 8 bytes in all. PadN: option 1, 4 bytes of zeros.
    h[2..4].copy_from_slice(&[1, 4]);
    h[8..].copy_from_slice(rest);
    h
}

/// A fragment header followed by `rest`.
pub fn build_fragment_header(
    next: u8,
    offset_units: u16,
    more: bool,
    id: u32,
    rest: &[u8],
) -> Vec<u8> {
    let mut h = vec![0; 8 + rest.len()];
    h[field::FRAG_NXT.bytes.start] = next;
    let offset_more = (offset_units << 3) | u16::from(more);
    h[field::FRAG_OFFSET.bytes].copy_from_slice(&offset_more.to_be_bytes());
    h[field::FRAG_IDENT.bytes].copy_from_slice(&id.to_be_bytes());
    h[8..].copy_from_slice(rest);
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::dissect;
    use crate::model::LinkType;

    /// A packet built here, with a hop-by-hop header and a fragment header, reads back as the
    /// values it was built from.
    #[test]
    fn a_packet_built_here_dissects_to_its_fields() {
        let lo = std::net::Ipv6Addr::LOCALHOST.octets();
        let frag = build_fragment_header(59, 0, true, 0xabcd, &[0; 8]);
        let hop = build_options_header(next::FRAGMENT, &frag);
        let packet = build_ipv6(lo, lo, next::HOP_BY_HOP, 7, &hop);
        let d = dissect(LinkType::IPV6, &packet);
        assert!(d.layer(Protocol::Ipv6).is_some());
        let f = |name| d.field(name).expect(name);
        assert_eq!(f("ipv6.plen").value, Value::U64(24));
        assert_eq!(f("ipv6.nxt").value, Value::U64(0));
        assert_eq!(
            (f("ipv6.hlim").value.clone(), f("ipv6.hlim").offset),
            (Value::U64(7), 7)
        );
        assert_eq!(
            f("ipv6.src").value,
            Value::Ipv6(std::net::Ipv6Addr::LOCALHOST)
        );
        assert_eq!(f("ipv6.hopopts.nxt").value, Value::U64(44));
        assert_eq!(f("ipv6.fraghdr.ident").value, Value::U64(0xabcd));
        assert_eq!(f("ipv6.fraghdr.more").value, Value::Bool(true));
    }
}
