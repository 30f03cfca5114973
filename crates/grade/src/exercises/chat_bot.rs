//! Exercise 6, `chat-bot`: a client of netlab's event protocol. The grader runs its own event
//! server (netlab-events' chat application) and puts a small TCP proxy in front of it: the bot
//! is given the proxy's address, so the grader sees every frame the bot sends and receives, and
//! can cut the bot's connection to check that it resumes without losing messages.
//!
//! A second client of the grader's own ("grader", connected to the server directly) talks in
//! the room and watches for the bot's answers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netlab_events::core::{Config, Core};
use netlab_events::server::{Server, ServerOptions};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{BoxedReports, Checker, Exercise, Kind};
use crate::check::{Check, Failure, Outcome};
use crate::error::GradeError;
use crate::process::{Program, substitute};
use crate::report::CheckReport;
use crate::runner::{Limits, Runner, note_exit};

/// The room the bot joins and its display name, as the README states them.
pub const ROOM: &str = "lobby";
pub const BOT: &str = "bot";
/// Frames kept per log: a flooding bot cannot grow the grader's memory without bound.
const MAX_FRAMES: usize = 10_000;
/// A line longer than this is not scanned (it is still forwarded).
const MAX_LINE: usize = 1 << 20;
/// How long a reconnecting bot is held before its connection reaches the server, so that the
/// messages sent meanwhile can only reach it by the resume's replay.
const HOLD: Duration = Duration::from_millis(500);

pub const CHECKS: &[Check] = &[
    Check {
        id: "joins",
        name: "connects to /chat as \"bot\" and joins \"lobby\"",
        points: 2,
        limit: Duration::from_secs(10),
        hint: "read the hello line, send {\"type\":\"connect\",\"ns\":\"/chat\",\"auth\":{\"name\":\"bot\"}}, then the event join [\"lobby\"]",
    },
    Check {
        id: "pong",
        name: "answers !ping with pong",
        points: 2,
        limit: Duration::from_secs(5),
        hint: "on an event `message` whose text is \"!ping\", emit `message` [\"lobby\", \"pong\"]",
    },
    Check {
        id: "quiet",
        name: "says nothing to other messages",
        points: 1,
        limit: Duration::from_secs(5),
        hint: "answer only the exact text \"!ping\" (your own messages come back to you too: do not answer them)",
    },
    Check {
        id: "confirms",
        name: "confirms reliable events with received",
        points: 1,
        limit: Duration::from_secs(3),
        hint: "for an event with a `seq`, send {\"type\":\"received\",\"ns\":\"/chat\",\"seq\":N}; it lets the server forget it, and a resume start after it",
    },
    Check {
        id: "resume",
        name: "resumes after a dropped connection, missing nothing",
        points: 3,
        limit: Duration::from_secs(15),
        hint: "keep the `session` token from `connected` and the last `seq` you handled; after a drop, reconnect and connect with \"resume\":{\"session\":TOKEN,\"seq\":LAST}: the server replays what you missed",
    },
    Check {
        id: "once",
        name: "answers each message once",
        points: 1,
        limit: Duration::from_secs(3),
        hint: "a replay can repeat events you already had: skip an event whose seq is not above the last one you handled",
    },
];

pub const EXERCISE: Exercise = Exercise {
    name: "chat-bot",
    title: "A chat bot on the event protocol",
    kind: Kind::Client,
    folder: "labs/exercises/06-chat-bot",
    example: "--cmd \"target/release/chat-bot {server}\"",
    checks: CHECKS,
    checker: Checker::Client(run),
};

fn run(command: String, limits: Limits) -> BoxedReports {
    Box::pin(grade(command, limits))
}

/// A frame seen on a connection, in order.
#[derive(Debug, Clone)]
struct Seen {
    /// Which connection (the proxy numbers the bot's connections from 1; the grader's own is 0).
    conn: usize,
    /// True for frames the bot sent, false for frames it received.
    from_bot: bool,
    frame: Value,
}

/// Frames seen so far, shared between the pumps that record them and the checks.
#[derive(Default)]
struct Log(Mutex<Vec<Seen>>);

impl Log {
    fn push(&self, seen: Seen) {
        let mut frames = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if frames.len() < MAX_FRAMES {
            frames.push(seen);
        }
    }

