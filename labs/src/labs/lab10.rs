//! Lab 10, missed events and message queues. A listener goes away while a producer publishes 10
//! messages, then comes back, five times over:
//! 1. default delivery: none of the 10 arrive;
//! 2. acknowledgements with retry (at least once): all arrive, twice where an ack was lost;
//!    de-duplication by id makes that effectively once;
//! 3. a server-side log with per-session offsets (seq) and replay on resume: exactly the 10, in
//!    order;
//! 4. the log's bounds exceeded (count, then age): `recovered: false`, and nothing replayed;
//! 5. durability: the server is killed with SIGKILL and restarted, with and without `--store`.
//!
//! Step 5 needs a server the lab can kill, so the lab starts its own binary again as a child
//! process with [`CHILD_FLAG`]; the child runs the same feed application from this module (a
//! lab never shells out to `netlab`). Then the same ideas are named as a message queue names
//! them, with a table of guarantees and measured costs.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netlab_events::Frame;
use netlab_events::core::{Config, Core, Delivery, StoreOp};
use netlab_events::frame::Resume;
use netlab_events::store::{RedbStore, Snapshot, Store};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::events::{self, EventServer, Wire};
use crate::packets;
use crate::question::Question;
use crate::render;
use crate::servers::STEP_TIMEOUT;
use crate::session::Session;
use crate::{LabError, LabFuture, LabInfo};

pub const INFO: LabInfo = LabInfo {
    number: 10,
    slug: "missed-events",
    title: "Missed events and message queues",
    minutes: 3,
    guide: include_str!("../../guides/10-missed-events.md"),
    run,
};

/// Messages published while the listener is away (the number).
const MESSAGES: u64 = 10;

/// The room the listener joins and the producer publishes to.
const FEED: &str = "feed";

/// How long the server's sender waits for an ack before it tries again, and the pause between
/// its rounds of tries: long against loopback, short enough for a quick lab.
const ACK_WAIT: Duration = Duration::from_millis(400);
const RETRY_EVERY: Duration = Duration::from_millis(100);

/// The age bound of step 4, and how long the listener stays away then: longer than it.
const SHORT_AGE: Duration = Duration::from_millis(300);
const LONG_AWAY: Duration = Duration::from_millis(600);

/// The flag that makes a lab binary (or `netlab`) run the feed server instead of a lab: see
/// [`serve_child_if_asked`].
pub const CHILD_FLAG: &str = "--lab10-event-server";

/// Which listener names the server knows, and their socket ids (for the retrying sender of
/// step 2, which addresses the listener by name across its reconnects).
type Registry = Arc<Mutex<HashMap<String, String>>>;

/// The feed application on namespace `/`:
/// - connect with `"auth":{"name":...}`; the name is kept with the session;
/// - `join [room]`: the server puts the socket in the room and acks;
/// - `publish [delivery, id, text]`: `message {id, text}` to everyone in the feed room except the
///   publisher, with that delivery (`default` or `reliable`); then the ack `[{"ok":true}]`. With
///   `--store` the reliable log entries are on disk before the ack leaves.
pub fn install_feed(core: &mut Core, registry: Option<Registry>) {
    let ns = core.namespace("/");
    ns.use_middleware(|hs| {
        let name = hs.auth.get("name").and_then(Value::as_str).unwrap_or("?");
        hs.data.insert("name".into(), json!(name));
        Ok(())
    });
    if let Some(reg) = registry {
        let r = reg.clone();
        ns.on_connection(move |ctx| {
            if let Some(name) = ctx.data_str("name") {
                lock(&r).insert(name, ctx.sid().to_string());
            }
        });
        ns.on_disconnect(move |ctx, _| {
            let sid = ctx.sid().to_string();
            lock(&reg).retain(|_, s| *s != sid);
        });
    }
    ns.on("join", |ctx, ev| {
        if let Some(room) = ev.args.first().and_then(Value::as_str) {
            ctx.join(room);
        }
        ctx.ack(vec![json!({"ok": true})]);
    });
    ns.on("publish", |ctx, ev| {
        let delivery = match ev.args.first().and_then(Value::as_str) {
            Some("reliable") => Delivery::Reliable,
            _ => Delivery::Default,
        };
        let msg = json!({"id": ev.args.get(1), "text": ev.args.get(2)});
        ctx.to(FEED).delivery(delivery).emit("message", vec![msg]);
        ctx.ack(vec![json!({"ok": true})]);
    });
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn run(s: &mut Session) -> LabFuture<'_> {
    Box::pin(async move {
        s.explain("Missed is not unhandled")?;
        let default = default_delivery(s).await?;
        s.explain("Acknowledgements and retries")?;
        let retry = acks_and_retries(s).await?;
        s.explain("A log with offsets, replayed on resume")?;
        let replay = log_and_replay(s).await?;
        s.explain("When the log cannot help")?;
        bounds(s).await?;
        s.explain("Durable: surviving a crash")?;
        let durable = durability(s).await?;
        s.explain("The same ideas in a message queue")?;
        costs(s, &default, &retry, &replay, &durable)?;
        s.explain("What you learned")?;
        Ok(())
    })
}

