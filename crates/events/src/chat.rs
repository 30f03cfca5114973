//! The chat application that `netlab events serve` runs, built only from the core's public API.
//!
//! Namespace `/chat`. Connect with `"auth":{"name":"ada"}` (the middleware refuses a socket
//! without a display name). Events from the client:
//! - `join [room]`: join a room (a name of 1 to 64 bytes; at most `max_rooms_per_socket` rooms,
//!   256 by default); the room hears `joined {name, room}`.
//! - `leave [room]`: leave it; the room hears `left {name, room}`.
//! - `message [room, text]`: everyone in the room (sender included, so every screen shows the
//!   same order) gets `message {name, room, text}`, reliably: a client that drops and resumes gets
//!   every message it missed. With an ack id the sender gets `[{"ok":true}]` back.
//!
//! Leaving the namespace on purpose tells each of the socket's rooms `left {name, room}` too.
//!
//! Any other event name is dropped (and shown by `--trace`): that is what lab students observe.
//!
//! Every message is also numbered and kept in a bounded [`History`], which is how clients that
//! are not sockets (netlab-web's request/response API and its SSE stream) read the chat and
//! post to it: [`History::post`] is the same message, to the same room, as the `message` event.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::core::{Core, Ctx, EmitError, Event};

pub const CHAT_NS: &str = "/chat";

/// Messages kept per room for readers that ask for "the messages after id N".
pub const HISTORY_PER_ROOM: usize = 1000;

/// Rooms kept in the history; past it the room that was quiet longest is forgotten, so that
/// posting to ever new room names cannot grow memory without bound.
pub const HISTORY_ROOMS: usize = 10_000;

/// Register the chat namespace on `core`. The returned history sees every message.
pub fn install(core: &mut Core) -> History {
    let history = History::default();
    let recorder = history.clone();
    let ns = core.namespace(CHAT_NS);
    ns.use_middleware(
        |hs| match hs.auth.get("name").and_then(Value::as_str).map(str::trim) {
            Some(name) if !name.is_empty() && name.len() <= 32 => {
                hs.data.insert("name".into(), json!(name));
                Ok(())
            }
            _ => Err(NAME_REQUIRED.into()),
        },
    );
    ns.on("join", |ctx, ev| {
        if let Some(room) = room_arg(ev) {
            if !ctx.join(&room) {
                let max = ctx.core().config().max_rooms_per_socket;
                let error = format!(
                    "you are in {max} rooms (your own included), the most one connection may join; leave one first"
                );
                ctx.ack(vec![json!({"ok": false, "error": error})]);
                return;
            }
            let name = display_name(ctx);
            ctx.namespace()
                .to(&room)
                .reliable()
                .emit("joined", vec![json!({"name": name, "room": room})]);
            ctx.ack(vec![json!({"ok": true, "room": room})]);
        } else {
            ctx.ack(vec![json!({"ok": false, "error": ROOM_NAME_RULE})]);
        }
    });
    ns.on("leave", |ctx, ev| {
        if let Some(room) = room_arg(ev) {
            let name = display_name(ctx);
            ctx.namespace()
                .to(&room)
                .reliable()
                .emit("left", vec![json!({"name": name, "room": room})]);
            ctx.leave(&room);
            ctx.ack(vec![json!({"ok": true})]);
        }
    });
    // Leaving on purpose (`disconnect`, or /quit in `netlab events chat`) tells the rooms; a
    // dropped connection does not, since the client may resume and never have left.
    ns.on_disconnect(|ctx, reason| {
        if reason == "client namespace disconnect" {
            let name = display_name(ctx);
            let me = ctx.sid().to_string();
            for room in ctx.rooms().into_iter().filter(|r| *r != me) {
                ctx.broadcast()
                    .to(&room)
                    .reliable()
                    .emit("left", vec![json!({"name": name, "room": room})]);
            }
        }
    });
    ns.on("message", move |ctx, ev| {
        let text = ev.args.get(1).and_then(Value::as_str);
        match (room_arg(ev), text) {
            (Some(room), Some(text)) if ctx.in_room(&room) => {
                let name = display_name(ctx);
                // Refused before anything is sent or logged if the wrapped message would be
                // too long for the clients (a text just under the limit grows past it).
                match recorder.say(ctx.namespace(), &name, &room, text) {
                    Ok(_) => ctx.ack(vec![json!({"ok": true})]),
                    Err(e) => ctx.ack(vec![json!({"ok": false, "error": e.to_string()})]),
                };
            }
            (Some(room), Some(_)) => {
                ctx.ack(vec![
                    json!({"ok": false, "error": format!("join {room:?} first")}),
                ]);
            }
            _ => {
                ctx.ack(vec![
                    json!({"ok": false, "error": "message needs [room, text]"}),
                ]);
            }
        }
    });
    history
}

