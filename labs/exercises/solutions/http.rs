//! Reference solution of exercise 4 (http): a thread per connection, requests read one after
//! another (keep-alive), the body read by Content-Length.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

/// Longest request line or header line accepted, and most headers: a bound on what a client
/// can make us buffer.
const MAX_LINE: u64 = 8 * 1024;
const MAX_HEADERS: usize = 100;
const MAX_BODY: usize = 1 << 20;

#[derive(Debug)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

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

fn serve(stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        match read_request(&mut reader)? {
            None => return Ok(()),
            Some(Ok(request)) => {
                writer.write_all(&route(&request))?;
                let close = request.headers.iter().any(|(n, v)| {
                    n.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close")
                });
                if close {
                    return Ok(());
                }
            }
            Some(Err(BadRequest(why))) => {
                writer.write_all(&response(400, "Bad Request", &[], why.as_bytes(), true))?;
                return Ok(());
            }
        }
    }
}

/// One line without its CRLF, at most MAX_LINE bytes; `None` at end of stream.
fn read_line(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    if reader
        .by_ref()
        .take(MAX_LINE)
        .read_until(b'\n', &mut line)?
        == 0
    {
        return Ok(None);
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

fn read_request(
    reader: &mut BufReader<TcpStream>,
) -> std::io::Result<Option<Result<Request, BadRequest>>> {
    let Some(line) = read_line(reader)? else {
        return Ok(None);
    };
    let bad = |why: &str| Ok(Some(Err(BadRequest(why.to_string()))));
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, path, version] = parts.as_slice() else {
        return bad("the request line is not METHOD PATH VERSION\n");
    };
    if !version.starts_with("HTTP/1.") || !path.starts_with('/') || method.is_empty() {
        return bad("the request line is not METHOD /PATH HTTP/1.x\n");
    }
    let mut headers = Vec::new();
    loop {
        let Some(line) = read_line(reader)? else {
            return bad("the connection ended inside the headers\n");
        };
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return bad("a header line without a colon\n");
        };
        headers.push((name.trim().to_string(), value.trim().to_string()));
        if headers.len() > MAX_HEADERS {
            return bad("too many headers\n");
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse::<usize>());
    let length = match length {
        None => 0,
        Some(Ok(n)) if n <= MAX_BODY => n,
        Some(_) => return bad("Content-Length is not a number up to 1 MiB\n"),
    };
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    Ok(Some(Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
        headers,
        body,
    })))
}

fn route(request: &Request) -> Vec<u8> {
    let text = [("Content-Type", "text/plain")];
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/hello") => response(200, "OK", &text, b"hello, netlab\n", true),
        ("HEAD", "/hello") => response(200, "OK", &text, b"hello, netlab\n", false),
        ("POST", "/echo") => response(200, "OK", &[], &request.body, true),
        ("GET" | "HEAD" | "POST", _) => response(
            404,
            "Not Found",
            &text,
            b"not found\n",
            request.method != "HEAD",
        ),
        _ => response(
            405,
            "Method Not Allowed",
            &[("Allow", "GET, HEAD, POST")],
            b"method not allowed\n",
            true,
        ),
    }
}

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
