//! What a handler gets: its socket, and the operators to emit, ack, join, leave and broadcast.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::{AckCallback, Core, Delivery, EmitError, Event};
use crate::frame::Frame;

/// A handler's view of the core, bound to one socket.
pub struct Ctx<'a> {
    core: &'a mut Core,
    sid: String,
    ack: Option<u64>,
    now: Instant,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(core: &'a mut Core, sid: &str, ack: Option<u64>, now: Instant) -> Self {
        Ctx {
            core,
            sid: sid.to_string(),
            ack,
            now,
        }
    }

    /// This socket's id (also the name of its own room).
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The namespace of this socket.
    pub fn ns(&self) -> String {
        self.core
            .socket_conn_and_ns(&self.sid)
            .map(|(_, ns)| ns)
            .unwrap_or_default()
    }

    /// The `auth` object the client connected with (null after a server restart).
    pub fn auth(&self) -> Value {
        self.core
            .socket_ref(&self.sid)
            .map(|s| s.auth.clone())
            .unwrap_or(Value::Null)
    }

    /// Application data kept with the session (persisted with `--store`).
    pub fn data(&mut self) -> Option<&mut Map<String, Value>> {
        self.core.socket_mut(&self.sid).map(|s| &mut s.rec.data)
    }

    /// Read one data field as a string.
    pub fn data_str(&self, key: &str) -> Option<String> {
        let s = self.core.socket_ref(&self.sid)?;
        s.rec.data.get(key)?.as_str().map(str::to_string)
    }

    /// True while the socket's connection is open.
    pub fn connected(&self) -> bool {
        self.core
            .socket_conn_and_ns(&self.sid)
            .is_some_and(|(c, _)| c.is_some())
    }

    /// Reply to the event being handled, if its sender asked for an ack. Returns whether it did.
    pub fn ack(&mut self, args: Vec<Value>) -> bool {
        let Some(id) = self.ack.take() else {
            return false;
        };
        match self.core.socket_conn_and_ns(&self.sid) {
            Some((Some(conn), ns)) => {
                self.core.send_ack(conn, &ns, id, args);
                true
            }
            _ => false,
        }
    }

    /// Whether the sender asked for an ack that nobody has answered yet.
    pub(crate) fn ack_pending(&self) -> bool {
        self.ack.is_some()
    }

    /// Emit to this socket (default delivery).
    pub fn emit(&mut self, name: &str, args: Vec<Value>) {
        self.emit_with(Delivery::Default, name, args);
    }

    /// Emit to this socket with the given delivery (refused, and logged, if its frame would be
    /// longer than `max_frame_bytes`; [`Ctx::try_emit_with`] says so).
    pub fn emit_with(&mut self, delivery: Delivery, name: &str, args: Vec<Value>) {
        let _ = self.try_emit_with(delivery, name, args);
    }

    /// As [`Ctx::emit_with`], with the refusal returned.
    pub fn try_emit_with(
        &mut self,
        delivery: Delivery,
        name: &str,
        args: Vec<Value>,
    ) -> Result<(), EmitError> {
        let r = self
            .core
            .deliver(&self.sid, delivery, name, &args, self.now);
        self.core.finish(self.now);
        r
    }

    /// Emit to this socket and get its ack (or a timeout or disconnect error) in `callback`.
    pub fn emit_with_ack(
        &mut self,
        name: &str,
        args: Vec<Value>,
        timeout: Duration,
        callback: AckCallback,
    ) {
        let sid = self.sid.clone();
        self.core
            .emit_with_ack(&sid, name, args, timeout, self.now, callback);
    }

    /// Add a handler for this socket only.
    pub fn on(&mut self, name: &str, f: impl Fn(&mut Ctx<'_>, &Event) + Send + Sync + 'static) {
        if let Some(s) = self.core.socket_mut(&self.sid) {
            s.handlers.insert(name.to_string(), Arc::new(f));
        }
    }

    /// Join `room`. False if the socket is already in as many rooms as
    /// [`super::Config::max_rooms_per_socket`] allows (then it did not join).
    pub fn join(&mut self, room: &str) -> bool {
        self.core.join(&self.sid, room)
    }

    /// Is this socket in `room`? (Cheaper than searching [`Ctx::rooms`].)
    pub fn in_room(&self, room: &str) -> bool {
        self.core.in_room(&self.sid, room)
    }

    pub fn leave(&mut self, room: &str) {
        self.core.leave(&self.sid, room);
    }

    pub fn rooms(&self) -> Vec<String> {
        self.core.rooms_of(&self.sid)
    }

    /// Everyone in `room` except this socket (socket.io's `socket.to(room)`).
    pub fn to(&mut self, room: &str) -> Broadcast<'_> {
        let mut b = self.broadcast();
        b.rooms.push(room.to_string());
        b
    }

    /// Everyone in the namespace except this socket (socket.io's `socket.broadcast`).
    pub fn broadcast(&mut self) -> Broadcast<'_> {
        let ns = self.ns();
        let me = self.sid.clone();
        Broadcast::new(self.core, &ns, Some(me), self.now)
    }

    /// Everyone in the namespace, this socket included (socket.io's `io.of(ns)`).
    pub fn namespace(&mut self) -> Broadcast<'_> {
        let ns = self.ns();
        Broadcast::new(self.core, &ns, None, self.now)
    }

    /// Remove this socket from the namespace; the client gets a `disconnect` frame.
    pub fn disconnect(&mut self, reason: &str) {
        let sid = self.sid.clone();
        self.core.request_close_socket(&sid, reason, self.now);
    }

    /// The core itself, for anything the shortcuts above do not cover.
    pub fn core(&mut self) -> &mut Core {
        self.core
    }
}

