//! Lab 07, the same chat, five ways: one seeded workload (another user pushes messages at
//! random moments into a room; the subscriber says a few things of its own; then silence) run
//! over short polling at two intervals, long-polling, Server-Sent Events with POST, the event
//! protocol over WebSocket, and over plain TCP lines. Measured per transport, from each run's
//! capture and timestamps: bytes and packets per delivered message, TCP connections, HTTP
//! requests, delivery latency (p50, p99) and the idle cost. A table, a bar chart in the
//! terminal, and SVG charts with `--plots DIR`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use netlab_inspect::Packet;
use serde_json::{Value, json};
use tokio::time::{Instant as TokioInstant, sleep_until};

use crate::capture::{self, Recording, Source};
use crate::packets::{self, LabPacket};
use crate::question::Question;
use crate::render;
use crate::servers::STEP_TIMEOUT;
use crate::session::Session;
use crate::web::{self, Chat, Wire, opcode};
use crate::{LabError, LabFuture, LabInfo};

pub const INFO: LabInfo = LabInfo {
    number: 7,
    slug: "transports",
    title: "The same chat, five ways",
    minutes: 3,
    guide: include_str!("../../guides/07-transports.md"),
    run,
};

const ROOM: &str = "lobby";
/// Messages another user pushes into the room during each run.
const PUSHES: usize = 8;
/// The subscriber's own messages in each run.
const OWN: usize = 2;
/// The busy part of each run: the pushes and the subscriber's messages all fall in it.
const BUSY: Duration = Duration::from_millis(2000);
/// Then silence: what each transport costs while nobody says anything.
const IDLE: Duration = Duration::from_millis(1500);
/// The idle window measured in the capture starts this long after the busy part, so that the
/// last deliveries (up to one poll interval late) are not counted as idle traffic.
const IDLE_GRACE: Duration = Duration::from_millis(250);
/// How long a long-poll is held by the server when there is nothing to say.
const LONG_POLL_WAIT: &str = "20s";

/// The transports, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Poll(u64),
    LongPoll,
    Sse,
    WebSocket,
    Tcp,
}

const TRANSPORTS: [Transport; 6] = [
    Transport::Poll(1000),
    Transport::Poll(250),
    Transport::LongPoll,
    Transport::Sse,
    Transport::WebSocket,
    Transport::Tcp,
];

impl Transport {
    fn name(self) -> String {
        match self {
            Transport::Poll(ms) if ms >= 1000 => format!("short polling, {} s", ms / 1000),
            Transport::Poll(ms) => format!("short polling, {ms} ms"),
            Transport::LongPoll => "long-polling".into(),
            Transport::Sse => "SSE + POST".into(),
            Transport::WebSocket => "WebSocket".into(),
            Transport::Tcp => "TCP lines".into(),
        }
    }

    /// The capture's file name.
    fn capture(self) -> String {
        match self {
            Transport::Poll(ms) => format!("lab07-poll-{ms}ms"),
            Transport::LongPoll => "lab07-longpoll".into(),
            Transport::Sse => "lab07-sse".into(),
            Transport::WebSocket => "lab07-websocket".into(),
            Transport::Tcp => "lab07-tcp".into(),
        }
    }

    fn pushes_itself(self) -> bool {
        !matches!(self, Transport::Poll(_))
    }
}

/// When things happen in a run, from its start: seeded, the same for every transport.
#[derive(Debug, Clone)]
struct Plan {
    pushes: Vec<Duration>,
    own: Vec<Duration>,
}

impl Plan {
    /// Push moments drawn from `seed` over the busy part (splitmix64: a few lines, replayable).
    fn new(seed: u64) -> Plan {
        let mut state = seed;
        let mut next = || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let span = BUSY.as_millis() as u64 - 300;
        let mut pushes: Vec<Duration> = (0..PUSHES)
            .map(|_| Duration::from_millis(100 + next() % span))
            .collect();
        pushes.sort();
        let own = (1..=OWN as u32)
            .map(|i| BUSY * i / (OWN as u32 + 1))
            .collect();
        Plan { pushes, own }
    }
}

/// What the client saw in one run, live: when each pushed message arrived.
#[derive(Debug, Default)]
struct Seen {
    arrived: HashMap<usize, Instant>,
}

impl Seen {
    /// Notes a message text if it is one of the pushes (`push-3`).
    fn note(&mut self, text: &str) {
        if let Some(k) = text.strip_prefix("push-").and_then(|k| k.parse().ok()) {
            self.arrived.entry(k).or_insert_with(Instant::now);
        }
    }
}

