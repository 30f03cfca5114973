//! netlab-web: the chat and the event protocol over HTTP, on port 7080, beside the TCP
//! listener on 7070. Every transport here is an adapter around the same
//! [`netlab_events::server::Hub`]: one core, one set of rooms and sessions, so a message typed
//! in `nc` reaches a browser on WebSocket, a long-polling client and an SSE stream, and back.
//!
//! # Modules
//! - [`app`]: [`Web`], the state every handler shares (hub, chat history, options), and
//!   [`Web::router`], the map from paths to handlers (merge more routes into it).
//! - [`server`]: [`WebServer`], the listener: accept loop on hyper with a connection limit,
//!   header timeouts and graceful shutdown.
//! - [`page`]: `GET /`, the browser chat (assets/ compiled in).
//! - [`api`]: the request/response chat API: `POST`/`GET /api/rooms/{room}/messages`, short
//!   and long polling.
//! - [`sse`]: `GET /api/rooms/{room}/events`, Server-Sent Events with `Last-Event-ID`.
//! - [`ws`]: `GET /ws`, the event protocol over WebSocket (one frame per text message).
//! - [`poll`]: `/poll`, the event protocol over HTTP long-polling, and its upgrade to WebSocket.
//! - [`socketio`]: `/socket.io/`, socket.io's wire format (Engine.IO and Socket.IO) on the hub.
//! - [`link`]: what `ws` and `poll` share: one core connection fed from text, its timers.
//! - [`guard`]: checks all of them share: `Origin`, content type, body size and deadline.
//! - [`error`]: the JSON error every refusal answers, and the crate's error type.
//!
//! The wire formats are specified in docs/src/protocol.md; the book page "One chat, every
//! transport" (docs/src/transports.md) compares them.

pub mod api;
pub mod app;
pub mod error;
pub mod guard;
pub mod link;
pub mod page;
pub mod poll;
pub mod server;
pub mod socketio;
pub mod sse;
pub mod ws;

pub use app::{Web, WebOptions};
pub use error::{ApiError, WebError};
pub use server::WebServer;
pub use socketio::SocketIo;

/// The default HTTP port of the event server (docs/src/protocol.md).
pub const DEFAULT_HTTP_PORT: u16 = 7080;
