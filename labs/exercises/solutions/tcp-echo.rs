//! Reference solution of exercise 1 (tcp-echo): one thread per client, bytes copied as read.
//! Kept apart from the starter (labs/exercises/01-tcp-echo/starter) so that instructors can
//! hand out starters only.

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
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
        eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
        std::process::exit(1)
    });
    println!("listening on tcp 127.0.0.1:{port}");
    for stream in listener.incoming() {
        match stream {
            // A thread per client: an idle client never blocks another.
            Ok(stream) => {
                std::thread::spawn(move || serve(stream));
            }
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
}

fn serve(stream: TcpStream) {
    if let Err(e) = echo(stream) {
        eprintln!("client error: {e}");
    }
}

fn echo(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            // The client half-closed: everything read was written back; returning drops the
            // stream, which closes our side too.
            return Ok(());
        }
        // Exactly the n bytes read: the rest of `buf` is left over from earlier reads.
        stream.write_all(&buf[..n])?;
    }
}
