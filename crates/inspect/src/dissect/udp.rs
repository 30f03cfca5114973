//! UDP (RFC 768): ports, length, checksum.

use std::net::IpAddr;

use super::{Dissector, LayerBuilder, Malformed, app, notes};
use crate::model::summary::{self, Summary};
use crate::model::{Protocol, Value};

/// The header's fields, each declared once: the parser reads them, the builder writes them,
/// and the filter's registry takes their names from `field::NAMES`.
pub(super) mod field {
    crate::model::fields! {
        SRC_PORT = "udp.srcport", "Source port", 0..2;
        DST_PORT = "udp.dstport", "Destination port", 2..4;
        LEN = "udp.length", "Length", 4..6;
        CHECKSUM = "udp.checksum", "Checksum", 6..8;
        PAYLOAD_LEN = "udp.payload_len", "Payload length";
    }
    pub const HEADER_LEN: usize = 8;
}

struct Decoded {
    src_port: u16,
    dst_port: u16,
    payload: std::ops::Range<usize>,
}

pub(super) fn dissect(d: &mut Dissector, at: usize, end: usize) {
    let mut lb = d.layer(at, end, Protocol::Udp);
    let quoted = d.quoted;
    let r = decode(&mut lb, quoted, d.fragment_head);
    let Some(u) = d.push_result(lb, r) else {
        return;
    };
    if quoted {
        return;
    }
    if let Some(ep) = d.out.endpoints.as_mut() {
        ep.src_port = Some(u.src_port);
        ep.dst_port = Some(u.dst_port);
    }
    d.out.payload = Some(u.payload.clone());
    if !u.payload.is_empty() && !d.fragment_head {
        app::dissect(d, app::Transport::Udp, u.src_port, u.dst_port, u.payload);
    }
}

fn decode(
    lb: &mut LayerBuilder,
    quoted: bool,
    fragment_head: bool,
) -> Result<(Decoded, Summary), Malformed> {
    lb.need(field::HEADER_LEN)?;
    let src_port = lb.u16(field::SRC_PORT)?;
    let dst_port = lb.u16(field::DST_PORT)?;
    let len = usize::from(lb.u16(field::LEN)?);
    lb.cover(field::HEADER_LEN);
    if len < field::HEADER_LEN {
        return Err(lb.invalid(
            field::LEN.bytes.start,
            format!("length {len} is shorter than the 8-byte header"),
        ));
    }
    lb.u16(field::CHECKSUM)?;
    let start = lb.start();
    let end = if len > lb.available() {
        if quoted {
            lb.note("quoted: the UDP header of the datagram that caused the ICMP error above");
        } else if fragment_head {
            let here = lb.available();
            lb.note_with(|| format!(
                "first fragment: {here} of the datagram's {len} bytes are here, the rest follow in later fragments"
            ));
        } else {
            let here = lb.available();
            lb.note_with(|| {
                format!("the length field says {len} bytes but only {here} were captured")
            });
        }
        lb.limit()
    } else {
        start + len
    };
    if !quoted {
        lb.note(notes::CHECKSUM_NOT_VERIFIED);
    }
    let payload = (start + field::HEADER_LEN)..end;
    let plen = payload.len();
    lb.field(
        field::HEADER_LEN..field::HEADER_LEN + plen,
        field::PAYLOAD_LEN,
        Value::U64(plen as u64),
    );
    lb.end = start + field::HEADER_LEN;
    if quoted {
        lb.cover(lb.available());
    }
    let summary = Summary::Udp(summary::Udp {
        src: src_port,
        dst: dst_port,
        payload_len: (len - field::HEADER_LEN) as u64,
    });
    Ok((
        Decoded {
            src_port,
            dst_port,
            payload,
        },
        summary,
    ))
}

// ---- building: the inverse of the parser above, for fixtures, tests and lessons ----

/// A UDP datagram with its checksum over the pseudo-header of `src` and `dst`.
pub fn build_udp(
    src: IpAddr,
    dst: IpAddr,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> Vec<u8> {
    let len = field::HEADER_LEN + payload.len();
    let mut h = vec![0; len];
    h[field::SRC_PORT.bytes].copy_from_slice(&src_port.to_be_bytes());
    h[field::DST_PORT.bytes].copy_from_slice(&dst_port.to_be_bytes());
    h[field::LEN.bytes].copy_from_slice(&(len as u16).to_be_bytes());
    h[field::HEADER_LEN..].copy_from_slice(payload);
    // The checksum covers the datagram with its own checksum bytes still zero.
    let sum = super::transport_checksum(src, dst, 17, &h);
    h[field::CHECKSUM.bytes].copy_from_slice(&sum.to_be_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::dissect;
    use crate::dissect::ipv4::Ipv4Header;
    use crate::model::LinkType;

    /// A datagram built here reads back as its ports, length and payload.
    #[test]
    fn a_datagram_built_here_dissects_to_its_fields() {
        let lo = IpAddr::from([127, 0, 0, 1]);
        let udp = build_udp(lo, lo, 49835, 7007, b"hello");
        assert_eq!(&udp[..6], [0xc2, 0xab, 0x1b, 0x5f, 0, 13]);
        let packet = Ipv4Header::new([127, 0, 0, 1], [127, 0, 0, 1], 17).build(&udp);
        let d = dissect(LinkType::IPV4, &packet);
        let f = |name| d.field(name).expect(name);
        assert_eq!(
            (f("udp.srcport").value.clone(), f("udp.srcport").offset),
            (Value::U64(49835), 20)
        );
        assert_eq!(f("udp.dstport").value, Value::U64(7007));
        assert_eq!(f("udp.length").value, Value::U64(13));
        assert_eq!(f("udp.payload_len").value, Value::U64(5));
        // Port 7007 is netlab echo: the payload is decoded as such.
        assert_eq!(d.layers.last().map(|l| l.protocol), Some(Protocol::Echo));
    }
}
