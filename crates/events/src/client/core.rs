//! The client's protocol logic with no I/O and no clock, as the server's [`crate::core`] is.
//!
//! A driver (the async [`super::Client`], or a test) owns the connection and calls:
//! - [`ClientCore::link_up`] when a connection opens and [`ClientCore::link_down`] when it ends;
//! - [`ClientCore::handle_frame`] with each frame read, and the current time;
//! - [`ClientCore::open`], [`ClientCore::emit`], [`ClientCore::ack`], [`ClientCore::leave`] and
//!   [`ClientCore::close`] for what the application asks;
//! - [`ClientCore::poll_timeout`] / [`ClientCore::handle_timeout`] for the silence timer;
//!
//! and takes out frames to write with [`ClientCore::poll_transmit`] and what the application
//! should hear with [`ClientCore::poll_event`]. A driver hands out the events of a step before it
//! writes that step's frames, so a `received` leaves after the application had the event.
//!
//! What the core keeps per namespace, across connections: the session token and the highest
//! reliable seq received (for `resume`), the offline buffer, and the client's own reliable emits
//! until the server confirms them. The rules are docs/src/protocol.md's.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::codec::DEFAULT_MAX_FRAME_BYTES;
use crate::core::{Delivery, event_wire_len};
use crate::error::EventsError;
use crate::frame::{Frame, Resume};

/// Identifies one emit that asked for an ack, for the whole life of the client (the ack ids on
/// the wire restart at 1 on every connection; this does not).
pub type AckToken = u64;

/// Why an ack will never come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckLost {
    /// The connection (or the namespace) went away before the reply.
    Disconnected,
}

/// What the application should hear, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// A namespace is connected: a new session, or the old one `recovered`.
    Connected {
        ns: String,
        sid: String,
        recovered: bool,
    },
    /// The server's middleware refused a namespace.
    ConnectError { ns: String, message: String },
    /// The server removed the socket from a namespace (its session is over).
    NsDisconnected { ns: String, reason: String },
    /// The connection ended; every namespace is disconnected until the next `link_up`.
    LinkDown { reason: String },
    /// The server reported a protocol error (it closes the connection after it).
    ServerError { code: String, message: String },
    /// The server did not carry out one of our events (`name`), for the reason in `code` and
    /// `message` (`too_large`: what it would have sent is over `max_frame_bytes`). The
    /// connection and the namespace stay up: this is news for the application, not a failure.
    Refused {
        ns: String,
        name: String,
        code: String,
        message: String,
    },
    /// An event for the application, after de-duplication. `ack` is the id to answer with
    /// [`ClientCore::ack`], when the server asked for one.
    Event {
        ns: String,
        name: String,
        args: Vec<Value>,
        seq: Option<u64>,
        ack: Option<u64>,
    },
    /// The outcome of an emit that asked for an ack.
    AckResult {
        token: AckToken,
        result: Result<Vec<Value>, AckLost>,
    },
}

/// An emit waiting for its namespace to connect.
#[derive(Debug)]
struct Pending {
    name: String,
    args: Vec<Value>,
    ack: Option<AckToken>,
}

/// One of the client's own reliable emits, kept until the server's `received` covers its seq.
#[derive(Debug)]
struct Unconfirmed {
    seq: u64,
    name: String,
    args: Vec<Value>,
}

/// The state of one namespace, kept across connections.
#[derive(Debug)]
struct Ns {
    name: String,
    auth: Value,
    connected: bool,
    /// The resume token of the current session.
    session: Option<String>,
    /// Highest reliable seq received from the server (cumulative).
    last_seq: u64,
    offline: VecDeque<Pending>,
    unconfirmed: VecDeque<Unconfirmed>,
    next_reliable: u64,
    /// Ack id on this connection -> the emit's token.
    acks: HashMap<u64, AckToken>,
}

impl Ns {
    fn connect_frame(&self, resume: bool) -> Frame {
        Frame::Connect {
            ns: self.name.clone(),
            auth: (!self.auth.is_null()).then(|| self.auth.clone()),
            resume: self.session.as_ref().filter(|_| resume).map(|s| Resume {
                session: s.clone(),
                seq: self.last_seq,
            }),
        }
    }

    fn reliable_frame(&self, u: &Unconfirmed) -> Frame {
        Frame::Event {
            ns: self.name.clone(),
            name: u.name.clone(),
            args: u.args.clone(),
            ack: None,
            seq: Some(u.seq),
        }
    }
}

