//! `netlab events ...`: the tiny event protocol from the command line.
//!
//! - `serve`: the chat server (namespace /chat), with `--trace` to watch every frame;
//! - `chat`: a terminal chat client;
//! - `emit` and `listen`: one-shot tools for scripts and for watching delivery guarantees.
//!
//! Everything here is a face over `netlab_events`; the protocol lives in that crate.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use netlab_events::chat::History;
use netlab_events::client::{Client, ClientOptions, Incoming, Lifecycle, Status};
use netlab_events::core::{Config, Core, Note, Stats};
use netlab_events::server::{Hub, Server, ServerOptions, Trace, TraceSink};
use netlab_events::socketio;
use netlab_events::store::RedbStore;
use netlab_events::{DEFAULT_PORT, EventsError};
use netlab_web::{SocketIo, Web, WebOptions, WebServer};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::exit::usage;
use crate::output::{Output, OutputArgs, event};

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// Run the chat server (namespace /chat) until Ctrl-C; prints `listening on tcp ...` first.
    Serve(ServeArgs),
    /// A terminal chat client: type a line to send it to the room; /join ROOM, /leave, /quit.
    Chat(ChatArgs),
    /// Emit one event and exit (with --ack: wait for the reply and print it).
    Emit(EmitArgs),
    /// Print the events of a namespace as they arrive.
    Listen(ListenArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to bind; anything but loopback is reachable from other machines.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// TCP port (0: any free port; the first line of output says which).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// HTTP port: the browser chat at /, the chat API, SSE, WebSocket (/ws) and long-polling
    /// (/poll), socket.io clients at /socket.io/ (0: any free port).
    #[arg(long, default_value_t = netlab_web::DEFAULT_HTTP_PORT, value_name = "N")]
    http_port: u16,
    /// Do not start the HTTP listener (TCP only).
    #[arg(long, conflicts_with = "no_tcp")]
    no_http: bool,
    /// Do not start the TCP listener (HTTP only).
    #[arg(long)]
    no_tcp: bool,
    /// Also accept WebSockets and posts from pages of this origin (e.g. http://192.0.2.7:8000);
    /// the page's own origin and localhost are always allowed. Repeat it for more; `*` allows any.
    #[arg(long, value_name = "ORIGIN")]
    allow_origin: Vec<String>,
    /// Print every frame in (<-) and out (->), and events dropped because nobody handles them.
    #[arg(long)]
    trace: bool,
    /// Keep sessions and reliable logs in this redb file, so a restart loses no reliable event.
    #[arg(long, value_name = "PATH")]
    store: Option<PathBuf>,
    /// Heartbeat: how often the server pings: milliseconds (25000), or 300ms, 25s.
    #[arg(long, default_value = "25000", value_name = "MS", value_parser = parse_ms)]
    ping_interval: Duration,
    /// Heartbeat: how long a client may take to pong: milliseconds, or 200ms, 20s.
    #[arg(long, default_value = "20000", value_name = "MS", value_parser = parse_ms)]
    ping_timeout: Duration,
    /// The application: `chat` (namespace /chat) or `conformance` (socket.io's protocol test
    /// suite's server on / and /custom, see docs/src/socketio.md).
    #[arg(long, value_enum, default_value_t = App::Chat)]
    app: App,
    /// socket.io: a client that joins no namespace within this long is closed (e.g. 1s).
    #[arg(long, default_value = "45s", value_name = "DURATION", value_parser = parse_ms)]
    connect_timeout: Duration,
    /// socket.io: the largest polling body or WebSocket message accepted, in bytes.
    #[arg(long, default_value_t = 1_000_000, value_name = "BYTES")]
    max_payload: usize,
    /// Connections served at once; more get an error frame `too_many_connections` and are
    /// closed. Default: 1024, or less to stay below the descriptor limit (ulimit -n).
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Connections from one IP address at once (everything local is 127.0.0.1).
    #[arg(long, default_value_t = netlab_events::limits::DEFAULT_MAX_PER_PEER, value_name = "N")]
    max_connections_per_peer: usize,
    #[command(flatten)]
    out: OutputArgs,
}

/// The application `netlab events serve` runs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum App {
    Chat,
    Conformance,
}

