//! The TCP transport: JSON lines over TCP, around the core.
//!
//! [`Hub`] is the transport-neutral half: the core and the store behind one lock, plus a way to
//! wake each connection's writer. Every transport (TCP here; WebSocket and HTTP long-polling
//! later) does the same three things with it: `open`, feed decoded frames to `step`, and write
//! what `poll_transmit` returns when woken. The TCP half is the accept loop and two tasks per
//! connection:
//! - the reader decodes lines and feeds frames to the core; it also times out a partial line
//!   that never ends (slowloris) with the error `frame_timeout`;
//! - the writer writes queued frames when woken and runs the connection's timers (heartbeat,
//!   ack timeouts). A write that stalls longer than the ping timeout means the client is not
//!   reading: the connection is closed with "send buffer full", like a full queue.
//!
//! After a close we asked for, the reader keeps draining input briefly so that the kernel does
//! not answer unread bytes with a reset that would destroy the error frame in flight.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant as TokioInstant;

use crate::codec::{LineDecoder, encode_line};
use crate::core::{AckError, ConnId, Core, Note, panic_message};
use crate::error::EventsError;
use crate::frame::{Frame, FrameError};
use crate::limits::{AcceptBackoff, Admission, Limits, Permit, Refusal};
use crate::store::Store;

/// Frames written per wake-up before the writer yields to the core lock again.
const WRITE_BATCH: usize = 64;

/// How long the reader keeps draining after a server-side close (see module docs).
const LINGER: Duration = Duration::from_millis(500);

/// The current time for the core: tokio's clock, so `tokio::time::pause` drives it in tests.
pub fn now() -> std::time::Instant {
    TokioInstant::now().into_std()
}

/// What `--trace` sees.
#[derive(Debug, Clone)]
pub enum Trace {
    Open { conn: ConnId, peer: SocketAddr },
    In { conn: ConnId, frame: Frame },
    Out { conn: ConnId, frame: Arc<Frame> },
    Note(Note),
    Closed { conn: ConnId, reason: String },
}

pub type TraceSink = Arc<dyn Fn(Trace) + Send + Sync>;

struct State {
    core: Core,
    store: Option<Box<dyn Store>>,
}

/// The core, its store, and the writers to wake: shared by every connection of every transport.
pub struct Hub {
    state: Mutex<State>,
    writers: Mutex<HashMap<ConnId, Arc<Notify>>>,
    trace: Option<TraceSink>,
    /// Why the server stopped serving on its own (its store failed); `None` while it serves.
    failed: watch::Sender<Option<String>>,
    /// The connection limits every transport applies (see [`Hub::admit`]).
    admission: Admission,
    /// `accept` calls that failed (out of descriptors, usually), for tests and the curious.
    accept_failures: AtomicU64,
}

/// The `error` frame's code when the store fails (docs/src/protocol.md).
pub const STORE_FAILED: &str = "store_failed";

/// What every client is told when the store fails. The store's own error stays in the server's
/// log: it names server paths that are none of the client's business.
const STORE_FAILED_MESSAGE: &str = "the server could not write to its store, so it stopped \
     rather than send events a restart would lose; reconnect with your session once it is back";

impl Hub {
    /// A hub around `core` (its namespaces installed), persisting to `store` if given, admitting
    /// connections under `limits`. Give the same hub to every transport ([`Server::bind_hub`],
    /// netlab-web's HTTP server) so that they share one set of sessions, rooms and limits.
    pub fn new(
        mut core: Core,
        store: Option<Box<dyn Store>>,
        trace: Option<TraceSink>,
        limits: Limits,
    ) -> Arc<Self> {
        core.set_persist(store.is_some());
        Arc::new(Hub {
            state: Mutex::new(State { core, store }),
            writers: Mutex::new(HashMap::new()),
            trace,
            failed: watch::Sender::new(None),
            admission: Admission::new(limits),
            accept_failures: AtomicU64::new(0),
        })
    }

