//! Lab 08, emitting events: emit and on in both directions over one connection, an ack and its
//! round trip, an ack that times out, an event the client has no handler for (its bytes are in
//! the capture, the client drops it), an event the server has no handler for (the server's trace
//! shows it dropped), and volatile against default delivery when the client cannot keep up.
//!
//! The server is netlab-events' real server with a small application (below); the client is
//! [`Wire`], which sends and reads one frame at a time, so every frame the lab talks about is one
//! it sent or read, and the capture shows the same bytes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netlab_events::Frame;
use netlab_events::core::{Config, Core, Delivery};
use serde_json::{Value, json};

use crate::events::{self, EventServer, Wire};
use crate::packets;
use crate::question::Question;
use crate::render;
use crate::session::Session;
use crate::{LabError, LabFuture, LabInfo};

pub const INFO: LabInfo = LabInfo {
    number: 8,
    slug: "emitting-events",
    title: "Emitting events: emit, on, acks",
    minutes: 3,
    guide: include_str!("../../guides/08-emitting-events.md"),
    run,
};

/// How long the client waits for an ack before it gives up: long against loopback's
/// microseconds, short enough to keep the lab quick.
const ACK_TIMEOUT: Duration = Duration::from_millis(300);

/// Frames the server may queue for one connection in the volatile experiment: volatile events
/// are dropped once half of it is used, so 16 of a burst can wait.
const SEND_QUEUE: usize = 32;

/// Events in each burst: more than half the queue, fewer than all of it (24 in the practice
/// variant, 18 to 30 in a student's).
fn burst_size(s: &Session) -> usize {
    s.variant().pick("lab08.burst", 24, 18..=30) as usize
}

/// The text of the promotion the server emits (its length is a question's answer).
fn promo_text(s: &Session) -> String {
    let until = s.variant().choose(
        "lab08.promo",
        &[
            "today only",
            "this week",
            "until Sunday",
            "for members",
            "while stocks last",
        ],
    );
    format!("50% off, {until}")
}

/// The names of the events the client has a handler for (`on`), as an application registers
/// them. Everything else that arrives is dropped, as netlab-events' and socket.io's clients do.
const CLIENT_HANDLERS: [&str; 2] = ["welcome", "tick"];

/// What the server's handlers did, in order, for the lab to show.
type HandlerLog = Arc<Mutex<Vec<String>>>;

fn log(runs: &HandlerLog, line: String) {
    runs.lock().unwrap_or_else(|p| p.into_inner()).push(line);
}

/// The lab's server application on namespace `/`:
/// - on connection: emit `welcome` to the new socket;
/// - `hello [name]`: ack `["hi NAME"]` if an ack was asked for;
/// - `slow`: runs, never acks (a handler that forgot to, or is still busy);
/// - `burst [delivery, n]`: emit `n` `tick` events to the sender at once, volatile or default;
/// - anything else: no handler, dropped (and traced).
fn install(core: &mut Core, runs: HandlerLog) {
    let ns = core.namespace("/");
    let r = runs.clone();
    ns.on_connection(move |ctx| {
        log(&r, "on connection: emit \"welcome\"".into());
        ctx.emit("welcome", vec![json!("welcome to lab 08")]);
    });
    let r = runs.clone();
    ns.on("hello", move |ctx, ev| {
        let name = ev.args.first().and_then(Value::as_str).unwrap_or("?");
        let acked = ctx.ack(vec![json!(format!("hi {name}"))]);
        log(
            &r,
            format!(
                "on(\"hello\") ran with [{name:?}]; {}",
                if acked {
                    "acked"
                } else {
                    "no ack asked for, none sent"
                }
            ),
        );
    });
    let r = runs.clone();
    ns.on("slow", move |_ctx, _ev| {
        log(&r, "on(\"slow\") ran; it does not ack".into());
    });
    let r = runs;
    ns.on("burst", move |ctx, ev| {
        let volatile = ev.args.first().and_then(Value::as_str) == Some("volatile");
        let n = ev.args.get(1).and_then(Value::as_u64).unwrap_or(0);
        let delivery = if volatile {
            Delivery::Volatile
        } else {
            Delivery::Default
        };
        for i in 1..=n {
            ctx.emit_with(delivery, "tick", vec![json!(i)]);
        }
        log(
            &r,
            format!(
                "on(\"burst\") emitted {n} {} \"tick\" events at once",
                if volatile { "volatile" } else { "default" }
            ),
        );
    });
}

