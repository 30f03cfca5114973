//! The client library: one connection, several namespaces, socket.io-style emit/on.
//!
//! The protocol logic lives in [`core`] ([`ClientCore`]: frames in, frames and events out, no
//! I/O, no clock). This file is its driver: a task that owns the TCP connection, feeds the core
//! what it reads and the commands of the [`Client`] and [`Socket`] handles, writes what the core
//! wants written, and hands its events to handlers, status watchers and ack waiters. What a client
//! does for you:
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

pub mod core;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;

pub use self::core::{AckLost, AckToken, ClientCore, ClientEvent, CoreOptions};
use crate::codec::{DEFAULT_MAX_FRAME_BYTES, LineDecoder, encode_line};
use crate::core::Delivery;
use crate::error::EventsError;
use crate::frame::FrameError;
use crate::server::now;

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
    /// The server did not carry out one of our events (`name`) and said why; the connection
    /// stays up. `code` is `too_large` when what the event would make the server send is over
    /// `max_frame_bytes` (a chat message that fits, but not once wrapped with name and room).
    Refused {
        ns: String,
        name: String,
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
        let _ = self.cmd.send(Cmd::Ack {
            ns: self.ns.clone(),
            id: self.id,
            args,
        });
    }
}

type Callback = Arc<dyn Fn(&Incoming) + Send + Sync>;

#[derive(Default)]
struct Handlers {
    named: HashMap<String, Callback>,
    any: Option<Callback>,
}

type AckTx = oneshot::Sender<Result<Vec<Value>, EventsError>>;

