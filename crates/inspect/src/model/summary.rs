//! A layer's one-line summary, e.g. `43512 → 7007 [ACK] Seq=1 Ack=1 Win=512 Len=5`.
//!
//! The headers under almost every packet (Ethernet, IPv4, UDP, TCP) keep their summary as the
//! handful of values it is written from, and `Display` writes the line when someone reads it:
//! the one-line view shows only the top layer's summary, so the others are never written there.
//! Keeping TCP's as data also lets the flow tracker add the relative numbers it works out later.
//! Every other protocol hands over its line as finished text.

use std::borrow::Cow;
use std::fmt;
use std::net::Ipv4Addr;

use serde::{Serialize, Serializer};

use super::{Dotted, MacAddr, TcpSummary};

/// A layer's one-line summary.
#[derive(Clone, PartialEq, Eq)]
pub enum Summary {
    /// Finished text (every protocol but the four below).
    Text(String),
    Ethernet(Ethernet),
    Ipv4(Ipv4),
    Udp(Udp),
    Tcp(Tcp),
}

/// `Src: 00:00:00:00:00:00, Dst: 00:00:00:00:00:00, Type: IPv4 (0x0800)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ethernet {
    pub src: MacAddr,
    pub dst: MacAddr,
    pub ethertype: u16,
    /// The EtherType's name ("IPv4", "ARP", "unknown").
    pub type_name: &'static str,
}

/// `Src: 127.0.0.1, Dst: 127.0.0.1, TTL: 64, Protocol: UDP (17)`, and for a fragment
/// `, Fragment offset: 1480, MF`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4 {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub proto: u8,
    /// The protocol's name ("TCP", "UDP", "unknown").
    pub proto_name: &'static str,
    /// Fragment offset (in 8-byte units) and the more-fragments flag, for a fragment.
    pub fragment: Option<(u16, bool)>,
}

/// `43512 → 7007 Len=5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udp {
    pub src: u16,
    pub dst: u16,
    pub payload_len: u64,
}

/// `43512 → 7007 [SYN, ACK] Seq=0 Ack=1 Win=65483 Len=0`.
///
/// The line shows the header's own sequence number, acknowledgement number and window
/// (`raw Seq=`), or, once the flow tracker has seen the stream, the `relative` ones and the
/// scaled window (`Seq=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tcp {
    pub src: u16,
    pub dst: u16,
    pub header: TcpSummary,
    pub relative: Option<Relative>,
}

/// What the flow tracker works out for a TCP segment's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relative {
    pub seq: u32,
    pub ack: u32,
    /// The window after the window scale option of the handshake is applied.
    pub window: u32,
}

/// The flags a TCP summary lists, in the order Wireshark lists them (lowest bit first).
const TCP_FLAGS: [(u16, &str); 9] = [
    (0x001, "FIN"),
    (0x002, "SYN"),
    (0x004, "RST"),
    (0x008, "PSH"),
    (0x010, "ACK"),
    (0x020, "URG"),
    (0x040, "ECE"),
    (0x080, "CWR"),
    (0x100, "AE"),
];

impl fmt::Display for Ethernet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Src: {}, Dst: {}, Type: {} (0x{:04x})",
            self.src, self.dst, self.type_name, self.ethertype
        )
    }
}

impl fmt::Display for Ipv4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Src: {}, Dst: {}, TTL: {}, Protocol: {} ({})",
            Dotted::new(self.src).as_str(),
            Dotted::new(self.dst).as_str(),
            self.ttl,
            self.proto_name,
            self.proto
        )?;
        if let Some((offset, more)) = self.fragment {
            write!(f, ", Fragment offset: {}", u32::from(offset) * 8)?;
            if more {
                f.write_str(", MF")?;
            }
        }
        Ok(())
    }
}

// UDP's and TCP's lines are written piece by piece, numbers by `itoa`, rather than with
// `write!`: they are the Info column of most packets in the one-line view, and `core::fmt`'s
// machinery (a call per piece of the format string, a slow path for integers) cost more than
// the rest of the line (docs/performance.md).

impl fmt::Display for Udp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut num = itoa::Buffer::new();
        f.write_str(num.format(self.src))?;
        f.write_str(" → ")?;
        f.write_str(num.format(self.dst))?;
        f.write_str(" Len=")?;
        f.write_str(num.format(self.payload_len))
    }
}