fn run(s: &mut Session) -> LabFuture<'_> {
    Box::pin(async move {
        s.explain("Emit and on")?;
        let runs = HandlerLog::default();
        let app = runs.clone();
        let config = Config {
            send_queue: SEND_QUEUE,
            ..Config::default()
        };
        let server = EventServer::start(config, 0, None, move |c| install(c, app)).await?;
        let guess = s.predict(
            "ack-round-trip-guess",
            "How long will the ack for \"hello\" take to come back on loopback, in microseconds?",
        )?;
        s.act(&format!(
            "one client connects to the event server on {} and emits; the server emits back",
            server.addr()
        ));
        let promo = promo_text(s);
        let (outcome, rec) = s
            .capture("lab08-emit", &[server.port()], conversation(&server, promo))
            .await?;
        let trace = server.take_trace();
        client_view(s, &outcome);
        let ran = std::mem::take(&mut *runs.lock().unwrap_or_else(|p| p.into_inner()));
        s.show(
            "The server's handlers (what ran on the server)",
            &events::trace_block(&ran),
        );
        s.show(
            "The server's trace (netlab events serve --trace)",
            &events::trace_block(&trace),
        );
        let pkts = packets::dissect_all(&rec);
        let frames = events::captured_frames(&pkts);
        s.show(
            "The same conversation in the capture (spaces added after commas)",
            &events::frames_table(&frames, s.style()),
        );
        s.reveal(guess, outcome.ack_rtt.as_micros() as u64, "µs");
        emits_from_the_client(s, &outcome, &ran, &trace)?;
        s.explain("An event nobody listens to")?;
        unhandled_by_the_client(s, &outcome, &frames, rec.source)?;
        unhandled_by_the_server(s, &outcome, &trace)?;
        s.explain("Volatile and default delivery")?;
        volatile(s, &server).await?;
        server.stop().await;
        s.explain("What you learned")?;
        Ok(())
    })
}

/// What the client saw of the scripted conversation.
struct Outcome {
    /// (what the client did, frames it sent, what came back, what the client made of it)
    steps: Vec<Step>,
    ack_rtt: Duration,
    ack_args: Vec<Value>,
    /// Frames that came back after `hello` without an ack id.
    after_plain_emit: usize,
    slow_timed_out: bool,
    after_typo: usize,
    promo_bytes: usize,
    promo_dropped: bool,
}

struct Step {
    action: String,
    came_back: String,
    client: String,
}

