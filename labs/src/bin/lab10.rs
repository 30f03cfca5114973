//! Lab 10: missed events and message queues.
//!
//! Teaches: what a missed event is (sent while the client was away; not the same as an
//! unhandled one) and what prevents it, measured: default delivery (0 of 10 arrive),
//! acknowledgements with retry (at least once; duplicates when an ack is lost, removed by
//! de-duplication by id), a server-side log with offsets replayed on resume, the log's bounds
//! (`recovered: false`), and a durable store across a SIGKILL; then the same ideas as a message
//! queue names them, with their measured costs. About 3 minutes.
//!
//! Run it: `cargo run --release --bin lab10`. Live capture needs root or CAP_NET_RAW; without it
//! the lab shows packets it recorded earlier (labs/captures/). Other modes: `-- --ci`,
//! `-- --json`, `-- --answers FILE`, `-- --pcap DIR`, `-- --offline`. The text comes from
//! labs/guides/10-missed-events.md. The lab starts this same binary again as its killable
//! event server (a hidden flag, `--lab10-event-server`).

fn main() -> std::process::ExitCode {
    netlab_labs::lab_main(10)
}
