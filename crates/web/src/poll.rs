//! The event protocol over HTTP long-polling, and its upgrade to WebSocket (socket.io's default
//! way in, made readable). Spec: docs/src/protocol.md, "Transport: HTTP long-polling".
//!
//! - `POST /poll` opens a connection: `{"conn":ID,"upgrades":["websocket"],"wait_ms":...}`.
//! - `GET /poll?conn=ID` answers the frames queued for it as JSON lines, held up to `wait_ms`
//!   when there are none (then `204`). One GET at a time per connection.
//! - `POST /poll?conn=ID` sends frames: a body of JSON lines, answered `204`.
//! - `DELETE /poll?conn=ID` closes it.
//! - `GET /ws?conn=ID` upgrades it: see [`begin_upgrade`].
//!
//! Why no frame is lost or repeated across the upgrade: the core keeps one queue per connection
//! and each frame leaves it once, to whichever transport takes it. While upgrading, a GET is
//! answered at once (held GETs are woken); the new WebSocket sends nothing until the client,
//! having read its last GET's answer and stopped polling, sends `{"type":"upgrade"}`. Then the
//! WebSocket takes the queue from where the last GET left it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Notify;
use tokio::time::Instant as TokioInstant;

use crate::app::Web;
use crate::error::ApiError;
use crate::guard::{check_content_type, check_origin, read_body};
use crate::link::{self, Link};
use netlab_events::limits::Permit;

/// Frames answered per GET at most (the rest wait for the next GET).
const GET_BATCH: usize = 256;

/// The media type of a body of JSON lines.
pub const NDJSON: &str = "application/x-ndjson";

/// Where a polling connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Polling,
    /// A WebSocket asked to take over; GETs answer at once.
    Upgrading,
    /// The WebSocket has it; GET and POST are refused.
    Upgraded,
    Closed,
}

struct PollState {
    mode: Mode,
    /// A GET is waiting (only one at a time).
    getting: bool,
    /// When the last GET ended (or the connection opened): to notice a client that left.
    last_seen: TokioInstant,
}

/// One long-polling connection: its core connection and what the transport must remember.
pub struct PollConn {
    id: String,
    /// Its place under the hub's connection limits, held until the connection ends.
    _permit: Permit,
    link: Link,
    state: Mutex<PollState>,
    /// Wakes a held GET and the timer task when the mode changes.
    kick: Notify,
}

impl PollConn {
    fn mode(&self) -> Mode {
        self.lock().mode
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PollState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_mode(&self, mode: Mode) {
        self.lock().mode = mode;
        self.kick.notify_waiters();
    }
}

#[derive(Deserialize)]
pub struct PollQuery {
    conn: Option<String>,
}

fn conn_id(query: Result<Query<PollQuery>, QueryRejection>) -> Result<Option<String>, ApiError> {
    query.map(|Query(q)| q.conn).map_err(|e| {
        ApiError::bad_request("bad_query", format!("{}; use /poll?conn=ID", e.body_text()))
    })
}

fn find(web: &Web, id: &str) -> Result<Arc<PollConn>, ApiError> {
    let polls = web.inner.polls.lock().unwrap_or_else(|p| p.into_inner());
    let pc = polls.get(id).cloned().ok_or_else(|| {
        ApiError::bad_request(
            "unknown_conn",
            format!(
                "there is no polling connection {:?} (it ended, or the server restarted); open a new one with POST /poll and resume your session with connect {{\"resume\":...}}",
                truncate(id)
            ),
        )
    })?;
    if pc.mode() == Mode::Upgraded {
        return Err(ApiError::bad_request(
            "upgraded",
            "this connection moved to WebSocket; send and receive there, not with /poll",
        ));
    }
    Ok(pc)
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// `POST /poll` opens a connection; `POST /poll?conn=ID` sends frames on it.
pub async fn send(
    State(web): State<Web>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<PollQuery>, QueryRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    check_origin(&headers, &web.options().allow_origins)?;
    match conn_id(query)? {
        None => open(&web, peer).map(IntoResponse::into_response),
        Some(id) => {
            let pc = find(&web, &id)?;
            check_content_type(&headers, &[NDJSON, "application/json", "text/plain"])?;
            let max = web.hub().step(|c, _| c.config().max_frame_bytes);
            let bytes = read_body(body, max, web.options().body_timeout).await?;
            let text_lines = bytes.split(|b| *b == b'\n');
            for line in text_lines {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                if !pc.link.receive_text(line) {
                    return Err(ApiError::bad_request(
                        "bad_frame",
                        "a line of the body is not a valid frame; the connection is closed, and the next GET /poll returns the error frame that says why",
                    ));
                }
            }
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    }
}

fn open(web: &Web, peer: SocketAddr) -> Result<Json<serde_json::Value>, ApiError> {
    let mut polls = web.inner.polls.lock().unwrap_or_else(|p| p.into_inner());
    if polls.len() >= web.options().max_polls {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_polls",
            "the server has as many polling connections as it allows; try again in a moment, or use WebSocket",
        ));
    }
    let permit = link::admit(web.hub(), peer)?;
    let id = format!("{:016x}", rand::rng().random::<u64>());
    let pc = Arc::new(PollConn {
        id: id.clone(),
        _permit: permit,
        link: Link::open(web.hub(), peer),
        state: Mutex::new(PollState {
            mode: Mode::Polling,
            getting: false,
            last_seen: TokioInstant::now(),
        }),
        kick: Notify::new(),
    });
    polls.insert(id.clone(), pc.clone());
    drop(polls);
    tokio::spawn(timers(web.clone(), pc));
    let wait_ms = web.options().poll_wait.as_millis() as u64;
    Ok(Json(
        json!({"conn": id, "upgrades": ["websocket"], "wait_ms": wait_ms}),
    ))
}

/// Resets `getting` however the GET ends (answered, or dropped because the client left).
struct Getting<'a>(&'a PollConn);

