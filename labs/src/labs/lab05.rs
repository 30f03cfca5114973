//! Lab 05, HTTP on the wire: a POST written by hand on a plain TCP socket and the same POST from
//! an HTTP library (hyper), captured and labelled part by part (request line, headers, blank
//! line, body); header bytes against the 5 bytes of the message; TCP connections, handshakes
//! and time for 10 requests with keep-alive and with `Connection: close`; round trips before the
//! first byte of an answer; and a server that has news but cannot say so until it is asked.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use netlab_inspect::Packet;
use tokio::net::TcpStream;

use crate::packets::{self, LabPacket};
use crate::question::Question;
use crate::render;
use crate::servers::{STEP_TIMEOUT, timed};
use crate::session::Session;
use crate::web::{self, Chat, Wire};
use crate::{LabError, LabFuture, LabInfo};

pub const INFO: LabInfo = LabInfo {
    number: 5,
    slug: "http",
    title: "HTTP on the wire",
    minutes: 2,
    guide: include_str!("../../guides/05-http.md"),
    run,
};

const ROOM: &str = "lobby";
/// The chat message: 5 bytes, as the guide says.
const TEXT: &str = "hello";
/// Requests per way in the keep-alive experiment (the issue's 10; the capture depends on it).
const REQUESTS: usize = 10;
/// How long the first client waits, with nothing asked, after the news reached the server.
const QUIET: Duration = Duration::from_millis(500);

fn run(s: &mut Session) -> LabFuture<'_> {
    Box::pin(async move {
        let chat = Chat::start().await?;
        let result = steps(s, &chat).await;
        chat.stop().await;
        result
    })
}

async fn steps(s: &mut Session, chat: &Chat) -> Result<(), LabError> {
    by_hand(s, chat).await?;
    keep_alive(s, chat).await?;
    only_answers(s, chat).await?;
    s.explain("When request/response is the right choice")?;
    s.explain("What you learned")?;
    Ok(())
}

