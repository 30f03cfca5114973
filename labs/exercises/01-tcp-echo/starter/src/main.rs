//! Exercise 1: a TCP echo server. Read ../README.md first.
//!
//! Run it:   cargo run -- 7007          (then `nc 127.0.0.1 7007` in another terminal)
//! Grade it: cargo build && netlab grade tcp-echo --cmd "target/debug/tcp-echo {port}"
//!
//! Write the code where it says `todo!()`; a `todo!()` compiles but panics when it runs.

// The todo!()s leave names unused; delete this line when you are done.
#![allow(unused)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

fn main() {
    let port: u16 = match std::env::args().nth(1) {
        Some(text) => text.parse().unwrap_or_else(|_| {
            eprintln!("usage: tcp-echo PORT   ({text:?} is not a port number)");
            std::process::exit(2)
        }),
        None => 7007,
    };
    // Loopback only: nobody else on the network can reach a server you are still writing.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
        eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
        std::process::exit(1)
    });
    println!("listening on tcp 127.0.0.1:{port}");
    for stream in listener.incoming() {
        match stream {
            // Think about the check "serves 10 clients at once": is calling serve() here,
            // on the one thread that accepts, good enough?
            Ok(stream) => serve(stream),
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
}

/// Serves one client and reports its error, if any: one bad client must not stop the server.
fn serve(stream: TcpStream) {
    if let Err(e) = echo(stream) {
        eprintln!("client error: {e}");
    }
}

/// Sends every byte the client sends back to it, unchanged, until the client has finished
/// sending (a read returns 0 bytes); then the connection is closed (dropping `stream` does).
fn echo(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    todo!(
        "loop: read into buf; stop when the read returns 0; else write back exactly the bytes read"
    )
}
