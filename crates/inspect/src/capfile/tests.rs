//! Reader and writer tests on files built byte by byte, in both byte orders.

use super::*;
use crate::error::Place;
use crate::model::{LinkType, Timestamp};

fn pkt(secs: i64, nanos: u32, lt: LinkType, orig_len: u32, bytes: &[u8]) -> RawPacket {
    RawPacket {
        ts: Timestamp { secs, nanos },
        link_type: lt,
        orig_len,
        bytes: bytes.to_vec(),
    }
}

fn read_all(bytes: &[u8]) -> Result<Vec<RawPacket>> {
    CaptureReader::new(bytes)?.packets().collect()
}

/// A pcap file, built field by field, in the given byte order.
fn pcap_file(big: bool, magic: u32, lt: u32, records: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
    let u32b = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut f = Vec::new();
    f.extend_from_slice(&u32b(magic));
    f.extend_from_slice(&u16b(2));
    f.extend_from_slice(&u16b(4));
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&u32b(65535));
    f.extend_from_slice(&u32b(lt));
    for &(s, frac, data, orig) in records {
        f.extend_from_slice(&u32b(s));
        f.extend_from_slice(&u32b(frac));
        f.extend_from_slice(&u32b(data.len() as u32));
        f.extend_from_slice(&u32b(orig));
        f.extend_from_slice(data);
    }
    f
}

#[test]
fn pcap_little_endian_microseconds() {
    let f = pcap_file(
        false,
        0xa1b2c3d4,
        1,
        &[(100, 250_000, b"abcd", 4), (101, 5, b"xy", 60)],
    );
    let p = read_all(&f).unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(p[0], pkt(100, 250_000_000, LinkType::ETHERNET, 4, b"abcd"));
    // Snap-length truncation is kept: 2 bytes captured of 60 on the wire.
    assert_eq!(p[1], pkt(101, 5_000, LinkType::ETHERNET, 60, b"xy"));
}

/// A fraction of a second that is a second or more (a writer's bug) carries into the seconds,
/// in both units, up to the largest fraction a u32 holds; nothing wraps or is dropped.
#[test]
fn pcap_overlong_fractions_carry_into_the_seconds() {
    for (magic, frac, secs, nanos) in [
        (0xa1b2c3d4, 2_500_000, 102, 500_000_000),
        (0xa1b2c3d4, u32::MAX, 100 + 4294, 967_295_000),
        (0xa1b23c4d, 1_500_000_000, 101, 500_000_000),
        (0xa1b23c4d, u32::MAX, 104, 294_967_295),
    ] {
        let f = pcap_file(false, magic, 1, &[(100, frac, b"ab", 2)]);
        let p = read_all(&f).unwrap();
        assert_eq!(
            p,
            vec![pkt(secs, nanos, LinkType::ETHERNET, 2, b"ab")],
            "{frac}"
        );
    }
}

#[test]
fn pcap_big_endian_nanoseconds() {
    let f = pcap_file(true, 0xa1b23c4d, 101, &[(7, 123_456_789, b"\x45\x00", 2)]);
    let r = CaptureReader::new(&f[..]).unwrap();
    assert_eq!(r.format(), CaptureFormat::Pcap);
    let p: Vec<_> = r.packets().collect::<Result<_>>().unwrap();
    assert_eq!(p, vec![pkt(7, 123_456_789, LinkType::RAW, 2, b"\x45\x00")]);
}

#[test]
fn pcap_modified_format_has_longer_record_headers() {
    let mut f = pcap_file(false, 0xa1b2cd34, 1, &[]);
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&3u32.to_le_bytes());
    f.extend_from_slice(&3u32.to_le_bytes());
    f.extend_from_slice(&[9; 8]); // ifindex, protocol, pkt_type, pad
    f.extend_from_slice(b"abc");
    assert_eq!(
        read_all(&f).unwrap(),
        vec![pkt(1, 0, LinkType::ETHERNET, 3, b"abc")]
    );
}

