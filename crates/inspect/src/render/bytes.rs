//! Writing the views' text straight into a byte buffer, without `format!` or `to_string`: the
//! one-line and JSON views run on every packet of a capture, and the formatting machinery plus
//! one allocation per column cost more than dissecting the packet (perf, docs/performance.md).
//! Every writer here prints exactly what the standard formatter would.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use super::{Piece, info_pieces, rfc3339};

/// Hex digits, lower case as Wireshark prints them.
pub(crate) const HEX: &[u8; 16] = b"0123456789abcdef";

/// "00", "01", ... "99": two digits per lookup.
pub(crate) const PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};
use crate::model::{Packet, Timestamp, Value};

/// An unsigned number in decimal, like `{}`. Inlined: it is called for nearly every field, and
/// for the small numbers most fields hold the call cost more than the digits (about 8% of the
/// JSON writer, measured).
#[inline]
pub(crate) fn num(o: &mut Vec<u8>, n: u64) {
    // Most fields hold small numbers (flags, lengths, TTLs): no digit loop for those, and
    // fixed-size appends compile to plain stores where a slice of unknown length is a call to
    // memcpy.
    if n < 10 {
        o.push(b'0' + n as u8);
    } else if n < 100 {
        o.extend_from_slice(&PAIRS[n as usize]);
    } else {
        wide(o, n);
    }
}

/// [`num`] for `n >= 100`. Ports, checksums, IDs and lengths are mostly 3 to 5 digits: those
/// are built from two or three table pairs with divisions by constants (multiplications), no
/// loop and no digit count. Up to 8 digits the text is built in one word, shifted so that it
/// starts at its first digit, and appended as 8 bytes of which the extra ones are cut off.
fn wide(o: &mut Vec<u8>, n: u64) {
    if n < 10_000 {
        let [a, b] = PAIRS[(n / 100) as usize];
        let [c, d] = PAIRS[(n % 100) as usize];
        if n < 1000 {
            o.extend_from_slice(&[b, c, d]);
        } else {
            o.extend_from_slice(&[a, b, c, d]);
        }
    } else if n < 100_000 {
        // The commonest wide numbers: 16-bit ports, checksums and IDs.
        let [a, b] = PAIRS[(n / 100 % 100) as usize];
        let [c, d] = PAIRS[(n % 100) as usize];
        o.extend_from_slice(&[b'0' + (n / 10_000) as u8, a, b, c, d]);
    } else if n < 100_000_000 {
        let (hi, lo) = ((n / 10_000) as usize, (n % 10_000) as usize);
        let [a, b] = PAIRS[hi / 100];
        let [c, d] = PAIRS[hi % 100];
        let [e, f] = PAIRS[lo / 100];
        let [g, h] = PAIRS[lo % 100];
        let word = u64::from_le_bytes([a, b, c, d, e, f, g, h]);
        // 6 to 8 digits: 2 to 0 leading zeros to drop, the low bytes of the little-endian word.
        // (From table pairs, not `digit_word`: that made the JSON view 2 % slower, measured.)
        let len = 6 + usize::from(n >= 1_000_000) + usize::from(n >= 10_000_000);
        let at = o.len();
        o.extend_from_slice(&(word >> (8 * (8 - len))).to_le_bytes());
        o.truncate(at + len);
    } else {
        digits_into(o, n, digits(n));
    }
}

/// `'0'` in every byte: turns digit values 0-9 into their ASCII digits.
pub(crate) const ZEROS: u64 = u64::from_le_bytes([b'0'; 8]);

/// The 8 decimal digits of `n < 100_000_000`, zeros in front, as digit values (0-9, not
/// ASCII) in the bytes of a word, most significant first in memory (the lowest byte).
///
/// All lanes at once (SWAR): the number is split into two 4-digit halves in 32-bit lanes, each
/// lane into two 2-digit halves in 16-bit lanes, each of those into two digits in bytes. The
/// divisions are multiplications by a reciprocal and a shift, exact for the ranges used
/// (`v * 10486 >> 20 == v / 100` for `v < 10_000`, `v * 103 >> 10 == v / 10` for `v < 100`,
/// both checked exhaustively by the tests), and no lane's product reaches the next lane.
pub(crate) fn eight_digits(n: u32) -> u64 {
    debug_assert!(n < 100_000_000);
    let x = u64::from(n / 10_000) | (u64::from(n % 10_000) << 32);
    let hundreds = ((x * 10_486) >> 20) & 0x0000_007f_0000_007f;
    let x = ((x - hundreds * 100) << 16) | hundreds;
    let tens = ((x * 103) >> 10) & 0x000f_000f_000f_000f;
    ((x - tens * 10) << 8) | tens
}