/// The chat message as the API takes it.
fn body() -> Vec<u8> {
    format!(r#"{{"name":"ada","text":"{TEXT}"}}"#).into_bytes()
}

fn messages_path() -> String {
    format!("/api/rooms/{ROOM}/messages")
}

/// The three parts of an HTTP message and their sizes: (start line, header lines, blank line,
/// body), from the bytes of one message.
struct Parts {
    start: usize,
    headers: usize,
    header_lines: usize,
    blank: usize,
    body: usize,
}

impl Parts {
    fn of(bytes: &[u8]) -> Parts {
        let end = web::head_end(bytes).unwrap_or(bytes.len());
        let start = bytes
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(end, |i| i + 2);
        let blank = if end >= 4 { 2 } else { 0 };
        let headers = end.saturating_sub(start + blank);
        let header_lines = String::from_utf8_lossy(&bytes[start..start + headers])
            .matches("\r\n")
            .count();
        Parts {
            start,
            headers,
            header_lines,
            blank,
            body: bytes.len() - end,
        }
    }

    /// Everything before the body: what "header bytes" means in this lab.
    fn head(&self) -> usize {
        self.start + self.headers + self.blank
    }
}

async fn by_hand(s: &mut Session, chat: &Chat) -> Result<(), LabError> {
    s.explain("A request is text")?;
    let guess = s.predict(
        "predict-header-bytes",
        &format!("The message is the {} bytes of \"{TEXT}\". How many bytes of HTTP (request line, headers and the blank line) do you expect to carry it?", TEXT.len()),
    )?;
    let addr = chat.http_addr();
    s.act(&format!(
        "writing a POST of \"{TEXT}\" by hand on a plain TCP socket to {addr}, then the same POST with hyper, an HTTP client library"
    ));
    let (status, rec) = s
        .capture("lab05-post", &chat.ports(), async {
            let mut hand = Wire::connect(addr).await?;
            let req = web::request(
                "POST",
                &messages_path(),
                &[
                    ("Host", &addr.to_string()),
                    ("Content-Type", "application/json"),
                    ("Connection", "close"),
                ],
                &body(),
            );
            let resp = hand.exchange(&req).await?;
            hand.close().await?;
            let library = library_post(addr).await?;
            Ok((resp.status, library))
        })
        .await?;
    let pkts = packets::dissect_all(&rec);
    let port = addr.port();
    let server = rec_port_of(&pkts, port);
    let conns = web::connections_to(&pkts, server);
    s.check_eq("two TCP connections: by hand, then hyper", conns.len(), 2);
    let (Some(&hand), Some(&lib)) = (conns.first(), conns.get(1)) else {
        return Ok(());
    };
    let req = web::stream_bytes(&pkts, hand, server);
    let resp = web::stream_bytes(&pkts, server, hand);
    let lib_req = web::stream_bytes(&pkts, lib, server);
    s.show(
        "What the program wrote on the socket, every byte (\\r\\n ends each line)",
        &web::show_bytes(&req, 76),
    );
    s.show("What the server answered", &web::show_bytes(&resp, 76));
    s.show(
        "The same POST from hyper, an HTTP library",
        &web::show_bytes(&lib_req, 76),
    );
    let (rq, rs, lq) = (Parts::of(&req), Parts::of(&resp), Parts::of(&lib_req));
    let mut t = render::table(
        &["part", "POST by hand", "its response", "POST by hyper"],
        s.style(),
    );
    let row = |name: &str, f: fn(&Parts) -> String| vec![name.to_string(), f(&rq), f(&rs), f(&lq)];
    t.add_row(row("request or status line", |p| p.start.to_string()));
    t.add_row(row("header lines", |p| {
        format!("{} ({} lines)", p.headers, p.header_lines)
    }));
    t.add_row(row("blank line", |p| p.blank.to_string()));
    t.add_row(row("header bytes in all", |p| p.head().to_string()));
    t.add_row(row("body", |p| p.body.to_string()));
    t.add_row(vec![
        "of which the message".into(),
        TEXT.len().to_string(),
        "0".into(),
        TEXT.len().to_string(),
    ]);
    s.show("Bytes of each part (from the capture)", &t.to_string());
    let payload_packets = |c: u16| {
        pkts.iter()
            .filter(|p| p.payload_len() > 0 && p.src_port() == Some(u64::from(c)))
            .count()
    };
    s.reveal(guess, rq.head(), "bytes");
    s.measure("post.request_header_bytes", rq.head(), "bytes");
    s.measure("post.request_body_bytes", rq.body, "bytes");
    s.measure("post.response_header_bytes", rs.head(), "bytes");
    s.measure("post.response_body_bytes", rs.body, "bytes");
    s.measure("post.library_header_bytes", lq.head(), "bytes");
    s.check_eq(
        "the server answered 201 Created, both times",
        status,
        (201, 201),
    );
    s.check_eq(
        "by hand and by library, the same body",
        String::from_utf8_lossy(&req[rq.head()..]).into_owned(),
        String::from_utf8_lossy(&lib_req[lq.head()..]).into_owned(),
    );
    s.check_eq(
        "Content-Length is the body's length",
        web::header(&req, "content-length"),
        Some(rq.body.to_string()),
    );
    s.check(
        "the request went out in one segment",
        payload_packets(hand) == 1,
        format!("{} segments with data", payload_packets(hand)),
    );
    let n = s.variant().pick("lab05.text-len", 300, 6..=5000) as usize;
    let digits = |n: usize| n.to_string().len();
    let body_n = rq.body - TEXT.len() + n;
    let total_n = rq.head() - digits(rq.body) + digits(body_n) + body_n;
    s.ask(
        Question::number(
            "request-header-bytes",
            &format!("How many bytes of HTTP headers (request line, header lines and the blank line) carried the {}-byte message in the POST written by hand?", TEXT.len()),
            rq.head() as f64,
        )
        .unit("bytes")
        .hint("the table's \"header bytes in all\" row, first column")
        .hint("everything before the body: request line + header lines + 2 bytes of blank line")
        .why(&format!("{} bytes of head carried {} bytes of message (in a {}-byte JSON body): the headers cost many times the message. Every request repeats them.", rq.head(), TEXT.len(), rq.body)),
    )?;
    s.ask(
        Question::number(
            "request-bytes-for-n",
            &format!("The hand-written POST was {} bytes in all. How many would it be if the message text were {n} bytes instead of {} (same headers)?", req.len(), TEXT.len()),
            total_n as f64,
        )
        .unit("bytes")
        .hint("the body grows by the difference; what else in the head says how long the body is?")
        .hint("Content-Length changes too, and may gain a digit")
        .why(&format!("The body becomes {body_n} bytes and Content-Length: {body_n} has {} digit(s) where it had {}: {} + {body_n} = {total_n}.", digits(body_n), digits(rq.body), rq.head() - digits(rq.body) + digits(body_n))),
    )?;
    s.ask(
        Question::choice(
            "body-end",
            "How does the server know where this request's body ends?",
            &[
                "the Content-Length header says how many bytes follow the blank line",
                "the body ends at the next \\r\\n",
                "the client closes the connection after the body",
                "TCP marks the end of each message",
            ],
            0,
        )
        .hint("TCP is a byte stream: it keeps no message boundaries (lab 02)")
        .hint("which header holds a number equal to the body's length?")
        .why("The head ends at the blank line; then Content-Length bytes of body. (Or, without it, chunks that each say their size: Transfer-Encoding: chunked.) That is how several requests follow each other on one connection."),
    )?;
    Ok(())
}

/// The same POST through hyper's HTTP/1.1 client: it writes the request line, lower-case
/// header names and Content-Length itself.
async fn library_post(addr: SocketAddr) -> Result<u16, LabError> {
    let fail = |e: hyper::Error| LabError::Experiment(format!("hyper: {e}"));
    let stream = timed("connecting", TcpStream::connect(addr)).await?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = tokio::time::timeout(
        STEP_TIMEOUT,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| LabError::Experiment("hyper: no handshake".into()))?
    .map_err(fail)?;
    let driver = tokio::spawn(conn);
    let req = hyper::Request::post(messages_path())
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body())))
        .map_err(|e| LabError::Experiment(format!("building the request: {e}")))?;
    let resp = tokio::time::timeout(STEP_TIMEOUT, sender.send_request(req))
        .await
        .map_err(|_| LabError::Experiment("hyper: no answer".into()))?
        .map_err(fail)?;
    let status = resp.status().as_u16();
    tokio::time::timeout(STEP_TIMEOUT, resp.into_body().collect())
        .await
        .map_err(|_| LabError::Experiment("hyper: no body".into()))?
        .map_err(fail)?;
    // Dropping the sender ends the connection: hyper closes it.
    drop(sender);
    let _ = tokio::time::timeout(STEP_TIMEOUT, driver).await;
    Ok(status)
}