impl fmt::Display for Tcp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.header;
        let mut num = itoa::Buffer::new();
        f.write_str(num.format(self.src))?;
        f.write_str(" → ")?;
        f.write_str(num.format(self.dst))?;
        f.write_str(" [")?;
        let set = TCP_FLAGS.iter().filter(|(bit, _)| h.flags & bit != 0);
        for (i, (_, name)) in set.enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
        }
        // "raw Seq=" until the flow tracker has worked out the relative numbers.
        let (seq, ack, window, raw) = match self.relative {
            Some(r) => (r.seq, r.ack, r.window, ""),
            None => (h.seq, h.ack, u32::from(h.window), "raw "),
        };
        f.write_str("] ")?;
        f.write_str(raw)?;
        f.write_str("Seq=")?;
        f.write_str(num.format(seq))?;
        if h.has(TcpSummary::ACK) {
            f.write_str(" ")?;
            f.write_str(raw)?;
            f.write_str("Ack=")?;
            f.write_str(num.format(ack))?;
        }
        f.write_str(" Win=")?;
        f.write_str(num.format(window))?;
        f.write_str(" Len=")?;
        f.write_str(num.format(h.payload_len))
    }
}

impl Summary {
    /// The summary as text (borrowed when it already is text).
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Summary::Text(s) => Cow::Borrowed(s),
            other => Cow::Owned(other.to_string()),
        }
    }

    /// Whether the summary is empty (a layer with nothing to say, such as the bytes after an
    /// ICMP header).
    pub fn is_empty(&self) -> bool {
        matches!(self, Summary::Text(s) if s.is_empty())
    }
}

impl Default for Summary {
    fn default() -> Self {
        Summary::Text(String::new())
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Summary::Text(s) => f.write_str(s),
            Summary::Ethernet(s) => s.fmt(f),
            Summary::Ipv4(s) => s.fmt(f),
            Summary::Udp(s) => s.fmt(f),
            Summary::Tcp(s) => s.fmt(f),
        }
    }
}

/// Shown as its text, so that a test failure reads like the output.
impl fmt::Debug for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.text(), f)
    }
}

impl From<String> for Summary {
    fn from(s: String) -> Self {
        Summary::Text(s)
    }
}

impl From<&str> for Summary {
    fn from(s: &str) -> Self {
        Summary::Text(s.to_string())
    }
}

impl From<Ethernet> for Summary {
    fn from(s: Ethernet) -> Self {
        Summary::Ethernet(s)
    }
}

impl From<Ipv4> for Summary {
    fn from(s: Ipv4) -> Self {
        Summary::Ipv4(s)
    }
}

impl From<Udp> for Summary {
    fn from(s: Udp) -> Self {
        Summary::Udp(s)
    }
}

impl From<Tcp> for Summary {
    fn from(s: Tcp) -> Self {
        Summary::Tcp(s)
    }
}

impl PartialEq<str> for Summary {
    fn eq(&self, other: &str) -> bool {
        self.text() == other
    }
}

impl PartialEq<&str> for Summary {
    fn eq(&self, other: &&str) -> bool {
        self.text() == *other
    }
}

impl Serialize for Summary {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_summaries_read_as_wireshark_writes_them() {
        let eth = Ethernet {
            src: MacAddr([0, 0x1b, 0x21, 0xaa, 0xff, 9]),
            dst: MacAddr([0xff; 6]),
            ethertype: 0x0806,
            type_name: "ARP",
        };
        assert_eq!(
            eth.to_string(),
            "Src: 00:1b:21:aa:ff:09, Dst: ff:ff:ff:ff:ff:ff, Type: ARP (0x0806)"
        );
        let ip = Ipv4 {
            src: Ipv4Addr::LOCALHOST,
            dst: Ipv4Addr::new(192, 0, 2, 7),
            ttl: 64,
            proto: 17,
            proto_name: "UDP",
            fragment: Some((185, true)),
        };
        assert_eq!(
            ip.to_string(),
            "Src: 127.0.0.1, Dst: 192.0.2.7, TTL: 64, Protocol: UDP (17), Fragment offset: 1480, MF"
        );
        let mut tcp = Tcp {
            src: 43512,
            dst: 7007,
            header: TcpSummary {
                seq: 1000,
                ack: 2000,
                flags: TcpSummary::SYN | TcpSummary::ACK,
                window: 512,
                payload_len: 0,
                wscale: None,
            },
            relative: None,
        };
        assert_eq!(
            tcp.to_string(),
            "43512 → 7007 [SYN, ACK] raw Seq=1000 raw Ack=2000 Win=512 Len=0"
        );
        tcp.relative = Some(Relative {
            seq: 0,
            ack: 1,
            window: 65536,
        });
        assert_eq!(
            tcp.to_string(),
            "43512 → 7007 [SYN, ACK] Seq=0 Ack=1 Win=65536 Len=0"
        );
    }
}
