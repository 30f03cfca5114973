//! The data model every other module shares: a captured packet, and what the dissector says about
//! it. Sources produce [`RawPacket`]s, [`crate::dissect`] turns one into a [`Dissection`], flows add
//! a [`FlowAnnotation`], and the renderers, filters and sinks only read these types.

pub mod summary;

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use serde::{Serialize, Serializer};

pub use summary::Summary;

/// A link-layer header type as numbered by tcpdump.org's LINKTYPE_ registry (pcap and pcapng use
/// the same numbers). Kept as a number, not an enum, so an unknown type read from a file survives
/// a round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: a 4-byte address family in host byte order (DLT_NULL).
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP as DLT_RAW on most platforms (101 in files).
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD and macOS lo0: like NULL but the family is big-endian.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux "cooked" capture, v1: what `tcpdump -i any` writes.
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    /// Linux "cooked" capture, v2 (carries the interface index).
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// A capture timestamp: seconds and nanoseconds since the Unix epoch. Nanoseconds because pcapng
/// and Linux give them; microsecond pcap files simply have zeros at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Timestamp {
    /// Seconds as a float, for relative and delta time columns.
    pub fn as_secs_f64(self) -> f64 {
        self.secs as f64 + f64::from(self.nanos) / 1e9
    }
}

/// One packet as a source delivered it. `bytes` may be shorter than `orig_len` when the capture
/// had a snap length; the dissector then reports truncation rather than guessing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPacket {
    pub ts: Timestamp,
    pub link_type: LinkType,
    /// Length of the packet on the wire, before any snap-length truncation.
    pub orig_len: u32,
    pub bytes: Vec<u8>,
}

impl RawPacket {
    /// A packet with no bytes and no allocation: what a reader's `read_into` is handed the first
    /// time, to be overwritten (so its time and link type mean nothing). Also `Default`.
    pub fn empty() -> Self {
        RawPacket {
            ts: Timestamp::default(),
            link_type: LinkType::ETHERNET,
            orig_len: 0,
            bytes: Vec::new(),
        }
    }
}

impl Default for RawPacket {
    fn default() -> Self {
        RawPacket::empty()
    }
}

/// The seven OSI layers. The Internet does not follow this model (session and presentation live
/// inside applications), which is why every [`Layer`] also carries its [`TcpIpLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum OsiLayer {
    Physical = 1,
    DataLink = 2,
    Network = 3,
    Transport = 4,
    Session = 5,
    Presentation = 6,
    Application = 7,
}

impl OsiLayer {
    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            OsiLayer::Physical => "Physical",
            OsiLayer::DataLink => "Data link",
            OsiLayer::Network => "Network",
            OsiLayer::Transport => "Transport",
            OsiLayer::Session => "Session",
            OsiLayer::Presentation => "Presentation",
            OsiLayer::Application => "Application",
        }
    }
}

/// The four layers of the TCP/IP (Internet) model, RFC 1122's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum TcpIpLayer {
    Link,
    Internet,
    Transport,
    Application,
}

impl TcpIpLayer {
    pub fn name(self) -> &'static str {
        match self {
            TcpIpLayer::Link => "Link",
            TcpIpLayer::Internet => "Internet",
            TcpIpLayer::Transport => "Transport",
            TcpIpLayer::Application => "Application",
        }
    }
}