/// What one mitigation cost and delivered, for the final table.
#[derive(Debug, Default, Clone)]
struct Cost {
    /// Distinct messages (ids) that reached the listener.
    arrived: usize,
    /// Times the listener's handler ran: one per frame, or one per id with de-duplication.
    frames: usize,
    /// Event-protocol bytes on the listener's connection after it came back, both ways.
    bytes: usize,
    /// From the listener's reconnect to its last message.
    latency: Option<Duration>,
    /// Store commits (write transactions) for the 10 publishes.
    commits: usize,
}

/// A producer connection that publishes the messages and waits for each ack.
async fn publish(
    addr: SocketAddr,
    delivery: &str,
    ids: std::ops::RangeInclusive<u64>,
) -> Result<usize, LabError> {
    let mut p = Wire::connect(addr).await?;
    p.join_ns("/", Some(json!({"name": "producer"})), None)
        .await?;
    let mut acked = 0;
    for id in ids {
        let text = format!("message {id}");
        p.emit(
            "/",
            "publish",
            vec![json!(delivery), json!(id), json!(text)],
            Some(id),
        )
        .await?;
        p.recv_until(
            "the publish ack",
            |f| matches!(f, Frame::Ack { id: a, .. } if *a == id),
        )
        .await?;
        acked += 1;
    }
    p.close().await?;
    Ok(acked)
}

/// The listener: connects (resuming if asked), joins the feed unless resumed.
struct Listener {
    wire: Wire,
    session: String,
    recovered: bool,
    /// When the listener sent its connect: the start of "latency".
    since: Instant,
}

async fn listen(addr: SocketAddr, resume: Option<Resume>) -> Result<Listener, LabError> {
    let since = Instant::now();
    let mut wire = Wire::connect(addr).await?;
    let answer = wire
        .join_ns("/", Some(json!({"name": "listener"})), resume)
        .await?;
    let Some((_, session, recovered)) = events::session_of(&answer) else {
        return Err(LabError::Experiment(format!(
            "the listener was refused: {answer:?}"
        )));
    };
    if !recovered {
        wire.emit("/", "join", vec![json!(FEED)], Some(1)).await?;
    }
    Ok(Listener {
        wire,
        session,
        recovered,
        since,
    })
}

/// Message ids in the listener's frames, in arrival order.
fn message_ids(frames: &[Frame]) -> Vec<u64> {
    events::events_named(frames, "message")
        .filter_map(|f| match f {
            Frame::Event { args, .. } => args.first()?.get("id")?.as_u64(),
            _ => None,
        })
        .collect()
}

