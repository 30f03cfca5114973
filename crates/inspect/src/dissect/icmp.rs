//! ICMPv4 (RFC 792) and ICMPv6 (RFC 4443): echo, and errors with the offending packet's header
//! decoded as further layers.

use super::{Dissector, LayerBuilder, Malformed, ipv4, ipv6};
use crate::model::{FixedField, Protocol};

/// The message's fields, each declared once: the parser reads them, the builder writes them,
/// and the filter's registry takes their names from `field::NAMES`. ICMPv4 and ICMPv6 share
/// one layout under different names.
pub(super) mod field {
    crate::model::fields! {
        TYPE = "icmp.type", "Type", 0..1;
        CODE = "icmp.code", "Code", 1..2;
        CHECKSUM = "icmp.checksum", "Checksum", 2..4;
        IDENT = "icmp.ident", "Identifier", 4..6;
        SEQ = "icmp.seq", "Sequence number", 6..8;
        /// Destination unreachable, fragmentation needed: the MTU of the next hop.
        MTU = "icmp.mtu", "Next-hop MTU", 6..8;
        V6_TYPE = "icmpv6.type", "Type", 0..1;
        V6_CODE = "icmpv6.code", "Code", 1..2;
        V6_CHECKSUM = "icmpv6.checksum", "Checksum", 2..4;
        V6_IDENT = "icmpv6.echo.identifier", "Identifier", 4..6;
        V6_SEQ = "icmpv6.echo.sequence_number", "Sequence number", 6..8;
        /// Packet too big: the MTU of the link that could not carry the packet.
        V6_MTU = "icmpv6.mtu", "MTU", 4..8;
    }
    /// Errors quote the offending packet after 4 bytes of type-specific data.
    pub const QUOTE: usize = 8;
}

/// The fields both versions have, each with its version's name.
struct Common {
    ty: FixedField,
    code: FixedField,
    checksum: FixedField,
    ident: FixedField,
    seq: FixedField,
}

const V4_FIELDS: Common = Common {
    ty: field::TYPE,
    code: field::CODE,
    checksum: field::CHECKSUM,
    ident: field::IDENT,
    seq: field::SEQ,
};

const V6_FIELDS: Common = Common {
    ty: field::V6_TYPE,
    code: field::V6_CODE,
    checksum: field::V6_CHECKSUM,
    ident: field::V6_IDENT,
    seq: field::V6_SEQ,
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    V4,
    V6,
}

pub(super) fn dissect_v4(d: &mut Dissector, at: usize, end: usize) {
    dissect(d, at, end, Version::V4);
}

pub(super) fn dissect_v6(d: &mut Dissector, at: usize, end: usize) {
    dissect(d, at, end, Version::V6);
}

fn dissect(d: &mut Dissector, at: usize, end: usize, v: Version) {
    let protocol = if v == Version::V4 {
        Protocol::Icmp
    } else {
        Protocol::Icmpv6
    };
    // ICMP rides inside IP but is part of the network layer itself, in both models.
    let mut lb = d.layer(at, end, protocol);
    let r = decode(&mut lb, v, d.quoted);
    let Some(quotes) = d.push_result(lb, r) else {
        return;
    };
    // An error quoted inside an error is never decoded further (RFC 1122 forbids errors about
    // errors, and it keeps the recursion to one level).
    if quotes && !d.quoted {
        d.quoted = true;
        let inner = at + field::QUOTE;
        match v {
            Version::V4 => ipv4::dissect(d, inner, end),
            Version::V6 => ipv6::dissect(d, inner, end),
        }
        d.quoted = false;
    }
}

/// Returns whether the message quotes an offending packet.
fn decode(lb: &mut LayerBuilder, v: Version, quoted: bool) -> Result<(bool, String), Malformed> {
    lb.need(4)?;
    let f = match v {
        Version::V4 => V4_FIELDS,
        Version::V6 => V6_FIELDS,
    };
    let ty = lb.u8(f.ty)?;
    let code = lb.u8(f.code)?;
    lb.u16(f.checksum)?;
    let kind = classify(v, ty);
    let mut summary = String::from(describe(v, ty, code));
    lb.cover(lb.available());
    match kind {
        Kind::Echo => {
            let id = lb.u16(f.ident)?;
            let seq = lb.u16(f.seq)?;
            let data = lb.available().saturating_sub(8);
            summary.push_str(&format!(" id=0x{id:04x}, seq={seq}, {data} bytes of data"));
            Ok((false, summary))
        }
        Kind::Error => {
            lb.need(field::QUOTE)?;
            if v == Version::V6 && ty == 2 {
                let mtu = lb.u32(field::V6_MTU)?;
                summary.push_str(&format!(", MTU {mtu}"));
            } else if v == Version::V4 && ty == 3 && code == 4 {
                let mtu = lb.u16(field::MTU)?;
                summary.push_str(&format!(", next-hop MTU {mtu}"));
            }
            if quoted {
                return Ok((false, summary));
            }
            lb.note(
                "an ICMP error quotes the start of the packet that caused it: the layers after \
                this one are that packet's headers, not this packet's",
            );
            lb.end = lb.start() + field::QUOTE;
            Ok((true, summary))
        }
        Kind::Other => Ok((false, summary)),
    }
}

