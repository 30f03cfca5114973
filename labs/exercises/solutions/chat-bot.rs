//! Reference solution of exercise 6 (chat-bot): a blocking client of the event protocol that
//! joins "lobby" as "bot", answers "!ping" with "pong", confirms reliable events, and after a
//! dropped connection reconnects and resumes its session, skipping events it already handled.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{Value, json};

const NS: &str = "/chat";
const NAME: &str = "bot";
const ROOM: &str = "lobby";
/// Pause between connection attempts.
const RETRY: Duration = Duration::from_millis(200);
/// Attempts before giving up (a minute of trying).
const ATTEMPTS: u32 = 300;
/// Longest line accepted from the server.
const MAX_LINE: u64 = 1 << 20;

/// What survives a reconnect: the session to resume and the last reliable event handled.
#[derive(Default)]
struct State {
    session: Option<String>,
    last_seq: u64,
    /// Ack ids increase per connection; starting again at 1 on a new one is allowed.
    next_ack: u64,
}

fn main() {
    let server: SocketAddr = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(addr)) => addr,
        _ => {
            eprintln!("usage: chat-bot HOST:PORT   e.g. chat-bot 127.0.0.1:7070");
            std::process::exit(2)
        }
    };
    let mut state = State::default();
    let mut failures = 0;
    loop {
        match session(server, &mut state) {
            Ok(()) => failures = 0,
            Err(e) => {
                eprintln!("connection lost: {e}; reconnecting");
                failures += 1;
                if failures > ATTEMPTS {
                    eprintln!("giving up after {ATTEMPTS} attempts");
                    std::process::exit(1);
                }
            }
        }
        std::thread::sleep(RETRY);
    }
}

/// One connection, from the hello to its end.
fn session(server: SocketAddr, state: &mut State) -> std::io::Result<()> {
    let stream = TcpStream::connect(server)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    state.next_ack = 0;
    let mut connect = json!({"type": "connect", "ns": NS, "auth": {"name": NAME}});
    if let Some(session) = &state.session {
        connect["resume"] = json!({"session": session, "seq": state.last_seq});
    }
    send(&mut writer, &connect)?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line)? == 0 {
            return Err(std::io::Error::other("the server closed the connection"));
        }
        let Ok(frame) = serde_json::from_slice::<Value>(&line) else {
            continue;
        };
        for reply in handle(&frame, state) {
            send(&mut writer, &reply)?;
        }
    }
}

/// The frames to send in answer to one frame from the server.
fn handle(frame: &Value, state: &mut State) -> Vec<Value> {
    match frame["type"].as_str() {
        Some("ping") => vec![json!({"type": "pong"})],
        Some("connected") => {
            state.session = frame["session"].as_str().map(String::from);
            if frame["recovered"] == true {
                // Rooms are restored and missed events follow: nothing to redo.
                vec![]
            } else {
                // A new session: what we knew is stale; join again.
                state.last_seq = 0;
                vec![event(state, "join", json!([ROOM]))]
            }
        }
        Some("event") => {
            let mut out = Vec::new();
            if let Some(seq) = frame["seq"].as_u64() {
                if seq <= state.last_seq {
                    return out; // a replay of something already handled
                }
                state.last_seq = seq;
                out.push(json!({"type": "received", "ns": NS, "seq": seq}));
            }
            let message = &frame["args"][0];
            if frame["name"] == "message" && message["text"] == "!ping" && message["name"] != NAME {
                out.push(event(state, "message", json!([ROOM, "pong"])));
            }
            out
        }
        _ => vec![],
    }
}

fn event(state: &mut State, name: &str, args: Value) -> Value {
    state.next_ack += 1;
    json!({"type": "event", "ns": NS, "name": name, "args": args, "ack": state.next_ack})
}

fn send(writer: &mut TcpStream, frame: &Value) -> std::io::Result<()> {
    writer.write_all(format!("{frame}\n").as_bytes())
}