/// One row of the results.
#[derive(Debug, Clone)]
struct Row {
    transport: Transport,
    delivered: usize,
    bytes_per_msg: f64,
    packets_per_msg: f64,
    connections: usize,
    requests: usize,
    p50_ms: f64,
    p99_ms: f64,
    idle_bytes_per_min: f64,
}

fn run(s: &mut Session) -> LabFuture<'_> {
    Box::pin(async move {
        let chat = Chat::start().await?;
        let result = steps(s, &chat).await;
        chat.stop().await;
        result
    })
}

async fn steps(s: &mut Session, chat: &Chat) -> Result<(), LabError> {
    s.explain("One workload, six runs")?;
    let seed = s.variant().pick("lab07.seed", 7, 1..=1_000_000);
    let plan = Plan::new(seed);
    let guess = s.predict(
        "predict-poll-idle",
        "Short polling every 250 ms: how many bytes per minute do you expect it to cost while nobody says anything?",
    )?;
    let mut rows = Vec::new();
    for t in TRANSPORTS {
        s.act(&format!(
            "{}: {PUSHES} messages pushed by bob at seeded moments (seed {seed}) and {OWN} of the subscriber's own in {:.1} s, then {:.1} s of silence",
            t.name(),
            BUSY.as_secs_f64(),
            IDLE.as_secs_f64()
        ));
        let (latencies, rec) = s
            .capture(&t.capture(), &chat.ports(), one_run(chat, t, &plan))
            .await?;
        let pkts = packets::dissect_all(&rec);
        let row = measure(t, &pkts, &latencies);
        s.check_eq(
            &format!("{}: every pushed message delivered", t.name()),
            row.delivered,
            PUSHES,
        );
        rows.push(row);
    }
    show_results(s, &rows)?;
    if let Some(row) = rows.iter().find(|r| r.transport == Transport::Poll(250)) {
        s.reveal(guess, row.idle_bytes_per_min.round(), "bytes per minute");
    }
    checks(s, &rows);
    questions(s, &rows)?;
    socketio(s)?;
    s.explain("When request/response is still the right choice")?;
    s.ask(
        Question::choice(
            "still-rr",
            "Which of these is best served by plain request/response HTTP?",
            &[
                "a page of train timetables that thousands read and that changes once a day",
                "a chat room",
                "a multiplayer game's positions",
                "a live auction's bids",
            ],
            0,
        )
        .hint("which one can be cached and served by any server, with no need to hear of changes at once?")
        .hint("three of them need news within a second")
        .why("Data that many read and that rarely changes is what request/response does best: responses are cached by browsers, proxies and CDNs, any server behind a load balancer can answer, and clients are a URL away. Holding a connection per client pays only when clients must hear of changes at once."),
    )?;
    s.explain("What you learned")?;
    Ok(())
}

