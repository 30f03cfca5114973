//! The web labs' experiments (labs 05 to 07): the chat server, and clients written out byte by
//! byte so that a student can read exactly what they send.
//!
//! - [`Chat`]: netlab-events' hub behind its TCP listener (JSON lines) and netlab-web's HTTP
//!   listener (the chat API, SSE, `/ws`, `/poll`), as `netlab events serve` runs them, on
//!   127.0.0.1 and free ports. [`Chat::push`] posts as another user from inside the server
//!   process, so a capture of the ports shows only the client being studied.
//! - [`Wire`]: one TCP connection and its read buffer: HTTP/1.1 requests written by hand,
//!   responses, lines (SSE, the event protocol over TCP) and WebSocket frames read from it.
//! - WebSocket (RFC 6455): [`accept_key`], [`encode_frame`] and [`decode_frame`], the whole
//!   frame format in a few lines each.
//! - [`stream_bytes`]: one direction of a captured TCP conversation, put back together, so every
//!   figure a lab shows is read from its capture.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use netlab_events::chat::History;
use netlab_events::core::{Config, Core};
use netlab_events::server::{Hub, Server, ServerOptions};
use netlab_inspect::Packet;
use netlab_web::{Web, WebOptions, WebServer};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::LabError;
use crate::packets::LabPacket;
use crate::servers::{STEP_TIMEOUT, timed};

/// The chat server of the web labs: one hub, two listeners.
pub struct Chat {
    pub tcp: Server,
    pub http: WebServer,
    history: History,
    hub: Arc<Hub>,
}

fn experiment(what: &str) -> impl FnOnce(String) -> LabError + '_ {
    move |e| LabError::Experiment(format!("{what}: {e}"))
}

impl Chat {
    /// Both listeners on 127.0.0.1, each on a free port.
    pub async fn start() -> Result<Chat, LabError> {
        let mut core = Core::new(Config::default());
        let history = netlab_events::chat::install(&mut core);
        let hub = Hub::restored(core, ServerOptions::default())
            .map_err(|e| experiment("starting the chat")(e.to_string()))?;
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        let tcp = Server::bind_hub(any, hub.clone())
            .await
            .map_err(|e| experiment("binding the chat's TCP port")(e.to_string()))?;
        let web = Web::new(hub.clone(), history.clone(), WebOptions::default());
        let http = WebServer::bind(any, web)
            .await
            .map_err(|e| experiment("binding the chat's HTTP port")(e.to_string()))?;
        Ok(Chat {
            tcp,
            http,
            history,
            hub,
        })
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http.local_addr()
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp.local_addr()
    }

    /// Both ports, for the capture filter.
    pub fn ports(&self) -> [u16; 2] {
        [self.http_addr().port(), self.tcp_addr().port()]
    }

    /// Another user says `text` in `room`, from inside the server: every client of the room
    /// gets it over its own transport, and no packet of this post is on the wire.
    pub fn push(&self, room: &str, name: &str, text: &str) -> Result<u64, LabError> {
        let history = self.history.clone();
        self.hub
            .step(|core, now| history.post(core, now, room, name, text))
            .map(|m| m.id)
            .map_err(|e| experiment("posting a message")(e.to_string()))
    }

    pub async fn stop(self) {
        let _ = tokio::time::timeout(STEP_TIMEOUT, self.http.shutdown()).await;
        let _ = tokio::time::timeout(STEP_TIMEOUT, self.tcp.shutdown()).await;
    }
}

