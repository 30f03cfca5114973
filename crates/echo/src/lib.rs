//! netlab-echo: TCP and UDP echo servers and clients, the "hello world" of sockets, done
//! properly enough to teach with and to benchmark.
//!
//! Every server binds with a config (port 0 allowed), reports the address it bound, and runs
//! until a [`shutdown`] handle fires. The CLI, the labs and the tests all start this same code.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), netlab_echo::EchoError> {
//! use std::time::Duration;
//! use netlab_echo::{PingConfig, Proto, UdpConfig, UdpEchoServer, ping, shutdown};
//!
//! // A UDP echo server on 127.0.0.1, any free port, that drops about one datagram in five.
//! let mut config = UdpConfig::loopback(0);
//! config.impairment.drop = 0.2;
//! config.impairment.seed = 7; // the same seed drops the same datagrams, every run
//! let server = UdpEchoServer::bind(config).await?;
//! let addr = server.local_addr();
//! let (trigger, signal) = shutdown::channel();
//! let running = tokio::spawn(server.run(signal));
//!
//! let probes = PingConfig {
//!     count: 20,
//!     interval: Duration::from_millis(2),
//!     timeout: Duration::from_millis(300),
//!     ..PingConfig::new(Proto::Udp, addr)
//! };
//! let summary = ping(&probes, |event| println!("{event:?}")).await?;
//!
//! trigger.fire();
//! let served = running.await.expect("the server task ran to its end");
//! assert_eq!(summary.sent, 20);
//! assert_eq!(summary.received, 20 - served.dropped); // what was lost is what the server dropped
//! # Ok(())
//! # }
//! ```
//!
//! # Modules
//! - [`tcp`]: the TCP echo server (half-close, connection limit, idle timeout, graceful drain).
//! - [`idle`]: the idle-timeout sweep, which keeps timers off the per-read path.
//! - [`udp`]: the UDP echo server (boundaries kept, impairment and anti-reflection stages).
//! - [`impair`]: seeded drop / delay / jitter / duplicate / reorder decisions (pure).
//! - [`ratelimit`]: the per-source token bucket behind anti-reflection (pure).
//! - [`ping`](mod@ping): the pinger: sequence numbers, loss, duplicates, reordering, RTT statistics.
//! - [`bench`](mod@bench): the load generator: connections, ping-pong or pipelined, HDR percentiles.
//! - [`line`](mod@line): the line client: stdin lines to the server, replies to stdout.
//! - [`baseline`]: a bare tokio copy-loop echo, the yardstick for benchmarks.
//! - [`sock`]: building sockets with socket2 (SO_REUSEADDR, buffers, backlog, IPv6-only), and
//!   the connected UDP socket every client uses.
//! - [`shutdown`]: the trigger/signal pair that stops a server.
//! - [`addr`]: reading addresses as students type them.
//! - [`error`]: [`EchoError`], the one error type, with messages that say what to do.

pub mod addr;
pub mod baseline;
pub mod bench;
pub mod error;
pub mod idle;
pub mod impair;
pub mod line;
pub mod ping;
pub mod ratelimit;
pub mod shutdown;
pub mod sock;
pub mod tcp;
pub mod udp;

pub use addr::{DEFAULT_PORT, is_loopback, parse_addr};
pub use bench::{BenchConfig, BenchLimit, BenchMode, BenchReport, run_bench};
pub use error::{EchoError, MAX_UDP_PAYLOAD, check_udp_size};
pub use impair::ImpairmentConfig;
pub use ping::{PingConfig, PingEvent, PingSummary, RttStats, ping};
pub use ratelimit::RateLimit;
pub use shutdown::{Shutdown, ShutdownTrigger};
pub use sock::BufferSizes;
pub use tcp::{TcpConfig, TcpEchoServer, TcpSummary};
pub use udp::{UdpConfig, UdpEchoServer, UdpSummary};

use serde::Serialize;

/// The transport a server or client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl std::fmt::Display for Proto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}
