//! The event protocol over WebSocket: `GET /ws` upgrades, then each text message is exactly one
//! frame of the protocol (the same JSON as a TCP line, without the newline).
//!
//! `GET /ws?conn=ID` instead upgrades the long-polling connection `ID` (see [`crate::poll`]):
//! the socket stays silent until the client sends `{"type":"upgrade"}`, then carries on the
//! very same core connection.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::app::Web;
use crate::error::ApiError;
use crate::guard::{check_origin, websocket_key_ok};
use crate::link::{self, BATCH, Link};
use crate::poll::{self, PollConn};
use crate::server::ConnSlot;

#[derive(Deserialize)]
pub struct WsQuery {
    /// A long-polling connection to upgrade.
    conn: Option<String>,
}

/// `GET /ws`: check the handshake and the origin, then hand the socket to [`run`].
pub async fn upgrade(
    State(web): State<Web>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    slot: Option<axum::Extension<ConnSlot>>,
    headers: HeaderMap,
    query: Result<Query<WsQuery>, QueryRejection>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            let status = rejection.status();
            let msg = format!(
                "this is the event protocol's WebSocket endpoint and the handshake is wrong ({}); connect with a WebSocket client",
                rejection.body_text()
            );
            return ApiError::new(status, "bad_websocket_handshake", msg).into_response();
        }
    };
    if !websocket_key_ok(&headers) {
        return ApiError::bad_request(
            "bad_websocket_key",
            "Sec-WebSocket-Key must be 16 random bytes in base64 (24 characters ending in ==); use a WebSocket client",
        )
        .into_response();
    }
    if let Err(e) = check_origin(&headers, &web.options().allow_origins) {
        return e.into_response();
    }
    let Ok(Query(query)) = query else {
        return ApiError::bad_request(
            "bad_query",
            "use /ws, or /ws?conn=ID to upgrade a /poll connection",
        )
        .into_response();
    };
    let max = web.hub().step(|c, _| c.config().max_frame_bytes);
    // Leave room above the protocol's limit so that an oversized frame gets its error frame
    // (`frame_too_large`) from us instead of a bare close from tungstenite.
    // tungstenite's buffers default to 128 KiB each, which would be most of an idle connection's
    // memory: chat frames are small, so read 4 KiB at a time and write each message at once.
    let ws = ws
        .max_message_size(max + 64 * 1024)
        .max_frame_size(max + 64 * 1024)
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let slot = slot.map(|s| s.0);
    match query.conn {
        None => {
            let permit = match link::admit(web.hub(), peer) {
                Ok(p) => p,
                Err(e) => return e.into_response(),
            };
            ws.on_upgrade(move |socket| async move {
                let _slot = (slot, permit);
                let link = Link::open(web.hub(), peer);
                let reason = run(socket, &link).await;
                link.forget(&reason);
            })
        }
        Some(id) => match poll::begin_upgrade(&web, &id) {
            Ok(pc) => ws.on_upgrade(move |socket| async move {
                let _slot = slot;
                upgraded(web, pc, socket).await;
            }),
            Err(e) => e.into_response(),
        },
    }
}

/// Finish the upgrade of a polling connection: wait for `{"type":"upgrade"}`, then switch.
async fn upgraded(web: Web, pc: Arc<PollConn>, mut socket: WebSocket) {
    let wait = web.options().upgrade_timeout;
    let first = tokio::time::timeout(wait, socket.recv()).await;
    let is_upgrade = matches!(&first, Ok(Some(Ok(Message::Text(t))))
        if serde_json::from_str::<serde_json::Value>(t.as_str())
            .is_ok_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("upgrade")));
    if !is_upgrade {
        poll::abort_upgrade(&pc);
        let why =
            "expected {\"type\":\"upgrade\"} as the first message; the connection goes on polling";
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: close_code::POLICY,
                reason: why.into(),
            })))
            .await;
        return;
    }
    let link = poll::finish_upgrade(&pc);
    let reason = run(socket, &link).await;
    link.forget(&reason);
    poll::remove(&web, &pc);
}

/// Drive one connection: write what the core queues, feed it what arrives, run its timers.
/// Returns why the connection ended.
pub async fn run(mut socket: WebSocket, link: &Link) -> String {
    let write_timeout = link.write_timeout();
    loop {
        // Write everything queued first (the hello, on a new connection).
        loop {
            let tx = link.take(BATCH);
            for f in &tx.frames {
                let msg = Message::Text(f.to_json().into());
                match tokio::time::timeout(write_timeout, socket.send(msg)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return format!("transport error: {e}"),
                    Err(_) => return "send buffer full".to_string(),
                }
            }
            if tx.close {
                let reason = tx.reason.unwrap_or_else(|| "transport close".to_string());
                let code = if reason.starts_with("protocol error") {
                    close_code::POLICY
                } else {
                    close_code::NORMAL
                };
                let close = Message::Close(Some(CloseFrame {
                    code,
                    reason: close_reason(&reason).into(),
                }));
                let _ = tokio::time::timeout(write_timeout, socket.send(close)).await;
                return reason;
            }
            if tx.frames.len() < BATCH {
                break;
            }
        }
        tokio::select! {
            _ = link.notify.notified() => {}
            _ = link.timers() => {}
            m = socket.recv() => match m {
                None => return "transport close".to_string(),
                Some(Err(e)) => return format!("transport error: {e}"),
                Some(Ok(Message::Text(text))) => {
                    link.receive_text(text.as_bytes());
                }
                Some(Ok(Message::Binary(_))) => {
                    let msg = "send each frame as a text message; binary messages are not part of the protocol";
                    link.hub.step(|c, now| c.protocol_error(link.conn, "binary_message", msg, now));
                }
                Some(Ok(Message::Close(_))) => {
                    // tungstenite has queued the answering close frame (RFC 6455, 5.5.1: the
                    // closing handshake); flush it before the socket is dropped.
                    let flush = futures_util::SinkExt::flush(&mut socket);
                    let _ = tokio::time::timeout(write_timeout, flush).await;
                    return "transport close".to_string();
                }
                // tungstenite answers pings itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            },
        }
    }
}

/// A close frame's reason is at most 123 bytes (RFC 6455, 5.5).
fn close_reason(reason: &str) -> String {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}