#[test]
fn pcap_cut_in_a_record_says_where_and_keeps_earlier_packets() {
    let mut f = pcap_file(
        false,
        0xa1b2c3d4,
        1,
        &[(1, 0, b"first", 5), (2, 0, b"second!", 7)],
    );
    f.truncate(f.len() - 3);
    let mut it = CaptureReader::new(&f[..]).unwrap().packets();
    assert_eq!(it.next().unwrap().unwrap().bytes, b"first");
    let err = it.next().unwrap().unwrap_err();
    match &err {
        InspectError::Truncated { offset, place, .. } => {
            // 24 header + 16 record header + 5 data + 16 record header = the second data.
            assert_eq!(*offset, 24 + 16 + 5 + 16);
            assert_eq!(*place, Place::Record(2));
        }
        other => panic!("wanted Truncated, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("byte offset 61 (record 2)"), "{msg}");
    assert!(msg.contains("needs 7 bytes, only 4 left"), "{msg}");
    assert!(it.next().is_none(), "the iterator ends after an error");
}

#[test]
fn pcap_absurd_record_length_is_malformed_not_an_allocation() {
    let mut f = pcap_file(false, 0xa1b2c3d4, 1, &[]);
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
    f.extend_from_slice(&[0; 4]);
    let err = read_all(&f).unwrap_err();
    assert!(
        matches!(
            err,
            InspectError::Malformed {
                offset: 24,
                place: Place::Record(1),
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn not_a_capture_names_the_magic() {
    let err = read_all(b"GET / HTTP/1.1\r\n").unwrap_err();
    assert!(matches!(&err, InspectError::NotACapture { magic } if magic == b"GET "));
    assert!(
        err.to_string().contains("47 45 54 20") || err.to_string().contains("[47, 45, 54, 20]")
    );
    assert!(matches!(
        read_all(b"ab").unwrap_err(),
        InspectError::NotACapture { .. }
    ));
}

/// Builds pcapng blocks in either byte order.
struct Ng {
    big: bool,
    out: Vec<u8>,
}

impl Ng {
    fn new(big: bool) -> Self {
        let mut ng = Ng {
            big,
            out: Vec::new(),
        };
        ng.shb();
        ng
    }
    fn u16(&self, v: u16) -> [u8; 2] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn block(&mut self, t: u32, body: &[u8]) {
        let mut body = body.to_vec();
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let total = self.u32(body.len() as u32 + 12);
        let t = self.u32(t);
        self.out.extend_from_slice(&t);
        self.out.extend_from_slice(&total);
        self.out.extend_from_slice(&body);
        self.out.extend_from_slice(&total);
    }
    fn shb(&mut self) {
        let mut b = Vec::new();
        b.extend_from_slice(&self.u32(0x1a2b3c4d));
        b.extend_from_slice(&self.u16(1));
        b.extend_from_slice(&self.u16(0));
        b.extend_from_slice(&[0xff; 8]);
        self.block(0x0a0d0d0a, &b);
    }
    /// IDB with optional if_tsresol and if_tsoffset.
    fn idb(&mut self, lt: u16, snaplen: u32, tsresol: Option<u8>, tsoffset: Option<i64>) {
        let mut b = Vec::new();
        b.extend_from_slice(&self.u16(lt));
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&self.u32(snaplen));
        b.extend_from_slice(&self.u16(2));
        b.extend_from_slice(&self.u16(2));
        b.extend_from_slice(b"lo\0\0");
        if let Some(r) = tsresol {
            b.extend_from_slice(&self.u16(9));
            b.extend_from_slice(&self.u16(1));
            b.extend_from_slice(&[r, 0, 0, 0]);
        }
        if let Some(o) = tsoffset {
            b.extend_from_slice(&self.u16(14));
            b.extend_from_slice(&self.u16(8));
            let o = if self.big {
                o.to_be_bytes()
            } else {
                o.to_le_bytes()
            };
            b.extend_from_slice(&o);
        }
        b.extend_from_slice(&[0; 4]);
        self.block(1, &b);
    }
    fn epb(&mut self, iface: u32, units: u64, data: &[u8], orig: u32) {
        let mut b = Vec::new();
        b.extend_from_slice(&self.u32(iface));
        b.extend_from_slice(&self.u32((units >> 32) as u32));
        b.extend_from_slice(&self.u32(units as u32));
        b.extend_from_slice(&self.u32(data.len() as u32));
        b.extend_from_slice(&self.u32(orig));
        b.extend_from_slice(data);
        while b.len() % 4 != 0 {
            b.push(0);
        }
        // An epb_flags option, to prove options after the data are skipped.
        b.extend_from_slice(&self.u16(2));
        b.extend_from_slice(&self.u16(4));
        b.extend_from_slice(&self.u32(1));
        self.block(6, &b);
    }
    fn spb(&mut self, data: &[u8], orig: u32) {
        let mut b = self.u32(orig).to_vec();
        b.extend_from_slice(data);
        self.block(3, &b);
    }
}

#[test]
fn pcapng_both_byte_orders_several_interfaces_and_resolutions() {
    for big in [false, true] {
        let mut ng = Ng::new(big);
        ng.idb(1, 0, None, None); // microseconds by default
        ng.idb(101, 0, Some(9), None); // nanoseconds
        ng.block(0x0000_0bad, b"a custom block we do not know"); // skipped
        ng.idb(228, 0, Some(0x80 | 20), Some(1_000)); // 2^-20 s units, +1000 s offset
        ng.epb(0, 5_000_001, b"eth", 3);
        ng.epb(1, 7_000_000_042, b"raw!", 1500);
        ng.epb(2, (3 << 20) | (1 << 19), b"v4", 2);
        let r = CaptureReader::new(&ng.out[..]).unwrap();
        assert_eq!(r.format(), CaptureFormat::Pcapng);
        let p: Vec<_> = r.packets().collect::<Result<_>>().unwrap();
        assert_eq!(
            p,
            vec![
                pkt(5, 1_000, LinkType::ETHERNET, 3, b"eth"),
                pkt(7, 42, LinkType::RAW, 1500, b"raw!"),
                pkt(1_003, 500_000_000, LinkType::IPV4, 2, b"v4"),
            ],
            "big endian: {big}"
        );
    }
}

#[test]
fn pcapng_simple_packet_block_uses_interface_zero_and_snaplen() {
    let mut ng = Ng::new(false);
    ng.idb(1, 4, None, None);
    ng.spb(b"abcd", 100);
    let p = read_all(&ng.out).unwrap();
    assert_eq!(p, vec![pkt(0, 0, LinkType::ETHERNET, 100, b"abcd")]);
}

#[test]
fn pcapng_new_section_resets_interfaces_and_may_switch_byte_order() {
    let mut a = Ng::new(false);
    a.idb(1, 0, None, None);
    a.epb(0, 1_000_000, b"one", 3);
    let mut b = Ng::new(true);
    b.idb(101, 0, None, None);
    b.epb(0, 2_000_000, b"two", 3);
    let mut f = a.out;
    f.extend_from_slice(&b.out);
    let p = read_all(&f).unwrap();
    assert_eq!(
        p,
        vec![
            pkt(1, 0, LinkType::ETHERNET, 3, b"one"),
            pkt(2, 0, LinkType::RAW, 3, b"two")
        ]
    );
}

#[test]
fn pcapng_packet_for_missing_interface_is_malformed() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, None, None);
    ng.epb(3, 0, b"x", 1);
    let err = read_all(&ng.out).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            InspectError::Malformed {
                place: Place::Block(3),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(msg.contains("interface 3"), "{msg}");
}

#[test]
fn pcapng_mismatched_trailing_length_is_malformed() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, None, None);
    let at = ng.out.len() as u64;
    ng.epb(0, 0, b"x", 1);
    let n = ng.out.len();
    ng.out[n - 4] ^= 0x04; // corrupt the closing length
    let err = read_all(&ng.out).unwrap_err();
    assert!(
        matches!(err, InspectError::Malformed { offset, place: Place::Block(3), .. } if offset == at),
        "{err:?}"
    );
}

#[test]
fn pcapng_cut_mid_block_is_truncated() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, None, None);
    ng.epb(0, 0, b"whole", 5);
    ng.epb(0, 0, b"cut off here", 12);
    let n = ng.out.len();
    let err = read_all(&ng.out[..n - 10]).unwrap_err();
    assert!(
        matches!(
            err,
            InspectError::Truncated {
                place: Place::Block(4),
                ..
            }
        ),
        "{err:?}"
    );
    let ok = CaptureReader::new(&ng.out[..n - 10])
        .unwrap()
        .packets()
        .next()
        .unwrap();
    assert_eq!(ok.unwrap().bytes, b"whole");
}

