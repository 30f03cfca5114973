//! One socket.io client on netlab's core: Socket.IO packets in an Engine.IO [`Session`] are
//! turned into the core's frames and back. No I/O and no clock, like the core itself.
//!
//! | Socket.IO (client) | core | Socket.IO (server) |
//! |---|---|---|
//! | `0/chat,{"name":"ada"}` | `connect` with auth | `0/chat,{"sid":..,"pid":..}` or `4/chat,{"message":..}` |
//! | `0/chat,{..,"pid":"p","offset":"7"}` | `connect` with `resume {session: p, seq: 7}` | the same sid, then the missed events |
//! | `2/chat,4["message","lobby","hi"]` | `event` with an ack id of the core's own | `3/chat,4[{"ok":true}]` |
//! | `3/chat,1["yes"]` | `ack` of the server's emit 1 | |
//! | `1/chat,` | `disconnect` | `1/chat,` when the server removes the socket |
//!
//! Connection state recovery (socket.io-client 4.x): the server's CONNECT answer carries the
//! session token as `pid`; every reliable event carries its sequence number, as a string, as its
//! last argument (socket.io's "offset", which the client remembers); a client that reconnects
//! sends both back in its CONNECT, and the core's reliable log replays what it missed.
//!
//! Client ack ids are renumbered: socket.io counts them per namespace from 0, while the core
//! wants one increasing series per connection; the map back is kept here.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::engineio::Data;
use super::packet::{Kind, Packet, Reassembler, SioError, encode_event};
use super::session::{Config as EioConfig, Poll, Session, SessionError, Transport, reason};
use crate::core::{ConnId, Core};
use crate::frame::{Frame, Resume};

/// The connection's tunables.
#[derive(Debug, Clone)]
pub struct Config {
    pub engine: EioConfig,
    /// A client that joins no namespace within this time is closed (socket.io: 45 s).
    pub connect_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            engine: EioConfig::default(),
            connect_timeout: Duration::from_secs(45),
        }
    }
}

/// Why a connection was closed because of what its client sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    #[error(transparent)]
    Engine(#[from] SessionError),
    #[error("bad Socket.IO packet: {0}")]
    Packet(#[from] SioError),
    #[error(
        "a {kind} packet for namespace {nsp:?}, which this connection has not joined (or has already)"
    )]
    InvalidState { kind: &'static str, nsp: String },
}

/// A socket.io client attached to the core. See the module docs.
pub struct Connection {
    session: Session,
    conn: ConnId,
    reassembler: Reassembler,
    /// Namespaces this connection has a socket in.
    nsps: HashSet<String>,
    /// The core's ack id -> the namespace and the id the client chose.
    client_acks: HashMap<u64, (String, u64)>,
    next_ack: u64,
    connect_deadline: Option<Instant>,
    /// Set once the core has been told the connection is gone.
    detached: bool,
}

impl Connection {
    /// A new Engine.IO session `sid` over `transport`, on a new connection of the core.
    pub fn open(
        core: &mut Core,
        sid: String,
        transport: Transport,
        config: &Config,
        now: Instant,
    ) -> Connection {
        let conn = core.open(now);
        Connection::attach(core, conn, sid, transport, config, now)
    }

    /// As [`Connection::open`], on a connection the caller opened (a hub that registers its
    /// connections to wake their writers opens them itself).
    pub fn attach(
        core: &mut Core,
        conn: ConnId,
        sid: String,
        transport: Transport,
        config: &Config,
        now: Instant,
    ) -> Connection {
        let mut c = Connection {
            session: Session::new(sid, transport, config.engine.clone(), now),
            conn,
            reassembler: Reassembler::default(),
            nsps: HashSet::new(),
            client_acks: HashMap::new(),
            next_ack: 1,
            connect_deadline: Some(now + config.connect_timeout),
            detached: false,
        };
        c.flush(core, now);
        c
    }