impl Drop for Getting<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.getting = false;
        st.last_seen = TokioInstant::now();
    }
}

/// The connection a GET or DELETE names, after the origin check.
fn existing(
    web: &Web,
    headers: &HeaderMap,
    query: Result<Query<PollQuery>, QueryRejection>,
    method: &str,
) -> Result<Arc<PollConn>, ApiError> {
    check_origin(headers, &web.options().allow_origins)?;
    let Some(id) = conn_id(query)? else {
        return Err(ApiError::bad_request(
            "missing_conn",
            format!("{method} /poll needs ?conn=ID; open a connection first with POST /poll"),
        ));
    };
    find(web, &id)
}

/// `GET /poll?conn=ID`: the queued frames as JSON lines, held until there is one.
pub async fn receive(
    State(web): State<Web>,
    headers: HeaderMap,
    query: Result<Query<PollQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let pc = existing(&web, &headers, query, "GET")?;
    {
        let mut st = pc.lock();
        if st.getting {
            return Err(ApiError::bad_request(
                "already_polling",
                "another GET is already waiting on this connection; poll with one request at a time",
            ));
        }
        st.getting = true;
    }
    let _getting = Getting(&pc);
    let deadline = TokioInstant::now() + web.options().poll_wait;
    loop {
        let mode = pc.mode();
        if mode == Mode::Upgraded {
            return Err(ApiError::bad_request(
                "upgraded",
                "this connection moved to WebSocket; send and receive there",
            ));
        }
        let tx = pc.link.take(GET_BATCH);
        if tx.close {
            let reason = tx.reason.unwrap_or_else(|| "transport close".to_string());
            close_now(&web, &pc, &reason);
            if tx.frames.is_empty() {
                return Err(ApiError::bad_request(
                    "closed",
                    format!(
                        "the server closed this connection ({reason}); open a new one with POST /poll and resume your session"
                    ),
                ));
            }
        }
        if !tx.frames.is_empty() {
            let mut body = Vec::new();
            for f in &tx.frames {
                body.extend_from_slice(f.to_json().as_bytes());
                body.push(b'\n');
            }
            return Ok(([(header::CONTENT_TYPE, NDJSON)], body).into_response());
        }
        if mode != Mode::Polling {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        tokio::select! {
            _ = pc.link.notify.notified() => {}
            _ = pc.kick.notified() => {}
            _ = tokio::time::sleep_until(deadline) => return Ok(StatusCode::NO_CONTENT.into_response()),
            _ = web.stopped() => {}
        }
    }
}

/// `DELETE /poll?conn=ID`: the client is leaving.
pub async fn close(
    State(web): State<Web>,
    headers: HeaderMap,
    query: Result<Query<PollQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let pc = existing(&web, &headers, query, "DELETE")?;
    close_now(&web, &pc, "transport close");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The connection is over: tell the core, forget the id, stop its timers.
fn close_now(web: &Web, pc: &PollConn, reason: &str) {
    if pc.mode() == Mode::Closed {
        return;
    }
    pc.set_mode(Mode::Closed);
    pc.link.forget(reason);
    remove(web, pc);
}

/// Forget the id of a connection that ended (after an upgrade, the WebSocket calls this).
pub fn remove(web: &Web, pc: &PollConn) {
    web.inner
        .polls
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&pc.id);
}

/// The connection's timers while it polls (heartbeat, ack timeouts), and the check that its
/// client still polls: no GET for `wait_ms` plus the ping timeout means it left.
async fn timers(web: Web, pc: Arc<PollConn>) {
    let gone_after = web.options().poll_wait + pc.link.write_timeout();
    loop {
        let mode = pc.mode();
        if matches!(mode, Mode::Upgraded | Mode::Closed) {
            return;
        }
        let idle = {
            let st = pc.lock();
            !st.getting && st.last_seen.elapsed() > gone_after
        };
        if idle && mode == Mode::Polling {
            close_now(&web, &pc, "transport close: the client stopped polling");
            return;
        }
        tokio::select! {
            _ = pc.link.timers() => {}
            _ = pc.kick.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = web.stopped() => {
                // The hub's shutdown queues the disconnect frames; a last GET may read them.
                tokio::time::sleep(Duration::from_secs(1)).await;
                close_now(&web, &pc, "server shutting down");
                return;
            }
        }
    }
}

/// A WebSocket asks to take over connection `id`: GETs stop being held.
pub fn begin_upgrade(web: &Web, id: &str) -> Result<Arc<PollConn>, ApiError> {
    let pc = find(web, id)?;
    let mut st = pc.lock();
    if st.mode != Mode::Polling {
        return Err(ApiError::bad_request(
            "already_upgrading",
            "this connection is already being upgraded; one WebSocket per connection",
        ));
    }
    st.mode = Mode::Upgrading;
    drop(st);
    pc.kick.notify_waiters();
    Ok(pc)
}

/// The WebSocket did not complete the upgrade: the connection goes on polling.
pub fn abort_upgrade(pc: &PollConn) {
    let mut st = pc.lock();
    if st.mode == Mode::Upgrading {
        st.mode = Mode::Polling;
        st.last_seen = TokioInstant::now();
    }
}

/// The client sent `{"type":"upgrade"}`: from now on the WebSocket owns the connection.
pub fn finish_upgrade(pc: &PollConn) -> Link {
    pc.set_mode(Mode::Upgraded);
    pc.link.clone()
}