/// Step 1: nothing kept the messages.
async fn default_delivery(s: &mut Session) -> Result<Cost, LabError> {
    let guess = s.predict(
        "default-arrived-guess",
        "The listener has a handler for \"message\". How many of the 10 messages published while it is away will it receive when it comes back?",
    )?;
    let server = EventServer::start(Config::default(), 0, None, |c| install_feed(c, None)).await?;
    s.act("the listener joins the feed and goes away; the producer publishes 10 messages with default delivery; the listener comes back");
    away(server.addr()).await?;
    publish(server.addr(), "default", 1..=MESSAGES).await?;
    let mut back = listen(server.addr(), None).await?;
    let frames = back.wire.until_quiet().await?;
    let ids = message_ids(&frames);
    let lost = server.stats().default_lost_while_away;
    let bytes = back.wire.bytes_in + back.wire.bytes_out;
    back.wire.close().await?;
    server.stop().await;
    s.show(
        "Default delivery (at most once)",
        &format!(
            "  published while the listener was away: {MESSAGES}\n  the server's count of default events lost while their client was away: {lost}\n  messages the listener received after it came back: {}",
            ids.len()
        ),
    );
    s.reveal(guess, ids.len(), "messages");
    s.check_eq("default: none of the 10 arrive", ids.len(), 0);
    s.check_eq("default: the server counted 10 lost", lost, MESSAGES);
    s.measure("default.arrived", ids.len(), "messages");
    s.ask(
        Question::number(
            "default-arrived",
            "With default delivery, how many of the 10 messages reached the listener after it came back?",
            ids.len() as f64,
        )
        .hint("the last line above")
        .hint("the listener received no message frames at all after it came back")
        .why("None. Each was sent once, at a moment when the listener had no connection: there was nowhere to send it and nothing kept it."),
    )?;
    s.ask(
        Question::choice(
            "handlers-help",
            "Would having more handlers installed on the listener have saved those messages?",
            &[
                "yes: with a handler for every event nothing is missed",
                "no: the messages never arrived, so no handler could run; only something that keeps and resends them helps",
                "yes, if the handler is registered before the listener disconnects",
            ],
            1,
        )
        .hint("did any message frame reach the listener at all?")
        .hint("a handler runs on a frame that arrives; how many arrived?")
        .why("A handler runs on what arrives. A missed event never arrives: acknowledgements with retries, a log with replay, or storage are what bring it back."),
    )?;
    Ok(Cost {
        arrived: ids.len(),
        frames: ids.len(),
        bytes,
        latency: None,
        commits: 0,
    })
}

