//! Reference solution of exercise 3 (framing): a buffer of unanswered bytes per connection;
//! every complete line in it is answered, an unfinished line over the limit is refused.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use serde_json::{Value, json};

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

fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        pending.extend_from_slice(&buf[..n]);
        // Every complete line, in order; what follows the last newline waits for more bytes.
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let mut reply = answer(&line[..end]).to_string().into_bytes();
            reply.push(b'\n');
            stream.write_all(&reply)?;
        }
        // Checked without waiting for a newline: a line that never ends must not grow forever.
        if pending.len() > MAX_LINE {
            let refusal = json!({"error": format!("line longer than {MAX_LINE} bytes")});
            stream.write_all(format!("{refusal}\n").as_bytes())?;
            return Ok(());
        }
    }
}

fn answer(line: &[u8]) -> Value {
    let Ok(message) = serde_json::from_slice::<Value>(line) else {
        return json!({"error": "not JSON"});
    };
    match (
        message.get("id").and_then(Value::as_u64),
        message.get("text").and_then(Value::as_str),
    ) {
        (Some(id), Some(text)) => json!({"id": id, "upper": text.to_ascii_uppercase()}),
        _ => json!({"error": "a message is {\"id\": number, \"text\": string}"}),
    }
}
