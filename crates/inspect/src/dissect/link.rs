//! Link-layer headers, one per link type, and the EtherType dispatch that follows them.

use std::borrow::Cow;

use super::{Dissector, LayerBuilder, Malformed, arp, ipv4, ipv6};
use crate::model::summary::{self, Summary};
use crate::model::{LinkType, MacAddr, Protocol, Value};

/// Every field name this module can emit: the filter rejects names outside
/// [`crate::filter::field_names`], and `field_registry_covers_fixtures` keeps this list honest.
pub(crate) const FIELDS: &[&str] = &[
    "data.len",
    "eth.dst",
    "eth.len",
    "eth.padding",
    "eth.src",
    "eth.type",
    "ieee8021ad.dei",
    "ieee8021ad.etype",
    "ieee8021ad.id",
    "ieee8021ad.priority",
    "null.family",
    "sll.etype",
    "sll.halen",
    "sll.hatype",
    "sll.ifindex",
    "sll.pkttype",
    "sll.src.eth",
    "sll.src.other",
    "sll.unused",
    "vlan.dei",
    "vlan.etype",
    "vlan.id",
    "vlan.priority",
];

/// EtherType values this dissector follows.
pub(crate) mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service tag (Q-in-Q): the same 4-byte layout as 802.1Q.
    pub const QINQ: u16 = 0x88a8;
    pub const IPV6: u16 = 0x86dd;
}

mod field {
    use std::ops::Range;
    pub const ETH_DST: Range<usize> = 0..6;
    pub const ETH_SRC: Range<usize> = 6..12;
    pub const ETH_TYPE: usize = 12;
    pub const ETH_LEN: usize = 14;
    pub const VLAN_TCI: Range<usize> = 0..2;
    pub const VLAN_TYPE: usize = 2;
    pub const VLAN_LEN: usize = 4;
    pub const SLL_PKTTYPE: usize = 0;
    pub const SLL_HATYPE: usize = 2;
    pub const SLL_HALEN: usize = 4;
    pub const SLL_ADDR: usize = 6;
    pub const SLL_PROTO: usize = 14;
    pub const SLL_LEN: usize = 16;
    pub const SLL2_PROTO: usize = 0;
    pub const SLL2_RESERVED: usize = 2;
    pub const SLL2_IFINDEX: usize = 4;
    pub const SLL2_HATYPE: usize = 8;
    pub const SLL2_PKTTYPE: usize = 10;
    pub const SLL2_HALEN: usize = 11;
    pub const SLL2_ADDR: usize = 12;
    pub const SLL2_LEN: usize = 20;
    pub const NULL_FAMILY: std::ops::Range<usize> = 0..4;
}

const ZERO_MACS: &str = "both MAC addresses are zero: this is a loopback frame; lo has no \
    hardware, so Linux writes zeros where a network card's addresses would be";
const COOKED: &str = "Linux cooked header: a capture on the \"any\" pseudo-interface cannot keep \
    each interface's real link header, so libpcap writes this summary instead; it never crossed a \
    wire";
const RAW_IP: &str = "raw IP capture: no link-layer header was recorded, the frame starts with the \
    IP header";

/// Start a dissection at the link layer.
pub(super) fn dissect(d: &mut Dissector, link: LinkType) {
    match link {
        LinkType::ETHERNET => ethernet(d, 0),
        LinkType::NULL => null(d, false),
        LinkType::LOOP => null(d, true),
        LinkType::LINUX_SLL => sll(d),
        LinkType::LINUX_SLL2 => sll2(d),
        LinkType::RAW => raw_ip(d, None),
        LinkType::IPV4 => raw_ip(d, Some(4)),
        LinkType::IPV6 => raw_ip(d, Some(6)),
        other => unsupported(d, other),
    }
}

fn link_layer<'a>(
    d: &mut Dissector<'a, '_>,
    start: usize,
    end: usize,
    protocol: Protocol,
) -> LayerBuilder<'a> {
    d.layer(start, end, protocol)
}

