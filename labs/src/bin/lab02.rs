//! Lab 02: TCP.
//!
//! Teaches: the three-way handshake and its sequence numbers, data and acknowledgements, the FIN
//! teardown, TCP as a byte stream (three writes, one read), Nagle versus TCP_NODELAY counted in
//! segments, and a connection as its 4-tuple. About 2 minutes.
//!
//! Run it: `cargo run --release --bin lab02`. Live capture needs root or CAP_NET_RAW; without it
//! the lab shows packets it recorded earlier (labs/captures/). Other modes: `-- --ci`,
//! `-- --json`, `-- --answers FILE`, `-- --pcap DIR`. The text comes from labs/guides/02-tcp.md.

fn main() -> std::process::ExitCode {
    netlab_labs::lab_main(2)
}
