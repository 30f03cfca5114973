//! netlab's echo servers against a bare tokio echo ([`netlab_echo::baseline`]), in one process,
//! in one run, so the cost of the features is a ratio and not a guess.
//!
//! Run: `cargo bench -p netlab-echo --bench echo_vs_baseline` (options: `--secs N` per case,
//! default 2; `--rounds N`, default 2). Prints a Markdown table for docs/performance.md.
//! Each case runs netlab and baseline alternately (A B B A ...) so a change in machine load
//! during the run hits both sides alike; the figure reported is the mean over rounds.
//! The client is the same `run_bench` that `netlab echo bench` uses. A last table gives the
//! resident memory per open TCP connection (VmRSS growth of this process, so it includes the
//! client's side too, the same for both servers).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use netlab_echo::{
    BenchConfig, BenchLimit, BenchMode, BenchReport, Proto, TcpConfig, TcpEchoServer, UdpConfig,
    UdpEchoServer, baseline, run_bench, shutdown,
};

/// What one case measures and reports.
#[derive(Clone, Copy)]
enum Figure {
    MegabytesPerSec,
    Latency,
    MessagesPerSec,
}

struct Case {
    name: &'static str,
    proto: Proto,
    connections: usize,
    size: usize,
    mode: BenchMode,
    figure: Figure,
}

fn cases() -> Vec<Case> {
    let pipelined = BenchMode::Pipelined { depth: 8 };
    let mut cases = Vec::new();
    for connections in [1, 16, 64] {
        cases.push(Case {
            name: "TCP 64 KiB pipelined x8",
            proto: Proto::Tcp,
            connections,
            size: 64 * 1024,
            mode: pipelined,
            figure: Figure::MegabytesPerSec,
        });
    }
    for connections in [1, 100] {
        cases.push(Case {
            name: "TCP 64 B ping-pong",
            proto: Proto::Tcp,
            connections,
            size: 64,
            mode: BenchMode::PingPong,
            figure: Figure::Latency,
        });
    }
    for size in [64, 1400] {
        cases.push(Case {
            name: "UDP pipelined x16",
            proto: Proto::Udp,
            connections: 4,
            size,
            mode: BenchMode::Pipelined { depth: 16 },
            figure: Figure::MessagesPerSec,
        });
    }
    cases
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn measure(case: &Case, target: SocketAddr, secs: u64) -> BenchReport {
    let config = BenchConfig {
        proto: case.proto,
        target,
        connections: case.connections,
        size: case.size,
        limit: BenchLimit::Duration(Duration::from_secs(secs)),
        mode: case.mode,
        timeout: Duration::from_secs(2),
    };
    run_bench(&config, Arc::default())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", case.name))
}

/// The figure and its unit; for latency, (p50, p99).
fn figure(case: &Case, reports: &[BenchReport]) -> (f64, f64) {
    let n = reports.len() as f64;
    let mean = |f: fn(&BenchReport) -> f64| reports.iter().map(f).sum::<f64>() / n;
    match case.figure {
        Figure::MegabytesPerSec => (mean(|r| r.mb_per_sec), 0.0),
        Figure::MessagesPerSec => (mean(|r| r.msgs_per_sec), mean(|r| r.lost as f64)),
        Figure::Latency => (mean(|r| r.latency.p50_us), mean(|r| r.latency.p99_us)),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs = arg("--secs", 2);
    let rounds = arg("--rounds", 2) as usize;
    let (trigger, signal) = shutdown::channel();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let tcp = TcpEchoServer::bind(TcpConfig::loopback(0)).await.unwrap();
    // Anti-reflection off: it exists for servers others can reach, and would cap this run at
    // 1,000 replies/s. Impairment off: the server takes its fast path.
    let udp = UdpEchoServer::bind(UdpConfig {
        anti_reflection: None,
        ..UdpConfig::loopback(0)
    })
    .await
    .unwrap();
    let netlab = [
        (Proto::Tcp, tcp.local_addr()),
        (Proto::Udp, udp.local_addr()),
    ];
    tokio::spawn(tcp.run(signal.clone()));
    tokio::spawn(udp.run(signal.clone()));
    let bare_tcp = baseline::spawn_tcp(any, signal.clone()).await.unwrap();
    let bare_udp = baseline::spawn_udp(any, signal).await.unwrap();
    let addr_of = |proto, bare: bool| match (proto, bare) {
        (Proto::Tcp, false) => netlab[0].1,
        (Proto::Udp, false) => netlab[1].1,
        (Proto::Tcp, true) => bare_tcp,
        (Proto::Udp, true) => bare_udp,
    };

    println!("| case | conns | size | netlab | baseline | ratio |");
    println!("|---|---|---|---|---|---|");
    for case in cases() {
        let (mut ours, mut bare) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            // A B, then B A: alternate which goes first.
            let order = if round % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            for is_bare in order {
                let report = measure(&case, addr_of(case.proto, is_bare), secs).await;
                if is_bare {
                    bare.push(report)
                } else {
                    ours.push(report)
                }
            }
        }
        print_row(&case, figure(&case, &ours), figure(&case, &bare));
    }
    println!();
    println!(
        "| memory: {IDLE_CONNECTIONS} open TCP connections, 1 KiB echoed on each | netlab | baseline |"
    );
    println!("|---|---|---|");
    // Twice each, alternating: the first measurement also pays for growing the allocator's heap.
    let (mut ours, mut bare) = (0.0, 0.0);
    for _ in 0..2 {
        ours += memory_per_connection(netlab[0].1).await / 2.0;
        bare += memory_per_connection(bare_tcp).await / 2.0;
    }
    println!(
        "| resident memory per connection (client and server side, one process) | {ours:.1} KiB | {bare:.1} KiB |"
    );
    trigger.fire();
}

/// Connections held open for the memory figure: 2 file descriptors each (client and server).
const IDLE_CONNECTIONS: usize = 500;

/// VmRSS of this process in KiB, from /proc (Linux).
fn rss_kib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(f64::NAN)
}

