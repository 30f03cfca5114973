//! netlab-events: the tiny event protocol, a small socket.io that students can read on the wire
//! and type with `nc`. The normative spec is docs/src/protocol.md.
//!
//! # Modules
//! - [`frame`]: the `Frame` enum, its JSON shape, and typed decode errors (one code per mistake).
//! - [`codec`]: JSON lines: splitting a byte stream into frames, with a size limit. Pure.
//! - [`core`]: the semantic core (sessions, namespaces, rooms, broadcast, acks, heartbeat,
//!   reliable log, dedup). No I/O, no clock: frames in, frames out.
//! - [`store`]: where sessions and reliable logs persist: in memory, or a redb file.
//! - [`server`]: the TCP transport: accept loop, one reader and one writer task per connection.
//! - [`limits`]: connection limits (total and per address) and the accept loop's backoff when
//!   descriptors run out.
//! - [`client`]: the client library: namespaces, emit/on/acks, reconnect, offline buffer, resume.
//!   [`client::core`] is its protocol logic with no I/O and no clock (numbering, renumbering
//!   after a new session, de-duplication, acks, resume), driven by the TCP task in `client`.
//! - [`socketio`]: socket.io's wire format (Engine.IO v4, Socket.IO v5) onto the core. Sans-IO.
//! - [`chat`]: the chat application `netlab events serve` runs (namespace /chat).
//! - [`error`]: the crate's error type.

pub mod chat;
pub mod client;
pub mod codec;
pub mod core;
pub mod error;
pub mod frame;
pub mod limits;
pub mod server;
pub mod socketio;
pub mod store;

pub use error::EventsError;
pub use frame::{Frame, FrameError};

/// The default TCP port of the event server (docs/src/protocol.md).
pub const DEFAULT_PORT: u16 = 7070;
