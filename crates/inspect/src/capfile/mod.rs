//! Capture files: read and write pcap and pcapng, streaming.
//!
//! - [`CaptureReader`] opens either format (decided by the magic number) and yields
//!   [`RawPacket`]s one at a time, so memory stays flat however big the file is.
//! - [`CaptureWriter`] writes pcapng (default) or pcap that Wireshark and tcpdump open, keeping
//!   each packet's timestamp (to the nanosecond) and original length.
//!
//! A broken file is an [`InspectError::Malformed`] or [`InspectError::Truncated`] naming the byte
//! offset and the record number, and the packets before the break are still delivered.
//!
//! Two ways to take packets out of a reader, one code path underneath:
//!
//! - [`CaptureReader::next_packet`] (and the [`Packets`] iterator) hands out a new
//!   [`RawPacket`] each time, for callers that keep the packets they read.
//! - [`CaptureReader::read_into`] refills a packet the caller already has, reusing its byte
//!   buffer. A caller that looks at each packet and moves on (print a line, count, filter) thus
//!   allocates nothing per packet (a fresh `Vec` per packet would be about half the cost of
//!   reading it; `examples/read_loop.rs` compares the two).
//!
//! `next_packet` is `read_into` on a fresh packet, so both see the same packets and errors.

mod pcap;
mod pcapng;
mod writer;

use std::fs::File;
use std::io::Read;
use std::path::Path;

pub use pcap::PcapReader;
pub use pcapng::PcapngReader;
pub use writer::{CaptureWriter, PcapWriter, PcapngWriter};

use crate::error::{InspectError, Place, Result};
use crate::model::RawPacket;

/// The two capture file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic libpcap: one link type per file, micro- or nanosecond timestamps.
    Pcap,
    /// pcapng: blocks, several interfaces with their own link types and timestamp resolutions.
    Pcapng,
}

/// Biggest packet record we accept. Loopback frames with GSO reach 64 KiB and BIG TCP a few
/// hundred KiB; a length beyond this is a corrupt header, and refusing it keeps one bad length
/// from allocating gigabytes.
pub const MAX_RECORD: u32 = 16 * 1024 * 1024;

/// A reader for either format, chosen by the file's first four bytes.
pub enum CaptureReader<R> {
    Pcap(PcapReader<R>),
    Pcapng(PcapngReader<R>),
}

impl CaptureReader<File> {
    /// Open a capture file by path.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| InspectError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        // Unbuffered: the reader keeps its own buffer (see `Source`).
        Self::new(file)
    }
}

impl<R: Read> CaptureReader<R> {
    /// Read the file header from `reader` and pick the format.
    pub fn new(reader: R) -> Result<Self> {
        let mut src = Source::new(reader);
        let mut magic = [0u8; 4];
        let got = src.read_full(&mut magic)?;
        if got < 4 {
            return Err(InspectError::NotACapture {
                magic: magic[..got].to_vec(),
            });
        }
        if magic == pcapng::SHB_MAGIC {
            Ok(CaptureReader::Pcapng(PcapngReader::after_magic(src)?))
        } else if pcap::is_magic(magic) {
            Ok(CaptureReader::Pcap(PcapReader::after_magic(src, magic)?))
        } else {
            Err(InspectError::NotACapture {
                magic: magic.to_vec(),
            })
        }
    }

    pub fn format(&self) -> CaptureFormat {
        match self {
            CaptureReader::Pcap(_) => CaptureFormat::Pcap,
            CaptureReader::Pcapng(_) => CaptureFormat::Pcapng,
        }
    }

    /// The next packet, `Ok(None)` at a clean end of file.
    pub fn next_packet(&mut self) -> Result<Option<RawPacket>> {
        let mut packet = RawPacket::empty();
        Ok(self.read_into(&mut packet)?.then_some(packet))
    }

