//! pcapng files: a sequence of blocks (type, total length, body, total length again). We read
//! the Section Header Block (either byte order, and a new section may switch it), Interface
//! Description Blocks (link type, snap length, `if_tsresol`, `if_tsoffset`), Enhanced, Simple and
//! the obsolete Packet Blocks; every other block type is skipped by its length.

use std::io::Read;

use super::{Endian, MAX_RECORD, Source};
use crate::error::{InspectError, Place, Result};
use crate::model::{LinkType, RawPacket, Timestamp};

/// The Section Header Block type; a palindrome, so it reads the same in both byte orders.
pub(super) const SHB_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
/// Written in the SHB in the writer's byte order; tells the reader which order that was.
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

const BT_IDB: u32 = 0x0000_0001;
const BT_OBSOLETE_PB: u32 = 0x0000_0002;
const BT_SPB: u32 = 0x0000_0003;
const BT_EPB: u32 = 0x0000_0006;

const OPT_END: u16 = 0;
const OPT_IF_NAME: u16 = 2;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

/// Timestamp units of an interface: 10^-n or 2^-n seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TsResol {
    Decimal(u8),
    Binary(u8),
}

impl TsResol {
    /// The pcapng default when an interface has no `if_tsresol` option: microseconds.
    const DEFAULT: TsResol = TsResol::Decimal(6);

    fn from_option(v: u8) -> TsResol {
        if v & 0x80 == 0 {
            TsResol::Decimal(v)
        } else {
            TsResol::Binary(v & 0x7f)
        }
    }

    /// Split a count of units into whole seconds and nanoseconds: the definition, kept to check
    /// [`Clock`] against (see the tests at the end of this file).
    #[cfg(test)]
    pub(super) fn to_timestamp(self, units: u64, offset_secs: i64) -> Timestamp {
        let (secs, nanos) = match self {
            TsResol::Decimal(n) if n <= 19 => {
                let per_sec = 10u64.pow(u32::from(n));
                let frac = units % per_sec;
                let nanos = if n <= 9 {
                    frac * 10u64.pow(9 - u32::from(n))
                } else {
                    frac / 10u64.pow(u32::from(n) - 9)
                };
                (units / per_sec, nanos)
            }
            TsResol::Binary(n) if n < 64 => {
                let frac = u128::from(units & ((1u64 << n) - 1));
                (units >> n, ((frac * 1_000_000_000) >> n) as u64)
            }
            // A resolution finer than a u64 can count is nonsense; treat the units as seconds
            // rather than panic on an overflowing power.
            _ => (units, 0),
        };
        Timestamp {
            secs: (secs as i64).saturating_add(offset_secs),
            nanos: nanos as u32,
        }
    }
}

/// An interface's timestamp resolution with its powers of ten worked out once, when the
/// interface is described, rather than for every packet (two `pow` loops and a branch on the
/// resolution were most of a packet's timestamp). Gives exactly what
/// `TsResol::to_timestamp` defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Clock {
    /// 10^-n s with n <= 9: `per_sec` (10^n) units a second, each `nanos_per_unit` (10^(9-n)) ns.
    Coarse { per_sec: u64, nanos_per_unit: u64 },
    /// 10^-n s with 9 < n <= 19: `per_sec` (10^n) units a second, `units_per_nano` (10^(n-9))
    /// units a nanosecond.
    Fine { per_sec: u64, units_per_nano: u64 },
    /// 2^-n s with n < 64.
    Binary(u32),
    /// A resolution finer than a u64 can count is nonsense; the units are taken as seconds
    /// rather than panic on an overflowing power.
    Seconds,
}

impl Clock {
    pub(super) fn new(resol: TsResol) -> Clock {
        match resol {
            TsResol::Decimal(n) if n <= 9 => Clock::Coarse {
                per_sec: 10u64.pow(u32::from(n)),
                nanos_per_unit: 10u64.pow(9 - u32::from(n)),
            },
            TsResol::Decimal(n) if n <= 19 => Clock::Fine {
                per_sec: 10u64.pow(u32::from(n)),
                units_per_nano: 10u64.pow(u32::from(n) - 9),
            },
            TsResol::Binary(n) if n < 64 => Clock::Binary(u32::from(n)),
            _ => Clock::Seconds,
        }
    }