#[test]
fn pcapng_bad_byte_order_magic() {
    let mut ng = Ng::new(false);
    ng.out[8..12].copy_from_slice(b"nope");
    assert!(matches!(
        read_all(&ng.out).unwrap_err(),
        InspectError::Malformed { offset: 8, .. }
    ));
}

fn sample() -> Vec<RawPacket> {
    vec![
        pkt(
            1_764_133_200,
            123_456_789,
            LinkType::ETHERNET,
            60,
            &[0xaa; 60],
        ),
        pkt(1_764_133_201, 1, LinkType::RAW, 9000, &[0x45; 31]),
        pkt(1_764_133_202, 999_999_999, LinkType::ETHERNET, 5, b"hello"),
    ]
}

#[test]
fn pcapng_writer_round_trips_timestamps_lengths_and_link_types() {
    let mut w = CaptureWriter::new(Vec::new(), CaptureFormat::Pcapng).unwrap();
    for p in sample() {
        w.write_packet(&p).unwrap();
    }
    let file = w.finish().unwrap();
    assert_eq!(read_all(&file).unwrap(), sample());
    let r = PcapngReader::new(&file[..]).unwrap();
    assert_eq!(
        r.interfaces().len(),
        0,
        "interfaces are read lazily with the packets"
    );
}

#[test]
fn pcap_writer_round_trips_and_refuses_a_second_link_type() {
    let mut w = CaptureWriter::new(Vec::new(), CaptureFormat::Pcap).unwrap();
    let s = sample();
    w.write_packet(&s[0]).unwrap();
    w.write_packet(&s[2]).unwrap();
    let err = w.write_packet(&s[1]).unwrap_err();
    assert!(err.to_string().contains("write pcapng instead"), "{err}");
    let file = w.finish().unwrap();
    assert_eq!(read_all(&file).unwrap(), vec![s[0].clone(), s[2].clone()]);
    let empty = PcapWriter::new(Vec::new()).finish().unwrap();
    assert_eq!(read_all(&empty).unwrap(), vec![]);
}

