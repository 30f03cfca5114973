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

use serde_json::{Value, json};

use crate::core::{Core, Ctx, Event};

pub const CHAT_NS: &str = "/chat";

/// Register the chat namespace on `core`.
pub fn install(core: &mut Core) {
    let ns = core.namespace(CHAT_NS);
    ns.use_middleware(|hs| {
        match hs.auth.get("name").and_then(Value::as_str).map(str::trim) {
            Some(name) if !name.is_empty() && name.len() <= 32 => {
                hs.data.insert("name".into(), json!(name));
                Ok(())
            }
            _ => Err("a display name is required: connect with \"auth\":{\"name\":\"...\"} (1 to 32 characters)".into()),
        }
    });
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
    ns.on("message", |ctx, ev| {
        let text = ev.args.get(1).and_then(Value::as_str);
        match (room_arg(ev), text) {
            (Some(room), Some(text)) if ctx.in_room(&room) => {
                let name = display_name(ctx);
                let msg = json!({"name": name, "room": room, "text": text});
                // Refused before anything is sent or logged if the wrapped message would be
                // too long for the clients (a text just under the limit grows past it).
                let sent = ctx
                    .namespace()
                    .to(&room)
                    .reliable()
                    .try_emit("message", vec![msg]);
                match sent {
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