struct Emit {
    name: String,
    args: Vec<Value>,
    delivery: Delivery,
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
    Ack {
        ns: String,
        id: u64,
        args: Vec<Value>,
    },
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
            core: ClientCore::new(CoreOptions {
                offline_buffer: opts.offline_buffer,
                resume: opts.resume,
            }),
            opts,
            faces: HashMap::new(),
            acks: HashMap::new(),
            cmd_tx: cmd.clone(),
            lifecycle: lifecycle.clone(),
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
        delivery: Delivery,
        name: &str,
        args: Vec<Value>,
        ack: Option<AckTx>,
    ) -> Result<(), EventsError> {
        let (done, rx) = oneshot::channel();
        let emit = Emit {
            name: name.to_string(),
            args,
            delivery,
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
        self.send(Delivery::Default, name, args, None).await
    }

    /// Emit that may be dropped: never buffered while disconnected.
    pub async fn emit_volatile(&self, name: &str, args: Vec<Value>) -> Result<(), EventsError> {
        self.send(Delivery::Volatile, name, args, None).await
    }

    /// Emit at least once: numbered, retried after reconnects until the server confirms it;
    /// the server deduplicates, so its handler runs once.
    pub async fn emit_reliable(&self, name: &str, args: Vec<Value>) -> Result<(), EventsError> {
        self.send(Delivery::Reliable, name, args, None).await
    }

    /// Emit and wait for the server's ack; always resolves: the reply, a timeout, or an error.
    pub async fn emit_with_ack(
        &self,
        name: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> Result<Vec<Value>, EventsError> {
        let (tx, rx) = oneshot::channel();
        self.send(Delivery::Default, name, args, Some(tx)).await?;
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

/// What the driver keeps per namespace beside the core: the application's side of it.
struct Face {
    handlers: Arc<Mutex<Handlers>>,
    status: watch::Sender<Status>,
}

struct Driver {
    addr: SocketAddr,
    opts: ClientOptions,
    rng: StdRng,
    core: ClientCore,
    faces: HashMap<String, Face>,
    /// Who waits for each ack the core will report.
    acks: HashMap<AckToken, AckTx>,
    cmd_tx: mpsc::UnboundedSender<Cmd>,
    lifecycle: broadcast::Sender<Lifecycle>,
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
            let stream = match tokio::time::timeout(
                self.opts.connect_timeout,
                TcpStream::connect(self.addr),
            )
            .await
            {
                Ok(Ok(s)) => Some(s),
                Ok(Err(e)) => {
                    tracing::debug!("connect to {} failed: {e}", self.addr);
                    None
                }
                Err(_) => None,
            };
            if let Some(stream) = stream {
                attempt = 0;
                match self.serve(stream, &mut rx).await {
                    Ended::Closed => break,
                    Ended::Lost(reason) => self.link_down(&reason),
                }
            }
            if !self.opts.reconnect {
                self.all_down("reconnect disabled");
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
                        Some(cmd) => self.command(cmd),
                    }
                }
            }
        }
        self.finish();
    }

    /// The client is done: every namespace is closed, every ack waiter hears "disconnected".
    fn finish(&mut self) {
        for face in self.faces.values() {
            let _ = face.status.send(Status::Closed);
        }
        self.acks.clear();
    }

    fn link_down(&mut self, reason: &str) {
        self.core.link_down(reason);
        self.deliver();
    }

    /// Talk to the server over one connection until it ends.
    async fn serve(&mut self, stream: TcpStream, rx: &mut mpsc::UnboundedReceiver<Cmd>) -> Ended {
        let _ = stream.set_nodelay(true);
        let (mut rd, mut wr) = stream.into_split();
        let mut decoder = LineDecoder::new(DEFAULT_MAX_FRAME_BYTES);
        let mut buf = vec![0u8; 8192];
        self.core.link_up(now());
        loop {
            // Events first, then frames: a `received` leaves after its handler ran.
            self.deliver();
            if let Err(e) = self.flush(&mut wr).await {
                return Ended::Lost(format!("transport error: {e}"));
            }
            let silence = async {
                match self.core.poll_timeout() {
                    Some(t) => tokio::time::sleep_until(Instant::from_std(t)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = rd.read(&mut buf) => match r {
                    Ok(0) => return Ended::Lost("transport close".into()),
                    Err(e) => return Ended::Lost(format!("transport error: {e}")),
                    Ok(n) => {
                        decoder.feed(&buf[..n]);
                        if let Err(reason) = self.read_frames(&mut decoder) {
                            return Ended::Lost(reason);
                        }
                    }
                },
                _ = silence => if let Err(reason) = self.core.handle_timeout(now()) {
                    return Ended::Lost(reason);
                },
                cmd = rx.recv() => match cmd {
                    None | Some(Cmd::Close(None)) => return self.close_link(wr, None).await,
                    Some(Cmd::Close(Some(done))) => return self.close_link(wr, Some(done)).await,
                    Some(Cmd::Drop { reason }) => return Ended::Lost(reason),
                    Some(cmd) => self.command(cmd),
                }
            }
        }
    }

    /// Hand every complete frame to the core. `Err` ends the connection.
    fn read_frames(&mut self, decoder: &mut LineDecoder) -> Result<(), String> {
        loop {
            match decoder.next_frame() {
                Ok(Some(f)) => {
                    let r = self.core.handle_frame(f, now());
                    // The server's limit binds what it sends too: never refuse a line it may send.
                    decoder.set_max(self.core.max_frame_bytes().max(DEFAULT_MAX_FRAME_BYTES));
                    if r.is_err() {
                        self.deliver();
                    }
                    r?;
                }
                Ok(None) => return Ok(()),
                // A frame type from a later version of the protocol: skip it (protocol.md,
                // "Frames"), so that a server may add frames without breaking this client.
                Err(FrameError::UnknownType(kind)) => {
                    tracing::debug!(kind, "unknown frame type from the server ignored");
                }
                Err(e) => return Err(format!("bad frame from server: {e}")),
            }
        }
    }

    /// Write everything the core wants written, in one go.
    async fn flush(&mut self, wr: &mut OwnedWriteHalf) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        while let Some(f) = self.core.poll_transmit() {
            bytes.extend_from_slice(&encode_line(&f));
        }
        if bytes.is_empty() {
            return Ok(());
        }
        wr.write_all(&bytes).await
    }

    /// Leave every namespace politely, then close; `done` hears when the bytes are out.
    async fn close_link(
        &mut self,
        mut wr: OwnedWriteHalf,
        done: Option<oneshot::Sender<()>>,
    ) -> Ended {
        self.core.close();
        let _ = self.flush(&mut wr).await;
        let _ = wr.shutdown().await;
        self.link_down("client closed");
        if let Some(done) = done {
            let _ = done.send(());
        }
        Ended::Closed
    }

    /// A command from a handle, with or without a connection: the core knows which.
    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Open {
                ns,
                auth,
                handlers,
                status,
            } => {
                self.core.open(&ns, auth);
                self.faces.insert(ns, Face { handlers, status });
            }
            Cmd::Emit { ns, emit, done } => {
                let want_ack = emit.ack.is_some();
                let r = self
                    .core
                    .emit(&ns, &emit.name, emit.args, emit.delivery, want_ack);
                let r = r.map(|token| {
                    if let (Some(token), Some(tx)) = (token, emit.ack) {
                        self.acks.insert(token, tx);
                    }
                });
                let _ = done.send(r);
                // An offline volatile emit with an ack fails at once: tell the waiter now.
                self.deliver();
            }
            Cmd::Ack { ns, id, args } => self.core.ack(&ns, id, args),
            Cmd::Leave { ns } => {
                self.core.leave(&ns);
                self.faces.remove(&ns);
                self.deliver();
            }
            Cmd::Drop { .. } | Cmd::Close(_) => {}
        }
    }

    /// Hand the core's events to the application: statuses, lifecycle, handlers, ack waiters.
    fn deliver(&mut self) {
        while let Some(ev) = self.core.poll_event() {
            match ev {
                ClientEvent::Connected { ns, sid, recovered } => {
                    self.set_status(
                        &ns,
                        Status::Connected {
                            sid: sid.clone(),
                            recovered,
                        },
                    );
                    let _ = self
                        .lifecycle
                        .send(Lifecycle::Connected { ns, sid, recovered });
                }
                ClientEvent::ConnectError { ns, message } => {
                    self.set_status(&ns, Status::Refused(message.clone()));
                    let _ = self.lifecycle.send(Lifecycle::ConnectError { ns, message });
                }
                ClientEvent::NsDisconnected { ns, reason } => {
                    self.set_status(&ns, Status::Disconnected(reason.clone()));
                    let _ = self.lifecycle.send(Lifecycle::Disconnected { reason });
                }
                ClientEvent::LinkDown { reason } => self.all_down(&reason),
                ClientEvent::ServerError { code, message } => {
                    let _ = self
                        .lifecycle
                        .send(Lifecycle::ServerError { code, message });
                }
                ClientEvent::Refused {
                    ns,
                    name,
                    code,
                    message,
                } => {
                    let _ = self.lifecycle.send(Lifecycle::Refused {
                        ns,
                        name,
                        code,
                        message,
                    });
                }
                ClientEvent::AckResult { token, result } => {
                    if let Some(tx) = self.acks.remove(&token) {
                        let _ = tx.send(
                            result.map_err(|AckLost::Disconnected| EventsError::Disconnected),
                        );
                    }
                }
                ClientEvent::Event {
                    ns,
                    name,
                    args,
                    seq,
                    ack,
                } => self.run_handlers(Incoming {
                    ack: ack.map(|id| AckReply {
                        ns: ns.clone(),
                        id,
                        cmd: self.cmd_tx.clone(),
                    }),
                    ns,
                    name,
                    args,
                    seq,
                }),
            }
        }
    }

    /// Every namespace is disconnected, for `reason`.
    fn all_down(&self, reason: &str) {
        let _ = self.lifecycle.send(Lifecycle::Disconnected {
            reason: reason.to_string(),
        });
        for face in self.faces.values() {
            let _ = face.status.send(Status::Disconnected(reason.to_string()));
        }
    }

    fn set_status(&self, ns: &str, status: Status) {
        if let Some(face) = self.faces.get(ns) {
            let _ = face.status.send(status);
        }
    }

    fn run_handlers(&self, ev: Incoming) {
        let Some(face) = self.faces.get(&ev.ns) else {
            return;
        };
        let (named, any) = {
            let h = face.handlers.lock().unwrap_or_else(|p| p.into_inner());
            (h.named.get(&ev.name).cloned(), h.any.clone())
        };
        if named.is_none() && any.is_none() {
            tracing::debug!(ns = ev.ns, name = ev.name, "no handler: event dropped");
        }
        // A panicking handler must not take the whole client down with it: log it and go on.
        for f in [named, any].into_iter().flatten() {
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&ev)));
            if let Err(p) = ran {
                let panic = crate::core::panic_message(&*p);
                tracing::error!(
                    ns = ev.ns,
                    name = ev.name,
                    "an event handler panicked: {panic}"
                );
            }
        }
    }
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