/// The client's settings that the protocol logic needs.
#[derive(Debug, Clone)]
pub struct CoreOptions {
    /// Emits kept per namespace while disconnected (and reliable emits awaiting confirmation).
    pub offline_buffer: usize,
    /// Ask to resume sessions on a new connection.
    pub resume: bool,
}

/// The client's protocol state machine (see the module docs).
#[derive(Debug)]
pub struct ClientCore {
    opts: CoreOptions,
    nss: Vec<Ns>,
    /// True between `link_up` and `link_down`.
    link: bool,
    /// Ack ids on the wire, per connection.
    next_ack_id: u64,
    next_token: AckToken,
    /// `ping_interval + ping_timeout` from `hello`: silence longer than this is a dead server.
    silence_limit: Option<Duration>,
    last_rx: Option<Instant>,
    /// The server's line limit from `hello`: a longer emit would be refused (and, if reliable,
    /// retried and refused forever), so it is refused here instead.
    max_frame_bytes: usize,
    transmit: VecDeque<Frame>,
    events: VecDeque<ClientEvent>,
}

impl ClientCore {
    pub fn new(opts: CoreOptions) -> Self {
        ClientCore {
            opts,
            nss: Vec::new(),
            link: false,
            next_ack_id: 1,
            next_token: 1,
            silence_limit: None,
            last_rx: None,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    // ----- the connection -----------------------------------------------------------------

    /// A connection opened: ask for every namespace, resuming sessions if allowed.
    pub fn link_up(&mut self, now: Instant) {
        self.link = true;
        self.next_ack_id = 1;
        self.silence_limit = None;
        self.last_rx = Some(now);
        if !self.opts.resume {
            self.nss.iter_mut().for_each(|n| n.session = None);
        }
        for n in &self.nss {
            self.transmit.push_back(n.connect_frame(self.opts.resume));
        }
    }

    /// The connection ended: namespaces are disconnected and acks waiting on it fail. Frames
    /// not yet taken are dropped (they belonged to that connection).
    pub fn link_down(&mut self, reason: &str) {
        if !self.link {
            return;
        }
        self.link = false;
        self.transmit.clear();
        self.events.push_back(ClientEvent::LinkDown {
            reason: reason.to_string(),
        });
        for i in 0..self.nss.len() {
            self.nss[i].connected = false;
            self.fail_acks(i);
        }
    }

    /// Leave every connected namespace politely (the driver then closes the connection).
    pub fn close(&mut self) {
        for n in self.nss.iter().filter(|n| n.connected) {
            self.transmit.push_back(Frame::Disconnect {
                ns: n.name.clone(),
                reason: None,
            });
        }
    }

    /// When [`ClientCore::handle_timeout`] should run next (the silence limit).
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.last_rx? + self.silence_limit?)
    }