/// A bare number is milliseconds (as before); with a unit it is a duration (300ms, 1s).
fn parse_ms(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<u64>() {
        Ok(ms) => Ok(Duration::from_millis(ms)),
        Err(_) => crate::echo::parse_duration(text),
    }
}

#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Server address.
    #[arg(long, default_value_t = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), DEFAULT_PORT))]
    addr: SocketAddr,
    /// Seconds to wait for the connection (and for an ack).
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    timeout: f64,
}

#[derive(Args, Debug)]
pub struct ChatArgs {
    /// Your display name.
    #[arg(long)]
    name: String,
    /// The room to join.
    #[arg(long, default_value = "lobby")]
    room: String,
    #[command(flatten)]
    conn: ConnectArgs,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Args, Debug)]
pub struct EmitArgs {
    /// Event name.
    name: String,
    /// Arguments: each is parsed as JSON if it can be (42, true, {"a":1}), else taken as a string.
    args: Vec<String>,
    /// Namespace.
    #[arg(long, default_value = "/")]
    ns: String,
    /// The auth object sent with connect, as JSON (e.g. '{"name":"ada"}' for /chat).
    #[arg(long)]
    auth: Option<String>,
    /// Ask for an acknowledgement and print its arguments.
    #[arg(long)]
    ack: bool,
    #[command(flatten)]
    conn: ConnectArgs,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Args, Debug)]
pub struct ListenArgs {
    /// Namespace.
    #[arg(long, default_value = "/")]
    ns: String,
    /// The auth object sent with connect, as JSON.
    #[arg(long)]
    auth: Option<String>,
    /// Join this room after connecting (for /chat: emits `join [ROOM]`).
    #[arg(long)]
    join: Option<String>,
    /// Resume the session after a reconnect and show seq numbers: reliable events missed while
    /// away are replayed. Without it every reconnect starts a new session (at most once).
    #[arg(long)]
    reliable: bool,
    /// Stop after this many events.
    #[arg(long)]
    count: Option<usize>,
    #[command(flatten)]
    conn: ConnectArgs,
    #[command(flatten)]
    out: OutputArgs,
}

pub async fn run(cmd: EventsCommand) -> anyhow::Result<()> {
    match cmd {
        EventsCommand::Serve(a) => serve(&a.out.output(), a).await,
        EventsCommand::Chat(a) => chat(&a.out.output(), a).await,
        EventsCommand::Emit(a) => emit(&a.out.output(), a).await,
        EventsCommand::Listen(a) => listen(&a.out.output(), a).await,
    }
}

// ---------------------------------------------------------------------------------------------
// serve

async fn serve(out: &Output, args: ServeArgs) -> anyhow::Result<()> {
    if args.ping_interval.is_zero() || args.ping_timeout.is_zero() {
        return Err(usage(
            "--ping-interval and --ping-timeout must be at least 1 ms",
        ));
    }
    if args.max_connections == Some(0) || args.max_connections_per_peer == 0 {
        return Err(usage(
            "--max-connections and --max-connections-per-peer must be at least 1",
        ));
    }
    let config = Config {
        ping_interval: args.ping_interval,
        ping_timeout: args.ping_timeout,
        trace: args.trace,
        ..Config::default()
    };
    let mut core = Core::new(config);
    let history = match args.app {
        App::Chat => netlab_events::chat::install(&mut core),
        App::Conformance => {
            netlab_events::socketio::conformance::install(&mut core);
            History::default()
        }
    };
    let store = match &args.store {
        Some(path) => {
            let store = RedbStore::open(path)?;
            eprintln!("{}", store.opening_note());
            Some(Box::new(store) as Box<_>)
        }
        None => None,
    };
    let trace = args.trace.then(|| trace_sink(*out));
    if !args.bind.is_loopback() {
        eprintln!(
            "warning: {} is reachable from other machines; use --bind 127.0.0.1 unless you mean it",
            args.bind
        );
    }
    // Handlers first: a supervisor (or a test) that sends SIGTERM as soon as it reads the
    // listening line must get the graceful stop below, not the default "die at once".
    let mut signals = crate::signal::StopSignals::install()?;
    let limits = netlab_events::limits::Limits {
        max_connections: args
            .max_connections
            .unwrap_or_else(netlab_events::limits::default_max_connections),
        max_per_peer: args.max_connections_per_peer,
    };
    let opts = ServerOptions {
        store,
        trace,
        limits,
    };
    // One hub for both listeners: one core, one set of rooms and limits, whatever the transport.
    let hub = Hub::restored(core, opts)?;
    let tcp = if args.no_tcp {
        None
    } else {
        let server = Server::bind_hub(SocketAddr::new(args.bind, args.port), hub.clone()).await?;
        print_listening(out, "tcp", server.local_addr());
        Some(server)
    };
    let http = if args.no_http {
        None
    } else {
        let opts = WebOptions {
            allow_origins: args.allow_origin.clone(),
            ..WebOptions::default()
        };
        let web = Web::new(hub.clone(), history, opts);
        let sio = SocketIo::new(
            web.clone(),
            socketio::Config {
                engine: socketio::session::Config {
                    ping_interval: args.ping_interval,
                    ping_timeout: args.ping_timeout,
                    max_payload: args.max_payload,
                },
                connect_timeout: args.connect_timeout,
            },
        );
        let router = web.router().merge(sio.router());
        let addr = SocketAddr::new(args.bind, args.http_port);
        let server = WebServer::bind_router(addr, web, router).await?;
        print_listening(out, "http", server.local_addr());
        Some(server)
    };
    let mut failed = hub.failed();
    let why = tokio::select! {
        why = signals.recv() => why,
        // The store failed: every client was told `store_failed`; stop and say why.
        failure = failed.wait_for(Option::is_some) => {
            let why = failure.map(|w| w.clone()).ok().flatten().unwrap_or_default();
            stop(http, tcp).await;
            return Err(EventsError::Stopped(why).into());
        }
    };
    eprintln!("{why}: telling every client \"server shutting down\" and stopping");
    let stats = hub.handle().with(|c, _| c.stats().clone());
    stop(http, tcp).await;
    print_stats(out, &stats);
    Ok(())
}

