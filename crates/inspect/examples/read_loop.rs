//! Reads a capture file packet after packet and does nothing else: the cost of the capture
//! reader alone. Measure it under callgrind, whose instruction counts repeat exactly on a
//! shared machine where wall-clock time does not:
//!
//! ```text
//! cargo build --release -p netlab-inspect --example read_loop
//! ROUNDS=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/read_loop FILE [reuse]     # baseline: open the file only
//! ROUNDS=1 valgrind ... (same)                           # one pass
//! ```
//!
//! Instructions per packet = (one pass - baseline) / packets. Without an argument every packet
//! comes from `next_packet` (a fresh `RawPacket` each); with `reuse` one `RawPacket` is refilled
//! by `read_into`, which is what a streaming caller should do.

use netlab_inspect::capfile::CaptureReader;
use netlab_inspect::model::RawPacket;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: read_loop FILE [reuse]");
    let reuse = args.next().is_some_and(|a| a == "reuse");
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let start = std::time::Instant::now();
    let mut packets = 0u64;
    let mut bytes = 0u64;
    // Open the file even for ROUNDS=0, so that the baseline holds the opening and the read
    // buffer's allocation and the difference is the packets only.
    for round in 0..rounds.max(1) {
        let mut reader = CaptureReader::open(&path).expect("open the capture");
        if round >= rounds {
            break;
        }
        if reuse {
            let mut packet = RawPacket::empty();
            while reader.read_into(&mut packet).expect("read a packet") {
                packets += 1;
                bytes += packet.bytes.len() as u64;
                std::hint::black_box(&packet);
            }
        } else {
            while let Some(packet) = reader.next_packet().expect("read a packet") {
                packets += 1;
                bytes += packet.bytes.len() as u64;
                std::hint::black_box(&packet);
            }
        }
    }
    let per_packet = start.elapsed().as_nanos() as f64 / packets.max(1) as f64;
    eprintln!(
        "{packets} packets ({bytes} bytes) x {rounds}: {per_packet:.0} ns per packet ({})",
        if reuse { "read_into" } else { "next_packet" }
    );
}