/// Wireshark's own reader must agree with ours on what we write. tshark is installed by
/// .ci/run; elsewhere this test says loudly that it did not run the cross-check.
#[test]
fn tshark_reads_what_we_write() {
    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!(
            "\n*** SKIPPED tshark cross-check: tshark is not installed (apt-get install tshark) ***\n"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("netlab-capfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (format, name) in [
        (CaptureFormat::Pcapng, "w.pcapng"),
        (CaptureFormat::Pcap, "w.pcap"),
    ] {
        let path = dir.join(name);
        let file = std::fs::File::create(&path).unwrap();
        let mut w = CaptureWriter::new(file, format).unwrap();
        let packets: Vec<_> = sample()
            .into_iter()
            .filter(|p| p.link_type == LinkType::ETHERNET)
            .collect();
        for p in &packets {
            w.write_packet(p).unwrap();
        }
        w.finish().unwrap();
        let out = std::process::Command::new("tshark")
            .args(["-n", "-r"])
            .arg(&path)
            .args([
                "-T",
                "fields",
                "-e",
                "frame.time_epoch",
                "-e",
                "frame.len",
                "-e",
                "frame.cap_len",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tshark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            vec!["1764133200.123456789\t60\t60", "1764133202.999999999\t5\t5",],
            "{name}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

// `read_into` and `next_packet` must be the same reader: the same packets, and the same error
// (offset, place and message) at the same point. The helpers below read a file both ways and
// keep the error as its Debug text, which holds all three.

/// Hands out at most 7 bytes per `read`, so that packet data arrives in several pieces and the
/// read buffer runs dry inside records and blocks.
struct Dribble<'a>(&'a [u8]);

impl std::io::Read for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(7).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// Packets up to the end or the first error, and that error.
type Outcome = (Vec<RawPacket>, Option<String>);

fn by_next_packet<R: Read>(reader: R) -> Outcome {
    let mut r = match CaptureReader::new(reader) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(format!("{e:?}"))),
    };
    let mut out = Vec::new();
    loop {
        match r.next_packet() {
            Ok(Some(p)) => out.push(p),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(format!("{e:?}"))),
        }
    }
}

/// Like [`by_next_packet`], through one `RawPacket` refilled by `read_into`. It starts out
/// holding a stale packet to prove that every field is overwritten.
fn by_read_into<R: Read>(reader: R) -> Outcome {
    let mut r = match CaptureReader::new(reader) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(format!("{e:?}"))),
    };
    let mut p = pkt(-7, 77, LinkType(4242), 999_999, &[0xee; 300]);
    let mut out = Vec::new();
    loop {
        match r.read_into(&mut p) {
            Ok(true) => out.push(p.clone()),
            Ok(false) => return (out, None),
            Err(e) => return (out, Some(format!("{e:?}"))),
        }
    }
}

/// Reads `file` both ways, whole and in dribbles, checks all four agree and returns the result.
fn read_both_ways(file: &[u8], what: &str) -> Outcome {
    let want = by_next_packet(file);
    assert_eq!(by_read_into(file), want, "{what}: read_into");
    assert_eq!(by_next_packet(Dribble(file)), want, "{what}: dribbled");
    assert_eq!(
        by_read_into(Dribble(file)),
        want,
        "{what}: read_into, dribbled"
    );
    want
}

/// The committed captures: the same list the integration tests use.
#[path = "../../tests/support/files.rs"]
mod files;

fn fixture_files() -> Vec<std::path::PathBuf> {
    files::capture_files()
}

#[test]
fn read_into_gives_the_packets_of_next_packet_on_every_fixture() {
    let files = fixture_files();
    let has = |ext: &str| files.iter().any(|f| f.extension().unwrap() == ext);
    assert!(
        has("pcap") && has("pcapng"),
        "fixtures of both formats: {files:?}"
    );
    for path in files {
        let name = path.display().to_string();
        let file = std::fs::read(&path).unwrap();
        let (packets, err) = read_both_ways(&file, &name);
        assert_eq!(err, None, "{name}");
        assert!(!packets.is_empty(), "{name}");
        // And through the file itself, as `netlab inspect read` opens it.
        let mut r = CaptureReader::open(&path).unwrap();
        let mut p = RawPacket::empty();
        let mut again = Vec::new();
        while r.read_into(&mut p).unwrap() {
            again.push(p.clone());
        }
        assert_eq!(again, packets, "{name}: opened by path");
    }
}

/// Obsolete Packet Block: a 16-bit interface id and a 16-bit drop count where the EPB has a
/// 32-bit interface id.
fn obsolete_pb(ng: &mut Ng, iface: u16, units: u64, data: &[u8], orig: u32) {
    let mut b = Vec::new();
    b.extend_from_slice(&ng.u16(iface));
    b.extend_from_slice(&ng.u16(0));
    b.extend_from_slice(&ng.u32((units >> 32) as u32));
    b.extend_from_slice(&ng.u32(units as u32));
    b.extend_from_slice(&ng.u32(data.len() as u32));
    b.extend_from_slice(&ng.u32(orig));
    b.extend_from_slice(data);
    ng.block(2, &b);
}

