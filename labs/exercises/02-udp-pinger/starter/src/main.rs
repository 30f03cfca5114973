//! Exercise 2: a UDP pinger. Read ../README.md first.
//!
//! Run it:   netlab echo serve udp --port 7007 --drop 0.25 --delay 5 --jitter 10   (one terminal)
//!           cargo run -- 127.0.0.1:7007 20                                       (another)
//! Grade it: cargo build && netlab grade udp-pinger --cmd "target/debug/udp-pinger {server} {count}"
//!
//! Write the code where it says `todo!()`; a `todo!()` compiles but panics when it runs.

// The todo!()s leave names unused; delete this line when you are done.
#![allow(unused)]

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// How long to wait for each reply before counting the probe as lost.
const REPLY_TIMEOUT: Duration = Duration::from_secs(1);

fn main() {
    let mut args = std::env::args().skip(1);
    let server: SocketAddr = match args.next().map(|a| a.parse()) {
        Some(Ok(addr)) => addr,
        _ => usage(),
    };
    let count: u32 = match args.next().map(|c| c.parse()) {
        None => 20,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => usage(),
    };
    // Port 0: the system picks a free port for our end.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| fail(e));
    let mut rtts = Vec::new();
    for seq in 1..=count {
        match probe(&socket, server, seq) {
            Ok(Some(rtt)) => {
                println!("reply to probe {seq}: {:.3} ms", millis(rtt));
                rtts.push(rtt);
            }
            Ok(None) => println!("probe {seq}: no reply within {REPLY_TIMEOUT:?}"),
            Err(e) => fail(e),
        }
    }
    print!("{}", summary(count, &rtts));
}

/// Sends probe number `seq` to `server` and waits for its reply. Returns the round-trip time,
/// or `None` when no reply to *this* probe came within REPLY_TIMEOUT.
fn probe(socket: &UdpSocket, server: SocketAddr, seq: u32) -> io::Result<Option<Duration>> {
    let payload = format!("probe {seq}");
    todo!(
        "note the time, send the payload, then receive until its echo comes back or the time is up"
    )
}

/// The two summary lines, exactly as the README states them (each ending with a newline):
/// `20 probes sent, 15 replies, 25.0% loss` and `rtt min/avg/max = 5.123/10.456/14.789 ms`.
/// With no reply at all, only the first line.
fn summary(sent: u32, rtts: &[Duration]) -> String {
    todo!("count, compute the loss percentage and min/avg/max of rtts in milliseconds")
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn usage() -> ! {
    eprintln!("usage: udp-pinger HOST:PORT [COUNT]   e.g. udp-pinger 127.0.0.1:7007 20");
    std::process::exit(2)
}

fn fail(e: io::Error) -> ! {
    eprintln!("error: {e}");
    std::process::exit(1)
}
