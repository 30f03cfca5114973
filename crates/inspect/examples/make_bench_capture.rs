//! Write the varied benchmark capture of docs/performance.md ("Inspector"): every frame of the
//! committed fixtures (HTTP, WebSocket, DNS over UDP and TCP, TLS, netlab echo and events, ICMP
//! errors, IPv6 extension headers, 802.1Q and ARP, IPv4 options and fragments, truncated frames,
//! every link type), over and over, each round on its own client ports so that every round is a
//! new set of conversations rather than one exchange repeated.
//!
//! ```text
//! cargo run --release -p netlab-inspect --example make_bench_capture -- bench-varied.pcapng [ROUNDS]
//! ```
//!
//! 1,100 rounds (the default) of the 103 frames the fixtures had when docs/performance.md was
//! measured were 113,300 packets. The file is reproducible: timestamps start at a fixed time and
//! advance 10 µs per packet.
//!
//! Given capture files after the round count, it repeats their packets instead of the fixtures':
//! the loopback benchmark repeats the labs' recorded loopback captures and the fixture of curl
//! fetching a page,
//!
//! ```text
//! cargo run --release -p netlab-inspect --example make_bench_capture -- bench-loopback.pcapng 1000 \
//!     labs/captures/*.pcap crates/inspect/tests/fixtures/http-get.pcapng
//! ```

#[path = "../tests/support/fixtures.rs"]
mod fixtures;

use std::fs::File;
use std::io::BufWriter;

use netlab_inspect::capfile::{CaptureFormat, CaptureReader, CaptureWriter};
use netlab_inspect::dissect::dissect;
use netlab_inspect::model::{RawPacket, Timestamp, Value};

/// Ports from here up are the clients' (ephemeral) ports in the fixtures; servers sit below.
const EPHEMERAL: u16 = 32_768;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .ok_or("usage: make_bench_capture FILE [ROUNDS [CAPTURE...]]")?;
    let rounds: u32 = args.get(2).map_or(Ok(1_100), |r| r.parse())?;
    let frames: Vec<RawPacket> = if args.len() > 3 {
        let mut frames = Vec::new();
        for file in &args[3..] {
            for p in CaptureReader::open(std::path::Path::new(file))?.packets() {
                frames.push(p?);
            }
        }
        frames
    } else {
        fixtures::all().iter().flat_map(|f| f.packets()).collect()
    };
    let mut out = CaptureWriter::new(BufWriter::new(File::create(path)?), CaptureFormat::Pcapng)?;
    let mut n: u64 = 0;
    for round in 0..rounds {
        for frame in &frames {
            let mut p = frame.clone();
            shift_client_ports(&mut p, round);
            p.ts = Timestamp {
                secs: 1_700_000_000 + (n / 100_000) as i64,
                nanos: (n % 100_000) as u32 * 10_000,
            };
            out.write_packet(&p)?;
            n += 1;
        }
    }
    out.finish()?;
    println!("wrote {n} packets to {path}");
    Ok(())
}

/// Move every client port of the frame (including those quoted inside ICMP errors) by `round`,
/// found through the dissector's own fields so that every header the fixtures use is covered.
/// Checksums are left as they are: neither netlab nor tshark verifies them by default.
fn shift_client_ports(p: &mut RawPacket, round: u32) {
    let d = dissect(p.link_type, &p.bytes);
    for f in d.layers.iter().flat_map(|l| l.fields.iter()) {
        let is_port = matches!(
            f.name,
            "tcp.srcport" | "tcp.dstport" | "udp.srcport" | "udp.dstport"
        );
        let Value::U64(port) = f.value else { continue };
        if !is_port || port < u64::from(EPHEMERAL) || f.len != 2 {
            continue;
        }
        let span = u32::from(u16::MAX - EPHEMERAL);
        let moved = EPHEMERAL as u32 + (port as u32 - EPHEMERAL as u32 + round * 7) % span;
        p.bytes[f.offset..f.offset + 2].copy_from_slice(&(moved as u16).to_be_bytes());
    }
}