    /// Read the next packet into `packet`, overwriting all of it and reusing the capacity of
    /// `packet.bytes`: `Ok(true)` when a packet was read, `Ok(false)` at a clean end of file
    /// (`packet` is then left as it was). The errors are those of [`Self::next_packet`]; after
    /// one, `packet` holds no packet in particular (its bytes may be half overwritten).
    pub fn read_into(&mut self, packet: &mut RawPacket) -> Result<bool> {
        match self {
            CaptureReader::Pcap(r) => r.read_into(packet),
            CaptureReader::Pcapng(r) => r.read_into(packet),
        }
    }

    /// Iterate packets; the iterator ends after the first error (which it yields).
    pub fn packets(self) -> Packets<R> {
        Packets {
            reader: self,
            done: false,
        }
    }
}

/// Iterator over a capture's packets. Yields `Err` at most once, then ends.
pub struct Packets<R> {
    reader: CaptureReader<R>,
    done: bool,
}

impl<R: Read> Iterator for Packets<R> {
    type Item = Result<RawPacket>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.reader.next_packet() {
            Ok(Some(p)) => Some(Ok(p)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<R: Read> IntoIterator for CaptureReader<R> {
    type Item = Result<RawPacket>;
    type IntoIter = Packets<R>;

    fn into_iter(self) -> Packets<R> {
        self.packets()
    }
}

/// How much of the file [`Source`] reads at once: large sequential reads, and the only memory
/// that scales with I/O.
const READ_CHUNK: usize = 256 * 1024;

/// A buffered reader that counts bytes, so every error can say at which offset it happened.
/// It keeps its own buffer instead of wrapping a `BufReader`: the general path reads a packet
/// record as half a dozen small pieces (block type, length, header, data, padding, trailer),
/// which are copied out of a slice here rather than asked of a `BufReader` one `Read::read`
/// at a time, and packet data goes straight into its `Vec` (no zeroing). And the readers' fast paths can look at a whole buffered record at once
/// ([`Self::buffered`]).
pub(crate) struct Source<R> {
    inner: R,
    /// Offset in the file of the next byte handed out.
    offset: u64,
    buf: Box<[u8]>,
    /// `buf[pos..end]` is read from `inner` and not handed out yet.
    pos: usize,
    end: usize,
}

impl<R: Read> Source<R> {
    fn new(inner: R) -> Self {
        Source {
            inner,
            offset: 0,
            buf: vec![0u8; READ_CHUNK].into_boxed_slice(),
            pos: 0,
            end: 0,
        }
    }

    /// Byte offset of the next byte to be read.
    fn offset(&self) -> u64 {
        self.offset
    }

    /// The bytes read from the input and not handed out yet; empty when the buffer has run dry.
    /// No I/O: the readers' fast paths parse a whole record from here when it is all buffered
    /// (nearly always: a record straddles the buffer's end once in hundreds) and [`Self::consume`]
    /// it, instead of taking it out piece by piece.
    fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    /// Hand out the first `n` bytes of [`Self::buffered`], as if they had been read.
    fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.pos);
        self.pos += n;
        self.offset += n as u64;
    }

    /// Refill the buffer when it is empty; false at end of input.
    fn fill(&mut self) -> Result<bool> {
        if self.pos < self.end {
            return Ok(true);
        }
        loop {
            match self.inner.read(&mut self.buf) {
                Ok(n) => {
                    self.pos = 0;
                    self.end = n;
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(InspectError::Read {
                        offset: self.offset,
                        source,
                    });
                }
            }
        }
    }

    /// Hand out up to `max` buffered bytes (refilling first if needed); empty at end of input.
    fn chunk(&mut self, max: usize) -> Result<&[u8]> {
        if !self.fill()? {
            return Ok(&[]);
        }
        let n = max.min(self.end - self.pos);
        let at = self.pos;
        self.consume(n);
        Ok(&self.buf[at..at + n])
    }

    /// Fill `buf` as far as the input goes; returns how many bytes were read (less than
    /// `buf.len()` only at end of input).
    fn read_full(&mut self, buf: &mut [u8]) -> Result<usize> {
        // The common case, a small header inside the buffer: one copy.
        if self.end - self.pos >= buf.len() {
            buf.copy_from_slice(&self.buf[self.pos..self.pos + buf.len()]);
            self.consume(buf.len());
            return Ok(buf.len());
        }
        let mut filled = 0;
        while filled < buf.len() {
            let piece = self.chunk(buf.len() - filled)?;
            if piece.is_empty() {
                break;
            }
            let n = piece.len();
            buf[filled..filled + n].copy_from_slice(piece);
            filled += n;
        }
        Ok(filled)
    }

    /// Fill `buf` completely or fail with `Truncated` describing `what` was being read.
    fn read_exact(&mut self, buf: &mut [u8], place: Place, what: &str) -> Result<()> {
        let start = self.offset;
        let got = self.read_full(buf)?;
        if got < buf.len() {
            return Err(InspectError::Truncated {
                offset: start,
                place,
                what: format!("{what} needs {} bytes, only {got} left", buf.len()),
            });
        }
        Ok(())
    }

    /// Replace the contents of `out` with exactly `len` bytes (packet data), or fail like
    /// [`Self::read_exact`]. The bytes are appended straight from the read buffer: no zero
    /// filling first, and no allocation when `out` already has the room (a reused packet).
    fn read_data_into(
        &mut self,
        out: &mut Vec<u8>,
        len: usize,
        place: Place,
        what: &str,
    ) -> Result<()> {
        let start = self.offset;
        empty_with_room(out, len);
        while out.len() < len {
            let piece = self.chunk(len - out.len())?;
            if piece.is_empty() {
                return Err(InspectError::Truncated {
                    offset: start,
                    place,
                    what: format!("{what} needs {len} bytes, only {} left", out.len()),
                });
            }
            out.extend_from_slice(piece);
        }
        Ok(())
    }

    /// Skip `n` bytes (used for blocks we do not understand).
    fn skip(&mut self, n: u64, place: Place, what: &str) -> Result<()> {
        let start = self.offset;
        let mut left = n;
        while left > 0 {
            let piece = self
                .chunk(usize::try_from(left).unwrap_or(usize::MAX))?
                .len();
            if piece == 0 {
                return Err(InspectError::Truncated {
                    offset: start,
                    place,
                    what: format!("{what} needs {n} bytes, only {} left", n - left),
                });
            }
            left -= piece as u64;
        }
        Ok(())
    }
}

/// Empty `out` and make room in it for `len` bytes, keeping its allocation when it is big enough
/// (a reused packet).
fn empty_with_room(out: &mut Vec<u8>, len: usize) {
    out.clear();
    if out.capacity() < len {
        // A fresh vector, or a reused one meeting a bigger packet than ever: one allocation of
        // exactly the packet's size. Not `reserve`: growing would copy the stale bytes (realloc
        // does not know they are dead), and its amortising arithmetic measurably slowed
        // `next_packet`, whose vectors are always fresh.
        *out = Vec::with_capacity(len);
    }
}

/// Replace the contents of `out` with `data`, the way [`Source::read_data_into`] fills it.
fn set_bytes(out: &mut Vec<u8>, data: &[u8]) {
    empty_with_room(out, data.len());
    out.extend_from_slice(data);
}

/// Byte order of a file, decided by its magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endian {
    Little,
    Big,
}

impl Endian {
    fn u16(self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        match self {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        }
    }

    fn u32(self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        match self {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        }
    }

    /// The first `N` 32-bit words of `b` (zeros past its end): a record header's fields with
    /// the byte order decided once for all of them rather than once per field.
    fn u32s<const N: usize>(self, b: &[u8]) -> [u32; N] {
        let mut words = [0u32; N];
        // `chunks_exact` hands out 4-byte slices only, so the conversion never falls back.
        let pairs = words
            .iter_mut()
            .zip(b.chunks_exact(4).map(|c| c.try_into().unwrap_or([0; 4])));
        match self {
            Endian::Little => pairs.for_each(|(w, c)| *w = u32::from_le_bytes(c)),
            Endian::Big => pairs.for_each(|(w, c)| *w = u32::from_be_bytes(c)),
        }
        words
    }

    fn u64(self, b: &[u8]) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        match self {
            Endian::Little => u64::from_le_bytes(a),
            Endian::Big => u64::from_be_bytes(a),
        }
    }
}

#[cfg(test)]
mod tests;