/// Every protocol a layer can be, with the name the layer chain shows and where it sits in the
/// OSI and TCP/IP models. Compared as a value (`layer.protocol == Protocol::Tcp`), never by its
/// name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Ethernet,
    /// An 802.1Q VLAN tag.
    Vlan,
    /// An 802.1ad (Q-in-Q) service tag, the outer of two VLAN tags.
    QinQ,
    /// BSD loopback's 4-byte address family (link types NULL and LOOP).
    NullLoopback,
    /// Linux "cooked" capture, v1 (`tcpdump -i any`).
    LinuxSll,
    /// Linux "cooked" capture, v2.
    LinuxSll2,
    /// The bytes of a frame whose link type is not decoded.
    Data,
    Arp,
    Ipv4,
    Ipv6,
    Icmp,
    Icmpv6,
    Tcp,
    Udp,
    Http,
    WebSocket,
    Dns,
    Tls,
    /// netlab echo (port 7007).
    Echo,
    /// netlab's event protocol (port 7070, or inside WebSocket).
    Events,
    /// socket.io's transport protocol, in WebSocket frames and long-polling bodies.
    EngineIo,
    /// socket.io's packets (namespaces, events, acks), inside Engine.IO messages.
    SocketIo,
    /// Where decoding stopped: the bytes from here on could not be decoded.
    Malformed,
}

impl Protocol {
    /// The name in the layer chain, the Protocol column and the JSON: "IPv4", "802.1Q", ...
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Ethernet => "Ethernet",
            Protocol::Vlan => "802.1Q",
            Protocol::QinQ => "802.1ad",
            Protocol::NullLoopback => "Null/Loopback",
            Protocol::LinuxSll => "Linux SLL",
            Protocol::LinuxSll2 => "Linux SLL2",
            Protocol::Data => "Data",
            Protocol::Arp => "ARP",
            Protocol::Ipv4 => "IPv4",
            Protocol::Ipv6 => "IPv6",
            Protocol::Icmp => "ICMP",
            Protocol::Icmpv6 => "ICMPv6",
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Http => "HTTP",
            Protocol::WebSocket => "WebSocket",
            Protocol::Dns => "DNS",
            Protocol::Tls => "TLS",
            Protocol::Echo => "Echo",
            Protocol::Events => "Events",
            Protocol::EngineIo => "Engine.IO",
            Protocol::SocketIo => "Socket.IO",
            Protocol::Malformed => "malformed",
        }
    }

    /// Its OSI layer. ARP sits between 2 and 3; it is shown with the link layer that carries
    /// it, as Wireshark does. TLS is the textbook presentation layer. A malformed layer keeps
    /// the layers of the protocol that failed (see [`Layer::osi`]), so this is never asked of
    /// it; it answers with the data link layer.
    pub fn osi(self) -> OsiLayer {
        match self {
            Protocol::Ethernet
            | Protocol::Vlan
            | Protocol::QinQ
            | Protocol::NullLoopback
            | Protocol::LinuxSll
            | Protocol::LinuxSll2
            | Protocol::Data
            | Protocol::Arp
            | Protocol::Malformed => OsiLayer::DataLink,
            Protocol::Ipv4 | Protocol::Ipv6 | Protocol::Icmp | Protocol::Icmpv6 => {
                OsiLayer::Network
            }
            Protocol::Tcp | Protocol::Udp => OsiLayer::Transport,
            Protocol::Tls => OsiLayer::Presentation,
            Protocol::Http
            | Protocol::WebSocket
            | Protocol::Dns
            | Protocol::Echo
            | Protocol::Events
            | Protocol::EngineIo
            | Protocol::SocketIo => OsiLayer::Application,
        }
    }

    /// Its layer in the TCP/IP model.
    pub fn tcpip(self) -> TcpIpLayer {
        match self.osi() {
            OsiLayer::Physical | OsiLayer::DataLink => TcpIpLayer::Link,
            OsiLayer::Network => TcpIpLayer::Internet,
            OsiLayer::Transport => TcpIpLayer::Transport,
            OsiLayer::Session | OsiLayer::Presentation | OsiLayer::Application => {
                TcpIpLayer::Application
            }
        }
    }
}

/// Its name; padded when a width is asked for (`{:<10}`), as a `str` is.
impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// Written as its name, as the layer chain shows it.
impl Serialize for Protocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Why an application-layer protocol was chosen for a payload: students should see that a
/// dissector guesses, and on what evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A well-known or configured port, e.g. 53 for DNS or 7007 for netlab echo.
    Port(u16),
    /// The bytes themselves look like the protocol (e.g. start with `GET `).
    Content,
    /// An earlier packet on the same flow switched protocols (HTTP 101 Switching Protocols).
    Upgrade,
}

