//! The semantic core: sessions, namespaces, middleware, rooms, broadcast, acks, heartbeats, the
//! reliable log and deduplication. No I/O and no clock: a transport calls [`Core::open`],
//! [`Core::receive`] and [`Core::closed`] with frames and the current time, and takes frames out
//! with [`Core::poll_transmit`] (quinn's way; tests drive it with frames in, frames out), or with
//! [`Core::poll_outgoing`] as they were queued: a reliable broadcast queues one frame shared by
//! every recipient, with each recipient's `seq` beside it ([`Outgoing`]).
//!
//! Backpressure policy (per connection, see [`Config::send_queue`] and
//! [`Config::send_queue_bytes`]): the core keeps a queue of frames waiting for the transport,
//! bounded in frames and in bytes, and all queues together in bytes. A volatile frame is dropped
//! (and counted) when the queue is half full or more, which leaves the other half for frames that
//! matter. Any other frame arriving at a full queue means the client cannot keep up: what is
//! queued gives way to an `error` frame `send_buffer_full` with the reason, and the connection is
//! closed ("send buffer full"). Its sessions stay resumable, so reliable events are not lost.
//!
//! Memory is bounded in bytes, not only in counts: each reliable log and all of them together
//! ([`Config::log_max_bytes`], [`Config::total_log_bytes`]); nothing longer than
//! `max_frame_bytes` is ever queued or logged (`Core::check_size`); rooms per socket are
//! limited. Application code (handlers, middleware, hooks) runs under `catch_unwind`: a panic in
//! it closes only the connection whose frame caused it (see `contain`).

mod ctx;
mod namespace;
mod session;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

use crate::codec::DEFAULT_MAX_FRAME_BYTES;
use crate::frame::{Frame, FrameError, PROTOCOL_VERSION, Resume};

pub use ctx::{Broadcast, Ctx};
pub use namespace::{
    ConnectHook, DisconnectHook, Event, Handler, Handshake, Middleware, Namespace,
};
use session::Socket;
pub use session::{LogRecord, SessionRecord};

/// Identifies one transport connection inside the core.
pub type ConnId = u64;

/// How an emit is delivered (chosen per emit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// May be dropped under backpressure, and is never queued for an absent client.
    Volatile,
    /// At most once: sent if the client is connected now, lost if it is away (as socket.io).
    #[default]
    Default,
    /// At least once: numbered, logged until the client confirms, replayed on resume.
    Reliable,
}

/// The server's tunables. The defaults are socket.io's where it has one.
#[derive(Debug, Clone)]
pub struct Config {
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub max_frame_bytes: usize,
    /// Frames queued per connection before backpressure applies.
    pub send_queue: usize,
    /// The same bound in bytes (of the frames as they will be written), per connection.
    pub send_queue_bytes: usize,
    /// Bytes queued for all connections together: past it, the connection with the most queued
    /// is closed ("send buffer full"), so slow readers cannot add up to all of memory.
    pub total_queue_bytes: usize,
    /// Reliable log bound by count, per session.
    pub log_max_len: usize,
    /// Reliable log bound in bytes, per session (at least `max_frame_bytes` is kept).
    pub log_max_bytes: usize,
    /// Reliable logs of all sessions together, in bytes: past it, the largest log loses its
    /// oldest entries (its session then resumes with `recovered: false`).
    pub total_log_bytes: usize,
    /// Rooms one socket may be in, its own room included.
    pub max_rooms_per_socket: usize,
    /// Reliable log bound by age; also how long a detached session waits for its client.
    pub log_max_age: Duration,
    /// Seed for session ids and tokens: random by default (ids must not repeat across server
    /// restarts that share a store); fix it in tests that compare ids.
    pub seed: u64,
    /// Record dropped unhandled events as [`Note`]s for `--trace`.
    pub trace: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            send_queue: 1024,
            // 8 frames of the largest size, or many more small ones; the count bound applies too.
            send_queue_bytes: 8 << 20,
            total_queue_bytes: 256 << 20,
            log_max_len: 1000,
            log_max_bytes: 8 << 20,
            total_log_bytes: 256 << 20,
            max_rooms_per_socket: 256,
            // socket.io's connection state recovery keeps sessions 2 minutes by default.
            log_max_age: Duration::from_secs(120),
            seed: rand::random(),
            trace: false,
        }
    }
}

/// Why a server-to-client ack did not come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    #[error("no ack before the timeout")]
    Timeout,
    #[error("the socket disconnected before it acked")]
    Disconnected,
    #[error("the event would be longer than max_frame_bytes, so it was not sent")]
    TooLarge,
}

/// Why an emit was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    #[error(
        "the event would be {bytes} bytes on the wire, over the limit of {max} (max_frame_bytes) that every client enforces; send less"
    )]
    TooLarge { bytes: usize, max: usize },
}

impl EmitError {
    /// The machine-readable code sent in a `refused` frame or an ack's `code`.
    pub fn code(&self) -> &'static str {
        match self {
            EmitError::TooLarge { .. } => "too_large",
        }
    }
}

/// Called exactly once with the ack's arguments or the reason there is none.
pub type AckCallback = Box<dyn FnOnce(Result<Vec<Value>, AckError>) + Send>;

/// A change the store must persist before the frames of the same step go out.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreOp {
    PutSession(SessionRecord),
    Append {
        token: String,
        entry: LogRecord,
    },
    /// Remove log entries with seq <= `through` (confirmed or expired).
    Forget {
        token: String,
        through: u64,
    },
    DeleteSession {
        token: String,
    },
}

/// Something `--trace` shows that is not a frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    Unhandled { conn: ConnId, event: Event },
    LateAck { conn: ConnId, id: u64 },
    VolatileDropped { conn: ConnId, name: String },
}

/// Counters for benchmarks and the curious.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub volatile_dropped: u64,
    pub default_lost_while_away: u64,
    pub unhandled: u64,
    pub duplicates_ignored: u64,
    pub replayed: u64,
    /// Emits refused because their frame would be longer than `max_frame_bytes`.
    pub oversize_refused: u64,
    /// Reliable log entries dropped before confirmation by a bound (count, bytes or total).
    pub log_evicted: u64,
}

/// What the transport should do for one connection next: frames from
/// [`Core::poll_transmit`], or [`Outgoing`]s from [`Core::poll_outgoing`].
#[derive(Debug, Default)]
pub struct Transmit<F = Arc<Frame>> {
    pub frames: Vec<F>,
    /// Close the connection after writing `frames`.
    pub close: bool,
    /// Why, when the core decided to close (for traces and logs).
    pub reason: Option<String>,
}

/// A frame as it waits in a send queue. A reliable event is queued as the one frame every
/// recipient of the broadcast shares (without a seq), with this recipient's seq beside it: a
/// broadcast to a thousand sockets then copies no arguments, and a transport that writes the
/// seq itself ([`Core::poll_outgoing`]) never needs a frame of its own per recipient.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub frame: Arc<Frame>,
    /// The recipient's seq of a reliable event (`frame` is then an event without one).
    pub seq: Option<u64>,
}

