//! socket.io's wire format at `/socket.io/`: Engine.IO v4 over HTTP long-polling and WebSocket,
//! with the upgrade from one to the other, and Socket.IO v5 inside, onto the same hub as every
//! other transport. The protocol logic is sans-IO in [`netlab_events::socketio`]; this module
//! only moves bytes and runs timers. Spec and mapping: docs/src/socketio.md.
//!
//! One Engine.IO session is one `Session` here: its [`Connection`] (behind a mutex, always
//! locked inside [`Hub::step`], so the order is hub then session), and a `changed` counter that
//! wakes whoever waits for its output: the held poll, or the WebSocket's writer. A driver task
//! per session runs its timers (pings, timeouts), forwards the hub's wake-ups, and removes the
//! session once it is over.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use netlab_events::core::ConnId;
use netlab_events::limits::Permit;
use netlab_events::server::Hub;
use netlab_events::socketio::engineio::Data;
use netlab_events::socketio::{
    Config, Connection, Poll, RequestError, Route, Transport, check_request,
};
use rand::Rng;
use tokio::sync::{Notify, watch};
use tokio::time::Instant as TokioInstant;

use crate::app::Web;
use crate::guard::{check_origin, read_body};
use crate::link;
use crate::server::ConnSlot;

/// How long a closed polling session waits for the poll that takes its last packets.
const LINGER: Duration = Duration::from_secs(2);

/// A WebSocket's read buffer, allocated and zeroed for every connection, idle or not.
/// tungstenite's default (128 KiB) would be most of an idle connection's memory; socket.io
/// messages are small (a chat line), and a larger one still arrives, in several reads. 1 KiB
/// rather than 4 KiB saves 3 KB per idle connection (docs/performance.md).
const WS_READ_BUFFER: usize = 1024;

/// The content type of a polling body, as socket.io's server sends it.
const TEXT: &str = "text/plain; charset=UTF-8";

/// The socket.io endpoint: merge [`SocketIo::router`] into [`Web::router`].
#[derive(Clone)]
pub struct SocketIo {
    inner: Arc<Inner>,
}

struct Inner {
    web: Web,
    config: Config,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

/// One Engine.IO session (see the module docs).
struct Session {
    sid: String,
    conn: Mutex<Connection>,
    core_conn: ConnId,
    /// Bumped whenever the session may have output or changed state.
    changed: watch::Sender<u64>,
    /// Its place under the hub's connection limits, given back when the session is removed.
    _permit: Permit,
}

impl Session {
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|g| *g = g.wrapping_add(1));
    }
}