    /// Admit a connection from `peer` under the limits (total and per address), before
    /// [`Hub::open`]: keep the permit for the connection's life. A refusal is the `error` frame
    /// to send before closing. Every transport calls this, so the limits hold across them.
    pub fn admit(&self, peer: std::net::IpAddr) -> Result<Permit, Refusal> {
        self.admission.admit(peer)
    }

    /// The limits [`Hub::admit`] applies.
    pub fn limits(&self) -> Limits {
        self.admission.limits()
    }

    /// Run `f` on the core, then persist its store ops, then wake the writers it queued for.
    /// The order matters: a reliable event is stored before any client can have seen it.
    ///
    /// If the store refuses the ops (a full disk, say), this step's frames are not on disk, so
    /// none of them may go out: every queued frame is dropped, every connection gets an `error`
    /// frame `store_failed` and is closed, and the server stops (see [`Hub::failed`]). From then
    /// on each step does the same to whatever it opened, and nothing is written to the store.
    pub fn step<R>(&self, f: impl FnOnce(&mut Core, std::time::Instant) -> R) -> R {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = now();
        let r = f(&mut st.core, now);
        let ops = st.core.take_store_ops();
        if self.failed.borrow().is_some() {
            st.core.abort(STORE_FAILED, STORE_FAILED_MESSAGE, now);
            st.core.take_store_ops();
        } else if !ops.is_empty()
            && let Some(store) = st.store.as_mut()
            && let Err(e) = store.apply(&ops)
        {
            tracing::error!("store write failed; stopping the server: {e}");
            st.core.abort(STORE_FAILED, STORE_FAILED_MESSAGE, now);
            st.core.take_store_ops();
            self.failed.send_replace(Some(e.to_string()));
        }
        let wake = st.core.take_wakeups();
        let notes = st.core.take_notes();
        drop(st);
        if let Some(t) = &self.trace {
            notes.into_iter().for_each(|n| t(Trace::Note(n)));
        }
        if !wake.is_empty() {
            let writers = self.writers.lock().unwrap_or_else(|p| p.into_inner());
            for conn in wake {
                if let Some(n) = writers.get(&conn) {
                    n.notify_one();
                }
            }
        }
        r
    }

    /// Register a new connection; its writer waits on the returned `Notify`.
    pub fn open(&self) -> (ConnId, Arc<Notify>) {
        let notify = Arc::new(Notify::new());
        let conn = self.step(|c, now| c.open(now));
        self.writers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(conn, notify.clone());
        // `open` queued the hello before the writer was registered: make sure it is written.
        notify.notify_one();
        (conn, notify)
    }

    /// Becomes `Some(why)` when the server stops serving on its own because its store failed.
    pub fn failed(&self) -> watch::Receiver<Option<String>> {
        self.failed.subscribe()
    }

    /// One decoded frame from connection `conn`. A panic inside the core is contained: it is
    /// logged with the frame's kind and names, and only this connection is closed (with an
    /// `internal_error` frame); the lock is recovered and every other connection carries on.
    pub fn receive(&self, conn: ConnId, frame: Frame) {
        self.trace(|| Trace::In {
            conn,
            frame: frame.clone(),
        });
        let about = describe(&frame);
        self.step_for(conn, &about, |c, now| c.receive(conn, frame, now));
    }

    /// The transport could not decode what connection `conn` sent: error frame, then close.
    pub fn decode_error(&self, conn: ConnId, err: &FrameError) {
        self.step_for(conn, "an undecodable line", |c, now| {
            c.decode_error(conn, err, now)
        });
    }

    /// [`Hub::step`] on behalf of one connection, with a panic in `f` contained (see
    /// [`Hub::receive`]).
    pub fn step_for(
        &self,
        conn: ConnId,
        about: &str,
        f: impl FnOnce(&mut Core, std::time::Instant),
    ) {
        let ran = self.step(|c, now| catch_unwind(AssertUnwindSafe(|| f(c, now))));
        if let Err(panic) = ran {
            let panic = panic_message(&*panic);
            tracing::error!(conn, frame = about, "the event core panicked: {panic}");
            let msg = "the server hit an internal error handling your frame; reconnect to carry on";
            let closed = self.step(|c, now| {
                catch_unwind(AssertUnwindSafe(|| {
                    c.protocol_error(conn, "internal_error", msg, now)
                }))
            });
            if closed.is_err() {
                tracing::error!(conn, "closing after a panic panicked too");
            }
        }
    }

