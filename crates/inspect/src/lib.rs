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

pub mod model;

pub use model::*;