/// A decoded value. Kept typed so filters can compare numbers and addresses (`host 127.0.0.1`
/// compares addresses, not spellings), and JSON stays exact: numbers and flags are JSON numbers
/// and booleans, everything else its display text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    U64(u64),
    Text(String),
    /// Serialized as "aa:bb:cc", as Wireshark prints bytes.
    Bytes(Vec<u8>),
    /// Serialized as its dotted text, e.g. "127.0.0.1".
    Ipv4(Ipv4Addr),
    /// Serialized as its compressed text, e.g. "::1".
    Ipv6(Ipv6Addr),
    /// Serialized as "00:11:22:33:44:55", as Wireshark prints it.
    Mac(MacAddr),
}

impl Value {
    /// The number, for U64 and Bool (true is 1) values.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::U64(n) => Some(*n),
            Value::Bool(b) => Some(u64::from(*b)),
            _ => None,
        }
    }

    /// The address, for Ipv4 and Ipv6 values.
    pub fn as_ip(&self) -> Option<IpAddr> {
        match self {
            Value::Ipv4(a) => Some(IpAddr::V4(*a)),
            Value::Ipv6(a) => Some(IpAddr::V6(*a)),
            _ => None,
        }
    }

    /// The text, for Text values.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// A 48-bit Ethernet (MAC) address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// All zeros: what Linux puts in both Ethernet addresses of a loopback frame.
    pub fn is_zero(self) -> bool {
        self.0 == [0; 6]
    }

    pub fn is_broadcast(self) -> bool {
        self.0 == [0xff; 6]
    }
}

impl std::fmt::Display for MacAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_hex(f, &self.0)
    }
}

/// Bytes as two hex digits each joined by colons ("04:02", "00:11:22:33:44:55"), as Wireshark
/// prints bytes and MAC addresses. The text is built in a buffer and handed over a few dozen
/// bytes at a time rather than with one `{:02x}` per byte, because `--json` writes it through
/// serde_json's escaping, which then runs once per piece instead of once per byte.
fn write_hex(f: &mut impl std::fmt::Write, bytes: &[u8]) -> std::fmt::Result {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (n, chunk) in bytes.chunks(32).enumerate() {
        let mut text = [0u8; 96];
        let mut len = 0;
        for (i, byte) in chunk.iter().enumerate() {
            if n > 0 || i > 0 {
                text[len] = b':';
                len += 1;
            }
            text[len] = DIGITS[usize::from(byte >> 4)];
            text[len + 1] = DIGITS[usize::from(byte & 0xf)];
            len += 2;
        }
        f.write_str(std::str::from_utf8(&text[..len]).expect("hex digits and colons are ASCII"))?;
    }
    Ok(())
}

/// An IPv4 address as dotted text ("127.0.0.1"), the same text as `Ipv4Addr`'s `Display`, made
/// with `itoa` in a buffer: `core::fmt` spends a call on each piece of a format string and goes
/// through padding code for each number, and every view writes two addresses per packet.
pub(crate) struct Dotted {
    text: [u8; 15],
    len: usize,
}

impl Dotted {
    pub(crate) fn new(addr: Ipv4Addr) -> Self {
        let mut dotted = Dotted {
            text: [0; 15],
            len: 0,
        };
        let mut num = itoa::Buffer::new();
        for (i, octet) in addr.octets().into_iter().enumerate() {
            if i > 0 {
                dotted.push(".");
            }
            dotted.push(num.format(octet));
        }
        dotted
    }