/// The decimal text of `n < 10^8` (ASCII, first digit in the lowest byte, no leading zeros)
/// and its length: written with one 8-byte store of which the bytes past the length are cut
/// off again.
#[inline(always)]
pub(crate) fn digit_word(n: u32) -> (u64, usize) {
    let d = eight_digits(n);
    // Leading zeros are the zero bytes at the bottom; the last digit always stays.
    let zeros = (d | 1 << 56).trailing_zeros() / 8;
    ((d | ZEROS) >> (8 * zeros), 8 - zeros as usize)
}

/// Decimal digits of `n` (1 for 0).
pub(crate) fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// A signed number in decimal, like `{}`.
pub(crate) fn int(o: &mut Vec<u8>, n: i64) {
    if n < 0 {
        o.push(b'-');
    }
    num(o, n.unsigned_abs());
}

/// A number zero-padded to `width` digits, like `{:0width$}` for non-negative numbers.
fn padded(o: &mut Vec<u8>, n: u64, width: usize) {
    digits_into(o, n, digits(n).max(width));
}

/// The last `width` decimal digits of `n`, zeros in front; `width` is at most 20.
fn digits_into(o: &mut Vec<u8>, n: u64, width: usize) {
    // Room for the widest number is claimed with a constant-size copy (a few stores) and the
    // rest cut off afterwards: appending just the digits would call memcpy, which costs more
    // than the digits themselves for the numbers most fields hold.
    let at = o.len();
    o.extend_from_slice(&[b'0'; 20]);
    digits_at(&mut o[at..at + width], n);
    o.truncate(at + width);
}

/// The last `out.len()` decimal digits of `n` into `out`, which holds zeros.
#[inline]
pub(crate) fn digits_at(out: &mut [u8], mut n: u64) {
    // Two digits per division, from a table, as itoa does: half the divisions.
    let mut end = out.len();
    while n >= 100 && end >= 2 {
        end -= 2;
        out[end..end + 2].copy_from_slice(&PAIRS[(n % 100) as usize]);
        n /= 100;
    }
    if n >= 10 && end >= 2 {
        out[end - 2..end].copy_from_slice(&PAIRS[n as usize]);
    } else if end > 0 {
        out[end - 1] = b'0' + (n % 10) as u8;
    }
}

/// Each octet's digits followed by a dot, and how many of those bytes there are: an address is
/// four table copies, without the digit branches of three divisions per octet.
const OCTETS: [([u8; 4], usize); 256] = {
    let mut t = [([0u8; 4], 0); 256];
    let mut i = 0;
    while i < 256 {
        let (h, d, u) = ((i / 100) as u8, (i / 10 % 10) as u8, (i % 10) as u8);
        t[i] = if i >= 100 {
            ([b'0' + h, b'0' + d, b'0' + u, b'.'], 4)
        } else if i >= 10 {
            ([b'0' + d, b'0' + u, b'.', 0], 3)
        } else {
            ([b'0' + u, b'.', 0, 0], 2)
        };
        i += 1;
    }
    t
};

pub(crate) fn ipv4(o: &mut Vec<u8>, a: Ipv4Addr) {
    // Written into room at the end (where a slice of the text's own length would be a call to
    // memcpy); the unused tail is cut off again.
    let (at, buf) = room::<16>(o);
    let len = ipv4_at(buf, a);
    o.truncate(at + len);
}

/// The dotted text of `a` at the start of `buf` (four fixed-size copies from [`OCTETS`]); returns
/// its length.
pub(crate) fn ipv4_at(buf: &mut [u8; 16], a: Ipv4Addr) -> usize {
    let mut len = 0;
    for octet in a.octets() {
        let (text, n) = OCTETS[usize::from(octet)];
        buf[len..len + 4].copy_from_slice(&text);
        len += n;
    }
    // Without the last octet's dot.
    len - 1
}

