//! Link-layer headers, one per link type, and the EtherType dispatch that follows them.

use std::borrow::Cow;

use super::{Dissector, LayerBuilder, Malformed, arp, ipv4, ipv6};
use crate::model::summary::{self, Summary};
use crate::model::{FixedField, LinkType, MacAddr, Protocol, Value};

/// EtherType values this dissector follows.
pub(crate) mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service tag (Q-in-Q): the same 4-byte layout as 802.1Q.
    pub const QINQ: u16 = 0x88a8;
    pub const IPV6: u16 = 0x86dd;
}

/// The headers' fields, each declared once: the parsers read them, the builders write them,
/// and the filter's registry takes their names from `field::NAMES`. A cooked header comes in
/// two layouts (SLL and SLL2) with the same names at different places.
pub(super) mod field {
    crate::model::fields! {
        ETH_DST = "eth.dst", "Destination", 0..6;
        ETH_SRC = "eth.src", "Source", 6..12;
        ETH_TYPE = "eth.type", "Type", 12..14;
        /// An IEEE 802.3 frame has a length where Ethernet II has its type.
        ETH_8023_LEN = "eth.len", "Length", 12..14;
        /// The bytes after the packet in a frame padded to 60 bytes.
        ETH_PADDING = "eth.padding", "Padding";
        VLAN_PRIORITY = "vlan.priority", "Priority (PCP)", 0..2;
        VLAN_DEI = "vlan.dei", "Drop eligible (DEI)", 0..2;
        VLAN_ID = "vlan.id", "VLAN ID", 0..2;
        VLAN_ETYPE = "vlan.etype", "Type", 2..4;
        /// Wireshark decodes the outer (service) tag of Q-in-Q with its own `ieee8021ad`
        /// names, in the layout of an 802.1Q tag.
        QINQ_PRIORITY = "ieee8021ad.priority", "Priority (PCP)", 0..2;
        QINQ_DEI = "ieee8021ad.dei", "Drop eligible (DEI)", 0..2;
        QINQ_ID = "ieee8021ad.id", "VLAN ID", 0..2;
        QINQ_ETYPE = "ieee8021ad.etype", "Type", 2..4;
        NULL_FAMILY = "null.family", "Family", 0..4;
        SLL_PKTTYPE = "sll.pkttype", "Packet type", 0..2;
        SLL_HATYPE = "sll.hatype", "Link-layer address type", 2..4;
        SLL_HALEN = "sll.halen", "Link-layer address length", 4..6;
        SLL_PROTO = "sll.etype", "Protocol", 14..16;
        SLL2_PROTO = "sll.etype", "Protocol", 0..2;
        SLL2_RESERVED = "sll.unused", "Reserved", 2..4;
        SLL2_IFINDEX = "sll.ifindex", "Interface index", 4..8;
        SLL2_HATYPE = "sll.hatype", "Link-layer address type", 8..10;
        SLL2_PKTTYPE = "sll.pkttype", "Packet type", 10..11;
        SLL2_HALEN = "sll.halen", "Link-layer address length", 11..12;
        /// The sender's address in the 8-byte slot of a cooked header: an Ethernet address, or
        /// `halen` bytes of another kind.
        SLL_SRC_ETH = "sll.src.eth", "Source";
        SLL_SRC_OTHER = "sll.src.other", "Source";
        /// A frame of a link type this inspector does not decode.
        DATA_LEN = "data.len", "Length";
    }
    pub const ETH_LEN: usize = 14;
    pub const VLAN_TCI: std::ops::Range<usize> = 0..2;
    pub const VLAN_LEN: usize = 4;
    pub const SLL_ADDR: usize = 6;
    pub const SLL_LEN: usize = 16;
    pub const SLL2_ADDR: usize = 12;
    pub const SLL2_LEN: usize = 20;
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
    let dst = lb.mac(field::ETH_DST)?;
    let src = lb.mac(field::ETH_SRC)?;
    let etype = lb.read_u16(field::ETH_TYPE.bytes.start)?;
    if etype < 0x0600 {
        // An IEEE 802.3 frame: the field is a length and an LLC header follows.
        lb.fixed(field::ETH_8023_LEN, Value::U64(etype.into()));
        return Err(lb.invalid(
            field::ETH_TYPE.bytes.start,
            format!(
                "802.3 length field {etype} with an LLC header: only Ethernet II frames are decoded"
            ),
        ));
    }
    lb.u16(field::ETH_TYPE)?;
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
        ethertype::VLAN => vlan(d, at, VLAN_FIELDS),
        ethertype::QINQ => vlan(d, at, QINQ_FIELDS),
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

/// A tag's fields: the outer (service) tag of Q-in-Q has names of its own.
struct TagFields {
    protocol: Protocol,
    priority: FixedField,
    dei: FixedField,
    id: FixedField,
    etype: FixedField,
}

const VLAN_FIELDS: TagFields = TagFields {
    protocol: Protocol::Vlan,
    priority: field::VLAN_PRIORITY,
    dei: field::VLAN_DEI,
    id: field::VLAN_ID,
    etype: field::VLAN_ETYPE,
};

const QINQ_FIELDS: TagFields = TagFields {
    protocol: Protocol::QinQ,
    priority: field::QINQ_PRIORITY,
    dei: field::QINQ_DEI,
    id: field::QINQ_ID,
    etype: field::QINQ_ETYPE,
};

/// How many stacked VLAN tags are decoded. Real networks stack two (Q-in-Q), rarely three; a
/// crafted frame can stack sixteen thousand, and decoding each inside the one before would
/// exhaust the stack, so the rest is left as bytes with a note.
const MAX_STACKED_TAGS: usize = 8;

fn vlan(d: &mut Dissector, start: usize, tag: TagFields) {
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
    let mut lb = link_layer(d, start, usize::MAX, tag.protocol);
    let r = decode_vlan(&mut lb, tag);
    if let Some(etype) = d.push_result(lb, r) {
        network(d, etype, start + field::VLAN_LEN);
    }
}

fn decode_vlan(lb: &mut LayerBuilder, tag: TagFields) -> Result<(u16, String), Malformed> {
    lb.need(field::VLAN_LEN)?;
    let tci = lb.read_u16(field::VLAN_TCI.start)?;
    let (pcp, dei, id) = (tci >> 13, (tci >> 12) & 1 == 1, tci & 0x0fff);
    lb.bits(tag.priority, pcp.into());
    lb.flag(tag.dei, dei);
    lb.bits(tag.id, id.into());
    let etype = lb.u16(tag.etype)?;
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
    let b = lb.slice(field::NULL_FAMILY.bytes)?;
    let raw = [b[0], b[1], b[2], b[3]];
    // DLT_NULL is in the byte order of the machine that captured, which the file does not say.
    // Families are small numbers, so the order that gives a small value is the right one.
    let family = if big_endian || u32::from_le_bytes(raw) > 0xffff {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    };
    lb.fixed(field::NULL_FAMILY, Value::U64(family.into()));
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
    let pkttype = lb.u16(field::SLL_PKTTYPE)?;
    let hatype = lb.u16(field::SLL_HATYPE)?;
    let halen = lb.u16(field::SLL_HALEN)?;
    let addr = sll_address(lb, field::SLL_ADDR, halen.into())?;
    let proto = lb.u16(field::SLL_PROTO)?;
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
    let proto = lb.u16(field::SLL2_PROTO)?;
    lb.u16(field::SLL2_RESERVED)?;
    let ifindex = lb.u32(field::SLL2_IFINDEX)?;
    let hatype = lb.u16(field::SLL2_HATYPE)?;
    let pkttype = lb.u8(field::SLL2_PKTTYPE)?;
    let halen = lb.u8(field::SLL2_HALEN)?;
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
        lb.field(at..at + 6, field::SLL_SRC_ETH, Value::Mac(MacAddr(m)));
        Ok(MacAddr(m).to_string())
    } else {
        lb.field_with(at..at + 8, field::SLL_SRC_OTHER, || {
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
    let len = lb.available();
    lb.field(0..len, field::DATA_LEN, Value::U64(len as u64));
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
        name: field::ETH_PADDING.name,
        label: field::ETH_PADDING.label,
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
    let mut f = vec![0; field::ETH_LEN + payload.len()];
    f[field::ETH_DST.bytes].copy_from_slice(&dst);
    f[field::ETH_SRC.bytes].copy_from_slice(&src);
    f[field::ETH_TYPE.bytes].copy_from_slice(&ethertype.to_be_bytes());
    f[field::ETH_LEN..].copy_from_slice(payload);
    f
}

/// An 802.1Q tag (priority, VLAN id) followed by the inner EtherType and `payload`: it goes
/// after an Ethernet header whose EtherType is 0x8100 (or 0x88a8 for the outer tag of Q-in-Q).
pub fn build_vlan_tag(priority: u8, id: u16, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let tci = (u16::from(priority & 7) << 13) | (id & 0x0fff);
    let mut f = vec![0; field::VLAN_LEN + payload.len()];
    f[field::VLAN_TCI].copy_from_slice(&tci.to_be_bytes());
    f[field::VLAN_ETYPE.bytes].copy_from_slice(&ethertype.to_be_bytes());
    f[field::VLAN_LEN..].copy_from_slice(payload);
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