    /// Frames waiting in `conn`'s send queue: a transport stops reading a client's input while
    /// its queue is past half full (see `read_loop`).
    pub fn backlog(&self, conn: ConnId) -> usize {
        // A read, not a step: nothing to store or wake, so just the lock (this runs per read).
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.core.backlog(conn)
    }

    /// The transport of `conn` is gone for good: tell the core (sessions stay resumable) and
    /// stop waking its writer. Call it once per connection, after its last write.
    pub fn forget(&self, conn: ConnId, reason: &str) {
        self.step(|c, now| c.closed(conn, reason, now));
        self.writers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&conn);
        if let Some(t) = &self.trace {
            t(Trace::Closed {
                conn,
                reason: reason.to_string(),
            });
        }
    }

    /// Hand a trace record to `--trace`, if it is on (`t` runs only then).
    pub fn trace(&self, t: impl FnOnce() -> Trace) {
        if let Some(sink) = &self.trace {
            sink(t());
        }
    }
}

/// A cheap, cloneable handle for the application: emit from outside handlers, inspect the core.
#[derive(Clone)]
pub struct ServerHandle {
    hub: Arc<Hub>,
}

impl ServerHandle {
    /// Run `f` on the core (store ops and wake-ups are handled afterwards).
    /// `f` must not call back into this handle: the core lock is held.
    pub fn with<R>(&self, f: impl FnOnce(&mut Core, std::time::Instant) -> R) -> R {
        self.hub.step(f)
    }

    /// Emit to one socket and wait for its ack; always resolves (ack, timeout or disconnect).
    pub async fn emit_with_ack(
        &self,
        sid: &str,
        name: &str,
        args: Vec<serde_json::Value>,
        timeout: Duration,
    ) -> Result<Vec<serde_json::Value>, AckError> {
        let (tx, rx) = oneshot::channel();
        self.hub.step(|c, now| {
            c.emit_with_ack(
                sid,
                name,
                args,
                timeout,
                now,
                Box::new(move |r| {
                    let _ = tx.send(r);
                }),
            )
        });
        rx.await.unwrap_or(Err(AckError::Disconnected))
    }
}

impl Hub {
    /// A hub whose core first gets back what `opts.store` kept (sessions and reliable logs).
    pub fn restored(mut core: Core, mut opts: ServerOptions) -> Result<Arc<Hub>, EventsError> {
        if let Some(store) = opts.store.as_mut() {
            core.restore(store.load()?, now());
        }
        Ok(Hub::new(core, opts.store, opts.trace, opts.limits))
    }

    /// A handle on this hub for the application (emit from outside handlers, read stats).
    pub fn handle(self: &Arc<Self>) -> ServerHandle {
        ServerHandle { hub: self.clone() }
    }
}

/// Options of the TCP server beyond the core's own [`crate::core::Config`].
#[derive(Default)]
pub struct ServerOptions {
    pub store: Option<Box<dyn Store>>,
    pub trace: Option<TraceSink>,
    /// Connections in all and per address (`--max-connections`, `--max-connections-per-peer`).
    pub limits: Limits,
}

/// A running TCP event server.
pub struct Server {
    addr: SocketAddr,
    handle: ServerHandle,
    shutdown: watch::Sender<bool>,
    accept: JoinHandle<()>,
    sweep: JoinHandle<()>,
}

impl Server {
    /// Bind `addr` (port 0 for any free port), restore what the store kept, start serving.
    pub async fn bind(
        addr: SocketAddr,
        core: Core,
        opts: ServerOptions,
    ) -> Result<Server, EventsError> {
        Server::bind_hub(addr, Hub::restored(core, opts)?).await
    }