const NAME_REQUIRED: &str =
    "a display name is required: connect with \"auth\":{\"name\":\"...\"} (1 to 32 characters)";

/// One chat message as the history keeps it; `id` increases across all rooms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub id: u64,
    pub name: String,
    pub room: String,
    pub text: String,
}

/// Why [`History::post`] refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    #[error("\"name\" must be 1 to 32 characters (after trimming spaces)")]
    BadName,
    #[error("the room name must not be empty")]
    BadRoom,
    #[error("{0}")]
    Refused(#[from] EmitError),
}

/// The chat's numbered messages, a bounded window per room, shared by every transport.
#[derive(Clone)]
pub struct History {
    rooms: Arc<Mutex<Rooms>>,
    /// The id of the newest message: readers that hold a request open wait for it to change.
    newest: watch::Sender<u64>,
}

#[derive(Default)]
struct Rooms {
    next_id: u64,
    rooms: HashMap<String, VecDeque<Message>>,
}

impl Default for History {
    fn default() -> Self {
        History {
            rooms: Arc::default(),
            newest: watch::Sender::new(0),
        }
    }
}

impl History {
    /// Post `text` to `room` as `name` from outside any socket: the room's sockets get the
    /// same reliable `message` event as from a chat client. Returns the stored message.
    pub fn post(
        &self,
        core: &mut Core,
        now: Instant,
        room: &str,
        name: &str,
        text: &str,
    ) -> Result<Message, PostError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 32 {
            return Err(PostError::BadName);
        }
        let room = room.trim();
        if room.is_empty() {
            return Err(PostError::BadRoom);
        }
        Ok(self.say(core.of(CHAT_NS, now), name, room, text)?)
    }

    /// Send one message to the room, then number and keep it (the one place a message is
    /// made). A message too long to send is refused before anything is sent or kept.
    fn say(
        &self,
        to: crate::core::Broadcast<'_>,
        name: &str,
        room: &str,
        text: &str,
    ) -> Result<Message, EmitError> {
        let payload = json!({"name": name, "room": room, "text": text});
        to.to(room).reliable().try_emit("message", vec![payload])?;
        Ok(self.record(name, room, text))
    }

    fn record(&self, name: &str, room: &str, text: &str) -> Message {
        let mut st = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        st.next_id += 1;
        let msg = Message {
            id: st.next_id,
            name: name.to_string(),
            room: room.to_string(),
            text: text.to_string(),
        };
        if !st.rooms.contains_key(room) && st.rooms.len() >= HISTORY_ROOMS {
            let quietest = st
                .rooms
                .iter()
                .min_by_key(|(_, m)| m.back().map_or(0, |m| m.id))
                .map(|(r, _)| r.clone());
            if let Some(r) = quietest {
                st.rooms.remove(&r);
            }
        }
        let kept = st.rooms.entry(room.to_string()).or_default();
        if kept.len() == HISTORY_PER_ROOM {
            kept.pop_front();
        }
        kept.push_back(msg.clone());
        let id = msg.id;
        drop(st);
        self.newest.send_replace(id);
        msg
    }

    /// The kept messages of `room` with an id above `after`, oldest first, at most `max`.
    pub fn after(&self, room: &str, after: u64, max: usize) -> Vec<Message> {
        let st = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        let Some(kept) = st.rooms.get(room) else {
            return Vec::new();
        };
        let start = kept.partition_point(|m| m.id <= after);
        kept.range(start..).take(max).cloned().collect()
    }

    /// The newest id of all rooms (0 before the first message).
    pub fn newest(&self) -> u64 {
        *self.newest.borrow()
    }

    /// Changes whenever a message is recorded, in any room: wait on it, then ask [`History::after`].
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.newest.subscribe()
    }
}

/// The longest room name, in bytes: a name travels in every `joined`, `left` and `message`.
pub const MAX_ROOM_NAME: usize = 64;

const ROOM_NAME_RULE: &str = "join needs a room name: [\"room\"], 1 to 64 bytes";

fn room_arg(ev: &Event) -> Option<String> {
    let room = ev.args.first()?.as_str()?.trim();
    (!room.is_empty() && room.len() <= MAX_ROOM_NAME).then(|| room.to_string())
}

fn display_name(ctx: &Ctx<'_>) -> String {
    ctx.data_str("name")
        .unwrap_or_else(|| ctx.sid().to_string())
}
