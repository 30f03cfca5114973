//! Exercise 5, `websocket`: a WebSocket echo server (RFC 6455). The upgrade handshake with its
//! computed `Sec-WebSocket-Accept`, unmasking client frames, echoing text and binary, the three
//! payload length forms, ping answered with pong, and the close handshake.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use sha1::{Digest, Sha1};

use super::http::response;
use super::{Checker, Exercise, Kind};
use crate::check::{Check, Failure, Outcome, same_bytes};
use crate::runner::BoxedOutcome;
use crate::wire::Conn;

const STEP: Duration = Duration::from_secs(2);
/// The largest payload a check expects back (the 64-bit length form's 65,536 bytes).
const MAX_PAYLOAD: u64 = 1 << 20;
/// The key of RFC 6455's own example, so the expected accept value can be checked by hand.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// RFC 6455's GUID, appended to the key before hashing.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

pub const CHECKS: &[Check] = &[
    Check {
        id: "handshake",
        name: "upgrade: 101 with the right Sec-WebSocket-Accept",
        points: 3,
        limit: Duration::from_secs(3),
        hint: "Sec-WebSocket-Accept is base64(SHA-1(key + \"258EAFA5-E914-47DA-95CA-C5AB0DC85B11\")); answer 101 Switching Protocols with Upgrade: websocket and Connection: Upgrade",
    },
    Check {
        id: "text",
        name: "a masked text frame echoed unmasked",
        points: 2,
        limit: Duration::from_secs(3),
        hint: "client frames are masked: payload byte i is XORed with mask[i % 4]; the server's frames are not masked",
    },
    Check {
        id: "binary",
        name: "a binary frame echoed as binary",
        points: 1,
        limit: Duration::from_secs(3),
        hint: "echo with the opcode received: 0x1 text, 0x2 binary",
    },
    Check {
        id: "lengths",
        name: "the three length forms: 125, 126 and 65,536 bytes",
        points: 2,
        limit: Duration::from_secs(5),
        hint: "a length up to 125 is in the 7 bits; 126 means a 16-bit length follows, 127 a 64-bit one; write your frames with the shortest form",
    },
    Check {
        id: "ping",
        name: "ping answered with pong",
        points: 1,
        limit: Duration::from_secs(3),
        hint: "a ping (0x9) is answered with a pong (0xA) carrying the same payload",
    },
    Check {
        id: "close",
        name: "the close handshake",
        points: 1,
        limit: Duration::from_secs(3),
        hint: "answer a close frame (0x8) with a close frame carrying the same status code, then close the TCP connection",
    },
];

pub const EXERCISE: Exercise = Exercise {
    name: "websocket",
    title: "A WebSocket echo server",
    kind: Kind::Server,
    folder: "labs/exercises/05-websocket",
    example: "--cmd \"target/release/websocket {port}\"",
    checks: CHECKS,
    checker: Checker::Server(run),
};

