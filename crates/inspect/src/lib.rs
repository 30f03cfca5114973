//! netlab-inspect: the packet inspector.
//!
//! Data flows left to right, and only the two ends do I/O:
//!
//! ```text
//! source (live | pcap | pcapng) -> RawPacket -> dissect -> Dissection -> flows -> filter -> render | sink
//! ```
//!
//! The code is plain throughout, written to be read. The one place that favours speed over the
//! obvious is that a loop over a capture reuses its storage from packet to packet (`read_into`,
//! `dissect_into`, `process_into`) and dissects only summaries when no view shows fields: a
//! capture can be millions of packets, and each of the two roughly halves the work of its stage.
//!
//! # Modules, bottom to top
//!
//! Each module imports only from the modules below it (`tests/module_graph.rs` checks it):
//!
//! ```text
//!   render   the views: one line per packet, layer tree, hex dump, JSON, statistics, follow
//!     |
//!   filter   the display filter language, and the registry of field names it accepts
//!     |
//!   flows    the flow tracker: stream index, relative seq/ack, TCP hints, conversations
//!     |
//!   dissect  the pure dissector, (link type, bytes) -> Dissection, one submodule per protocol
//!     |
//!   model    the shared data: RawPacket, Dissection, Layer, Summary, Field, OSI/TCP-IP layers,
//!            and FieldDef/FixedField, what a protocol declares about each of its fields
//!
//!   capfile, live   the sources and sinks at the edge (pcap/pcapng files, AF_PACKET): model only
//!   craft           above dissect: gathers each protocol's builder (the inverse of its parser)
//!   error           the crate's one error type, used by every layer
//! ```
//!
//! - [`model`]: the shared types: `RawPacket`, `Dissection`, `Layer` (with its [`Summary`],
//!   kept as data for the common headers and written by `Display`), `Field`, OSI and TCP/IP
//!   layers; and [`FieldDef`] / [`FixedField`], a field as its protocol defines it (filter name,
//!   label, byte range), each declared once with the `fields!` macro in its module's `field`
//!   module, from which the filter's registry of names is derived.
//! - [`error`]: the crate's one error type, [`InspectError`]: what went wrong and where.
//! - [`capfile`]: pcap and pcapng files, read (streaming) and written.
//! - [`live`]: live capture on a Linux interface (AF_PACKET), once per packet, untruncated.
//! - [`dissect`]: the pure dissector, `(link type, bytes) -> Dissection`, one submodule per
//!   protocol; in full (every field and note) or summaries-only (what the one-line view needs:
//!   see `dissect::Context::summaries_only`). `dissect_into` (and the flow tracker's
//!   `process_into`, and `CaptureReader::read_into`) refill the previous packet's storage.
//! - [`flows`]: the flow tracker: stream index, relative seq/ack, TCP hints, conversations,
//!   follow-stream; it forgets conversations that are over or silent and holds at most
//!   [`flows::MAX_CONVERSATIONS`], so its memory does not grow with the capture.
//! - [`filter`]: the display filter language (`tcp and port 7007`, `ip.ttl > 60`), parsed once,
//!   tested per packet; [`filter::field_names`] is every field name a filter may use, gathered
//!   from the `field` modules' declarations.
//! - [`render`]: the views: one line per packet, layer tree, coloured hex dump, JSON, statistics.
//! - [`craft`]: frames built byte by byte with correct lengths and checksums (fixtures, tests,
//!   lessons); each builder lives next to its parser in `dissect`, and is gathered here.

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