/// Every kind of pcapng block, packets big and small, and a second section in the other byte
/// order.
fn every_block_kind() -> (Vec<u8>, Vec<RawPacket>) {
    let big = vec![0xab; 3000];
    let mut a = Ng::new(false);
    a.idb(1, 0, Some(9), None);
    a.block(0x0000_0bad, b"not a packet");
    a.epb(0, 5_000_000_007, &big, 3000);
    a.block(0x0000_0005, &[0; 16]); // an Interface Statistics Block: skipped
    a.spb(b"tiny", 64);
    a.idb(101, 0, None, Some(10));
    obsolete_pb(&mut a, 1, 2_500_000, b"old!", 4);
    a.epb(0, 1, b"", 60);
    let mut b = Ng::new(true);
    b.idb(113, 2, None, None);
    b.spb(b"snapped", 7);
    b.epb(0, 3_000_000, b"end", 3);
    let mut file = a.out;
    file.extend_from_slice(&b.out);
    let want = vec![
        pkt(5, 7, LinkType::ETHERNET, 3000, &big),
        pkt(0, 0, LinkType::ETHERNET, 64, b"tiny"),
        pkt(12, 500_000_000, LinkType::RAW, 4, b"old!"),
        pkt(0, 1, LinkType::ETHERNET, 60, b""),
        pkt(0, 0, LinkType::LINUX_SLL, 7, b"sn"),
        pkt(3, 0, LinkType::LINUX_SLL, 3, b"end"),
    ];
    (file, want)
}

#[test]
fn read_into_reads_every_pcapng_block_kind_like_next_packet() {
    let (file, want) = every_block_kind();
    assert_eq!(read_both_ways(&file, "every block kind"), (want, None));
}

#[test]
fn a_reused_packet_shrinks_to_each_small_packet_without_reallocating() {
    let big = vec![0xee; 2000];
    let sizes: [&[u8]; 4] = [&big, b"abc", b"", b"hello"];
    let pcap = pcap_file(
        false,
        0xa1b2c3d4,
        1,
        &[
            (1, 0, sizes[0], 2000),
            (2, 0, sizes[1], 3),
            (3, 0, sizes[2], 0),
            (4, 0, sizes[3], 1500),
        ],
    );
    let mut ng = Ng::new(false);
    ng.idb(1, 0, None, None);
    ng.epb(0, 1_000_000, sizes[0], 2000);
    ng.spb(sizes[1], 3);
    ng.epb(0, 3_000_000, sizes[2], 0);
    ng.epb(0, 4_000_000, sizes[3], 1500);
    for (name, file) in [("pcap", pcap), ("pcapng", ng.out)] {
        let mut r = CaptureReader::new(&file[..]).unwrap();
        let mut p = RawPacket::empty();
        assert!(r.read_into(&mut p).unwrap());
        assert_eq!(p.bytes, big, "{name}");
        let (ptr, cap) = (p.bytes.as_ptr(), p.bytes.capacity());
        for (i, want) in sizes.iter().enumerate().skip(1) {
            assert!(r.read_into(&mut p).unwrap(), "{name} packet {}", i + 1);
            assert_eq!(&p.bytes[..], *want, "{name} packet {}", i + 1);
            assert_eq!(
                (p.bytes.as_ptr(), p.bytes.capacity()),
                (ptr, cap),
                "{name} packet {}: the buffer is reused",
                i + 1
            );
        }
        let last = p.clone();
        assert!(!r.read_into(&mut p).unwrap(), "{name}: end of file");
        assert_eq!(p, last, "{name}: the end of file leaves the packet alone");
        // The spb has no timestamp: the reused packet's time must be cleared, not kept.
        if name == "pcapng" {
            let mut r = CaptureReader::new(&file[..]).unwrap();
            r.read_into(&mut p).unwrap();
            r.read_into(&mut p).unwrap();
            assert_eq!(p, pkt(0, 0, LinkType::ETHERNET, 3, b"abc"));
        }
    }
}

#[test]
fn read_into_fails_where_next_packet_fails_on_every_cut() {
    let (ng, _) = every_block_kind();
    let pcap = pcap_file(
        true,
        0xa1b23c4d,
        101,
        &[(1, 2, &[0x45; 700], 700), (3, 4, b"x", 1), (5, 6, b"", 9)],
    );
    // A cut between blocks (records) is a clean, shorter file: 12 such ends in the pcapng (its
    // 13 blocks but the last), 3 in the pcap (after the file header and the first two
    // records). Every other cut is an error.
    for (name, file, clean_cuts) in [("pcapng", ng, 12), ("pcap", pcap, 3)] {
        let mut clean = 0;
        for cut in 0..file.len() {
            let (_, err) = read_both_ways(&file[..cut], &format!("{name} cut at {cut}"));
            clean += usize::from(err.is_none());
        }
        assert_eq!(clean, clean_cuts, "{name}");
    }
    // The committed truncated capture, as it is.
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/truncated.pcap");
    read_both_ways(&std::fs::read(path).unwrap(), "truncated.pcap");
}