/// `Sec-WebSocket-Accept` for a key (RFC 6455, section 4.2.2).
pub fn accept_key(key: &str) -> String {
    let digest = Sha1::digest(format!("{key}{GUID}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest)
}

fn run(id: &'static str, addr: SocketAddr) -> BoxedOutcome {
    Box::pin(async move {
        let mut conn = Conn::connect(addr, STEP).await?;
        handshake(&mut conn).await?;
        match id {
            "handshake" => Ok(()),
            "text" => echo(&mut conn, TEXT, b"hello, websocket").await,
            "binary" => echo(&mut conn, BINARY, &[0, 1, 2, 0x80, 0xfe, 0xff]).await,
            "lengths" => {
                for len in [125usize, 126, 65_536] {
                    let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                    echo(&mut conn, BINARY, &payload).await.map_err(|mut f| {
                        f.reason = format!("a {len}-byte payload: {}", f.reason);
                        f
                    })?;
                }
                Ok(())
            }
            "ping" => {
                let sent = frame(PING, b"are you there?");
                conn.send(&sent, STEP).await?;
                expect_frame(&mut conn, PONG, b"are you there?", &sent).await
            }
            "close" => {
                let sent = frame(CLOSE, &1000u16.to_be_bytes());
                conn.send(&sent, STEP).await?;
                let got = read_frame(&mut conn, &sent).await?;
                if got.opcode != CLOSE
                    || !(got.payload.is_empty() || got.payload.starts_with(&[0x03, 0xe8]))
                {
                    return Err(Failure::new(format!(
                        "expected a close frame with code 1000, got opcode {:#x}",
                        got.opcode
                    ))
                    .sent(&sent)
                    .expected([0x88, 0x02, 0x03, 0xe8])
                    .got(&got.raw));
                }
                conn.read_to_close(1024, STEP).await.map(drop).map_err(|short| {
                    short.failure("after the close frames, waiting for the server to close the TCP connection")
                })
            }
            other => Err(Failure::new(format!("unknown check `{other}`"))),
        }
    })
}

async fn handshake(conn: &mut Conn) -> Outcome {
    let req = format!(
        "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    conn.send(req.as_bytes(), STEP).await?;
    let r = response(conn, &req, false).await.map_err(|mut f| {
        f.reason = format!("the upgrade handshake: {}", f.reason);
        f
    })?;
    let want = accept_key(KEY);
    let fail = |reason: String| {
        Failure::new(format!("the upgrade handshake: {reason}"))
            .sent(&req)
            .expected(format!(
                "HTTP/1.1 101 Switching Protocols\r\n...Sec-WebSocket-Accept: {want}\r\n"
            ))
            .got(&r.head)
    };
    if r.status != 101 {
        return Err(fail(format!("the status is {}, expected 101", r.status)));
    }
    match r.header("sec-websocket-accept") {
        Some(v) if v == want => {}
        Some(v) => {
            return Err(fail(format!(
                "Sec-WebSocket-Accept is {v}, expected {want}"
            )));
        }
        None => return Err(fail("no Sec-WebSocket-Accept header".into())),
    }
    match r.header("upgrade") {
        Some(v) if v.eq_ignore_ascii_case("websocket") => Ok(()),
        _ => Err(fail("no `Upgrade: websocket` header".into())),
    }
}

/// A client frame: FIN set, masked (clients must mask), the shortest length form.
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n <= 125 => f.push(0x80 | n as u8),
        n if n <= 0xffff => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// A frame from the server, with its raw start for reports.
pub struct Frame {
    pub opcode: u8,
    pub payload: Vec<u8>,
    /// The header and the first payload bytes, as received.
    pub raw: Vec<u8>,
}

async fn read_frame(conn: &mut Conn, sent: &[u8]) -> Result<Frame, Failure> {
    let shown = &sent[..sent.len().min(64)];
    let short = |s: crate::wire::Short| s.failure("waiting for a frame").sent(shown);
    let head = conn.read_exact(2, STEP).await.map_err(short)?;
    if head[1] & 0x80 != 0 {
        return Err(
            Failure::new("the server's frame is masked; only clients mask their frames")
                .sent(shown)
                .got(&head),
        );
    }
    let mut raw = head.clone();
    let len = match head[1] & 0x7f {
        126 => {
            let ext = conn.read_exact(2, STEP).await.map_err(short)?;
            raw.extend_from_slice(&ext);
            let n = u16::from_be_bytes([ext[0], ext[1]]) as u64;
            if n < 126 {
                return Err(Failure::new(format!("a {n}-byte payload sent with the 16-bit length form; use the 7-bit form up to 125")).got(&raw));
            }
            n
        }
        127 => {
            let ext = conn.read_exact(8, STEP).await.map_err(short)?;
            raw.extend_from_slice(&ext);
            let n = u64::from_be_bytes(ext.try_into().unwrap_or([0xff; 8]));
            if n <= 0xffff {
                return Err(Failure::new(format!("a {n}-byte payload sent with the 64-bit length form; use the 16-bit form up to 65,535")).got(&raw));
            }
            n
        }
        n => u64::from(n),
    };
    if len > MAX_PAYLOAD {
        return Err(Failure::new(format!(
            "the frame announces {len} bytes, far more than was sent"
        ))
        .got(&raw));
    }
    let payload = conn.read_exact(len as usize, STEP).await.map_err(|s| {
        s.failure(&format!("reading a {len}-byte payload"))
            .sent(shown)
    })?;
    raw.extend_from_slice(&payload[..payload.len().min(32)]);
    if head[0] & 0x80 == 0 {
        return Err(Failure::new(
            "the frame's FIN bit is not set: send each echo as one whole frame",
        )
        .got(&raw));
    }
    Ok(Frame {
        opcode: head[0] & 0x0f,
        payload,
        raw,
    })
}

async fn expect_frame(conn: &mut Conn, opcode: u8, payload: &[u8], sent: &[u8]) -> Outcome {
    let got = read_frame(conn, sent).await?;
    if got.opcode != opcode {
        return Err(Failure::new(format!(
            "the frame's opcode is {:#x}, expected {opcode:#x}",
            got.opcode
        ))
        .sent(&sent[..sent.len().min(64)])
        .got(&got.raw));
    }
    same_bytes("the payload differs", sent, payload, &got.payload)
}

async fn echo(conn: &mut Conn, opcode: u8, payload: &[u8]) -> Outcome {
    let sent = frame(opcode, payload);
    conn.send(&sent, STEP).await?;
    expect_frame(conn, opcode, payload, &sent).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_rfc_6455s_example() {
        assert_eq!(accept_key(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn client_frames_are_masked_with_the_shortest_length() {
        let f = frame(TEXT, b"Hi");
        assert_eq!(&f[..2], &[0x81, 0x82]);
        assert_eq!(f[6] ^ f[2], b'H');
        assert_eq!(frame(BINARY, &[0; 126])[1], 0x80 | 126);
        assert_eq!(frame(BINARY, &[0; 65_536])[1], 0x80 | 127);
    }
}