impl Outgoing {
    /// The frame exactly as the client gets it: with its seq, if it has one.
    pub fn to_frame(&self) -> Arc<Frame> {
        match (&*self.frame, self.seq) {
            (
                Frame::Event {
                    ns,
                    name,
                    args,
                    ack,
                    ..
                },
                Some(seq),
            ) => Arc::new(Frame::Event {
                ns: ns.clone(),
                name: name.clone(),
                args: args.clone(),
                ack: *ack,
                seq: Some(seq),
            }),
            _ => self.frame.clone(),
        }
    }
}

impl From<Arc<Frame>> for Outgoing {
    fn from(frame: Arc<Frame>) -> Outgoing {
        Outgoing { frame, seq: None }
    }
}

struct PendingAck {
    deadline: Instant,
    callback: AckCallback,
}

struct Conn {
    /// Frames waiting for the transport, each with the bytes it counts.
    queue: VecDeque<(Outgoing, usize)>,
    queued_bytes: usize,
    /// Condemned by backpressure during this step (closed at its end): queue nothing more.
    doomed: bool,
    /// True while the transport has been told there is output and has not taken it yet.
    dirty: bool,
    /// Set once the connection is being closed; the reason given to the application.
    closing: Option<String>,
    /// namespace -> sid of this connection's socket in it.
    sockets: HashMap<String, String>,
    next_ping: Instant,
    pong_deadline: Option<Instant>,
    last_client_ack: Option<u64>,
    next_ack_id: u64,
    pending_acks: BTreeMap<u64, PendingAck>,
}

/// Per-namespace membership: all sockets, and rooms of sockets.
#[derive(Default)]
struct NsState {
    members: HashSet<String>,
    rooms: HashMap<String, HashSet<String>>,
}

/// The whole server state. See the module docs.
pub struct Core {
    config: Config,
    namespaces: HashMap<String, Namespace>,
    ns_state: HashMap<String, NsState>,
    conns: HashMap<ConnId, Conn>,
    next_conn: ConnId,
    sockets: HashMap<String, Socket>,
    tokens: HashMap<String, String>,
    rng: StdRng,
    wake: Vec<ConnId>,
    store_ops: Vec<StoreOp>,
    /// Whether anything reads the store ops (see [`Core::set_persist`]).
    persist: bool,
    notes: Vec<Note>,
    to_close: Vec<(ConnId, String)>,
    stats: Stats,
    /// Bytes in every send queue together.
    queued_total: usize,
    /// Bytes in every reliable log together.
    logged_total: usize,
    /// The first emit refused for its size since the current event's handler started (see
    /// `dispatch`): the event's sender is told about it.
    refused_emit: Option<EmitError>,
}

