//! Lab 06: WebSocket, one upgrade and then frames.
//!
//! Teaches: a WebSocket opens with an HTTP/1.1 GET (`Upgrade: websocket`) and a 101 answer,
//! then frames flow both ways on the same TCP connection; Sec-WebSocket-Accept computed live;
//! FIN, opcode, mask bit, the three payload-length forms and masking keys; overhead per message
//! against an HTTP POST; the server sending first; ping/pong and the closing handshake. About 2
//! minutes.
//!
//! Run it: `cargo run --release --bin lab06`. Live capture needs root or CAP_NET_RAW; without it
//! the lab shows packets it recorded earlier (labs/captures/). Other modes: `-- --ci`,
//! `-- --json`, `-- --answers FILE`, `-- --pcap DIR`. The text comes from
//! labs/guides/06-websocket.md.

fn main() -> std::process::ExitCode {
    netlab_labs::lab_main(6)
}
