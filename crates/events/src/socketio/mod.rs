//! socket.io's wire format: Engine.IO v4 and Socket.IO v5, as socket.io's site specifies them,
//! so the socket.io clients students already use can connect to netlab's core. Sans-IO: the
//! HTTP and WebSocket plumbing lives in crates/web and calls into this.
//!
//! # Modules
//! - [`engineio`]: Engine.IO packets (open, close, ping, pong, message, upgrade, noop) and
//!   long-polling payloads. Pure.
//! - [`packet`]: Socket.IO packets (CONNECT ... BINARY_ACK), namespaces, ack ids, binary
//!   attachments and their placeholders. Pure.
//! - [`session`]: one Engine.IO session: handshake, heartbeat, polling, the upgrade to
//!   WebSocket, close; and the checks on each HTTP request. No I/O, no clock.
//! - [`connection`]: one socket.io client on the core: Socket.IO packets to and from the core's
//!   frames, connection state recovery, the connect timeout. No I/O, no clock.
//! - [`conformance`]: the conformance app (`--app conformance`).
//!
//! The layering, from the wire up: WebSocket frame or HTTP body -> Engine.IO packet ->
//! Socket.IO packet -> the core's frame. Each step has its own error type, and each error
//! closes only the client that caused it.

pub mod conformance;
pub mod connection;
pub mod engineio;
pub mod packet;
pub mod session;

pub use connection::{Config, Connection, ConnectionError};
pub use session::{Poll, RequestError, Route, Transport, check_request};

/// The HTTP path socket.io clients use by default.
pub const PATH: &str = "/socket.io/";