fn ethernet(d: &mut Dissector, start: usize) {
    let mut lb = link_layer(d, start, usize::MAX, Protocol::Ethernet);
    let r = decode_ethernet(&mut lb);
    if let Some(etype) = d.push_result(lb, r) {
        network(d, etype, start + field::ETH_LEN);
    }
}

fn decode_ethernet(lb: &mut LayerBuilder) -> Result<(u16, Summary), Malformed> {
    lb.need(field::ETH_LEN)?;
    let dst = lb.mac(field::ETH_DST.start, "eth.dst", "Destination")?;
    let src = lb.mac(field::ETH_SRC.start, "eth.src", "Source")?;
    let etype = lb.read_u16(field::ETH_TYPE)?;
    if etype < 0x0600 {
        // An IEEE 802.3 frame: the field is a length and an LLC header follows.
        lb.field(
            field::ETH_TYPE..field::ETH_LEN,
            "eth.len",
            "Length",
            Value::U64(etype.into()),
        );
        return Err(lb.invalid(
            field::ETH_TYPE,
            format!(
                "802.3 length field {etype} with an LLC header: only Ethernet II frames are decoded"
            ),
        ));
    }
    lb.u16(field::ETH_TYPE, "eth.type", "Type")?;
    if src.is_zero() && dst.is_zero() {
        lb.note(ZERO_MACS);
    }
    let summary = summary::Ethernet {
        src,
        dst,
        ethertype: etype,
        type_name: ethertype_name(etype),
    };
    Ok((etype, summary.into()))
}

/// Hand the bytes after a link header (or VLAN tag) to the protocol its EtherType names.
pub(super) fn network(d: &mut Dissector, etype: u16, at: usize) {
    match etype {
        ethertype::IPV4 => ipv4::dissect(d, at, usize::MAX),
        ethertype::IPV6 => ipv6::dissect(d, at, usize::MAX),
        ethertype::ARP => arp::dissect(d, at),
        ethertype::VLAN => vlan(d, at, &VLAN_NAMES),
        ethertype::QINQ => vlan(d, at, &QINQ_NAMES),
        other => unknown_payload(d, at, other),
    }
}

fn unknown_payload(d: &mut Dissector, at: usize, etype: u16) {
    let len = d.frame.len().saturating_sub(at);
    d.note_last_with(|| {
        format!(
            "EtherType 0x{etype:04x} ({}) is not decoded: {len} bytes of payload follow",
            ethertype_name(etype)
        )
    });
    d.stretch_last(usize::MAX); // the rest of the frame
}

/// Filter names of a tag's fields: Wireshark decodes the outer (service) tag of Q-in-Q with
/// its own `ieee8021ad` names.
struct TagNames {
    protocol: Protocol,
    priority: &'static str,
    dei: &'static str,
    id: &'static str,
    etype: &'static str,
}

const VLAN_NAMES: TagNames = TagNames {
    protocol: Protocol::Vlan,
    priority: "vlan.priority",
    dei: "vlan.dei",
    id: "vlan.id",
    etype: "vlan.etype",
};

const QINQ_NAMES: TagNames = TagNames {
    protocol: Protocol::QinQ,
    priority: "ieee8021ad.priority",
    dei: "ieee8021ad.dei",
    id: "ieee8021ad.id",
    etype: "ieee8021ad.etype",
};

/// How many stacked VLAN tags are decoded. Real networks stack two (Q-in-Q), rarely three; a
/// crafted frame can stack sixteen thousand, and decoding each inside the one before would
/// exhaust the stack, so the rest is left as bytes with a note.
const MAX_STACKED_TAGS: usize = 8;

fn vlan(d: &mut Dissector, start: usize, names: &TagNames) {
    let stacked = d
        .layers_mut()
        .iter()
        .filter(|l| matches!(l.protocol, Protocol::Vlan | Protocol::QinQ))
        .count();
    if stacked >= MAX_STACKED_TAGS {
        let left = d.frame.len().saturating_sub(start);
        d.note_last_with(|| {
            format!(
                "more than {MAX_STACKED_TAGS} stacked VLAN tags: the {left} bytes from offset \
                 {start} on are not decoded"
            )
        });
        d.stretch_last(usize::MAX);
        return;
    }
    let mut lb = link_layer(d, start, usize::MAX, names.protocol);
    let r = decode_vlan(&mut lb, names);
    if let Some(etype) = d.push_result(lb, r) {
        network(d, etype, start + field::VLAN_LEN);
    }
}

