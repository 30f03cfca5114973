//! Reference solution of exercise 2 (udp-pinger): one probe at a time, each waiting at most
//! REPLY_TIMEOUT for its own echo (a late echo of an earlier probe is skipped).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

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

fn probe(socket: &UdpSocket, server: SocketAddr, seq: u32) -> io::Result<Option<Duration>> {
    let payload = format!("probe {seq}");
    let start = Instant::now();
    socket.send_to(payload.as_bytes(), server)?;
    let mut buf = [0u8; 1500];
    loop {
        let left = REPLY_TIMEOUT.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Ok(None);
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv_from(&mut buf) {
            Ok((n, from)) if from == server && &buf[..n] == payload.as_bytes() => {
                return Ok(Some(start.elapsed()));
            }
            // The late echo of an earlier probe, or a stranger: not our reply.
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
    }
}

fn summary(sent: u32, rtts: &[Duration]) -> String {
    let replies = rtts.len() as u32;
    let loss = 100.0 * f64::from(sent - replies) / f64::from(sent);
    let mut text = format!("{sent} probes sent, {replies} replies, {loss:.1}% loss\n");
    if let (Some(min), Some(max)) = (rtts.iter().min(), rtts.iter().max()) {
        let avg = rtts.iter().map(|d| millis(*d)).sum::<f64>() / f64::from(replies);
        text.push_str(&format!(
            "rtt min/avg/max = {:.3}/{avg:.3}/{:.3} ms\n",
            millis(*min),
            millis(*max)
        ));
    }
    text
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