    /// Split a count of units into whole seconds and nanoseconds, then add the offset.
    #[inline]
    pub(super) fn to_timestamp(self, units: u64, offset_secs: i64) -> Timestamp {
        let (secs, nanos) = match self {
            Clock::Coarse {
                per_sec,
                nanos_per_unit,
            } => (units / per_sec, (units % per_sec) * nanos_per_unit),
            Clock::Fine {
                per_sec,
                units_per_nano,
            } => (units / per_sec, (units % per_sec) / units_per_nano),
            Clock::Binary(n) => {
                let frac = u128::from(units & ((1u64 << n) - 1));
                (units >> n, ((frac * 1_000_000_000) >> n) as u64)
            }
            Clock::Seconds => (units, 0),
        };
        Timestamp {
            secs: (secs as i64).saturating_add(offset_secs),
            nanos: nanos as u32,
        }
    }
}

/// How wide a packet block's interface id is: 32 bits in an EPB, 16 in the obsolete PB.
#[derive(Debug, Clone, Copy)]
enum IdWidth {
    U32,
    U16,
}

/// What an Interface Description Block told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub link_type: LinkType,
    pub snaplen: u32,
    /// `if_name`, when the writer recorded one (tcpdump and Wireshark do).
    pub name: Option<String>,
    /// `if_tsresol` ready for use on every packet.
    clock: Clock,
    tsoffset: i64,
}

/// Streaming reader of a pcapng file.
pub struct PcapngReader<R> {
    src: Source<R>,
    endian: Endian,
    /// Interfaces of the current section, indexed by interface id.
    interfaces: Vec<Interface>,
    /// Blocks read so far (the number errors report).
    block: u64,
    /// Packets delivered so far.
    packets: u64,
    /// Reused for the bodies of section headers and interface descriptions, so reading allocates
    /// nothing but the packet itself (and not even that through `read_into`).
    scratch: Vec<u8>,
    /// Packets that came by the fast path, [`Self::read_buffered_epb`]: tests check that it is
    /// taken where it should be, since its results are (by design) indistinguishable.
    #[cfg(test)]
    pub(super) fast_path_packets: u64,
}

impl<R: Read> PcapngReader<R> {
    /// Open a reader on anything that yields the bytes of a pcapng file.
    pub fn new(reader: R) -> Result<Self> {
        let mut src = Source::new(reader);
        let mut magic = [0u8; 4];
        src.read_exact(&mut magic, Place::FileHeader, "the block type")?;
        if magic != SHB_MAGIC {
            return Err(InspectError::NotACapture {
                magic: magic.to_vec(),
            });
        }
        Self::after_magic(src)
    }

    pub(super) fn after_magic(src: Source<R>) -> Result<Self> {
        let mut r = PcapngReader {
            src,
            endian: Endian::Little,
            interfaces: Vec::new(),
            block: 1,
            packets: 0,
            scratch: Vec::new(),
            #[cfg(test)]
            fast_path_packets: 0,
        };
        r.read_shb(0)?;
        Ok(r)
    }

    /// Interfaces of the current section seen so far.
    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    /// The next packet, `Ok(None)` at a clean end of file.
    pub fn next_packet(&mut self) -> Result<Option<RawPacket>> {
        let mut packet = RawPacket::empty();
        Ok(self.read_into(&mut packet)?.then_some(packet))
    }

    /// Read the next packet into `packet`, reusing its byte buffer; `Ok(false)` at a clean end
    /// of file. Section headers, interface descriptions and blocks that carry no packet are
    /// consumed on the way. See [`super::CaptureReader::read_into`].
    pub fn read_into(&mut self, packet: &mut RawPacket) -> Result<bool> {
        loop {
            if self.read_buffered_epb(packet) {
                return Ok(true);
            }
            // Everything else, block by block and piece by piece: any block type, blocks cut by
            // the buffer's end or the file's, and every error.
            let start = self.src.offset();
            let mut t = [0u8; 4];
            match self.src.read_full(&mut t)? {
                0 => return Ok(false),
                4 => {}
                got => {
                    return Err(
                        self.truncated(start, format!("a block header, only {got} bytes left"))
                    );
                }
            }
            self.block += 1;
            if t == SHB_MAGIC {
                self.read_shb(start)?;
                continue;
            }
            let btype = self.endian.u32(&t);
            let body_len = self.read_block_len(start)?;
            let got_packet = match btype {
                BT_IDB => {
                    self.read_idb(start, body_len)?;
                    false
                }
                BT_EPB => {
                    self.read_epb(start, body_len, packet)?;
                    true
                }
                BT_SPB => {
                    self.read_spb(start, body_len, packet)?;
                    true
                }
                BT_OBSOLETE_PB => {
                    self.read_obsolete_pb(start, body_len, packet)?;
                    true
                }
                _ => {
                    let what = format!("block type {btype:#x}");
                    self.src
                        .skip(u64::from(body_len), Place::Block(self.block), &what)?;
                    false
                }
            };
            // A packet whose closing length is wrong is an error, not a packet, even though
            // `packet` is already filled.
            self.read_trailer(start, body_len)?;
            if got_packet {
                self.packets += 1;
                return Ok(true);
            }
        }
    }