fn decode_vlan(lb: &mut LayerBuilder, names: &TagNames) -> Result<(u16, String), Malformed> {
    lb.need(field::VLAN_LEN)?;
    let tci = lb.read_u16(field::VLAN_TCI.start)?;
    let (pcp, dei, id) = (tci >> 13, (tci >> 12) & 1 == 1, tci & 0x0fff);
    lb.bits(
        field::VLAN_TCI,
        names.priority,
        "Priority (PCP)",
        pcp.into(),
    );
    lb.flag(field::VLAN_TCI, names.dei, "Drop eligible (DEI)", dei);
    lb.bits(field::VLAN_TCI, names.id, "VLAN ID", id.into());
    let etype = lb.u16(field::VLAN_TYPE, names.etype, "Type")?;
    lb.note(
        "802.1Q tag: 4 bytes inserted after the MAC addresses so that one cable can carry \
        several virtual LANs; switches add and remove it",
    );
    Ok((
        etype,
        format!(
            "PRI: {pcp}, DEI: {}, ID: {id}, Type: {} (0x{etype:04x})",
            u8::from(dei),
            ethertype_name(etype)
        ),
    ))
}

/// BSD loopback (NULL, 0) and OpenBSD/macOS LOOP (108): a 4-byte address family.
fn null(d: &mut Dissector, big_endian: bool) {
    let mut lb = link_layer(d, 0, usize::MAX, Protocol::NullLoopback);
    let r = decode_null(&mut lb, big_endian);
    if let Some(version) = d.push_result(lb, r) {
        match version {
            Some(4) => ipv4::dissect(d, 4, usize::MAX),
            Some(6) => ipv6::dissect(d, 4, usize::MAX),
            _ => d.stretch_last(usize::MAX),
        }
    }
}

fn decode_null(lb: &mut LayerBuilder, big_endian: bool) -> Result<(Option<u8>, String), Malformed> {
    let b = lb.slice(field::NULL_FAMILY)?;
    let raw = [b[0], b[1], b[2], b[3]];
    // DLT_NULL is in the byte order of the machine that captured, which the file does not say.
    // Families are small numbers, so the order that gives a small value is the right one.
    let family = if big_endian || u32::from_le_bytes(raw) > 0xffff {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    };
    lb.field(
        field::NULL_FAMILY,
        "null.family",
        "Family",
        Value::U64(family.into()),
    );
    // 2 is AF_INET everywhere; AF_INET6 is 10 on Linux, 24, 28 or 30 on the BSDs and macOS.
    let (version, name) = match family {
        2 => (Some(4), "IPv4"),
        10 | 24 | 28 | 30 => (Some(6), "IPv6"),
        _ => (None, "unknown"),
    };
    lb.note(
        "BSD loopback header: 4 bytes naming the address family, written by the capture, not \
        sent on any wire",
    );
    Ok((version, format!("Family: {name} ({family})")))
}

fn sll(d: &mut Dissector) {
    let mut lb = link_layer(d, 0, usize::MAX, Protocol::LinuxSll);
    let r = decode_sll(&mut lb);
    if let Some(proto) = d.push_result(lb, r) {
        network(d, proto, field::SLL_LEN);
    }
}

fn decode_sll(lb: &mut LayerBuilder) -> Result<(u16, String), Malformed> {
    lb.need(field::SLL_LEN)?;
    let pkttype = lb.u16(field::SLL_PKTTYPE, "sll.pkttype", "Packet type")?;
    let hatype = lb.u16(field::SLL_HATYPE, "sll.hatype", "Link-layer address type")?;
    let halen = lb.u16(field::SLL_HALEN, "sll.halen", "Link-layer address length")?;
    let addr = sll_address(lb, field::SLL_ADDR, halen.into())?;
    let proto = lb.u16(field::SLL_PROTO, "sll.etype", "Protocol")?;
    lb.note(COOKED);
    Ok((proto, sll_summary(pkttype, hatype, &addr, proto)))
}