/// Growth of resident memory per open connection that has echoed 1 KiB.
async fn memory_per_connection(target: SocketAddr) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let before = rss_kib();
    let mut open = Vec::with_capacity(IDLE_CONNECTIONS);
    let message = [7u8; 1024];
    let mut echo = [0u8; 1024];
    for _ in 0..IDLE_CONNECTIONS {
        let mut stream = tokio::net::TcpStream::connect(target).await.unwrap();
        stream.write_all(&message).await.unwrap();
        stream.read_exact(&mut echo).await.unwrap();
        open.push(stream);
    }
    let after = rss_kib();
    drop(open);
    tokio::time::sleep(Duration::from_millis(200)).await; // let the servers' tasks end
    (after - before) / IDLE_CONNECTIONS as f64
}

fn print_row(case: &Case, ours: (f64, f64), bare: (f64, f64)) {
    let head = format!("| {} | {} | {} B", case.name, case.connections, case.size);
    match case.figure {
        Figure::MegabytesPerSec => println!(
            "{head} | {:.0} MB/s | {:.0} MB/s | {:.2}x |",
            ours.0,
            bare.0,
            ours.0 / bare.0
        ),
        Figure::MessagesPerSec => println!(
            "{head} | {:.0} dgram/s (lost {:.0}) | {:.0} dgram/s (lost {:.0}) | {:.2}x |",
            ours.0,
            ours.1,
            bare.0,
            bare.1,
            ours.0 / bare.0
        ),
        // Lower is better for latency: the ratio is baseline / netlab so >1 still means faster.
        Figure::Latency => println!(
            "{head} | p50 {:.0} µs, p99 {:.0} µs | p50 {:.0} µs, p99 {:.0} µs | p50 {:.2}x, p99 {:.2}x |",
            ours.0,
            ours.1,
            bare.0,
            bare.1,
            bare.0 / ours.0,
            bare.1 / ours.1
        ),
    }
}
