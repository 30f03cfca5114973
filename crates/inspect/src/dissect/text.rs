//! Building summary lines without `format!`: the formatting machinery costs more than all the
//! header parsing of a packet (a MAC address is twelve `{:02x}` calls), and every layer of
//! every packet gets a summary. A [`Line`] appends to one pre-sized `String`; digits are pushed
//! as ASCII chars, so no UTF-8 check is needed at the end.

use std::net::{IpAddr, Ipv4Addr};

use crate::model::MacAddr;

const HEX: &[u8; 16] = b"0123456789abcdef";

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

/// A summary line under construction.
pub(crate) struct Line(String);

impl Line {
    pub(crate) fn new() -> Self {
        Line(String::with_capacity(80))
    }

    /// An empty line with room for `capacity` bytes, for lines longer than most.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Line(String::with_capacity(capacity))
    }

    /// A line that goes on from `text`: summaries are appended to a buffer the views reuse.
    pub(crate) fn on(text: String) -> Self {
        Line(text)
    }

    /// The text so far, for a decoder that writes straight into the line (DNS names, which
    /// would otherwise be built in a string of their own only to be copied here).
    pub(crate) fn buf(&mut self) -> &mut String {
        &mut self.0
    }

    pub(crate) fn s(&mut self, text: &str) -> &mut Self {
        self.0.push_str(text);
        self
    }

    /// A number in decimal.
    pub(crate) fn n(&mut self, n: impl Into<u64>) -> &mut Self {
        let mut n: u64 = n.into();
        if n < 100 {
            // Most numbers in summaries are short (lengths, TTLs, flags, small sequence
            // numbers): one lookup in the table of pairs, no digit loop.
            let [tens, ones] = PAIRS[n as usize];
            if n >= 10 {
                self.0.push(char::from(tens));
            }
            self.0.push(char::from(ones));
            return self;
        }
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        // Pushed as chars: ASCII digits, so the string stays valid UTF-8 without a check.
        for &d in &buf[i..] {
            self.0.push(char::from(d));
        }
        self
    }

    /// A 16-bit number as `0x` and four hex digits, e.g. an EtherType `0x0800`.
    pub(crate) fn hex4(&mut self, n: u16) -> &mut Self {
        self.0.push_str("0x");
        for shift in [12, 8, 4, 0] {
            self.0
                .push(char::from(HEX[usize::from((n >> shift) & 0xf)]));
        }
        self
    }

    pub(crate) fn mac(&mut self, m: MacAddr) -> &mut Self {
        self.s(m.text().as_str())
    }

    pub(crate) fn ipv4(&mut self, a: Ipv4Addr) -> &mut Self {
        for (i, octet) in a.octets().into_iter().enumerate() {
            if i > 0 {
                self.0.push('.');
            }
            self.n(octet);
        }
        self
    }

    pub(crate) fn ip(&mut self, a: IpAddr) -> &mut Self {
        match a {
            IpAddr::V4(a) => self.ipv4(a),
            // IPv6 compression rules are fiddly; the standard formatter gets them right.
            IpAddr::V6(a) => {
                use std::fmt::Write;
                let _ = write!(self.0, "{a}");
                self
            }
        }
    }

    /// The finished line.
    pub(crate) fn done(&mut self) -> String {
        std::mem::take(&mut self.0)
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