/// A broadcast being built: pick rooms, exclusions and delivery, then `emit`.
pub struct Broadcast<'a> {
    core: &'a mut Core,
    ns: String,
    rooms: Vec<String>,
    except_rooms: Vec<String>,
    except_sid: Option<String>,
    delivery: Delivery,
    now: Instant,
}

impl<'a> Broadcast<'a> {
    pub(crate) fn new(
        core: &'a mut Core,
        ns: &str,
        except_sid: Option<String>,
        now: Instant,
    ) -> Self {
        Broadcast {
            core,
            ns: ns.to_string(),
            rooms: Vec::new(),
            except_rooms: Vec::new(),
            except_sid,
            delivery: Delivery::Default,
            now,
        }
    }

    /// Only sockets in `room` (several `to` calls make a union).
    pub fn to(mut self, room: &str) -> Self {
        self.rooms.push(room.to_string());
        self
    }

    /// Leave out sockets in `room`.
    pub fn except(mut self, room: &str) -> Self {
        self.except_rooms.push(room.to_string());
        self
    }

    /// May be dropped under backpressure.
    pub fn volatile(mut self) -> Self {
        self.delivery = Delivery::Volatile;
        self
    }

    /// Numbered, logged per session and replayed on resume.
    pub fn reliable(mut self) -> Self {
        self.delivery = Delivery::Reliable;
        self
    }

    pub fn delivery(mut self, d: Delivery) -> Self {
        self.delivery = d;
        self
    }

    /// Send; returns how many sockets it was addressed to (connected or, if reliable, away),
    /// 0 if it was refused (see [`Broadcast::try_emit`]).
    pub fn emit(self, name: &str, args: Vec<Value>) -> usize {
        self.try_emit(name, args).unwrap_or(0)
    }

    /// Send, or refuse before anything is queued or logged if the frame would be longer than
    /// `max_frame_bytes`: every client would refuse it, and a logged copy would be replayed
    /// (and refused) on every resume. The sender can then be told why.
    pub fn try_emit(self, name: &str, args: Vec<Value>) -> Result<usize, EmitError> {
        let bytes = self.core.check_size(&self.ns, name, &args, None)?;
        let targets = self.core.targets(
            &self.ns,
            &self.rooms,
            &self.except_rooms,
            self.except_sid.as_deref(),
        );
        let shared = Arc::new(Frame::event(&self.ns, name, args.clone()));
        for sid in &targets {
            self.core.deliver_shared(
                sid,
                self.delivery,
                name,
                &args,
                Some(&shared),
                bytes,
                self.now,
            );
        }
        self.core.finish(self.now);
        Ok(targets.len())
    }
}
