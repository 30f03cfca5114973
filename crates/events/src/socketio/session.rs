//! One Engine.IO session as a state machine: packets in, packets out, the time passed in. No I/O.
//!
//! The HTTP side (crates/web) calls, per request or frame:
//! - [`check_request`] on every `/socket.io/` request: the 400 answers socket.io's server gives.
//! - [`Session::new`] on a handshake, then [`Session::take_polling`] for the first GET's body, or
//!   [`Session::take_ws`] for the first frames of a WebSocket-only session.
//! - [`Session::begin_poll`] / [`Session::take_polling`] / [`Session::end_poll`] for a GET,
//!   [`Session::receive_payload`] for a POST body, [`Session::receive_ws`] for each WebSocket
//!   frame (also the probing WebSocket of an upgrade).
//! - [`Session::handle_timeout`] at [`Session::next_deadline`]: the server's pings, and closing
//!   a session whose client stopped answering them.
//!
//! Messages for the application come out of [`Session::take_messages`]; the application sends
//! with [`Session::send`].
//!
//! The upgrade from polling to WebSocket: the client opens a WebSocket with the session's sid and
//! sends `2probe`; the session answers `3probe` on it, and answers the pending poll with `6`
//! (noop) so the client can pause polling; the client sends `5` (upgrade) on the WebSocket, and
//! from then on everything goes over the WebSocket. Packets queued meanwhile are not lost: they
//! wait in the one outbox and go out on whichever transport is current.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::engineio::{Data, EioError, Handshake, Packet, decode_payload};

/// The two transports of Engine.IO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Polling,
    WebSocket,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::WebSocket => "websocket",
        }
    }

    pub fn parse(s: &str) -> Option<Transport> {
        match s {
            "polling" => Some(Transport::Polling),
            "websocket" => Some(Transport::WebSocket),
            _ => None,
        }
    }
}

/// The session's tunables, sent to the client in the handshake.
#[derive(Debug, Clone)]
pub struct Config {
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub max_payload: usize,
}

impl Default for Config {
    /// socket.io's defaults: a ping every 25 s, 20 s to answer, 1 MB per payload.
    fn default() -> Self {
        Config {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            max_payload: 1_000_000,
        }
    }
}

/// Why a request to `/socket.io/` is refused, with the code and message socket.io's server
/// sends in its JSON body (`{"code":1,"message":"Session ID unknown"}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("Transport unknown")]
    UnknownTransport,
    #[error("Session ID unknown")]
    UnknownSid,
    #[error("Bad handshake method")]
    BadHandshakeMethod,
    #[error("Bad request")]
    BadRequest,
    #[error("Unsupported protocol version")]
    UnsupportedProtocolVersion,
}

impl RequestError {
    /// The `code` field of socket.io's error body.
    pub fn code(self) -> u8 {
        match self {
            RequestError::UnknownTransport => 0,
            RequestError::UnknownSid => 1,
            RequestError::BadHandshakeMethod => 2,
            RequestError::BadRequest => 3,
            RequestError::UnsupportedProtocolVersion => 5,
        }
    }

    /// The HTTP status: always 400 Bad Request for these.
    pub fn status(self) -> u16 {
        400
    }

    /// The JSON body, exactly as socket.io writes it.
    pub fn body(self) -> String {
        serde_json::json!({"code": self.code(), "message": self.to_string()}).to_string()
    }
}

/// What a request that passed [`check_request`] is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A new session (no sid) over this transport.
    Handshake(Transport),
    /// A long-polling GET (take output) on this session.
    PollGet(String),
    /// A long-polling POST (give input) on this session.
    PollPost(String),
    /// A WebSocket for this session: the upgrade from polling.
    Upgrade(String),
}