#[test]
fn read_into_fails_where_next_packet_fails_on_corrupt_bytes() {
    let (file, _) = every_block_kind();
    // Only the part before the big packet's data (its headers) and the small blocks after it;
    // flipping a data byte changes a packet, not the reading.
    let mut malformed = 0;
    for at in (0..file.len()).filter(|i| !(120..3120).contains(i)) {
        let mut bad = file.clone();
        bad[at] ^= 0x55;
        let (_, err) = read_both_ways(&bad, &format!("byte {at} flipped"));
        malformed += usize::from(err.is_some_and(|e| e.starts_with("Malformed")));
    }
    assert!(malformed > 50, "the flips did hit headers: {malformed}");
}

// The fast paths (`PcapngReader::read_buffered_epb`, `PcapReader::read_buffered`) read a record
// that is whole in the read buffer; everything else goes the general way. Whatever the buffer
// holds, the packets and the errors must be the general path's. A whole file in a slice is read
// with the fast paths wherever they apply; `Dribble` (7 bytes a read) never lets a record be
// whole in the buffer, so it is the general path alone.

/// Hands out at most `n` bytes per `read`: after each refill the read buffer holds exactly the
/// next `n` bytes of the file, so any byte of it can be put at the buffer's end.
struct Chunks<'a>(&'a [u8], usize);

impl std::io::Read for Chunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.1).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// How many of a reader's packets came by its fast path.
fn fast_path_packets<R>(r: &CaptureReader<R>) -> u64 {
    match r {
        CaptureReader::Pcap(r) => r.fast_path_packets,
        CaptureReader::Pcapng(r) => r.fast_path_packets,
    }
}

/// Reads `reader` through `read_into`; the outcome and the packets that took the fast path.
fn with_fast_count<R: Read>(reader: R) -> (Outcome, u64) {
    let mut r = match CaptureReader::new(reader) {
        Ok(r) => r,
        Err(e) => return ((Vec::new(), Some(format!("{e:?}"))), 0),
    };
    let mut p = RawPacket::empty();
    let mut out = Vec::new();
    let err = loop {
        match r.read_into(&mut p) {
            Ok(true) => out.push(p.clone()),
            Ok(false) => break None,
            Err(e) => break Some(format!("{e:?}")),
        }
    };
    ((out, err), fast_path_packets(&r))
}

/// Reads `file` with the buffer's end put at every possible byte (and both ways, whole and
/// dribbled, see `read_both_ways`), checks that all agree with the general path, and returns the
/// outcome and how many packets the whole-file read took by the fast path.
fn same_whatever_the_buffer(file: &[u8], what: &str) -> (Outcome, u64) {
    let want = read_both_ways(file, what);
    for n in 1..=file.len() {
        assert_eq!(
            by_read_into(Chunks(file, n)),
            want,
            "{what}: {n} bytes a read"
        );
    }
    let (got, fast) = with_fast_count(file);
    assert_eq!(got, want, "{what}: counting");
    (want, fast)
}

#[test]
fn fast_paths_read_every_block_kind_like_the_general_path_wherever_the_buffer_ends() {
    let (file, want) = every_block_kind();
    let (got, fast) = same_whatever_the_buffer(&file, "every block kind");
    assert_eq!(got, (want, None));
    // Its three EPBs; the SPB and the obsolete PB go the general way.
    assert_eq!(fast, 3);

    let pcap = pcap_file(
        false,
        0xa1b2c3d4,
        1,
        &[
            (1, 999_999, &[0x45; 300], 300),
            (2, 1_000_000, b"", 60),
            (3, 5, b"x", 0),
        ],
    );
    let (got, fast) = same_whatever_the_buffer(&pcap, "pcap");
    assert_eq!(
        got,
        (
            vec![
                pkt(1, 999_999_000, LinkType::ETHERNET, 300, &[0x45; 300]),
                pkt(3, 0, LinkType::ETHERNET, 60, b""),
                pkt(3, 5_000, LinkType::ETHERNET, 1, b"x"),
            ],
            None
        )
    );
    assert_eq!(fast, 3);
}