fn sll2(d: &mut Dissector) {
    let mut lb = link_layer(d, 0, usize::MAX, Protocol::LinuxSll2);
    let r = decode_sll2(&mut lb);
    if let Some(proto) = d.push_result(lb, r) {
        network(d, proto, field::SLL2_LEN);
    }
}

fn decode_sll2(lb: &mut LayerBuilder) -> Result<(u16, String), Malformed> {
    lb.need(field::SLL2_LEN)?;
    let proto = lb.u16(field::SLL2_PROTO, "sll.etype", "Protocol")?;
    lb.u16(field::SLL2_RESERVED, "sll.unused", "Reserved")?;
    let ifindex = lb.u32(field::SLL2_IFINDEX, "sll.ifindex", "Interface index")?;
    let hatype = lb.u16(field::SLL2_HATYPE, "sll.hatype", "Link-layer address type")?;
    let pkttype = lb.u8(field::SLL2_PKTTYPE, "sll.pkttype", "Packet type")?;
    let halen = lb.u8(field::SLL2_HALEN, "sll.halen", "Link-layer address length")?;
    let addr = sll_address(lb, field::SLL2_ADDR, halen.into())?;
    lb.note(COOKED);
    let mut s = sll_summary(pkttype.into(), hatype, &addr, proto);
    s.push_str(&format!(", ifindex {ifindex}"));
    Ok((proto, s))
}

/// The 8-byte address slot of a cooked header: `halen` bytes of it are the sender's address.
fn sll_address(lb: &mut LayerBuilder, at: usize, halen: usize) -> Result<String, Malformed> {
    let slot = lb.slice(at..at + 8)?;
    let used = halen.min(8);
    if halen == 6 {
        let mut m = [0u8; 6];
        m.copy_from_slice(&slot[..6]);
        lb.field(at..at + 6, "sll.src.eth", "Source", Value::Mac(MacAddr(m)));
        Ok(MacAddr(m).to_string())
    } else {
        lb.field_with(at..at + 8, "sll.src.other", "Source", || {
            Value::Bytes(slot[..used].to_vec())
        });
        Ok(Value::Bytes(slot[..used].to_vec()).to_string())
    }
}

fn sll_summary(pkttype: u16, hatype: u16, addr: &str, proto: u16) -> String {
    let dir = match pkttype {
        0 => "Unicast to us",
        1 => "Broadcast",
        2 => "Multicast",
        3 => "Unicast to another host",
        4 => "Sent by us",
        _ => "Unknown packet type",
    };
    let hw = match hatype {
        1 => "Ethernet",
        772 => "Loopback",
        776 => "IPv6-in-IPv4",
        65534 => "None",
        _ => "other",
    };
    format!(
        "{dir}, {hw} ({hatype}) address {}, Protocol: {} (0x{proto:04x})",
        if addr.is_empty() { "-" } else { addr },
        ethertype_name(proto)
    )
}

/// Raw IP (101, 228, 229): the frame is the IP packet.
fn raw_ip(d: &mut Dissector, version: Option<u8>) {
    let version = version.or_else(|| d.frame.first().map(|b| b >> 4));
    match version {
        Some(6) => ipv6::dissect(d, 0, usize::MAX),
        _ => ipv4::dissect(d, 0, usize::MAX),
    }
    let keep = !d.ctx.summaries_only;
    if let Some(first) = d.layers_mut().first_mut().filter(|_| keep) {
        first.notes.insert(0, Cow::Borrowed(RAW_IP));
    }
}

