//! IPv6 (RFC 8200): the fixed header and the chain of extension headers after it.

use super::{Dissector, IpPacket, LayerBuilder, Malformed, after_ip, ipv4};
use crate::model::Protocol;

/// Every field name this module can emit: the filter rejects names outside
/// [`crate::filter::field_names`], and `field_registry_covers_fixtures` keeps this list honest.
pub(crate) const FIELDS: &[&str] = &[
    "ah.next_header",
    "ip.version",
    "ipv6.dst",
    "ipv6.dstopts.len",
    "ipv6.dstopts.nxt",
    "ipv6.flow",
    "ipv6.fraghdr.ident",
    "ipv6.fraghdr.more",
    "ipv6.fraghdr.nxt",
    "ipv6.fraghdr.offset",
    "ipv6.hlim",
    "ipv6.hopopts.len",
    "ipv6.hopopts.nxt",
    "ipv6.nxt",
    "ipv6.plen",
    "ipv6.routing.len",
    "ipv6.routing.nxt",
    "ipv6.routing.segleft",
    "ipv6.routing.type",
    "ipv6.src",
    "ipv6.tclass",
    "ipv6.version",
];

mod field {
    pub const VTF: usize = 0;
    pub const PLEN: usize = 4;
    pub const NXT: usize = 6;
    pub const HLIM: usize = 7;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
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
    let vtf = lb.read_u32(field::VTF)?;
    let version = vtf >> 28;
    // Wireshark also gives IPv6 packets `ip.version`, so `ip.version == 6` works as a filter.
    lb.bits(0..1, "ip.version", "Version", version.into());
    lb.bits(0..1, "ipv6.version", "Version", version.into());
    if version != 6 {
        return Err(lb.invalid(0, format!("version {version} in an IPv6 header")));
    }
    lb.bits(
        0..2,
        "ipv6.tclass",
        "Traffic class",
        ((vtf >> 20) & 0xff).into(),
    );
    lb.bits(1..4, "ipv6.flow", "Flow label", (vtf & 0xf_ffff).into());
    let plen = usize::from(lb.u16(field::PLEN, "ipv6.plen", "Payload length")?);
    let mut nxt = lb.u8(field::NXT, "ipv6.nxt", "Next header")?;
    let hlim = lb.u8(field::HLIM, "ipv6.hlim", "Hop limit")?;
    let src = lb.ipv6(field::SRC, "ipv6.src", "Source address")?;
    let dst = lb.ipv6(field::DST, "ipv6.dst", "Destination address")?;
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
            next::HOP_BY_HOP => options_header(
                lb,
                at,
                "ipv6.hopopts.nxt",
                "ipv6.hopopts.len",
                "Hop-by-hop options",
            )?,
            next::DEST_OPTS => options_header(
                lb,
                at,
                "ipv6.dstopts.nxt",
                "ipv6.dstopts.len",
                "Destination options",
            )?,
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
    nxt_name: &'static str,
    len_name: &'static str,
    label: &'static str,
) -> Result<usize, Malformed> {
    lb.u8(at, nxt_name, label)?;
    let len = (usize::from(lb.read_u8(at + 1)?) + 1) * 8;
    lb.field(
        at + 1..at + 2,
        len_name,
        "Length",
        crate::model::Value::U64(len as u64),
    );
    lb.slice(at..at + len)?;
    Ok(len)
}

fn routing_header(lb: &mut LayerBuilder, at: usize) -> Result<usize, Malformed> {
    lb.u8(at, "ipv6.routing.nxt", "Routing header: next header")?;
    let len = (usize::from(lb.read_u8(at + 1)?) + 1) * 8;
    lb.field(
        at + 1..at + 2,
        "ipv6.routing.len",
        "Length",
        crate::model::Value::U64(len as u64),
    );
    lb.u8(at + 2, "ipv6.routing.type", "Routing type")?;
    lb.u8(at + 3, "ipv6.routing.segleft", "Segments left")?;
    lb.slice(at..at + len)?;
    Ok(len)
}

/// The 8-byte fragment header. Returns whether this is a real fragment (an atomic fragment,
/// offset 0 and no more to come, holds the whole packet) and whether it is the first one.
fn fragment_header(lb: &mut LayerBuilder, at: usize) -> Result<(bool, bool), Malformed> {
    lb.slice(at..at + 8)?;
    lb.u8(at, "ipv6.fraghdr.nxt", "Fragment header: next header")?;
    let off_m = lb.read_u16(at + 2)?;
    let (offset, more) = (off_m >> 3, off_m & 1 == 1);
    lb.bits(
        at + 2..at + 4,
        "ipv6.fraghdr.offset",
        "Fragment offset (8-byte units)",
        offset.into(),
    );
    lb.flag(at + 3..at + 4, "ipv6.fraghdr.more", "More fragments", more);
    lb.u32(at + 4, "ipv6.fraghdr.ident", "Identification")?;
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
    lb.u8(at, "ah.next_header", "Authentication header: next header")?;
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
    let mut h = Vec::with_capacity(40 + rest.len());
    h.extend_from_slice(&0x6000_0000u32.to_be_bytes()); // version 6, class 0, flow 0
    h.extend_from_slice(&(rest.len() as u16).to_be_bytes());
    h.push(next);
    h.push(hop_limit);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(rest);
    h
}

/// An extension header of the options layout (hop-by-hop, destination options) holding `next`
/// and padding (PadN) up to 8 bytes, followed by `rest`.
pub fn build_options_header(next: u8, rest: &[u8]) -> Vec<u8> {
    let mut h = vec![next, 0, 1, 4, 0, 0, 0, 0];
    h.extend_from_slice(rest);
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
    let mut h = vec![next, 0];
    h.extend_from_slice(&((offset_units << 3) | u16::from(more)).to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    h.extend_from_slice(rest);
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::dissect;
    use crate::model::{LinkType, Value};

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