/// Runs the workload over one transport: the client and bob's pushes side by side. Returns the
/// latency of each pushed message in ms (in push order; NaN for one never delivered).
async fn one_run(chat: &Chat, t: Transport, plan: &Plan) -> Result<Vec<f64>, LabError> {
    let start = TokioInstant::now();
    let end = start + BUSY + IDLE;
    let (seen, posted) = tokio::join!(client(chat, t, plan, start, end), pusher(chat, plan, start));
    let (seen, posted) = (seen?, posted?);
    Ok(posted
        .iter()
        .enumerate()
        .map(|(k, at)| {
            seen.arrived
                .get(&k)
                .map_or(f64::NAN, |r| r.duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect())
}

/// Bob: posts `push-K` at each planned moment, from inside the server (no packets).
async fn pusher(chat: &Chat, plan: &Plan, start: TokioInstant) -> Result<Vec<Instant>, LabError> {
    let mut posted = Vec::new();
    for (k, at) in plan.pushes.iter().enumerate() {
        sleep_until(start + *at).await;
        posted.push(Instant::now());
        chat.push(ROOM, "bob", &format!("push-{k}"))?;
    }
    Ok(posted)
}

async fn client(
    chat: &Chat,
    t: Transport,
    plan: &Plan,
    start: TokioInstant,
    end: TokioInstant,
) -> Result<Seen, LabError> {
    let own: Vec<TokioInstant> = plan.own.iter().map(|d| start + *d).collect();
    match t {
        Transport::Poll(ms) => {
            poll_client(chat.http_addr(), Duration::from_millis(ms), &own, end).await
        }
        Transport::LongPoll => long_poll_client(chat.http_addr(), &own, end).await,
        Transport::Sse => sse_client(chat.http_addr(), &own, end).await,
        Transport::WebSocket => ws_client(chat.http_addr(), &own, end).await,
        Transport::Tcp => tcp_client(chat.tcp_addr(), &own, end).await,
    }
}

fn get_after(addr: SocketAddr, after: u64, wait: Option<&str>) -> Vec<u8> {
    let wait = wait.map_or(String::new(), |w| format!("&wait={w}"));
    web::request(
        "GET",
        &format!("/api/rooms/{ROOM}/messages?after={after}{wait}"),
        &[("Host", &addr.to_string())],
        b"",
    )
}

fn post_own(addr: SocketAddr, k: usize) -> Vec<u8> {
    let body = json!({"name": "sub", "text": format!("mine-{k}")}).to_string();
    web::request(
        "POST",
        &format!("/api/rooms/{ROOM}/messages"),
        &[
            ("Host", &addr.to_string()),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
}

/// The subscriber's own messages over HTTP: one POST each on a kept-alive connection of their
/// own (as a browser would use a second connection while the first is busy).
async fn own_posts(addr: SocketAddr, own: Vec<TokioInstant>) -> Result<(), LabError> {
    let mut wire = Wire::connect(addr).await?;
    for (k, at) in own.iter().enumerate() {
        sleep_until(*at).await;
        wire.exchange(&post_own(addr, k)).await?;
    }
    wire.close().await
}

/// Notes the pushes in a chat API answer and returns the highest id in it.
fn note_messages(seen: &mut Seen, body: &[u8], after: u64) -> u64 {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut last = after;
    for m in v["messages"].as_array().into_iter().flatten() {
        seen.note(m["text"].as_str().unwrap_or_default());
        last = last.max(m["id"].as_u64().unwrap_or(0));
    }
    last
}

async fn poll_client(
    addr: SocketAddr,
    interval: Duration,
    own: &[TokioInstant],
    end: TokioInstant,
) -> Result<Seen, LabError> {
    let posts = tokio::spawn(own_posts(addr, own.to_vec()));
    let mut wire = Wire::connect(addr).await?;
    let mut seen = Seen::default();
    let mut after = newest(&mut wire, addr).await?;
    let mut next = TokioInstant::now();
    while next < end {
        sleep_until(next).await;
        let r = wire.exchange(&get_after(addr, after, None)).await?;
        after = note_messages(&mut seen, &r.body, after);
        next += interval;
    }
    wire.close().await?;
    join(posts).await?;
    Ok(seen)
}

/// The newest message id now, so a run hears only its own messages.
async fn newest(wire: &mut Wire, addr: SocketAddr) -> Result<u64, LabError> {
    let mut last = 0;
    loop {
        let r = wire.exchange(&get_after(addr, last, None)).await?;
        let next = note_messages(&mut Seen::default(), &r.body, last);
        if next == last {
            return Ok(last);
        }
        last = next;
    }
}

async fn join(task: tokio::task::JoinHandle<Result<(), LabError>>) -> Result<(), LabError> {
    task.await
        .map_err(|e| LabError::Experiment(format!("a client task: {e}")))?
}

async fn long_poll_client(
    addr: SocketAddr,
    own: &[TokioInstant],
    end: TokioInstant,
) -> Result<Seen, LabError> {
    let posts = tokio::spawn(own_posts(addr, own.to_vec()));
    let mut wire = Wire::connect(addr).await?;
    let mut seen = Seen::default();
    let mut after = newest(&mut wire, addr).await?;
    loop {
        wire.write(&get_after(addr, after, Some(LONG_POLL_WAIT)))
            .await?;
        // The request is held until there is news; past the run's end, stop waiting.
        let left = end.saturating_duration_since(TokioInstant::now());
        match tokio::time::timeout(left, wire.response_within(Duration::from_secs(30))).await {
            Ok(r) => after = note_messages(&mut seen, &r?.body, after),
            Err(_) => break,
        }
    }
    // A held request is still open: leave without waiting for its answer.
    drop(wire);
    join(posts).await?;
    Ok(seen)
}

async fn sse_client(
    addr: SocketAddr,
    own: &[TokioInstant],
    end: TokioInstant,
) -> Result<Seen, LabError> {
    let posts = tokio::spawn(own_posts(addr, own.to_vec()));
    let mut probe = Wire::connect(addr).await?;
    let after = newest(&mut probe, addr).await?;
    probe.close().await?;
    let mut wire = Wire::connect(addr).await?;
    wire.write(&web::request(
        "GET",
        &format!("/api/rooms/{ROOM}/events?after={after}"),
        &[("Host", &addr.to_string()), ("Accept", "text/event-stream")],
        b"",
    ))
    .await?;
    let head = wire.head(STEP_TIMEOUT).await?;
    if head.status != 200 {
        return Err(LabError::Experiment(format!(
            "the SSE stream answered {}",
            head.status
        )));
    }
    let mut seen = Seen::default();
    loop {
        let left = end.saturating_duration_since(TokioInstant::now());
        match tokio::time::timeout(left, wire.line(Duration::from_secs(30))).await {
            Ok(line) => {
                let Some(line) = line? else { break };
                if let Some(data) = line.strip_prefix("data: ") {
                    let v: Value = serde_json::from_str(data).unwrap_or(Value::Null);
                    seen.note(v["text"].as_str().unwrap_or_default());
                }
            }
            Err(_) => break,
        }
    }
    drop(wire);
    join(posts).await?;
    Ok(seen)
}

/// The event protocol's frames a chat client sends: connect to /chat, join the room.
fn connect_and_join() -> [Value; 2] {
    [
        json!({"type":"connect","ns":"/chat","auth":{"name":"sub"}}),
        json!({"type":"event","ns":"/chat","name":"join","args":[ROOM],"ack":1}),
    ]
}

fn own_event(k: usize) -> Value {
    json!({"type":"event","ns":"/chat","name":"message","args":[ROOM, format!("mine-{k}")],"ack":10 + k})
}

/// Notes a frame of the event protocol; true when it is the join's ack (the subscriber is in).
fn note_frame(seen: &mut Seen, v: &Value) -> bool {
    if v["type"] == "event" && v["name"] == "message" {
        seen.note(v["args"][0]["text"].as_str().unwrap_or_default());
    }
    v["type"] == "ack" && v["id"] == 1
}

async fn ws_client(
    addr: SocketAddr,
    own: &[TokioInstant],
    end: TokioInstant,
) -> Result<Seen, LabError> {
    let mut wire = Wire::connect(addr).await?;
    web::ws_open(&mut wire, addr).await?;
    let send = |v: &Value, n: u32| {
        web::encode_frame(
            opcode::TEXT,
            v.to_string().as_bytes(),
            Some(web::mask_key(n)),
        )
    };
    for (n, f) in connect_and_join().iter().enumerate() {
        wire.write(&send(f, n as u32)).await?;
    }
    let mut seen = Seen::default();
    let mut pending = own.iter().enumerate().peekable();
    loop {
        let next_own = pending.peek().map_or(end, |(_, at)| **at).min(end);
        tokio::select! {
            f = wire.frame(Duration::from_secs(30)) => {
                let f = f?;
                if f.opcode == opcode::TEXT {
                    let v: Value = serde_json::from_slice(&f.payload).unwrap_or(Value::Null);
                    note_frame(&mut seen, &v);
                    if v["type"] == "ping" {
                        wire.write(&send(&json!({"type":"pong"}), 99)).await?;
                    }
                }
            }
            _ = sleep_until(next_own) => {
                match pending.next() {
                    Some((k, _)) if TokioInstant::now() < end => {
                        wire.write(&send(&own_event(k), 100 + k as u32)).await?;
                    }
                    _ => if TokioInstant::now() >= end { break },
                }
            }
        }
    }
    let close = 1000u16.to_be_bytes();
    wire.write(&web::encode_frame(
        opcode::CLOSE,
        &close,
        Some(web::mask_key(200)),
    ))
    .await?;
    while wire.frame(STEP_TIMEOUT).await?.opcode != opcode::CLOSE {}
    wire.close().await?;
    Ok(seen)
}

async fn tcp_client(
    addr: SocketAddr,
    own: &[TokioInstant],
    end: TokioInstant,
) -> Result<Seen, LabError> {
    let mut wire = Wire::connect(addr).await?;
    for f in connect_and_join() {
        wire.write(format!("{f}\n").as_bytes()).await?;
    }
    let mut seen = Seen::default();
    let mut pending = own.iter().enumerate().peekable();
    loop {
        let next_own = pending.peek().map_or(end, |(_, at)| **at).min(end);
        tokio::select! {
            line = wire.line(Duration::from_secs(30)) => {
                let Some(line) = line? else { break };
                let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
                note_frame(&mut seen, &v);
                if v["type"] == "ping" {
                    wire.write(b"{\"type\":\"pong\"}\n").await?;
                }
            }
            _ = sleep_until(next_own) => {
                match pending.next() {
                    Some((k, _)) if TokioInstant::now() < end => {
                        wire.write(format!("{}\n", own_event(k)).as_bytes()).await?;
                    }
                    _ => if TokioInstant::now() >= end { break },
                }
            }
        }
    }
    wire.close().await?;
    Ok(seen)
}

/// The p-th percentile (0-100) of the values, nearest rank; NaN when there are none.
fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

/// One run's figures: sizes and counts from its capture, latencies from its timestamps.
fn measure(t: Transport, pkts: &[Packet], latencies: &[f64]) -> Row {
    let t0 = pkts.first().map_or(0.0, |p| p.raw.ts.as_secs_f64());
    let at = |p: &Packet| p.raw.ts.as_secs_f64() - t0;
    let busy_end = (BUSY + IDLE_GRACE).as_secs_f64();
    // The window ends a little before the run does, so the closing packets are not idle cost.
    let idle = (busy_end, (BUSY + IDLE - IDLE_GRACE).as_secs_f64());
    let busy: Vec<&Packet> = pkts.iter().filter(|p| at(p) < busy_end).collect();
    let idle_bytes: usize = pkts
        .iter()
        .filter(|p| (idle.0..idle.1).contains(&at(p)))
        .map(|p| p.raw.bytes.len())
        .sum();
    let delivered = latencies.iter().filter(|l| l.is_finite()).count();
    let per = |n: usize| n as f64 / delivered.max(1) as f64;
    let requests = pkts
        .iter()
        .filter(|p| {
            let b = p.payload();
            b.starts_with(b"GET ") || b.starts_with(b"POST ")
        })
        .count();
    let connections = pkts
        .iter()
        .filter(|p| p.flag("tcp.flags.syn") && !p.flag("tcp.flags.ack"))
        .count();
    Row {
        transport: t,
        delivered,
        bytes_per_msg: per(busy.iter().map(|p| p.raw.bytes.len()).sum()),
        packets_per_msg: per(busy.len()),
        connections,
        requests,
        p50_ms: percentile(latencies, 50.0),
        p99_ms: percentile(latencies, 99.0),
        idle_bytes_per_min: idle_bytes as f64 * 60.0 / (idle.1 - idle.0),
    }
}

fn show_results(s: &mut Session, rows: &[Row]) -> Result<(), LabError> {
    s.explain("The results")?;
    let mut t = render::table(
        &[
            "transport",
            "bytes\n/msg",
            "pkts\n/msg",
            "TCP\nconns",
            "HTTP\nreqs",
            "p50\n(ms)",
            "p99\n(ms)",
            "idle\nB/min",
        ],
        s.style(),
    );
    for r in rows {
        t.add_row(vec![
            r.transport.name(),
            format!("{:.0}", r.bytes_per_msg),
            format!("{:.1}", r.packets_per_msg),
            r.connections.to_string(),
            r.requests.to_string(),
            ms(r.p50_ms),
            ms(r.p99_ms),
            format!("{:.0}", r.idle_bytes_per_min),
        ]);
    }
    s.show(
        &format!("{PUSHES} pushed messages per run (sizes and counts from the captures, latencies from this run's clocks)"),
        &t.to_string(),
    );
    let chart = |title: &str, unit: &str, value: fn(&Row) -> f64| {
        bars(
            &rows
                .iter()
                .map(|r| (r.transport.name(), value(r)))
                .collect::<Vec<_>>(),
            unit,
        )
        .map(|b| (title.to_string(), b))
    };
    for (title, body) in [
        chart("Bytes on the wire per delivered message", "B", |r| {
            r.bytes_per_msg
        }),
        chart("Delivery latency, p50", "ms", |r| r.p50_ms),
        chart(
            "Idle cost: bytes per minute with nobody talking",
            "B/min",
            |r| r.idle_bytes_per_min,
        ),
    ]
    .into_iter()
    .flatten()
    {
        s.show(&title, &body);
    }
    for r in rows {
        let key = r.transport.capture().replace("lab07-", "");
        s.measure(&format!("{key}.bytes_per_msg"), r.bytes_per_msg, "bytes");
        s.measure(&format!("{key}.packets_per_msg"), r.packets_per_msg, "");
        s.measure(&format!("{key}.connections"), r.connections, "");
        s.measure(&format!("{key}.requests"), r.requests, "");
        s.measure(&format!("{key}.p50_ms"), finite(r.p50_ms), "ms");
        s.measure(&format!("{key}.p99_ms"), finite(r.p99_ms), "ms");
        s.measure(
            &format!("{key}.idle_bytes_per_min"),
            r.idle_bytes_per_min,
            "bytes/min",
        );
    }
    if let Some(dir) = s.options.plots.clone() {
        write_plots(s, &dir, rows)?;
    }
    Ok(())
}

/// A latency in at most 4 characters (the table's column keeps one width from run to run):
/// tenths below 10 ms, whole milliseconds above.
fn ms(v: f64) -> String {
    if v < 9.95 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { -1.0 }
}

/// A horizontal bar chart in text: one row per label, bars scaled to the largest value.
fn bars(rows: &[(String, f64)], unit: &str) -> Option<String> {
    const WIDTH: f64 = 36.0;
    let max = rows
        .iter()
        .map(|r| r.1)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let label = rows.iter().map(|r| r.0.chars().count()).max()?;
    let lines: Vec<String> = rows
        .iter()
        .map(|(name, v)| {
            let n = if max > 0.0 && v.is_finite() {
                (v / max * WIDTH).round() as usize
            } else {
                0
            };
            let bar = if n == 0 && *v > 0.0 {
                "▏".to_string()
            } else {
                "█".repeat(n)
            };
            format!("{name:<label$} {bar} {v:.0} {unit}")
        })
        .collect();
    Some(lines.join("\n"))
}

/// One chart: its file, title, unit and the figure it plots.
type Chart = (&'static str, &'static str, &'static str, fn(&Row) -> f64);

/// The charts as SVG files, drawn by hand: a few rectangles and labels each. A plotting crate
/// would be more code to read than the chart itself (and bring a font stack with it).
fn write_plots(s: &mut Session, dir: &std::path::Path, rows: &[Row]) -> Result<(), LabError> {
    std::fs::create_dir_all(dir).map_err(LabError::io(format!("creating {}", dir.display())))?;
    let charts: [Chart; 4] = [
        (
            "lab07-bytes-per-message.svg",
            "Bytes on the wire per delivered message",
            "bytes",
            |r| r.bytes_per_msg,
        ),
        (
            "lab07-latency-p50.svg",
            "Delivery latency, median (p50)",
            "ms",
            |r| r.p50_ms,
        ),
        (
            "lab07-latency-p99.svg",
            "Delivery latency, p99",
            "ms",
            |r| r.p99_ms,
        ),
        (
            "lab07-idle.svg",
            "Idle cost: bytes per minute with nobody talking",
            "bytes/min",
            |r| r.idle_bytes_per_min,
        ),
    ];
    let mut written = Vec::new();
    for (file, title, unit, value) in charts {
        let data: Vec<(String, f64)> = rows
            .iter()
            .map(|r| (r.transport.name(), value(r)))
            .collect();
        let path = dir.join(file);
        std::fs::write(&path, svg_bars(title, unit, &data))
            .map_err(LabError::io(format!("writing {}", path.display())))?;
        written.push(path.display().to_string());
    }
    let line = format!("  (charts written: {})", written.join(", "));
    let line = s.style().dim(&line);
    s.say(&line);
    Ok(())
}

/// One horizontal bar chart as an SVG document, sized for a projector (1200 x 80 + 70 per bar).
pub fn svg_bars(title: &str, unit: &str, rows: &[(String, f64)]) -> String {
    let esc = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let (width, left, bar_h, gap, top) = (1200.0, 300.0, 50.0, 20.0, 80.0);
    let max = rows
        .iter()
        .map(|r| r.1)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let height = top + rows.len() as f64 * (bar_h + gap) + 20.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"20\" y=\"45\" font-size=\"32\" font-weight=\"bold\">{}</text>\n",
        esc(title)
    );
    for (i, (name, v)) in rows.iter().enumerate() {
        let y = top + i as f64 * (bar_h + gap);
        let w = if max > 0.0 && v.is_finite() {
            v / max * (width - left - 200.0)
        } else {
            0.0
        };
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"26\" text-anchor=\"end\">{}</text>\n<rect x=\"{left}\" y=\"{y}\" width=\"{w:.1}\" height=\"{bar_h}\" fill=\"#3b6ea5\"/>\n<text x=\"{:.1}\" y=\"{}\" font-size=\"26\">{v:.1} {}</text>\n",
            left - 15.0,
            y + bar_h * 0.7,
            esc(name),
            left + w + 10.0,
            y + bar_h * 0.7,
            esc(unit)
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

fn row(rows: &[Row], t: Transport) -> Option<&Row> {
    rows.iter().find(|r| r.transport == t)
}

fn checks(s: &mut Session, rows: &[Row]) {
    let conns = |t| row(rows, t).map_or(0, |r| r.connections);
    // Short and long polling and SSE: the GET connection and the POSTs' connection (SSE also
    // opens one to learn the newest id); WebSocket and TCP: one.
    s.check_eq(
        "WebSocket: one TCP connection",
        conns(Transport::WebSocket),
        1,
    );
    s.check_eq("TCP lines: one TCP connection", conns(Transport::Tcp), 1);
    s.check_eq(
        "TCP lines: no HTTP request at all",
        row(rows, Transport::Tcp).map_or(99, |r| r.requests),
        0,
    );
    s.check_eq(
        "WebSocket: one HTTP request, the upgrade",
        row(rows, Transport::WebSocket).map_or(99, |r| r.requests),
        1,
    );
    if let (Some(fast), Some(slow)) = (
        row(rows, Transport::Poll(250)),
        row(rows, Transport::Poll(1000)),
    ) {
        s.check(
            "polling every 250 ms costs more while idle than every 1 s",
            fast.idle_bytes_per_min > slow.idle_bytes_per_min,
            format!(
                "{:.0} > {:.0}",
                fast.idle_bytes_per_min, slow.idle_bytes_per_min
            ),
        );
    }
    for ms in [1000, 250] {
        if let Some(r) = row(rows, Transport::Poll(ms)) {
            // A message waits for the next poll: never a whole interval more (plus the time a
            // busy machine may add to a poll).
            s.check(
                &format!("polling every {ms} ms: no message waited more than one interval"),
                r.p99_ms <= ms as f64 + 100.0,
                format!("p99 {:.1} ms", r.p99_ms),
            );
        }
    }
    for t in [
        Transport::LongPoll,
        Transport::Sse,
        Transport::WebSocket,
        Transport::Tcp,
    ] {
        if let Some(r) = row(rows, t) {
            s.check(
                &format!("{}: silent while idle", t.name()),
                r.idle_bytes_per_min == 0.0,
                format!("{:.0} bytes/min", r.idle_bytes_per_min),
            );
        }
    }
    let pushers_p50 = rows
        .iter()
        .filter(|r| r.transport.pushes_itself())
        .map(|r| r.p50_ms)
        .fold(0.0, f64::max);
    if let Some(fast) = row(rows, Transport::Poll(250)) {
        s.check(
            "every pushing transport delivers faster (p50) than polling every 250 ms",
            pushers_p50 < fast.p50_ms,
            format!("{pushers_p50:.1} < {:.1} ms", fast.p50_ms),
        );
    }
}

fn questions(s: &mut Session, rows: &[Row]) -> Result<(), LabError> {
    let fastest = rows
        .iter()
        .min_by(|a, b| a.p50_ms.total_cmp(&b.p50_ms))
        .map(|r| r.transport);
    let correct = match fastest {
        Some(Transport::Poll(1000)) => 0,
        Some(Transport::Poll(_)) => 1,
        _ => 2,
    };
    s.ask(
        Question::choice(
            "fastest",
            "Which delivered the pushed messages fastest (lowest p50)?",
            &[
                "short polling every 1 s",
                "short polling every 250 ms",
                "the transports that push (long-polling, SSE, WebSocket, TCP lines): all within a few milliseconds",
                "none: they were all about as fast",
            ],
            correct,
        )
        .hint("the p50 column, or the latency bar chart")
        .hint("polling waits for the next poll; the others send as soon as the server has the message")
        .why("A pushing transport sends the message the moment it exists: on loopback, in well under a millisecond to a few. Polling delivers at the next poll: on average half the interval later (about 125 ms and 500 ms here)."),
    )?;
    if let Some(r) = row(rows, Transport::Poll(250)) {
        s.ask(
            Question::number(
                "poll-idle-bytes",
                "How many bytes per minute did short polling every 250 ms cost while nobody said anything?",
                r.idle_bytes_per_min.round(),
            )
            .tolerance((r.idle_bytes_per_min * 0.1).max(1.0))
            .unit("bytes")
            .hint("the idle column of the table, for short polling, 250 ms")
            .hint("every poll is a request and a response with headers, even when the answer is empty")
            .why(&format!("About {:.0} bytes per minute, for nothing: four requests a second, each with its headers and an empty answer. Long-polling, SSE, WebSocket and TCP cost nothing while idle here (their keep-alives come every 15 to 25 s, outside the window measured).", r.idle_bytes_per_min)),
        )?;
        let per = r.requests as f64 / r.delivered.max(1) as f64;
        s.ask(
            Question::number(
                "poll-requests-per-message",
                &format!("Short polling every 250 ms made {} HTTP requests in its run. How many requests per delivered message is that (one decimal)?", r.requests),
                (per * 10.0).round() / 10.0,
            )
            .tolerance(0.15)
            .hint(&format!("divide by the {PUSHES} messages delivered"))
            .hint("the HTTP reqs column over the number of pushed messages")
            .why(&format!("{} requests for {} messages: {per:.1} each. Most polls hear \"nothing new\", and each still costs a request and a response.", r.requests, r.delivered)),
        )?;
    }
    let interval = s.variant().pick("lab07.interval-ms", 2000, 100..=10_000);
    s.ask(
        Question::number(
            "poll-wait",
            &format!("Messages arrive at random moments. If a client polled every {interval} ms, how long would a message wait at the server, on average, before the next poll fetched it?"),
            interval as f64 / 2.0,
        )
        .tolerance(interval as f64 * 0.05)
        .unit("ms")
        .hint("compare the p50 of the two polling runs with their intervals")
        .hint("a message is equally likely to arrive at any moment between two polls")
        .why(&format!("Half the interval, {} ms: the delay is spread evenly from 0 to a whole interval. Halving it halves the wait and doubles the requests: polling trades bytes for latency.", interval / 2)),
    )?;
    Ok(())
}

/// socket.io's own client on the wire, from a shipped capture (how it was recorded: the guide's
/// section). Netlab's labs do not run Python; the capture is the evidence.
fn socketio(s: &mut Session) -> Result<(), LabError> {
    s.explain("socket.io: long-polling first, then the upgrade")?;
    let name = "lab07-socketio";
    let rec = Recording {
        name: name.to_string(),
        source: Source::Shipped,
        packets: capture::read_capture(&capture::captures_dir().join(format!("{name}.pcap")))?,
    };
    let pkts = packets::dissect_all(&rec);
    let first_line = |p: &Packet| {
        let b = p.payload();
        let end = b.windows(2).position(|w| w == b"\r\n").unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    };
    let requests: Vec<(u64, String)> = pkts
        .iter()
        .filter(|p| p.payload().starts_with(b"GET ") || p.payload().starts_with(b"POST "))
        .map(|p| (p.number, first_line(p)))
        .collect();
    let connect = pkts
        .iter()
        .position(|p| p.payload().windows(6).any(|w| w == b"40/cha"))
        .map_or(pkts.len(), |i| i + 1);
    s.show(
        &format!("labs/captures/{name}.pcap: python-socketio's client, default options, against netlab events serve (up to its CONNECT to /chat)"),
        &packets::packet_table(&pkts[..connect.min(pkts.len())], s.style()),
    );
    let mut t = render::table(&["No.", "HTTP request"], s.style());
    render::keep_whole(&mut t, &[0]);
    for (n, line) in &requests {
        // Whole URLs do not wrap; the part that matters (transport=, sid=) comes first.
        let shown: String = if line.chars().count() > 64 {
            line.chars().take(61).collect::<String>() + "..."
        } else {
            line.clone()
        };
        t.add_row(vec![n.to_string(), shown]);
    }
    s.show("Its HTTP requests, in order", &t.to_string());
    let at = |what: &str| requests.iter().position(|(_, l)| l.contains(what));
    let (polling, websocket) = (at("transport=polling"), at("transport=websocket"));
    let switched = pkts
        .iter()
        .any(|p| p.payload().starts_with(b"HTTP/1.1 101"));
    s.measure(
        "socketio.first_transport",
        requests.first().map(|r| r.1.clone()),
        "",
    );
    s.check(
        "socket.io's first request is long-polling",
        polling == Some(0),
        requests.first().map(|r| r.1.clone()).unwrap_or_default(),
    );
    s.check(
        "then it asks for a WebSocket, with the polling session's sid",
        matches!((polling, websocket), (Some(p), Some(w)) if p < w)
            && websocket.is_some_and(|w| requests[w].1.contains("sid=")),
        format!("polling at {polling:?}, websocket at {websocket:?}"),
    );
    s.check("and gets its 101", switched, "");
    s.ask(
        Question::choice(
            "socketio-first",
            "A classmate's notes say: \"socket.io tries WebSocket and falls back to HTTP\". What did socket.io's own client do in this capture?",
            &[
                "it opened the session with HTTP long-polling, then upgraded that session to a WebSocket",
                "it tried a WebSocket first and fell back to long-polling",
                "it used a WebSocket only",
                "it used long-polling only",
            ],
            0,
        )
        .hint("the first HTTP request: which transport= does it ask for?")
        .hint("compare the first request's transport= with a later one's, and look for the 101")
        .why("By default Engine.IO opens with long-polling, which works through any proxy, and answers with the session's id and \"upgrades\":[\"websocket\"]. The client then opens a WebSocket with that sid, checks it with a probe (2probe, 3probe), sends the upgrade packet (5), and moves the session over. If the WebSocket fails, the session simply stays on polling: the fallback goes the other way round."),
    )?;
    Ok(())
}