    /// The fast path for the block nearly every packet comes in: an Enhanced Packet Block that
    /// is whole in the read buffer and sound (its lengths agree, its interface exists). It is
    /// parsed from one slice, the data copied once, padding and options stepped over, and the
    /// whole block consumed at once, where the general path takes it out piece by piece (type,
    /// length, fixed part, data, padding and options, trailer), each a call with its own checks.
    ///
    /// Returns false, having consumed and changed nothing, whenever the block is anything else,
    /// or anything is wrong with it: the general path then reads the same block and reports the
    /// error (offset, place and message) it always has. So every check below is one the
    /// general path makes too, and this path only ever delivers a packet the general path
    /// would have delivered, identically.
    fn read_buffered_epb(&mut self, packet: &mut RawPacket) -> bool {
        let e = self.endian;
        let b = self.src.buffered();
        // Block type and length (8 bytes), then the EPB's fixed part: interface id, timestamp
        // high and low, captured and original length (20 bytes).
        let Some(head) = b.first_chunk::<28>() else {
            return false;
        };
        let [btype, total, id, ts_high, ts_low, caplen, orig] = e.u32s::<7>(head);
        if btype != BT_EPB {
            return false;
        }
        // `check_len`'s conditions, and a body long enough for the fixed part (`read_timed_packet`
        // checks that the body is at least 20 bytes). The upper limit is implied by the block
        // fitting in the buffer, but costs nothing to state.
        if total < 32 || total % 4 != 0 || total > MAX_RECORD + 4096 {
            return false;
        }
        let Some(block) = b.get(..total as usize) else {
            // Straddles the buffer's end (or the file's, which the general path will report).
            return false;
        };
        let Some(iface) = self.interfaces.get(id as usize) else {
            return false;
        };
        let units = (u64::from(ts_high) << 32) | u64::from(ts_low);
        let body_len = total - 12;
        if caplen > body_len - 20 {
            return false;
        }
        // The closing copy of the length, in the block's last four bytes.
        if e.u32(&block[block.len() - 4..]) != total {
            return false;
        }
        super::set_bytes(&mut packet.bytes, &block[28..28 + caplen as usize]);
        packet.ts = iface.clock.to_timestamp(units, iface.tsoffset);
        packet.link_type = iface.link_type;
        packet.orig_len = orig.max(caplen);
        self.src.consume(block.len());
        self.block += 1;
        self.packets += 1;
        #[cfg(test)]
        {
            self.fast_path_packets += 1;
        }
        true
    }

    /// The total length after the type; returns the body length (total minus 12).
    fn read_block_len(&mut self, start: u64) -> Result<u32> {
        let mut l = [0u8; 4];
        self.src
            .read_exact(&mut l, Place::Block(self.block), "the block length")?;
        self.check_len(start, self.endian.u32(&l))
    }

    fn check_len(&self, start: u64, total: u32) -> Result<u32> {
        if total < 12 || total % 4 != 0 || total > MAX_RECORD + 4096 {
            return Err(self.malformed(
                start,
                format!(
                    "block length {total} is impossible (a block is at least 12 bytes, a multiple \
                     of 4, and at most {} bytes)",
                    MAX_RECORD + 4096
                ),
            ));
        }
        Ok(total - 12)
    }

    /// The copy of the total length at the end of every block: a cheap integrity check.
    fn read_trailer(&mut self, start: u64, body_len: u32) -> Result<()> {
        let mut l = [0u8; 4];
        self.src.read_exact(
            &mut l,
            Place::Block(self.block),
            "the block's closing length",
        )?;
        let trailer = self.endian.u32(&l);
        if trailer != body_len + 12 {
            return Err(self.malformed(
                start,
                format!(
                    "block length {} at the start but {trailer} at the end; the block is corrupt",
                    body_len + 12
                ),
            ));
        }
        Ok(())
    }

