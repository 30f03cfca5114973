//! Server-Sent Events: `GET /api/rooms/{room}/events` streams the room's messages as
//! `text/event-stream`, one `id:` per message. A browser's `EventSource` reconnects by itself
//! and sends the last id it saw as `Last-Event-ID`; the stream resumes after it, so nothing is
//! lost or repeated while the history still holds it. Sending is a `POST` to the chat API.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use serde::Deserialize;

use crate::api::{PAGE, check_room};
use crate::app::Web;
use crate::error::ApiError;

#[derive(Deserialize)]
pub struct EventsQuery {
    /// Where to start when there is no `Last-Event-ID` (a first connection).
    after: Option<u64>,
}

/// How often an idle stream sends a comment line, so proxies and browsers keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub async fn events(
    State(web): State<Web>,
    Path(room): Path<String>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    check_room(&room)?;
    let after_query = query
        .map_err(|e| {
            ApiError::bad_request("bad_query", format!("{}; use ?after=ID", e.body_text()))
        })?
        .0
        .after;
    let last = match headers.get("last-event-id") {
        None => after_query.unwrap_or(0),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "bad_last_event_id",
                    "Last-Event-ID must be a message id (a number)",
                )
            })?,
    };
    let stream = messages(web, room, last);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

/// The room's messages after `last`, forever (until the server stops).
fn messages(web: Web, room: String, last: u64) -> impl Stream<Item = Result<Event, Infallible>> {
    let newest = web.inner.history.subscribe();
    let state = (web, room, last, newest, Vec::new().into_iter());
    stream::unfold(
        state,
        |(web, room, mut last, mut newest, mut ready)| async move {
            loop {
                if let Some(m) = ready.next() {
                    let m: netlab_events::chat::Message = m;
                    last = m.id;
                    let data = serde_json::to_string(&m).unwrap_or_default();
                    let ev = Event::default()
                        .id(m.id.to_string())
                        .event("message")
                        .data(data);
                    return Some((Ok(ev), (web, room, last, newest, ready)));
                }
                let batch = web.inner.history.after(&room, last, PAGE);
                if !batch.is_empty() {
                    ready = batch.into_iter();
                    continue;
                }
                tokio::select! {
                    r = newest.changed() => if r.is_err() { return None },
                    _ = web.stopped() => return None,
                }
            }
        },
    )
}
