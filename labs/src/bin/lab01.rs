//! Lab 01: layers and encapsulation. Start here.
//!
//! Teaches: what a packet really is. It sends "hello" over TCP and over UDP on loopback, captures
//! the frames, labels every byte with its OSI and TCP/IP layer, measures the header overhead for
//! payloads of 1, 100 and 1400 bytes, and sets the OSI and TCP/IP models side by side. About 2
//! minutes.
//!
//! Run it: `cargo run --release --bin lab01`. Live capture needs root or CAP_NET_RAW; without it
//! the lab says how to allow it and shows packets it recorded earlier (labs/captures/). Other
//! modes: `-- --ci`, `-- --json`, `-- --answers FILE`, `-- --pcap DIR`, `-- --help`. The text
//! comes from labs/guides/01-layers.md.

fn main() -> std::process::ExitCode {
    netlab_labs::lab_main(1)
}
