//! Classic libpcap files: a 24-byte file header, then one 16-byte record header per packet.
//! Both byte orders, microsecond and nanosecond timestamps, and the "modified" variant some old
//! Linux tcpdumps wrote (8 more bytes per record header).

use std::io::Read;

use super::pcapng::{Clock, TsResol};
use super::{Endian, MAX_RECORD, Source};
use crate::error::{InspectError, Place, Result};
use crate::model::{LinkType, RawPacket, Timestamp};

const MAGIC_MICRO: u32 = 0xa1b2_c3d4;
const MAGIC_NANO: u32 = 0xa1b2_3c4d;
const MAGIC_MODIFIED: u32 = 0xa1b2_cd34;

/// Is this one of the pcap magic numbers, in either byte order?
pub(super) fn is_magic(b: [u8; 4]) -> bool {
    decode_magic(b).is_some()
}

/// (byte order, nanosecond timestamps?, extra bytes per record header)
fn decode_magic(b: [u8; 4]) -> Option<(Endian, bool, usize)> {
    for endian in [Endian::Little, Endian::Big] {
        match endian.u32(&b) {
            MAGIC_MICRO => return Some((endian, false, 0)),
            MAGIC_NANO => return Some((endian, true, 0)),
            MAGIC_MODIFIED => return Some((endian, false, 8)),
            _ => {}
        }
    }
    None
}

/// Streaming reader of a classic pcap file.
pub struct PcapReader<R> {
    src: Source<R>,
    endian: Endian,
    nanos: bool,
    /// Record times in micro- or nanoseconds, as `nanos` says.
    clock: Clock,
    /// Extra record-header bytes of the "modified" format (ifindex, protocol, packet type).
    extra: usize,
    link_type: LinkType,
    snaplen: u32,
    /// Packets read so far; the next one is `record + 1`.
    record: u64,
    /// Packets that came by the fast path, [`Self::read_buffered`] (for tests).
    #[cfg(test)]
    pub(super) fast_path_packets: u64,
}

impl<R: Read> PcapReader<R> {
    /// Open a reader on anything that yields the bytes of a pcap file.
    pub fn new(reader: R) -> Result<Self> {
        let mut src = Source::new(reader);
        let mut magic = [0u8; 4];
        src.read_exact(&mut magic, Place::FileHeader, "the pcap magic number")?;
        if !is_magic(magic) {
            return Err(InspectError::NotACapture {
                magic: magic.to_vec(),
            });
        }
        Self::after_magic(src, magic)
    }

    pub(super) fn after_magic(mut src: Source<R>, magic: [u8; 4]) -> Result<Self> {
        let (endian, nanos, extra) =
            decode_magic(magic).ok_or_else(|| InspectError::NotACapture {
                magic: magic.to_vec(),
            })?;
        // Rest of the file header: version (2+2), thiszone, sigfigs, snaplen, link type.
        let mut h = [0u8; 20];
        src.read_exact(&mut h, Place::FileHeader, "the pcap file header")?;
        let major = endian.u16(&h[0..2]);
        if major != 2 {
            return Err(InspectError::Malformed {
                offset: 4,
                place: Place::FileHeader,
                what: format!("pcap version {major} is not 2; this reader knows version 2.4 only"),
            });
        }
        let snaplen = endian.u32(&h[12..16]);
        // The top four bits may carry the FCS length (pcap "FCS present" flag); the link type is
        // the low 16 bits.
        let link_type = LinkType(endian.u32(&h[16..20]) & 0xffff);
        Ok(PcapReader {
            src,
            endian,
            nanos,
            clock: Clock::new(TsResol::Decimal(if nanos { 9 } else { 6 })),
            extra,
            link_type,
            snaplen,
            record: 0,
            #[cfg(test)]
            fast_path_packets: 0,
        })
    }

    /// The file's single link type.
    pub fn link_type(&self) -> LinkType {
        self.link_type
    }