impl Core {
    pub fn new(config: Config) -> Self {
        let mut core = Core {
            rng: StdRng::seed_from_u64(config.seed),
            config,
            namespaces: HashMap::new(),
            ns_state: HashMap::new(),
            conns: HashMap::new(),
            next_conn: 1,
            sockets: HashMap::new(),
            tokens: HashMap::new(),
            wake: Vec::new(),
            store_ops: Vec::new(),
            persist: true,
            notes: Vec::new(),
            to_close: Vec::new(),
            stats: Stats::default(),
            queued_total: 0,
            logged_total: 0,
            refused_emit: None,
        };
        // The main namespace always exists, as in socket.io.
        core.namespace("/");
        core
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Whether namespace `ns` is registered (a transport may answer an unknown one its own way).
    pub fn has_namespace(&self, ns: &str) -> bool {
        self.namespaces.contains_key(ns)
    }

    /// Register (or get) a namespace to add middleware and handlers to.
    pub fn namespace(&mut self, ns: &str) -> &mut Namespace {
        self.ns_state.entry(ns.to_string()).or_default();
        self.namespaces.entry(ns.to_string()).or_default()
    }

    /// Bring back sessions a store kept (before any connection opens). Their logs' age clocks
    /// restart now: wall time across a restart is not trusted.
    pub fn restore(&mut self, sessions: Vec<(SessionRecord, Vec<LogRecord>)>, now: Instant) {
        for (mut rec, log) in sessions {
            if !self.namespaces.contains_key(&rec.ns) {
                continue;
            }
            rec.next_seq = rec.next_seq.max(log.last().map_or(0, |r| r.seq));
            let mut s = Socket::new(rec, Value::Null);
            for r in log {
                let bytes = session::entry_bytes(&s.rec.ns, &r);
                if bytes > self.config.max_frame_bytes {
                    // Kept by an older server or under a larger limit: no client would accept it
                    // now, so replaying it would fail every resume. It is lost, and said so.
                    tracing::warn!(
                        seq = r.seq,
                        bytes,
                        "a stored event is over max_frame_bytes; dropping it"
                    );
                    s.rec.lost_through = s.rec.lost_through.max(r.seq);
                    continue;
                }
                let event = Arc::new(Frame::event(&s.rec.ns, &r.name, r.args));
                s.push(r.seq, event, now, bytes);
            }
            self.logged_total += s.log_bytes;
            s.detached_at = Some(now);
            self.index_socket(&s);
            self.tokens.insert(s.rec.token.clone(), s.rec.sid.clone());
            self.sockets.insert(s.rec.sid.clone(), s);
        }
    }

    // ----- transport side -----------------------------------------------------------------

    /// A transport connection opened: queue `hello`, start the heartbeat clock.
    pub fn open(&mut self, now: Instant) -> ConnId {
        let id = self.next_conn;
        self.next_conn += 1;
        self.conns.insert(
            id,
            Conn {
                queue: VecDeque::new(),
                queued_bytes: 0,
                doomed: false,
                dirty: false,
                closing: None,
                sockets: HashMap::new(),
                // The first ping goes out after one interval, not at once.
                next_ping: now + self.config.ping_interval,
                pong_deadline: None,
                last_client_ack: None,
                next_ack_id: 1,
                pending_acks: BTreeMap::new(),
            },
        );
        let hello = Frame::Hello {
            version: PROTOCOL_VERSION,
            ping_interval_ms: self.config.ping_interval.as_millis() as u64,
            ping_timeout_ms: self.config.ping_timeout.as_millis() as u64,
            max_frame_bytes: self.config.max_frame_bytes,
        };
        self.enqueue(id, Arc::new(hello), false);
        id
    }

    /// One decoded frame from the client.
    pub fn receive(&mut self, conn: ConnId, frame: Frame, now: Instant) {
        if self.conns.get(&conn).is_none_or(|c| c.closing.is_some()) {
            return;
        }
        match frame {
            Frame::Connect { ns, auth, resume } => self.on_connect(conn, ns, auth, resume, now),
            Frame::Event {
                ns,
                name,
                args,
                ack,
                seq,
            } => self.on_event(
                conn,
                Event {
                    ns,
                    name,
                    args,
                    ack,
                    seq,
                },
                now,
            ),
            Frame::Ack { ns, id, args } => self.on_ack(conn, &ns, id, args),
            Frame::Received { ns, seq } => self.on_received(conn, &ns, seq),
            Frame::Disconnect { ns, .. } => self.on_client_disconnect(conn, &ns, now),
            Frame::Pong => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.pong_deadline = None;
                }
            }
            Frame::Ping => self.enqueue(conn, Arc::new(Frame::Pong), false),
            other => {
                let msg = format!("a client may not send {:?} frames", other.kind());
                self.protocol_error(conn, "unexpected_frame", &msg, now);
            }
        }
        self.finish(now);
    }

    /// The transport could not decode what the client sent.
    pub fn decode_error(&mut self, conn: ConnId, err: &FrameError, now: Instant) {
        self.protocol_error(conn, err.code(), &err.to_string(), now);
        self.finish(now);
    }

    /// Send an `error` frame, then close the connection (the rule for every protocol error).
    pub fn protocol_error(&mut self, conn: ConnId, code: &str, message: &str, now: Instant) {
        tracing::info!(
            conn,
            code,
            message,
            "protocol error; closing the connection"
        );
        let f = Frame::Error {
            code: code.to_string(),
            message: message.to_string(),
        };
        self.enqueue(conn, Arc::new(f), false);
        self.close_conn(conn, &format!("protocol error: {code}"), now);
    }

    /// The transport is gone (end of stream, reset, or after the close we asked for).
    pub fn closed(&mut self, conn: ConnId, reason: &str, now: Instant) {
        self.close_conn(conn, reason, now);
        self.finish(now);
        if let Some(c) = self.conns.remove(&conn) {
            self.queued_total -= c.queued_bytes;
        }
    }

    /// Frames to write for `conn` (at most `max`), and whether to close afterwards.
    pub fn poll_transmit(&mut self, conn: ConnId, max: usize) -> Transmit {
        let t = self.poll_outgoing(conn, max);
        Transmit {
            frames: t.frames.iter().map(Outgoing::to_frame).collect(),
            close: t.close,
            reason: t.reason,
        }
    }

    /// As [`Core::poll_transmit`], with each frame as it was queued: a transport that writes a
    /// reliable event's seq itself takes the broadcast's shared frame (see [`Outgoing`]).
    pub fn poll_outgoing(&mut self, conn: ConnId, max: usize) -> Transmit<Outgoing> {
        let Some(c) = self.conns.get_mut(&conn) else {
            return Transmit {
                frames: Vec::new(),
                close: true,
                reason: None,
            };
        };
        let n = c.queue.len().min(max);
        let mut frames = Vec::with_capacity(n);
        for (f, bytes) in c.queue.drain(..n) {
            c.queued_bytes -= bytes;
            self.queued_total -= bytes;
            frames.push(f);
        }
        c.dirty = !c.queue.is_empty();
        let close = c.queue.is_empty() && c.closing.is_some();
        Transmit {
            frames,
            close,
            reason: c.closing.clone().filter(|_| close),
        }
    }

    /// When this connection next needs [`Core::handle_timeout`] (heartbeat or ack timeout).
    pub fn next_deadline(&self, conn: ConnId) -> Option<Instant> {
        let c = self.conns.get(&conn)?;
        if c.closing.is_some() {
            return None;
        }
        let ack = c.pending_acks.values().map(|p| p.deadline).min();
        [Some(c.next_ping), c.pong_deadline, ack]
            .into_iter()
            .flatten()
            .min()
    }

    /// Run the timers of `conn` that are due: ping, pong timeout, ack timeouts.
    pub fn handle_timeout(&mut self, conn: ConnId, now: Instant) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.closing.is_some() {
            return;
        }
        if c.pong_deadline.is_some_and(|d| now >= d) {
            self.close_conn(conn, "ping timeout", now);
            self.finish(now);
            return;
        }
        let mut ping = false;
        if now >= c.next_ping {
            c.next_ping = now + self.config.ping_interval;
            if c.pong_deadline.is_none() {
                c.pong_deadline = Some(now + self.config.ping_timeout);
                ping = true;
            }
        }
        let due: Vec<u64> = c
            .pending_acks
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        let expired: Vec<_> = due
            .into_iter()
            .filter_map(|id| c.pending_acks.remove(&id))
            .collect();
        if ping {
            self.enqueue(conn, Arc::new(Frame::Ping), false);
        }
        for p in expired {
            run_ack_callback(p.callback, Err(AckError::Timeout));
        }
        self.finish(now);
    }

    /// Periodic upkeep: apply the log age bound and forget sessions detached for too long.
    pub fn sweep(&mut self, now: Instant) {
        let max_age = self.config.log_max_age;
        let mut gone = Vec::new();
        for s in self.sockets.values_mut() {
            let before = s.log_bytes;
            let lost = s.expire(now, max_age);
            self.logged_total = self.logged_total + s.log_bytes - before;
            if lost {
                self.store_ops.push(StoreOp::PutSession(s.rec.clone()));
                self.store_ops.push(StoreOp::Forget {
                    token: s.rec.token.clone(),
                    through: s.rec.lost_through,
                });
            }
            if s.detached_at
                .is_some_and(|t| now.saturating_duration_since(t) > max_age)
            {
                gone.push(s.rec.sid.clone());
            }
        }
        for sid in gone {
            self.remove_socket(&sid);
        }
    }

    /// Close every connection, telling each socket why; sessions stay resumable (and in the
    /// store), so clients that come back to a restarted server recover.
    pub fn shutdown(&mut self, reason: &str, now: Instant) {
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            let nss: Vec<String> = self
                .conns
                .get(&conn)
                .map(|c| c.sockets.keys().cloned().collect())
                .unwrap_or_default();
            for ns in nss {
                let f = Frame::Disconnect {
                    ns,
                    reason: Some(reason.to_string()),
                };
                self.enqueue(conn, Arc::new(f), false);
            }
            self.close_conn(conn, reason, now);
        }
        self.finish(now);
    }

    /// The server can no longer keep its delivery promise (its store failed): drop every frame
    /// no transport has taken yet, except `error` frames, and close each open connection with an
    /// `error` frame. Calling it again also closes connections opened since.
    pub fn abort(&mut self, code: &str, message: &str, now: Instant) {
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            // A connection handled earlier in this loop is closing, so a disconnect hook of a
            // later one cannot queue anything but an error frame on it.
            let Some(c) = self.conns.get_mut(&conn) else {
                continue;
            };
            c.queue
                .retain(|(o, _)| matches!(*o.frame, Frame::Error { .. }));
            let kept: usize = c.queue.iter().map(|(_, b)| b).sum();
            self.queued_total -= c.queued_bytes - kept;
            c.queued_bytes = kept;
            if c.closing.is_none() {
                let f = Frame::Error {
                    code: code.to_string(),
                    message: message.to_string(),
                };
                self.enqueue(conn, Arc::new(f), false);
                self.close_conn(conn, &format!("server error: {code}"), now);
            }
        }
        self.finish(now);
    }

    /// Connections with output (or a close) waiting since the last call.
    pub fn take_wakeups(&mut self) -> Vec<ConnId> {
        std::mem::take(&mut self.wake)
    }

    /// Say whether anything reads [`Core::take_store_ops`] (yes by default). A hub without a
    /// store says no: a reliable event's `Append`, a copy of the event for each recipient, is
    /// then not built. The other ops are few and still recorded.
    pub fn set_persist(&mut self, persist: bool) {
        self.persist = persist;
    }

    /// Changes to persist, in order, before the frames queued with them are written.
    pub fn take_store_ops(&mut self) -> Vec<StoreOp> {
        std::mem::take(&mut self.store_ops)
    }

    /// Trace notes (only collected with [`Config::trace`]).
    pub fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    /// Number of open connections.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Bytes held now: (in every send queue, in every reliable log). Both are bounded by
    /// [`Config::total_queue_bytes`] and [`Config::total_log_bytes`].
    pub fn held_bytes(&self) -> (usize, usize) {
        (self.queued_total, self.logged_total)
    }

    /// Frames waiting in `conn`'s send queue (a transport reads no more input from a client
    /// while its own queue is past half full: see server.rs).
    pub fn backlog(&self, conn: ConnId) -> usize {
        self.conns.get(&conn).map_or(0, |c| c.queue.len())
    }

    // ----- application side -----------------------------------------------------------------

    /// Everyone in namespace `ns` (narrow it with `to`, `except`).
    pub fn of(&mut self, ns: &str, now: Instant) -> Broadcast<'_> {
        Broadcast::new(self, ns, None, now)
    }

    /// Emit to one socket; returns false if there is no such socket.
    pub fn emit_to(
        &mut self,
        sid: &str,
        delivery: Delivery,
        name: &str,
        args: Vec<Value>,
        now: Instant,
    ) -> bool {
        let ok =
            self.sockets.contains_key(sid) && self.deliver(sid, delivery, name, &args, now).is_ok();
        self.finish(now);
        ok
    }

    /// Emit to one connected socket and call `callback` with its ack, or with a timeout or
    /// disconnect error: the callback always runs exactly once.
    pub fn emit_with_ack(
        &mut self,
        sid: &str,
        name: &str,
        args: Vec<Value>,
        timeout: Duration,
        now: Instant,
        callback: AckCallback,
    ) {
        let target = self
            .sockets
            .get(sid)
            .and_then(|s| s.conn.map(|c| (c, s.rec.ns.clone())));
        let Some((conn, ns)) = target else {
            callback(Err(AckError::Disconnected));
            return;
        };
        if !self.conns.contains_key(&conn) {
            callback(Err(AckError::Disconnected));
            return;
        }
        let Ok(bytes) = self.check_size(&ns, name, &args, Some(u64::MAX)) else {
            callback(Err(AckError::TooLarge));
            return;
        };
        let Some(c) = self.conns.get_mut(&conn) else {
            callback(Err(AckError::Disconnected));
            return;
        };
        let id = c.next_ack_id;
        c.next_ack_id += 1;
        c.pending_acks.insert(
            id,
            PendingAck {
                deadline: now + timeout,
                callback,
            },
        );
        let f = Frame::Event {
            ns,
            name: name.to_string(),
            args,
            ack: Some(id),
            seq: None,
        };
        self.enqueue_sized(conn, Arc::new(f).into(), bytes, false);
        self.finish(now);
    }

    /// Remove a socket from its namespace (server-side disconnect); the client is told.
    pub fn disconnect_socket(&mut self, sid: &str, reason: &str, now: Instant) {
        let Some((conn, ns)) = self.socket_conn_and_ns(sid) else {
            return;
        };
        if let Some(conn) = conn {
            let f = Frame::Disconnect {
                ns: ns.clone(),
                reason: Some(reason.to_string()),
            };
            self.enqueue(conn, Arc::new(f), false);
            if let Some(c) = self.conns.get_mut(&conn) {
                c.sockets.remove(&ns);
            }
        }
        self.run_disconnect_hooks(sid, reason, now);
        self.remove_socket(sid);
        self.finish(now);
    }

    /// The rooms a socket is in (its own room included).
    pub fn rooms_of(&self, sid: &str) -> Vec<String> {
        self.sockets
            .get(sid)
            .map(|s| s.rec.rooms.iter().cloned().collect())
            .unwrap_or_default()
    }

    // ----- internals ------------------------------------------------------------------------

    fn on_connect(
        &mut self,
        conn: ConnId,
        ns: String,
        auth: Option<Value>,
        resume: Option<Resume>,
        now: Instant,
    ) {
        let Some(namespace) = self.namespaces.get(&ns) else {
            let msg = format!("there is no namespace {ns:?} on this server");
            self.protocol_error(conn, "unknown_namespace", &msg, now);
            return;
        };
        if self.socket_on(conn, &ns).is_some() {
            self.enqueue(
                conn,
                connect_error(&ns, "already connected to this namespace"),
                false,
            );
            return;
        }
        let mut hs = Handshake {
            ns: ns.clone(),
            auth: auth.unwrap_or(Value::Null),
            resuming: resume.is_some(),
            data: Map::new(),
        };
        for mw in namespace.middleware.clone() {
            match contain(|| mw(&mut hs)) {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => {
                    tracing::debug!(conn, ns, reason, "middleware refused the socket");
                    self.enqueue(conn, connect_error(&ns, &reason), false);
                    return;
                }
                Err(panic) => {
                    let frame = format!("connect to {ns:?}");
                    self.app_panicked(conn, "connection middleware", &frame, &panic, now);
                    return;
                }
            }
        }
        let resumed = resume.and_then(|r| self.try_resume(conn, &ns, &r, now));
        let (sid, recovered) = match resumed {
            Some(sid) => (sid, true),
            None => (self.new_socket(conn, &ns, hs, now), false),
        };
        let Some(s) = self.sockets.get(&sid) else {
            self.internal_error(conn, "the new socket vanished during connect", now);
            return;
        };
        let f = Frame::Connected {
            ns: ns.clone(),
            sid: sid.clone(),
            session: s.rec.token.clone(),
            recovered,
        };
        self.enqueue(conn, Arc::new(f), false);
        if recovered {
            self.replay(conn, &sid);
        }
        self.run_connect_hooks(conn, &sid, now);
    }

    fn new_socket(&mut self, conn: ConnId, ns: &str, hs: Handshake, now: Instant) -> String {
        // Ids restored from a store share the space: draw again on the (unlikely) collision.
        let (sid, token) = loop {
            let sid = format!("{:016x}", self.rng.random::<u64>());
            let token = format!(
                "{:016x}{:016x}",
                self.rng.random::<u64>(),
                self.rng.random::<u64>()
            );
            if !self.sockets.contains_key(&sid) && !self.tokens.contains_key(&token) {
                break (sid, token);
            }
        };
        let rec = SessionRecord {
            token: token.clone(),
            sid: sid.clone(),
            ns: ns.to_string(),
            rooms: [sid.clone()].into_iter().collect(),
            data: hs.data,
            next_seq: 0,
            confirmed: 0,
            lost_through: 0,
            client_seq: 0,
        };
        let mut s = Socket::new(rec, hs.auth);
        s.conn = Some(conn);
        let _ = now;
        self.index_socket(&s);
        self.store_ops.push(StoreOp::PutSession(s.rec.clone()));
        self.tokens.insert(token, sid.clone());
        self.sockets.insert(sid.clone(), s);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.sockets.insert(ns.to_string(), sid.clone());
        }
        sid
    }

    /// Reattach a session if its log can bring the client up to date (the rules are in
    /// docs/src/protocol.md, "Resume"). `None` means "start a new session instead".
    ///
    /// A resume never harms a session it cannot take: a token from another namespace, or a `seq`
    /// beyond anything the session numbered (a client cannot have received it), leaves the named
    /// session as it was. Only a detached session whose log has lost events is ended here, since
    /// nobody can ever resume it completely.
    fn try_resume(&mut self, conn: ConnId, ns: &str, r: &Resume, now: Instant) -> Option<String> {
        let sid = self.tokens.get(&r.session)?.clone();
        let max_age = self.config.log_max_age;
        let s = self.sockets.get_mut(&sid)?;
        if s.rec.ns != ns {
            // A token from another namespace: not this session, and not ours to end.
            return None;
        }
        if r.seq > s.rec.next_seq {
            tracing::info!(
                sid,
                seq = r.seq,
                next_seq = s.rec.next_seq,
                "resume names a seq the session never sent; starting a new session"
            );
            return None;
        }
        let before = s.log_bytes;
        s.expire(now, max_age);
        self.logged_total = self.logged_total + s.log_bytes - before;
        let s = self.sockets.get_mut(&sid)?;
        if !s.can_resume_from(r.seq) {
            tracing::debug!(
                sid,
                seq = r.seq,
                "resume impossible; starting a new session"
            );
            if s.conn.is_none() {
                self.remove_socket(&sid);
            }
            return None;
        }
        // A live session is taken over, as socket.io does: the client may know its old connection
        // is dead before the server does. The old connection is told, and keeps its other
        // namespaces.
        if let Some(old) = s.conn.take() {
            self.detach_taken_over(old, ns, &sid);
        }
        let s = self.sockets.get_mut(&sid)?;
        s.conn = Some(conn);
        s.detached_at = None;
        self.with_log(&sid, |s| s.confirm(r.seq));
        let rec = self.sockets.get(&sid)?.rec.clone();
        self.store_ops.push(StoreOp::PutSession(rec.clone()));
        self.store_ops.push(StoreOp::Forget {
            token: rec.token,
            through: rec.confirmed,
        });
        self.conns
            .get_mut(&conn)?
            .sockets
            .insert(ns.to_string(), sid.clone());
        Some(sid)
    }

    /// The old connection of a session that another connection resumed: it leaves the namespace
    /// with a `disconnect` frame saying why, and its pending acks for it fail.
    fn detach_taken_over(&mut self, old: ConnId, ns: &str, sid: &str) {
        let Some(c) = self.conns.get_mut(&old) else {
            return;
        };
        if c.sockets.get(ns).map(String::as_str) == Some(sid) {
            c.sockets.remove(ns);
        }
        tracing::info!(
            conn = old,
            sid,
            "session resumed by another connection; detaching the old one"
        );
        let f = Frame::Disconnect {
            ns: ns.to_string(),
            reason: Some(TAKEN_OVER.to_string()),
        };
        self.enqueue(old, Arc::new(f), false);
    }

    fn replay(&mut self, conn: ConnId, sid: &str) {
        let Some(s) = self.sockets.get(sid) else {
            return;
        };
        let frames: Vec<_> = s
            .log
            .iter()
            .map(|e| {
                let o = Outgoing {
                    frame: e.event.clone(),
                    seq: Some(e.seq),
                };
                (o, e.bytes)
            })
            .collect();
        self.stats.replayed += frames.len() as u64;
        // Past the send queue's bounds on purpose: the log's own bounds limit a replay, and a
        // replay refused for its size would fail again on every resume.
        for (f, bytes) in frames {
            self.push_frame(conn, f, bytes);
        }
    }

    /// The socket `conn` has in `ns`, if both sides agree on it (a connection's map and the
    /// socket's own `conn` are checked together, so a stale entry can never be followed).
    fn socket_on(&self, conn: ConnId, ns: &str) -> Option<String> {
        let sid = self.conns.get(&conn)?.sockets.get(ns)?;
        let s = self.sockets.get(sid)?;
        (s.conn == Some(conn)).then(|| sid.clone())
    }

    fn on_event(&mut self, conn: ConnId, ev: Event, now: Instant) {
        let Some(sid) = self.socket_on(conn, &ev.ns) else {
            let msg = format!(
                "event {:?} before connect: send {{\"type\":\"connect\",\"ns\":{:?}}} first",
                ev.name, ev.ns
            );
            self.protocol_error(conn, "not_connected", &msg, now);
            return;
        };
        if let Some(id) = ev.ack {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            if c.last_client_ack.is_some_and(|last| id <= last) {
                let msg =
                    format!("ack id {id} is not greater than the previous one; ack ids increase");
                self.protocol_error(conn, "bad_ack_id", &msg, now);
                return;
            }
            c.last_client_ack = Some(id);
        }
        if let Some(seq) = ev.seq {
            let Some(s) = self.sockets.get_mut(&sid) else {
                self.internal_error(conn, "the socket vanished while an event arrived", now);
                return;
            };
            if seq <= s.rec.client_seq {
                // A retry of an event already handled: confirm again, do not run the handler.
                self.stats.duplicates_ignored += 1;
                let f = Frame::Received {
                    ns: ev.ns.clone(),
                    seq: s.rec.client_seq,
                };
                self.enqueue(conn, Arc::new(f), false);
                return;
            }
            s.rec.client_seq = seq;
            self.store_ops.push(StoreOp::PutSession(s.rec.clone()));
        }
        self.dispatch(conn, &sid, &ev, now);
        if let Some(seq) = ev.seq {
            self.enqueue(conn, Arc::new(Frame::Received { ns: ev.ns, seq }), false);
        }
    }

    fn dispatch(&mut self, conn: ConnId, sid: &str, ev: &Event, now: Instant) {
        let (Some(ns), Some(s)) = (self.namespaces.get(&ev.ns), self.sockets.get(sid)) else {
            self.internal_error(conn, "the socket vanished while an event arrived", now);
            return;
        };
        let named = s
            .handlers
            .get(&ev.name)
            .or_else(|| ns.handlers.get(&ev.name))
            .cloned();
        let any = ns.catch_all.clone();
        if named.is_none() && any.is_none() {
            self.stats.unhandled += 1;
            tracing::debug!(
                conn,
                ns = ev.ns,
                name = ev.name,
                "no handler: event dropped"
            );
            if self.config.trace {
                self.notes.push(Note::Unhandled {
                    conn,
                    event: ev.clone(),
                });
            }
            return;
        }
        self.refused_emit = None;
        let mut ctx = Ctx::new(self, sid, ev.ack, now);
        let ran = contain(|| {
            if let Some(h) = named {
                h(&mut ctx, ev);
            }
            if let Some(h) = any {
                h(&mut ctx, ev);
            }
        });
        let answered = ev.ack.is_some() && !ctx.ack_pending();
        let refused = self.refused_emit.take();
        match (ran, refused) {
            (Err(panic), _) => {
                let frame = event_frame(ev);
                self.app_panicked(
                    conn,
                    &format!("the {:?} event handler", ev.name),
                    &frame,
                    &panic,
                    now,
                );
            }
            // The handler answered the sender's ack: that answer is the handler's word on it.
            (Ok(()), Some(err)) if !answered => self.refuse_event(conn, ev, &err),
            _ => {}
        }
    }

    /// Tell the sender of `ev` that an emit its handler made was refused (the handler did not
    /// answer it otherwise), with a `refused` frame: unlike `error`, it does not close the
    /// connection. Without it a sender that asked for no ack would never learn that its event
    /// went nowhere.
    fn refuse_event(&mut self, conn: ConnId, ev: &Event, err: &EmitError) {
        // The name is the client's own text: cut very long ones so the notice itself fits.
        let name: String = ev.name.chars().take(REFUSED_NAME_CHARS).collect();
        let f = Frame::Refused {
            ns: ev.ns.clone(),
            message: format!("your {name:?} event was not carried out: {err}"),
            name,
            code: err.code().to_string(),
        };
        let bytes = wire_len(&f);
        if bytes > self.config.max_frame_bytes {
            tracing::warn!(
                conn,
                bytes,
                "a refused frame is itself over max_frame_bytes; not sent"
            );
            return;
        }
        self.enqueue_sized(conn, Arc::new(f).into(), bytes, false);
    }

    fn on_ack(&mut self, conn: ConnId, ns: &str, id: u64, args: Vec<Value>) {
        let pending = self
            .conns
            .get_mut(&conn)
            .and_then(|c| c.pending_acks.remove(&id));
        match pending {
            Some(p) => run_ack_callback(p.callback, Ok(args)),
            None => {
                tracing::debug!(conn, ns, id, "late or unknown ack ignored");
                if self.config.trace {
                    self.notes.push(Note::LateAck { conn, id });
                }
            }
        }
    }

    fn on_received(&mut self, conn: ConnId, ns: &str, seq: u64) {
        let Some(sid) = self.socket_on(conn, ns) else {
            return;
        };
        if self.with_log(&sid, |s| s.confirm(seq)) == Some(true)
            && let Some(s) = self.sockets.get(&sid)
        {
            self.store_ops.push(StoreOp::PutSession(s.rec.clone()));
            self.store_ops.push(StoreOp::Forget {
                token: s.rec.token.clone(),
                through: s.rec.confirmed,
            });
        }
    }

    fn on_client_disconnect(&mut self, conn: ConnId, ns: &str, now: Instant) {
        let Some(sid) = self.socket_on(conn, ns) else {
            return;
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.sockets.remove(ns);
        }
        self.run_disconnect_hooks(&sid, "client namespace disconnect", now);
        // Leaving on purpose ends the session: nothing to resume.
        self.remove_socket(&sid);
    }

    /// Close a connection: its sockets are detached (kept for resume), pending acks fail.
    fn close_conn(&mut self, conn: ConnId, reason: &str, now: Instant) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.closing.is_some() {
            return;
        }
        c.closing = Some(reason.to_string());
        if !c.dirty {
            c.dirty = true;
            self.wake.push(conn);
        }
        let sockets: Vec<String> = c.sockets.drain().map(|(_, sid)| sid).collect();
        let acks = std::mem::take(&mut c.pending_acks);
        for sid in sockets {
            match self.sockets.get_mut(&sid) {
                Some(s) if s.conn == Some(conn) => {
                    s.conn = None;
                    s.detached_at = Some(now);
                }
                // Taken over by another connection meanwhile: not ours to detach.
                _ => continue,
            }
            self.run_disconnect_hooks(&sid, reason, now);
        }
        for (_, p) in acks {
            run_ack_callback(p.callback, Err(AckError::Disconnected));
        }
    }

    /// Close connections that backpressure condemned while a step ran (not re-entrantly).
    pub(crate) fn finish(&mut self, now: Instant) {
        while let Some((conn, reason)) = self.to_close.pop() {
            self.close_conn(conn, &reason, now);
        }
    }

    fn run_connect_hooks(&mut self, conn: ConnId, sid: &str, now: Instant) {
        let Some(hooks) = self.hooks_of(sid, |n| n.on_connect.clone()) else {
            return;
        };
        for hook in hooks {
            if let Err(panic) = contain(|| hook(&mut Ctx::new(self, sid, None, now))) {
                let what = "a connection hook";
                self.app_panicked(conn, what, "(connect)", &panic, now);
                return;
            }
        }
    }

    fn run_disconnect_hooks(&mut self, sid: &str, reason: &str, now: Instant) {
        let Some(hooks) = self.hooks_of(sid, |n| n.on_disconnect.clone()) else {
            return;
        };
        for hook in hooks {
            if let Err(panic) = contain(|| hook(&mut Ctx::new(self, sid, None, now), reason)) {
                // The connection is already going: log, and run the other hooks.
                tracing::error!(sid, reason, "a disconnect hook panicked: {panic}");
            }
        }
    }

    /// Some hooks of the namespace of socket `sid` (none if either is gone).
    fn hooks_of<T>(&self, sid: &str, pick: impl Fn(&Namespace) -> Vec<T>) -> Option<Vec<T>> {
        let ns = &self.sockets.get(sid)?.rec.ns;
        self.namespaces.get(ns).map(pick)
    }

    /// Application code panicked while handling `frame` from `conn`: log it with the frame, and
    /// close that connection with an error frame. Everyone else carries on (see [`contain`]).
    fn app_panicked(&mut self, conn: ConnId, what: &str, frame: &str, panic: &str, now: Instant) {
        tracing::error!(
            conn,
            frame,
            "{what} panicked: {panic}; closing the connection"
        );
        let msg = format!(
            "the server failed while handling your frame ({what} panicked); this is a server bug, not a mistake in the frame. Reconnect to carry on"
        );
        self.protocol_error(conn, "internal_error", &msg, now);
    }

    /// The core found its own state inconsistent: a bug, handled as a refusal of this
    /// connection instead of a panic that would kill its reader.
    fn internal_error(&mut self, conn: ConnId, what: &str, now: Instant) {
        tracing::error!(conn, "internal error: {what}");
        let msg = format!("the server hit an internal error ({what}); reconnect to carry on");
        self.protocol_error(conn, "internal_error", &msg, now);
    }

    fn index_socket(&mut self, s: &Socket) {
        let st = self.ns_state.entry(s.rec.ns.clone()).or_default();
        st.members.insert(s.rec.sid.clone());
        for room in &s.rec.rooms {
            st.rooms
                .entry(room.clone())
                .or_default()
                .insert(s.rec.sid.clone());
        }
    }

    fn remove_socket(&mut self, sid: &str) {
        let Some(s) = self.sockets.remove(sid) else {
            return;
        };
        self.logged_total -= s.log_bytes;
        // The connection must not keep pointing at a socket that is gone.
        if let Some(c) = s.conn.and_then(|conn| self.conns.get_mut(&conn))
            && c.sockets.get(&s.rec.ns).map(String::as_str) == Some(sid)
        {
            c.sockets.remove(&s.rec.ns);
        }
        self.tokens.remove(&s.rec.token);
        if let Some(st) = self.ns_state.get_mut(&s.rec.ns) {
            st.members.remove(sid);
            for room in &s.rec.rooms {
                if let Some(set) = st.rooms.get_mut(room) {
                    set.remove(sid);
                    if set.is_empty() {
                        st.rooms.remove(room);
                    }
                }
            }
        }
        self.store_ops
            .push(StoreOp::DeleteSession { token: s.rec.token });
    }

    /// Put socket `sid` in `room`. False if it is not in it afterwards: the socket is gone, or
    /// already in [`Config::max_rooms_per_socket`] rooms (the limit keeps a join cheap: each one
    /// writes the session's room list to the store).
    pub(crate) fn join(&mut self, sid: &str, room: &str) -> bool {
        let max = self.config.max_rooms_per_socket;
        let Some(s) = self.sockets.get_mut(sid) else {
            return false;
        };
        if s.rec.rooms.contains(room) {
            return true;
        }
        if s.rec.rooms.len() >= max {
            return false;
        }
        if s.rec.rooms.insert(room.to_string()) {
            let st = self.ns_state.entry(s.rec.ns.clone()).or_default();
            st.rooms
                .entry(room.to_string())
                .or_default()
                .insert(sid.to_string());
            self.store_ops.push(StoreOp::PutSession(s.rec.clone()));
        }
        true
    }

    /// Is socket `sid` in `room`?
    pub(crate) fn in_room(&self, sid: &str, room: &str) -> bool {
        self.sockets
            .get(sid)
            .is_some_and(|s| s.rec.rooms.contains(room))
    }

    pub(crate) fn leave(&mut self, sid: &str, room: &str) {
        let Some(s) = self.sockets.get_mut(sid) else {
            return;
        };
        if s.rec.rooms.remove(room) {
            if let Some(st) = self.ns_state.get_mut(&s.rec.ns)
                && let Some(set) = st.rooms.get_mut(room)
            {
                set.remove(sid);
                if set.is_empty() {
                    st.rooms.remove(room);
                }
            }
            self.store_ops.push(StoreOp::PutSession(s.rec.clone()));
        }
    }

    /// The sids a broadcast reaches: in any of `rooms` (or the whole namespace), minus `except`.
    pub(crate) fn targets(
        &self,
        ns: &str,
        rooms: &[String],
        except_rooms: &[String],
        except_sid: Option<&str>,
    ) -> Vec<String> {
        let Some(st) = self.ns_state.get(ns) else {
            return Vec::new();
        };
        let mut out: HashSet<&String> = if rooms.is_empty() {
            st.members.iter().collect()
        } else {
            rooms
                .iter()
                .filter_map(|r| st.rooms.get(r))
                .flatten()
                .collect()
        };
        for r in except_rooms {
            if let Some(set) = st.rooms.get(r) {
                out.retain(|sid| !set.contains(*sid));
            }
        }
        if let Some(me) = except_sid {
            out.retain(|sid| sid.as_str() != me);
        }
        let mut v: Vec<String> = out.into_iter().cloned().collect();
        v.sort_unstable();
        v
    }

    /// Deliver one event to one socket according to `delivery`; refused (and logged) if its
    /// frame would be too long for the client.
    pub(crate) fn deliver(
        &mut self,
        sid: &str,
        delivery: Delivery,
        name: &str,
        args: &[Value],
        now: Instant,
    ) -> Result<(), EmitError> {
        let Some(ns) = self.sockets.get(sid).map(|s| s.rec.ns.clone()) else {
            return Ok(());
        };
        let bytes = self.check_size(&ns, name, args, None)?;
        self.deliver_shared(sid, delivery, name, args, None, bytes, now);
        Ok(())
    }

    /// The size an event will have on the wire (with the largest seq, so one figure serves a
    /// whole broadcast), or the refusal if it is over `max_frame_bytes`: every client refuses
    /// a longer line, so sending (or logging) it would only make it fail again on every resume.
    pub(crate) fn check_size(
        &mut self,
        ns: &str,
        name: &str,
        args: &[Value],
        ack: Option<u64>,
    ) -> Result<usize, EmitError> {
        let bytes = wire_len(&EventView {
            kind: "event",
            ns,
            name,
            args,
            ack,
            seq: u64::MAX,
        });
        let max = self.config.max_frame_bytes;
        if bytes > max {
            self.stats.oversize_refused += 1;
            tracing::info!(ns, name, bytes, max, "emit refused: over max_frame_bytes");
            let err = EmitError::TooLarge { bytes, max };
            self.refused_emit.get_or_insert(err);
            return Err(err);
        }
        Ok(bytes)
    }

    /// As `deliver`, reusing one frame for every non-reliable recipient of a broadcast, whose
    /// size (`bytes`, from [`Core::check_size`]) is already known to fit.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn deliver_shared(
        &mut self,
        sid: &str,
        delivery: Delivery,
        name: &str,
        args: &[Value],
        shared: Option<&Arc<Frame>>,
        bytes: usize,
        now: Instant,
    ) {
        let (max_len, max_bytes) = (
            self.config.log_max_len,
            self.config.log_max_bytes.max(self.config.max_frame_bytes),
        );
        let Some(s) = self.sockets.get_mut(sid) else {
            return;
        };
        let conn = s.conn;
        // The event without a seq: the broadcast's, shared by every recipient, or its own.
        let event = match shared {
            Some(f) => f.clone(),
            None => Arc::new(Frame::event(&s.rec.ns, name, args.to_vec())),
        };
        let out = if delivery == Delivery::Reliable {
            let before = (s.rec.lost_through, s.log_bytes, s.log.len());
            let seq = s.append(&event, now, bytes, max_len, max_bytes);
            if self.persist {
                let entry = LogRecord {
                    seq,
                    name: name.to_string(),
                    args: args.to_vec(),
                };
                self.store_ops.push(StoreOp::Append {
                    token: s.rec.token.clone(),
                    entry,
                });
            }
            self.logged_total = self.logged_total + s.log_bytes - before.1;
            self.stats.log_evicted += (before.2 + 1 - s.log.len()) as u64;
            if s.rec.lost_through != before.0 {
                self.store_ops.push(StoreOp::PutSession(s.rec.clone()));
                self.store_ops.push(StoreOp::Forget {
                    token: s.rec.token.clone(),
                    through: s.rec.lost_through,
                });
            }
            self.bound_logs();
            Outgoing {
                frame: event,
                seq: Some(seq),
            }
        } else {
            Outgoing::from(event)
        };
        match conn {
            Some(conn) => self.enqueue_sized(conn, out, bytes, delivery == Delivery::Volatile),
            None if delivery == Delivery::Default => self.stats.default_lost_while_away += 1,
            None => {}
        }
    }

    /// Keep all logs together within [`Config::total_log_bytes`]: the largest log gives up its
    /// oldest entries first (its owner is the one who is away longest or reads least).
    fn bound_logs(&mut self) {
        while self.logged_total > self.config.total_log_bytes {
            let Some(s) = self.sockets.values_mut().max_by_key(|s| s.log_bytes) else {
                return;
            };
            let before = s.log_bytes;
            if !s.drop_oldest() {
                return;
            }
            self.stats.log_evicted += 1;
            self.logged_total -= before - s.log_bytes;
            self.store_ops.push(StoreOp::PutSession(s.rec.clone()));
            self.store_ops.push(StoreOp::Forget {
                token: s.rec.token.clone(),
                through: s.rec.lost_through.max(s.rec.confirmed),
            });
        }
    }

    /// Apply `f` to a socket's log (confirm, expire) and keep the byte total right.
    fn with_log<R>(&mut self, sid: &str, f: impl FnOnce(&mut Socket) -> R) -> Option<R> {
        let s = self.sockets.get_mut(sid)?;
        let before = s.log_bytes;
        let r = f(s);
        self.logged_total = self.logged_total + s.log_bytes - before;
        Some(r)
    }

    /// Queue a frame for a connection, applying the backpressure policy (module docs).
    fn enqueue(&mut self, conn: ConnId, frame: Arc<Frame>, volatile: bool) {
        let bytes = wire_len(&*frame);
        self.enqueue_sized(conn, frame.into(), bytes, volatile);
    }

    /// As `enqueue`, for a frame whose size is known.
    fn enqueue_sized(&mut self, conn: ConnId, out: Outgoing, bytes: usize, volatile: bool) {
        let cap = self.config.send_queue.max(2);
        let cap_bytes = self
            .config
            .send_queue_bytes
            .max(self.config.max_frame_bytes);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let is_error = matches!(*out.frame, Frame::Error { .. });
        if (c.closing.is_some() || c.doomed) && !is_error {
            return;
        }
        if volatile && (c.queue.len() >= cap / 2 || c.queued_bytes >= cap_bytes / 2) {
            self.stats.volatile_dropped += 1;
            if self.config.trace
                && let Frame::Event { name, .. } = &*out.frame
            {
                self.notes.push(Note::VolatileDropped {
                    conn,
                    name: name.clone(),
                });
            }
            return;
        }
        if !is_error && (c.queue.len() >= cap || c.queued_bytes + bytes > cap_bytes) {
            let why = format!(
                "your send queue is full ({} frames, {} bytes waiting): this connection was sent frames faster than it read them",
                c.queue.len(),
                c.queued_bytes
            );
            self.condemn(conn, &why);
            return;
        }
        self.push_frame(conn, out, bytes);
        if self.queued_total > self.config.total_queue_bytes
            && let Some((&worst, _)) = self.conns.iter().max_by_key(|(_, c)| c.queued_bytes)
        {
            let why = "the server's send queues are full, and this connection has the most waiting; read faster";
            self.condemn(worst, why);
        }
    }

    /// Append to `conn`'s queue, count its bytes, and wake its writer.
    fn push_frame(&mut self, conn: ConnId, out: Outgoing, bytes: usize) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.queue.push_back((out, bytes));
        c.queued_bytes += bytes;
        self.queued_total += bytes;
        if !c.dirty {
            c.dirty = true;
            self.wake.push(conn);
        }
    }

    /// Backpressure gave up on `conn`: drop what it has queued, tell it why with an `error`
    /// frame `send_buffer_full`, and close it at the end of the step (not re-entrantly). Its
    /// sessions stay resumable.
    fn condemn(&mut self, conn: ConnId, why: &str) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.doomed || c.closing.is_some() {
            return;
        }
        tracing::info!(
            conn,
            "send queue full: disconnecting a client that cannot keep up"
        );
        self.queued_total -= c.queued_bytes;
        c.queued_bytes = 0;
        c.queue.clear();
        c.doomed = true;
        let f = Frame::Error {
            code: "send_buffer_full".to_string(),
            message: format!("{why}; reconnect and resume to carry on"),
        };
        let bytes = wire_len(&f);
        self.push_frame(conn, Arc::new(f).into(), bytes);
        self.to_close.push((conn, "send buffer full".to_string()));
    }

    pub(crate) fn socket_conn_and_ns(&self, sid: &str) -> Option<(Option<ConnId>, String)> {
        self.sockets.get(sid).map(|s| (s.conn, s.rec.ns.clone()))
    }

    pub(crate) fn socket_mut(&mut self, sid: &str) -> Option<&mut Socket> {
        self.sockets.get_mut(sid)
    }

    pub(crate) fn socket_ref(&self, sid: &str) -> Option<&Socket> {
        self.sockets.get(sid)
    }

    /// Send an ack reply. One too long for the client is replaced by
    /// `[{"ok":false,"code":"too_large","error":...}]`: the sender's wait ends with the reason
    /// at once instead of in its timeout, and the client never sees a line it would refuse.
    pub(crate) fn send_ack(&mut self, conn: ConnId, ns: &str, id: u64, args: Vec<Value>) {
        let mut f = Frame::Ack {
            ns: ns.to_string(),
            id,
            args,
        };
        let mut bytes = wire_len(&f);
        let max = self.config.max_frame_bytes;
        if bytes > max {
            self.stats.oversize_refused += 1;
            tracing::warn!(
                conn,
                ns,
                id,
                bytes,
                "ack reply over max_frame_bytes; sending ok:false instead"
            );
            let error = format!(
                "the reply would be {bytes} bytes on the wire, over the limit of {max} (max_frame_bytes) that every client enforces, so the server sent this instead"
            );
            f = Frame::Ack {
                ns: ns.to_string(),
                id,
                args: vec![serde_json::json!({"ok": false, "code": "too_large", "error": error})],
            };
            bytes = wire_len(&f);
            if bytes > max {
                tracing::warn!(conn, bytes, "even the ok:false ack is over max_frame_bytes");
                return;
            }
        }
        self.enqueue_sized(conn, Arc::new(f).into(), bytes, false);
    }

    pub(crate) fn request_close_socket(&mut self, sid: &str, reason: &str, now: Instant) {
        self.disconnect_socket(sid, reason, now);
    }
}

