//! The one error type of netlab-events.

use std::io;

use crate::frame::FrameError;

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("could not bind {addr}: {source}; is another server using the port? try --port 0")]
    Bind { addr: String, source: io::Error },
    #[error("could not connect to {addr}: {source}; is `netlab events serve` running?")]
    Connect { addr: String, source: io::Error },
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    #[error("bad frame from the peer: {0}")]
    Frame(#[from] FrameError),
    #[error("the server refused namespace {ns}: {message}")]
    ConnectRefused { ns: String, message: String },
    #[error("the server reported a protocol error {code}: {message}")]
    Protocol { code: String, message: String },
    #[error("no ack within {0:?}")]
    AckTimeout(std::time::Duration),
    #[error("the connection closed before the ack arrived")]
    Disconnected,
    #[error("the offline buffer is full ({0} emits); wait for the reconnect or raise the limit")]
    OfflineBufferFull(usize),
    #[error("the client has been shut down")]
    ClientClosed,
    #[error("timed out after {0:?}: {1}")]
    Timeout(std::time::Duration, &'static str),
    #[error("store {path}: {message}; check the path is writable, or run without --store")]
    Store { path: String, message: String },
    #[error(
        "store {path} cannot be used: {what}. Move it aside (mv {path} {path}.damaged) and \
         start again with a new store; clients that resume then get recovered: false and resync"
    )]
    StoreDamaged { path: String, what: String },
    #[error(
        "the server stopped: {0}; no client was sent an event that is not on disk. Free some \
         space (or move the store file aside) and start the server again: clients resume"
    )]
    Stopped(String),
    #[error(
        "the event would be {bytes} bytes on the wire, over the server's limit of {max} bytes (max_frame_bytes); send less"
    )]
    TooLarge { bytes: usize, max: usize },
}
