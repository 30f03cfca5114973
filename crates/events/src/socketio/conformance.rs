//! The conformance app (`netlab events serve --app conformance`): the behaviour socket.io's own
//! protocol test suite expects of a server, so anyone can check this implementation against it.
//!
//! On the namespaces `/` and `/custom`:
//! - on connection, emit `auth` with the handshake's auth payload (`{}` when there was none);
//! - on `message`, emit `message-back` with the same arguments;
//! - on `message-with-ack`, acknowledge with the same arguments.
//!
//! Closing a client that joins no namespace in time is the connection's job (its
//! `connect_timeout`), not the app's.

use crate::core::Core;

/// The namespaces the conformance app serves.
pub const NAMESPACES: [&str; 2] = ["/", "/custom"];

/// Register the conformance app on `core`.
pub fn install(core: &mut Core) {
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
    }
}
