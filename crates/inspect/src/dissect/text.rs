//! Building summary lines without `format!`: the formatting machinery costs more than all the
//! header parsing of a packet (a MAC address is twelve `{:02x}` calls), and every layer of
//! every packet gets a summary. A [`Line`] appends to one pre-sized `String`; digits are pushed
//! as ASCII chars, so no UTF-8 check is needed at the end.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::MacAddr;
use crate::render::bytes;

/// Hex digits, lower case as Wireshark prints them.
pub(crate) const HEX: &[u8; 16] = b"0123456789abcdef";

/// "00", "01", ... "ff": a byte's two hex digits in one lookup (MAC addresses).
pub(crate) const HEX_PAIRS: [[u8; 2]; 256] = {
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    t
};

/// "00", "01", ... "99": two digits per lookup, for the summary lines here and the views'
/// number writers (`render::bytes`).
pub(crate) const PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

/// Where a [`Line`] writes: a `String` (a summary handed over as text), or the byte buffer a
/// view is filling (a summary kept as numbers, written straight into the output).
pub(crate) trait Buf {
    fn put(&mut self, text: &str);
    /// ASCII bytes (digits, hex, dots and colons), which need no UTF-8 check in either buffer.
    fn put_ascii(&mut self, ascii: &[u8]);

    /// A number in decimal.
    fn put_num(&mut self, n: u64) {
        if n < 100 {
            // Most numbers in summaries are short (lengths, TTLs, flags, small sequence
            // numbers): one lookup in the table of pairs, no digit loop.
            let pair = &PAIRS[n as usize];
            self.put_ascii(if n >= 10 { pair } else { &pair[1..] });
            return;
        }
        let mut buf = [b'0'; 20];
        let len = bytes::digits(n);
        bytes::digits_at(&mut buf[..len], n);
        self.put_ascii(&buf[..len]);
    }

    /// A dotted IPv4 address.
    fn put_ipv4(&mut self, a: Ipv4Addr) {
        let mut buf = [0u8; 16];
        let len = bytes::ipv4_at(&mut buf, a);
        self.put_ascii(&buf[..len]);
    }

    /// An IPv6 address as the standard formatter prints it (its compression rules are fiddly;
    /// the formatter gets them right), without a `String` of its own.
    fn put_ipv6(&mut self, a: Ipv6Addr);
}

impl Buf for String {
    fn put(&mut self, text: &str) {
        self.push_str(text);
    }

    #[inline]
    fn put_ascii(&mut self, ascii: &[u8]) {
        // Pushed as chars: ASCII, so the string stays valid UTF-8 without a check.
        for &b in ascii {
            debug_assert!(b.is_ascii());
            self.push(char::from(b));
        }
    }

    fn put_ipv6(&mut self, a: Ipv6Addr) {
        use std::fmt::Write as _;
        // Writing to a String does not fail.
        let _ = write!(self, "{a}");
    }
}

/// A view's output. Numbers and addresses are written in place by the views' own writers:
/// built in a stack buffer and then copied, their bytes would be read back right after the
/// small stores that wrote them, which stalls (see `render::bytes::room`).
impl Buf for Vec<u8> {
    // Inlined: the texts are mostly literals, whose append is then a few stores instead of a
    // call to memcpy.
    #[inline(always)]
    fn put(&mut self, text: &str) {
        self.extend_from_slice(text.as_bytes());
    }

    #[inline]
    fn put_ascii(&mut self, ascii: &[u8]) {
        self.extend_from_slice(ascii);
    }

    fn put_num(&mut self, n: u64) {
        bytes::num(self, n);
    }

    fn put_ipv4(&mut self, a: Ipv4Addr) {
        bytes::ipv4(self, a);
    }

    fn put_ipv6(&mut self, a: Ipv6Addr) {
        use std::io::Write as _;
        // Writing to a Vec does not fail.
        let _ = write!(self, "{a}");
    }
}

impl<B: Buf + ?Sized> Buf for &mut B {
    fn put(&mut self, text: &str) {
        (**self).put(text);
    }

    #[inline]
    fn put_ascii(&mut self, ascii: &[u8]) {
        (**self).put_ascii(ascii);
    }

    fn put_num(&mut self, n: u64) {
        (**self).put_num(n);
    }

    fn put_ipv4(&mut self, a: Ipv4Addr) {
        (**self).put_ipv4(a);
    }

    fn put_ipv6(&mut self, a: Ipv6Addr) {
        (**self).put_ipv6(a);
    }
}

/// A summary line under construction.
pub(crate) struct Line<B: Buf = String>(pub(crate) B);

impl Line {
    pub(crate) fn new() -> Self {
        Line(String::with_capacity(80))
    }

    /// An empty line with room for `capacity` bytes, for lines longer than most.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Line(String::with_capacity(capacity))
    }

    /// The text so far, for a decoder that writes straight into the line (DNS names, which
    /// would otherwise be built in a string of their own only to be copied here).
    pub(crate) fn buf(&mut self) -> &mut String {
        &mut self.0
    }

    /// The finished line.
    pub(crate) fn done(&mut self) -> String {
        std::mem::take(&mut self.0)
    }
}

impl<B: Buf> Line<B> {
    #[inline(always)]
    pub(crate) fn s(&mut self, text: &str) -> &mut Self {
        self.0.put(text);
        self
    }

    /// A number in decimal.
    pub(crate) fn n(&mut self, n: impl Into<u64>) -> &mut Self {
        self.0.put_num(n.into());
        self
    }

    /// A 16-bit number as `0x` and four hex digits, e.g. an EtherType `0x0800`.
    pub(crate) fn hex4(&mut self, n: u16) -> &mut Self {
        let mut buf = *b"0x0000";
        for (i, shift) in [12, 8, 4, 0].into_iter().enumerate() {
            buf[2 + i] = HEX[usize::from((n >> shift) & 0xf)];
        }
        self.0.put_ascii(&buf);
        self
    }

    pub(crate) fn mac(&mut self, m: MacAddr) -> &mut Self {
        self.0.put_ascii(m.text().as_bytes());
        self
    }

    pub(crate) fn ipv4(&mut self, a: Ipv4Addr) -> &mut Self {
        self.0.put_ipv4(a);
        self
    }

    pub(crate) fn ip(&mut self, a: IpAddr) -> &mut Self {
        match a {
            IpAddr::V4(a) => self.ipv4(a),
            IpAddr::V6(a) => {
                self.0.put_ipv6(a);
                self
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_like_the_formatter() {
        for n in (0u64..1000).chain([65_535, u64::MAX]) {
            assert_eq!(Line::new().n(n).done(), n.to_string());
        }
        let mut l = Line::new();
        l.n(0u8)
            .s(" ")
            .n(u64::MAX)
            .s(" ")
            .hex4(0x86dd)
            .s(" ")
            .mac(MacAddr([0, 0x1b, 0xff, 0x0a, 0xb, 0xc]));
        l.s(" ")
            .ipv4(Ipv4Addr::new(127, 0, 0, 1))
            .s(" ")
            .ip("::1".parse().unwrap())
            .s(" →");
        assert_eq!(
            l.done(),
            format!("0 {} 0x86dd 00:1b:ff:0a:0b:0c 127.0.0.1 ::1 →", u64::MAX)
        );
    }
}
