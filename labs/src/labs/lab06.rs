//! Lab 06, WebSocket: one upgrade and then frames. A WebSocket opened by hand on a plain TCP
//! socket: the HTTP GET with `Upgrade: websocket` and its `101 Switching Protocols`, with
//! `Sec-WebSocket-Accept` computed here (SHA-1 and base64 of the key and RFC 6455's GUID); then
//! every frame of the session decoded from the capture (FIN, opcode, mask bit, the three
//! payload-length forms, masking keys); the overhead per message each way against an HTTP POST
//! of the same message; the server speaking first; ping and pong; the closing handshake.

use netlab_inspect::Packet;
use serde_json::{Value, json};

use crate::packets::{self, LabPacket};
use crate::question::Question;
use crate::render;
use crate::servers::STEP_TIMEOUT;
use crate::session::Session;
use crate::web::{self, Chat, Wire, WsFrame, opcode};
use crate::{LabError, LabFuture, LabInfo};

pub const INFO: LabInfo = LabInfo {
    number: 6,
    slug: "websocket",
    title: "WebSocket: one upgrade, then frames",
    minutes: 2,
    guide: include_str!("../../guides/06-websocket.md"),
    run,
};

const ROOM: &str = "lobby";
/// The chat messages the client sends: one for each payload-length form of the frames that
/// carry them (7-bit up to 125 bytes, 16-bit up to 65,535, 64-bit above).
const SIZES: [usize; 3] = [5, 300, 70_000];
const PING: &[u8] = b"are you there?";
/// The close code of a normal closure (RFC 6455, 7.4.1).
const NORMAL_CLOSURE: u16 = 1000;

fn run(s: &mut Session) -> LabFuture<'_> {
    Box::pin(async move {
        let chat = Chat::start().await?;
        let result = steps(s, &chat).await;
        chat.stop().await;
        result
    })
}

/// What the client saw of its session, live.
struct Session6 {
    /// Milliseconds from the 101 to the server's first frame, with nothing sent in between.
    hello_after_ms: f64,
    /// Bytes of the HTTP POST of the same message, by hand: (request, response).
    post: (usize, usize),
}

async fn steps(s: &mut Session, chat: &Chat) -> Result<(), LabError> {
    s.explain("One upgrade: the opening handshake")?;
    let guess = s.predict(
        "predict-first-bytes",
        "A WebSocket client connects. What do you expect its first bytes after the TCP handshake to be?",
    )?;
    let addr = chat.http_addr();
    s.act(&format!(
        "opening a WebSocket to ws://{addr}/ws by hand on a plain TCP socket, then: the chat's connect and join, messages of {} bytes, another user's message, a ping, and the closing handshake",
        SIZES.map(|n| n.to_string()).join(", ")
    ));
    let post = post_hello(addr).await?;
    let (live, rec) = s
        .capture("lab06-websocket", &chat.ports(), session(chat, post))
        .await?;
    let pkts = packets::dissect_all(&rec);
    let server = pkts
        .iter()
        .find(|p| p.flag("tcp.flags.syn") && !p.flag("tcp.flags.ack"))
        .and_then(Packet::dst_port)
        .map_or(addr.port(), |p| p as u16);
    let conns = web::connections_to(&pkts, server);
    let client = conns.first().copied().unwrap_or(0);
    let up = web::stream_bytes(&pkts, client, server);
    let down = web::stream_bytes(&pkts, server, client);
    let (up_head, down_head) = (
        web::head_end(&up).unwrap_or(up.len()),
        web::head_end(&down).unwrap_or(down.len()),
    );
    let wire = Wire6 {
        up_frames: web::decode_frames(&up[up_head..]),
        down_frames: web::decode_frames(&down[down_head..]),
    };
    handshake(
        s,
        &pkts,
        &up[..up_head],
        &down[..down_head],
        conns.len(),
        guess,
    )?;
    frames(s, &wire)?;
    overhead(s, &wire, &live)?;
    server_first(s, &pkts, &wire, &live, client)?;
    closing(s, &wire, &pkts)?;
    s.explain("What you learned")?;
    Ok(())
}

