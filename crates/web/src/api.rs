//! The chat as plain request/response HTTP, the architecture the other transports are compared
//! with: `POST` a message, `GET` the messages after an id (short polling), or the same GET with
//! `wait=` held until one arrives (long-polling). The messages are the chat's own
//! ([`netlab_events::chat::History`]): sockets in the room get them, and theirs show up here.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use netlab_events::chat::Message;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant as TokioInstant;

use crate::app::Web;
use crate::error::ApiError;
use crate::guard::{check_content_type, check_origin, read_body};

/// Messages answered per GET at most; ask again with `after=` the last id for more.
pub const PAGE: usize = 100;

/// The longest room name the API accepts, in bytes (the chat's own limit).
pub const MAX_ROOM: usize = 64;

pub fn check_room(room: &str) -> Result<(), ApiError> {
    if room.trim().is_empty() || room.len() > MAX_ROOM {
        return Err(ApiError::bad_request(
            "bad_room",
            format!("a room name is 1 to {MAX_ROOM} bytes"),
        ));
    }
    Ok(())
}

/// `POST /api/rooms/{room}/messages` with `{"name":..., "text":...}`: `201 {"id":N}`.
pub async fn post(
    State(web): State<Web>,
    Path(room): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_origin(&headers, &web.options().allow_origins)?;
    check_room(&room)?;
    check_content_type(&headers, &["application/json"])?;
    let bytes = read_body(
        body,
        web.options().max_body_bytes,
        web.options().body_timeout,
    )
    .await?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the body is not JSON ({e}); send {{\"name\":\"ada\",\"text\":\"hello\"}}"),
        )
    })?;
    let field = |k: &str| v.get(k).and_then(Value::as_str);
    let (Some(name), Some(text)) = (field("name"), field("text")) else {
        return Err(ApiError::bad_request(
            "invalid_message",
            "the body needs string fields \"name\" and \"text\", e.g. {\"name\":\"ada\",\"text\":\"hello\"}",
        ));
    };
    let history = web.inner.history.clone();
    let msg = web
        .hub()
        .step(|core, now| history.post(core, now, &room, name, text))
        .map_err(|e| ApiError::bad_request("invalid_message", e.to_string()))?;
    let location = format!("/api/rooms/{}/messages?after={}", room, msg.id - 1);
    let headers = [(header::LOCATION, location)];
    Ok((StatusCode::CREATED, headers, Json(json!({"id": msg.id}))).into_response())
}

#[derive(Deserialize)]
pub struct ListQuery {
    after: Option<u64>,
    wait: Option<String>,
}

/// `GET /api/rooms/{room}/messages?after=ID[&wait=30s]`: `{"messages":[...],"newest":N}`,
/// oldest first; `newest` is the newest id of all rooms, where a new reader may start.
pub async fn list(
    State(web): State<Web>,
    Path(room): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    check_room(&room)?;
    let Query(q) = query.map_err(|e| {
        ApiError::bad_request(
            "bad_query",
            format!(
                "{}; use ?after=ID (a number) and optionally &wait=30s",
                e.body_text()
            ),
        )
    })?;
    let after = q.after.unwrap_or(0);
    let wait = match q.wait.as_deref() {
        None => Duration::ZERO,
        Some(w) => parse_wait(w)?.min(web.options().max_wait),
    };
    let deadline = TokioInstant::now() + wait;
    let history = &web.inner.history;
    // Subscribe before looking, so a message recorded in between still wakes us.
    let mut newest = history.subscribe();
    loop {
        let messages = history.after(&room, after, PAGE);
        if !messages.is_empty() || TokioInstant::now() >= deadline {
            return Ok(page(messages, history.newest()));
        }
        tokio::select! {
            r = newest.changed() => if r.is_err() { return Ok(page(Vec::new(), history.newest())) },
            _ = tokio::time::sleep_until(deadline) => {}
            _ = web.stopped() => return Ok(page(Vec::new(), history.newest())),
        }
    }
}

fn page(messages: Vec<Message>, newest: u64) -> Json<Value> {
    Json(json!({ "messages": messages, "newest": newest }))
}

/// `30s`, `1500ms`, or a plain number of seconds.
pub fn parse_wait(w: &str) -> Result<Duration, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "bad_query",
            format!(
                "wait={:?} is not a duration; write it like 30s, 500ms or 30",
                truncate(w)
            ),
        )
    };
    let (num, unit_ms) = if let Some(n) = w.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = w.strip_suffix('s') {
        (n, 1000)
    } else {
        (w, 1000)
    };
    let n: u64 = num.trim().parse().map_err(|_| bad())?;
    Ok(Duration::from_millis(n.saturating_mul(unit_ms)))
}

fn truncate(s: &str) -> String {
    s.chars().take(20).collect()
}

/// Any other path: a JSON 404 that lists what there is.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "nothing at {}; try / (the chat page), /api/rooms/ROOM/messages, /api/rooms/ROOM/events, /ws or /poll",
            truncate(uri.path())
        ),
    )
}
