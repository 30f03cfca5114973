//! The client library: one connection, several namespaces, socket.io-style emit/on.
//!
//! A driver task owns the TCP connection; [`Client`] and [`Socket`] are handles that send it
//! commands. What the driver does for you:
//! - reconnects with exponential backoff and jitter ([`Backoff`]: 1 s rising to 5 s, jitter 0.5);
//! - buffers emits while disconnected, up to [`ClientOptions::offline_buffer`], and flushes them
//!   in order once the namespace is connected again (volatile emits are dropped instead);
//! - resumes each namespace's session (`resume: {session, seq}`), ignores replayed events it
//!   already has, and confirms reliable events with `received`;
//! - retries its own reliable emits ([`Socket::emit_reliable`]) after every reconnect until the
//!   server confirms them; the server deduplicates them by seq, so the handler runs once;
//! - notices a silent server (no ping for `ping_interval + ping_timeout`) and reconnects.
//!
//! Lifecycle changes (connected, connect error, disconnected, reconnecting) are broadcast to
//! [`Client::lifecycle`] subscribers, with reasons.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::codec::{DEFAULT_MAX_FRAME_BYTES, LineDecoder, encode_line};
use crate::error::EventsError;
use crate::frame::{Frame, Resume};

/// Reconnection delays: `min * factor^(attempt-1)`, capped at `max`, spread by `jitter`
/// (0.5 means anywhere from half to one and a half times the base), as socket.io does.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub min: Duration,
    pub max: Duration,
    pub factor: f64,
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            min: Duration::from_secs(1),
            max: Duration::from_secs(5),
            factor: 2.0,
            jitter: 0.5,
        }
    }
}

impl Backoff {
    /// The delay before reconnect attempt `attempt` (1-based). Jitter spreads clients that lost
    /// the same server at the same moment, so they do not all come back at once.
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let exp = self.factor.powi(attempt.saturating_sub(1).min(30) as i32);
        let base = (self.min.as_secs_f64() * exp).min(self.max.as_secs_f64());
        let spread = base * self.jitter.clamp(0.0, 1.0);
        let jittered = base - spread + 2.0 * spread * rng.random::<f64>();
        Duration::from_secs_f64(jittered.min(self.max.as_secs_f64()).max(0.0))
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub reconnect: bool,
    pub backoff: Backoff,
    /// Emits kept per namespace while disconnected (and reliable emits awaiting confirmation).
    pub offline_buffer: usize,
    /// How long one TCP connect attempt may take.
    pub connect_timeout: Duration,
    /// Seed for the jitter (fixed in tests).
    pub seed: u64,
    /// Ask to resume sessions after a reconnect. Without it every reconnect is a new session:
    /// the at-most-once view, where events sent while away are simply gone.
    pub resume: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            reconnect: true,
            backoff: Backoff::default(),
            offline_buffer: 100,
            connect_timeout: Duration::from_secs(5),
            seed: rand::random(),
            resume: true,
        }
    }
}

/// A change in the client's connection, with its reason.
#[derive(Debug, Clone, PartialEq)]
pub enum Lifecycle {
    Connected {
        ns: String,
        sid: String,
        recovered: bool,
    },
    ConnectError {
        ns: String,
        message: String,
    },
    Disconnected {
        reason: String,
    },
    Reconnecting {
        attempt: u32,
        delay: Duration,
    },
    /// The server reported a protocol error before closing.
    ServerError {
        code: String,
        message: String,
    },
}

/// The state of one namespace, as [`Socket::status`] reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Connecting,
    Connected { sid: String, recovered: bool },
    Refused(String),
    Disconnected(String),
    Closed,
}

/// An event from the server, as a handler sees it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub ns: String,
    pub name: String,
    pub args: Vec<Value>,
    /// Set on reliable events.
    pub seq: Option<u64>,
    /// Set when the server asked for an ack; answer with [`AckReply::send`].
    pub ack: Option<AckReply>,
}

/// The way to answer an event that asked for an ack.
#[derive(Debug, Clone)]
pub struct AckReply {
    ns: String,
    id: u64,
    cmd: mpsc::UnboundedSender<Cmd>,
}