fn connect_error(ns: &str, message: &str) -> Arc<Frame> {
    Arc::new(Frame::ConnectError {
        ns: ns.to_string(),
        message: message.to_string(),
    })
}

/// The reason a connection hears when another connection resumed its session.
pub const TAKEN_OVER: &str = "session resumed by another connection";

/// A `refused` frame repeats the event's name up to this many characters (the name is the
/// client's own text and could be nearly `max_frame_bytes` long).
const REFUSED_NAME_CHARS: usize = 256;

/// Run application code (a handler, hook, middleware or ack callback) and catch a panic in it,
/// returning the panic's message.
///
/// Why catching is sound here: application code changes the core only through [`Ctx`] and
/// [`Broadcast`], and each of their operations completes before it returns, so a panic between
/// two of them leaves every map and index consistent. (`AssertUnwindSafe` says exactly that.)
fn contain<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| panic_message(&*p))
}

/// An event frame as `serde` writes it, borrowed: measuring one needs no copy of its arguments.
/// Field order and names match [`Frame::Event`].
#[derive(serde::Serialize)]
struct EventView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    ns: &'a str,
    name: &'a str,
    args: &'a [Value],
    #[serde(skip_serializing_if = "Option::is_none")]
    ack: Option<u64>,
    seq: u64,
}