#[test]
fn fast_path_takes_a_block_exactly_filling_the_buffer_and_leaves_one_straddling_its_end() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, None, None);
    let headers = ng.out.len();
    ng.epb(0, 2_000_001, b"first", 5);
    let first_end = ng.out.len();
    ng.epb(0, 3_000_000, b"second!", 7);
    let want = vec![
        pkt(2, 1_000, LinkType::ETHERNET, 5, b"first"),
        pkt(3, 0, LinkType::ETHERNET, 7, b"second!"),
    ];
    // The first refill ends exactly at the first EPB's end: it is whole, so fast. The second
    // starts on an empty buffer, which only the general path refills.
    let (got, fast) = with_fast_count(Chunks(&ng.out, first_end));
    assert_eq!((got, fast), ((want.clone(), None), 1));
    // One byte short: the first EPB straddles the buffer's end and goes the general way, which
    // refills the buffer in its middle; the second is then whole in the buffer.
    let (got, fast) = with_fast_count(Chunks(&ng.out, first_end - 1));
    assert_eq!((got, fast), ((want.clone(), None), 1));
    // The buffer's end inside the first EPB's fixed header, and inside its trailer: the
    // general path, whatever comes after.
    for n in [headers + 10, first_end - 3] {
        let (got, _) = with_fast_count(Chunks(&ng.out, n));
        assert_eq!(got, (want.clone(), None), "{n} bytes a read");
    }
    // Both whole in one buffer.
    let (got, fast) = with_fast_count(&ng.out[..]);
    assert_eq!((got, fast), ((want, None), 2));

    // The same for pcap records: the first exactly filling the first refill, then straddling.
    let pcap = pcap_file(
        false,
        0xa1b2c3d4,
        1,
        &[(1, 2, b"one", 3), (4, 5, b"two", 3)],
    );
    let first_end = 24 + 16 + 3;
    let want = vec![
        pkt(1, 2_000, LinkType::ETHERNET, 3, b"one"),
        pkt(4, 5_000, LinkType::ETHERNET, 3, b"two"),
    ];
    assert_eq!(
        with_fast_count(Chunks(&pcap, first_end)),
        ((want.clone(), None), 1)
    );
    assert_eq!(
        with_fast_count(Chunks(&pcap, first_end - 1)),
        ((want.clone(), None), 1)
    );
    assert_eq!(with_fast_count(&pcap[..]), ((want, None), 2));
}

/// An EPB body with the given captured length field (which may lie), data and options.
fn epb_body(ng: &Ng, iface: u32, units: u64, caplen: u32, data: &[u8], options: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&ng.u32(iface));
    b.extend_from_slice(&ng.u32((units >> 32) as u32));
    b.extend_from_slice(&ng.u32(units as u32));
    b.extend_from_slice(&ng.u32(caplen));
    b.extend_from_slice(&ng.u32(caplen + 9));
    b.extend_from_slice(data);
    while b.len() % 4 != 0 {
        b.push(0);
    }
    b.extend_from_slice(options);
    b
}

#[test]
fn fast_path_skips_padding_and_options_of_every_length() {
    for big in [false, true] {
        let mut ng = Ng::new(big);
        ng.idb(1, 0, Some(9), Some(-10));
        let mut want = Vec::new();
        for len in 0..9usize {
            let data: Vec<u8> = (0..len as u8).collect();
            // An opt_comment of `len` bytes (padded), epb_flags, then opt_endofopt.
            let mut opts = Vec::new();
            opts.extend_from_slice(&ng.u16(1));
            opts.extend_from_slice(&ng.u16(len as u16));
            opts.extend(std::iter::repeat_n(b'c', len));
            while opts.len() % 4 != 0 {
                opts.push(0);
            }
            opts.extend_from_slice(&ng.u16(2));
            opts.extend_from_slice(&ng.u16(4));
            opts.extend_from_slice(&ng.u32(1));
            opts.extend_from_slice(&[0; 4]);
            let body = epb_body(
                &ng,
                0,
                12_000_000_000 + len as u64,
                len as u32,
                &data,
                &opts,
            );
            ng.block(6, &body);
            want.push(pkt(
                2,
                len as u32,
                LinkType::ETHERNET,
                len as u32 + 9,
                &data,
            ));
        }
        let (got, fast) = same_whatever_the_buffer(&ng.out, "options");
        assert_eq!(got, (want, None), "big endian: {big}");
        assert_eq!(fast, 9, "big endian: {big}");
    }
}

/// A file whose last EPB is built by `bad` from a sound one; returns the file, and the offset
/// and number of that block.
fn bad_epb(bad: impl FnOnce(&Ng, &mut Vec<u8>)) -> (Vec<u8>, u64) {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, None, None);
    ng.epb(0, 1_000_000, b"good", 4);
    let at = ng.out.len() as u64;
    // Block 4: body of 20 + 4 (data "abc" and a pad byte) + 8 (epb_flags) bytes.
    let mut opts = ng.u16(2).to_vec();
    opts.extend_from_slice(&ng.u16(4));
    opts.extend_from_slice(&ng.u32(1));
    let body = epb_body(&ng, 0, 2_000_000, 3, b"abc", &opts);
    ng.block(6, &body);
    let mut block = ng.out.split_off(at as usize);
    bad(&ng, &mut block);
    ng.out.extend_from_slice(&block);
    (ng.out, at)
}

/// Reads a file with a bad last block wherever the buffer ends; checks that the good packet
/// before it came and that the error is `want` (its Debug text), and returns how many packets
/// the fast path took.
fn fails_like_the_general_path(file: &[u8], what: &str, want: &str) -> u64 {
    let ((packets, err), fast) = same_whatever_the_buffer(file, what);
    assert_eq!(
        packets,
        vec![pkt(1, 0, LinkType::ETHERNET, 4, b"good")],
        "{what}"
    );
    assert_eq!(err.as_deref(), Some(want), "{what}");
    fast
}

