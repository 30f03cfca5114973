//! Exercise 3: framing, a server of line-delimited JSON messages. Read ../README.md first.
//!
//! Run it:   cargo run -- 7007        (then type {"id":1,"text":"hi"} into `nc 127.0.0.1 7007`)
//! Grade it: cargo build && netlab grade framing --cmd "target/debug/framing {port}"
//!
//! Write the code where it says `todo!()`; a `todo!()` compiles but panics when it runs.

// The todo!()s leave names unused; delete this line when you are done.
#![allow(unused)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use serde_json::{Value, json};

/// The longest line accepted, newline not counted.
const MAX_LINE: usize = 64 * 1024;

fn main() {
    let port: u16 = match std::env::args().nth(1) {
        Some(text) => text.parse().unwrap_or_else(|_| {
            eprintln!("usage: framing PORT   ({text:?} is not a port number)");
            std::process::exit(2)
        }),
        None => 7007,
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
        eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
        std::process::exit(1)
    });
    println!("listening on tcp 127.0.0.1:{port}");
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            if let Err(e) = serve(stream) {
                eprintln!("client error: {e}");
            }
        });
    }
}

/// Reads bytes as they come and answers every complete line. One read may hold part of a
/// line, or several lines: `pending` keeps what has not been answered yet.
fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        pending.extend_from_slice(&buf[..n]);
        todo!(
            "answer each complete line in `pending` with answer() and a newline; keep the rest; refuse a line over MAX_LINE"
        )
    }
}

/// The reply to one line (without its newline): `{"id": ID, "upper": TEXT in upper case}`
/// for `{"id": ID, "text": TEXT}`, or `{"error": "..."}` for anything else.
fn answer(line: &[u8]) -> Value {
    todo!("parse with serde_json::from_slice, check the two fields, build the reply with json!")
}