/// What one way of sending the 10 requests cost, from its capture.
struct Cost {
    connections: usize,
    packets: usize,
    bytes: usize,
    ms: f64,
}

fn cost(pkts: &[Packet], server: u16) -> Cost {
    let t = |p: Option<&Packet>| p.map_or(0.0, |p| p.raw.ts.as_secs_f64());
    Cost {
        connections: web::connections_to(pkts, server).len(),
        packets: pkts.len(),
        bytes: pkts.iter().map(|p| p.raw.bytes.len()).sum(),
        ms: (t(pkts.last()) - t(pkts.first())) * 1000.0,
    }
}

/// Round trips a client waited, from its packet `from` on, before the first byte of an answer:
/// each SYN-ACK, and the first server packet with data, is one answer it waited for.
fn round_trips(pkts: &[Packet], client: u16, server: u16, from: usize) -> usize {
    let mut trips = 0;
    for p in &pkts[from.min(pkts.len())..] {
        if p.src_port() != Some(u64::from(server)) || p.dst_port() != Some(u64::from(client)) {
            continue;
        }
        if p.flag("tcp.flags.syn") {
            trips += 1;
        } else if p.payload_len() > 0 {
            return trips + 1;
        }
    }
    trips
}

async fn keep_alive(s: &mut Session, chat: &Chat) -> Result<(), LabError> {
    s.explain("Keep-alive: one connection, many requests")?;
    let addr = chat.http_addr();
    let get = |close: bool| {
        let mut headers = vec![("Host", addr.to_string())];
        if close {
            headers.push(("Connection", "close".to_string()));
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        web::request(
            "GET",
            &format!("{}?after=0", messages_path()),
            &headers,
            b"",
        )
    };
    s.act(&format!(
        "{REQUESTS} GET requests on one connection (keep-alive, HTTP/1.1's default), then {REQUESTS} GETs each with Connection: close"
    ));
    let (ok_keep, keep) = s
        .capture("lab05-keepalive", &chat.ports(), async {
            let mut wire = Wire::connect(addr).await?;
            let mut ok = 0;
            for _ in 0..REQUESTS {
                ok += usize::from(wire.exchange(&get(false)).await?.status == 200);
            }
            wire.close().await?;
            Ok(ok)
        })
        .await?;
    let (ok_close, close) = s
        .capture("lab05-close", &chat.ports(), async {
            let mut ok = 0;
            for _ in 0..REQUESTS {
                let mut wire = Wire::connect(addr).await?;
                ok += usize::from(wire.exchange(&get(true)).await?.status == 200);
                wire.close().await?;
            }
            Ok(ok)
        })
        .await?;
    let (keep, close) = (packets::dissect_all(&keep), packets::dissect_all(&close));
    let kport = rec_port_of(&keep, addr.port());
    let cport = rec_port_of(&close, addr.port());
    let (k, c) = (cost(&keep, kport), cost(&close, cport));
    let mut t = render::table(&["", "keep-alive", "Connection: close"], s.style());
    t.add_row(vec![
        "TCP connections (handshakes)".into(),
        k.connections.to_string(),
        c.connections.to_string(),
    ]);
    t.add_row(vec![
        "packets".into(),
        k.packets.to_string(),
        c.packets.to_string(),
    ]);
    t.add_row(vec![
        "bytes on the wire".into(),
        k.bytes.to_string(),
        c.bytes.to_string(),
    ]);
    t.add_row(vec![
        "first to last packet (ms)".into(),
        format!("{:.2}", k.ms),
        format!("{:.2}", c.ms),
    ]);
    s.show(
        &format!("{REQUESTS} requests, two ways (from the captures)"),
        &t.to_string(),
    );
    // Round trips: the first request of a new connection, and the second request of the
    // kept-alive one.
    let first_client = web::connections_to(&close, cport)
        .first()
        .copied()
        .unwrap_or(0);
    let new_trips = round_trips(&close, first_client, cport, 0);
    let keep_client = web::connections_to(&keep, kport)
        .first()
        .copied()
        .unwrap_or(0);
    let second_request = keep
        .iter()
        .enumerate()
        .filter(|(_, p)| p.src_port() == Some(u64::from(keep_client)) && p.payload_len() > 0)
        .nth(1)
        .map_or(0, |(i, _)| i);
    let reused_trips = round_trips(&keep, keep_client, kport, second_request);
    let mut t = render::table(
        &["request", "round trips before the answer's first byte"],
        s.style(),
    );
    t.add_row(vec![
        "first on a new connection (SYN, then the request)".into(),
        new_trips.to_string(),
    ]);
    t.add_row(vec![
        "second on a kept-alive connection".into(),
        reused_trips.to_string(),
    ]);
    s.show("Waiting for the first byte", &t.to_string());
    s.measure("keepalive.connections", k.connections, "");
    s.measure("close.connections", c.connections, "");
    s.measure("keepalive.packets", k.packets, "");
    s.measure("close.packets", c.packets, "");
    s.measure("close.round_trips_first_byte", new_trips, "");
    s.measure("keepalive.round_trips_first_byte", reused_trips, "");
    s.check_eq(
        "every request answered 200",
        (ok_keep, ok_close),
        (REQUESTS, REQUESTS),
    );
    s.check_eq("keep-alive: one handshake", k.connections, 1);
    s.check_eq(
        &format!("Connection: close: {REQUESTS} handshakes"),
        c.connections,
        REQUESTS,
    );
    s.check_eq(
        "SYN and SYN-ACK: 2 per connection",
        close.iter().filter(|p| p.flag("tcp.flags.syn")).count(),
        2 * REQUESTS,
    );
    s.check_eq("2 round trips on a new connection", new_trips, 2);
    s.check_eq("1 round trip on a kept-alive one", reused_trips, 1);
    s.ask(
        Question::number(
            "handshakes-close",
            &format!("How many TCP handshakes did the {REQUESTS} requests cost with Connection: close?"),
            c.connections as f64,
        )
        .hint("count the SYNs in that capture: one per connection")
        .hint("the first row of the table, second column")
        .why("One connection per request: each pays a handshake before it can send, and a teardown after."),
    )?;
    let k_req = s.variant().pick("lab05.requests", REQUESTS as u64, 3..=60);
    s.ask(
        Question::number(
            "handshake-packets",
            &format!("Each handshake is SYN, SYN-ACK, ACK. How many handshake packets would {k_req} requests cost without keep-alive?"),
            (3 * k_req) as f64,
        )
        .hint("one connection per request, three packets per handshake")
        .hint(&format!("{k_req} connections times 3"))
        .why(&format!("{k_req} connections x 3 packets = {}; with keep-alive, 3 in all.", 3 * k_req)),
    )?;
    s.ask(
        Question::number(
            "round-trips-new",
            "How many round trips did the first request on a new connection wait before the first byte of its answer?",
            new_trips as f64,
        )
        .hint("the client waits once for the SYN-ACK, then again for the answer")
        .hint("the \"Waiting for the first byte\" table")
        .why("One for the handshake, one for the request: 2 round trips, against 1 on a kept-alive connection. On a path of 50 ms that is 100 ms against 50 ms before anything can show (and HTTPS adds TLS's round trips to the new connection)."),
    )?;
    Ok(())
}

/// The capture's server port: the port the first SYN went to (this run's port when live, the
/// recorded one in a shipped capture).
fn rec_port_of(pkts: &[Packet], live_port: u16) -> u16 {
    pkts.iter()
        .find(|p| p.flag("tcp.flags.syn") && !p.flag("tcp.flags.ack"))
        .and_then(Packet::dst_port)
        .map_or(live_port, |p| p as u16)
}

async fn only_answers(s: &mut Session, chat: &Chat) -> Result<(), LabError> {
    s.explain("The server can only answer")?;
    let addr = chat.http_addr();
    let room = "news";
    let get = web::request(
        "GET",
        &format!("/api/rooms/{room}/messages?after=0"),
        &[("Host", &addr.to_string())],
        b"",
    );
    s.act(&format!(
        "client A asks for the messages of room {room} (none yet); another user posts one; A waits {} ms without asking; A asks again",
        QUIET.as_millis()
    ));
    let ((first, unasked, second, waited_ms), rec) = s
        .capture("lab05-ask", &chat.ports(), async {
            let mut a = Wire::connect(addr).await?;
            let first = a.exchange(&get).await?;
            let posted = Instant::now();
            chat.push(room, "bob", "news!")?;
            let unasked = a.unasked(QUIET).await;
            let second = a.exchange(&get).await?;
            let waited_ms = posted.elapsed().as_secs_f64() * 1000.0;
            a.close().await?;
            Ok((first, unasked, second, waited_ms))
        })
        .await?;
    let pkts = packets::dissect_all(&rec);
    s.show(
        &format!("{} packets: A's connection", pkts.len()),
        &packets::packet_table(&pkts, s.style()),
    );
    let server = rec_port_of(&pkts, addr.port());
    let client_data = pkts
        .iter()
        .filter(|p| p.dst_port() == Some(u64::from(server)) && p.payload_len() > 0)
        .count();
    let server_data = pkts
        .iter()
        .filter(|p| p.src_port() == Some(u64::from(server)) && p.payload_len() > 0)
        .count();
    let count = |r: &web::Response| {
        serde_json::from_slice::<serde_json::Value>(&r.body)
            .ok()
            .and_then(|v| v["messages"].as_array().map(Vec::len))
            .unwrap_or(usize::MAX)
    };
    let mut t = render::table(&["", "what A got"], s.style());
    t.add_row(vec![
        "first GET".into(),
        format!("{} ({} messages)", first.text(), count(&first)),
    ]);
    t.add_row(vec![
        format!("{} ms of waiting after the post", QUIET.as_millis()),
        format!("{unasked} bytes"),
    ]);
    t.add_row(vec![
        "second GET".into(),
        format!("{} message(s)", count(&second)),
    ]);
    s.show("What A saw", &t.to_string());
    s.measure("ask.unasked_bytes", unasked, "bytes");
    s.measure("ask.news_waited_ms", waited_ms, "ms");
    s.check_eq("the first GET: no messages", count(&first), 0);
    s.check_eq("the second GET: the news", count(&second), 1);
    s.check_eq("nothing arrives unasked", unasked, 0);
    s.check_eq(
        "the server sent data only in answers: as many data packets as A sent",
        server_data,
        client_data,
    );
    s.ask(
        Question::number(
            "unasked-bytes",
            &format!("After the other user's message reached the server, how many bytes did the server send A in the {} ms before A asked again?", QUIET.as_millis()),
            unasked as f64,
        )
        .unit("bytes")
        .hint("the \"What A saw\" table, second row; or the packet list between the two GETs")
        .hint("in request/response, when may the server send?")
        .why(&format!("None: the server had the news for {waited_ms:.0} ms and no way to say so. It can only answer a request, so A hears news when A next asks: how often to ask is the polling interval, and lab 07 measures what it costs.")),
    )?;
    s.ask(
        Question::choice(
            "hear-sooner",
            "Staying with plain HTTP requests, how can A hear of new messages sooner?",
            &[
                "ask more often, or send a request that the server holds until there is news (long-polling)",
                "the server opens a new connection to A",
                "the server sends a second response to the first request",
                "TCP keep-alive carries the news",
            ],
            0,
        )
        .hint("the client must have a request outstanding for the server to answer")
        .hint("what if the server waited before answering?")
        .why("Polling asks often (and mostly hears \"nothing\"); long-polling keeps one request waiting at the server, answered the moment there is news. Both keep HTTP's rule that only the client asks. Lab 06 breaks the rule with a WebSocket."),
    )?;
    Ok(())
}
