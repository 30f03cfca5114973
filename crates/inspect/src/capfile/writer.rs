//! Writing captures that Wireshark and tcpdump open. pcapng is the default: it keeps nanosecond
//! timestamps (`if_tsresol` = 9) and allows packets of several link types in one file (one
//! Interface Description Block per link type, written when the type first appears). Classic pcap
//! is offered for old tools; it uses the nanosecond magic and holds a single link type.

use std::io::Write;

use super::CaptureFormat;
use crate::error::{InspectError, Result};
use crate::model::{LinkType, RawPacket, Timestamp};

/// Snap length written in headers: the largest packet we keep. 262144 is what tcpdump and
/// Wireshark use today, and it covers GSO-sized loopback frames.
const SNAPLEN: u32 = 262_144;

/// A writer of either format.
pub enum CaptureWriter<W: Write> {
    Pcap(PcapWriter<W>),
    Pcapng(PcapngWriter<W>),
}

impl<W: Write> CaptureWriter<W> {
    pub fn new(w: W, format: CaptureFormat) -> Result<Self> {
        Ok(match format {
            CaptureFormat::Pcap => CaptureWriter::Pcap(PcapWriter::new(w)),
            CaptureFormat::Pcapng => CaptureWriter::Pcapng(PcapngWriter::new(w)?),
        })
    }

    pub fn write_packet(&mut self, p: &RawPacket) -> Result<()> {
        match self {
            CaptureWriter::Pcap(x) => x.write_packet(p),
            CaptureWriter::Pcapng(x) => x.write_packet(p),
        }
    }

    /// Flush and hand back the inner writer.
    pub fn finish(self) -> Result<W> {
        match self {
            CaptureWriter::Pcap(x) => x.finish(),
            CaptureWriter::Pcapng(x) => x.finish(),
        }
    }
}

/// Writes pcapng, little-endian (the byte order does not matter to readers: the section header
/// says which one was used).
pub struct PcapngWriter<W: Write> {
    w: W,
    /// Link type of each interface written so far; the index is the interface id.
    interfaces: Vec<LinkType>,
    buf: Vec<u8>,
}

impl<W: Write> PcapngWriter<W> {
    /// Start a file: writes the Section Header Block.
    pub fn new(w: W) -> Result<Self> {
        let mut me = PcapngWriter {
            w,
            interfaces: Vec::new(),
            buf: Vec::with_capacity(256),
        };
        let mut body = Vec::new();
        body.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes()); // major
        body.extend_from_slice(&0u16.to_le_bytes()); // minor
        body.extend_from_slice(&(-1i64).to_le_bytes()); // section length: not specified
        push_option(&mut body, 4, b"netlab inspect"); // shb_userappl
        push_option(&mut body, 0, b"");
        me.write_block(0x0a0d_0d0a, &body)?;
        Ok(me)
    }

    /// Write one packet, adding an interface for its link type if this is the first of its kind.
    pub fn write_packet(&mut self, p: &RawPacket) -> Result<()> {
        let iface = self.interface_for(p.link_type)?;
        let units = timestamp_nanos(p.ts);
        let caplen = p.bytes.len() as u32;
        let mut b = std::mem::take(&mut self.buf);
        b.clear();
        b.extend_from_slice(&iface.to_le_bytes());
        b.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
        b.extend_from_slice(&(units as u32).to_le_bytes());
        b.extend_from_slice(&caplen.to_le_bytes());
        b.extend_from_slice(&p.orig_len.max(caplen).to_le_bytes());
        b.extend_from_slice(&p.bytes);
        pad4(&mut b);
        let r = self.write_block(6, &b);
        self.buf = b;
        r
    }

    pub fn finish(mut self) -> Result<W> {
        self.w.flush().map_err(InspectError::Write)?;
        Ok(self.w)
    }

    fn interface_for(&mut self, lt: LinkType) -> Result<u32> {
        if let Some(i) = self.interfaces.iter().position(|&x| x == lt) {
            return Ok(i as u32);
        }
        let mut body = Vec::new();
        body.extend_from_slice(&(lt.0 as u16).to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&SNAPLEN.to_le_bytes());
        push_option(&mut body, 9, &[9]); // if_tsresol: 10^-9 s, nanoseconds
        push_option(&mut body, 0, b"");
        self.write_block(1, &body)?;
        self.interfaces.push(lt);
        Ok((self.interfaces.len() - 1) as u32)
    }

    fn write_block(&mut self, btype: u32, body: &[u8]) -> Result<()> {
        let total = (body.len() + 12) as u32;
        let w = &mut self.w;
        (|| {
            w.write_all(&btype.to_le_bytes())?;
            w.write_all(&total.to_le_bytes())?;
            w.write_all(body)?;
            w.write_all(&total.to_le_bytes())
        })()
        .map_err(InspectError::Write)
    }
}

/// Writes classic pcap with nanosecond timestamps. The file header is written with the first
/// packet, because it names the file's one link type.
pub struct PcapWriter<W: Write> {
    w: W,
    link_type: Option<LinkType>,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(w: W) -> Self {
        PcapWriter { w, link_type: None }
    }

    pub fn write_packet(&mut self, p: &RawPacket) -> Result<()> {
        match self.link_type {
            None => {
                self.write_header(p.link_type)?;
                self.link_type = Some(p.link_type);
            }
            Some(lt) if lt != p.link_type => {
                return Err(InspectError::Write(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "a pcap file holds one link type ({}), this packet has {}; write pcapng \
                         instead",
                        lt.0, p.link_type.0
                    ),
                )));
            }
            Some(_) => {}
        }
        let caplen = p.bytes.len() as u32;
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&(p.ts.secs.clamp(0, i64::from(u32::MAX)) as u32).to_le_bytes());
        h[4..8].copy_from_slice(&p.ts.nanos.to_le_bytes());
        h[8..12].copy_from_slice(&caplen.to_le_bytes());
        h[12..16].copy_from_slice(&p.orig_len.max(caplen).to_le_bytes());
        self.w.write_all(&h).map_err(InspectError::Write)?;
        self.w.write_all(&p.bytes).map_err(InspectError::Write)
    }

    /// Flush and hand back the writer. A file with no packets still gets a header (Ethernet),
    /// so it opens as an empty capture rather than an error.
    pub fn finish(mut self) -> Result<W> {
        if self.link_type.is_none() {
            self.write_header(LinkType::ETHERNET)?;
        }
        self.w.flush().map_err(InspectError::Write)?;
        Ok(self.w)
    }

    fn write_header(&mut self, lt: LinkType) -> Result<()> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes()); // thiszone: UTC
        h.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        h.extend_from_slice(&SNAPLEN.to_le_bytes());
        h.extend_from_slice(&lt.0.to_le_bytes());
        self.w.write_all(&h).map_err(InspectError::Write)
    }
}

/// Nanoseconds since the epoch; a timestamp before 1970 is written as 0 (pcapng units are
/// unsigned).
fn timestamp_nanos(ts: Timestamp) -> u64 {
    if ts.secs < 0 {
        return 0;
    }
    (ts.secs as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(ts.nanos))
}

fn push_option(body: &mut Vec<u8>, code: u16, value: &[u8]) {
    body.extend_from_slice(&code.to_le_bytes());
    body.extend_from_slice(&(value.len() as u16).to_le_bytes());
    body.extend_from_slice(value);
    pad4(body);
}

fn pad4(b: &mut Vec<u8>) {
    while b.len() % 4 != 0 {
        b.push(0);
    }
}
