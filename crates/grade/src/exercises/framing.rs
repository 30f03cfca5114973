//! Exercise 3, `framing`: a server of line-delimited JSON messages, checked with adversarial
//! chunking. TCP delivers a byte stream, not messages: a message may arrive one byte at a
//! time, many may arrive in one read, and a line may never end.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Checker, Exercise, Kind};
use crate::check::{Check, Failure, Outcome};
use crate::runner::BoxedOutcome;
use crate::wire::Conn;

/// The stated frame limit: a line longer than this (without its newline) is refused.
pub const MAX_LINE: usize = 64 * 1024;
const STEP: Duration = Duration::from_secs(2);
/// Replies are short; a longer line is not a reply.
const MAX_REPLY: usize = 4096;

pub const CHECKS: &[Check] = &[
    Check {
        id: "one",
        name: "answers one message",
        points: 1,
        limit: Duration::from_secs(3),
        hint: "read a line, parse it as JSON, answer {\"id\": same id, \"upper\": the text in upper case} and a newline",
    },
    Check {
        id: "byte-by-byte",
        name: "a message split byte by byte",
        points: 2,
        limit: Duration::from_secs(5),
        hint: "keep the bytes of an unfinished line in a buffer until its newline arrives; one read is not one message",
    },
    Check {
        id: "coalesced",
        name: "100 messages in one write",
        points: 2,
        limit: Duration::from_secs(5),
        hint: "after answering a line, look for the next newline in what you already read before reading again",
    },
    Check {
        id: "mid-message",
        name: "a read that ends in the middle of a message",
        points: 1,
        limit: Duration::from_secs(3),
        hint: "answer the complete line and keep the rest for the next read",
    },
    Check {
        id: "bad-json",
        name: "malformed JSON gets an error, the connection stays",
        points: 2,
        limit: Duration::from_secs(3),
        hint: "answer {\"error\": \"...\"} for a line that is not a message, then carry on reading",
    },
    Check {
        id: "too-large",
        name: "a line over 64 KiB is refused before it ends",
        points: 2,
        limit: Duration::from_secs(5),
        hint: "count the bytes of the unfinished line; past 65536 answer {\"error\": \"...\"} and close, without waiting for a newline that may never come",
    },
];

pub const EXERCISE: Exercise = Exercise {
    name: "framing",
    title: "Framing: line-delimited JSON under adversarial chunking",
    kind: Kind::Server,
    folder: "labs/exercises/03-framing",
    example: "--cmd \"target/release/framing {port}\"",
    checks: CHECKS,
    checker: Checker::Server(run),
};

