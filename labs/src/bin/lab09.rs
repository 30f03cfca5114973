//! Lab 09: rooms and namespaces.
//!
//! Teaches: two namespaces multiplexed on one TCP connection (one handshake in the capture); a
//! middleware that refuses a connection without credentials; rooms, joined and left by the
//! server; broadcasts to a room, to a room except the sender and to a whole namespace, measured
//! with five clients as a matrix of who received what. About 3 minutes.
//!
//! Run it: `cargo run --release --bin lab09`. Live capture needs root or CAP_NET_RAW; without it
//! the lab shows packets it recorded earlier (labs/captures/). Other modes: `-- --ci`,
//! `-- --json`, `-- --answers FILE`, `-- --pcap DIR`, `-- --offline`. The text comes from
//! labs/guides/09-rooms-and-namespaces.md.

fn main() -> std::process::ExitCode {
    netlab_labs::lab_main(9)
}
