//! Lab 07: the same chat, five ways.
//!
//! Teaches: one seeded chat workload over short polling (two intervals), long-polling, SSE with
//! POST, the event protocol over WebSocket and over TCP lines; bytes and packets per message,
//! connections, requests, latency p50/p99 and idle cost, each measured from the run's capture and
//! clocks; when request/response is still the right choice. About 3 minutes.
//!
//! Run it: `cargo run --release --bin lab07` (`-- --plots DIR` also writes SVG charts). Live
//! capture needs root or CAP_NET_RAW; without it the lab shows packets it recorded earlier
//! (labs/captures/). Other modes: `-- --ci`, `-- --json`, `-- --answers FILE`, `-- --pcap DIR`.
//! The text comes from labs/guides/07-transports.md.

fn main() -> std::process::ExitCode {
    netlab_labs::lab_main(7)
}