impl AckReply {
    pub fn send(&self, args: Vec<Value>) {
        let f = Frame::Ack {
            ns: self.ns.clone(),
            id: self.id,
            args,
        };
        let _ = self.cmd.send(Cmd::Raw(f));
    }
}

type Callback = Arc<dyn Fn(&Incoming) + Send + Sync>;

#[derive(Default)]
struct Handlers {
    named: HashMap<String, Callback>,
    any: Option<Callback>,
}

type AckTx = oneshot::Sender<Result<Vec<Value>, EventsError>>;

/// How an emit should travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Default,
    Volatile,
    Reliable,
}

struct Emit {
    name: String,
    args: Vec<Value>,
    kind: Kind,
    ack: Option<AckTx>,
}

enum Cmd {
    Open {
        ns: String,
        auth: Value,
        handlers: Arc<Mutex<Handlers>>,
        status: watch::Sender<Status>,
    },
    Emit {
        ns: String,
        emit: Emit,
        done: oneshot::Sender<Result<(), EventsError>>,
    },
    Raw(Frame),
    Leave {
        ns: String,
    },
    Drop {
        reason: String,
    },
    Close(Option<oneshot::Sender<()>>),
}

/// A connection to an event server (see the module docs).
#[derive(Clone)]
pub struct Client {
    cmd: mpsc::UnboundedSender<Cmd>,
    lifecycle: broadcast::Sender<Lifecycle>,
}

impl Client {
    /// Start connecting to `addr` in the background; open namespaces with [`Client::socket`].
    pub fn connect(addr: SocketAddr, opts: ClientOptions) -> Client {
        let (cmd, rx) = mpsc::unbounded_channel();
        let (lifecycle, _) = broadcast::channel(256);
        let driver = Driver {
            addr,
            rng: StdRng::seed_from_u64(opts.seed),
            opts,
            nss: Vec::new(),
            cmd_tx: cmd.clone(),
            lifecycle: lifecycle.clone(),
            next_ack: 1,
            ping_window: None,
        };
        tokio::spawn(driver.run(rx));
        Client { cmd, lifecycle }
    }

    /// Lifecycle events from now on.
    pub fn lifecycle(&self) -> broadcast::Receiver<Lifecycle> {
        self.lifecycle.subscribe()
    }

    /// Join namespace `ns` with `auth` (use `Value::Null` for none). Handlers can be added at
    /// once: events are only delivered after they are registered.
    pub fn socket(&self, ns: &str, auth: Value) -> Socket {
        let handlers = Arc::new(Mutex::new(Handlers::default()));
        let (status_tx, status) = watch::channel(Status::Connecting);
        let _ = self.cmd.send(Cmd::Open {
            ns: ns.to_string(),
            auth,
            handlers: handlers.clone(),
            status: status_tx,
        });
        Socket {
            ns: ns.to_string(),
            cmd: self.cmd.clone(),
            handlers,
            status,
        }
    }

    /// Drop the TCP connection as if the network failed (the client will reconnect): for demos
    /// and tests of the missed-events story.
    pub fn simulate_drop(&self, reason: &str) {
        let _ = self.cmd.send(Cmd::Drop {
            reason: reason.to_string(),
        });
    }

    /// Leave every namespace, close the connection for good, and wait until that is done
    /// (so that everything emitted before is on the wire).
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(Cmd::Close(Some(tx))).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), rx).await;
        }
    }
}

/// One namespace on a client connection.
#[derive(Clone)]
pub struct Socket {
    ns: String,
    cmd: mpsc::UnboundedSender<Cmd>,
    handlers: Arc<Mutex<Handlers>>,
    status: watch::Receiver<Status>,
}

impl Socket {
    pub fn ns(&self) -> &str {
        &self.ns
    }

    /// Handle the event `name`.
    pub fn on(&self, name: &str, f: impl Fn(&Incoming) + Send + Sync + 'static) {
        let mut h = self.handlers.lock().unwrap_or_else(|p| p.into_inner());
        h.named.insert(name.to_string(), Arc::new(f));
    }

