//! Exercise 4, `http`: a minimal HTTP/1.1 server. GET with Content-Length, HEAD, 404, 405, 400
//! for a malformed request, keep-alive with several requests on one connection, and a POST
//! body read by Content-Length.

use std::net::SocketAddr;
use std::time::Duration;

use super::{Checker, Exercise, Kind};
use crate::check::{Check, Failure, Outcome, same_bytes};
use crate::runner::BoxedOutcome;
use crate::wire::Conn;

const STEP: Duration = Duration::from_secs(2);
/// A response head longer than this is not a sensible response.
const MAX_HEAD: usize = 16 * 1024;
/// Bodies the checks expect are small; more is a flood.
const MAX_BODY: usize = 64 * 1024;
/// What GET /hello returns.
pub const HELLO: &[u8] = b"hello, netlab\n";

pub const CHECKS: &[Check] = &[
    Check {
        id: "get",
        name: "GET /hello: 200 with Content-Length and the body",
        points: 2,
        limit: Duration::from_secs(3),
        hint: "answer `HTTP/1.1 200 OK`, a `Content-Length: 14` header, an empty line, then exactly the body",
    },
    Check {
        id: "head",
        name: "HEAD /hello: the headers of GET, no body",
        points: 1,
        limit: Duration::from_secs(3),
        hint: "HEAD answers with the same status and Content-Length as GET, but sends no body bytes",
    },
    Check {
        id: "not-found",
        name: "GET of an unknown path: 404",
        points: 1,
        limit: Duration::from_secs(3),
        hint: "any path other than /hello and /echo is `404 Not Found` (with a Content-Length, even 0)",
    },
    Check {
        id: "method",
        name: "an unsupported method: 405 with Allow",
        points: 1,
        limit: Duration::from_secs(3),
        hint: "methods other than GET, HEAD and POST get `405 Method Not Allowed` and an `Allow: GET, HEAD, POST` header",
    },
    Check {
        id: "bad-request",
        name: "a malformed request: 400",
        points: 1,
        limit: Duration::from_secs(3),
        hint: "a request line must be METHOD SP PATH SP HTTP/1.x; anything else is `400 Bad Request`, then close",
    },
    Check {
        id: "keep-alive",
        name: "keep-alive: three requests on one connection",
        points: 2,
        limit: Duration::from_secs(5),
        hint: "after a response, keep reading requests from the same connection until the client closes it",
    },
    Check {
        id: "post",
        name: "POST /echo: the body read by Content-Length",
        points: 2,
        limit: Duration::from_secs(5),
        hint: "read exactly Content-Length bytes after the empty line, even when they arrive later than the headers",
    },
];

pub const EXERCISE: Exercise = Exercise {
    name: "http",
    title: "A minimal HTTP/1.1 server",
    kind: Kind::Server,
    folder: "labs/exercises/04-http",
    example: "--cmd \"target/release/http {port}\"",
    checks: CHECKS,
    checker: Checker::Server(run),
};

fn run(id: &'static str, addr: SocketAddr) -> BoxedOutcome {
    Box::pin(async move {
        let mut conn = Conn::connect(addr, STEP).await?;
        match id {
            "get" => get_hello(&mut conn).await,
            "head" => {
                let req = request("HEAD", "/hello", "");
                conn.send(req.as_bytes(), STEP).await?;
                let r = response(&mut conn, &req, false).await?;
                r.expect_status(200, &req)?;
                r.expect_length(HELLO.len(), &req)?;
                // A body after HEAD would be read as the start of the next response.
                get_hello(&mut conn).await.map_err(|mut f| {
                    f.reason = format!("the GET after a HEAD on the same connection: {} (were body bytes sent after the HEAD?)", f.reason);
                    f
                })
            }
            "not-found" => status_of(&mut conn, &request("GET", "/no/such/page", ""), 404).await,
            "method" => {
                let req = request("DELETE", "/hello", "");
                conn.send(req.as_bytes(), STEP).await?;
                let r = response(&mut conn, &req, true).await?;
                r.expect_status(405, &req)?;
                match r.header("allow") {
                    Some(allow) if allow.contains("GET") => Ok(()),
                    _ => Err(
                        Failure::new("the 405 response has no `Allow` header listing GET")
                            .sent(&req)
                            .got(&r.head),
                    ),
                }
            }
            "bad-request" => {
                let req = "THIS IS NOT HTTP\r\n\r\n";
                conn.send(req.as_bytes(), STEP).await?;
                let r = response(&mut conn, req, false).await?;
                r.expect_status(400, req)
            }
            "keep-alive" => {
                for i in 1..=3 {
                    get_hello(&mut conn).await.map_err(|mut f| {
                        f.reason = format!("request {i} of 3 on one connection: {}", f.reason);
                        f
                    })?;
                }
                Ok(())
            }
            "post" => post_echo(&mut conn).await,
            other => Err(Failure::new(format!("unknown check `{other}`"))),
        }
    })
}