/// Step 2: the server's application retries each message until the listener acks it.
async fn acks_and_retries(s: &mut Session) -> Result<(Cost, Cost), LabError> {
    let lost_acks = lost_acks(s);
    let registry = Registry::default();
    let reg = registry.clone();
    let server = EventServer::start(Config::default(), 0, None, move |c| {
        install_feed(c, Some(reg))
    })
    .await?;
    s.act(&format!(
        "the server sends each of 10 messages with an ack id and retries every {} ms until acked; the listener is away, then back, and its acks for messages {} are lost",
        RETRY_EVERY.as_millis(),
        list(&lost_acks)
    ));
    away(server.addr()).await?;
    let sender = RetryingSender::start(&server, registry);
    sender.wait_for_rounds(1).await?;
    let away_rounds = sender.rounds();
    let mut back = listen(server.addr(), None).await?;
    let mut received = Vec::new();
    let mut acks_dropped = 0;
    let deadline = Instant::now() + STEP_TIMEOUT * 2;
    while !sender.done() && Instant::now() < deadline {
        let Some(f) = back.wire.recv(Duration::from_millis(20)).await? else {
            continue;
        };
        let Frame::Event {
            name,
            args,
            ack: Some(ack),
            ..
        } = &f
        else {
            continue;
        };
        let id = args
            .first()
            .and_then(|a| a.get("id"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if name != "message" {
            continue;
        }
        let first_time = !received.contains(&id);
        received.push(id);
        if first_time && lost_acks.contains(&id) {
            // The ack is lost on the way: the listener got the message, the server never hears.
            acks_dropped += 1;
            continue;
        }
        back.wire
            .send(&Frame::Ack {
                ns: "/".into(),
                id: *ack,
                args: vec![json!("got it")],
            })
            .await?;
    }
    let latency = back.since.elapsed();
    let tries = sender.tries();
    let all_acked = sender.done();
    let bytes = back.wire.bytes_in + back.wire.bytes_out;
    back.wire.close().await?;
    server.stop().await;
    let unique: BTreeSet<u64> = received.iter().copied().collect();
    let mut t = render::table(&["", "count"], s.style());
    t.add_row(vec![
        "rounds of tries while the listener was away (each failed)".into(),
        away_rounds.to_string(),
    ]);
    t.add_row(vec!["sends by the server in all".into(), tries.to_string()]);
    t.add_row(vec![
        "acks the listener sent that were lost".into(),
        acks_dropped.to_string(),
    ]);
    t.add_row(vec![
        "message frames the listener received".into(),
        received.len().to_string(),
    ]);
    t.add_row(vec![
        "... handled without de-duplication".into(),
        received.len().to_string(),
    ]);
    t.add_row(vec![
        "... handled once per id (de-duplicated)".into(),
        unique.len().to_string(),
    ]);
    s.show(
        "Acknowledgements with retry (at least once)",
        &t.to_string(),
    );
    s.check(
        "retry: every message acked in the end",
        all_acked,
        format!("{tries} sends"),
    );
    s.check_eq("retry: all 10 ids arrived", unique.len() as u64, MESSAGES);
    s.check_eq(
        "retry: each lost ack made one duplicate",
        received.len() - unique.len(),
        lost_acks.len(),
    );
    s.measure("retry.frames", received.len(), "messages");
    s.measure("retry.unique", unique.len(), "messages");
    s.ask(
        Question::number(
            "retry-received",
            "With acks and retries, how many message frames did the listener receive in all?",
            received.len() as f64,
        )
        .hint("the row \"message frames the listener received\"")
        .hint("10 messages, plus one frame for each ack that was lost")
        .why("All 10, plus one more for each lost ack: the server could not tell a lost message from a lost ack, so it sent again. That is at least once."),
    )?;
    s.ask(
        Question::number(
            "dedup-handled",
            "And how many did the listener handle once it ignored ids it had already seen?",
            unique.len() as f64,
        )
        .hint("the last row")
        .hint("each id is handled once: how many different ids are there?")
        .why("Exactly 10: at-least-once delivery plus de-duplication by id is what message queues call effectively once."),
    )?;
    let at_least_once = Cost {
        arrived: unique.len(),
        frames: received.len(),
        bytes,
        latency: Some(latency),
        commits: 0,
    };
    // The same frames; the application handles each id once.
    let dedup = Cost {
        frames: unique.len(),
        ..at_least_once.clone()
    };
    Ok((at_least_once, dedup))
}

/// The messages whose first ack is lost: 3 and 7 in the practice variant, one to three of the
/// ten in a student's.
fn lost_acks(s: &Session) -> Vec<u64> {
    let v = s.variant();
    let n = v.pick("lab10.lost-acks", 2, 1..=3);
    let defaults = [3, 7, 9];
    let mut ids: Vec<u64> = (0..n)
        .map(|i| {
            v.pick(
                &format!("lab10.lost-ack-{i}"),
                defaults[i as usize],
                1..=MESSAGES,
            )
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn list(ids: &[u64]) -> String {
    ids.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" and ")
}

/// The server's application for step 2: each message is sent with an ack id to whoever is
/// registered as "listener", again every [`RETRY_EVERY`] until acked.
struct RetryingSender {
    rounds: Arc<AtomicUsize>,
    tries: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl RetryingSender {
    fn start(server: &EventServer, registry: Registry) -> RetryingSender {
        let handle = server.handle();
        let (rounds, tries, done) = (Arc::default(), Arc::default(), Arc::default());
        let (r, t, d): (Arc<AtomicUsize>, Arc<AtomicUsize>, Arc<AtomicBool>) =
            (Arc::clone(&rounds), Arc::clone(&tries), Arc::clone(&done));
        let task = tokio::spawn(async move {
            let mut unacked: BTreeSet<u64> = (1..=MESSAGES).collect();
            while !unacked.is_empty() {
                let sid = lock(&registry).get("listener").cloned();
                let mut sends = tokio::task::JoinSet::new();
                for id in unacked.clone() {
                    t.fetch_add(1, Ordering::SeqCst);
                    let (h, sid) = (handle.clone(), sid.clone());
                    sends.spawn(async move {
                        let Some(sid) = sid else { return (id, false) };
                        let msg = json!({"id": id, "text": format!("message {id}")});
                        (
                            id,
                            h.emit_with_ack(&sid, "message", vec![msg], ACK_WAIT)
                                .await
                                .is_ok(),
                        )
                    });
                }
                while let Some(Ok((id, acked))) = sends.join_next().await {
                    if acked {
                        unacked.remove(&id);
                    }
                }
                r.fetch_add(1, Ordering::SeqCst);
                if !unacked.is_empty() {
                    tokio::time::sleep(RETRY_EVERY).await;
                }
            }
            d.store(true, Ordering::SeqCst);
        });
        RetryingSender {
            rounds,
            tries,
            done,
            task,
        }
    }

    fn rounds(&self) -> usize {
        self.rounds.load(Ordering::SeqCst)
    }

    fn tries(&self) -> usize {
        self.tries.load(Ordering::SeqCst)
    }

    fn done(&self) -> bool {
        self.done.load(Ordering::SeqCst)
    }

    /// Waits until the sender has tried everything `n` times (all failing: nobody is there).
    async fn wait_for_rounds(&self, n: usize) -> Result<(), LabError> {
        let start = Instant::now();
        while self.rounds() < n {
            if start.elapsed() > STEP_TIMEOUT {
                return Err(LabError::Experiment(
                    "the retrying sender did not run".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }
}

impl Drop for RetryingSender {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Step 3: reliable events are logged per session and replayed on resume.
async fn log_and_replay(s: &mut Session) -> Result<Cost, LabError> {
    let server = EventServer::start(Config::default(), 0, None, |c| install_feed(c, None)).await?;
    s.act("the listener joins and goes away; the producer publishes 10 reliable messages; the listener resumes its session from offset 0");
    let session = away(server.addr()).await?;
    publish(server.addr(), "reliable", 1..=MESSAGES).await?;
    let resume = Resume { session, seq: 0 };
    let (back, rec) = s
        .capture(
            "lab10-replay",
            &[server.port()],
            resume_and_read(server.addr(), resume, MESSAGES as usize),
        )
        .await?;
    server.stop().await;
    let pkts = packets::dissect_all(&rec);
    let captured = events::captured_frames(&pkts);
    s.show(
        "The resume, in the capture (spaces added after commas)",
        &events::frames_table(&captured, s.style()),
    );
    let ids = message_ids(&back.frames);
    let seqs: Vec<u64> = events::events_named(&back.frames, "message")
        .filter_map(|f| match f {
            Frame::Event { seq, .. } => *seq,
            _ => None,
        })
        .collect();
    s.check_eq("replay: the session was recovered", back.recovered, true);
    s.check_eq(
        "replay: exactly the 10 messages, in order",
        ids.clone(),
        (1..=MESSAGES).collect::<Vec<_>>(),
    );
    s.check_eq(
        "replay: offsets (seq) 1 to 10",
        seqs,
        (1..=MESSAGES).collect::<Vec<_>>(),
    );
    let captured_msgs: Vec<u64> = captured
        .iter()
        .filter_map(|c| match &c.frame {
            Some(Frame::Event { name, seq, .. }) if name == "message" && !c.to_server => *seq,
            _ => None,
        })
        .collect();
    s.check_eq(
        "the capture shows the 10 replayed frames in order",
        captured_msgs,
        (1..=MESSAGES).collect::<Vec<_>>(),
    );
    s.measure("replay.latency", back.latency.as_micros() as u64, "µs");
    s.ask(
        Question::number(
            "replay-count",
            "After the resume, how many message frames did the server replay?",
            ids.len() as f64,
        )
        .hint("count the rows of the capture with \"name\":\"message\"")
        .hint("the listener missed 10 and asked from offset 0")
        .why("Exactly the 10 the listener missed, in order, each with its offset (seq). It asked from offset 0: everything after what it had confirmed."),
    )?;
    Ok(Cost {
        arrived: ids.len(),
        frames: ids.len(),
        bytes: back.bytes,
        latency: Some(back.latency),
        commits: 0,
    })
}

/// The listener connects, joins the feed, and goes away (closes its connection). Returns its
/// session token, to resume with.
async fn away(addr: SocketAddr) -> Result<String, LabError> {
    let mut l = listen(addr, None).await?;
    l.wire
        .recv_until("the join ack", |f| matches!(f, Frame::Ack { .. }))
        .await?;
    l.wire.close().await?;
    Ok(l.session)
}

/// What the listener got after it came back.
struct Back {
    recovered: bool,
    frames: Vec<Frame>,
    /// From its connect to its last message (or to the quiet after it, when none came).
    latency: Duration,
    /// Event-protocol bytes on its connection, both ways.
    bytes: usize,
}

/// The listener resumes and reads until `expect` messages arrived (or all is quiet when
/// `expect` is 0), confirms them with `received`, and closes.
async fn resume_and_read(
    addr: SocketAddr,
    resume: Resume,
    expect: usize,
) -> Result<Back, LabError> {
    let mut l = listen(addr, Some(resume)).await?;
    let mut frames = Vec::new();
    if l.recovered && expect > 0 {
        while message_ids(&frames).len() < expect {
            let more = l
                .wire
                .recv_until("a replayed message", |f| matches!(f, Frame::Event { .. }))
                .await?;
            frames.extend(more);
        }
    } else {
        frames = l.wire.until_quiet().await?;
    }
    let latency = l.since.elapsed();
    let last = frames
        .iter()
        .filter_map(|f| match f {
            Frame::Event { seq, .. } => *seq,
            _ => None,
        })
        .max();
    if let Some(seq) = last {
        l.wire
            .send(&Frame::Received {
                ns: "/".into(),
                seq,
            })
            .await?;
    }
    let bytes = l.wire.bytes_in + l.wire.bytes_out;
    l.wire.close().await?;
    Ok(Back {
        recovered: l.recovered,
        frames,
        latency,
        bytes,
    })
}

/// Step 4: the log is bounded by count and by age; past either bound the resume fails.
async fn bounds(s: &mut Session) -> Result<(), LabError> {
    let keep = s.variant().pick("lab10.log-len", 5, 3..=8) as usize;
    s.act(&format!(
        "the same, with a log that keeps {keep} messages per session; then with one that keeps them {} ms and a listener away for {} ms",
        SHORT_AGE.as_millis(),
        LONG_AWAY.as_millis()
    ));
    let mut rows = Vec::new();
    for by_age in [false, true] {
        let config = if by_age {
            Config {
                log_max_age: SHORT_AGE,
                ..Config::default()
            }
        } else {
            Config {
                log_max_len: keep,
                ..Config::default()
            }
        };
        let server = EventServer::start(config, 0, None, |c| install_feed(c, None)).await?;
        let session = away(server.addr()).await?;
        publish(server.addr(), "reliable", 1..=MESSAGES).await?;
        if by_age {
            tokio::time::sleep(LONG_AWAY).await;
        }
        let back = resume_and_read(server.addr(), Resume { session, seq: 0 }, 0).await?;
        server.stop().await;
        rows.push((by_age, back.recovered, message_ids(&back.frames).len()));
    }
    let mut t = render::table(
        &["the log's bound", "missed", "recovered", "replayed"],
        s.style(),
    );
    for (by_age, recovered, replayed) in &rows {
        t.add_row(vec![
            if *by_age {
                format!(
                    "{} ms, away {} ms",
                    SHORT_AGE.as_millis(),
                    LONG_AWAY.as_millis()
                )
            } else {
                format!("{keep} messages")
            },
            MESSAGES.to_string(),
            recovered.to_string(),
            replayed.to_string(),
        ]);
    }
    s.show("Resuming past the log's bounds", &t.to_string());
    for (by_age, recovered, replayed) in &rows {
        let what = if *by_age { "age" } else { "count" };
        s.check_eq(
            &format!("bound by {what}: recovered false"),
            *recovered,
            false,
        );
        s.check_eq(&format!("bound by {what}: nothing replayed"), *replayed, 0);
    }
    s.measure("bounded.recovered", rows[0].1, "");
    s.ask(
        Question::choice(
            "bound-exceeded",
            &format!("The log kept {keep} messages and the listener missed 10. What did the resume give?"),
            &[
                &format!("the last {keep} messages"),
                "recovered: false and no messages: the listener must resync its state",
                "all 10, from the store",
            ],
            1,
        )
        .hint("the recovered and replayed columns")
        .hint("a partial replay would look complete: what does the server answer instead?")
        .why("A partial replay would look complete and be wrong. So the server refuses (a new session, recovered: false) and the client knows it must fetch the state again, as a chat reloads its history."),
    )?;
    Ok(())
}

/// Step 5: SIGKILL and restart, without and with `--store`.
async fn durability(s: &mut Session) -> Result<Cost, LabError> {
    // One directory per run, even for two runs in one process (the tests run labs in threads).
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "netlab-lab10-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).map_err(LabError::io(format!("creating {}", dir.display())))?;
    let store = dir.join("events.redb");
    let _ = std::fs::remove_file(&store);
    s.act(&format!(
        "the event server runs as a child process; the listener goes away, the producer publishes 10 reliable messages and gets 10 acks; the server is killed with SIGKILL and restarted, first without a store, then with --store {}",
        store.display()
    ));
    let mut rows = Vec::new();
    let mut durable = Cost::default();
    for with_store in [false, true] {
        let path = with_store.then_some(store.as_path());
        let mut child = ChildServer::start(0, path).await?;
        let addr = child.addr;
        let session = away(addr).await?;
        let acked = publish(addr, "reliable", 1..=MESSAGES).await?;
        let commits = child.kill().await?;
        let mut again = ChildServer::start(addr.port(), path).await?;
        let expect = if with_store { MESSAGES as usize } else { 0 };
        let back = resume_and_read(addr, Resume { session, seq: 0 }, expect).await?;
        again.kill().await?;
        let arrived = message_ids(&back.frames).len();
        if with_store {
            durable = Cost {
                arrived,
                frames: arrived,
                bytes: back.bytes,
                latency: Some(back.latency),
                commits,
            };
        }
        rows.push((with_store, acked, commits, back.recovered, arrived));
    }
    let size = std::fs::metadata(&store).map_or(0, |m| m.len());
    let _ = std::fs::remove_dir_all(&dir);
    let mut t = render::table(
        &[
            "restarted",
            "acked before the kill",
            "store commits",
            "recovered",
            "arrived",
        ],
        s.style(),
    );
    for (with_store, acked, commits, recovered, arrived) in &rows {
        t.add_row(vec![
            if *with_store {
                "with --store"
            } else {
                "without a store"
            }
            .to_string(),
            acked.to_string(),
            commits.to_string(),
            recovered.to_string(),
            arrived.to_string(),
        ]);
    }
    s.show(
        "After SIGKILL",
        &format!("{t}\n  (the store file: {size} bytes)"),
    );
    let (plain, stored) = (&rows[0], &rows[1]);
    s.check_eq(
        "both runs: the producer got 10 acks",
        (plain.1, stored.1),
        (10, 10),
    );
    s.check_eq(
        "without a store: nothing to recover",
        (plain.3, plain.4),
        (false, 0),
    );
    s.check_eq(
        "with --store: recovered, all 10 arrive",
        (stored.3, stored.4),
        (true, 10),
    );
    s.check(
        "with --store: the server committed to disk",
        stored.2 >= MESSAGES as usize,
        format!("{} commits", stored.2),
    );
    s.measure("durable.commits", stored.2, "commits");
    s.ask(
        Question::number(
            "durable-arrived",
            "The server was killed after acknowledging 10 messages and restarted with --store. How many reached the listener?",
            stored.4 as f64,
        )
        .hint("the arrived column of the --store row")
        .hint("with --store the log was on disk when the server was killed")
        .why("All 10: with --store each reliable message is committed to disk before the ack leaves, so nothing acknowledged is lost, even by a SIGKILL that gives the server no chance to save anything."),
    )?;
    s.ask(
        Question::number(
            "durable-commits",
            "How many store commits (disk write transactions) did the server make in the --store run before it was killed?",
            stored.2 as f64,
        )
        .hint("the store commits column")
        .hint("one commit per step that changed a session or a log")
        .why("About one per step that changed a session or a log: the listener's connect and join, each publish's log entry. Each waits for the disk: that is what durability costs."),
    )?;
    Ok(durable)
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    })
}

/// The final table: which mitigation gives which guarantee, at what measured cost.
fn costs(
    s: &mut Session,
    default: &Cost,
    retry: &(Cost, Cost),
    replay: &Cost,
    durable: &Cost,
) -> Result<(), LabError> {
    let mut t = render::table(
        &[
            "mitigation",
            "guarantee",
            "arrived of 10",
            "bytes",
            "latency",
            "disk commits",
        ],
        s.style(),
    );
    let rows = [
        ("nothing (default delivery)", "at most once", default),
        ("acks + retry", "at least once", &retry.0),
        ("acks + retry + de-dup by id", "effectively once", &retry.1),
        (
            "log + offsets + replay",
            "at least once, within the log's bounds",
            replay,
        ),
        ("log + --store", "at least once, across a crash", durable),
    ];
    for (what, guarantee, c) in rows {
        t.add_row(vec![
            what.to_string(),
            guarantee.to_string(),
            if c.frames != c.arrived {
                format!("{} ({} distinct)", c.frames, c.arrived)
            } else {
                c.arrived.to_string()
            },
            c.bytes.to_string(),
            ms(c.latency),
            c.commits.to_string(),
        ]);
    }
    s.show(
        "Of 10 missed messages: guarantees and measured costs (handled: times the listener's handler ran; bytes and latency: the listener's connection after it came back)",
        &t.to_string(),
    );
    s.ask(
        Question::choice(
            "missed-vs-unhandled",
            "Which is true of a missed event?",
            &[
                "it is the same as an unhandled one: it arrives and is ignored",
                "it was sent while the client was away and never arrives, unless something kept it",
                "handlers installed early enough prevent it",
            ],
            1,
        )
        .hint("compare lab 08's promo event (in the capture) with step 1 here (nothing on the wire)")
        .hint("an unhandled event arrives; a missed one does not")
        .why("An unhandled event arrives and is dropped by the receiver; a missed one never arrives. Acks with retry, a log with replay and durable storage are what prevent it."),
    )?;
    Ok(())
}

// ----- the child server -------------------------------------------------------------------

/// A feed server in a child process: the same binary run with [`CHILD_FLAG`].
struct ChildServer {
    child: Child,
    addr: SocketAddr,
    lines: tokio::task::JoinHandle<Vec<String>>,
}

/// The binary to run as the child: `NETLAB_LAB_EXE` if set, else this process's own binary (a
/// lab binary or `netlab`); a test harness runs `lab10` from the directory above its own.
fn child_exe() -> Result<PathBuf, LabError> {
    if let Some(p) = std::env::var_os("NETLAB_LAB_EXE") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(LabError::io("finding the lab's own binary"))?;
    let stem = exe.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if stem.starts_with("lab") || stem == "netlab" {
        return Ok(exe);
    }
    let sibling = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join(format!("lab10{}", std::env::consts::EXE_SUFFIX)));
    sibling.filter(|p| p.exists()).ok_or_else(|| {
        LabError::Experiment(format!(
            "{} cannot run the event server as a child; set NETLAB_LAB_EXE to the lab10 binary",
            exe.display()
        ))
    })
}

impl ChildServer {
    async fn start(port: u16, store: Option<&Path>) -> Result<ChildServer, LabError> {
        let exe = child_exe()?;
        let mut cmd = Command::new(&exe);
        cmd.arg(CHILD_FLAG).arg(port.to_string());
        if let Some(store) = store {
            cmd.arg(store);
        }
        // stdin stays open while the lab runs: at its end of file the child exits, so a lab
        // that dies never leaves a server behind.
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(LabError::io(format!(
            "starting {} as the event server",
            exe.display()
        )))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| LabError::Experiment("no stdout from the child server".into()))?;
        let mut reader = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(STEP_TIMEOUT * 5, reader.next_line()).await;
        let addr = match first {
            Ok(Ok(Some(line))) => line
                .strip_prefix("listening on tcp ")
                .and_then(|a| a.parse::<SocketAddr>().ok())
                .ok_or_else(|| LabError::Experiment(format!("the child server said {line:?}")))?,
            _ => {
                return Err(LabError::Experiment(
                    "the child event server did not start".into(),
                ));
            }
        };
        let lines = tokio::spawn(async move {
            let mut out = Vec::new();
            while let Ok(Some(l)) = reader.next_line().await {
                out.push(l);
            }
            out
        });
        Ok(ChildServer { child, addr, lines })
    }

    /// SIGKILL: no chance to save anything. Returns how many store commits the child reported.
    async fn kill(&mut self) -> Result<usize, LabError> {
        self.child
            .start_kill()
            .map_err(LabError::io("killing the child server"))?;
        let _ = tokio::time::timeout(STEP_TIMEOUT, self.child.wait()).await;
        let lines = tokio::time::timeout(STEP_TIMEOUT, &mut self.lines)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        Ok(lines.iter().filter(|l| l.starts_with("commit")).count())
    }
}

/// A store that reports each commit on stdout, so the lab can count disk writes.
struct Counted(RedbStore);

impl Store for Counted {
    fn load(&mut self) -> Result<Snapshot, netlab_events::EventsError> {
        self.0.load()
    }

    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), netlab_events::EventsError> {
        self.0.apply(ops)?;
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "commit {} ops", ops.len());
        let _ = out.flush();
        Ok(())
    }
}

/// When this process was started as lab 10's child server (`BINARY --lab10-event-server PORT
/// [STORE]`), runs it and returns the exit code; otherwise `None`. Lab binaries and `netlab`
/// call this first thing in `main`.
pub fn serve_child_if_asked() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some(CHILD_FLAG) {
        return None;
    }
    let port = args.get(2).and_then(|p| p.parse::<u16>().ok()).unwrap_or(0);
    let store = args.get(3).map(PathBuf::from);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let result = runtime.map_err(|e| e.to_string()).and_then(|rt| {
        rt.block_on(async move {
            let store = match store {
                Some(p) => Some(
                    Box::new(Counted(RedbStore::open(&p).map_err(|e| e.to_string())?))
                        as Box<dyn Store>,
                ),
                None => None,
            };
            let server =
                EventServer::start(Config::default(), port, store, |c| install_feed(c, None))
                    .await
                    .map_err(|e| e.to_string())?;
            println!("listening on tcp {}", server.addr());
            // Until the lab closes our stdin (or kills us).
            let mut stdin = tokio::io::stdin();
            let mut sink = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut stdin, &mut sink).await;
            server.stop().await;
            Ok::<(), String>(())
        })
    });
    Some(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: lab 10's event server: {e}");
            ExitCode::from(1)
        }
    })
}