/// HTTP first (its held requests answer, its sockets hear "server shutting down"), then TCP.
async fn stop(http: Option<WebServer>, tcp: Option<Server>) {
    if let Some(server) = http {
        server.shutdown().await;
    }
    if let Some(server) = tcp {
        server.shutdown().await;
    }
}

fn print_listening(out: &Output, proto: &'static str, addr: SocketAddr) {
    if out.json {
        out.json_line(&event("listening", &Listening { proto, addr }));
    } else {
        out.line(format!("listening on {proto} {addr}"));
    }
}

/// The same shape as `netlab echo serve`'s: `{"event":"listening","proto":"tcp","addr":...}`.
#[derive(Serialize)]
struct Listening {
    proto: &'static str,
    addr: SocketAddr,
}

fn print_stats(out: &Output, s: &Stats) {
    if out.json {
        return out.json_line(&event(
            "summary",
            &json!({
                "unhandled_dropped": s.unhandled,
                "volatile_dropped": s.volatile_dropped,
                "default_lost_while_away": s.default_lost_while_away,
                "reliable_replayed": s.replayed,
                "duplicates_ignored": s.duplicates_ignored,
            }),
        ));
    }
    let rows = [
        ("events nobody handled (dropped)", s.unhandled.to_string()),
        (
            "volatile events dropped (backpressure)",
            s.volatile_dropped.to_string(),
        ),
        (
            "default events lost while a client was away",
            s.default_lost_while_away.to_string(),
        ),
        ("reliable events replayed on resume", s.replayed.to_string()),
        (
            "duplicate reliable emits ignored",
            s.duplicates_ignored.to_string(),
        ),
    ];
    out.print_table(&out.key_values("events server", &rows));
}

/// `--trace`: one line per frame, to stdout (it is what the lab looks at).
fn trace_sink(out: Output) -> TraceSink {
    Arc::new(move |t: Trace| {
        if out.json {
            out.json_line(&trace_json(&t));
        } else {
            out.line(trace_line(&t));
        }
    })
}

/// The human trace line: `<-` frames the server read, `->` frames it wrote, `!!` drops.
fn trace_line(t: &Trace) -> String {
    match t {
        Trace::Open { conn, peer } => format!("#{conn} open from {peer}"),
        Trace::In { conn, frame } => format!("#{conn} <- {}", frame.to_json()),
        Trace::Out { conn, frame } => format!("#{conn} -> {}", frame.to_json()),
        Trace::Closed { conn, reason } => format!("#{conn} closed: {}", printable(reason)),
        Trace::Note(Note::Unhandled { conn, event }) => format!(
            "#{conn} !! dropped event {:?} on {}: no handler for it",
            event.name,
            printable(&event.ns)
        ),
        Trace::Note(Note::LateAck { conn, id }) => {
            format!("#{conn} !! ignored ack {id}: late or unknown")
        }
        Trace::Note(Note::VolatileDropped { conn, name }) => {
            format!("#{conn} !! dropped volatile event {name:?}: send queue half full")
        }
    }
}