    fn push(&mut self, s: &str) {
        self.text[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
        self.len += s.len();
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[..self.len]).expect("digits and dots are ASCII")
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Bool(b) => s.serialize_bool(*b),
            Value::U64(n) => s.serialize_u64(*n),
            Value::Text(t) => s.serialize_str(t),
            other => s.collect_str(other),
        }
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::U64(n) => write!(f, "{n}"),
            Value::Text(s) => f.write_str(s),
            Value::Ipv4(a) => f.write_str(Dotted::new(*a).as_str()),
            Value::Ipv6(a) => write!(f, "{a}"),
            Value::Mac(m) => write_hex(f, &m.0),
            Value::Bytes(b) => write_hex(f, b),
        }
    }
}

/// One named field of a layer. `name` is a dotted filter name in Wireshark's style
/// (`tcp.srcport`, `ip.ttl`, `tcp.flags.syn`); `offset` and `len` are in bytes from the start of
/// the frame, so a hex dump can highlight exactly these bytes. Bit fields share their byte's
/// offset and give `len` 1 (or the bytes the bits span).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub name: &'static str,
    /// Human label, e.g. "Source port".
    pub label: &'static str,
    pub value: Value,
    pub offset: usize,
    pub len: usize,
}

/// What a protocol defines about one of its fields, written once as a constant in the
/// protocol's `field` module: the filter name and the label a recorded [`Field`] gets. Its
/// place varies from packet to packet (an option, a DNS record, an HTTP header line), so the
/// dissector says where it is; a field at a fixed place is a [`FixedField`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    pub name: &'static str,
    pub label: &'static str,
}

impl FieldDef {
    /// The same field with a label that says more about this value (a TCP option's kind is
    /// labelled with the option's name).
    pub const fn labelled(self, label: &'static str) -> FieldDef {
        FieldDef { label, ..self }
    }
}

/// A field at a fixed place in its header: its name and label (as in a [`FieldDef`]) and its
/// bytes, counted from the header's start (smoltcp's `mod field` ranges). The dissector reads those bytes and the
/// builder writes them, so both use the one range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedField {
    pub name: &'static str,
    pub label: &'static str,
    pub bytes: Range<usize>,
}

impl FixedField {
    /// The same field in a header that starts `base` bytes into the layer: the fields of an
    /// IPv6 extension header or of a DNS message over TCP are fixed within their header, and
    /// that header's place varies.
    pub fn offset_by(self, base: usize) -> FixedField {
        FixedField {
            bytes: base + self.bytes.start..base + self.bytes.end,
            ..self
        }
    }

    /// The name and label without the place.
    pub const fn def(&self) -> FieldDef {
        FieldDef {
            name: self.name,
            label: self.label,
        }
    }
}