    /// Bind `addr` and serve the connections it accepts through `hub`, which other transports
    /// may share (`netlab events serve` gives the same hub to its HTTP listener).
    pub async fn bind_hub(addr: SocketAddr, hub: Arc<Hub>) -> Result<Server, EventsError> {
        if !addr.ip().is_loopback() {
            tracing::warn!("binding {addr}: reachable from other machines, not just this one");
        }
        let listener = listen(addr).map_err(|source| EventsError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let addr = listener.local_addr()?;
        let (shutdown, rx) = watch::channel(false);
        let accept = tokio::spawn(accept_loop(listener, hub.clone(), rx.clone()));
        let sweep = tokio::spawn(sweep_loop(hub.clone(), rx));
        Ok(Server {
            addr,
            handle: ServerHandle { hub },
            shutdown,
            accept,
            sweep,
        })
    }

    /// Completes if the server stops on its own, with why: its store failed, and serving on
    /// would send events that are not on disk (see [`Hub::step`]). Pending while all is well.
    pub async fn failure(&self) -> EventsError {
        let mut failed = self.handle.hub.failed();
        // The hub (the sender) lives as long as `self` holds a handle to it, so this only
        // returns once a failure is set.
        let why = failed
            .wait_for(Option::is_some)
            .await
            .map(|why| why.clone());
        EventsError::Stopped(why.ok().flatten().unwrap_or_default())
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many times `accept` failed (out of descriptors, usually) since the server started.
    pub fn accept_failures(&self) -> u64 {
        self.handle.hub.accept_failures.load(Ordering::Relaxed)
    }

    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// The hub this server feeds, to share with another transport.
    pub fn hub(&self) -> Arc<Hub> {
        self.handle.hub.clone()
    }

    /// Stop accepting, tell every socket "server shutting down", and close all connections.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.accept.await;
        let _ = self.sweep.await;
        say_goodbye(&self.handle.hub).await;
    }
}

/// Tell every connection of every transport "server shutting down", then give their writers up
/// to a second to flush that frame before the process goes away.
pub async fn say_goodbye(hub: &Hub) {
    hub.step(|c, now| c.shutdown("server shutting down", now));
    for _ in 0..100 {
        if hub.step(|c, _| c.connection_count()) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How many finished handshakes may wait for `accept`. tokio's `TcpListener::bind` asks for
/// 128; a class of clients reconnecting at once (or the 1,000-client test) overflows that, and
/// an overflowed handshake can look complete to the client while the server never sees it.
const ACCEPT_BACKLOG: u32 = 4096;

/// A listening socket with the backlog and SO_REUSEADDR every netlab server wants (the web
/// transports bind theirs here too).
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Rebinding the port of a server that just stopped (a restart) must not fail on TIME-WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

async fn accept_loop(listener: TcpListener, hub: Arc<Hub>, mut stop: watch::Receiver<bool>) {
    let mut failed = hub.failed();
    let mut backoff = AcceptBackoff::default();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let failures = backoff.succeeded();
                    if failures > 0 {
                        tracing::warn!("accepting connections again after {failures} failed attempts");
                    }
                    let _ = stream.set_nodelay(true);
                    match hub.admit(peer.ip()) {
                        Ok(permit) => {
                            tokio::spawn(connection(stream, peer, hub.clone(), permit));
                        }
                        Err(refusal) => {
                            tokio::spawn(refuse(stream, peer, refusal));
                        }
                    }
                }
                // Out of file descriptors, usually (EMFILE): the waiting connections stay in the
                // backlog. Wait (longer each time, see limits.rs) instead of retrying at once.
                Err(e) => {
                    hub.accept_failures.fetch_add(1, Ordering::Relaxed);
                    let (wait, log) = backoff.failed(std::time::Instant::now());
                    if log {
                        tracing::warn!(
                            "accept failed: {e}; out of file descriptors? (ulimit -n; lower --max-connections) retrying in up to {wait:?}"
                        );
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => return,
                    }
                }
            },
            _ = stop.changed() => return,
            // A server that cannot store takes no new clients (dropping the listener).
            _ = async { failed.wait_for(Option::is_some).await.map(|_| ()) } => return,
        }
    }
}