fn trace_json(t: &Trace) -> Value {
    match t {
        Trace::Open { conn, peer } => json!({"event":"open","conn":conn,"peer":peer}),
        Trace::In { conn, frame } => json!({"event":"frame","dir":"in","conn":conn,"frame":frame}),
        Trace::Out { conn, frame } => {
            json!({"event":"frame","dir":"out","conn":conn,"frame":&**frame})
        }
        Trace::Closed { conn, reason } => json!({"event":"closed","conn":conn,"reason":reason}),
        Trace::Note(Note::Unhandled { conn, event }) => {
            json!({"event":"dropped","why":"unhandled","conn":conn,"ns":event.ns,"name":event.name})
        }
        Trace::Note(Note::LateAck { conn, id }) => {
            json!({"event":"ignored_ack","conn":conn,"id":id})
        }
        Trace::Note(Note::VolatileDropped { conn, name }) => {
            json!({"event":"dropped","why":"volatile","conn":conn,"name":name})
        }
    }
}

// ---------------------------------------------------------------------------------------------
// clients

fn timeout(c: &ConnectArgs) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(c.timeout).map_err(|_| {
        usage(format!(
            "--timeout {} is not a number of seconds",
            c.timeout
        ))
    })
}

fn parse_auth(auth: &Option<String>) -> anyhow::Result<Value> {
    match auth {
        None => Ok(Value::Null),
        Some(text) => serde_json::from_str(text).map_err(|e| {
            usage(format!(
                "--auth {text:?} is not JSON ({e}); write e.g. '{{\"name\":\"ada\"}}'"
            ))
        }),
    }
}

fn check_ns(ns: &str) -> anyhow::Result<()> {
    if ns.starts_with('/') {
        Ok(())
    } else {
        Err(usage(format!(
            "--ns {ns:?} must start with '/', e.g. /chat"
        )))
    }
}

/// A command-line argument as an event argument: JSON if it parses, else a string.
pub fn arg_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// Connect once (no reconnect) and wait for the namespace, with a clear error if it fails.
async fn connect_once(
    conn: &ConnectArgs,
    ns: &str,
    auth: Value,
) -> anyhow::Result<(Client, netlab_events::client::Socket)> {
    let opts = ClientOptions {
        reconnect: false,
        ..ClientOptions::default()
    };
    let client = Client::connect(conn.addr, opts);
    let socket = client.socket(ns, auth);
    match socket.connected(timeout(conn)?).await {
        Ok(_) => Ok((client, socket)),
        Err(EventsError::ClientClosed) | Err(EventsError::Timeout(..)) => Err(anyhow::anyhow!(
            "could not connect to {} (namespace {ns}); is `netlab events serve` running there?",
            conn.addr
        )),
        Err(e) => Err(e.into()),
    }
}

async fn emit(out: &Output, args: EmitArgs) -> anyhow::Result<()> {
    check_ns(&args.ns)?;
    let auth = parse_auth(&args.auth)?;
    let values: Vec<Value> = args.args.iter().map(|a| arg_value(a)).collect();
    let (client, socket) = connect_once(&args.conn, &args.ns, auth).await?;
    let reply = if args.ack {
        Some(
            socket
                .emit_with_ack(&args.name, values.clone(), timeout(&args.conn)?)
                .await
                .context("no ack")?,
        )
    } else {
        socket.emit(&args.name, values.clone()).await?;
        None
    };
    client.close().await;
    print_emit(out, &args.ns, &args.name, &values, reply.as_deref());
    Ok(())
}

#[derive(Serialize)]
struct Emitted<'a> {
    ns: &'a str,
    name: &'a str,
    args: &'a [Value],
    #[serde(skip_serializing_if = "Option::is_none")]
    ack: Option<&'a [Value]>,
}