    /// The core's id for this connection (to match [`Core::take_wakeups`]).
    pub fn conn_id(&self) -> ConnId {
        self.conn
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// A long-polling GET begins (refused if one is already open).
    pub fn begin_poll(&mut self, core: &mut Core, now: Instant) -> Result<(), ConnectionError> {
        let r = self.session.begin_poll();
        // An overlapping poll closes the session: the core must hear of it.
        self.flush(core, now);
        Ok(r?)
    }

    /// The GET's body, or wait (see [`Session::take_polling`]).
    pub fn take_polling(&mut self, core: &mut Core, now: Instant) -> Poll {
        self.flush(core, now);
        self.session.take_polling()
    }

    pub fn end_poll(&mut self) {
        self.session.end_poll();
    }

    /// Frames for the WebSocket.
    pub fn take_ws(&mut self, core: &mut Core, now: Instant) -> Vec<Data> {
        self.flush(core, now);
        self.session.take_ws()
    }

    /// A long-polling POST body.
    pub fn receive_payload(
        &mut self,
        core: &mut Core,
        body: &[u8],
        now: Instant,
    ) -> Result<(), ConnectionError> {
        let r = self.session.receive_payload(body, now);
        let r2 = self.after_input(core, now);
        r?;
        r2
    }

    /// One WebSocket frame.
    pub fn receive_ws(
        &mut self,
        core: &mut Core,
        frame: Data,
        now: Instant,
    ) -> Result<(), ConnectionError> {
        let r = self.session.receive_ws(frame, now);
        let r2 = self.after_input(core, now);
        r?;
        r2
    }

    /// When [`Connection::handle_timeout`] should next run.
    pub fn next_deadline(&self, core: &Core) -> Option<Instant> {
        if self.session.closed().is_some() {
            return None;
        }
        [
            self.session.next_deadline(),
            self.connect_deadline,
            core.next_deadline(self.conn),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Run what is due: pings, the ping timeout, the connect timeout, the core's timers.
    pub fn handle_timeout(&mut self, core: &mut Core, now: Instant) {
        self.session.handle_timeout(now);
        if self.connect_deadline.is_some_and(|d| now >= d) {
            tracing::debug!(
                sid = self.session.sid(),
                "no namespace joined in time: closing"
            );
            self.connect_deadline = None;
            self.session.server_close();
        }
        core.handle_timeout(self.conn, now);
        self.flush(core, now);
    }

    /// The WebSocket probing an upgrade closed before the upgrade: polling goes on.
    pub fn abort_upgrade(&mut self) {
        self.session.abort_upgrade();
    }

    /// The transport went away without a close (socket closed, poll abandoned for good).
    pub fn transport_gone(&mut self, core: &mut Core, reason: &str, now: Instant) {
        self.session.server_close();
        self.detach(core, reason, now);
    }

    /// Whether the session is over and everything for the client has been taken.
    pub fn finished(&self) -> bool {
        self.session.closed().is_some() && !self.session.has_output()
    }

    /// Move the core's frames for this connection into the session, as Socket.IO packets.
    pub fn flush(&mut self, core: &mut Core, now: Instant) {
        loop {
            let t = core.poll_outgoing(self.conn, 256);
            let mut pinged = false;
            let empty = t.frames.is_empty();
            for o in &t.frames {
                pinged |= matches!(*o.frame, Frame::Ping);
                self.send_frame(&o.frame, o.seq);
            }
            if pinged {
                // Engine.IO has its own heartbeat; the core's is answered here.
                core.receive(self.conn, Frame::Pong, now);
            }
            if t.close {
                if !self.detached {
                    tracing::debug!(reason = ?t.reason, "the core closed the connection");
                    self.session.server_close();
                    self.detach(core, t.reason.as_deref().unwrap_or("server close"), now);
                }
                break;
            }
            if empty {
                break;
            }
        }
        if let Some(why) = self.session.closed() {
            self.detach(core, why, now);
        }
    }

    fn detach(&mut self, core: &mut Core, reason: &str, now: Instant) {
        if !self.detached {
            self.detached = true;
            core.closed(self.conn, reason, now);
        }
    }

    /// Decode what the session received and hand it to the core.
    fn after_input(&mut self, core: &mut Core, now: Instant) -> Result<(), ConnectionError> {
        let mut result = Ok(());
        for msg in self.session.take_messages() {
            let packet = match msg {
                Data::Text(t) => self.reassembler.text(&t),
                Data::Binary(b) => self.reassembler.binary(b),
            };
            let step = match packet {
                // Flushed packet by packet: a CONNECT's answer marks the namespace joined
                // before the next packet of the same body is read.
                Ok(Some(p)) => self
                    .receive_packet(core, p, now)
                    .map(|()| self.flush(core, now)),
                Ok(None) => Ok(()),
                Err(e) => Err(e.into()),
            };
            if let Err(e) = step {
                // socket.io closes a client that sends a bad packet; the others carry on.
                tracing::debug!(error = %e, "closing a socket.io client");
                self.session.server_close();
                self.detach(core, reason::PARSE_ERROR, now);
                result = Err(e);
                break;
            }
        }
        self.flush(core, now);
        result
    }

    fn receive_packet(
        &mut self,
        core: &mut Core,
        p: Packet,
        now: Instant,
    ) -> Result<(), ConnectionError> {
        let joined = self.nsps.contains(&p.nsp);
        let invalid = || ConnectionError::InvalidState {
            kind: p.kind.name(),
            nsp: p.nsp.clone(),
        };
        match p.kind {
            Kind::Connect if joined => return Err(invalid()),
            Kind::Connect if !core.has_namespace(&p.nsp) => {
                let refusal = Packet::new(
                    Kind::ConnectError,
                    &p.nsp,
                    Some(json!({"message": "Invalid namespace"})),
                );
                self.send_packet(&refusal);
            }
            Kind::Connect => {
                let (auth, resume) = split_auth(p.data);
                let f = Frame::Connect {
                    ns: p.nsp,
                    auth: Some(auth),
                    resume,
                };
                core.receive(self.conn, f, now);
            }
            Kind::Disconnect if joined => {
                self.nsps.remove(&p.nsp);
                let f = Frame::Disconnect {
                    ns: p.nsp,
                    reason: None,
                };
                core.receive(self.conn, f, now);
            }
            Kind::Event | Kind::BinaryEvent if joined => {
                let mut args = match p.data {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                };
                let name = match args.first() {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                if !args.is_empty() {
                    args.remove(0);
                }
                let ack = p.id.map(|client_id| {
                    let id = self.next_ack;
                    self.next_ack += 1;
                    self.client_acks.insert(id, (p.nsp.clone(), client_id));
                    id
                });
                let f = Frame::Event {
                    ns: p.nsp,
                    name,
                    args,
                    ack,
                    seq: None,
                };
                core.receive(self.conn, f, now);
            }
            Kind::Ack | Kind::BinaryAck if joined => {
                let Some(id) = p.id else {
                    return Err(invalid());
                };
                let args = match p.data {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                };
                let f = Frame::Ack {
                    ns: p.nsp,
                    id,
                    args,
                };
                core.receive(self.conn, f, now);
            }
            _ => return Err(invalid()),
        }
        Ok(())
    }

    /// One core frame out as a Socket.IO packet (or nothing: the core's own bookkeeping).
    /// `offset` is the seq of a reliable event queued without one (see [`crate::core::Outgoing`]).
    fn send_frame(&mut self, f: &Frame, offset: Option<u64>) {
        let packet = match f {
            Frame::Connected {
                ns, sid, session, ..
            } => {
                self.nsps.insert(ns.clone());
                self.connect_deadline = None;
                Packet::new(Kind::Connect, ns, Some(json!({"sid": sid, "pid": session})))
            }
            Frame::ConnectError { ns, message } => {
                Packet::new(Kind::ConnectError, ns, Some(json!({ "message": message })))
            }
            Frame::Event {
                ns,
                name,
                args,
                ack,
                seq,
            } => {
                let seq = offset.or(*seq);
                // The common case, written without copying the arguments (a broadcast does
                // this once per recipient); binary values need the packet and its attachments.
                if let Some(text) = encode_event(ns, *ack, name, args, seq) {
                    self.session.send(Data::Text(text));
                    return;
                }
                let mut data = Vec::with_capacity(args.len() + 2);
                data.push(Value::String(name.clone()));
                data.extend(args.iter().cloned());
                if let Some(seq) = seq {
                    // The offset a recovering client sends back (module docs).
                    data.push(Value::String(seq.to_string()));
                }
                Packet {
                    kind: Kind::Event,
                    nsp: ns.clone(),
                    id: *ack,
                    data: Some(Value::Array(data)),
                }
            }
            Frame::Ack { id, args, .. } => {
                let Some((nsp, client_id)) = self.client_acks.remove(id) else {
                    return;
                };
                Packet {
                    kind: Kind::Ack,
                    nsp,
                    id: Some(client_id),
                    data: Some(Value::Array(args.clone())),
                }
            }
            Frame::Disconnect { ns, .. } => {
                self.nsps.remove(ns);
                Packet::new(Kind::Disconnect, ns, None)
            }
            Frame::Error { code, message } => {
                tracing::debug!(code, message, "core protocol error on a socket.io client");
                return;
            }
            // Socket.IO has no packet for "your event was not carried out" (an EVENT named
            // "refused" could collide with the application's own events), so it is dropped
            // here. A socket.io client hears about a refusal through its ack, which the chat
            // answers `{"ok":false,"error":...}`: socket.io clients ask for acks for that.
            Frame::Refused {
                ns,
                name,
                code,
                message,
            } => {
                tracing::debug!(
                    ns,
                    name,
                    code,
                    message,
                    "refusal not sent to a socket.io client (no such packet)"
                );
                return;
            }
            Frame::Hello { .. }
            | Frame::Ping
            | Frame::Pong
            | Frame::Received { .. }
            | Frame::Connect { .. } => return,
        };
        self.send_packet(&packet);
    }

    fn send_packet(&mut self, p: &Packet) {
        let (text, attachments) = p.encode();
        self.session.send(Data::Text(text));
        for a in attachments {
            self.session.send(Data::Binary(a));
        }
    }
}

/// Split a CONNECT payload into the application's auth (`{}` when none, as socket.io) and the
/// recovery request socket.io-client adds to it (`pid`, `offset`).
fn split_auth(data: Option<Value>) -> (Value, Option<Resume>) {
    let mut auth = match data {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    let pid = auth.remove("pid");
    let offset = auth.remove("offset");
    let resume = match pid {
        Some(Value::String(session)) => {
            // No offset: the client saw no event yet, so it missed everything since seq 0.
            let seq = match offset {
                Some(Value::String(s)) => s.parse().ok(),
                None => Some(0),
                _ => None,
            };
            seq.map(|seq| Resume { session, seq })
        }
        other => {
            // Not a recovery request after all: give the fields back to the application.
            if let Some(v) = other {
                auth.insert("pid".into(), v);
            }
            if let Some(v) = offset {
                auth.insert("offset".into(), v);
            }
            None
        }
    };
    (Value::Object(auth), resume)
}