#[test]
fn fast_path_leaves_every_inconsistent_epb_to_the_general_path_and_its_errors() {
    // The block of the test above (44 bytes: 12 + 32 of body) read right, for reference.
    let (file, _) = bad_epb(|_, _| {});
    let ((packets, err), fast) = same_whatever_the_buffer(&file, "sound");
    assert_eq!((packets.len(), err, fast), (2, None, 2));
    assert_eq!(packets[1], pkt(2, 0, LinkType::ETHERNET, 12, b"abc"));

    // A captured length of the whole rest of the body is allowed (the options are then taken
    // as data); one byte more runs past the block.
    let (file, _) = bad_epb(|ng, b| b[20..24].copy_from_slice(&ng.u32(12)));
    let ((packets, err), fast) = same_whatever_the_buffer(&file, "caplen fills the body");
    assert_eq!((packets.len(), err, fast), (2, None, 2));
    assert_eq!(packets[1].bytes, b"abc\0\x02\0\x04\0\x01\0\0\0");
    let (file, at) = bad_epb(|ng, b| b[20..24].copy_from_slice(&ng.u32(13)));
    let fast = fails_like_the_general_path(
        &file,
        "caplen past the block",
        &format!(
            "Malformed {{ offset: {at}, place: Block(4), what: \"packet 2 claims 13 captured \
             bytes but its enhanced packet block holds only 12\" }}"
        ),
    );
    assert_eq!(fast, 1);

    let (file, at) = bad_epb(|ng, b| b[40..44].copy_from_slice(&ng.u32(48)));
    fails_like_the_general_path(
        &file,
        "trailing length",
        &format!(
            "Malformed {{ offset: {at}, place: Block(4), what: \"block length 44 at the start \
             but 48 at the end; the block is corrupt\" }}"
        ),
    );

    let (file, at) = bad_epb(|ng, b| b[8..12].copy_from_slice(&ng.u32(1)));
    fails_like_the_general_path(
        &file,
        "missing interface",
        &format!(
            "Malformed {{ offset: {at}, place: Block(4), what: \"packet refers to interface 1, \
             but only 1 interface description block(s) came before it\" }}"
        ),
    );

    // Lengths the block header itself gets wrong: shorter than an EPB's fixed part, not a
    // multiple of 4, longer than the file.
    let (file, at) = bad_epb(|ng, b| {
        b.truncate(28);
        b[4..8].copy_from_slice(&ng.u32(28));
        b.extend_from_slice(&ng.u32(28));
    });
    fails_like_the_general_path(
        &file,
        "too short",
        &format!(
            "Malformed {{ offset: {at}, place: Block(4), what: \"enhanced packet block too \
             short\" }}"
        ),
    );
    let (file, at) = bad_epb(|ng, b| b[4..8].copy_from_slice(&ng.u32(42)));
    fails_like_the_general_path(
        &file,
        "odd length",
        &format!(
            "Malformed {{ offset: {at}, place: Block(4), what: \"block length 42 is impossible \
             (a block is at least 12 bytes, a multiple of 4, and at most 16781312 bytes)\" }}"
        ),
    );
    let (file, at) = bad_epb(|ng, b| b[4..8].copy_from_slice(&ng.u32(48)));
    fails_like_the_general_path(
        &file,
        "longer than the file",
        &format!(
            "Truncated {{ offset: {}, place: Block(4), what: \"the block's closing length \
             needs 4 bytes, only 0 left\" }}",
            at + 44
        ),
    );
}

#[test]
fn pcap_fast_path_leaves_absurd_and_cut_records_to_the_general_path() {
    for (magic, hlen) in [(0xa1b2c3d4, 16), (0xa1b2cd34, 24)] {
        let mut pcap = pcap_file(true, magic, 1, &[(1, 2, b"good", 4), (3, 4, b"next", 4)]);
        if hlen == 24 {
            // The modified format's record headers: 8 more bytes after the usual 16, which
            // `pcap_file` does not write; put them in.
            for at in [24 + 16, 24 + 16 + 8 + 4 + 16] {
                pcap.splice(at..at, [0xaa; 8]);
            }
        }
        let want = vec![
            pkt(1, 2_000, LinkType::ETHERNET, 4, b"good"),
            pkt(3, 4_000, LinkType::ETHERNET, 4, b"next"),
        ];
        let (got, fast) = same_whatever_the_buffer(&pcap, "pcap");
        assert_eq!((got, fast), ((want, None), 2), "{magic:#x}");
        // The second record claims more bytes than any packet has: refused, with the general
        // path's error.
        let second = 24 + hlen + 4;
        pcap[second + 8..second + 12].copy_from_slice(&(MAX_RECORD + 1).to_be_bytes());
        let ((packets, err), fast) = same_whatever_the_buffer(&pcap, "absurd");
        assert_eq!(packets.len(), 1);
        assert_eq!(fast, 1);
        assert!(
            err.as_deref().unwrap().starts_with(&format!(
                "Malformed {{ offset: {second}, place: Record(2), what: \"record claims 16777217"
            )),
            "{err:?}"
        );
    }
}
