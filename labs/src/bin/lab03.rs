//! Lab 03: UDP.
//!
//! Teaches: datagrams with no handshake and their boundaries kept, the pinger against a server
//! that drops and delays (seeded) with loss and RTT statistics, the same exchange over TCP and UDP
//! compared packet for packet, and when UDP is the right choice. About 2 minutes.
//!
//! Run it: `cargo run --release --bin lab03`. Live capture needs root or CAP_NET_RAW; without it
//! the lab shows packets it recorded earlier (labs/captures/). Other modes: `-- --ci`,
//! `-- --json`, `-- --answers FILE`, `-- --pcap DIR`. The text comes from labs/guides/03-udp.md.

fn main() -> std::process::ExitCode {
    netlab_labs::lab_main(3)
}
