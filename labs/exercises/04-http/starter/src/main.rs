//! Exercise 4: a minimal HTTP/1.1 server. Read ../README.md first.
//!
//! Run it:   cargo run -- 8080          (then `curl -v http://127.0.0.1:8080/hello`)
//! Grade it: cargo build && netlab grade http --cmd "target/debug/http {port}"
//!
//! Write the code where it says `todo!()`; a `todo!()` compiles but panics when it runs.

// The todo!()s leave names unused; delete this line when you are done.
#![allow(unused)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

/// A request as read from the connection.
#[derive(Debug)]
struct Request {
    method: String,
    path: String,
    /// Header names as sent; compare them ignoring case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// What was wrong with a request (answered with 400 Bad Request).
#[derive(Debug)]
struct BadRequest(String);

fn main() {
    let port: u16 = match std::env::args().nth(1) {
        Some(text) => text.parse().unwrap_or_else(|_| {
            eprintln!("usage: http PORT   ({text:?} is not a port number)");
            std::process::exit(2)
        }),
        None => 8080,
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
        eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
        std::process::exit(1)
    });
    println!("listening on http://127.0.0.1:{port}/");
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            if let Err(e) = serve(stream) {
                eprintln!("client error: {e}");
            }
        });
    }
}

/// Answers requests on one connection, one after another, until the client closes it.
fn serve(stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        match read_request(&mut reader)? {
            None => return Ok(()), // the client closed the connection between requests
            Some(Ok(request)) => writer.write_all(&route(&request))?,
            Some(Err(BadRequest(why))) => {
                writer.write_all(&response(400, "Bad Request", &[], why.as_bytes(), true))?;
                return Ok(()); // after a malformed request, where the next one starts is unknown
            }
        }
    }
}

/// Reads one request: the request line, the headers up to the empty line, then exactly
/// Content-Length bytes of body. `None` when the connection ends before a request starts.
fn read_request(
    reader: &mut BufReader<TcpStream>,
) -> std::io::Result<Option<Result<Request, BadRequest>>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    todo!(
        "split the request line into method, path and version (HTTP/1.x), read headers until an empty line, then the body"
    )
}

/// The response to a request: GET or HEAD /hello, POST /echo, 404, 405.
fn route(request: &Request) -> Vec<u8> {
    todo!("decide the status, headers and body; HEAD gets GET's headers without the body")
}

/// A response with Content-Length (always: it tells the client where the body ends) and the
/// body, unless `with_body` is false (for HEAD).
fn response(
    status: u16,
    reason: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    with_body: bool,
) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    if with_body {
        bytes.extend_from_slice(body);
    }
    bytes
}