/// An HTTP/1.1 request as bytes: request line, header lines, a blank line, the body. A body
/// (or a POST) gets its `Content-Length`.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A response as read off the socket.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Status line and header lines, up to and including the blank line.
    pub head: Vec<u8>,
    /// The body, de-chunked if it came in chunks.
    pub body: Vec<u8>,
    /// Every byte the response took on the connection (head, body, chunk sizes).
    pub wire_len: usize,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        header(&self.head, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The value of header `name` (any case) in an HTTP head.
pub fn header(head: &[u8], name: &str) -> Option<String> {
    String::from_utf8_lossy(head).lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// The status code in a response's head (0 if there is none).
pub fn status_of(head: &[u8]) -> u16 {
    String::from_utf8_lossy(head)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Where an HTTP head ends: the index after its blank line.
pub fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// One TCP connection, what it has read and not yet used, and its byte counts.
pub struct Wire {
    stream: TcpStream,
    buf: Vec<u8>,
    pub written: usize,
    pub read: usize,
}

impl Wire {
    pub async fn connect(addr: SocketAddr) -> Result<Wire, LabError> {
        let stream = timed("connecting", TcpStream::connect(addr)).await?;
        // Each write leaves at once, as browsers and HTTP libraries do: no Nagle stall in the
        // figures (lab 02).
        let _ = stream.set_nodelay(true);
        Ok(Wire {
            stream,
            buf: Vec::new(),
            written: 0,
            read: 0,
        })
    }

    pub fn local_port(&self) -> u16 {
        self.stream.local_addr().map_or(0, |a| a.port())
    }

    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), LabError> {
        timed("sending", self.stream.write_all(bytes)).await?;
        self.written += bytes.len();
        Ok(())
    }

    /// Reads more into the buffer, waiting up to `wait`; false at end of stream.
    async fn fill(&mut self, wait: Duration) -> Result<bool, LabError> {
        let mut chunk = [0u8; 16 * 1024];
        let n = match tokio::time::timeout(wait, self.stream.read(&mut chunk)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(LabError::Experiment(format!("reading: {e}"))),
            Err(_) => {
                return Err(LabError::Experiment(format!(
                    "reading: nothing arrived within {wait:?}"
                )));
            }
        };
        self.read += n;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// Takes `n` bytes from the buffer, reading until there are that many.
    async fn take(&mut self, n: usize, wait: Duration) -> Result<Vec<u8>, LabError> {
        while self.buf.len() < n {
            if !self.fill(wait).await? {
                return Err(LabError::Experiment(
                    "the server closed the connection in the middle of a message".into(),
                ));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// The head of a response (status line, headers, blank line) and nothing more: for a 101,
    /// and for a stream (SSE) whose body never ends.
    pub async fn head(&mut self, wait: Duration) -> Result<Response, LabError> {
        let end = loop {
            if let Some(end) = head_end(&self.buf) {
                break end;
            }
            if !self.fill(wait).await? {
                return Err(LabError::Experiment(
                    "the server closed the connection before answering".into(),
                ));
            }
        };
        let head = self.take(end, wait).await?;
        Ok(Response {
            status: status_of(&head),
            wire_len: head.len(),
            head,
            body: Vec::new(),
        })
    }

    /// One HTTP response (`Content-Length` or chunked body), waiting up to `wait` for it.
    pub async fn response_within(&mut self, wait: Duration) -> Result<Response, LabError> {
        let before = self.read - self.buf.len();
        let Response { head, status, .. } = self.head(wait).await?;
        let body = if let Some(len) = header(&head, "content-length") {
            let len = len.parse().unwrap_or(0);
            self.take(len, wait).await?
        } else if header(&head, "transfer-encoding").is_some_and(|t| t.contains("chunked")) {
            let mut body = Vec::new();
            loop {
                let size = self.line(wait).await?.unwrap_or_default();
                let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let chunk = self.take(size + 2, wait).await?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
            body
        } else {
            Vec::new()
        };
        let wire_len = self.read - self.buf.len() - before;
        Ok(Response {
            status,
            head,
            body,
            wire_len,
        })
    }

    /// One HTTP response, within the usual step timeout.
    pub async fn response(&mut self) -> Result<Response, LabError> {
        self.response_within(STEP_TIMEOUT).await
    }

    /// Writes a request and reads its response.
    pub async fn exchange(&mut self, req: &[u8]) -> Result<Response, LabError> {
        self.write(req).await?;
        self.response().await
    }

    /// The next line without its line end; `None` at end of stream.
    pub async fn line(&mut self, wait: Duration) -> Result<Option<String>, LabError> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                let text = String::from_utf8_lossy(&line);
                return Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()));
            }
            if !self.fill(wait).await? {
                return Ok(None);
            }
        }
    }

    /// The next WebSocket frame.
    pub async fn frame(&mut self, wait: Duration) -> Result<WsFrame, LabError> {
        loop {
            match decode_frame(&self.buf) {
                Ok(Some((frame, used))) => {
                    self.buf.drain(..used);
                    return Ok(frame);
                }
                Ok(None) => {
                    if !self.fill(wait).await? {
                        return Err(LabError::Experiment(
                            "the server closed the connection in the middle of a frame".into(),
                        ));
                    }
                }
                Err(e) => return Err(LabError::Experiment(format!("a bad frame: {e}"))),
            }
        }
    }

    /// Bytes that arrive within `wait` with nothing asked (0 when the server stays silent).
    pub async fn unasked(&mut self, wait: Duration) -> usize {
        let before = self.buf.len();
        let deadline = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < deadline {
            let left = deadline - tokio::time::Instant::now();
            match self.fill(left).await {
                Ok(true) => {}
                _ => break,
            }
        }
        self.buf.len() - before
    }

    /// Half-closes our side and reads to the server's end of stream, so the whole teardown is
    /// on the wire before a capture stops.
    pub async fn close(mut self) -> Result<(), LabError> {
        timed("closing", self.stream.shutdown()).await?;
        let mut rest = Vec::new();
        timed(
            "waiting for the server to close",
            self.stream.read_to_end(&mut rest),
        )
        .await?;
        Ok(())
    }
}

/// A masking key for a client frame. RFC 6455 wants it unpredictable (so that a page's script
/// cannot choose the bytes a proxy sees); the clock's nanoseconds, mixed with `n`, do here.
pub fn mask_key(n: u32) -> [u8; 4] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (nanos ^ n.wrapping_mul(0x9e37_79b9)).to_be_bytes()
}

/// Opens a WebSocket on `wire` by hand: the GET with `Upgrade: websocket` and a fresh key,
/// then the server's `101`. Frames follow on the same connection.
pub async fn ws_open(wire: &mut Wire, addr: SocketAddr) -> Result<Response, LabError> {
    let nonce = mask_key(7);
    let mut key_bytes = [0u8; 16];
    for (i, b) in key_bytes.iter_mut().enumerate() {
        *b = nonce[i % 4].wrapping_add((i as u8).wrapping_mul(31));
    }
    let key = ws_key(key_bytes);
    let upgrade = request(
        "GET",
        "/ws",
        &[
            ("Host", &addr.to_string()),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", &key),
            ("Sec-WebSocket-Version", "13"),
        ],
        b"",
    );
    wire.write(&upgrade).await?;
    let resp = wire.head(STEP_TIMEOUT).await?;
    if resp.status != 101 {
        return Err(LabError::Experiment(format!(
            "the server answered the WebSocket upgrade with {} instead of 101",
            resp.status
        )));
    }
    Ok(resp)
}

/// The GUID of RFC 6455 that every server appends to the client's key.
pub const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)). It proves the
/// server read this handshake (and is a WebSocket server), nothing more: it is not security.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(WS_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// A `Sec-WebSocket-Key`: 16 bytes in base64.
pub fn ws_key(bytes: [u8; 16]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// WebSocket opcodes (RFC 6455, 5.2).
pub mod opcode {
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

/// The name of an opcode, for tables.
pub fn opcode_name(op: u8) -> &'static str {
    match op {
        0x0 => "continuation",
        opcode::TEXT => "text",
        opcode::BINARY => "binary",
        opcode::CLOSE => "close",
        opcode::PING => "ping",
        opcode::PONG => "pong",
        _ => "reserved",
    }
}

/// One WebSocket frame as it was on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsFrame {
    pub fin: bool,
    pub opcode: u8,
    /// The masking key, when the frame was masked (client to server, always).
    pub mask: Option<[u8; 4]>,
    /// Header bytes: 2, plus 2 or 8 of extended length, plus 4 of masking key.
    pub header_len: usize,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

impl WsFrame {
    /// The payload-length form: 7-bit (up to 125 bytes), 16-bit (up to 65,535) or 64-bit.
    pub fn length_form(&self) -> &'static str {
        length_form(self.payload.len())
    }

    pub fn wire_len(&self) -> usize {
        self.header_len + self.payload.len()
    }
}