/// `N` bytes of room at the end of `o`, zero-filled, to write a piece into in place with
/// fixed-size copies and then cut back to its length with `truncate`.
///
/// In place, not in a stack buffer appended afterwards: that append reads the buffer right
/// after the small stores that filled it, and a load the CPU cannot forward from several
/// in-flight stores waits for them to reach the cache. Under perf such a copy was a third of
/// the JSON writer's cycles although it is a few instructions.
#[inline(always)]
pub(crate) fn room<const N: usize>(o: &mut Vec<u8>) -> (usize, &mut [u8; N]) {
    let at = o.len();
    o.extend_from_slice(&[0u8; N]);
    let tail: &mut [u8] = &mut o[at..];
    (at, tail.try_into().expect("N bytes were just appended"))
}

pub(crate) fn ip(o: &mut Vec<u8>, a: IpAddr) {
    match a {
        IpAddr::V4(a) => ipv4(o, a),
        // IPv6 compression rules are fiddly; the standard formatter gets them right.
        IpAddr::V6(a) => {
            let _ = write!(o, "{a}");
        }
    }
}

/// A field's value as its display text (`Value`'s `Display`), for the values that are not
/// JSON numbers or booleans. Only `Text` can need JSON escaping; the rest is ASCII.
pub(crate) fn value(o: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Bool(b) => o.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::U64(n) => num(o, *n),
        Value::Text(s) => o.extend_from_slice(s.as_bytes()),
        Value::Ipv4(a) => ipv4(o, *a),
        Value::Ipv6(a) => {
            let _ = write!(o, "{a}");
        }
        Value::Mac(m) => {
            let _ = write!(o, "{m}");
        }
        Value::Bytes(b) => {
            for (i, byte) in b.iter().enumerate() {
                if i > 0 {
                    o.push(b':');
                }
                o.push(HEX[usize::from(byte >> 4)]);
                o.push(HEX[usize::from(byte & 0xf)]);
            }
        }
    }
}

/// One side of the Source/Destination columns of a packet whose endpoints the dissector
/// pulled out (`127.0.0.1:7007`, `[::1]:7007`, or the bare address); nothing without them
/// (the callers check, and use [`super::endpoints`] then). The text is ASCII and never needs
/// escaping. Both views remember this text for recent endpoints, so it is written only when a
/// conversation is new to them.
pub(crate) fn endpoint(o: &mut Vec<u8>, p: &Packet, src: bool) {
    let Some(e) = &p.dissection.endpoints else {
        return;
    };
    let (addr, port) = if src {
        (e.src, e.src_port)
    } else {
        (e.dst, e.dst_port)
    };
    match (addr, port) {
        (IpAddr::V6(a), Some(port)) => {
            o.push(b'[');
            let _ = write!(o, "{a}");
            o.extend_from_slice(b"]:");
            num(o, u64::from(port));
        }
        (a, Some(port)) => {
            ip(o, a);
            o.push(b':');
            num(o, u64::from(port));
        }
        (a, None) => ip(o, a),
    }
}

/// "HH:MM:SS.uuuuuu" in UTC, as [`super::time_of_day`] prints it.
pub(crate) fn time_of_day_into(o: &mut Vec<u8>, ts: Timestamp) {
    let s = ts.secs.rem_euclid(86_400) as u64;
    padded(o, s / 3600, 2);
    o.push(b':');
    padded(o, s / 60 % 60, 2);
    o.push(b':');
    padded(o, s % 60, 2);
    o.push(b'.');
    padded(o, u64::from(ts.nanos / 1000), 6);
}