fn run(id: &'static str, addr: SocketAddr) -> BoxedOutcome {
    Box::pin(async move {
        let mut conn = Conn::connect(addr, STEP).await?;
        match id {
            "one" => {
                let m = message(1, "hello, framing");
                conn.send(&m, STEP).await?;
                expect_reply(&mut conn, 1, "hello, framing", &m).await
            }
            "byte-by-byte" => {
                let m = message(2, "split into single bytes");
                for byte in &m {
                    conn.send(std::slice::from_ref(byte), STEP).await?;
                    // With Nagle off, a pause makes each byte its own TCP segment.
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                expect_reply(&mut conn, 2, "split into single bytes", &m).await
            }
            "coalesced" => {
                let all: Vec<u8> = (1..=100)
                    .flat_map(|i| message(i, &format!("message {i} of 100")))
                    .collect();
                conn.send(&all, STEP).await?;
                for i in 1..=100 {
                    let text = format!("message {i} of 100");
                    expect_reply(&mut conn, i, &text, &message(i, &text))
                        .await
                        .map_err(|mut f| {
                            f.reason =
                                format!("reply {i} of 100 (all sent in one write): {}", f.reason);
                            f
                        })?;
                }
                Ok(())
            }
            "mid-message" => {
                let (a, b) = (message(4, "first"), message(5, "second"));
                let mut both = a.clone();
                both.extend_from_slice(&b);
                let cut = a.len() + b.len() / 2;
                conn.send(&both[..cut], STEP).await?;
                expect_reply(&mut conn, 4, "first", &a).await?;
                tokio::time::sleep(Duration::from_millis(50)).await;
                conn.send(&both[cut..], STEP).await?;
                expect_reply(&mut conn, 5, "second", &b).await
            }
            "bad-json" => bad_json(&mut conn).await,
            "too-large" => too_large(&mut conn).await,
            other => Err(Failure::new(format!("unknown check `{other}`"))),
        }
    })
}

/// `{"id":ID,"text":"TEXT"}` and a newline.
fn message(id: u64, text: &str) -> Vec<u8> {
    let mut m = json!({"id": id, "text": text}).to_string().into_bytes();
    m.push(b'\n');
    m
}

/// Reads one line and parses it as a JSON object.
async fn reply(conn: &mut Conn, sent: &[u8]) -> Result<(Vec<u8>, Value), Failure> {
    let line = conn
        .read_line(MAX_REPLY, STEP)
        .await
        .map_err(|short| short.failure("waiting for a reply line").sent(shown(sent)))?;
    match serde_json::from_slice::<Value>(&line) {
        Ok(v) if v.is_object() => Ok((line, v)),
        _ => Err(Failure::new("the reply is not a JSON object on one line")
            .sent(shown(sent))
            .got(line)),
    }
}

async fn expect_reply(conn: &mut Conn, id: u64, text: &str, sent: &[u8]) -> Outcome {
    let (line, value) = reply(conn, sent).await?;
    let want = json!({"id": id, "upper": text.to_ascii_uppercase()});
    if value == want {
        Ok(())
    } else {
        Err(Failure::new("the reply differs")
            .sent(shown(sent))
            .expected(format!("{want}\n"))
            .got(line))
    }
}

async fn bad_json(conn: &mut Conn) -> Outcome {
    let bad = b"this is not JSON\n";
    conn.send(bad, STEP).await?;
    let (line, value) = reply(conn, bad).await?;
    if value.get("error").is_none() {
        return Err(
            Failure::new("the reply to a malformed line has no \"error\" field")
                .sent(bad)
                .expected("{\"error\":\"...\"}\n")
                .got(line),
        );
    }
    let m = message(6, "still here");
    conn.send(&m, STEP).await?;
    expect_reply(conn, 6, "still here", &m)
        .await
        .map_err(|mut f| {
            f.reason = format!("after the error reply: {}", f.reason);
            f
        })
}

async fn too_large(conn: &mut Conn) -> Outcome {
    // Just over the limit, so a server that refuses at the limit has read (nearly) everything
    // we sent: unread bytes at close would make the kernel reset the connection.
    let long = vec![b'a'; MAX_LINE + 4];
    let sent = conn.send(&long, STEP).await;
    let line = conn.read_line(MAX_REPLY, STEP).await.map_err(|short| {
        let mut f = short.failure(&format!(
            "sent {} bytes without a newline, waiting for an error reply",
            long.len()
        ));
        if sent.is_err() {
            f.reason.push_str(" (and the server stopped reading)");
        }
        f.expected("{\"error\":\"...\"}\n")
    })?;
    match serde_json::from_slice::<Value>(&line) {
        Ok(v) if v.get("error").is_some() => {}
        _ => {
            return Err(
                Failure::new("the reply to an over-long line is not an error object")
                    .expected("{\"error\":\"...\"}\n")
                    .got(line),
            );
        }
    }
    conn.read_to_close(MAX_REPLY, STEP)
        .await
        .map(drop)
        .map_err(|short| {
            short.failure("after the error reply, waiting for the server to close the connection")
        })
}

/// A long message is shown by its start only (the report cuts at 64 bytes anyway).
fn shown(sent: &[u8]) -> &[u8] {
    &sent[..sent.len().min(64)]
}
