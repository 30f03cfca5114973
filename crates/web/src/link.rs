//! What the WebSocket and long-polling transports share: one event-protocol connection of the
//! hub, fed frames decoded from text, its timers run, its output taken in batches.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use netlab_events::core::{ConnId, Transmit};
use netlab_events::frame::{Frame, FrameError};
use netlab_events::limits::Permit;
use netlab_events::server::{Hub, Trace};
use tokio::sync::Notify;
use tokio::time::Instant as TokioInstant;

use crate::error::ApiError;

/// Take a place under the hub's connection limits (in all and per address; the same counts as
/// TCP's), or the `503` that says which limit.
pub fn admit(hub: &Hub, peer: SocketAddr) -> Result<Permit, ApiError> {
    hub.admit(peer.ip())
        .map_err(|r| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, r.code, r.message))
}

/// Frames taken from the core per write (as the TCP writer does).
pub const BATCH: usize = 64;

/// One connection of the hub, opened by an HTTP transport.
#[derive(Clone)]
pub struct Link {
    pub hub: Arc<Hub>,
    pub conn: ConnId,
    /// Woken by the hub when the core queued output (or a close) for this connection.
    pub notify: Arc<Notify>,
}

impl Link {
    /// Open a connection (its `hello` is queued) and trace it as coming from `peer`.
    pub fn open(hub: &Arc<Hub>, peer: SocketAddr) -> Link {
        let (conn, notify) = hub.open();
        hub.trace(|| Trace::Open { conn, peer });
        Link {
            hub: hub.clone(),
            conn,
            notify,
        }
    }

    /// Decode one frame of text (one WebSocket message, one line of a `/poll` body) and hand it
    /// to the core. A bad one gets the same `error` frame and close as on TCP; returns false then.
    pub fn receive_text(&self, bytes: &[u8]) -> bool {
        let max = self.hub.step(|c, _| c.config().max_frame_bytes);
        let decoded = if bytes.len() > max {
            Err(FrameError::TooLarge { max })
        } else {
            Frame::decode(bytes)
        };
        match decoded {
            // The hub traces the frame and contains a panic in the core to this connection.
            Ok(frame) => {
                self.hub.receive(self.conn, frame);
                true
            }
            Err(e) => {
                self.hub.decode_error(self.conn, &e);
                false
            }
        }
    }

    /// Up to `max` frames to send now, and whether to close after them.
    pub fn take(&self, max: usize) -> Transmit {
        let tx = self.hub.step(|c, _| c.poll_transmit(self.conn, max));
        for f in &tx.frames {
            self.hub.trace(|| Trace::Out {
                conn: self.conn,
                frame: f.clone(),
            });
        }
        tx
    }

    /// Sleep until the connection's next timer (heartbeat, ack timeout), then run it. Never
    /// resolves when no timer is set.
    pub async fn timers(&self) {
        match self.hub.step(|c, _| c.next_deadline(self.conn)) {
            Some(d) => {
                tokio::time::sleep_until(TokioInstant::from_std(d)).await;
                self.hub.step(|c, now| c.handle_timeout(self.conn, now));
            }
            None => std::future::pending().await,
        }
    }

    /// How long a write may stall before the client counts as not reading.
    pub fn write_timeout(&self) -> std::time::Duration {
        self.hub.step(|c, _| c.config().ping_timeout)
    }

    /// The transport is gone: tell the core (sessions stay resumable).
    pub fn forget(&self, reason: &str) {
        self.hub.forget(self.conn, reason);
    }
}