    /// Handle every event (after its named handler, if any).
    pub fn on_any(&self, f: impl Fn(&Incoming) + Send + Sync + 'static) {
        let mut h = self.handlers.lock().unwrap_or_else(|p| p.into_inner());
        h.any = Some(Arc::new(f));
    }

    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Wait until the namespace is connected (or refused).
    pub async fn connected(&self, timeout: Duration) -> Result<Status, EventsError> {
        let mut rx = self.status.clone();
        let wait = rx.wait_for(|s| {
            matches!(
                s,
                Status::Connected { .. } | Status::Refused(_) | Status::Closed
            )
        });
        match tokio::time::timeout(timeout, wait).await {
            Err(_) => Err(EventsError::Timeout(
                timeout,
                "waiting for the namespace to connect",
            )),
            Ok(Err(_)) => Err(EventsError::ClientClosed),
            Ok(Ok(s)) => match &*s {
                Status::Refused(message) => Err(EventsError::ConnectRefused {
                    ns: self.ns.clone(),
                    message: message.clone(),
                }),
                Status::Closed => Err(EventsError::ClientClosed),
                other => Ok(other.clone()),
            },
        }
    }

    async fn send(
        &self,
        kind: Kind,
        name: &str,
        args: Vec<Value>,
        ack: Option<AckTx>,
    ) -> Result<(), EventsError> {
        let (done, rx) = oneshot::channel();
        let emit = Emit {
            name: name.to_string(),
            args,
            kind,
            ack,
        };
        self.cmd
            .send(Cmd::Emit {
                ns: self.ns.clone(),
                emit,
                done,
            })
            .map_err(|_| EventsError::ClientClosed)?;
        rx.await.map_err(|_| EventsError::ClientClosed)?
    }

    /// Emit (at most once; buffered while disconnected).
    pub async fn emit(&self, name: &str, args: Vec<Value>) -> Result<(), EventsError> {
        self.send(Kind::Default, name, args, None).await
    }

    /// Emit that may be dropped: never buffered while disconnected.
    pub async fn emit_volatile(&self, name: &str, args: Vec<Value>) -> Result<(), EventsError> {
        self.send(Kind::Volatile, name, args, None).await
    }

    /// Emit at least once: numbered, retried after reconnects until the server confirms it;
    /// the server deduplicates, so its handler runs once.
    pub async fn emit_reliable(&self, name: &str, args: Vec<Value>) -> Result<(), EventsError> {
        self.send(Kind::Reliable, name, args, None).await
    }