/// Declares a protocol's fields, each once, as constants: `NAME = "filter.name", "Label";`
/// makes a [`FieldDef`], and `NAME = "filter.name", "Label", 0..2;` a [`FixedField`] at
/// those bytes. It also makes `NAMES`, every filter name declared, which the filter's registry
/// gathers ([`crate::filter::field_names`]): a field cannot be used without being registered.
macro_rules! fields {
    ($($(#[$doc:meta])* $id:ident = $name:literal, $label:literal $(, $bytes:expr)?;)*) => {
        $(
            $(#[$doc])*
            pub const $id: $crate::model::fields!(@type $($bytes)?) =
                $crate::model::fields!(@value $name, $label $(, $bytes)?);
        )*
        /// Every filter name declared above.
        pub const NAMES: &[&str] = &[$($name),*];
    };
    // The helpers below pick the type and the value: with bytes a FixedField, else a FieldDef.
    (@type) => { $crate::model::FieldDef };
    (@type $bytes:expr) => { $crate::model::FixedField };
    (@value $name:literal, $label:literal) => {
        $crate::model::FieldDef { name: $name, label: $label }
    };
    (@value $name:literal, $label:literal, $bytes:expr) => {
        $crate::model::FixedField { name: $name, label: $label, bytes: $bytes }
    };
}
pub(crate) use fields;

/// One layer of a packet: a header (and, for the innermost layer, its payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    /// The protocol's OSI layer; for a malformed layer, that of the protocol that failed.
    pub osi: OsiLayer,
    pub tcpip: TcpIpLayer,
    /// Which protocol this layer is ([`Protocol::Malformed`] where decoding stopped).
    pub protocol: Protocol,
    /// One line, e.g. `43512 → 7007 [ACK] Seq=1 Ack=1 Win=512 Len=5`.
    pub summary: Summary,
    pub fields: Vec<Field>,
    /// Bytes of the frame this layer covers (its header; for the last layer, header and payload).
    pub byte_range: Range<usize>,
    /// Why an application protocol was chosen; `None` for layers decided by a header field.
    pub reason: Option<Reason>,
    /// Teaching notes and capture artefacts: zero MACs on loopback, checksum offload, GSO, where
    /// OSI fits badly. `Cow` because most notes are fixed texts: no allocation per packet.
    pub notes: Vec<Cow<'static, str>>,
}

/// The result of dissecting one frame. Dissection never fails: a broken layer ends the list with
/// a layer whose protocol is "malformed" and whose summary says why, and `malformed` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Dissection {
    pub layers: Vec<Layer>,
    /// Set when a layer could not be decoded: what was wrong and where.
    pub malformed: Option<String>,
    /// Addresses and ports of the outermost IP packet, pulled out of the fields so that table
    /// rows, `host`/`port` filters and the flow tracker need not search them. Derived data, so
    /// not serialized (the fields carry the same facts).
    #[serde(skip)]
    pub endpoints: Option<Endpoints>,
    /// The TCP header's numbers, for the flow tracker. Not serialized (see `endpoints`).
    #[serde(skip)]
    pub tcp: Option<TcpSummary>,
    /// Bytes of the frame that are the transport (TCP or UDP) payload. Not serialized.
    #[serde(skip)]
    pub payload: Option<Range<usize>>,
    /// Set by an HTTP `101 Switching Protocols` with `Upgrade: websocket`: the rest of the
    /// connection speaks WebSocket. The flow tracker reads it (the fields say the same, but a
    /// summaries-only dissection has none). Not serialized.
    #[serde(skip)]
    pub switches_to_websocket: bool,
}

/// Who talks to whom in a packet: the outermost IP addresses and, for TCP and UDP, the ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoints {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol number of the transport (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).
    pub ip_proto: u8,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
}

/// The TCP header numbers the flow tracker needs (raw, not relative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpSummary {
    pub seq: u32,
    pub ack: u32,
    /// The 12 flag bits (FIN is bit 0, SYN bit 1, RST bit 2, PSH bit 3, ACK bit 4, ...).
    pub flags: u16,
    pub window: u16,
    /// Payload bytes of this segment on the wire (from the IP length; the capture may hold
    /// fewer, see [`Dissection::payload`]).
    pub payload_len: u32,
    /// The window scale shift of a window scale option (RFC 7323), as sent (not clamped).
    pub wscale: Option<u8>,
}

impl TcpSummary {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;

    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }
}

impl Dissection {
    /// The first field with this dotted name, searching layers outermost first.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.layers
            .iter()
            .flat_map(|l| l.fields.iter())
            .find(|f| f.name == name)
    }

    /// Where the top layer is: the innermost one that is not "malformed" (a malformed layer
    /// names the one before it). Its protocol is the Protocol column and its summary the Info
    /// column, which is why a summaries-only dissection writes only its summary.
    pub fn top_index(&self) -> Option<usize> {
        self.layers
            .iter()
            .rposition(|l| l.protocol != Protocol::Malformed)
    }

    /// The top layer (see [`Dissection::top_index`]).
    pub fn top_layer(&self) -> Option<&Layer> {
        self.top_index().map(|i| &self.layers[i])
    }

    /// The first layer of this protocol.
    pub fn layer(&self, protocol: Protocol) -> Option<&Layer> {
        self.layers.iter().find(|l| l.protocol == protocol)
    }

    /// The layer chain a student reads left to right: "L2 Ethernet > L3 IPv4 > L4 TCP > L7 HTTP".
    pub fn chain(&self) -> String {
        let mut out = String::new();
        for (i, l) in self.layers.iter().enumerate() {
            if i > 0 {
                out.push_str(" > ");
            }
            out.push('L');
            out.push_str(&l.osi.number().to_string());
            out.push(' ');
            out.push_str(l.protocol.name());
        }
        out
    }
}