/// An HTTP/1.1 request with Host and, for a body, Content-Length.
fn request(method: &str, path: &str, body: &str) -> String {
    let length = if body.is_empty() && method != "POST" {
        String::new()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: netlab-grade\r\n{length}\r\n{body}"
    )
}

async fn get_hello(conn: &mut Conn) -> Outcome {
    let req = request("GET", "/hello", "");
    conn.send(req.as_bytes(), STEP).await?;
    let r = response(conn, &req, true).await?;
    r.expect_status(200, &req)?;
    r.expect_length(HELLO.len(), &req)?;
    same_bytes("the body differs", req.as_bytes(), HELLO, &r.body)
}

async fn status_of(conn: &mut Conn, req: &str, status: u16) -> Outcome {
    conn.send(req.as_bytes(), STEP).await?;
    response(conn, req, true).await?.expect_status(status, req)
}

async fn post_echo(conn: &mut Conn) -> Outcome {
    let body: String = (0..1000).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let req = request("POST", "/echo", &body);
    let (head, rest) = req.split_at(req.len() - body.len());
    // The body arrives after the headers, in a later segment: it must be waited for.
    conn.send(head.as_bytes(), STEP).await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    conn.send(rest.as_bytes(), STEP).await?;
    let r = response(conn, &req, true).await?;
    r.expect_status(200, &req)?;
    same_bytes(
        "the echoed body differs",
        req.as_bytes(),
        body.as_bytes(),
        &r.body,
    )
}

/// A response as read: its head (status line and headers), parsed, and its body.
pub struct Response {
    pub head: Vec<u8>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn expect_status(&self, status: u16, sent: &str) -> Outcome {
        if self.status == status {
            Ok(())
        } else {
            Err(
                Failure::new(format!("the status is {}, expected {status}", self.status))
                    .sent(sent)
                    .expected(format!("HTTP/1.1 {status} "))
                    .got(&self.head),
            )
        }
    }

    fn expect_length(&self, length: usize, sent: &str) -> Outcome {
        match self.header("content-length").map(str::trim) {
            Some(v) if v == length.to_string() => Ok(()),
            other => Err(Failure::new(format!(
                "Content-Length is {}, expected {length}",
                other.unwrap_or("missing")
            ))
            .sent(sent)
            .got(&self.head)),
        }
    }
}

/// Reads one response: the head up to the empty line, then (if `with_body`) Content-Length
/// bytes of body. Every read is bounded in size and time.
pub async fn response(conn: &mut Conn, sent: &str, with_body: bool) -> Result<Response, Failure> {
    let head = conn
        .read_until(MAX_HEAD, STEP, |b| {
            b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
        })
        .await
        .map_err(|short| short.failure("waiting for the response headers").sent(sent))?;
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let status = match (parts.next(), parts.next().map(str::parse::<u16>)) {
        (Some(v), Some(Ok(code))) if v.starts_with("HTTP/1.") => code,
        _ => {
            return Err(Failure::new(
                "the response does not start with a status line like `HTTP/1.1 200 OK`",
            )
            .sent(sent)
            .got(&head));
        }
    };
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut r = Response {
        head: head.clone(),
        status,
        headers,
        body: Vec::new(),
    };
    if with_body {
        let length = match r
            .header("content-length")
            .map(|v| v.trim().parse::<usize>())
        {
            Some(Ok(n)) if n <= MAX_BODY => n,
            Some(Ok(n)) => {
                return Err(Failure::new(format!(
                    "Content-Length {n} is far more than this response needs"
                ))
                .got(&head));
            }
            _ => {
                return Err(Failure::new("the response has no valid Content-Length header")
                    .sent(sent)
                    .got(&head)
                    .hint("every response needs `Content-Length: N`, so that the client knows where the body ends on a kept-alive connection"));
            }
        };
        r.body = conn.read_exact(length, STEP).await.map_err(|short| {
            short
                .failure(&format!("reading the {length}-byte body"))
                .sent(sent)
        })?;
    }
    Ok(r)
}
