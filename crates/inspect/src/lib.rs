//! netlab-inspect: the packet inspector.
//!
//! Data flows left to right, and only the two ends do I/O:
//!
//! ```text
//! source (live | pcap | pcapng) -> RawPacket -> dissect -> Dissection -> flows -> filter -> render | sink
//! ```
//!
//! # Modules
//! - [`model`]: the shared types: `RawPacket`, `Dissection`, `Layer` (with its `Summary`, kept as
//!   numbers until read for the common headers), `Field`, OSI and TCP/IP layers.
//! - [`error`]: the crate's one error type, [`InspectError`]: what went wrong and where.
//! - [`capfile`]: pcap and pcapng files, read (streaming) and written.
//! - [`live`]: live capture on a Linux interface (AF_PACKET), once per packet, untruncated.
//! - [`filter`]: the display filter language (`tcp and port 7007`, `ip.ttl > 60`), parsed once, tested per packet.
//! - [`render`]: the views: one line per packet, layer tree, coloured hex dump, JSON, statistics.
//! - [`craft`]: frames built byte by byte with correct lengths and checksums (fixtures, tests, lessons).
//! - [`dissect`]: the pure dissector, `(link type, bytes) -> Dissection`, one submodule per protocol;
//!   in full (every field and note) or summaries-only (what the one-line view needs, about twice
//!   as fast: see `dissect::Context::summaries_only`). `dissect_into` (and the flow tracker's
//!   `process_into`, and `CaptureReader::read_into`) refill the previous packet's storage, so a
//!   loop over a capture allocates almost nothing per packet.
//! - [`flows`]: the flow tracker: stream index, relative seq/ack, TCP hints, conversations, follow-stream.

pub mod capfile;
pub mod craft;
pub mod dissect;
pub mod error;
pub mod filter;
pub mod flows;
pub mod live;
pub mod model;
pub mod render;

pub use error::{InspectError, Place};
pub use model::*;