    /// The snap length from the file header (0 or 65535 / 262144 usually).
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// Whether timestamps carry nanoseconds (magic a1b23c4d) or microseconds.
    pub fn is_nanosecond(&self) -> bool {
        self.nanos
    }

    /// The next packet, `Ok(None)` at a clean end of file (end exactly between records).
    pub fn next_packet(&mut self) -> Result<Option<RawPacket>> {
        let mut packet = RawPacket::empty();
        Ok(self.read_into(&mut packet)?.then_some(packet))
    }

    /// Read the next packet into `packet`, reusing its byte buffer; `Ok(false)` at a clean end
    /// of file. See [`super::CaptureReader::read_into`].
    pub fn read_into(&mut self, packet: &mut RawPacket) -> Result<bool> {
        if self.read_buffered(packet) {
            return Ok(true);
        }
        // A record cut by the buffer's end or the file's, an absurd length, end of file.
        let record = self.record + 1;
        let start = self.src.offset();
        let mut h = [0u8; 24];
        let hlen = 16 + self.extra;
        let got = self.src.read_full(&mut h[..hlen])?;
        if got == 0 {
            return Ok(false);
        }
        if got < hlen {
            return Err(InspectError::Truncated {
                offset: start,
                place: Place::Record(record),
                what: format!("the record header needs {hlen} bytes, only {got} left"),
            });
        }
        let secs = self.endian.u32(&h[0..4]);
        let frac = self.endian.u32(&h[4..8]);
        let incl = self.endian.u32(&h[8..12]);
        let orig = self.endian.u32(&h[12..16]);
        if incl > MAX_RECORD {
            return Err(InspectError::Malformed {
                offset: start,
                place: Place::Record(record),
                what: format!(
                    "record claims {incl} captured bytes, more than the {MAX_RECORD} any real \
                     packet has; the file is corrupt from here on"
                ),
            });
        }
        self.src.read_data_into(
            &mut packet.bytes,
            incl as usize,
            Place::Record(record),
            "the packet data",
        )?;
        self.record = record;
        packet.ts = self.timestamp(secs, frac);
        packet.link_type = self.link_type;
        // Some writers leave orig_len 0 or smaller than what they kept; never report a packet as
        // shorter on the wire than in the file.
        packet.orig_len = orig.max(incl);
        Ok(true)
    }

    /// The fast path: a record whose header and data are both in the read buffer is parsed
    /// from one slice, its data copied once, and consumed at once, instead of a header copy and
    /// a data read. Returns false, having consumed and changed nothing, for anything else; the
    /// general path then reads the record, so errors (and end of file) are reported as they
    /// always were, and this path only delivers a record the general path would have.
    fn read_buffered(&mut self, packet: &mut RawPacket) -> bool {
        let e = self.endian;
        let hlen = 16 + self.extra;
        let b = self.src.buffered();
        let Some(h) = b.get(..hlen) else {
            return false;
        };
        let incl = e.u32(&h[8..12]);
        // Refused by the general path; also implied by the record fitting in the buffer.
        if incl > MAX_RECORD {
            return false;
        }
        let Some(data) = b.get(hlen..hlen + incl as usize) else {
            return false;
        };
        let (secs, frac, orig) = (e.u32(&h[0..4]), e.u32(&h[4..8]), e.u32(&h[12..16]));
        super::set_bytes(&mut packet.bytes, data);
        self.src.consume(hlen + data.len());
        self.record += 1;
        packet.ts = self.timestamp(secs, frac);
        packet.link_type = self.link_type;
        packet.orig_len = orig.max(incl);
        #[cfg(test)]
        {
            self.fast_path_packets += 1;
        }
        true
    }

    fn timestamp(&self, secs: u32, frac: u32) -> Timestamp {
        // Seconds are unsigned in practice (tcpdump writes them as u32), which also covers 2038.
        // The fraction is in micro- or nanoseconds, a pcapng `if_tsresol` of 6 or 9 (an
        // overlong one carries into the seconds, as there).
        self.clock.to_timestamp(u64::from(frac), i64::from(secs))
    }
}
