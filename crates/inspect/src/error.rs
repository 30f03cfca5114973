//! The one error type of netlab-inspect. Dissection never fails (a broken layer becomes a
//! "malformed" layer), so errors come from the edges: files, live capture and filters.

use std::path::PathBuf;

/// Everything that can go wrong in the inspector's I/O and filter parsing. Each message says what
/// happened, where, and what to do next.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The file could not be opened or read at all.
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Reading failed part-way (disk error, pipe closed, ...).
    #[error("read error at byte offset {offset}: {source}")]
    Read {
        offset: u64,
        #[source]
        source: std::io::Error,
    },

    /// Writing a capture file failed.
    #[error("cannot write capture: {0}")]
    Write(#[source] std::io::Error),

    /// The first bytes are not a pcap or pcapng magic number.
    #[error(
        "not a pcap or pcapng file: it starts with {} (a pcap file starts with d4 c3 b2 a1 or \
         a1 b2 c3 d4, a pcapng file with 0a 0d 0d 0a); was it saved by tcpdump, Wireshark or \
         `netlab inspect live -w`?",
        hex_bytes(magic)
    )]
    NotACapture { magic: Vec<u8> },

    /// The file is a capture but a header or record is broken. `offset` is the byte where the
    /// broken structure starts, `place` the record (pcap) or block (pcapng) it belongs to.
    #[error("bad capture file at byte offset {offset}{place}: {what}")]
    Malformed {
        offset: u64,
        place: Place,
        what: String,
    },

    /// The file ends in the middle of a header or a record (a capture cut off while being
    /// written, or a partial download).
    #[error(
        "capture file ends early at byte offset {offset}{place}: {what}; the packets before it \
         were read, the file was probably cut off while it was being written"
    )]
    Truncated {
        offset: u64,
        place: Place,
        what: String,
    },

    /// Live capture needs CAP_NET_RAW and this process does not have it.
    #[error(
        "live capture on {iface} needs the CAP_NET_RAW capability (the kernel said: {source}).\n\
         Grant it once to the binary:  sudo setcap cap_net_raw+ep {binary}\n\
         or run the command as root.  Reading a saved file (`netlab inspect read FILE`) needs no \
         privilege."
    )]
    Permission {
        iface: String,
        binary: String,
        #[source]
        source: std::io::Error,
    },

    /// The interface does not exist.
    #[error(
        "no interface named {iface:?}; `netlab inspect interfaces` lists the ones this machine has"
    )]
    NoSuchInterface { iface: String },

    /// The interface exists but is down, so nothing can be captured on it.
    #[error(
        "interface {iface} is down; bring it up (`sudo ip link set {iface} up`) or pick another"
    )]
    InterfaceDown { iface: String },

    /// A socket call of live capture failed.
    #[error("live capture on {iface}: {what}: {source}")]
    Capture {
        iface: String,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// A display filter did not parse. `rendered` shows the filter with a caret under `pos`.
    #[error("bad filter (at character {}):\n{rendered}", pos + 1)]
    Filter {
        message: String,
        /// Character position (from 0) of the bad spot in the filter text.
        pos: usize,
        /// The filter and a caret line under the bad spot, ready to print.
        rendered: String,
    },
}

fn hex_bytes(b: &[u8]) -> String {
    if b.is_empty() {
        return "nothing (the file is empty)".into();
    }
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where in a capture file a problem is: the file header, a pcap record or a pcapng block.
/// Records and blocks are numbered from 1, as Wireshark numbers frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    FileHeader,
    Record(u64),
    Block(u64),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::FileHeader => f.write_str(" (file header)"),
            Place::Record(n) => write!(f, " (record {n})"),
            Place::Block(n) => write!(f, " (block {n})"),
        }
    }
}

impl InspectError {
    /// True when the error is missing privilege for live capture (not a bug, a setup step).
    pub fn is_permission(&self) -> bool {
        matches!(self, InspectError::Permission { .. })
    }

    /// True when the error comes from a bad display filter (a usage error for the CLI).
    pub fn is_filter(&self) -> bool {
        matches!(self, InspectError::Filter { .. })
    }
}

pub type Result<T, E = InspectError> = std::result::Result<T, E>;