/// The scripted conversation: connect, emit with and without acks, an ack that never comes, an
/// event the server does not handle, an event the client does not handle.
async fn conversation(server: &EventServer, promo: String) -> Result<Outcome, LabError> {
    let mut steps = Vec::new();
    let mut wire = Wire::connect(server.addr()).await?;
    let connected = wire.join_ns("/", None, None).await?;
    let Some((sid, _, _)) = events::session_of(&connected) else {
        return Err(LabError::Experiment(format!(
            "the server refused the connection: {connected:?}"
        )));
    };
    let welcome = wire
        .recv_until("the welcome event", |f| is_event(f, "welcome"))
        .await?;
    steps.push(Step {
        action: "connect to namespace /".into(),
        came_back: "connected, then event \"welcome\"".into(),
        client: client_dispatch(welcome.last()),
    });

    let start = Instant::now();
    wire.emit("/", "hello", vec![json!("ada")], Some(1)).await?;
    let got = wire
        .recv_until("the ack", |f| matches!(f, Frame::Ack { id: 1, .. }))
        .await?;
    let ack_rtt = start.elapsed();
    let ack_args = match got.last() {
        Some(Frame::Ack { args, .. }) => args.clone(),
        _ => Vec::new(),
    };
    steps.push(Step {
        action: "emit \"hello\" [\"ada\"] with ack id 1".into(),
        came_back: format!("ack 1 {}", json!(ack_args)),
        client: format!("ack callback ran after {} µs", ack_rtt.as_micros()),
    });

    wire.emit("/", "hello", vec![json!("bob")], None).await?;
    let after_plain_emit = wire.until_quiet().await?.len();
    steps.push(Step {
        action: "emit \"hello\" [\"bob\"], no ack id".into(),
        came_back: format!("{after_plain_emit} frames"),
        client: "nothing to do: it asked for nothing".into(),
    });

    wire.emit("/", "slow", vec![], Some(2)).await?;
    let slow = wire.recv(ACK_TIMEOUT).await?;
    let slow_timed_out = slow.is_none();
    steps.push(Step {
        action: "emit \"slow\" with ack id 2".into(),
        came_back: match &slow {
            None => "nothing".into(),
            Some(f) => f.to_json(),
        },
        client: format!(
            "ack timed out after {} ms: the callback gets an error",
            ACK_TIMEOUT.as_millis()
        ),
    });

    wire.emit("/", "typo", vec![json!("?")], None).await?;
    let after_typo = wire.until_quiet().await?.len();
    steps.push(Step {
        action: "emit \"typo\" (the server has no handler)".into(),
        came_back: format!("{after_typo} frames"),
        client: "-".into(),
    });

    let promo = vec![json!(promo)];
    server
        .handle()
        .with(|c, now| c.emit_to(&sid, Delivery::Default, "promo", promo, now));
    let got = wire
        .recv_until("the promo event", |f| is_event(f, "promo"))
        .await?;
    let promo_frame = got.last();
    let promo_bytes = promo_frame.map_or(0, events::wire_len);
    let handled = client_dispatch(promo_frame);
    steps.push(Step {
        action: "(the server emits \"promo\")".into(),
        came_back: format!("event \"promo\", {promo_bytes} bytes"),
        client: handled.clone(),
    });
    wire.close().await?;
    Ok(Outcome {
        steps,
        ack_rtt,
        ack_args,
        after_plain_emit,
        slow_timed_out,
        after_typo,
        promo_bytes,
        promo_dropped: handled.starts_with("dropped"),
    })
}

fn is_event(f: &Frame, name: &str) -> bool {
    matches!(f, Frame::Event { name: n, .. } if n == name)
}

/// What the client does with an incoming event: run its `on` handler, or drop it.
fn client_dispatch(f: Option<&Frame>) -> String {
    match f {
        Some(Frame::Event { name, .. }) if CLIENT_HANDLERS.contains(&name.as_str()) => {
            format!("on(\"{name}\") ran")
        }
        Some(Frame::Event { name, .. }) => format!("dropped: no handler for \"{name}\""),
        _ => "-".into(),
    }
}

fn client_view(s: &mut Session, o: &Outcome) {
    let mut t = render::table(
        &["the client did", "what came back", "the client then"],
        s.style(),
    );
    for step in &o.steps {
        t.add_row(vec![
            step.action.clone(),
            step.came_back.clone(),
            step.client.clone(),
        ]);
    }
    s.show(
        &format!(
            "The client's side (its handlers: on(\"{}\"), on(\"{}\"))",
            CLIENT_HANDLERS[0], CLIENT_HANDLERS[1]
        ),
        &t.to_string(),
    );
}