impl SocketIo {
    /// socket.io around `web`'s hub, with Engine.IO's timers from `config`.
    pub fn new(web: Web, config: Config) -> SocketIo {
        SocketIo {
            inner: Arc::new(Inner {
                web,
                config,
                sessions: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The route: `/socket.io/` (any method: the wrong ones get socket.io's 400).
    pub fn router(&self) -> Router {
        Router::new()
            .route(netlab_events::socketio::PATH, any(handle))
            .with_state(self.clone())
    }

    /// Open Engine.IO sessions (for tests and the curious).
    pub fn session_count(&self) -> usize {
        self.sessions().len()
    }

    fn hub(&self) -> &Arc<Hub> {
        self.inner.web.hub()
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn find(&self, sid: &str) -> Option<Arc<Session>> {
        self.sessions().get(sid).cloned()
    }

    /// A new session over `transport`, registered, with its driver running.
    fn create(&self, transport: Transport, permit: Permit) -> Arc<Session> {
        let (core_conn, notify) = self.hub().open();
        let sid = new_sid();
        let config = &self.inner.config;
        let conn = self
            .hub()
            .step(|c, now| Connection::attach(c, core_conn, sid.clone(), transport, config, now));
        let session = Arc::new(Session {
            sid: sid.clone(),
            conn: Mutex::new(conn),
            core_conn,
            changed: watch::Sender::new(0),
            _permit: permit,
        });
        self.sessions().insert(sid, session.clone());
        tokio::spawn(drive(self.clone(), session.clone(), notify));
        session
    }
}

/// 20 characters of base64url, as socket.io's sids look.
fn new_sid() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// socket.io's refusal: 400 and its JSON body.
fn refuse(e: RequestError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        e.body(),
    )
        .into_response()
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, TEXT)], body).into_response()
}

/// Every request to `/socket.io/`.
async fn handle(
    State(sio): State<SocketIo>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    slot: Option<axum::Extension<ConnSlot>>,
    parts: Parts,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    body: Body,
) -> Response {
    if let Err(e) = check_origin(&parts.headers, &sio.inner.web.options().allow_origins) {
        return e.into_response();
    }
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let get = |k: &str| query.get(k).map(String::as_str);
    let route = check_request(
        parts.method.as_str(),
        get("EIO"),
        get("transport"),
        get("sid"),
        ws.is_ok(),
        |sid| sio.find(sid).map(|s| s.lock().session().transport()),
    );
    let route = match route {
        Ok(r) => r,
        Err(e) => return refuse(e),
    };
    let slot = slot.map(|s| s.0);
    // A new session takes a place under the hub's limits, as a TCP or /ws connection does.
    let permit = match route {
        Route::Handshake(_) => match link::admit(sio.hub(), peer) {
            Ok(p) => Some(p),
            Err(e) => return e.into_response(),
        },
        _ => None,
    };
    match (route, ws, permit) {
        (Route::Handshake(Transport::Polling), _, Some(permit)) => {
            let session = sio.create(Transport::Polling, permit);
            poll_get(&sio, &session).await
        }
        (Route::Handshake(Transport::WebSocket), Ok(ws), Some(permit)) => {
            let max = sio.inner.config.engine.max_payload;
            ws.max_message_size(max)
                .read_buffer_size(WS_READ_BUFFER)
                .on_upgrade(move |socket| async move {
                    let _slot = slot;
                    let session = sio.create(Transport::WebSocket, permit);
                    run_ws(&sio, &session, socket).await;
                })
        }
        (Route::PollGet(sid), _, _) => match sio.find(&sid) {
            Some(session) => poll_get(&sio, &session).await,
            None => refuse(RequestError::UnknownSid),
        },
        (Route::PollPost(sid), _, _) => match sio.find(&sid) {
            Some(session) => poll_post(&sio, &session, body).await,
            None => refuse(RequestError::UnknownSid),
        },
        (Route::Upgrade(sid), Ok(ws), _) => match sio.find(&sid) {
            Some(session) => {
                let max = sio.inner.config.engine.max_payload;
                ws.max_message_size(max)
                    .read_buffer_size(WS_READ_BUFFER)
                    .on_upgrade(move |socket| async move {
                        let _slot = slot;
                        run_ws(&sio, &session, socket).await;
                    })
            }
            None => refuse(RequestError::UnknownSid),
        },
        // check_request only routes WebSockets to the two arms above.
        _ => refuse(RequestError::BadRequest),
    }
}

/// A long-polling GET: answer what is queued, or hold until there is something.
async fn poll_get(sio: &SocketIo, session: &Arc<Session>) -> Response {
    let hub = sio.hub();
    if hub
        .step(|c, now| session.lock().begin_poll(c, now))
        .is_err()
    {
        // A second GET at once (or one on a closed session): socket.io closes the session.
        session.bump();
        return refuse(RequestError::BadRequest);
    }
    let mut changed = session.changed.subscribe();
    let body = loop {
        changed.borrow_and_update();
        match hub.step(|c, now| session.lock().take_polling(c, now)) {
            Poll::Payload(body) => break body,
            Poll::Wait => {
                // The server's pings end the wait within pingInterval; the driver bumps then.
                if changed.changed().await.is_err() {
                    break "1".to_string();
                }
            }
        }
    };
    session.lock().end_poll();
    session.bump();
    text(body)
}

/// A long-polling POST: the client's packets.
async fn poll_post(sio: &SocketIo, session: &Arc<Session>, body: Body) -> Response {
    let hub = sio.hub();
    let opts = sio.inner.web.options();
    let max = sio.inner.config.engine.max_payload;
    let bytes = match read_body(body, max, opts.body_timeout).await {
        Ok(b) => b,
        Err(e) => {
            hub.step(|c, now| session.lock().transport_gone(c, "transport error", now));
            session.bump();
            return e.into_response();
        }
    };
    let r = hub.step(|c, now| session.lock().receive_payload(c, &bytes, now));
    session.bump();
    match r {
        Ok(()) => ([(header::CONTENT_TYPE, "text/html")], "ok").into_response(),
        Err(e) => {
            tracing::debug!(sid = session.sid, error = %e, "closing a socket.io session");
            refuse(RequestError::BadRequest)
        }
    }
}

/// A WebSocket: the session's transport from the start, or one probing the upgrade.
async fn run_ws(sio: &SocketIo, session: &Arc<Session>, mut socket: WebSocket) {
    let hub = sio.hub();
    let write_timeout = sio.inner.config.engine.ping_timeout;
    let mut changed = session.changed.subscribe();
    loop {
        changed.borrow_and_update();
        let (frames, current, closed) = hub.step(|c, now| {
            let mut conn = session.lock();
            let frames = conn.take_ws(c, now);
            let s = conn.session();
            (
                frames,
                s.transport() == Transport::WebSocket,
                s.closed().is_some(),
            )
        });
        for f in frames {
            let msg = match f {
                Data::Text(t) => Message::Text(t.into()),
                Data::Binary(b) => Message::Binary(b.into()),
            };
            match tokio::time::timeout(write_timeout, socket.send(msg)).await {
                Ok(Ok(())) => {}
                _ => return gone(sio, session, current, "transport error"),
            }
        }
        if closed {
            // socket.io closes a WebSocket session by closing the socket, with no close packet.
            let _ = tokio::time::timeout(write_timeout, socket.send(Message::Close(None))).await;
            session.bump();
            return;
        }
        tokio::select! {
            r = changed.changed() => if r.is_err() { return gone(sio, session, current, "transport close") },
            m = socket.recv() => {
                let data = match m {
                    Some(Ok(Message::Text(t))) => Data::Text(t.as_str().to_string()),
                    Some(Ok(Message::Binary(b))) => Data::Binary(b.to_vec()),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | None => return gone(sio, session, current, "transport close"),
                    Some(Err(_)) => return gone(sio, session, current, "transport error"),
                };
                let r = hub.step(|c, now| session.lock().receive_ws(c, data, now));
                if let Err(e) = r {
                    tracing::debug!(sid = session.sid, error = %e, "closing a socket.io session");
                }
                session.bump();
            }
        }
    }
}

/// The WebSocket went away: the session ends if it was its transport; a probe that never
/// finished the upgrade leaves the session polling.
fn gone(sio: &SocketIo, session: &Arc<Session>, current: bool, reason: &str) {
    sio.hub().step(|c, now| {
        let mut conn = session.lock();
        if current {
            conn.transport_gone(c, reason, now);
        } else {
            conn.abort_upgrade();
        }
    });
    session.bump();
}

/// One session's driver: its timers, the hub's wake-ups, and its removal once it is over.
async fn drive(sio: SocketIo, session: Arc<Session>, hub_notify: Arc<Notify>) {
    let hub = sio.hub().clone();
    let mut changed = session.changed.subscribe();
    let mut closed_at: Option<TokioInstant> = None;
    let reason = loop {
        let (deadline, closed, finished, ws) = hub.step(|c, _| {
            let conn = session.lock();
            let s = conn.session();
            (
                conn.next_deadline(c),
                s.closed(),
                conn.finished(),
                s.transport() == Transport::WebSocket,
            )
        });
        if let Some(why) = closed {
            let since = *closed_at.get_or_insert_with(TokioInstant::now);
            // Over polling, the last packets wait for one more GET, a little while.
            if finished || ws || since.elapsed() >= LINGER {
                break why;
            }
        }
        let wake_at = match (deadline, closed_at) {
            (_, Some(t)) => t + LINGER,
            (Some(d), None) => TokioInstant::from_std(d),
            (None, None) => TokioInstant::now() + Duration::from_secs(3600),
        };
        tokio::select! {
            _ = hub_notify.notified() => {}
            _ = tokio::time::sleep_until(wake_at) => {
                hub.step(|c, now| session.lock().handle_timeout(c, now));
            }
            r = changed.changed() => if r.is_err() { break "transport close" },
        }
        session.bump();
        changed.borrow_and_update();
    };
    sio.sessions().remove(&session.sid);
    hub.forget(session.core_conn, reason);
    session.bump();
}