fn unsupported(d: &mut Dissector, link: LinkType) {
    let mut lb = link_layer(d, 0, usize::MAX, Protocol::Data);
    lb.cover(lb.available());
    lb.field(
        0..lb.available(),
        "data.len",
        "Length",
        Value::U64(lb.available() as u64),
    );
    lb.note_with(|| format!(
        "link type {} is not one this inspector decodes (it knows 0, 1, 101, 108, 113, 228, 229 and 276)",
        link.0
    ));
    let summary = format!(
        "{} bytes of link type {}, not decoded",
        d.frame.len(),
        link.0
    );
    d.push(lb.finish(summary));
}

/// Ethernet frames shorter than 60 bytes are padded; say so instead of leaving bytes unexplained.
/// Runs once all layers are in (`out.layers` holds only this packet's).
pub(super) fn note_padding(d: &mut Dissector) {
    let (Some(end), Some(first)) = (d.network_end, d.out.layers.first_mut()) else {
        return;
    };
    if first.protocol != Protocol::Ethernet || d.ctx.summaries_only {
        return;
    }
    let Some(pad) = d.frame.get(end..).filter(|p| !p.is_empty()) else {
        return;
    };
    first.fields.push(crate::model::Field {
        name: "eth.padding",
        label: "Padding",
        value: Value::Bytes(pad.to_vec()),
        offset: end,
        len: pad.len(),
    });
    first.notes.push(Cow::Owned(format!(
        "{} bytes of padding after the packet: Ethernet frames are at least 60 bytes long",
        pad.len()
    )));
}

pub(crate) fn ethertype_name(etype: u16) -> &'static str {
    match etype {
        ethertype::IPV4 => "IPv4",
        ethertype::IPV6 => "IPv6",
        ethertype::ARP => "ARP",
        ethertype::VLAN => "802.1Q",
        ethertype::QINQ => "802.1ad",
        0x88cc => "LLDP",
        0x8863 | 0x8864 => "PPPoE",
        0x8847 => "MPLS",
        _ => "unknown",
    }
}

// ---- building: the inverse of the parsers above, for fixtures, tests and lessons ----

/// An Ethernet II frame: destination, source, EtherType, then `payload`.
pub fn build_ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An 802.1Q tag (priority, VLAN id) followed by the inner EtherType and `payload`: it goes
/// after an Ethernet header whose EtherType is 0x8100 (or 0x88a8 for the outer tag of Q-in-Q).
pub fn build_vlan_tag(priority: u8, id: u16, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let tci = (u16::from(priority & 7) << 13) | (id & 0x0fff);
    let mut f = Vec::with_capacity(4 + payload.len());
    f.extend_from_slice(&tci.to_be_bytes());
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::dissect;

    /// A tagged frame built here reads back as the values it was built from, at the offsets
    /// the standards give them.
    #[test]
    fn a_tagged_frame_built_here_dissects_to_its_fields() {
        let dst = [0xff; 6];
        let src = [0x02, 0, 0, 0, 0, 0x01];
        let ip = super::ipv4::Ipv4Header::new([192, 0, 2, 1], [192, 0, 2, 2], 253).build(b"");
        let tag = build_vlan_tag(3, 100, ethertype::IPV4, &ip);
        let frame = build_ethernet(dst, src, ethertype::VLAN, &tag);
        let d = dissect(LinkType::ETHERNET, &frame);
        let eth = d.layer(Protocol::Ethernet).expect("an Ethernet layer");
        assert_eq!(eth.byte_range, 0..14);
        let f = |name| d.field(name).expect(name);
        assert_eq!(f("eth.dst").value, Value::Mac(MacAddr(dst)));
        assert_eq!(f("eth.src").value, Value::Mac(MacAddr(src)));
        assert_eq!((f("eth.src").offset, f("eth.src").len), (6, 6));
        assert_eq!(f("eth.type").value, Value::U64(0x8100));
        assert_eq!(f("vlan.priority").value, Value::U64(3));
        assert_eq!(f("vlan.id").value, Value::U64(100));
        assert_eq!((f("vlan.id").offset, f("vlan.etype").offset), (14, 16));
        assert_eq!(f("vlan.etype").value, Value::U64(0x0800));
        assert_eq!(
            d.layer(Protocol::Ipv4).map(|l| l.byte_range.clone()),
            Some(18..38)
        );
    }
}