/// RFC 3339 UTC with nanoseconds, as [`rfc3339`] prints it.
pub(crate) fn rfc3339_into(o: &mut Vec<u8>, ts: Timestamp) {
    let (y, m, d) = super::civil_from_days(ts.secs.div_euclid(86_400));
    if !(0..=9999).contains(&y) {
        // `{:04}` of a year outside four digits: leave it to the formatter.
        o.extend_from_slice(rfc3339(ts).as_bytes());
        return;
    }
    let s = ts.secs.rem_euclid(86_400) as u64;
    // Every part has a fixed width, so the digits are filled into the template in place (see
    // [`room`] for why not in a stack buffer): the JSON view writes this for every packet.
    let at = o.len();
    o.extend_from_slice(b"0000-00-00T00:00:00.000000000Z");
    let t = &mut o[at..];
    let [y0, y1] = PAIRS[y as usize / 100];
    let [y2, y3] = PAIRS[y as usize % 100];
    t[..4].copy_from_slice(&[y0, y1, y2, y3]);
    t[5..7].copy_from_slice(&PAIRS[m as usize]);
    t[8..10].copy_from_slice(&PAIRS[d as usize]);
    t[11..13].copy_from_slice(&PAIRS[(s / 3600) as usize]);
    t[14..16].copy_from_slice(&PAIRS[(s / 60 % 60) as usize]);
    t[17..19].copy_from_slice(&PAIRS[(s % 60) as usize]);
    nanos_at(&mut t[19..], ts.nanos);
}

/// The end of [`rfc3339_into`] after the seconds: `.123456789Z`.
pub(crate) fn nanos_z(o: &mut Vec<u8>, nanos: u32) {
    let at = o.len();
    o.extend_from_slice(b".000000000Z");
    nanos_at(&mut o[at..], nanos);
}

/// The nine digits of `.123456789Z` into `t`, which holds that template: the last nine digits
/// of the nanoseconds (a valid timestamp has no more), as the digit writer this replaced kept
/// them.
#[inline(always)]
fn nanos_at(t: &mut [u8], nanos: u32) {
    let t: &mut [u8; 9] = (&mut t[1..10]).try_into().expect("9 bytes");
    nine_digits(t, nanos % 1_000_000_000);
}

/// The 9 decimal digits of `n < 10^9`, zeros in front: one digit, then [`eight_digits`].
#[inline(always)]
pub(crate) fn nine_digits(out: &mut [u8; 9], n: u32) {
    debug_assert!(n < 1_000_000_000);
    out[0] = b'0' + (n / 100_000_000) as u8;
    out[1..].copy_from_slice(&(eight_digits(n % 100_000_000) | ZEROS).to_le_bytes());
}