    /// Section Header Block, after its type: length, byte-order magic, version, options.
    fn read_shb(&mut self, start: u64) -> Result<()> {
        let mut h = [0u8; 8];
        self.src
            .read_exact(&mut h, Place::Block(self.block), "the section header")?;
        self.endian = if Endian::Little.u32(&h[4..8]) == BYTE_ORDER_MAGIC {
            Endian::Little
        } else if Endian::Big.u32(&h[4..8]) == BYTE_ORDER_MAGIC {
            Endian::Big
        } else {
            return Err(self.malformed(
                start + 8,
                format!(
                    "section header byte-order magic is {:02x?}, not 1a2b3c4d in either order",
                    &h[4..8]
                ),
            ));
        };
        let body_len = self.check_len(start, self.endian.u32(&h[0..4]))?;
        if body_len < 4 + 12 {
            return Err(self.malformed(start, "section header block too short".into()));
        }
        self.read_body(body_len - 4)?;
        let major = self.endian.u16(&self.scratch[0..2]);
        if major != 1 {
            return Err(self.malformed(
                start + 12,
                format!("pcapng major version {major} is not 1; this reader knows version 1.0"),
            ));
        }
        // A new section starts a new set of interfaces.
        self.interfaces.clear();
        self.read_trailer(start, body_len)
    }

    fn read_idb(&mut self, start: u64, body_len: u32) -> Result<()> {
        if body_len < 8 {
            return Err(self.malformed(start, "interface description block too short".into()));
        }
        self.read_body(body_len)?;
        let b = &self.scratch;
        let mut iface = Interface {
            link_type: LinkType(u32::from(self.endian.u16(&b[0..2]))),
            snaplen: self.endian.u32(&b[4..8]),
            name: None,
            clock: Clock::new(TsResol::DEFAULT),
            tsoffset: 0,
        };
        for (code, value) in Options::new(&b[8..], self.endian) {
            match code {
                OPT_IF_TSRESOL if value.len() == 1 => {
                    iface.clock = Clock::new(TsResol::from_option(value[0]))
                }
                OPT_IF_TSOFFSET if value.len() == 8 => {
                    iface.tsoffset = self.endian.u64(value) as i64;
                }
                OPT_IF_NAME => iface.name = Some(String::from_utf8_lossy(value).into_owned()),
                _ => {}
            }
        }
        self.interfaces.push(iface);
        Ok(())
    }

    fn read_epb(&mut self, start: u64, body_len: u32, packet: &mut RawPacket) -> Result<()> {
        self.read_timed_packet(
            start,
            body_len,
            "enhanced packet block",
            IdWidth::U32,
            packet,
        )
    }

    /// The body shared by the Enhanced Packet Block and the obsolete Packet Block: interface
    /// id (32 bits, or 16 bits plus a drop count), timestamp high and low, captured and original
    /// length, data, padding and options.
    fn read_timed_packet(
        &mut self,
        start: u64,
        body_len: u32,
        kind: &'static str,
        id: IdWidth,
        packet: &mut RawPacket,
    ) -> Result<()> {
        if body_len < 20 {
            return Err(self.malformed(start, format!("{kind} too short")));
        }
        let mut h = [0u8; 20];
        self.src
            .read_exact(&mut h, Place::Block(self.block), kind)?;
        let e = self.endian;
        let id = match id {
            IdWidth::U32 => e.u32(&h[0..4]),
            IdWidth::U16 => u32::from(e.u16(&h[0..2])),
        };
        // Copy out what the packet needs; the interface (and its name) stays where it is.
        let (clock, tsoffset, link_type) = {
            let i = self.interface(start, id)?;
            (i.clock, i.tsoffset, i.link_type)
        };
        let units = (u64::from(e.u32(&h[4..8])) << 32) | u64::from(e.u32(&h[8..12]));
        let caplen = e.u32(&h[12..16]);
        let orig = e.u32(&h[16..20]);
        if caplen > body_len - 20 {
            return Err(self.malformed(
                start,
                format!(
                    "packet {} claims {caplen} captured bytes but its {kind} holds only {}",
                    self.packets + 1,
                    body_len - 20
                ),
            ));
        }
        self.read_data(caplen, &mut packet.bytes)?;
        self.skip_rest(body_len - 20 - caplen)?;
        packet.ts = clock.to_timestamp(units, tsoffset);
        packet.link_type = link_type;
        packet.orig_len = orig.max(caplen);
        Ok(())
    }

