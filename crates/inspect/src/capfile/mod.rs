//! Capture files: read and write pcap and pcapng, streaming.
//!
//! - [`CaptureReader`] opens either format (decided by the magic number) and yields
//!   [`RawPacket`]s one at a time, so memory stays flat however big the file is.
//! - [`CaptureWriter`] writes pcapng (default) or pcap that Wireshark and tcpdump open, keeping
//!   each packet's timestamp (to the nanosecond) and original length.
//!
//! A broken file is an [`InspectError::Malformed`] or [`InspectError::Truncated`] naming the byte
//! offset and the record number, and the packets before the break are still delivered.

mod pcap;
mod pcapng;
mod writer;

use std::fs::File;
use std::io::{BufReader, Read};
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

impl CaptureReader<BufReader<File>> {
    /// Open a capture file by path.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| InspectError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        // 256 KiB: large sequential reads; the buffer is the only memory that scales with I/O.
        Self::new(BufReader::with_capacity(256 * 1024, file))
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
        match self {
            CaptureReader::Pcap(r) => r.next_packet(),
            CaptureReader::Pcapng(r) => r.next_packet(),
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

/// A reader that counts bytes, so every error can say at which offset it happened.
pub(crate) struct Source<R> {
    inner: R,
    offset: u64,
}

impl<R: Read> Source<R> {
    fn new(inner: R) -> Self {
        Source { inner, offset: 0 }
    }

    /// Byte offset of the next byte to be read.
    fn offset(&self) -> u64 {
        self.offset
    }

    /// Fill `buf` as far as the input goes; returns how many bytes were read (less than
    /// `buf.len()` only at end of input).
    fn read_full(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(InspectError::Read {
                        offset: self.offset + filled as u64,
                        source,
                    });
                }
            }
        }
        self.offset += filled as u64;
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

    /// Skip `n` bytes (used for blocks we do not understand).
    fn skip(&mut self, n: u64, place: Place, what: &str) -> Result<()> {
        let start = self.offset;
        let copied = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink()).map_err(
            |source| InspectError::Read {
                offset: start,
                source,
            },
        )?;
        self.offset += copied;
        if copied < n {
            return Err(InspectError::Truncated {
                offset: start,
                place,
                what: format!("{what} needs {n} bytes, only {copied} left"),
            });
        }
        Ok(())
    }
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