    /// `Err(reason)`: the server has been silent too long; drop the connection.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), String> {
        match self.poll_timeout() {
            Some(deadline) if self.link && now >= deadline => Err("ping timeout".into()),
            _ => Ok(()),
        }
    }

    /// The longest line the server accepts (announced in `hello`; 1 MiB until then).
    pub fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes
    }

    /// The next frame to write.
    pub fn poll_transmit(&mut self) -> Option<Frame> {
        self.transmit.pop_front()
    }

    /// The next thing the application should hear.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    // ----- the application ----------------------------------------------------------------

    /// Join namespace `ns` (again, replacing an earlier one of that name).
    pub fn open(&mut self, ns: &str, auth: Value) {
        self.remove_ns(ns);
        let n = Ns {
            name: ns.to_string(),
            auth,
            connected: false,
            session: None,
            last_seq: 0,
            offline: VecDeque::new(),
            unconfirmed: VecDeque::new(),
            next_reliable: 0,
            acks: HashMap::new(),
        };
        if self.link {
            self.transmit.push_back(n.connect_frame(self.opts.resume));
        }
        self.nss.push(n);
    }

    /// Leave namespace `ns`: the server ends the session; acks waiting in it fail.
    pub fn leave(&mut self, ns: &str) {
        if self.remove_ns(ns) && self.link {
            self.transmit.push_back(Frame::Disconnect {
                ns: ns.to_string(),
                reason: None,
            });
        }
    }

    /// Emit on namespace `ns`; with `want_ack`, the outcome comes later as
    /// [`ClientEvent::AckResult`] with the returned token (for default and volatile emits; a
    /// reliable emit is confirmed by the server's `received` instead, and gets no token). While the namespace is not connected
    /// the emit waits in the offline buffer (a volatile one is dropped; a reliable one waits with
    /// the unconfirmed ones, which are sent again on every connect anyway).
    pub fn emit(
        &mut self,
        ns: &str,
        name: &str,
        args: Vec<Value>,
        delivery: Delivery,
        want_ack: bool,
    ) -> Result<Option<AckToken>, EventsError> {
        let cap = self.opts.offline_buffer;
        let Some(i) = self.ns_index(ns) else {
            return Err(EventsError::ClientClosed);
        };
        // Room for an ack id beside the largest seq the size counts.
        let bytes = event_wire_len(ns, name, &args) + r#","ack":18446744073709551615"#.len();
        if bytes > self.max_frame_bytes {
            let max = self.max_frame_bytes;
            return Err(EventsError::TooLarge { bytes, max });
        }
        let token = (want_ack && delivery != Delivery::Reliable).then(|| {
            self.next_token += 1;
            self.next_token - 1
        });
        let n = &mut self.nss[i];
        let online = n.connected && self.link;
        match delivery {
            Delivery::Volatile if !online => {
                if let Some(token) = token {
                    self.events.push_back(ClientEvent::AckResult {
                        token,
                        result: Err(AckLost::Disconnected),
                    });
                }
                return Ok(token);
            }
            Delivery::Reliable => {
                if n.unconfirmed.len() >= cap {
                    return Err(EventsError::OfflineBufferFull(cap));
                }
                n.next_reliable += 1;
                let u = Unconfirmed {
                    seq: n.next_reliable,
                    name: name.to_string(),
                    args,
                };
                if online {
                    self.transmit.push_back(n.reliable_frame(&u));
                }
                n.unconfirmed.push_back(u);
                return Ok(token);
            }
            _ => {}
        }
        let pending = Pending {
            name: name.to_string(),
            args,
            ack: token,
        };
        if online {
            self.send(i, pending);
        } else {
            if n.offline.len() >= cap {
                return Err(EventsError::OfflineBufferFull(cap));
            }
            n.offline.push_back(pending);
        }
        Ok(token)
    }

    /// Answer an event from the server that asked for an ack.
    pub fn ack(&mut self, ns: &str, id: u64, args: Vec<Value>) {
        if self.link {
            self.transmit.push_back(Frame::Ack {
                ns: ns.to_string(),
                id,
                args,
            });
        }
    }

    // ----- frames from the server ---------------------------------------------------------

    /// One frame from the server. `Err(reason)` means the connection must be dropped (the
    /// server sent an `error`); what the application should hear is in [`Self::poll_event`].
    pub fn handle_frame(&mut self, frame: Frame, now: Instant) -> Result<(), String> {
        self.last_rx = Some(now);
        match frame {
            Frame::Hello {
                ping_interval_ms,
                ping_timeout_ms,
                max_frame_bytes,
                ..
            } => {
                self.max_frame_bytes = max_frame_bytes;
                let ms = ping_interval_ms.saturating_add(ping_timeout_ms);
                self.silence_limit = Some(Duration::from_millis(ms));
            }
            Frame::Ping => self.transmit.push_back(Frame::Pong),
            Frame::Connected {
                ns,
                sid,
                session,
                recovered,
            } => self.on_connected(&ns, sid, session, recovered),
            Frame::ConnectError { ns, message } => {
                self.events
                    .push_back(ClientEvent::ConnectError { ns, message });
            }
            Frame::Event {
                ns,
                name,
                args,
                ack,
                seq,
            } => self.on_event(ns, name, args, ack, seq),
            Frame::Ack { ns, id, args } => {
                let token = self
                    .ns_index(&ns)
                    .and_then(|i| self.nss[i].acks.remove(&id));
                match token {
                    Some(token) => self.events.push_back(ClientEvent::AckResult {
                        token,
                        result: Ok(args),
                    }),
                    None => tracing::debug!(ns, id, "late or unknown ack ignored"),
                }
            }
            Frame::Received { ns, seq } => {
                if let Some(i) = self.ns_index(&ns) {
                    let n = &mut self.nss[i];
                    while n.unconfirmed.front().is_some_and(|u| u.seq <= seq) {
                        n.unconfirmed.pop_front();
                    }
                }
            }
            Frame::Disconnect { ns, reason } => {
                let reason = reason.unwrap_or_else(|| "server namespace disconnect".into());
                if let Some(i) = self.ns_index(&ns) {
                    let n = &mut self.nss[i];
                    n.connected = false;
                    n.session = None;
                    self.fail_acks(i);
                }
                self.events
                    .push_back(ClientEvent::NsDisconnected { ns, reason });
            }
            Frame::Refused {
                ns,
                name,
                code,
                message,
            } => {
                self.events.push_back(ClientEvent::Refused {
                    ns,
                    name,
                    code,
                    message,
                });
            }
            Frame::Error { code, message } => {
                let reason = format!("server error {code}: {message}");
                self.events
                    .push_back(ClientEvent::ServerError { code, message });
                return Err(reason);
            }
            // Frames only a client sends: nothing to do.
            Frame::Connect { .. } | Frame::Pong => {}
        }
        Ok(())
    }

    fn on_connected(&mut self, ns: &str, sid: String, session: String, recovered: bool) {
        let Some(i) = self.ns_index(ns) else {
            return;
        };
        let n = &mut self.nss[i];
        n.connected = true;
        n.session = Some(session);
        if !recovered {
            // A new session: the server knows nothing of our numbering either way. Start again
            // from 1 (what it sent the old session and we missed is gone: the application
            // should resync).
            n.last_seq = 0;
            for (k, u) in n.unconfirmed.iter_mut().enumerate() {
                u.seq = k as u64 + 1;
            }
            n.next_reliable = n.unconfirmed.len() as u64;
        }
        self.events.push_back(ClientEvent::Connected {
            ns: ns.to_string(),
            sid,
            recovered,
        });
        // Unconfirmed reliable emits first, in order (the server drops the ones it has), then
        // the offline buffer.
        let retries: Vec<Frame> = n.unconfirmed.iter().map(|u| n.reliable_frame(u)).collect();
        let offline: Vec<Pending> = n.offline.drain(..).collect();
        self.transmit.extend(retries);
        for p in offline {
            self.send(i, p);
        }
    }

    fn on_event(
        &mut self,
        ns: String,
        name: String,
        args: Vec<Value>,
        ack: Option<u64>,
        seq: Option<u64>,
    ) {
        let Some(i) = self.ns_index(&ns) else {
            return;
        };
        let n = &mut self.nss[i];
        if let Some(s) = seq {
            if s <= n.last_seq {
                // A replay of something we already have: confirm again, do not deliver.
                let seq = n.last_seq;
                self.transmit.push_back(Frame::Received { ns, seq });
                return;
            }
            n.last_seq = s;
        }
        self.events.push_back(ClientEvent::Event {
            ns: ns.clone(),
            name,
            args,
            seq,
            ack,
        });
        if let Some(seq) = seq {
            self.transmit.push_back(Frame::Received { ns, seq });
        }
    }

    // ----- internals ----------------------------------------------------------------------

    fn ns_index(&self, ns: &str) -> Option<usize> {
        self.nss.iter().position(|n| n.name == ns)
    }

    fn remove_ns(&mut self, ns: &str) -> bool {
        let Some(i) = self.ns_index(ns) else {
            return false;
        };
        self.fail_acks(i);
        for p in self.nss[i].offline.drain(..) {
            if let Some(token) = p.ack {
                self.events.push_back(ClientEvent::AckResult {
                    token,
                    result: Err(AckLost::Disconnected),
                });
            }
        }
        self.nss.remove(i);
        true
    }

    /// Send a non-reliable emit on connected namespace `i`, with a wire ack id if it wants one.
    fn send(&mut self, i: usize, p: Pending) {
        let n = &mut self.nss[i];
        let ack = p.ack.map(|token| {
            let id = self.next_ack_id;
            self.next_ack_id += 1;
            n.acks.insert(id, token);
            id
        });
        self.transmit.push_back(Frame::Event {
            ns: n.name.clone(),
            name: p.name,
            args: p.args,
            ack,
            seq: None,
        });
    }

    /// Every ack awaited in namespace `i` fails, in the order they were asked for.
    fn fail_acks(&mut self, i: usize) {
        let mut ids: Vec<(u64, AckToken)> = self.nss[i].acks.drain().collect();
        ids.sort_unstable();
        for (_, token) in ids {
            self.events.push_back(ClientEvent::AckResult {
                token,
                result: Err(AckLost::Disconnected),
            });
        }
    }
}

#[cfg(test)]
mod tests;