/// The frames of the captured session, each way.
struct Wire6 {
    up_frames: Vec<WsFrame>,
    down_frames: Vec<WsFrame>,
}

/// The event protocol's JSON as a masked text frame.
fn text_frame(v: &Value, n: u32) -> Vec<u8> {
    web::encode_frame(
        opcode::TEXT,
        v.to_string().as_bytes(),
        Some(web::mask_key(n)),
    )
}

/// Reads frames until one whose JSON satisfies `done`, answering the protocol's pings.
async fn until(wire: &mut Wire, done: impl Fn(&Value) -> bool) -> Result<Value, LabError> {
    loop {
        let f = wire.frame(STEP_TIMEOUT).await?;
        if f.opcode != opcode::TEXT {
            continue;
        }
        let v: Value = serde_json::from_slice(&f.payload).unwrap_or(Value::Null);
        if done(&v) {
            return Ok(v);
        }
    }
}

/// The same message as lab 05's POST, by hand, before the capture: the bytes it wrote and read,
/// for the comparison with the frames.
async fn post_hello(addr: std::net::SocketAddr) -> Result<(usize, usize), LabError> {
    let mut http = Wire::connect(addr).await?;
    let body = json!({"name": "ada", "text": "hello"}).to_string();
    let req = web::request(
        "POST",
        &format!("/api/rooms/{ROOM}/messages"),
        &[
            ("Host", &addr.to_string()),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    http.exchange(&req).await?;
    let post = (http.written, http.read);
    http.close().await?;
    Ok(post)
}

/// The whole WebSocket session, written by hand: what the capture contains.
async fn session(chat: &Chat, post: (usize, usize)) -> Result<Session6, LabError> {
    let addr = chat.http_addr();
    let mut wire = Wire::connect(addr).await?;
    web::ws_open(&mut wire, addr).await?;
    let switched = std::time::Instant::now();
    until(&mut wire, |v| v["type"] == "hello").await?;
    let hello_after_ms = switched.elapsed().as_secs_f64() * 1000.0;
    let mut n = 0;
    let mut send = |v: Value| {
        n += 1;
        text_frame(&v, n)
    };
    wire.write(&send(
        json!({"type":"connect","ns":"/chat","auth":{"name":"ada"}}),
    ))
    .await?;
    until(&mut wire, |v| v["type"] == "connected").await?;
    wire.write(&send(
        json!({"type":"event","ns":"/chat","name":"join","args":[ROOM],"ack":1}),
    ))
    .await?;
    until(&mut wire, |v| v["type"] == "ack" && v["id"] == 1).await?;
    // Another user speaks: the server sends it to us with nothing asked.
    chat.push(ROOM, "bob", "hi ada")?;
    until(&mut wire, |v| v["args"][0]["text"] == "hi ada").await?;
    for (i, size) in SIZES.iter().enumerate() {
        let text = if *size == 5 {
            "hello".to_string()
        } else {
            "x".repeat(*size)
        };
        let id = 2 + i as u64;
        wire.write(&send(
            json!({"type":"event","ns":"/chat","name":"message","args":[ROOM, text],"ack":id}),
        ))
        .await?;
        until(&mut wire, |v| v["type"] == "ack" && v["id"] == id).await?;
    }
    wire.write(&web::encode_frame(
        opcode::PING,
        PING,
        Some(web::mask_key(90)),
    ))
    .await?;
    loop {
        let f = wire.frame(STEP_TIMEOUT).await?;
        if f.opcode == opcode::PONG {
            break;
        }
    }
    let close = NORMAL_CLOSURE.to_be_bytes();
    wire.write(&web::encode_frame(
        opcode::CLOSE,
        &close,
        Some(web::mask_key(91)),
    ))
    .await?;
    loop {
        let f = wire.frame(STEP_TIMEOUT).await?;
        if f.opcode == opcode::CLOSE {
            break;
        }
    }
    wire.close().await?;
    Ok(Session6 {
        hello_after_ms,
        post,
    })
}

fn handshake(
    s: &mut Session,
    pkts: &[Packet],
    request: &[u8],
    response: &[u8],
    connections: usize,
    guess: crate::session::Prediction,
) -> Result<(), LabError> {
    let first_data = pkts.iter().position(|p| p.payload_len() > 0).unwrap_or(0);
    let shown = &pkts[..(first_data + 3).min(pkts.len())];
    s.show(
        &format!(
            "The first {} packets of the WebSocket's connection (of {} in the capture)",
            shown.len(),
            pkts.len()
        ),
        &packets::packet_table(shown, s.style()),
    );
    s.show(
        "The client's first bytes after the TCP handshake",
        &web::show_bytes(request, 76),
    );
    s.show("The server's answer", &web::show_bytes(response, 76));
    let key = web::header(request, "sec-websocket-key").unwrap_or_default();
    let sent = web::header(response, "sec-websocket-accept").unwrap_or_default();
    let computed = web::accept_key(&key);
    let status: u16 = String::from_utf8_lossy(response)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut t = render::table(&["", "value"], s.style());
    t.add_row(vec!["Sec-WebSocket-Key (client)".into(), key.clone()]);
    t.add_row(vec![
        "+ the GUID of RFC 6455".to_string(),
        web::WS_GUID.to_string(),
    ]);
    t.add_row(vec![
        "SHA-1 of the two, then base64 (computed here)".into(),
        computed.clone(),
    ]);
    t.add_row(vec!["Sec-WebSocket-Accept (server)".into(), sent.clone()]);
    s.show("The accept key, checked", &t.to_string());
    s.reveal(
        guess,
        String::from_utf8_lossy(request)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
        "",
    );
    s.measure("handshake.status", status, "");
    s.measure("handshake.request_bytes", request.len(), "bytes");
    s.measure("handshake.response_bytes", response.len(), "bytes");
    s.check(
        "the first bytes on the connection are an HTTP GET with Upgrade: websocket",
        request.starts_with(b"GET /ws HTTP/1.1\r\n")
            && web::header(request, "upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket")),
        web::show_bytes(&request[..request.len().min(18)], 40),
    );
    s.check_eq("the server answers 101 Switching Protocols", status, 101);
    s.check_eq(
        "Sec-WebSocket-Accept = base64(SHA-1(key + GUID))",
        &sent,
        &computed,
    );
    s.check_eq(
        "one TCP connection: the upgrade and the frames share it",
        connections,
        1,
    );
    s.ask(
        Question::number(
            "switch-status",
            "Which HTTP status code did the server answer to switch protocols?",
            f64::from(status),
        )
        .hint("the first line of the server's answer")
        .hint("the status line reads HTTP/1.1 ... Switching Protocols")
        .why("101 Switching Protocols: the last HTTP on this connection. From the next byte on, both sides speak WebSocket frames."),
    )?;
    // A key of the student's own, and the accept a server must send back for it.
    let v = s.variant();
    let mut own = [0u8; 16];
    for (i, chunk) in own.chunks_mut(4).enumerate() {
        let word = v.pick(
            &format!("lab06.key{i}"),
            0x7468_6520 + i as u64,
            0..=u64::from(u32::MAX),
        );
        chunk.copy_from_slice(&(word as u32).to_be_bytes());
    }
    let own_key = web::ws_key(own);
    let b64 = |bytes: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let sha = |text: &str| {
        use sha1::Digest;
        sha1::Sha1::digest(text.as_bytes()).to_vec()
    };
    let options = [
        web::accept_key(&own_key),
        b64(&sha(&own_key)),
        b64(&sha(&format!("{}{own_key}", web::WS_GUID))),
        b64(&sha(&format!("{own_key}{}", web::WS_GUID.to_lowercase()))),
    ];
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    s.ask(
        Question::choice(
            "accept-key",
            &format!("A client sends Sec-WebSocket-Key: {own_key}. Which Sec-WebSocket-Accept must the server answer?"),
            &options,
            0,
        )
        .hint("the key, then the GUID, exactly as written (upper case), SHA-1, then base64")
        .hint(&format!("in a shell: printf '%s' '{own_key}{}' | openssl sha1 -binary | base64", web::WS_GUID))
        .why("base64(SHA-1(key + \"258EAFA5-E914-47DA-95CA-C5AB0DC85B11\")). The client checks it to know the server really read its handshake: a server that is not speaking WebSocket cannot produce it by accident. It is not security: anyone can compute it."),
    )?;
    s.ask(
        Question::choice(
            "no-http-note",
            "A classmate's notes say: \"a WebSocket connects directly over TCP, with no HTTP\". What does this capture show?",
            &[
                "the TCP handshake, then an HTTP GET with Upgrade: websocket and a 101 answer, then frames on the same TCP connection",
                "a WebSocket connection with no HTTP at all: the notes are right",
                "one TCP connection for HTTP, then a second one for the WebSocket",
                "HTTP requests carrying each message, as in lab 05",
            ],
            0,
        )
        .hint("look at the packets after the SYN, SYN-ACK, ACK: which protocol is the first one with data?")
        .hint("count the TCP connections (SYNs) in the capture")
        .why("A WebSocket starts as HTTP/1.1: a GET with Upgrade: websocket, answered 101. That is why it works through the same ports, proxies and TLS as the web. Then HTTP is over, and the same TCP connection carries frames both ways."),
    )?;
    Ok(())
}

/// A short name for a frame: its opcode, and for the event protocol's JSON its type and name.
fn describe(f: &WsFrame) -> String {
    let op = web::opcode_name(f.opcode);
    if f.opcode != opcode::TEXT {
        return op.to_string();
    }
    let v: Value = serde_json::from_slice(&f.payload).unwrap_or(Value::Null);
    let kind = v["type"].as_str().unwrap_or("?");
    match v["name"].as_str() {
        Some(name) => format!("text: {kind} {name}"),
        None => format!("text: {kind}"),
    }
}

fn frames(s: &mut Session, wire: &Wire6) -> Result<(), LabError> {
    s.explain("Frames, byte by byte")?;
    let mut t = render::table(
        &[
            "dir",
            "frame",
            "byte 0",
            "byte 1",
            "length form",
            "mask",
            "header",
            "payload",
        ],
        s.style(),
    );
    render::keep_whole(&mut t, &[0, 2, 3]);
    let mut add = |dir: &str, f: &WsFrame| {
        let raw = web::encode_frame(f.opcode, &f.payload, f.mask);
        t.add_row(vec![
            dir.to_string(),
            describe(f),
            format!("0x{:02x}", raw[0]),
            format!("0x{:02x}", raw[1]),
            f.length_form().to_string(),
            f.mask.map_or("-".into(), |m| {
                m.iter().map(|b| format!("{b:02x}")).collect::<String>()
            }),
            f.header_len.to_string(),
            f.payload.len().to_string(),
        ]);
    };
    for f in &wire.up_frames {
        add("C>S", f);
    }
    for f in &wire.down_frames {
        add("S>C", f);
    }
    s.show(
        "Every frame of the session, decoded from the capture (client to server, then server to client)",
        &t.to_string(),
    );
    // The client's "hello" frame, byte by byte.
    if let Some(f) = wire
        .up_frames
        .iter()
        .find(|f| f.payload.windows(7).any(|w| w == b"\"hello\""))
    {
        let raw = web::encode_frame(f.opcode, &f.payload, f.mask);
        let mut t = render::table(&["bytes", "value", "meaning"], s.style());
        t.add_row(vec![
            "0".into(),
            format!("0x{:02x}", raw[0]),
            format!(
                "FIN = {} (last frame of the message), opcode = {} ({})",
                raw[0] >> 7,
                raw[0] & 0x0f,
                web::opcode_name(raw[0] & 0x0f)
            ),
        ]);
        t.add_row(vec![
            "1".into(),
            format!("0x{:02x}", raw[1]),
            format!(
                "MASK = {}, payload length = {} (7-bit form)",
                raw[1] >> 7,
                raw[1] & 0x7f
            ),
        ]);
        t.add_row(vec![
            "2..5".to_string(),
            raw[2..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            "masking key".into(),
        ]);
        t.add_row(vec![
            format!("6..{}", raw.len() - 1),
            raw[6..14.min(raw.len())]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                + "...",
            format!(
                "payload XOR the key: {}...",
                String::from_utf8_lossy(&f.payload[..8.min(f.payload.len())])
            ),
        ]);
        s.show(
            "The client's frame carrying \"hello\", byte by byte",
            &t.to_string(),
        );
    }
    let forms = |frames: &[WsFrame]| {
        let mut f: Vec<&str> = frames.iter().map(WsFrame::length_form).collect();
        f.sort_unstable();
        f.dedup();
        f
    };
    s.measure("frames.client", wire.up_frames.len(), "");
    s.measure("frames.server", wire.down_frames.len(), "");
    s.check(
        "every client frame is masked",
        wire.up_frames.iter().all(|f| f.mask.is_some()),
        format!("{} frames", wire.up_frames.len()),
    );
    s.check(
        "no server frame is masked",
        wire.down_frames.iter().all(|f| f.mask.is_none()),
        format!("{} frames", wire.down_frames.len()),
    );
    s.check_eq(
        "the client's frames use all three length forms",
        forms(&wire.up_frames),
        vec!["16-bit", "64-bit", "7-bit"],
    );
    s.check_eq(
        "so do the server's",
        forms(&wire.down_frames),
        vec!["16-bit", "64-bit", "7-bit"],
    );
    s.check(
        "every frame is a whole message (FIN set)",
        wire.up_frames
            .iter()
            .chain(&wire.down_frames)
            .all(|f| f.fin),
        "",
    );
    s.ask(
        Question::choice(
            "who-masks",
            "Which side masked its frames in this capture?",
            &[
                "only the client",
                "only the server",
                "both",
                "neither: masking is optional",
            ],
            0,
        )
        .hint("the mask column of the table")
        .hint("look at the MASK bit (the top bit of byte 1) in each direction")
        .why("RFC 6455 requires every client frame to be masked and no server frame. The key is fresh for each frame, so a script in a web page cannot choose the bytes on the wire: old proxies could otherwise be tricked into caching forged HTTP responses. It hides nothing: the key is in the frame."),
    )?;
    let n = s.variant().pick("lab06.payload", 300, 1..=200_000) as usize;
    let header =
        2 + match n {
            0..=125 => 0,
            126..=65535 => 2,
            _ => 8,
        } + 4;
    s.ask(
        Question::number(
            "client-frame-bytes",
            &format!("A client sends a text message of {n} bytes in one frame. How many bytes is the whole frame: header, masking key and payload?"),
            (header + n) as f64,
        )
        .unit("bytes")
        .hint("2 bytes, plus an extended length if the payload does not fit in 7 bits, plus 4 of masking key, plus the payload")
        .hint("up to 125 bytes: no extended length; up to 65535: 2 more bytes; above: 8 more")
        .why(&format!("{n} bytes needs the {} form: 2 + {} + 4 (masking key) = {header} bytes of header, and {n} of payload: {}.", web::length_form(n), header - 6, header + n)),
    )?;
    Ok(())
}

fn overhead(s: &mut Session, wire: &Wire6, live: &Session6) -> Result<(), LabError> {
    s.explain("What a message costs, each way")?;
    let hello_up = wire
        .up_frames
        .iter()
        .find(|f| f.payload.windows(7).any(|w| w == b"\"hello\""));
    let hello_down = wire.down_frames.iter().find(|f| {
        f.payload.windows(7).any(|w| w == b"\"hello\"")
            && f.payload.starts_with(b"{\"type\":\"event\"")
    });
    let (Some(up), Some(down)) = (hello_up, hello_down) else {
        s.check(
            "the capture holds the \"hello\" message both ways",
            false,
            "not found",
        );
        return Ok(());
    };
    let text = 5;
    let mut t = render::table(
        &["one 5-byte message", "bytes", "framing", "other overhead"],
        s.style(),
    );
    t.add_row(vec![
        "HTTP POST, request (as lab 05)".into(),
        live.post.0.to_string(),
        "-".into(),
        (live.post.0 - text).to_string(),
    ]);
    t.add_row(vec![
        "HTTP POST, its response".into(),
        live.post.1.to_string(),
        "-".into(),
        live.post.1.to_string(),
    ]);
    t.add_row(vec![
        "WebSocket frame, client to server".into(),
        up.wire_len().to_string(),
        up.header_len.to_string(),
        format!("{} (event JSON)", up.payload.len() - text),
    ]);
    t.add_row(vec![
        "WebSocket frame, server to client".into(),
        down.wire_len().to_string(),
        down.header_len.to_string(),
        format!("{} (event JSON)", down.payload.len() - text),
    ]);
    s.show(
        "Bytes above TCP for one message (the POST measured in this run, the frames from the capture)",
        &t.to_string(),
    );
    s.measure("overhead.post_request", live.post.0, "bytes");
    s.measure("overhead.post_response", live.post.1, "bytes");
    s.measure("overhead.ws_client_frame", up.wire_len(), "bytes");
    s.measure("overhead.ws_client_framing", up.header_len, "bytes");
    s.measure("overhead.ws_server_frame", down.wire_len(), "bytes");
    s.check_eq(
        "a client frame's header is 6 bytes for a short message",
        up.header_len,
        6,
    );
    s.check_eq("a server frame's header is 2 bytes", down.header_len, 2);
    s.check(
        "the frame costs less than the POST",
        up.wire_len() < live.post.0,
        format!("{} < {}", up.wire_len(), live.post.0),
    );
    s.ask(
        Question::number(
            "client-framing",
            "How many bytes of WebSocket framing (frame header, masking key included) did the client add to its frame carrying \"hello\"?",
            up.header_len as f64,
        )
        .unit("bytes")
        .hint("the framing column")
        .hint("2 bytes of header and 4 of masking key")
        .why("6 bytes: FIN/opcode, mask bit/length, 4 bytes of key. Against well over a hundred bytes of HTTP headers on every POST. (The event protocol's JSON around the text is the application's own overhead, the same over any transport.)"),
    )?;
    Ok(())
}

fn server_first(
    s: &mut Session,
    pkts: &[Packet],
    wire: &Wire6,
    live: &Session6,
    client: u16,
) -> Result<(), LabError> {
    s.explain("The server speaks first")?;
    // From the capture: the server's frames before the client's first frame.
    let before = wire
        .down_frames
        .iter()
        .take_while(|f| describe(f) == "text: hello")
        .count();
    // The packet carrying bob's message, and what the client sent last before it.
    let bob = pkts.iter().position(|p| {
        p.dst_port() == Some(u64::from(client))
            && p.payload().windows(8).any(|w| w == b"\"hi ada\"")
    });
    let last_client = bob.and_then(|i| {
        pkts[..i]
            .iter()
            .rev()
            .find(|p| p.src_port() == Some(u64::from(client)) && p.payload_len() > 0)
    });
    let last_client_frame = last_client
        .and_then(|p| web::decode_frames(p.payload()).into_iter().next())
        .map(|f| describe(&f))
        .unwrap_or_default();
    let mut t = render::table(
        &[
            "frame from the server",
            "what the client had sent just before",
        ],
        s.style(),
    );
    t.add_row(vec![
        "hello, right after the 101".into(),
        format!(
            "nothing (it came {:.2} ms after the 101)",
            live.hello_after_ms
        ),
    ]);
    t.add_row(vec![
        "bob's message \"hi ada\"".into(),
        format!("{last_client_frame} (already answered)"),
    ]);
    s.show("Frames nobody asked for", &t.to_string());
    s.measure("push.frames_before_client", before, "");
    s.measure("push.hello_after_ms", live.hello_after_ms, "ms");
    s.check_eq("the server's hello came before any client frame", before, 1);
    s.check(
        "bob's message arrived with no request: the client's last frame was its join",
        last_client_frame == "text: event join",
        last_client_frame.clone(),
    );
    s.ask(
        Question::number(
            "server-first",
            "How many frames did the server send before the client sent its first frame?",
            before as f64,
        )
        .hint("in the frame table, the server's frames are the S>C rows; which came before the client's connect?")
        .hint("the event protocol's server greets every new connection")
        .why("One: the hello. After the upgrade either side may send at any time: the connection is full duplex. Bob's message came the same way, pushed the moment it existed, which plain request/response cannot do (lab 05)."),
    )?;
    Ok(())
}

fn closing(s: &mut Session, wire: &Wire6, pkts: &[Packet]) -> Result<(), LabError> {
    s.explain("Ping, pong and the closing handshake")?;
    let of = |frames: &[WsFrame], op: u8| -> Vec<WsFrame> {
        frames.iter().filter(|f| f.opcode == op).cloned().collect()
    };
    let (pings, pongs) = (
        of(&wire.up_frames, opcode::PING),
        of(&wire.down_frames, opcode::PONG),
    );
    let (close_up, close_down) = (
        of(&wire.up_frames, opcode::CLOSE),
        of(&wire.down_frames, opcode::CLOSE),
    );
    let code = |f: Option<&WsFrame>| {
        f.and_then(|f| f.payload.get(..2))
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
    };
    let mut t = render::table(&["frame", "direction", "payload"], s.style());
    for (name, dir, frames) in [
        ("ping", "client to server", &pings),
        ("pong", "server to client", &pongs),
    ] {
        for f in frames.iter() {
            t.add_row(vec![
                name.to_string(),
                dir.to_string(),
                format!("{:?}", String::from_utf8_lossy(&f.payload)),
            ]);
        }
    }
    t.add_row(vec![
        "close".into(),
        "client to server".into(),
        format!("code {}", code(close_up.first())),
    ]);
    t.add_row(vec![
        "close".into(),
        "server to client".into(),
        format!("code {}", code(close_down.first())),
    ]);
    let fins = pkts.iter().filter(|p| p.flag("tcp.flags.fin")).count();
    t.add_row(vec![
        "then TCP's FINs".into(),
        "both".into(),
        format!("{fins} FIN packets"),
    ]);
    s.show("The end of the session", &t.to_string());
    s.measure("close.code", code(close_up.first()), "");
    s.check_eq("one ping, one pong", (pings.len(), pongs.len()), (1, 1));
    s.check_eq(
        "the pong carries the ping's payload",
        pongs
            .first()
            .map(|f| String::from_utf8_lossy(&f.payload).into_owned()),
        Some(String::from_utf8_lossy(PING).into_owned()),
    );
    s.check_eq(
        "two close frames, one each way",
        (close_up.len(), close_down.len()),
        (1, 1),
    );
    s.check_eq(
        "both say 1000, normal closure",
        (code(close_up.first()), code(close_down.first())),
        (NORMAL_CLOSURE, NORMAL_CLOSURE),
    );
    s.ask(
        Question::number(
            "close-code",
            "Which status code did the client's close frame carry?",
            f64::from(code(close_up.first())),
        )
        .hint("the first two bytes of a close frame's payload")
        .hint("the table above")
        .why("1000, normal closure. The other side echoes a close frame; only then is the TCP connection closed, so neither side loses a message that was still in flight. Other codes say why a connection ended: 1001 going away, 1008 policy violation, 1011 server error."),
    )?;
    Ok(())
}