    fn snapshot(&self) -> Vec<Seen> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Waits until `done` holds for the frames seen so far (checked every 20 ms).
    async fn wait_for(&self, within: Duration, done: impl Fn(&[Seen]) -> bool) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if done(&self.snapshot()) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Reads `from`, writes everything to `to`, and records each complete line as a frame.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    log: Arc<Log>,
    conn: usize,
    from_bot: bool,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut line: Vec<u8> = Vec::new();
    let mut skipping = false;
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 || to.write_all(&buf[..n]).await.is_err() {
            break;
        }
        for &b in &buf[..n] {
            if b == b'\n' {
                if !skipping && let Ok(frame) = serde_json::from_slice::<Value>(&line) {
                    log.push(Seen {
                        conn,
                        from_bot,
                        frame,
                    });
                }
                line.clear();
                skipping = false;
            } else if line.len() < MAX_LINE {
                line.push(b);
            } else {
                skipping = true;
            }
        }
    }
    let _ = to.shutdown().await;
}

/// The proxy in front of the event server: forwards, records, cuts and holds connections.
struct Proxy {
    addr: SocketAddr,
    /// While true, new connections wait before they are connected to the server.
    hold: watch::Sender<bool>,
    /// Bumped to cut every connection opened before.
    cut: watch::Sender<u64>,
    /// Connections being forwarded right now (a cut is complete when the old ones are gone).
    open: Arc<AtomicUsize>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(server: SocketAddr, log: Arc<Log>) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (hold, hold_rx) = watch::channel(false);
        let (cut, cut_rx) = watch::channel(0u64);
        let open = Arc::new(AtomicUsize::new(0));
        let counter = open.clone();
        let accept = tokio::spawn(async move {
            let mut conn = 0;
            while let Ok((client, _)) = listener.accept().await {
                conn += 1;
                let (log, mut hold_rx, mut cut_rx) = (log.clone(), hold_rx.clone(), cut_rx.clone());
                let open = counter.clone();
                tokio::spawn(async move {
                    let generation = *cut_rx.borrow_and_update();
                    let _ = hold_rx.wait_for(|held| !held).await;
                    let Ok(upstream) = TcpStream::connect(server).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = upstream.into_split();
                    open.fetch_add(1, Ordering::SeqCst);
                    tokio::select! {
                        _ = pump(cr, sw, log.clone(), conn, true) => {}
                        _ = pump(sr, cw, log, conn, false) => {}
                        _ = cut_rx.wait_for(|g| *g != generation) => {}
                    }
                    // The halves are dropped here, closing both sockets, before the count falls.
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Ok(Proxy {
            addr,
            hold,
            cut,
            open,
            accept,
        })
    }
}

/// The grader's own chat client, connected to the server directly.
struct Grader {
    writer: tokio::net::tcp::OwnedWriteHalf,
    log: Arc<Log>,
    next_ack: u64,
    /// Where this client's log stood when the bot's connection was cut (for "once").
    cut_at: usize,
}

impl Grader {
    async fn connect(server: SocketAddr) -> Result<Grader, Failure> {
        let stream = TcpStream::connect(server)
            .await
            .map_err(|e| Failure::new(format!("the grader's own client cannot connect: {e}")))?;
        let (reader, writer) = stream.into_split();
        let log = Arc::new(Log::default());
        // Pings are not answered: the server's heartbeat is set far beyond a grading run.
        tokio::spawn(pump(reader, tokio::io::sink(), log.clone(), 0, false));
        let mut g = Grader {
            writer,
            log,
            next_ack: 0,
            cut_at: usize::MAX,
        };
        g.send(json!({"type": "connect", "ns": "/chat", "auth": {"name": "grader"}}))
            .await?;
        g.emit(json!(["join", ROOM])).await?;
        Ok(g)
    }

    async fn send(&mut self, frame: Value) -> Outcome {
        let line = format!("{frame}\n");
        self.writer
            .write_all(line.as_bytes())
            .await
            .map_err(|e| Failure::new(format!("the grader's own client cannot send: {e}")))
    }

    /// Emits `[name, args...]` in /chat with an ack id.
    async fn emit(&mut self, name_and_args: Value) -> Outcome {
        let mut items = name_and_args.as_array().cloned().unwrap_or_default();
        let name = items.remove(0);
        self.next_ack += 1;
        let frame = json!({"type": "event", "ns": "/chat", "name": name, "args": items, "ack": self.next_ack});
        self.send(frame).await
    }

    async fn say(&mut self, text: &str) -> Outcome {
        self.emit(json!(["message", ROOM, text])).await
    }

    /// Waits until the bot has said `pong` at least `count` times since frame `from`.
    async fn wait_pongs(&self, from: usize, count: usize, within: Duration) -> bool {
        self.log
            .wait_for(within, |f| {
                let texts = bot_texts(&f[from.min(f.len())..]);
                texts.iter().filter(|t| *t == "pong").count() >= count
            })
            .await
    }

    /// The texts of the bot's messages in the room, among the frames from index `from` on.
    fn bot_texts(&self, from: usize) -> Vec<String> {
        bot_texts(&self.log.snapshot()[from.min(self.log.len())..])
    }
}

fn bot_texts(frames: &[Seen]) -> Vec<String> {
    frames
        .iter()
        .filter(|s| s.frame["type"] == "event" && s.frame["name"] == "message")
        .map(|s| &s.frame["args"][0])
        .filter(|m| m["name"] == BOT && m["room"] == ROOM)
        .map(|m| m["text"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The frames of `frames` as JSON lines, the last few, for a report's "got".
fn lines(frames: &[&Seen]) -> String {
    let start = frames.len().saturating_sub(4);
    frames[start..]
        .iter()
        .map(|s| format!("{}\n", s.frame))
        .collect()
}

async fn grade(command: String, limits: Limits) -> Result<Vec<CheckReport>, GradeError> {
    let server_err = |message: String| GradeError::Server {
        what: "event",
        message,
    };
    let config = Config {
        // No heartbeat during a run: the bot is graded on its protocol, not on pings.
        ping_interval: Duration::from_secs(600),
        ping_timeout: Duration::from_secs(600),
        seed: 15,
        ..Config::default()
    };
    let mut core = Core::new(config);
    netlab_events::chat::install(&mut core);
    let server = Server::bind(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        core,
        ServerOptions::default(),
    )
    .await
    .map_err(|e| server_err(e.to_string()))?;
    let bot_log = Arc::new(Log::default());
    let proxy = Proxy::start(server.local_addr(), bot_log.clone())
        .await
        .map_err(|e| server_err(e.to_string()))?;

    let mut runner = Runner::new(limits.total);
    let mut grader = match Grader::connect(server.local_addr()).await {
        Ok(g) => g,
        Err(f) => {
            runner.fail_all(CHECKS, &f);
            server.shutdown().await;
            return Ok(runner.results);
        }
    };
    let mut program = Some(Program::start(&substitute(
        &command,
        None,
        Some(proxy.addr),
    ))?);

    let mut joined = false;
    for check in CHECKS {
        let (outcome, seconds) = if !joined && check.id != "joins" {
            (
                Err(Failure::new(
                    "not run: the bot never joined the room (see the first check)",
                )),
                0.0,
            )
        } else {
            let run = run_check(check.id, &mut grader, &bot_log, &proxy);
            runner.attempt(check, run).await
        };
        joined |= check.id == "joins" && outcome.is_ok();
        let outcome = note_exit(&mut program, outcome).await;
        runner.record(check, outcome, seconds);
    }
    if let Some(p) = program.as_mut() {
        p.stop().await;
    }
    proxy.accept.abort();
    server.shutdown().await;
    Ok(runner.results)
}

async fn run_check(id: &str, grader: &mut Grader, bot: &Log, proxy: &Proxy) -> Outcome {
    const STEP: Duration = Duration::from_secs(3);
    match id {
        "joins" => {
            let ok = grader
                .log
                .wait_for(Duration::from_secs(9), |f| {
                    f.iter().any(|s| {
                        s.frame["name"] == "joined"
                            && s.frame["args"][0]["name"] == BOT
                            && s.frame["args"][0]["room"] == ROOM
                    })
                })
                .await;
            if ok {
                return Ok(());
            }
            let sent: Vec<Seen> = bot.snapshot();
            let from_bot: Vec<&Seen> = sent.iter().filter(|s| s.from_bot).collect();
            let reason = if sent.is_empty() {
                "the bot never connected to the server at {server} (or sent nothing)".to_string()
            } else {
                format!(
                    "no `joined` for \"{BOT}\" in \"{ROOM}\"; the bot sent {} frames",
                    from_bot.len()
                )
            };
            Err(Failure::new(reason)
                .expected(format!(
                    "{}\n{}\n",
                    json!({"type":"connect","ns":"/chat","auth":{"name":BOT}}),
                    json!({"type":"event","ns":"/chat","name":"join","args":[ROOM],"ack":1})
                ))
                .got(lines(&from_bot)))
        }
        "pong" => {
            let from = grader.log.len();
            grader.say("!ping").await?;
            let ok = grader.wait_pongs(from, 1, Duration::from_secs(4)).await;
            if ok {
                Ok(())
            } else {
                Err(Failure::new("no `pong` from the bot within 4 s of a `!ping` in the room")
                    .sent(json!({"type":"event","ns":"/chat","name":"message","args":[ROOM,"!ping"]}).to_string())
                    .expected("pong")
                    .got(grader.bot_texts(from).join("\n")))
            }
        }
        "quiet" => {
            let from = grader.log.len();
            grader.say("hello, bot").await?;
            grader.say("!ping").await?;
            let answered = grader.wait_pongs(from, 1, Duration::from_secs(4)).await;
            // Time for a late answer to `hello, bot` to show up too.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let texts = grader.bot_texts(from);
            if answered && texts == ["pong"] {
                Ok(())
            } else {
                Err(Failure::new(
                    "after `hello, bot` and then `!ping`, the bot should have said `pong` once and nothing else",
                )
                .expected("pong")
                .got(texts.join("\n")))
            }
        }
        "confirms" => {
            // The highest seq the bot has been sent on its current connection.
            let frames = bot.snapshot();
            let conn = frames.last().map_or(0, |s| s.conn);
            let highest = frames
                .iter()
                .filter(|s| s.conn == conn && !s.from_bot && s.frame["type"] == "event")
                .filter_map(|s| s.frame["seq"].as_u64())
                .max()
                .unwrap_or(0);
            let ok = bot
                .wait_for(STEP, |f| {
                    f.iter().any(|s| {
                        s.from_bot
                            && s.frame["type"] == "received"
                            && s.frame["seq"].as_u64().is_some_and(|q| q >= highest)
                    })
                })
                .await;
            if ok {
                Ok(())
            } else {
                Err(Failure::new(format!(
                    "the bot was sent reliable events up to seq {highest} but never confirmed them"
                ))
                .expected(format!(
                    "{}\n",
                    json!({"type":"received","ns":"/chat","seq":highest})
                )))
            }
        }
        "resume" => resume(grader, bot, proxy).await,
        "once" => {
            tokio::time::sleep(Duration::from_millis(1000)).await;
            let pongs = grader
                .bot_texts(grader.cut_at)
                .into_iter()
                .filter(|t| t == "pong")
                .count();
            if pongs == 2 {
                Ok(())
            } else {
                Err(Failure::new(format!(
                    "2 `!ping`s were sent while the bot was away; it answered {pongs} `pong`s after the resume"
                ))
                .hint("skip events whose seq is not above the last one you handled, and confirm with `received` what you handled"))
            }
        }
        other => Err(Failure::new(format!("unknown check `{other}`"))),
    }
}

async fn resume(grader: &mut Grader, bot: &Log, proxy: &Proxy) -> Outcome {
    let before = bot.snapshot().last().map_or(0, |s| s.conn);
    // Hold new connections, cut the current one, talk while the bot is away, then let it in.
    proxy.hold.send_replace(true);
    proxy.cut.send_modify(|g| *g += 1);
    // Only once the old connection is really closed can the messages below not reach the bot
    // through it; then only the resume's replay can deliver them.
    let deadline = Instant::now() + Duration::from_secs(2);
    while proxy.open.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let from = grader.log.len();
    grader.cut_at = from;
    grader.say("!ping").await?;
    grader.say("!ping").await?;
    tokio::time::sleep(HOLD).await;
    proxy.hold.send_replace(false);

    let reconnected = bot
        .wait_for(Duration::from_secs(8), |f| {
            f.iter()
                .any(|s| s.conn > before && s.from_bot && s.frame["type"] == "connect")
        })
        .await;
    if !reconnected {
        return Err(Failure::new(
            "the grader closed the bot's connection; the bot did not connect again within 8 s",
        )
        .hint("when a read returns end of stream or an error, wait a little and connect again"));
    }
    let got_pongs = grader.wait_pongs(from, 2, Duration::from_secs(5)).await;
    let frames = bot.snapshot();
    let after: Vec<&Seen> = frames.iter().filter(|s| s.conn > before).collect();
    let connect = after
        .iter()
        .find(|s| s.from_bot && s.frame["type"] == "connect")
        .map(|s| s.frame.clone())
        .unwrap_or(Value::Null);
    if connect.get("resume").is_none_or(Value::is_null) {
        return Err(Failure::new("the bot reconnected without asking to resume its session")
            .expected(json!({"type":"connect","ns":"/chat","auth":{"name":BOT},"resume":{"session":"...","seq":"N"}}).to_string())
            .got(connect.to_string()));
    }
    let recovered = after
        .iter()
        .find(|s| !s.from_bot && s.frame["type"] == "connected")
        .map(|s| s.frame["recovered"] == true);
    if recovered != Some(true) {
        return Err(Failure::new(
            "the server did not recover the session (recovered: false): was the session token the one from `connected`?",
        )
        .got(lines(&after)));
    }
    if got_pongs {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "2 `!ping`s were sent while the bot was away; after its resume it answered {}",
            grader.bot_texts(from).len()
        ))
        .hint(
            "after a resume the server replays the events you missed: handle them like live ones",
        ))
    }
}