fn print_emit(out: &Output, ns: &str, name: &str, args: &[Value], ack: Option<&[Value]>) {
    if out.json {
        return out.json_line(&event(
            "emitted",
            &Emitted {
                ns,
                name,
                args,
                ack,
            },
        ));
    }
    out.print_table(&emit_table(out, ns, name, args, ack));
}

fn emit_table(
    out: &Output,
    ns: &str,
    name: &str,
    args: &[Value],
    ack: Option<&[Value]>,
) -> comfy_table::Table {
    let mut rows = vec![
        ("namespace", ns.to_string()),
        ("event", name.to_string()),
        ("args", Value::from(args.to_vec()).to_string()),
    ];
    if let Some(a) = ack {
        rows.push(("ack", Value::from(a.to_vec()).to_string()));
    }
    out.key_values("emitted", &rows)
}

/// A reconnecting client on one namespace whose events arrive on a channel, connected (or a clear
/// error saying what to start).
async fn stream_client(
    conn: &ConnectArgs,
    ns: &str,
    auth: Value,
    opts: ClientOptions,
) -> anyhow::Result<(
    Client,
    netlab_events::client::Socket,
    tokio::sync::broadcast::Receiver<Lifecycle>,
    tokio::sync::mpsc::UnboundedReceiver<Incoming>,
)> {
    let client = Client::connect(conn.addr, opts);
    let life = client.lifecycle();
    let socket = client.socket(ns, auth);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Incoming>();
    socket.on_any(move |ev| {
        let _ = tx.send(ev.clone());
    });
    match socket.connected(timeout(conn)?).await {
        Ok(_) => Ok((client, socket, life, rx)),
        Err(EventsError::Timeout(..)) => anyhow::bail!(
            "could not connect to {} within {:?}; is `netlab events serve` running there?",
            conn.addr,
            timeout(conn)?
        ),
        Err(e) => Err(e.into()),
    }
}

async fn listen(out: &Output, args: ListenArgs) -> anyhow::Result<()> {
    check_ns(&args.ns)?;
    let auth = parse_auth(&args.auth)?;
    let opts = ClientOptions {
        resume: args.reliable,
        ..ClientOptions::default()
    };
    let (client, socket, mut life, mut rx) =
        stream_client(&args.conn, &args.ns, auth, opts).await?;
    // `--join` is sent on each Connected{recovered:false} below, the first connect included.
    let mut seen = 0usize;
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else { break };
                print_incoming(out, &ev, args.reliable);
                seen += 1;
                if args.count.is_some_and(|n| seen >= n) {
                    break;
                }
            }
            l = life.recv() => {
                if let Ok(l) = l {
                    report_lifecycle(&l);
                    // A new session (not a resume) has left its rooms behind: join again.
                    if let (Lifecycle::Connected { recovered: false, .. }, Some(room)) = (&l, &args.join) {
                        let _ = socket.emit("join", vec![json!(room)]).await;
                    }
                }
            }
            why = crate::signal::stop_requested() => {
                eprintln!("{why}: stopping");
                break;
            }
        }
    }
    client.close().await;
    Ok(())
}

#[derive(Serialize)]
struct Received<'a> {
    ns: &'a str,
    name: &'a str,
    args: &'a [Value],
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
}

fn print_incoming(out: &Output, ev: &Incoming, show_seq: bool) {
    if out.json {
        let seq = ev.seq.filter(|_| show_seq);
        return out.json_line(&event(
            "event",
            &Received {
                ns: &ev.ns,
                name: &ev.name,
                args: &ev.args,
                seq,
            },
        ));
    }
    out.line(incoming_line(ev, show_seq));
}

fn incoming_line(ev: &Incoming, show_seq: bool) -> String {
    let seq = match ev.seq {
        Some(s) if show_seq => format!("#{s} "),
        _ => String::new(),
    };
    // JSON escapes the C0 controls but not DEL, the C1 codes or the bidi overrides.
    let args = Value::from(ev.args.clone()).to_string();
    format!(
        "{seq}{} {} {}",
        printable(&ev.ns),
        printable(&ev.name),
        printable(&args)
    )
}