fn emits_from_the_client(
    s: &mut Session,
    o: &Outcome,
    ran: &[String],
    trace: &[String],
) -> Result<(), LabError> {
    s.check_eq(
        "the ack carries the handler's reply",
        o.ack_args.clone(),
        vec![json!("hi ada")],
    );
    let hello_runs = ran
        .iter()
        .filter(|l| l.starts_with("on(\"hello\")"))
        .count();
    s.check_eq(
        "the server's hello handler ran for both emits",
        hello_runs,
        2,
    );
    s.check_eq(
        "an emit without an ack id gets nothing back",
        o.after_plain_emit,
        0,
    );
    s.check(
        "the slow handler ran, and the ack timed out",
        o.slow_timed_out && ran.iter().any(|l| l.starts_with("on(\"slow\")")),
        format!("timed out: {}", o.slow_timed_out),
    );
    s.check(
        "the trace shows the server received the emits",
        trace.iter().any(|l| l.contains("<- {\"type\":\"event\"")),
        format!("{} trace lines", trace.len()),
    );
    let rtt_us = o.ack_rtt.as_micros() as u64;
    s.measure("ack.round_trip", rtt_us, "µs");
    // A graded answer must not depend on the machine's load: the question asks for the range
    // the measured round trip fell in, which on loopback is the first one even on a busy
    // machine (the exact figure is the prediction's, above).
    let range = if o.ack_rtt < Duration::from_millis(50) {
        0
    } else if o.ack_rtt < ACK_TIMEOUT {
        1
    } else {
        2
    };
    s.ask(
        Question::choice(
            "ack-round-trip",
            "How long did the ack for \"hello\" take to come back (the client's table)?",
            &[
                "less than 50 ms",
                "between 50 ms and 300 ms",
                "it did not come back within 300 ms",
            ],
            range,
        )
        .hint("the ack callback's line in the client's table gives the time in µs (1 ms is 1000 µs)")
        .hint("50 ms is 50,000 µs: compare the callback's time with that")
        .why("From the emit leaving to the ack arriving: the frame crossed to the server, its handler ran, the ack crossed back. On loopback that is tens to hundreds of microseconds; across the Internet it is the network's round trip, tens of milliseconds."),
    )?;
    s.ask(
        Question::choice(
            "client-emit",
            "The client emitted \"hello\" without an ack id. What happened?",
            &[
                "the client's own handler responded with an action",
                "the frame went to the server, whose handler ran; nothing came back",
                "the server sent an ack anyway",
            ],
            1,
        )
        .hint("compare the client's table (what came back) with the server's handlers")
        .hint("the server's handler list shows on(\"hello\") ran for [\"bob\"], and the client's table shows 0 frames came back")
        .why("An emit travels to the other side and runs that side's handler. An answer comes back only if the sender asked for one with an ack id."),
    )?;
    Ok(())
}

fn unhandled_by_the_client(
    s: &mut Session,
    o: &Outcome,
    frames: &[events::CapturedFrame],
    source: crate::capture::Source,
) -> Result<(), LabError> {
    let promo = frames
        .iter()
        .find(|f| matches!(&f.frame, Some(Frame::Event { name, .. }) if name == "promo"));
    let captured_bytes = promo.map_or(0, |f| f.bytes);
    s.check(
        "the capture holds the promo frame, server to client",
        promo.is_some_and(|f| !f.to_server),
        format!(
            "{captured_bytes} bytes in packet {}",
            promo.map_or(0, |f| f.packet)
        ),
    );
    s.check_eq(
        "the client received the promo event and dropped it",
        o.promo_dropped,
        true,
    );
    if source == crate::capture::Source::Live {
        s.check_eq(
            "the capture shows the bytes the client read",
            captured_bytes,
            o.promo_bytes,
        );
    }
    s.measure("promo.bytes", captured_bytes, "bytes");
    s.ask(
        Question::number(
            "promo-bytes",
            "How many bytes of event protocol crossed the wire for the \"promo\" event (the capture's bytes column)?",
            captured_bytes as f64,
        )
        .unit("bytes")
        .hint("find the row of the capture table whose frame has \"name\":\"promo\"")
        .hint("the bytes column counts the JSON line and its newline: one row, one number")
        .why("The whole frame was sent and arrived: the JSON line and its newline. The client dropped it afterwards, because no handler was registered for \"promo\"."),
    )?;
    s.ask(
        Question::choice(
            "server-emit-nobody-listens",
            "The server emitted \"promo\" and the client had no handler for it. What happened?",
            &[
                "nothing: with no one listening the event was never triggered",
                "the frame was sent and arrived; the client dropped it for lack of a handler",
                "the server waited until the client registered a handler",
            ],
            1,
        )
        .hint("is the promo frame in the capture?")
        .hint("the capture has a server → client row for promo; the client's table says what it did with it")
        .why("Emitting does not ask whether anyone listens: the bytes cross the network either way. Handlers decide what happens on arrival, not whether anything arrives."),
    )?;
    Ok(())
}

