//! Building frames byte by byte, with correct lengths and checksums: for the committed fixture
//! captures, tests, benchmarks, and lessons that want to show a packet being put together.
//! Each builder returns the bytes of one header followed by its payload.

use std::net::IpAddr;

/// The EtherTypes and IP protocol numbers the builders use.
pub mod num {
    pub const ETH_IPV4: u16 = 0x0800;
    pub const ETH_IPV6: u16 = 0x86dd;
    pub const ETH_ARP: u16 = 0x0806;
    pub const ETH_VLAN: u16 = 0x8100;
    pub const IP_ICMP: u8 = 1;
    pub const IP_TCP: u8 = 6;
    pub const IP_UDP: u8 = 17;
    pub const IP_ICMPV6: u8 = 58;
}

/// Ethernet II: destination, source, EtherType, payload.
pub fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An 802.1Q tag (priority, VLAN id) followed by the inner EtherType and payload: put it after
/// an Ethernet header whose EtherType is 0x8100.
pub fn vlan_tag(priority: u8, id: u16, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let tci = (u16::from(priority & 7) << 13) | (id & 0x0fff);
    let mut f = Vec::with_capacity(4 + payload.len());
    f.extend_from_slice(&tci.to_be_bytes());
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An IPv4 header. `options` must be a multiple of 4 bytes long.
#[derive(Debug, Clone)]
pub struct Ipv4 {
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

impl Ipv4 {
    pub fn new(src: [u8; 4], dst: [u8; 4], proto: u8) -> Self {
        Ipv4 {
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
        let ihl = 20 + self.options.len();
        let total = (ihl + payload.len()) as u16;
        let ff = (u16::from(self.dont_fragment) << 14)
            | (u16::from(self.more_fragments) << 13)
            | (self.frag_offset & 0x1fff);
        let mut h = Vec::with_capacity(ihl + payload.len());
        h.push(0x40 | (ihl / 4) as u8);
        h.push(0);
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&self.id.to_be_bytes());
        h.extend_from_slice(&ff.to_be_bytes());
        h.push(self.ttl);
        h.push(self.proto);
        h.extend_from_slice(&[0, 0]);
        h.extend_from_slice(&self.src);
        h.extend_from_slice(&self.dst);
        h.extend_from_slice(&self.options);
        let sum = checksum(&[&h[..ihl]]);
        h[10..12].copy_from_slice(&sum.to_be_bytes());
        h.extend_from_slice(payload);
        h
    }
}

/// An IPv6 header followed by `rest` (extension headers, then the transport). `next` is the
/// type of the first header in `rest`.
pub fn ipv6(src: [u8; 16], dst: [u8; 16], next: u8, hop_limit: u8, rest: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(40 + rest.len());
    h.extend_from_slice(&0x6000_0000u32.to_be_bytes());
    h.extend_from_slice(&(rest.len() as u16).to_be_bytes());
    h.push(next);
    h.push(hop_limit);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(rest);
    h
}

/// An IPv6 extension header of the options layout (hop-by-hop, destination options) holding
/// `next` and padding (PadN) up to 8 bytes, followed by `rest`.
pub fn ipv6_options_header(next: u8, rest: &[u8]) -> Vec<u8> {
    let mut h = vec![next, 0, 1, 4, 0, 0, 0, 0];
    h.extend_from_slice(rest);
    h
}

/// An IPv6 fragment header followed by `rest`.
pub fn ipv6_fragment_header(
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

/// A TCP header. `options` must be a multiple of 4 bytes long.
#[derive(Debug, Clone, Default)]
pub struct Tcp {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    /// The 12 flag bits, as in [`crate::model::TcpSummary`].
    pub flags: u16,
    pub window: u16,
    pub options: Vec<u8>,
}

impl Tcp {
    /// The segment with its checksum over the pseudo-header of `src` and `dst`.
    pub fn build(&self, src: IpAddr, dst: IpAddr, payload: &[u8]) -> Vec<u8> {
        let hl = 20 + self.options.len();
        let mut h = Vec::with_capacity(hl + payload.len());
        h.extend_from_slice(&self.src_port.to_be_bytes());
        h.extend_from_slice(&self.dst_port.to_be_bytes());
        h.extend_from_slice(&self.seq.to_be_bytes());
        h.extend_from_slice(&self.ack.to_be_bytes());
        h.extend_from_slice(&(((hl as u16 / 4) << 12) | (self.flags & 0x0fff)).to_be_bytes());
        h.extend_from_slice(&self.window.to_be_bytes());
        h.extend_from_slice(&[0, 0, 0, 0]);
        h.extend_from_slice(&self.options);
        h.extend_from_slice(payload);
        let sum = transport_checksum(src, dst, 6, &h);
        h[16..18].copy_from_slice(&sum.to_be_bytes());
        h
    }
}

/// A UDP datagram with its checksum.
pub fn udp(src: IpAddr, dst: IpAddr, src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(8 + payload.len());
    h.extend_from_slice(&src_port.to_be_bytes());
    h.extend_from_slice(&dst_port.to_be_bytes());
    h.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(payload);
    let sum = transport_checksum(src, dst, 17, &h);
    h[6..8].copy_from_slice(&sum.to_be_bytes());
    h
}

/// An ICMPv4 message: type, code, the 4 type-specific bytes, then `data` (for errors: the
/// offending packet's start).
pub fn icmpv4(ty: u8, code: u8, rest: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mut h = vec![ty, code, 0, 0];
    h.extend_from_slice(&rest);
    h.extend_from_slice(data);
    let sum = checksum(&[&h]);
    h[2..4].copy_from_slice(&sum.to_be_bytes());
    h
}

/// An ICMPv6 message with its checksum over the IPv6 pseudo-header.
pub fn icmpv6(
    src: [u8; 16],
    dst: [u8; 16],
    ty: u8,
    code: u8,
    rest: [u8; 4],
    data: &[u8],
) -> Vec<u8> {
    let mut h = vec![ty, code, 0, 0];
    h.extend_from_slice(&rest);
    h.extend_from_slice(data);
    let sum = transport_checksum(IpAddr::from(src), IpAddr::from(dst), 58, &h);
    h[2..4].copy_from_slice(&sum.to_be_bytes());
    h
}

/// The Internet checksum (RFC 1071) over the concatenation of `parts`.
pub fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for part in parts {
        for &b in *part {
            match odd.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// TCP/UDP/ICMPv6 checksum: the segment plus a pseudo-header of addresses, protocol, length.
fn transport_checksum(src: IpAddr, dst: IpAddr, proto: u8, segment: &[u8]) -> u16 {
    let len = segment.len() as u32;
    let sum = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut p = Vec::with_capacity(12);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&[0, proto]);
            p.extend_from_slice(&(len as u16).to_be_bytes());
            checksum(&[&p, segment])
        }
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V6(a) => a.octets(),
                IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            };
            let mut p = Vec::with_capacity(40);
            p.extend_from_slice(&v6(s));
            p.extend_from_slice(&v6(d));
            p.extend_from_slice(&len.to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, proto]);
            checksum(&[&p, segment])
        }
    };
    // UDP sends a computed 0 as 0xffff (0 means "no checksum").
    if sum == 0 && proto == 17 { 0xffff } else { sum }
}
