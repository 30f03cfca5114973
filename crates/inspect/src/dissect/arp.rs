//! ARP (RFC 826): who has this IPv4 address? Decoded for Ethernet hardware and IPv4 protocol
//! addresses, the only combination seen in practice.

use super::{Dissector, LayerBuilder, Malformed};
use crate::model::Protocol;

/// The message's fields, each declared once; the filter's registry takes their names from
/// `field::NAMES`.
pub(super) mod field {
    crate::model::fields! {
        HTYPE = "arp.hw.type", "Hardware type", 0..2;
        PTYPE = "arp.proto.type", "Protocol type", 2..4;
        HLEN = "arp.hw.size", "Hardware size", 4..5;
        PLEN = "arp.proto.size", "Protocol size", 5..6;
        OPER = "arp.opcode", "Opcode", 6..8;
        SHA = "arp.src.hw_mac", "Sender MAC address", 8..14;
        SPA = "arp.src.proto_ipv4", "Sender IP address", 14..18;
        THA = "arp.dst.hw_mac", "Target MAC address", 18..24;
        TPA = "arp.dst.proto_ipv4", "Target IP address", 24..28;
    }
    pub const LEN: usize = 28;
}

pub(super) fn dissect(d: &mut Dissector, at: usize) {
    // ARP has no IP header to sit on: OSI calls it data link, TCP/IP the link layer.
    let mut lb = d.layer(at, usize::MAX, Protocol::Arp);
    let r = decode(&mut lb);
    if d.push_result(lb, r).is_some() {
        d.network_end = Some(at + field::LEN);
    }
}

fn decode(lb: &mut LayerBuilder) -> Result<((), String), Malformed> {
    lb.need(field::OPER.bytes.end)?;
    let htype = lb.u16(field::HTYPE)?;
    let ptype = lb.u16(field::PTYPE)?;
    let hlen = lb.u8(field::HLEN)?;
    let plen = lb.u8(field::PLEN)?;
    let op = lb.u16(field::OPER)?;
    if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4) {
        return Err(lb.invalid(
            field::HTYPE.bytes.start,
            format!("hardware type {htype}/size {hlen}, protocol 0x{ptype:04x}/size {plen}: only Ethernet/IPv4 ARP is decoded"),
        ));
    }
    lb.need(field::LEN)?;
    let sha = lb.mac(field::SHA)?;
    let spa = lb.ipv4(field::SPA)?;
    lb.mac(field::THA)?;
    let tpa = lb.ipv4(field::TPA)?;
    lb.note(
        "ARP maps an IPv4 address to a MAC address; it is carried directly in Ethernet, so it \
        sits between OSI layers 2 and 3",
    );
    let summary = match op {
        1 => format!("Who has {tpa}? Tell {spa}"),
        2 => format!("{spa} is at {sha}"),
        _ => format!("Opcode {op}, sender {spa} ({sha}), target {tpa}"),
    };
    Ok(((), summary))
}