/// The Info column's text, unescaped (see [`info_pieces`]).
pub(crate) fn info(o: &mut Vec<u8>, p: &Packet) {
    info_pieces(p, |piece| match piece {
        Piece::Text(t) => o.extend_from_slice(t.as_bytes()),
        Piece::Summary(s) => {
            let _ = write!(o, "{s}");
        }
    });
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;
    use crate::model::MacAddr;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut o = Vec::new();
        f(&mut o);
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn numbers_print_like_the_formatter() {
        for n in [0i64, 7, -7, 10, 65535, i64::MAX, i64::MIN] {
            assert_eq!(text(|o| int(o, n)), n.to_string());
        }
        for n in [
            0u64,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            65535,
            1 << 40,
            10u64.pow(19) - 1,
            10u64.pow(19),
            u64::MAX,
        ] {
            assert_eq!(text(|o| num(o, n)), n.to_string());
            assert_eq!(digits(n), n.to_string().len());
        }
        for a in ["0.0.0.0", "127.0.0.1", "10.99.100.255", "192.168.1.10"] {
            let addr: Ipv4Addr = a.parse().unwrap();
            assert_eq!(text(|o| ipv4(o, addr)), a);
        }
        assert_eq!(text(|o| padded(o, 7, 4)), "0007");
        assert_eq!(text(|o| padded(o, 12345, 4)), "12345");
        for n in 0..100_000u64 {
            assert_eq!(text(|o| num(o, n)), n.to_string());
            assert_eq!(text(|o| padded(o, n, 9)), format!("{n:09}"));
        }
    }

    /// The reciprocal divisions of `eight_digits`, over their whole ranges, and the digits
    /// themselves for every number below 10^5 and a stride through the rest of 10^8.
    #[test]
    fn eight_digits_are_exact() {
        for v in 0..10_000u64 {
            assert_eq!((v * 10_486) >> 20, v / 100, "{v}");
        }
        for v in 0..100u64 {
            assert_eq!((v * 103) >> 10, v / 10, "{v}");
        }
        let check = |n: u32| {
            let text = (eight_digits(n) | ZEROS).to_le_bytes();
            assert_eq!(text, *format!("{n:08}").as_bytes(), "{n}");
        };
        (0..100_000).for_each(check);
        (0..100_000_000).step_by(9_973).for_each(check);
        [99_999_999, 10_000_000, 9_999_999, 12_345_678, 87_654_321]
            .into_iter()
            .for_each(check);
    }

    /// `digit_word` for every number below 10^5 (every length from 1 to 5 digits, 0 included)
    /// and a stride through the rest of 10^8.
    #[test]
    fn digit_words_are_the_numbers() {
        let check = |n: u32| {
            let (word, len) = digit_word(n);
            assert_eq!(&word.to_le_bytes()[..len], n.to_string().as_bytes(), "{n}");
        };
        (0..100_000).for_each(check);
        (0..100_000_000).step_by(9_973).for_each(check);
        [
            99_999_999, 10_000_000, 9_999_999, 1_000_000, 999_999, 100_000,
        ]
        .into_iter()
        .for_each(check);
    }

    #[test]
    fn times_print_like_rfc3339() {
        for secs in [
            0,
            1,
            -1,
            86_399,
            951_782_400, // 2000-02-29
            1_795_000_000,
            253_402_300_799, // 9999-12-31T23:59:59
            253_402_300_800, // year 10000
            -62_167_219_201, // year -1
            -62_167_219_200, // year 0
        ] {
            for nanos in [
                0,
                1,
                9,
                10,
                100_000_000,
                12_345_678,
                99_999_999,
                999_999_999,
            ] {
                let ts = Timestamp { secs, nanos };
                assert_eq!(text(|o| rfc3339_into(o, ts)), rfc3339(ts), "{secs}");
                let day = super::super::time_of_day(ts);
                assert_eq!(text(|o| time_of_day_into(o, ts)), day, "{secs}");
            }
        }
    }

    /// Source and destination columns: every port digit count, and every address kind.
    #[test]
    fn endpoints_print_like_display() {
        use crate::model::{Dissection, Endpoints, Packet, RawPacket};
        let addrs: [IpAddr; 4] = [
            "127.0.0.1".parse().unwrap(),
            "255.255.255.255".parse().unwrap(),
            "0.0.0.0".parse().unwrap(),
            "::1".parse().unwrap(),
        ];
        for src in addrs {
            for port in [
                None,
                Some(0),
                Some(9),
                Some(10),
                Some(999),
                Some(7007),
                Some(65535),
            ] {
                let p = Packet {
                    number: 1,
                    raw: RawPacket::empty(),
                    dissection: Dissection {
                        endpoints: Some(Endpoints {
                            src,
                            dst: addrs[1],
                            ip_proto: 17,
                            src_port: port,
                            dst_port: Some(80),
                        }),
                        ..Dissection::default()
                    },
                    flow: None,
                };
                let want = match (src, port) {
                    (IpAddr::V6(a), Some(port)) => format!("[{a}]:{port}"),
                    (a, Some(port)) => format!("{a}:{port}"),
                    (a, None) => a.to_string(),
                };
                assert_eq!(text(|o| endpoint(o, &p, true)), want);
                let dst = format!("{}:80", addrs[1]);
                assert_eq!(text(|o| endpoint(o, &p, false)), dst);
            }
        }
    }

    #[test]
    fn values_print_like_display() {
        for v in [
            Value::Bool(true),
            Value::U64(443),
            Value::Text("héllo \"x\"".into()),
            Value::Bytes(vec![]),
            Value::Bytes(vec![0, 0xab, 0x0f]),
            Value::Ipv4(Ipv4Addr::new(10, 200, 0, 1)),
            Value::Ipv6(Ipv6Addr::LOCALHOST),
            Value::Ipv6("2001:db8::1:0:0:1".parse().unwrap()),
            Value::Mac(MacAddr([0, 0x1b, 0xff, 0x0a, 0xb, 0xc])),
        ] {
            assert_eq!(text(|o| value(o, &v)), v.to_string());
        }
    }
}
