//! netlab-inspect: the packet inspector.
//!
//! Data flows left to right, and only the two ends do I/O:
//!
//! ```text
//! source (live | pcap | pcapng) -> RawPacket -> dissect -> Dissection -> flows -> filter -> render | sink
//! ```
//!
//! # Modules
//! - [`model`]: the shared types: `RawPacket`, `Dissection`, `Layer`, `Field`, OSI and TCP/IP layers.
//! - [`craft`]: frames built byte by byte with correct lengths and checksums (fixtures, tests, lessons).
//! - [`dissect`]: the pure dissector, `(link type, bytes) -> Dissection`, one submodule per protocol.

pub mod craft;
pub mod dissect;
pub mod model;

pub use model::*;