fn unhandled_by_the_server(s: &mut Session, o: &Outcome, trace: &[String]) -> Result<(), LabError> {
    s.check_eq("nothing came back for typo", o.after_typo, 0);
    let dropped: Vec<&String> = trace
        .iter()
        .filter(|l| l.contains("!! dropped event \"typo\""))
        .collect();
    s.check_eq(
        "the server's trace shows typo dropped, once",
        dropped.len(),
        1,
    );
    s.ask(
        Question::choice(
            "server-unhandled",
            "The client emitted \"typo\", which the server has no handler for. What did the client get back?",
            &["an error frame", "an ack", "nothing: the server dropped it"],
            2,
        )
        .hint("look for \"typo\" in the server's trace and in the client's table")
        .hint("the client's table shows 0 frames after typo, and the trace shows \"!! dropped event\"")
        .why("The protocol drops an event nobody handles, on either side. Only the server's trace (--trace) shows it."),
    )?;
    Ok(())
}

/// One burst per delivery: how many ticks arrived, how many the server dropped.
async fn volatile(s: &mut Session, server: &EventServer) -> Result<(), LabError> {
    let burst = burst_size(s);
    s.act(&format!(
        "the client asks for {burst} \"tick\" events at once, volatile then default; the server may queue {SEND_QUEUE} frames"
    ));
    let mut wire = Wire::connect(server.addr()).await?;
    wire.join_ns("/", None, None).await?;
    wire.until_quiet().await?;
    let mut rows = Vec::new();
    for delivery in ["volatile", "default"] {
        let before = server.stats().volatile_dropped;
        wire.emit("/", "burst", vec![json!(delivery), json!(burst)], None)
            .await?;
        let frames = wire.until_quiet().await?;
        let arrived = events::events_named(&frames, "tick").count();
        let dropped = server.stats().volatile_dropped - before;
        rows.push((delivery, arrived, dropped));
    }
    wire.close().await?;
    server.take_trace();
    let mut t = render::table(
        &["delivery", "emitted", "arrived", "dropped by the server"],
        s.style(),
    );
    for (d, arrived, dropped) in &rows {
        t.add_row(vec![
            d.to_string(),
            burst.to_string(),
            arrived.to_string(),
            dropped.to_string(),
        ]);
    }
    s.show(
        "A burst the connection cannot carry at once",
        &t.to_string(),
    );
    let (v_arrived, v_dropped) = (rows[0].1, rows[0].2 as usize);
    s.check_eq(
        "volatile: every tick arrived or was dropped",
        v_arrived + v_dropped,
        burst,
    );
    s.check_eq(
        "volatile: dropped once half the queue was used",
        v_arrived,
        SEND_QUEUE / 2,
    );
    s.check_eq("default: every tick arrived", rows[1].1, burst);
    s.check_eq("default: none dropped", rows[1].2, 0);
    s.measure("volatile.arrived", v_arrived, "");
    s.measure("volatile.dropped", v_dropped, "");
    s.ask(
        Question::number(
            "volatile-dropped",
            &format!("Of the {burst} volatile ticks, how many did the server drop?"),
            v_dropped as f64,
        )
        .hint("the volatile row of the table")
        .hint("the server kept volatile ticks only while fewer than 16 of its 32 queue places were used")
        .why("The server queued volatile events only while its send queue for this client was less than half full (16 of 32); the rest were dropped, on purpose. Default events waited in the queue and all arrived."),
    )?;
    Ok(())
}
