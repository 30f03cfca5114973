//! ARP (RFC 826): who has this IPv4 address? Decoded for Ethernet hardware and IPv4 protocol
//! addresses, the only combination seen in practice.

use super::{Dissector, LayerBuilder, Malformed};
use crate::model::Protocol;

/// Every field name this module can emit: the filter rejects names outside
/// [`crate::filter::field_names`], and `field_registry_covers_fixtures` keeps this list honest.
pub(crate) const FIELDS: &[&str] = &[
    "arp.dst.hw_mac",
    "arp.dst.proto_ipv4",
    "arp.hw.size",
    "arp.hw.type",
    "arp.opcode",
    "arp.proto.size",
    "arp.proto.type",
    "arp.src.hw_mac",
    "arp.src.proto_ipv4",
];

mod field {
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    pub const SHA: usize = 8;
    pub const SPA: usize = 14;
    pub const THA: usize = 18;
    pub const TPA: usize = 24;
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
    lb.need(field::OPER + 2)?;
    let htype = lb.u16(field::HTYPE, "arp.hw.type", "Hardware type")?;
    let ptype = lb.u16(field::PTYPE, "arp.proto.type", "Protocol type")?;
    let hlen = lb.u8(field::HLEN, "arp.hw.size", "Hardware size")?;
    let plen = lb.u8(field::PLEN, "arp.proto.size", "Protocol size")?;
    let op = lb.u16(field::OPER, "arp.opcode", "Opcode")?;
    if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4) {
        return Err(lb.invalid(
            field::HTYPE,
            format!("hardware type {htype}/size {hlen}, protocol 0x{ptype:04x}/size {plen}: only Ethernet/IPv4 ARP is decoded"),
        ));
    }
    lb.need(field::LEN)?;
    let sha = lb.mac(field::SHA, "arp.src.hw_mac", "Sender MAC address")?;
    let spa = lb.ipv4(field::SPA, "arp.src.proto_ipv4", "Sender IP address")?;
    lb.mac(field::THA, "arp.dst.hw_mac", "Target MAC address")?;
    let tpa = lb.ipv4(field::TPA, "arp.dst.proto_ipv4", "Target IP address")?;
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