enum Kind {
    Echo,
    Error,
    Other,
}

fn classify(v: Version, ty: u8) -> Kind {
    match (v, ty) {
        (Version::V4, 0 | 8) | (Version::V6, 128 | 129) => Kind::Echo,
        (Version::V4, 3 | 4 | 5 | 11 | 12) | (Version::V6, 1..=4) => Kind::Error,
        _ => Kind::Other,
    }
}

fn describe(v: Version, ty: u8, code: u8) -> &'static str {
    match (v, ty, code) {
        (Version::V4, 0, _) => "Echo (ping) reply",
        (Version::V4, 8, _) => "Echo (ping) request",
        (Version::V4, 3, 0) => "Destination unreachable (network unreachable)",
        (Version::V4, 3, 1) => "Destination unreachable (host unreachable)",
        (Version::V4, 3, 2) => "Destination unreachable (protocol unreachable)",
        (Version::V4, 3, 3) => "Destination unreachable (port unreachable)",
        (Version::V4, 3, 4) => "Destination unreachable (fragmentation needed)",
        (Version::V4, 3, _) => "Destination unreachable",
        (Version::V4, 5, _) => "Redirect",
        (Version::V4, 11, 0) => "Time exceeded (TTL expired in transit)",
        (Version::V4, 11, _) => "Time exceeded (fragment reassembly)",
        (Version::V4, 12, _) => "Parameter problem",
        (Version::V4, _, _) => "ICMP message",
        (Version::V6, 1, 0) => "Destination unreachable (no route)",
        (Version::V6, 1, 1) => "Destination unreachable (administratively prohibited)",
        (Version::V6, 1, 3) => "Destination unreachable (address unreachable)",
        (Version::V6, 1, 4) => "Destination unreachable (port unreachable)",
        (Version::V6, 1, _) => "Destination unreachable",
        (Version::V6, 2, _) => "Packet too big",
        (Version::V6, 3, _) => "Time exceeded",
        (Version::V6, 4, _) => "Parameter problem",
        (Version::V6, 128, _) => "Echo (ping) request",
        (Version::V6, 129, _) => "Echo (ping) reply",
        (Version::V6, 133, _) => "Router solicitation",
        (Version::V6, 134, _) => "Router advertisement",
        (Version::V6, 135, _) => "Neighbor solicitation",
        (Version::V6, 136, _) => "Neighbor advertisement",
        (Version::V6, 137, _) => "Redirect",
        (Version::V6, 143, _) => "Multicast listener report v2",
        (Version::V6, _, _) => "ICMPv6 message",
    }
}

// ---- building: the inverse of the parser above, for fixtures, tests and lessons ----

/// An ICMPv4 message: type, code, the 4 type-specific bytes, then `data` (for errors: the
/// start of the packet that caused it).
pub fn build_icmpv4(ty: u8, code: u8, rest: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mut h = message(ty, code, rest, data);
    let sum = super::checksum(&[&h]);
    h[field::CHECKSUM.bytes].copy_from_slice(&sum.to_be_bytes());
    h
}

/// An ICMPv6 message with its checksum over the IPv6 pseudo-header.
pub fn build_icmpv6(
    src: [u8; 16],
    dst: [u8; 16],
    ty: u8,
    code: u8,
    rest: [u8; 4],
    data: &[u8],
) -> Vec<u8> {
    let mut h = message(ty, code, rest, data);
    let (src, dst) = (std::net::IpAddr::from(src), std::net::IpAddr::from(dst));
    let sum = super::transport_checksum(src, dst, 58, &h);
    h[field::V6_CHECKSUM.bytes].copy_from_slice(&sum.to_be_bytes());
    h
}

/// The message both versions share, its checksum still zero.
fn message(ty: u8, code: u8, rest: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mut h = vec![0; field::QUOTE + data.len()];
    h[field::TYPE.bytes.start] = ty;
    h[field::CODE.bytes.start] = code;
    h[4..field::QUOTE].copy_from_slice(&rest);
    h[field::QUOTE..].copy_from_slice(data);
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::dissect;
    use crate::dissect::ipv4::Ipv4Header;
    use crate::model::{LinkType, Value};

    /// An echo request built here reads back as its type, identifier and sequence number.
    #[test]
    fn an_echo_request_built_here_dissects_to_its_fields() {
        let ping = build_icmpv4(8, 0, [0x12, 0x34, 0, 1], b"abcdefgh");
        assert_eq!(super::super::checksum(&[&ping]), 0, "the checksum verifies");
        let packet = Ipv4Header::new([127, 0, 0, 1], [127, 0, 0, 1], 1).build(&ping);
        let d = dissect(LinkType::IPV4, &packet);
        assert!(d.layer(Protocol::Icmp).is_some());
        let f = |name| d.field(name).expect(name);
        assert_eq!(
            (f("icmp.type").value.clone(), f("icmp.type").offset),
            (Value::U64(8), 20)
        );
        assert_eq!(f("icmp.code").value, Value::U64(0));
        assert_eq!(f("icmp.ident").value, Value::U64(0x1234));
        assert_eq!(f("icmp.seq").value, Value::U64(1));
    }
}