    /// Emit and wait for the server's ack; always resolves: the reply, a timeout, or an error.
    pub async fn emit_with_ack(
        &self,
        name: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> Result<Vec<Value>, EventsError> {
        let (tx, rx) = oneshot::channel();
        self.send(Kind::Default, name, args, Some(tx)).await?;
        match tokio::time::timeout(timeout, rx).await {
            Err(_) => Err(EventsError::AckTimeout(timeout)),
            Ok(Err(_)) => Err(EventsError::Disconnected),
            Ok(Ok(r)) => r,
        }
    }

    /// Leave the namespace (ends the session on the server).
    pub fn disconnect(&self) {
        let _ = self.cmd.send(Cmd::Leave {
            ns: self.ns.clone(),
        });
    }
}

/// Per-namespace state kept by the driver across reconnects.
struct Ns {
    name: String,
    auth: Value,
    handlers: Arc<Mutex<Handlers>>,
    status: watch::Sender<Status>,
    connected: bool,
    session: Option<String>,
    /// Highest reliable seq received from the server (cumulative).
    last_seq: u64,
    offline: VecDeque<Emit>,
    /// The client's own reliable emits not yet confirmed by the server.
    unconfirmed: VecDeque<(u64, String, Vec<Value>)>,
    next_reliable: u64,
    /// Ack id -> who waits for it (ids are per connection).
    acks: HashMap<u64, AckTx>,
}

struct Link {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    decoder: LineDecoder,
    last_rx: Instant,
}

struct Driver {
    addr: SocketAddr,
    opts: ClientOptions,
    rng: StdRng,
    nss: Vec<Ns>,
    cmd_tx: mpsc::UnboundedSender<Cmd>,
    lifecycle: broadcast::Sender<Lifecycle>,
    next_ack: u64,
    /// ping interval + timeout from `hello`: silence longer than this means the server is gone.
    ping_window: Option<Duration>,
}

/// Why a connection ended, from the driver's side.
enum Ended {
    Lost(String),
    Closed,
}

impl Driver {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        let mut attempt = 0u32;
        loop {
            let link = match tokio::time::timeout(
                self.opts.connect_timeout,
                TcpStream::connect(self.addr),
            )
            .await
            {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    let (rd, wr) = s.into_split();
                    Some(Link {
                        rd,
                        wr,
                        decoder: LineDecoder::new(DEFAULT_MAX_FRAME_BYTES),
                        last_rx: Instant::now(),
                    })
                }
                Ok(Err(e)) => {
                    tracing::debug!("connect to {} failed: {e}", self.addr);
                    None
                }
                Err(_) => None,
            };
            if let Some(link) = link {
                attempt = 0;
                match self.serve(link, &mut rx).await {
                    Ended::Closed => break,
                    Ended::Lost(reason) => {
                        self.lost(&reason);
                    }
                }
            }
            if !self.opts.reconnect {
                self.lost("reconnect disabled");
                break;
            }
            attempt += 1;
            let delay = self.opts.backoff.delay(attempt, &mut self.rng);
            let _ = self
                .lifecycle
                .send(Lifecycle::Reconnecting { attempt, delay });
            let until = Instant::now() + delay;
            // Keep taking commands while waiting: emits go to the offline buffer.
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => break,
                    cmd = rx.recv() => match cmd {
                        None | Some(Cmd::Close(_)) => { self.finish(); return; }
                        Some(cmd) => { self.offline_cmd(cmd); }
                    }
                }
            }
        }
        self.finish();
    }

    fn finish(&mut self) {
        for ns in &mut self.nss {
            let _ = ns.status.send(Status::Closed);
            ns.acks.clear();
        }
    }

    /// The connection is gone: namespaces are disconnected, waiting acks fail.
    fn lost(&mut self, reason: &str) {
        let _ = self.lifecycle.send(Lifecycle::Disconnected {
            reason: reason.to_string(),
        });
        for ns in &mut self.nss {
            ns.connected = false;
            ns.acks.clear();
            let _ = ns.status.send(Status::Disconnected(reason.to_string()));
        }
    }

    /// A command while there is no connection.
    fn offline_cmd(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Open {
                ns,
                auth,
                handlers,
                status,
            } => self.add_ns(ns, auth, handlers, status),
            Cmd::Emit { ns, emit, done } => {
                let r = self.buffer(&ns, emit);
                let _ = done.send(r);
            }
            Cmd::Leave { ns } => self.nss.retain(|n| n.name != ns),
            Cmd::Raw(_) | Cmd::Drop { .. } | Cmd::Close(_) => {}
        }
    }

    fn add_ns(
        &mut self,
        name: String,
        auth: Value,
        handlers: Arc<Mutex<Handlers>>,
        status: watch::Sender<Status>,
    ) {
        self.nss.push(Ns {
            name,
            auth,
            handlers,
            status,
            connected: false,
            session: None,
            last_seq: 0,
            offline: VecDeque::new(),
            unconfirmed: VecDeque::new(),
            next_reliable: 0,
            acks: HashMap::new(),
        });
    }

    /// Keep an emit for later. Reliable emits wait in `unconfirmed` (they are resent anyway).
    fn buffer(&mut self, ns: &str, emit: Emit) -> Result<(), EventsError> {
        let cap = self.opts.offline_buffer;
        let Some(n) = self.nss.iter_mut().find(|n| n.name == ns) else {
            return Err(EventsError::ClientClosed);
        };
        match emit.kind {
            Kind::Volatile => Ok(()),
            Kind::Reliable => {
                if n.unconfirmed.len() >= cap {
                    return Err(EventsError::OfflineBufferFull(cap));
                }
                n.next_reliable += 1;
                n.unconfirmed
                    .push_back((n.next_reliable, emit.name, emit.args));
                Ok(())
            }
            Kind::Default => {
                if n.offline.len() >= cap {
                    return Err(EventsError::OfflineBufferFull(cap));
                }
                n.offline.push_back(emit);
                Ok(())
            }
        }
    }

    async fn serve(&mut self, mut link: Link, rx: &mut mpsc::UnboundedReceiver<Cmd>) -> Ended {
        self.next_ack = 1;
        self.ping_window = None;
        if !self.opts.resume {
            for n in &mut self.nss {
                n.session = None;
            }
        }
        let connects: Vec<Frame> = self.nss.iter().map(connect_frame).collect();
        for f in connects {
            if let Err(e) = write(&mut link.wr, &f).await {
                return Ended::Lost(format!("transport error: {e}"));
            }
        }
        let mut buf = vec![0u8; 8192];
        loop {
            let silence = async {
                match self.ping_window {
                    Some(w) => tokio::time::sleep_until(link.last_rx + w).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = link.rd.read(&mut buf) => match r {
                    Ok(0) => return Ended::Lost("transport close".into()),
                    Err(e) => return Ended::Lost(format!("transport error: {e}")),
                    Ok(n) => {
                        link.last_rx = Instant::now();
                        link.decoder.feed(&buf[..n]);
                        loop {
                            match link.decoder.next_frame() {
                                Ok(Some(f)) => {
                                    if let Err(e) = self.on_frame(f, &mut link.wr).await {
                                        return Ended::Lost(e);
                                    }
                                }
                                Ok(None) => break,
                                Err(e) => return Ended::Lost(format!("bad frame from server: {e}")),
                            }
                        }
                    }
                },
                _ = silence => return Ended::Lost("ping timeout".into()),
                cmd = rx.recv() => match cmd {
                    None | Some(Cmd::Close(None)) => return self.close_link(link, None).await,
                    Some(Cmd::Close(Some(done))) => return self.close_link(link, Some(done)).await,
                    Some(Cmd::Drop { reason }) => return Ended::Lost(reason),
                    Some(cmd) => if let Err(e) = self.online_cmd(cmd, &mut link.wr).await {
                        return Ended::Lost(format!("transport error: {e}"));
                    }
                }
            }
        }
    }

    /// Leave every namespace politely, then close; `done` hears when the bytes are out.
    async fn close_link(&mut self, mut link: Link, done: Option<oneshot::Sender<()>>) -> Ended {
        let leaves: Vec<Frame> = self
            .nss
            .iter()
            .filter(|n| n.connected)
            .map(|n| Frame::Disconnect {
                ns: n.name.clone(),
                reason: None,
            })
            .collect();
        for f in leaves {
            let _ = write(&mut link.wr, &f).await;
        }
        let _ = link.wr.shutdown().await;
        self.lost("client closed");
        if let Some(done) = done {
            let _ = done.send(());
        }
        Ended::Closed
    }

    async fn online_cmd(&mut self, cmd: Cmd, wr: &mut OwnedWriteHalf) -> std::io::Result<()> {
        match cmd {
            Cmd::Open {
                ns,
                auth,
                handlers,
                status,
            } => {
                self.add_ns(ns, auth, handlers, status);
                let f = connect_frame(self.nss.last().expect("just added"));
                write(wr, &f).await
            }
            Cmd::Emit { ns, emit, done } => {
                let connected = self.nss.iter().any(|n| n.name == ns && n.connected);
                if !connected {
                    let _ = done.send(self.buffer(&ns, emit));
                    return Ok(());
                }
                let r = self.send_emit(&ns, emit, wr).await;
                let _ = done.send(Ok(()));
                r
            }
            Cmd::Raw(f) => write(wr, &f).await,
            Cmd::Leave { ns } => {
                self.nss.retain(|n| n.name != ns);
                write(wr, &Frame::Disconnect { ns, reason: None }).await
            }
            Cmd::Drop { .. } | Cmd::Close(_) => Ok(()),
        }
    }

    /// Send one emit on a connected namespace.
    async fn send_emit(
        &mut self,
        ns: &str,
        emit: Emit,
        wr: &mut OwnedWriteHalf,
    ) -> std::io::Result<()> {
        let Some(n) = self.nss.iter_mut().find(|n| n.name == ns) else {
            return Ok(());
        };
        let mut seq = None;
        if emit.kind == Kind::Reliable {
            n.next_reliable += 1;
            n.unconfirmed
                .push_back((n.next_reliable, emit.name.clone(), emit.args.clone()));
            seq = Some(n.next_reliable);
        }
        let ack = emit.ack.map(|tx| {
            let id = self.next_ack;
            self.next_ack += 1;
            n.acks.insert(id, tx);
            id
        });
        let f = Frame::Event {
            ns: ns.to_string(),
            name: emit.name,
            args: emit.args,
            ack,
            seq,
        };
        write(wr, &f).await
    }

    async fn on_frame(&mut self, f: Frame, wr: &mut OwnedWriteHalf) -> Result<(), String> {
        let io = |e: std::io::Error| format!("transport error: {e}");
        match f {
            Frame::Hello {
                ping_interval_ms,
                ping_timeout_ms,
                ..
            } => {
                self.ping_window = Some(Duration::from_millis(ping_interval_ms + ping_timeout_ms));
            }
            Frame::Ping => write(wr, &Frame::Pong).await.map_err(io)?,
            Frame::Connected {
                ns,
                sid,
                session,
                recovered,
            } => {
                self.on_connected(&ns, sid, session, recovered, wr)
                    .await
                    .map_err(io)?;
            }
            Frame::ConnectError { ns, message } => {
                if let Some(n) = self.nss.iter_mut().find(|n| n.name == ns) {
                    let _ = n.status.send(Status::Refused(message.clone()));
                }
                let _ = self.lifecycle.send(Lifecycle::ConnectError { ns, message });
            }
            Frame::Event {
                ns,
                name,
                args,
                ack,
                seq,
            } => {
                self.on_event(ns, name, args, ack, seq, wr)
                    .await
                    .map_err(io)?;
            }
            Frame::Ack { ns, id, args } => {
                if let Some(tx) = self
                    .nss
                    .iter_mut()
                    .find(|n| n.name == ns)
                    .and_then(|n| n.acks.remove(&id))
                {
                    let _ = tx.send(Ok(args));
                } else {
                    tracing::debug!(ns, id, "late or unknown ack ignored");
                }
            }
            Frame::Received { ns, seq } => {
                if let Some(n) = self.nss.iter_mut().find(|n| n.name == ns) {
                    while n.unconfirmed.front().is_some_and(|(s, _, _)| *s <= seq) {
                        n.unconfirmed.pop_front();
                    }
                }
            }
            Frame::Disconnect { ns, reason } => {
                let reason = reason.unwrap_or_else(|| "server namespace disconnect".into());
                if let Some(n) = self.nss.iter_mut().find(|n| n.name == ns) {
                    n.connected = false;
                    n.session = None;
                    let _ = n.status.send(Status::Disconnected(reason.clone()));
                }
                let _ = self.lifecycle.send(Lifecycle::Disconnected { reason });
            }
            Frame::Error { code, message } => {
                let _ = self.lifecycle.send(Lifecycle::ServerError {
                    code: code.clone(),
                    message: message.clone(),
                });
                return Err(format!("server error {code}: {message}"));
            }
            Frame::Connect { .. } | Frame::Pong => {}
        }
        Ok(())
    }

    async fn on_connected(
        &mut self,
        ns: &str,
        sid: String,
        session: String,
        recovered: bool,
        wr: &mut OwnedWriteHalf,
    ) -> std::io::Result<()> {
        let Some(n) = self.nss.iter_mut().find(|n| n.name == ns) else {
            return Ok(());
        };
        n.connected = true;
        n.session = Some(session);
        if !recovered {
            // A new session: the server knows nothing of our numbering. Start again from 1
            // (the events it lost for us are gone; the application should resync).
            n.last_seq = 0;
            let mut seq = 0;
            for (s, _, _) in n.unconfirmed.iter_mut() {
                seq += 1;
                *s = seq;
            }
            n.next_reliable = seq;
        }
        let _ = n.status.send(Status::Connected {
            sid: sid.clone(),
            recovered,
        });
        let _ = self.lifecycle.send(Lifecycle::Connected {
            ns: ns.to_string(),
            sid,
            recovered,
        });
        // Retry unconfirmed reliable emits first (in order), then the offline buffer.
        let retries: Vec<Frame> = n
            .unconfirmed
            .iter()
            .map(|(seq, name, args)| Frame::Event {
                ns: ns.to_string(),
                name: name.clone(),
                args: args.clone(),
                ack: None,
                seq: Some(*seq),
            })
            .collect();
        let offline: Vec<Emit> = n.offline.drain(..).collect();
        for f in retries {
            write(wr, &f).await?;
        }
        for emit in offline {
            self.send_emit(ns, emit, wr).await?;
        }
        Ok(())
    }

    async fn on_event(
        &mut self,
        ns: String,
        name: String,
        args: Vec<Value>,
        ack: Option<u64>,
        seq: Option<u64>,
        wr: &mut OwnedWriteHalf,
    ) -> std::io::Result<()> {
        let Some(n) = self.nss.iter_mut().find(|n| n.name == ns) else {
            return Ok(());
        };
        if let Some(s) = seq {
            if s <= n.last_seq {
                // A replay of something we already have.
                return write(
                    wr,
                    &Frame::Received {
                        ns,
                        seq: n.last_seq,
                    },
                )
                .await;
            }
            n.last_seq = s;
        }
        let ev = Incoming {
            ns: ns.clone(),
            name,
            args,
            seq,
            ack: ack.map(|id| AckReply {
                ns: ns.clone(),
                id,
                cmd: self.cmd_tx.clone(),
            }),
        };
        let (named, any) = {
            let h = n.handlers.lock().unwrap_or_else(|p| p.into_inner());
            (h.named.get(&ev.name).cloned(), h.any.clone())
        };
        if named.is_none() && any.is_none() {
            tracing::debug!(ns = ev.ns, name = ev.name, "no handler: event dropped");
        }
        if let Some(f) = named {
            f(&ev);
        }
        if let Some(f) = any {
            f(&ev);
        }
        if let Some(s) = seq {
            write(wr, &Frame::Received { ns, seq: s }).await?;
        }
        Ok(())
    }
}

