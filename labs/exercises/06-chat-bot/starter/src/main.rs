//! Exercise 6: a chat bot on netlab's event protocol. Read ../README.md first.
//!
//! Run it:   netlab events serve --port 7070        (one terminal)
//!           cargo run -- 127.0.0.1:7070            (another)
//!           netlab events chat --name ada --room lobby   (a third: type !ping)
//! Grade it: cargo build && netlab grade chat-bot --cmd "target/debug/chat-bot {server}"
//!
//! Write the code where it says `todo!()`; a `todo!()` compiles but panics when it runs.

// The todo!()s leave names unused; delete this line when you are done.
#![allow(unused)]

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
    let connect = connect_frame(state);
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

/// The `connect` frame: the namespace, the name, and after a drop the session to resume.
fn connect_frame(state: &State) -> Value {
    todo!(
        "json!: type connect, ns, auth with the name; once you have a session, resume with session and seq"
    )
}

/// The frames to send in answer to one frame from the server: `connected` (join the room if
/// the session is new), `event` (confirm its seq, skip a replayed one, answer !ping), `ping`.
fn handle(frame: &Value, state: &mut State) -> Vec<Value> {
    todo!(
        "match frame[\"type\"]: ping -> pong; connected -> keep the session, join; event -> received, pong"
    )
}

/// An event frame with the next ack id, e.g. `event(state, "join", json!(["lobby"]))`.
fn event(state: &mut State, name: &str, args: Value) -> Value {
    state.next_ack += 1;
    json!({"type": "event", "ns": NS, "name": name, "args": args, "ack": state.next_ack})
}

fn send(writer: &mut TcpStream, frame: &Value) -> std::io::Result<()> {
    writer.write_all(format!("{frame}\n").as_bytes())
}