pub fn length_form(len: usize) -> &'static str {
    match len {
        0..=125 => "7-bit",
        126..=65535 => "16-bit",
        _ => "64-bit",
    }
}

/// A frame with FIN set: byte 0 is FIN and the opcode; byte 1 the mask bit and the length (or
/// 126 / 127 to say a 16-bit / 64-bit length follows); then the masking key; then the payload,
/// each byte XORed with the key byte at its position modulo 4 when masked.
pub fn encode_frame(op: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![0x80 | (op & 0x0f)];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=65535 => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// Decodes one frame from the start of `buf`: `Ok(None)` when more bytes are needed,
/// `Ok(Some((frame, bytes used)))`, or an error for a length that cannot be right.
pub fn decode_frame(buf: &[u8]) -> Result<Option<(WsFrame, usize)>, String> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    let masked = b1 & 0x80 != 0;
    let (len, mut at) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => (u64::from_be_bytes(b.try_into().map_err(|_| "length")?), 10),
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if len > 1 << 40 {
        return Err(format!("a payload length of {len} bytes"));
    }
    let mask = if masked {
        let Some(k) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        at += 4;
        Some([k[0], k[1], k[2], k[3]])
    } else {
        None
    };
    let end = at + len as usize;
    let Some(body) = buf.get(at..end) else {
        return Ok(None);
    };
    let payload = match mask {
        Some(key) => body
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect(),
        None => body.to_vec(),
    };
    let frame = WsFrame {
        fin: b0 & 0x80 != 0,
        opcode: b0 & 0x0f,
        mask,
        header_len: at,
        payload,
    };
    Ok(Some((frame, end)))
}

/// Every frame in `bytes`, in order (what is left after the last whole frame is ignored).
pub fn decode_frames(mut bytes: &[u8]) -> Vec<WsFrame> {
    let mut frames = Vec::new();
    while let Ok(Some((frame, used))) = decode_frame(bytes) {
        frames.push(frame);
        bytes = &bytes[used..];
    }
    frames
}