/// Once a second, expire what the reliable logs' age bound says (see [`Core::sweep`]). Every
/// server sharing a hub may run one: a second sweep finds nothing left to do.
pub async fn sweep_loop(hub: Arc<Hub>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => hub.step(|c, now| c.sweep(now)),
            _ = stop.changed() => return,
        }
    }
}

/// A connection over a limit: one `error` frame saying which, then a close (lingering briefly,
/// so that what the client already sent does not turn the close into a reset).
async fn refuse(stream: TcpStream, peer: SocketAddr, refusal: Refusal) {
    tracing::info!(%peer, code = refusal.code, "connection refused: {}", refusal.message);
    let (mut rd, mut wr) = stream.into_split();
    let line = encode_line(&refusal.frame());
    if let Ok(Ok(())) = tokio::time::timeout(LINGER, wr.write_all(&line)).await {
        let _ = wr.shutdown().await;
        drain(&mut rd).await;
    }
}

/// Serve one admitted connection; its slot (`_permit`) is freed when this returns.
async fn connection(stream: TcpStream, peer: SocketAddr, hub: Arc<Hub>, _permit: Permit) {
    let (rd, wr) = stream.into_split();
    let (conn, notify) = hub.open();
    hub.trace(|| Trace::Open { conn, peer });
    let (closed_tx, closed_rx) = oneshot::channel();
    let drained = Arc::new(Notify::new());
    let reader = tokio::spawn(read_loop(rd, conn, hub.clone(), closed_rx, drained.clone()));
    let reason = write_loop(wr, conn, &hub, notify, drained).await;
    let _ = closed_tx.send(());
    let reader_reason = reader.await.ok().flatten();
    hub.forget(conn, reader_reason.as_deref().unwrap_or(&reason));
}

/// Write frames when woken; run timers; return why the connection ended.
async fn write_loop(
    mut wr: OwnedWriteHalf,
    conn: ConnId,
    hub: &Hub,
    notify: Arc<Notify>,
    drained: Arc<Notify>,
) -> String {
    let write_timeout = hub.step(|c, _| c.config().ping_timeout);
    loop {
        let deadline = hub.step(|c, _| c.next_deadline(conn));
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(TokioInstant::from_std(d)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = notify.notified() => {}
            _ = sleep => hub.step(|c, now| c.handle_timeout(conn, now)),
        }
        loop {
            let tx = hub.step(|c, _| c.poll_transmit(conn, WRITE_BATCH));
            let mut bytes = Vec::new();
            for f in &tx.frames {
                bytes.extend_from_slice(&encode_line(f));
                hub.trace(|| Trace::Out {
                    conn,
                    frame: f.clone(),
                });
            }
            if !bytes.is_empty() {
                match tokio::time::timeout(write_timeout, wr.write_all(&bytes)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return format!("transport error: {e}"),
                    Err(_) => return "send buffer full".to_string(),
                }
            }
            drained.notify_one();
            if tx.close {
                let _ = wr.shutdown().await;
                return tx.reason.unwrap_or_else(|| "transport close".to_string());
            }
            if tx.frames.len() < WRITE_BATCH {
                break;
            }
        }
    }
}