/// Text that other people chose (names, messages, reasons), made safe for a terminal: control
/// characters (escape sequences, carriage return, backspace, C1 codes) and the bidirectional
/// overrides become `\uXXXX`, as the JSON arguments `listen` prints show them. Printed raw, they
/// could clear your screen, set your window title, or forge a line that seems to come from
/// someone else.
fn printable(s: &str) -> Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Connection changes go to stderr: they are progress, not results.
fn report_lifecycle(l: &Lifecycle) {
    eprintln!("{}", lifecycle_line(l));
}

fn lifecycle_line(l: &Lifecycle) -> String {
    match l {
        Lifecycle::Connected {
            ns,
            recovered: true,
            ..
        } => format!("* {ns}: resumed; missed reliable events follow"),
        Lifecycle::Connected {
            ns,
            recovered: false,
            ..
        } => format!("* {ns}: connected (new session)"),
        Lifecycle::ConnectError { ns, message } => {
            format!("* {ns}: refused: {}", printable(message))
        }
        Lifecycle::Disconnected { reason } => format!("* disconnected: {}", printable(reason)),
        Lifecycle::Reconnecting { attempt, delay } => format!(
            "* reconnecting (attempt {attempt}) in {:.1} s",
            delay.as_secs_f64()
        ),
        Lifecycle::ServerError { code, message } => {
            format!("* server error {}: {}", printable(code), printable(message))
        }
        // One of our events went nowhere (a chat message too long once wrapped, say); the
        // connection is fine, so this reads as news, not as an error of the link.
        Lifecycle::Refused { code, message, .. } => {
            format!("* not sent ({}): {}", printable(code), printable(message))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// chat

async fn chat(out: &Output, args: ChatArgs) -> anyhow::Result<()> {
    let auth = json!({"name": args.name});
    let (client, socket, mut life, mut rx) =
        stream_client(&args.conn, "/chat", auth, ClientOptions::default()).await?;
    // The join itself is sent on each Connected{recovered:false} below, the first one included.
    let mut room = args.room.clone();
    eprintln!(
        "joined {room} as {}; type a message, or /join ROOM, /leave, /quit",
        args.name
    );
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(ev) => print_chat(out, &ev),
                None => break,
            },
            l = life.recv() => if let Ok(l) = l {
                report_lifecycle(&l);
                if let Lifecycle::Connected { recovered: false, .. } = l {
                    let _ = socket.emit("join", vec![json!(room)]).await;
                }
            },
            line = lines.next_line() => {
                let Ok(Some(line)) = line else { break };
                match chat_input(&line) {
                    ChatInput::Quit => break,
                    ChatInput::Join(r) => {
                        socket.emit("leave", vec![json!(room)]).await?;
                        room = r;
                        socket.emit("join", vec![json!(room)]).await?;
                    }
                    ChatInput::Leave => socket.emit("leave", vec![json!(room)]).await?,
                    ChatInput::Say(text) => match socket.emit("message", vec![json!(room), json!(text)]).await {
                        // Too long to send at all: say so and carry on (the chat is still up).
                        Err(e @ EventsError::TooLarge { .. }) => eprintln!("* not sent: {e}"),
                        other => other?,
                    },
                    ChatInput::Nothing => {}
                }
            }
            why = crate::signal::stop_requested() => { eprintln!("{why}: leaving"); break; }
        }
        if matches!(socket.status(), Status::Closed) {
            break;
        }
    }
    client.close().await;
    Ok(())
}

#[derive(Debug, PartialEq)]
enum ChatInput {
    Say(String),
    Join(String),
    Leave,
    Quit,
    Nothing,
}

fn chat_input(line: &str) -> ChatInput {
    let line = line.trim();
    match line.split_once(' ').unwrap_or((line, "")) {
        ("/quit", _) => ChatInput::Quit,
        ("/leave", _) => ChatInput::Leave,
        ("/join", r) if !r.trim().is_empty() => ChatInput::Join(r.trim().to_string()),
        _ if line.is_empty() => ChatInput::Nothing,
        _ => ChatInput::Say(line.to_string()),
    }
}

fn print_chat(out: &Output, ev: &Incoming) {
    if out.json {
        return out.json_line(&event(
            &ev.name,
            &ev.args.first().cloned().unwrap_or(Value::Null),
        ));
    }
    if let Some(line) = chat_line(ev) {
        out.line(line);
    }
}

