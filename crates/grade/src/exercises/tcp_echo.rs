//! Exercise 1, `tcp-echo`: a TCP echo server. Concurrent clients, binary-safe, byte-exact for
//! 1 MiB, and a half-close answered with a close.

use std::net::SocketAddr;
use std::time::Duration;

use netlab_echo::impair::SplitMix64;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};

use super::{Checker, Exercise, Kind};
use crate::check::{Check, Failure, Outcome, same_bytes};
use crate::runner::BoxedOutcome;
use crate::wire::Conn;

/// Time for one connect, send or short read: generous for a loaded CI machine.
const STEP: Duration = Duration::from_secs(2);
/// The size of the big transfer.
const MEGABYTE: usize = 1 << 20;
/// Clients held open at once in the concurrency check.
const CLIENTS: usize = 10;

pub const CHECKS: &[Check] = &[
    Check {
        id: "line",
        name: "echoes a line",
        points: 1,
        limit: Duration::from_secs(3),
        hint: "read from the connection and write the same bytes back",
    },
    Check {
        id: "binary",
        name: "binary-safe: all 256 byte values",
        points: 2,
        limit: Duration::from_secs(3),
        hint: "treat the data as bytes, not text: no string conversion, no trimming, no newline added",
    },
    Check {
        id: "megabyte",
        name: "byte-exact for 1 MiB",
        points: 3,
        limit: Duration::from_secs(10),
        hint: "write back exactly the n bytes each read returned (not the whole buffer), and loop until end of stream",
    },
    Check {
        id: "concurrent",
        name: "serves 10 clients at once",
        points: 2,
        limit: Duration::from_secs(5),
        hint: "serve each connection in its own thread (or task), so one idle client does not block the others",
    },
    Check {
        id: "half-close",
        name: "answers a half-close with close",
        points: 2,
        limit: Duration::from_secs(3),
        hint: "a read that returns 0 bytes means the client has finished sending: write what is left, then close the connection",
    },
];

pub const EXERCISE: Exercise = Exercise {
    name: "tcp-echo",
    title: "TCP echo server",
    kind: Kind::Server,
    folder: "labs/exercises/01-tcp-echo",
    example: "--cmd \"target/release/tcp-echo {port}\"",
    checks: CHECKS,
    checker: Checker::Server(run),
};

fn run(id: &'static str, addr: SocketAddr) -> BoxedOutcome {
    Box::pin(async move {
        match id {
            "line" => echo_once(addr, b"hello, netlab\n").await,
            "binary" => {
                let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
                echo_once(addr, &all).await
            }
            "megabyte" => megabyte(addr).await,
            "concurrent" => concurrent(addr).await,
            "half-close" => half_close(addr).await,
            other => Err(Failure::new(format!("unknown check `{other}`"))),
        }
    })
}

/// Sends `bytes` on a new connection and expects exactly them back.
async fn echo_once(addr: SocketAddr, bytes: &[u8]) -> Outcome {
    let mut conn = Conn::connect(addr, STEP).await?;
    conn.send(bytes, STEP).await?;
    let got = conn.read_exact(bytes.len(), STEP).await.map_err(|short| {
        short
            .failure("waiting for the echo")
            .sent(bytes)
            .expected(bytes)
    })?;
    same_bytes("the echo differs", bytes, bytes, &got)
}

/// Writes 1 MiB of pseudo-random bytes while reading the echo, and compares every byte.
/// Writing and reading at once matters: a server that echoes while the client is still
/// sending would deadlock a client that first writes everything (both send buffers full).
async fn megabyte(addr: SocketAddr) -> Outcome {
    let mut rng = SplitMix64::new(15);
    let data: Vec<u8> = (0..MEGABYTE).map(|_| rng.next_u64() as u8).collect();
    let mut conn = Conn::connect(addr, STEP).await?;
    let deadline = Instant::now() + Duration::from_secs(8);
    let (mut reader, mut writer) = conn.stream().split();
    let write = async { timeout_at(deadline, writer.write_all(&data)).await };
    let read = async {
        let mut got = Vec::with_capacity(MEGABYTE);
        let mut buf = vec![0u8; 64 * 1024];
        let mut end = "the connection was closed";
        while got.len() < MEGABYTE {
            let want = buf.len().min(MEGABYTE - got.len());
            match timeout_at(deadline, reader.read(&mut buf[..want])).await {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
                Ok(Err(_)) => {
                    end = "the connection broke";
                    break;
                }
                Err(_) => {
                    end = "nothing more came in time";
                    break;
                }
            }
        }
        (got, end)
    };
    let (written, (got, end)) = tokio::join!(write, read);
    if got.len() < MEGABYTE {
        let sent = match written {
            Ok(Ok(())) => "all of it was sent".to_string(),
            _ => "the server stopped reading before all of it was sent".to_string(),
        };
        return Err(Failure::new(format!(
            "{} of {MEGABYTE} bytes came back, then {end} ({sent})",
            got.len()
        )));
    }
    same_bytes("the 1 MiB echo differs", &data, &data, &got)
}

/// Opens every connection first, then talks on the last one first: a server that serves one
/// client at a time never reads from it.
async fn concurrent(addr: SocketAddr) -> Outcome {
    let mut conns = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        conns.push(Conn::connect(addr, STEP).await?);
    }
    for (i, conn) in conns.iter_mut().enumerate().rev() {
        let message = format!("client {i} of {CLIENTS}, while the others wait\n");
        conn.send(message.as_bytes(), STEP).await?;
        let got = conn.read_exact(message.len(), STEP).await.map_err(|short| {
            short
                .failure(&format!("waiting for the echo on connection {} of {CLIENTS} (opened {} connections first)", i + 1, CLIENTS))
                .sent(&message)
                .expected(&message)
        })?;
        same_bytes(
            "the echo differs",
            message.as_bytes(),
            message.as_bytes(),
            &got,
        )?;
    }
    Ok(())
}

/// Sends, half-closes, and expects the echo followed by the server's close.
async fn half_close(addr: SocketAddr) -> Outcome {
    let message = b"last words before the half-close";
    let mut conn = Conn::connect(addr, STEP).await?;
    conn.send(message, STEP).await?;
    conn.shutdown_write().await?;
    let got = conn.read_to_close(4 * message.len(), STEP).await.map_err(|short| {
        let mut f = short.failure("after the grader half-closed (sent FIN), waiting for the echo and the server's close");
        f.reason.push_str(": the connection stayed open");
        f.sent(message).expected(message)
    })?;
    same_bytes("the echo before the close differs", message, message, &got)
}