    /// Simple Packet Block: no timestamp and no captured length; the captured part is the
    /// original length capped by the block size and interface 0's snap length.
    fn read_spb(&mut self, start: u64, body_len: u32, packet: &mut RawPacket) -> Result<()> {
        if body_len < 4 {
            return Err(self.malformed(start, "simple packet block too short".into()));
        }
        let mut h = [0u8; 4];
        self.src
            .read_exact(&mut h, Place::Block(self.block), "the simple packet header")?;
        let orig = self.endian.u32(&h);
        let (snaplen, link_type) = {
            let i = self.interface(start, 0)?;
            (i.snaplen, i.link_type)
        };
        let mut caplen = orig.min(body_len - 4);
        if snaplen != 0 {
            caplen = caplen.min(snaplen);
        }
        self.read_data(caplen, &mut packet.bytes)?;
        self.skip_rest(body_len - 4 - caplen)?;
        // The format has no timestamp; zero says "unknown" honestly (and must overwrite the
        // previous packet's time in a reused `packet`).
        packet.ts = Timestamp::default();
        packet.link_type = link_type;
        packet.orig_len = orig;
        Ok(())
    }

    /// The Packet Block of pcapng drafts before EPB existed; some old tools still write it.
    fn read_obsolete_pb(
        &mut self,
        start: u64,
        body_len: u32,
        packet: &mut RawPacket,
    ) -> Result<()> {
        self.read_timed_packet(start, body_len, "packet block", IdWidth::U16, packet)
    }

    fn interface(&self, start: u64, id: u32) -> Result<&Interface> {
        self.interfaces.get(id as usize).ok_or_else(|| {
            self.malformed(
                start,
                format!(
                    "packet refers to interface {id}, but only {} interface description block(s) \
                     came before it",
                    self.interfaces.len()
                ),
            )
        })
    }

    fn read_data(&mut self, len: u32, out: &mut Vec<u8>) -> Result<()> {
        self.src.read_data_into(
            out,
            len as usize,
            Place::Block(self.block),
            "the packet data",
        )
    }

    /// Read `len` bytes into the scratch buffer.
    fn read_body(&mut self, len: u32) -> Result<()> {
        self.scratch.resize(len as usize, 0);
        self.src.read_exact(
            &mut self.scratch,
            Place::Block(self.block),
            "the block body",
        )
    }

    /// Skip `len` bytes of a packet block after its data (padding and options, which no caller
    /// wants) without copying them anywhere. Fails exactly as reading them into the scratch
    /// buffer with [`Self::read_body`] would: same offset, place and message.
    fn skip_rest(&mut self, len: u32) -> Result<()> {
        self.src
            .skip(u64::from(len), Place::Block(self.block), "the block body")
    }

    fn malformed(&self, offset: u64, what: String) -> InspectError {
        InspectError::Malformed {
            offset,
            place: Place::Block(self.block),
            what,
        }
    }

    fn truncated(&self, offset: u64, what: String) -> InspectError {
        InspectError::Truncated {
            offset,
            place: Place::Block(self.block + 1),
            what,
        }
    }
}

/// Iterator over a block's options: (code, value). Stops at opt_endofopt or at the first option
/// that would run past the block (a lenient reader: options are metadata, not packets).
struct Options<'a> {
    rest: &'a [u8],
    endian: Endian,
}

impl<'a> Options<'a> {
    fn new(rest: &'a [u8], endian: Endian) -> Self {
        Options { rest, endian }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.len() < 4 {
            return None;
        }
        let code = self.endian.u16(&self.rest[0..2]);
        let len = usize::from(self.endian.u16(&self.rest[2..4]));
        if code == OPT_END || 4 + len > self.rest.len() {
            return None;
        }
        let value = &self.rest[4..4 + len];
        let padded = (4 + len).next_multiple_of(4).min(self.rest.len());
        self.rest = &self.rest[padded..];
        Some((code, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The precomputed conversion agrees with the definition for every `if_tsresol` byte,
    /// including the nonsense ones, on counts that exercise carries, the top bits and the
    /// offset's saturation.
    #[test]
    fn clock_converts_like_the_definition_for_every_resolution() {
        let units = [
            0,
            1,
            999,
            1_000_000 - 1,
            1_000_000,
            1_000_000_001,
            1_700_000_000_123_456,
            u64::from(u32::MAX),
            1 << 63,
            u64::MAX - 1,
            u64::MAX,
        ];
        for v in 0..=255u8 {
            let resol = TsResol::from_option(v);
            let clock = Clock::new(resol);
            for u in units {
                for offset in [0, -3600, 1_000, i64::MAX, i64::MIN] {
                    assert_eq!(
                        clock.to_timestamp(u, offset),
                        resol.to_timestamp(u, offset),
                        "if_tsresol {v:#x}, {u} units, offset {offset}"
                    );
                }
            }
        }
    }
}