/// One direction of a captured TCP conversation put back together: the payloads of the packets
/// from `src_port` to `dst_port`, placed by their sequence numbers, so that a retransmitted
/// segment (loopback retransmits too, when a receive window fills) counts once.
pub fn stream_bytes(pkts: &[Packet], src_port: u16, dst_port: u16) -> Vec<u8> {
    let mut segments: Vec<(u32, &[u8])> = pkts
        .iter()
        .filter(|p| {
            p.src_port() == Some(u64::from(src_port))
                && p.dst_port() == Some(u64::from(dst_port))
                && p.payload_len() > 0
        })
        .map(|p| (p.rel_seq_ack().0, p.payload()))
        .collect();
    segments.sort_by_key(|(seq, _)| *seq);
    let mut out = Vec::new();
    // Relative sequence numbers start at 1 for the first byte after the SYN.
    let mut next = segments.first().map_or(0, |(seq, _)| *seq);
    for (seq, bytes) in segments {
        let end = seq + bytes.len() as u32;
        if end <= next {
            continue; // a copy of bytes already placed
        }
        // Only the new bytes (all of them after a hole, which loopback does not make).
        let skip = next.saturating_sub(seq) as usize;
        out.extend_from_slice(&bytes[skip..]);
        next = end;
    }
    out
}

/// The client ports of the TCP connections to `server_port` in a capture, in the order their
/// SYNs were sent: one per connection opened.
pub fn connections_to(pkts: &[Packet], server_port: u16) -> Vec<u16> {
    pkts.iter()
        .filter(|p| {
            p.dst_port() == Some(u64::from(server_port))
                && p.flag("tcp.flags.syn")
                && !p.flag("tcp.flags.ack")
        })
        .filter_map(|p| p.src_port().map(|port| port as u16))
        .collect()
}

/// Writes bytes as text a student can read: `\r\n` shown, each line on its own, non-printable
/// bytes as `\xNN`, cut after `max` characters per line.
pub fn show_bytes(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    for line in text.split_inclusive('\n') {
        let mut shown = String::new();
        for c in line.chars() {
            match c {
                '\r' => shown.push_str("\\r"),
                '\n' => shown.push_str("\\n"),
                c if c.is_control() => shown.push_str(&format!("\\x{:02x}", c as u32)),
                c => shown.push(c),
            }
        }
        if shown.chars().count() > max {
            shown = shown
                .chars()
                .take(max.saturating_sub(3))
                .collect::<String>()
                + "...";
        }
        out.push(shown);
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_example_key_gives_the_rfc_accept() {
        // RFC 6455, section 1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn frames_round_trip_in_every_length_form() {
        for (len, header) in [
            (5, 2),
            (125, 2),
            (126, 4),
            (300, 4),
            (65535, 4),
            (70000, 10),
        ] {
            let payload = vec![b'x'; len];
            let plain = encode_frame(opcode::TEXT, &payload, None);
            let (f, used) = decode_frame(&plain).unwrap().unwrap();
            assert_eq!((f.header_len, used, f.mask), (header, len + header, None));
            assert_eq!(f.payload, payload);
            let masked = encode_frame(opcode::TEXT, &payload, Some([1, 2, 3, 4]));
            let (f, _) = decode_frame(&masked).unwrap().unwrap();
            assert_eq!(
                (f.header_len, f.mask, f.fin, f.opcode),
                (header + 4, Some([1, 2, 3, 4]), true, 1)
            );
            assert_eq!(f.payload, payload);
            assert_ne!(&masked[header + 4..], &payload[..], "masked bytes differ");
            for cut in [0, 1, header, header + len / 2] {
                assert_eq!(decode_frame(&plain[..cut]), Ok(None), "{len} cut at {cut}");
            }
        }
    }

    #[test]
    fn the_rfc_masked_hello_decodes() {
        // RFC 6455, 5.7: a masked text frame "Hello".
        let bytes = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (f, used) = decode_frame(&bytes).unwrap().unwrap();
        assert_eq!((f.payload.as_slice(), used), (&b"Hello"[..], 11));
        assert_eq!(encode_frame(opcode::TEXT, b"Hello", f.mask), bytes);
    }

    #[test]
    fn an_absurd_length_is_an_error_not_a_panic() {
        let mut bytes = vec![0x81, 127];
        bytes.extend_from_slice(&u64::MAX.to_be_bytes());
        assert!(decode_frame(&bytes).is_err());
    }

    #[test]
    fn requests_are_head_blank_line_body() {
        let r = request("POST", "/x", &[("Host", "h")], b"hello");
        assert_eq!(
            r,
            b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
        );
        assert_eq!(head_end(&r), Some(r.len() - 5));
        assert_eq!(header(&r, "content-length").as_deref(), Some("5"));
    }
}