/// Check a request to `/socket.io/` the way socket.io's server does. `method` is the HTTP
/// method, `eio`/`transport`/`sid` the query parameters, `websocket` whether it asks for a
/// WebSocket upgrade, and `session` tells the current transport of a live sid.
pub fn check_request(
    method: &str,
    eio: Option<&str>,
    transport: Option<&str>,
    sid: Option<&str>,
    websocket: bool,
    session: impl Fn(&str) -> Option<Transport>,
) -> Result<Route, RequestError> {
    // EIO=3 (or none) is the older protocol, which this server does not speak.
    if eio != Some("4") {
        return Err(RequestError::UnsupportedProtocolVersion);
    }
    let transport = transport
        .and_then(Transport::parse)
        .ok_or(RequestError::UnknownTransport)?;
    if (transport == Transport::WebSocket) != websocket {
        // transport=websocket without the upgrade headers, or a WebSocket claiming polling.
        return Err(RequestError::BadRequest);
    }
    let Some(sid) = sid else {
        return if method == "GET" {
            Ok(Route::Handshake(transport))
        } else {
            Err(RequestError::BadHandshakeMethod)
        };
    };
    let current = session(sid).ok_or(RequestError::UnknownSid)?;
    match (transport, current, method) {
        (Transport::WebSocket, Transport::Polling, "GET") => Ok(Route::Upgrade(sid.to_string())),
        (Transport::Polling, Transport::Polling, "GET") => Ok(Route::PollGet(sid.to_string())),
        (Transport::Polling, Transport::Polling, "POST") => Ok(Route::PollPost(sid.to_string())),
        _ => Err(RequestError::BadRequest),
    }
}

/// Where the session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// A WebSocket has sent `2probe`; waiting for its `5`.
    Upgrading,
    Closed,
}

/// What a poll (a long-polling GET) should answer now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// Send this payload as the response body.
    Payload(String),
    /// Nothing to send yet: wait for [`Session::send`] or a timer, then ask again.
    Wait,
}

/// Why a session closed (socket.io's reason strings, which the application sees).
pub mod reason {
    pub const PING_TIMEOUT: &str = "ping timeout";
    pub const TRANSPORT_CLOSE: &str = "transport close";
    pub const TRANSPORT_ERROR: &str = "transport error";
    pub const PARSE_ERROR: &str = "parse error";
    pub const SERVER_CLOSE: &str = "forced close";
}

/// One Engine.IO session. See the module docs.
#[derive(Debug)]
pub struct Session {
    sid: String,
    config: Config,
    transport: Transport,
    state: State,
    /// Packets for the client, in order, on whichever transport is current.
    outbox: VecDeque<Packet>,
    /// `3probe` for the probing WebSocket (not the current transport yet).
    probe_reply: Option<Packet>,
    /// Messages from the client for the application.
    inbox: VecDeque<Data>,
    /// When the next ping goes out (none while one awaits its pong).
    next_ping: Option<Instant>,
    /// When a client that has not answered the last ping is given up on.
    pong_deadline: Option<Instant>,
    /// True while a GET is held open: socket.io refuses a second one at the same time.
    polling: bool,
    close_reason: Option<&'static str>,
    /// Whether the client still needs to be told (`1`) that the server closed the session.
    close_pending: bool,
}

/// Errors the session reports for what the client sent; the session is closed after each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Packet(#[from] EioError),
    #[error("a second poll while one is still open (socket.io: overlap from client)")]
    Overlap,
    #[error(
        "the client sent a ping; in Engine.IO v4 only the server pings (invalid heartbeat direction)"
    )]
    HeartbeatDirection,
    #[error("a {0} packet is not expected here")]
    Unexpected(&'static str),
    #[error("the session is closed")]
    Closed,
}

