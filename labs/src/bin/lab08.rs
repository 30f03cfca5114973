//! Lab 08: emitting events.
//!
//! Teaches: emit and on in both directions over one connection; an ack and its round trip; an
//! ack that times out; an event the client has no handler for (its bytes are in the capture,
//! the client drops it); an event the server has no handler for (the server's trace shows it
//! dropped); volatile against default delivery when the client cannot keep up. About 3 minutes.
//!
//! Run it: `cargo run --release --bin lab08`. Live capture needs root or CAP_NET_RAW; without it
//! the lab shows packets it recorded earlier (labs/captures/). Other modes: `-- --ci`,
//! `-- --json`, `-- --answers FILE`, `-- --pcap DIR`, `-- --offline`. The text comes from
//! labs/guides/08-emitting-events.md.

fn main() -> std::process::ExitCode {
    netlab_labs::lab_main(8)
}
