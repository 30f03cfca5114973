//! Frames built byte by byte, with correct lengths and checksums: for the committed fixture
//! captures, tests, benchmarks, and lessons that want to show a packet being put together.
//!
//! Each builder lives in its protocol's module, next to the parser it is the inverse of (a
//! student reading `dissect/tcp.rs` finds a SYN's bytes and its fields side by side, in the
//! test at the end of that file); this module gathers them under short names. Each builder
//! returns the bytes of one header followed by its payload.

pub use crate::dissect::checksum;
pub use crate::dissect::icmp::{build_icmpv4 as icmpv4, build_icmpv6 as icmpv6};
pub use crate::dissect::ipv4::Ipv4Header as Ipv4;
pub use crate::dissect::ipv6::{
    build_fragment_header as ipv6_fragment_header, build_ipv6 as ipv6,
    build_options_header as ipv6_options_header,
};
pub use crate::dissect::link::{build_ethernet as ethernet, build_vlan_tag as vlan_tag};
pub use crate::dissect::tcp::TcpHeader as Tcp;
pub use crate::dissect::udp::build_udp as udp;

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