/// What the flow tracker adds to a TCP (or UDP) packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct FlowAnnotation {
    /// Stream index per 4-tuple, numbered from 0 in order of first appearance (as Wireshark's
    /// `tcp.stream`).
    pub stream: u32,
    /// Sequence and acknowledgement numbers relative to each direction's initial sequence number.
    pub rel_seq: Option<u32>,
    pub rel_ack: Option<u32>,
    /// Hints such as "SYN, handshake 1/3", "retransmission", "duplicate ACK", "out of order".
    pub notes: Vec<String>,
}

/// A packet as the renderers see it: its number in the capture (from 1), the raw bytes, the
/// dissection and, for TCP and UDP, the flow annotation.
#[derive(Debug, Clone, Default)]
pub struct Packet {
    pub number: u64,
    pub raw: RawPacket,
    pub dissection: Dissection,
    pub flow: Option<FlowAnnotation>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fields! {
        PORT = "x.port", "Port", 2..4;
        NAME = "x.name", "Name";
    }

    /// One declaration gives the constants and the name list, in the order written.
    #[test]
    fn a_declaration_makes_constants_and_names() {
        assert_eq!(PORT.bytes, 2..4);
        assert_eq!((PORT.name, PORT.label), ("x.port", "Port"));
        assert_eq!(NAME.labelled("Host name").label, "Host name");
        assert_eq!(NAME.labelled("Host name").name, "x.name");
        assert_eq!(NAMES, ["x.port", "x.name"]);
        // The same field in a header that starts 40 bytes into the layer.
        assert_eq!(PORT.offset_by(40).bytes, 42..44);
        assert_eq!(
            PORT.def(),
            FieldDef {
                name: "x.port",
                label: "Port"
            }
        );
    }

    /// Values are written as Wireshark writes them, and as serde_json sees them in `--json`.
    #[test]
    fn values_read_as_wireshark_writes_them() {
        for addr in [
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::LOCALHOST,
            Ipv4Addr::new(10, 0, 20, 199),
            Ipv4Addr::BROADCAST,
        ] {
            assert_eq!(Value::Ipv4(addr).to_string(), addr.to_string());
            assert_eq!(Dotted::new(addr).as_str(), addr.to_string());
        }
        let mac = MacAddr([0x00, 0x1b, 0x21, 0xaa, 0xf0, 0x0f]);
        assert_eq!(mac.to_string(), "00:1b:21:aa:f0:0f");
        assert_eq!(Value::Mac(mac).to_string(), "00:1b:21:aa:f0:0f");
        assert_eq!(Value::Bytes(vec![]).to_string(), "");
        assert_eq!(Value::Bytes(vec![4, 2]).to_string(), "04:02");
        // Longer than one of write_hex's pieces: the colon between two pieces is there.
        let bytes: Vec<u8> = (0..=70).collect();
        let expected: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(Value::Bytes(bytes).to_string(), expected.join(":"));
        assert_eq!(
            serde_json::to_string(&Value::Mac(mac)).unwrap(),
            r#""00:1b:21:aa:f0:0f""#
        );
        assert_eq!(
            serde_json::to_string(&Value::Ipv4(Ipv4Addr::LOCALHOST)).unwrap(),
            r#""127.0.0.1""#
        );
    }
}
