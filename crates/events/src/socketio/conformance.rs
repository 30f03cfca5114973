//! The conformance app (`netlab events serve --app conformance`): the behaviour socket.io's own
//! protocol test suite expects of a server, so anyone can check this implementation against it.
//!
//! On the namespaces `/` and `/custom`:
//! - on connection, emit `auth` with the handshake's auth payload (`{}` when there was none);
//! - on `message`, emit `message-back` with the same arguments;
//! - on `message-with-ack`, acknowledge with the same arguments.
//!
//! One addition, so a test can check acks from server to client as well: on `call-me-back`, the
//! server emits `callback` with the same arguments and asks for an ack; a later
//! `callback-result` (with an ack id) is acknowledged with what the client's ack carried, or
//! with `[{"error": "..."}]` while there is none.
//!
//! Closing a client that joins no namespace in time is the connection's job (its
//! `connect_timeout`), not the app's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::core::Core;

/// The namespaces the conformance app serves.
pub const NAMESPACES: [&str; 2] = ["/", "/custom"];

/// How long the server waits for the client's ack of `callback`.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Register the conformance app on `core`.
pub fn install(core: &mut Core) {
    // sid -> the arguments of the client's last ack of `callback`. Filled by the ack callback,
    // which runs outside any handler, and read by the next `callback-result`.
    let answers: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
    for ns in NAMESPACES {
        let n = core.namespace(ns);
        n.on_connection(|ctx| {
            let auth = ctx.auth();
            ctx.emit("auth", vec![auth]);
        });
        n.on("message", |ctx, ev| {
            ctx.emit("message-back", ev.args.clone())
        });
        n.on("message-with-ack", |ctx, ev| {
            ctx.ack(ev.args.clone());
        });
        let store = answers.clone();
        n.on("call-me-back", move |ctx, ev| {
            let store = store.clone();
            let sid = ctx.sid().to_string();
            let callback = Box::new(move |r: Result<Vec<Value>, _>| {
                let v = match r {
                    Ok(args) => Value::Array(args),
                    Err(e) => json!([{ "error": format!("{e}") }]),
                };
                if let Ok(mut m) = store.lock() {
                    m.insert(sid, v);
                }
            });
            ctx.emit_with_ack("callback", ev.args.clone(), CALLBACK_TIMEOUT, callback);
        });
        let store = answers.clone();
        n.on("callback-result", move |ctx, _| {
            let got = store.lock().ok().and_then(|mut m| m.remove(ctx.sid()));
            let args = match got {
                Some(Value::Array(a)) => a,
                _ => vec![json!({"error": "no ack of `callback` yet"})],
            };
            ctx.ack(args);
        });
        n.on_disconnect({
            let store = answers.clone();
            move |ctx, _| {
                if let Ok(mut m) = store.lock() {
                    m.remove(ctx.sid());
                }
            }
        });
    }
}
