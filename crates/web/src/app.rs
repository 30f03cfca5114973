//! The shared state of every HTTP transport, and the router that maps paths to them.
//!
//! [`Web`] is cheap to clone (one `Arc`). [`Web::router`] is the whole HTTP surface; a later
//! transport (socket.io's `/socket.io/`, say) adds its routes with `web.router().merge(...)`
//! and keeps the same hub, history, limits and shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use netlab_events::chat::History;
use netlab_events::server::Hub;
use tokio::sync::watch;

use crate::{api, page, poll, sse, ws};

/// The tunables of the HTTP side. The defaults suit a classroom machine.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// Origins allowed besides the page's own and localhost (`--allow-origin`; `*` for any).
    pub allow_origins: Vec<String>,
    /// Open TCP connections on the HTTP port (WebSockets and SSE streams included); one more
    /// is answered `503` and closed.
    pub max_connections: usize,
    /// Open long-polling connections of the event protocol (`/poll`); one more gets `503`.
    pub max_polls: usize,
    /// How long a request's headers may take to arrive (half-open requests are dropped).
    pub header_timeout: Duration,
    /// How long a request's body may take to arrive (`408` after it).
    pub body_timeout: Duration,
    /// The largest body of the chat API (`413` above it). `/poll` bodies may be as large as
    /// the core's `max_frame_bytes`.
    pub max_body_bytes: usize,
    /// How long `GET /poll` is held when there is nothing to send.
    pub poll_wait: Duration,
    /// The longest `wait=` of the chat API (longer asks are cut to it).
    pub max_wait: Duration,
    /// How long an upgrading WebSocket may take to send `{"type":"upgrade"}`.
    pub upgrade_timeout: Duration,
}

impl Default for WebOptions {
    fn default() -> Self {
        WebOptions {
            allow_origins: Vec::new(),
            max_connections: 16_384,
            max_polls: 4096,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_body_bytes: 64 * 1024,
            poll_wait: Duration::from_secs(25),
            max_wait: Duration::from_secs(60),
            upgrade_timeout: Duration::from_secs(10),
        }
    }
}

/// Everything a handler needs, shared by all requests.
#[derive(Clone)]
pub struct Web {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub hub: Arc<Hub>,
    pub history: History,
    pub opts: WebOptions,
    /// Long-polling connections by id (see [`crate::poll`]).
    pub polls: Mutex<HashMap<String, Arc<poll::PollConn>>>,
    /// Becomes true on shutdown: held requests answer at once, streams end.
    pub stop: watch::Sender<bool>,
}

impl Web {
    /// The HTTP side of the chat around `hub` (shared with the TCP listener) and the chat's
    /// `history` (what [`netlab_events::chat::install`] returned for the hub's core).
    pub fn new(hub: Arc<Hub>, history: History, opts: WebOptions) -> Web {
        Web {
            inner: Arc::new(Inner {
                hub,
                history,
                opts,
                polls: Mutex::new(HashMap::new()),
                stop: watch::Sender::new(false),
            }),
        }
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.inner.hub
    }

    pub fn options(&self) -> &WebOptions {
        &self.inner.opts
    }

    /// Every route of the HTTP port. Add more with `.merge(other_router)`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(page::index))
            .route("/app.js", get(page::script))
            .route("/style.css", get(page::style))
            .route("/api/rooms/{room}/messages", get(api::list).post(api::post))
            .route("/api/rooms/{room}/events", get(sse::events))
            .route("/ws", get(ws::upgrade))
            .route(
                "/poll",
                get(poll::receive).post(poll::send).delete(poll::close),
            )
            .fallback(api::not_found)
            .with_state(self.clone())
    }

    /// Answer held requests now and end streams (the server is stopping).
    pub(crate) fn stop(&self) {
        self.inner.stop.send_replace(true);
    }

    /// Resolves when [`Web::stop`] was called.
    pub(crate) async fn stopped(&self) {
        let mut rx = self.inner.stop.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}
