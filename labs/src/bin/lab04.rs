//! Lab 04: sockets and ports.
//!
//! Teaches: bind, listen and accept one system call at a time; ephemeral ports; "address
//! already in use", TIME_WAIT and SO_REUSEADDR; many clients on one port told apart by their
//! 4-tuples; the listen backlog. About 2 minutes; no capture needed.
//!
//! Run it: `cargo run --release --bin lab04` (add `-- --ci` to run it unattended, `-- --help`
//! for the other modes). The text comes from labs/guides/04-sockets.md.

fn main() -> std::process::ExitCode {
    netlab_labs::lab_main(4)
}