impl Session {
    /// Open a session over `transport`; its first output is the handshake.
    pub fn new(sid: String, transport: Transport, config: Config, now: Instant) -> Session {
        let upgrades = match transport {
            Transport::Polling => vec!["websocket".to_string()],
            Transport::WebSocket => Vec::new(),
        };
        let handshake = Handshake {
            sid: sid.clone(),
            upgrades,
            ping_interval: config.ping_interval.as_millis() as u64,
            ping_timeout: config.ping_timeout.as_millis() as u64,
            max_payload: config.max_payload,
        };
        let mut s = Session {
            sid,
            next_ping: Some(now + config.ping_interval),
            config,
            transport,
            state: State::Open,
            outbox: VecDeque::new(),
            probe_reply: None,
            inbox: VecDeque::new(),
            pong_deadline: None,
            polling: false,
            close_reason: None,
            close_pending: false,
        };
        s.outbox.push_back(handshake.packet());
        s
    }

    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The transport packets currently go over.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the session has ended, and why.
    pub fn closed(&self) -> Option<&'static str> {
        self.close_reason
    }

    /// Queue a message for the client (a Socket.IO packet's text, or an attachment).
    pub fn send(&mut self, data: Data) {
        if self.state != State::Closed {
            self.outbox.push_back(Packet::Message(data));
        }
    }

    /// Messages the client sent, in order.
    pub fn take_messages(&mut self) -> Vec<Data> {
        self.inbox.drain(..).collect()
    }

    /// A GET arrived: refuse a second one while one is open (then the session is closed, as
    /// socket.io does).
    pub fn begin_poll(&mut self) -> Result<(), SessionError> {
        if self.state == State::Closed && !self.has_output() {
            return Err(SessionError::Closed);
        }
        if self.polling {
            self.close(reason::TRANSPORT_ERROR);
            return Err(SessionError::Overlap);
        }
        self.polling = true;
        Ok(())
    }

    /// The GET's answer: everything queued as one payload, a noop during an upgrade (so the
    /// client can pause polling), `1` after a server close, or wait.
    pub fn take_polling(&mut self) -> Poll {
        if self.transport != Transport::Polling {
            return Poll::Payload(Packet::Noop.encode_text());
        }
        if !self.outbox.is_empty() || self.close_pending {
            let mut out: Vec<Packet> = self.outbox.drain(..).collect();
            if std::mem::take(&mut self.close_pending) {
                out.push(Packet::Close);
            }
            return Poll::Payload(super::engineio::encode_payload(&out));
        }
        if self.state == State::Upgrading {
            return Poll::Payload(Packet::Noop.encode_text());
        }
        if self.state == State::Closed {
            return Poll::Payload(Packet::Noop.encode_text());
        }
        Poll::Wait
    }

    /// The GET is answered (or its client went away).
    pub fn end_poll(&mut self) {
        self.polling = false;
    }

    /// A POST body: one payload of packets.
    pub fn receive_payload(&mut self, body: &[u8], now: Instant) -> Result<(), SessionError> {
        if self.state == State::Closed {
            return Err(SessionError::Closed);
        }
        let packets = match decode_payload(body, self.config.max_payload) {
            Ok(p) => p,
            Err(e) => {
                self.close(reason::PARSE_ERROR);
                return Err(e.into());
            }
        };
        for p in packets {
            // Whatever follows a close in the same body is for a session that no longer exists.
            if self.state == State::Closed {
                break;
            }
            self.receive(p, now)?;
        }
        Ok(())
    }

    /// One WebSocket frame: on the current WebSocket, or on the one probing an upgrade.
    pub fn receive_ws(&mut self, frame: Data, now: Instant) -> Result<(), SessionError> {
        if self.state == State::Closed {
            return Err(SessionError::Closed);
        }
        let len = match &frame {
            Data::Text(t) => t.len(),
            Data::Binary(b) => b.len(),
        };
        if len > self.config.max_payload {
            self.close(reason::TRANSPORT_ERROR);
            return Err(EioError::TooLarge {
                len,
                max: self.config.max_payload,
            }
            .into());
        }
        let packet = match Packet::decode_ws(frame) {
            Ok(p) => p,
            Err(e) => {
                self.close(reason::PARSE_ERROR);
                return Err(e.into());
            }
        };
        if self.transport == Transport::Polling {
            return self.receive_probe(packet);
        }
        self.receive(packet, now)
    }

    /// The probing WebSocket of an upgrade: `2probe`, then `5`.
    fn receive_probe(&mut self, packet: Packet) -> Result<(), SessionError> {
        match (&packet, self.state) {
            (Packet::Ping(p), State::Open) if p == "probe" => {
                self.probe_reply = Some(Packet::Pong("probe".into()));
                self.state = State::Upgrading;
                Ok(())
            }
            (Packet::Upgrade, State::Upgrading) => {
                self.transport = Transport::WebSocket;
                self.state = State::Open;
                Ok(())
            }
            (Packet::Noop, _) => Ok(()),
            _ => {
                self.close(reason::PARSE_ERROR);
                Err(SessionError::Unexpected(packet.type_name()))
            }
        }
    }

    /// The probing WebSocket went away before its `5`: the session carries on polling.
    pub fn abort_upgrade(&mut self) {
        if self.state == State::Upgrading {
            self.state = State::Open;
            self.probe_reply = None;
        }
    }

    /// One packet from the client on the current transport.
    fn receive(&mut self, packet: Packet, now: Instant) -> Result<(), SessionError> {
        match packet {
            Packet::Message(d) => self.inbox.push_back(d),
            Packet::Pong(_) => {
                // The answer to our ping: the next one goes out an interval from now.
                self.pong_deadline = None;
                self.next_ping = Some(now + self.config.ping_interval);
            }
            Packet::Close => {
                self.close_pending = false;
                self.close(reason::TRANSPORT_CLOSE);
            }
            Packet::Noop => {}
            Packet::Ping(_) => {
                self.close(reason::TRANSPORT_ERROR);
                return Err(SessionError::HeartbeatDirection);
            }
            p @ (Packet::Open(_) | Packet::Upgrade) => {
                self.close(reason::PARSE_ERROR);
                return Err(SessionError::Unexpected(p.type_name()));
            }
        }
        Ok(())
    }

    /// Frames for the WebSocket: the current one's packets, or the probing one's `3probe`.
    pub fn take_ws(&mut self) -> Vec<Data> {
        let mut out: Vec<Data> = self
            .probe_reply
            .take()
            .map(|p| p.ws_frame())
            .into_iter()
            .collect();
        if self.transport == Transport::WebSocket {
            out.extend(self.outbox.drain(..).map(|p| p.ws_frame()));
        }
        out
    }

    /// Whether [`Session::take_polling`] or [`Session::take_ws`] has something now.
    pub fn has_output(&self) -> bool {
        !self.outbox.is_empty()
            || self.probe_reply.is_some()
            || self.close_pending
            || self.state == State::Upgrading
    }

    /// When [`Session::handle_timeout`] should next run.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        [self.next_ping, self.pong_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    /// Timers: send the ping that is due, close if a pong is overdue.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        if self.pong_deadline.is_some_and(|d| now >= d) {
            self.close(reason::PING_TIMEOUT);
            return;
        }
        if self.next_ping.is_some_and(|t| now >= t) {
            self.outbox.push_back(Packet::Ping(String::new()));
            self.next_ping = None;
            self.pong_deadline = Some(now + self.config.ping_timeout);
        }
    }

    /// The server ends the session: over polling the next GET gets `1`; a WebSocket is simply
    /// closed by the caller (socket.io sends no close packet there).
    pub fn server_close(&mut self) {
        if self.state != State::Closed {
            self.close(reason::SERVER_CLOSE);
            self.close_pending = self.transport == Transport::Polling;
        }
    }

    fn close(&mut self, why: &'static str) {
        if self.state != State::Closed {
            self.state = State::Closed;
            self.close_reason = Some(why);
            self.probe_reply = None;
        }
    }
}