fn connect_frame(n: &Ns) -> Frame {
    Frame::Connect {
        ns: n.name.clone(),
        auth: (!n.auth.is_null()).then(|| n.auth.clone()),
        resume: n.session.as_ref().map(|s| Resume {
            session: s.clone(),
            seq: n.last_seq,
        }),
    }
}

async fn write(wr: &mut OwnedWriteHalf, f: &Frame) -> std::io::Result<()> {
    wr.write_all(&encode_line(f)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_rises_from_one_to_five_seconds_with_jitter() {
        let b = Backoff::default();
        let mut rng = StdRng::seed_from_u64(7);
        let no_jitter = Backoff {
            jitter: 0.0,
            ..b.clone()
        };
        let bases: Vec<u64> = (1..=5)
            .map(|a| no_jitter.delay(a, &mut rng).as_millis() as u64)
            .collect();
        assert_eq!(bases, [1000, 2000, 4000, 5000, 5000]);
        for attempt in 1..=20 {
            let d = b.delay(attempt, &mut rng).as_secs_f64();
            let base = (2f64.powi(attempt as i32 - 1)).min(5.0);
            assert!(d >= base * 0.5 - 1e-9 && d <= 5.0, "attempt {attempt}: {d}");
        }
        // Jitter actually spreads: two seeds give different first delays.
        let a = b.delay(1, &mut StdRng::seed_from_u64(1));
        let c = b.delay(1, &mut StdRng::seed_from_u64(2));
        assert_ne!(a, c);
    }
}