/// The length of `v` as compact JSON, counted without building the text.
pub(crate) fn wire_len<T: serde::Serialize + ?Sized>(v: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    // Writing to a counter cannot fail, and every value here serializes.
    match serde_json::to_writer(&mut c, v) {
        Ok(()) => c.0,
        Err(_) => usize::MAX,
    }
}

/// Bytes a reliable log entry counts (its frame, as [`Core::check_size`] measures it).
pub(crate) fn event_wire_len(ns: &str, name: &str, args: &[Value]) -> usize {
    wire_len(&EventView {
        kind: "event",
        ns,
        name,
        args,
        ack: None,
        seq: u64::MAX,
    })
}

/// Tell whoever waits for an ack; a panic in that code is logged and goes no further.
fn run_ack_callback(callback: AckCallback, result: Result<Vec<Value>, AckError>) {
    if let Err(panic) = contain(|| callback(result)) {
        tracing::error!("an ack callback panicked: {panic}");
    }
}

/// The text of a panic payload (`panic!("...")` carries a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_string()
    }
}

/// An event as it was on the wire, cut short for a log line.
fn event_frame(ev: &Event) -> String {
    let f = Frame::Event {
        ns: ev.ns.clone(),
        name: ev.name.clone(),
        args: ev.args.clone(),
        ack: ev.ack,
        seq: ev.seq,
    };
    f.to_json().chars().take(512).collect()
}

#[cfg(test)]
mod tests;