/// How a chat event reads on screen.
fn chat_line(ev: &Incoming) -> Option<String> {
    let a = ev.args.first()?;
    let s = |k: &str| printable(a.get(k).and_then(Value::as_str).unwrap_or("?")).into_owned();
    Some(match ev.name.as_str() {
        "message" => format!("[{}] {}: {}", s("room"), s("name"), s("text")),
        "joined" => format!("[{}] * {} joined", s("room"), s("name")),
        "left" => format!("[{}] * {} left", s("room"), s("name")),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlab_events::Frame;

    fn incoming(name: &str, args: Value, seq: Option<u64>) -> Incoming {
        Incoming {
            ns: "/chat".into(),
            name: name.into(),
            args: vec![args],
            seq,
            ack: None,
        }
    }

    #[test]
    fn arguments_are_json_when_they_can_be() {
        assert_eq!(arg_value("42"), json!(42));
        assert_eq!(arg_value("{\"a\":1}"), json!({"a":1}));
        assert_eq!(arg_value("hello there"), json!("hello there"));
    }

    #[test]
    fn chat_escapes_what_could_take_over_a_terminal() {
        // Clear screen, set the window title, erase the line and forge one from "root",
        // a C1 CSI, and a right-to-left override.
        let text = "\u{1b}[2J\u{1b}]0;pwned\u{7}\r[lobby] root: trust me\u{9b}31m\u{202e}olleh";
        let line = chat_line(&incoming(
            "message",
            json!({"room":"lobby","name":"eve\u{8}\u{8}\u{8}ada","text":text}),
            Some(1),
        ))
        .unwrap();
        assert_eq!(
            line,
            r"[lobby] eve\u0008\u0008\u0008ada: \u001b[2J\u001b]0;pwned\u0007\u000d[lobby] root: trust me\u009b31m\u202eolleh"
        );
        assert_eq!(printable("héllo, wörld ✓"), "héllo, wörld ✓");
        // listen's line: JSON escapes ESC itself; the C1 CSI and the override get escaped too.
        let line = incoming_line(&incoming("message", json!({"text": text}), Some(1)), false);
        assert_eq!(
            line,
            r#"/chat message [{"text":"\u001b[2J\u001b]0;pwned\u0007\r[lobby] root: trust me\u009b31m\u202eolleh"}]"#
        );
    }

    #[test]
    fn chat_commands() {
        assert_eq!(
            chat_input("/join kitchen"),
            ChatInput::Join("kitchen".into())
        );
        assert_eq!(chat_input("/join"), ChatInput::Say("/join".into()));
        assert_eq!(chat_input(" /quit "), ChatInput::Quit);
        assert_eq!(chat_input("hi all"), ChatInput::Say("hi all".into()));
        assert_eq!(chat_input("   "), ChatInput::Nothing);
    }

    #[test]
    fn what_students_see() {
        let conn = 3;
        let lines = [
            trace_line(&Trace::In {
                conn,
                frame: Frame::event("/chat", "shout", vec![json!("hi")]),
            }),
            trace_line(&Trace::Note(Note::Unhandled {
                conn,
                event: netlab_events::core::Event {
                    ns: "/chat".into(),
                    name: "shout".into(),
                    args: vec![],
                    ack: None,
                    seq: None,
                },
            })),
            trace_line(&Trace::Out {
                conn,
                frame: Arc::new(Frame::Ping),
            }),
            chat_line(&incoming(
                "message",
                json!({"room":"lobby","name":"ada","text":"hi"}),
                Some(4),
            ))
            .unwrap(),
            chat_line(&incoming(
                "joined",
                json!({"room":"lobby","name":"bob"}),
                None,
            ))
            .unwrap(),
            incoming_line(&incoming("message", json!({"text":"x"}), Some(4)), true),
            incoming_line(&incoming("message", json!({"text":"x"}), Some(4)), false),
            lifecycle_line(&Lifecycle::Refused {
                ns: "/chat".into(),
                name: "message".into(),
                code: "too_large".into(),
                message: "your \"message\" event was not carried out: the event would be 1048713 bytes on the wire, over the limit of 1048576 (max_frame_bytes) that every client enforces; send less".into(),
            }),
        ];
        insta::assert_snapshot!(lines.join("\n"));
        let out = Output::plain();
        insta::assert_snapshot!(
            "emit_table",
            emit_table(
                &out,
                "/chat",
                "join",
                &[json!("lobby")],
                Some(&[json!({"ok": true})])
            )
            .to_string()
        );
    }
}
