//! Lab 05: HTTP on the wire.
//!
//! Teaches: HTTP/1.1 is text over TCP (request line, headers, blank line, body; status line;
//! Content-Length), a request written by hand against the same request from an HTTP library,
//! header bytes against a 5-byte message, keep-alive against `Connection: close`, round trips
//! before the first byte, and a server that can only answer. About 2 minutes.
//!
//! Run it: `cargo run --release --bin lab05`. Live capture needs root or CAP_NET_RAW; without it
//! the lab shows packets it recorded earlier (labs/captures/). Other modes: `-- --ci`,
//! `-- --json`, `-- --answers FILE`, `-- --pcap DIR`. The text comes from labs/guides/05-http.md.

fn main() -> std::process::ExitCode {
    netlab_labs::lab_main(5)
}