/// Decode frames and feed them to the core. Returns a reason if the client ended the
/// connection, `None` if the server did (then the reader only drained).
async fn read_loop(
    mut rd: OwnedReadHalf,
    conn: ConnId,
    hub: Arc<Hub>,
    mut closed: oneshot::Receiver<()>,
    drained: Arc<Notify>,
) -> Option<String> {
    let (max, frame_timeout) =
        hub.step(|c, _| (c.config().max_frame_bytes, c.config().ping_timeout));
    let mut decoder = LineDecoder::new(max);
    let mut buf = [0u8; 4096];
    let mut partial_since: Option<TokioInstant> = None;
    let mut failed = false;
    let high_water = hub.step(|c, _| c.config().send_queue / 2).max(1);
    loop {
        // Backpressure on input: while this client's own queue is past half full, read nothing
        // more from it (TCP then slows it down), so a burst of requests waits for its replies
        // to be written instead of overflowing the queue.
        while !failed && hub.backlog(conn) >= high_water {
            tokio::select! {
                _ = drained.notified() => {}
                _ = &mut closed => {
                    drain(&mut rd).await;
                    return None;
                }
            }
        }
        let slowloris = async {
            match partial_since {
                Some(t) if !failed => tokio::time::sleep_until(t + frame_timeout).await,
                _ => std::future::pending().await,
            }
        };
        let n = tokio::select! {
            r = rd.read(&mut buf) => r,
            _ = slowloris => {
                let msg = format!("a line stayed incomplete for {frame_timeout:?}; end every frame with a newline");
                hub.step(|c, now| c.protocol_error(conn, "frame_timeout", &msg, now));
                failed = true;
                continue;
            }
            _ = &mut closed => {
                drain(&mut rd).await;
                return None;
            }
        };
        let ended = match &n {
            Ok(0) if decoder.has_partial() && !failed => {
                Some("transport error: end of stream in the middle of a frame".to_string())
            }
            Ok(0) => Some("transport close".to_string()),
            Ok(_) => None,
            Err(e) => Some(format!("transport error: {e}")),
        };
        if let Some(reason) = ended {
            // Tell the core now: it wakes the writer, which then finishes.
            hub.step(|c, now| c.closed(conn, &reason, now));
            return Some(reason);
        }
        let n = n.as_ref().map_or(0, |n| *n);
        if failed {
            continue;
        }
        decoder.feed(&buf[..n]);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => hub.receive(conn, frame),
                Ok(None) => break,
                Err(e) => {
                    hub.decode_error(conn, &e);
                    failed = true;
                    break;
                }
            }
        }
        partial_since = match (decoder.has_partial(), partial_since) {
            (false, _) => None,
            (true, Some(t)) => Some(t),
            (true, None) => Some(TokioInstant::now()),
        };
    }
}

/// A frame in a few words for a log line: its type, namespace and event name, never its
/// arguments (they can be a megabyte).
fn describe(f: &Frame) -> String {
    match f {
        Frame::Event { ns, name, .. } => format!("event {name:?} on {ns:?}"),
        other => match other.ns() {
            Some(ns) => format!("{} on {ns:?}", other.kind()),
            None => other.kind().to_string(),
        },
    }
}

/// Discard input for a short while so that closing does not reset the connection.
async fn drain(rd: &mut OwnedReadHalf) {
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(LINGER, async {
        while let Ok(n) = rd.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Config;

    fn frames(hub: &Hub, conn: ConnId) -> (Vec<Frame>, bool) {
        let tx = hub.step(|c, _| c.poll_transmit(conn, usize::MAX));
        (tx.frames.iter().map(|f| (**f).clone()).collect(), tx.close)
    }

    /// A panic inside the core itself (a bug, not application code) is caught at the hub: that
    /// connection gets `internal_error` and a close, the lock is recovered, the others go on.
    #[test]
    fn a_panic_inside_the_core_closes_only_that_connection() {
        let hub = Hub::new(Core::new(Config::default()), None, None, Limits::default());
        let (a, _) = hub.open();
        let (b, _) = hub.open();
        hub.step_for(a, "a test frame", |_, _| panic!("a core bug"));
        let (got, close) = frames(&hub, a);
        assert!(
            matches!(&got[..], [Frame::Hello { .. }, Frame::Error { code, .. }] if code == "internal_error"),
            "{got:?}"
        );
        assert!(close);
        frames(&hub, b);
        hub.receive(b, Frame::Ping);
        assert_eq!(frames(&hub, b), (vec![Frame::Pong], false));
    }
}
